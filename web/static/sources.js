// ClusterChat admin page, sources card: list, add and remove news sources; "refresh now"
// with live progress. Uses the admin token admin.js keeps; URLs and errors are untrusted
// and reach the DOM through textContent only.
import { detailText, el } from "./dom.js";

const { t } = window.I18N;
const TOKEN_KEY = "clusterchat.adminToken";
const POLL_MS = 500;

const $ = (id) => document.getElementById(id);
const els = {
  form: $("source-form"),
  url: $("source-url"),
  every: $("source-every"),
  refresh: $("sources-refresh"),
  message: $("sources-message"),
  rows: $("sources"),
  job: $("sources-job"),
  jobStatus: $("sources-job-status"),
  progress: $("sources-progress"),
  jobErrors: $("sources-job-errors"),
};

let sources = [];
let job = null;

const asText = (value) => (value === null || value === undefined ? "" : String(value));

function setMessage(text, kind = "") {
  els.message.textContent = text;
  els.message.className = `message${kind ? ` message-${kind}` : ""}`;
}

function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

/** Call the admin API; JSON in and out; throws Error(detail) with .status on failure. */
async function api(path, options = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${token()}` };
  if (options.json !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method: options.method || "GET",
      headers,
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
    });
  } catch {
    throw Object.assign(new Error(t("admin.serverDown")), { status: 0 });
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const detail = detailText(body && body.detail) || response.statusText;
    throw Object.assign(new Error(detail), { status: response.status });
  }
  return body;
}

const failText = (error) =>
  error.status === 0 ? error.message : t("admin.failed", { detail: `${error.status}: ${error.message}` });

function formatWhen(iso) {
  if (!iso) return t("sources.never");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return asText(iso);
  const locale = window.I18N.lang() === "it" ? "it-IT" : "en-GB";
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(date);
}

function sourceRow(source) {
  const url = asText(source.url);
  const counts = source.counts || {};
  const status = asText(source.status) || "none";
  const remove = el(
    "button",
    {
      type: "button",
      className: "button button-quiet source-remove",
      dataset: { url, testid: "source-remove" },
      "aria-label": t("sources.removeLabel", { url }),
    },
    t("sources.remove"),
  );
  return el(
    "tr",
    { dataset: { url, testid: "source", status } },
    el("td", { className: "source", "data-label": t("sources.colUrl"), title: url }, url),
    el("td", { "data-label": t("sources.colEvery") }, asText(source.every)),
    el("td", { className: "date-cell", "data-label": t("sources.colLast") }, formatWhen(source.last_fetch)),
    el("td", { "data-label": t("sources.colStatus"), title: asText(source.error) || null },
      t(`sources.status.${status}`)),
    el("td", { "data-label": t("sources.colCounts"), dataset: { testid: "source-counts" } },
      source.last_fetch ? t("sources.counts", {
        added: counts.added ?? 0, updated: counts.updated ?? 0,
        unchanged: counts.unchanged ?? 0, failed: counts.failed ?? 0,
      }) : ""),
    el("td", {}, remove),
  );
}

function render() {
  els.rows.replaceChildren(...sources.map(sourceRow));
  if (!sources.length && !els.message.textContent) setMessage(t("sources.none"));
}

async function load() {
  try {
    const data = await api("/api/sources");
    sources = Array.isArray(data && data.sources) ? data.sources : [];
    render();
  } catch (error) {
    setMessage(failText(error), "error");
  }
}

async function addSource(event) {
  event.preventDefault();
  const url = els.url.value.trim();
  if (!url) {
    els.url.focus();
    return;
  }
  try {
    const result = await api("/api/sources", { method: "POST", json: { url, every: els.every.value } });
    setMessage(result.added ? t("sources.added", { url: asText(result.source.url) }) : t("sources.exists"), "ok");
    els.url.value = "";
    await load();
  } catch (error) {
    setMessage(failText(error), "error");
  }
}

async function removeSource(url, button) {
  if (!window.confirm(t("sources.confirmRemove", { url }))) return;
  button.disabled = true;
  try {
    await api(`/api/sources?url=${encodeURIComponent(url)}`, { method: "DELETE" });
    setMessage(t("sources.removed"), "ok");
    await load();
    els.refresh.focus();
  } catch (error) {
    button.disabled = false;
    setMessage(failText(error), "error");
  }
}

function renderJob() {
  if (!job) {
    els.job.hidden = true;
    return;
  }
  const done = Number(job.done) || 0;
  const total = Number(job.total) || 0;
  els.job.hidden = false;
  els.job.dataset.state = asText(job.state);
  els.job.dataset.jobId = asText(job.id);
  if (job.state === "done") {
    els.progress.max = 1;
    els.progress.value = 1;
  } else if (total > 0) {
    els.progress.max = total;
    els.progress.value = Math.min(done, total);
  } else {
    els.progress.removeAttribute("value");
  }
  const c = job.counts || {};
  const text = {
    done: () => t("sources.jobDone", {
      added: c.added ?? 0, updated: c.updated ?? 0, unchanged: c.unchanged ?? 0, failed: c.failed ?? 0,
    }),
    failed: () => t("sources.jobFailed"),
  }[job.state];
  els.jobStatus.textContent = text ? text() : t("sources.jobRunning", { done, total });
  const lines = [...(Array.isArray(c.failures) ? c.failures : []), ...(job.errors || [])];
  els.jobErrors.replaceChildren(
    ...lines.map((line) => el("li", { dataset: { testid: "sources-failure" } }, asText(line))),
  );
  els.refresh.disabled = job.state === "queued" || job.state === "running";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function refreshNow() {
  setMessage("");
  els.refresh.disabled = true;
  try {
    const { job_id: id } = await api("/api/sources/refresh", { method: "POST", json: {} });
    job = { id, state: "queued", done: 0, total: 0, counts: {}, errors: [] };
    renderJob();
    while (job.state !== "done" && job.state !== "failed") {
      await sleep(POLL_MS);
      job = await api(`/api/jobs/${encodeURIComponent(id)}`);
      renderJob();
    }
    await load();
  } catch (error) {
    setMessage(error.status === 409 ? t("sources.busy") : failText(error), "error");
  } finally {
    els.refresh.disabled = false;
  }
}

function wire() {
  els.form.addEventListener("submit", addSource);
  els.refresh.addEventListener("click", refreshNow);
  els.rows.addEventListener("click", (event) => {
    const button = event.target.closest("button.source-remove");
    if (button) removeSource(button.dataset.url, button);
  });
  window.I18N.onChange(() => {
    render();
    renderJob();
  });
  // admin.js signs in and out; the card loads its list whenever the page is signed in.
  const watch = () => {
    if (document.body.dataset.auth === "in") load();
    else {
      sources = [];
      els.rows.replaceChildren();
    }
  };
  new MutationObserver(watch).observe(document.body, { attributes: true, attributeFilter: ["data-auth"] });
  watch();
}

wire();
