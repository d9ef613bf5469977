// ClusterChat admin page: token sign-in, document list, upload, delete, re-index progress.
// Document titles and sources are untrusted: they reach the DOM through textContent only.
import { detailText, el } from "./dom.js";

const { t } = window.I18N;
const TOKEN_KEY = "clusterchat.adminToken";
const POLL_MS = 500;

const $ = (id) => document.getElementById(id);
const els = {
  tokenForm: $("token-form"),
  token: $("token"),
  signOut: $("sign-out"),
  signedIn: $("signed-in"),
  authMessage: $("auth-message"),
  tools: $("admin-tools"),
  dropzone: $("dropzone"),
  upload: $("upload-input"),
  uploadMessage: $("upload-message"),
  uploadFailed: $("upload-failed"),
  conflicts: $("upload-conflicts"),
  conflictList: $("conflict-list"),
  conflictReplace: $("conflict-replace"),
  conflictKeep: $("conflict-keep"),
  conflictCancel: $("conflict-cancel"),
  reindex: $("reindex"),
  reindexMessage: $("reindex-message"),
  job: $("job"),
  jobStatus: $("job-status"),
  progress: $("progress"),
  jobErrors: $("job-errors"),
  documents: $("documents"),
  documentCount: $("document-count"),
  documentsMessage: $("documents-message"),
  refresh: $("refresh"),
};

let documents = [];
let job = null; // last job status seen
let polling = false;
let pending = []; // files refused for a name clash, until the user picks what to do

class ApiError extends Error {
  constructor(status, detail, body = null) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.body = body; // the JSON error body, for fields beyond "detail"
  }
}

const asText = (value) => (value === null || value === undefined ? "" : String(value));

function setMessage(node, text, kind = "") {
  node.textContent = text;
  node.className = `message${kind ? ` message-${kind}` : ""}`;
}

function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

function setToken(value) {
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: the token lasts until the page is left
  }
}

/** Call the admin API with the bearer token; JSON in, JSON out, ApiError on failure. */
async function api(path, options = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${getToken()}`, ...(options.headers || {}) };
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch {
    throw new ApiError(0, t("admin.serverDown"));
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const detail = detailText(body && body.detail) || response.statusText || String(response.status);
    const error = new ApiError(response.status, detail, body);
    if (response.status === 401 || response.status === 403) signOut(t("admin.badToken", { detail }));
    throw error;
  }
  return body;
}

function failMessage(error) {
  return error.status === 0 ? error.detail : t("admin.failed", { detail: `${error.status}: ${error.detail}` });
}

// ---------- auth ----------

function showSignedIn(signedIn) {
  els.tools.hidden = !signedIn;
  els.tokenForm.hidden = signedIn;
  els.signedIn.hidden = !signedIn;
  document.body.dataset.auth = signedIn ? "in" : "out";
}

function signOut(message = "") {
  setToken("");
  showSignedIn(false);
  documents = [];
  els.documents.replaceChildren();
  setMessage(els.authMessage, message, message ? "error" : "");
}

async function signIn(token) {
  setToken(token);
  setMessage(els.authMessage, t("admin.loading"));
  try {
    await loadDocuments();
  } catch (error) {
    if (error.status !== 401 && error.status !== 403) setMessage(els.authMessage, failMessage(error), "error");
    return;
  }
  els.token.value = "";
  showSignedIn(true);
  setMessage(els.authMessage, "");
}

// ---------- documents ----------

async function loadDocuments() {
  const data = await api("/api/documents");
  documents = Array.isArray(data && data.documents) ? data.documents : [];
  renderDocuments();
}

async function refreshDocuments() {
  try {
    await loadDocuments();
  } catch (error) {
    setMessage(els.documentsMessage, failMessage(error), "error");
  }
}

/** A short label for a source: the file name of a path, host and path of a URL. */
function shortSource(source) {
  if (!source) return "—";
  if (/^https?:\/\//i.test(source)) {
    try {
      const url = new URL(source);
      return url.host + (url.pathname === "/" ? "" : url.pathname);
    } catch {
      return source;
    }
  }
  return source.split(/[\\/]/).filter(Boolean).pop() || source;
}

function documentRow(doc) {
  const title = asText(doc.title) || asText(doc.id);
  const remove = el(
    "button",
    {
      type: "button",
      className: "button button-quiet delete",
      dataset: { id: asText(doc.id), testid: "delete" },
      "aria-label": t("admin.deleteLabel", { title }),
    },
    t("admin.delete"),
  );
  const date = window.I18N.formatDate(doc.date);
  return el(
    "tr",
    { dataset: { id: asText(doc.id), testid: "document" } },
    el("td", { className: "title", "data-label": t("admin.colTitle") }, title),
    el("td", { className: "date-cell", "data-label": t("admin.colDate") }, date || "—"),
    el("td", { className: "source", "data-label": t("admin.colSource"), title: asText(doc.source) || null },
      shortSource(asText(doc.source))),
    el("td", { className: "num", "data-label": t("admin.colChunks") }, asText(doc.chunks ?? "—")),
    el("td", {}, remove),
  );
}

function renderDocuments() {
  els.documents.replaceChildren(...documents.map(documentRow));
  els.documentCount.textContent = `(${t("admin.documentCount", { n: documents.length })})`;
  setMessage(els.documentsMessage, documents.length ? "" : t("admin.noDocuments"));
}

async function deleteDocument(id, button) {
  const doc = documents.find((d) => asText(d.id) === id);
  const title = asText(doc && doc.title) || id;
  if (!window.confirm(t("admin.confirmDelete", { title }))) return;
  button.disabled = true;
  try {
    const result = await api(`/api/documents/${encodeURIComponent(id)}`, { method: "DELETE" });
    setMessage(els.documentsMessage, t("admin.deleted"), "ok");
    await loadDocuments();
    els.refresh.focus(); // the deleted row (and its button) is gone
    if (result && result.job_id) watchJob(String(result.job_id));
  } catch (error) {
    button.disabled = false;
    setMessage(els.documentsMessage, failMessage(error), "error");
  }
}

// ---------- upload ----------

/** The name the server saves a file under (as server/http/routes_admin.py cleans it). */
function safeName(name) {
  const base = String(name).split(/[\\/]/).pop() || "";
  return base.replace(/[^\p{L}\p{N}_.\-]+/gu, "_").replace(/^[._]+|[._]+$/g, "") || "upload";
}

/** Upload files; `onConflict` ("replace" | "keep") answers a name clash reported before. */
async function uploadFiles(files, onConflict = null) {
  const list = Array.from(files || []);
  if (!list.length) return;
  const form = new FormData();
  for (const file of list) form.append("files", file, file.name);
  els.uploadFailed.replaceChildren();
  showConflicts([], []);
  setMessage(els.uploadMessage, t("admin.uploading", { n: list.length }));
  const query = onConflict ? `?on_conflict=${encodeURIComponent(onConflict)}` : "";
  try {
    const result = await api(`/api/documents${query}`, { method: "POST", body: form });
    const conflicts = Array.isArray(result.conflicts) ? result.conflicts : [];
    const failed = (Array.isArray(result.failed) ? result.failed : [])
      .filter((f) => !conflicts.some((c) => c.file === f.file));
    setMessage(els.uploadMessage, t("admin.uploadResult", {
      added: result.added ?? 0,
      updated: result.updated ?? 0,
      unchanged: result.unchanged ?? 0,
      failed: failed.length,
    }), failed.length ? "error" : "ok");
    listFailed(failed);
    showConflicts(conflicts, list);
    await loadDocuments();
    // A job id even when queued: the follow-up build runs once the current one ends.
    if (result.job_id) watchJob(String(result.job_id));
  } catch (error) {
    const body = error.body || {};
    const conflicts = Array.isArray(body.conflicts) ? body.conflicts : [];
    // Nothing was stored: the error body lists every file with its reason.
    const failed = (Array.isArray(body.failed) ? body.failed : [])
      .filter((f) => !conflicts.some((c) => c.file === f.file));
    if (error.status === 409 && conflicts.length && !failed.length) {
      setMessage(els.uploadMessage, t("admin.conflictAsk", { n: conflicts.length }));
    } else {
      setMessage(els.uploadMessage, failMessage(error), "error");
    }
    listFailed(failed);
    showConflicts(conflicts, list);
  } finally {
    els.upload.value = ""; // choosing the same file again must fire "change"
  }
}

/** Ask what to do with the files whose name clashes with a stored upload. */
function showConflicts(conflicts, files) {
  const names = new Set(conflicts.map((c) => asText(c.file)));
  pending = files.filter((f) => names.has(safeName(f.name)));
  els.conflictList.replaceChildren(
    ...conflicts.map((c) => {
      const articles = Array.isArray(c.articles) ? c.articles : [];
      const title = articles.map((a) => asText(a.title) || asText(a.id)).join(", ");
      return el("li", { dataset: { testid: "conflict-file", file: asText(c.file) } },
        t("admin.conflictItem", { file: asText(c.file), title }));
    }),
  );
  els.conflicts.hidden = !pending.length;
  if (pending.length) els.conflictKeep.focus();
}

function resolveConflicts(choice) {
  const files = pending;
  if (choice) {
    uploadFiles(files, choice);
    return;
  }
  showConflicts([], []);
  setMessage(els.uploadMessage, t("admin.conflictCancelled", { n: files.length }));
}

/** One list item per file that was not stored: "name: reason". */
function listFailed(failed) {
  els.uploadFailed.replaceChildren(
    ...failed.map((f) => el("li", { dataset: { testid: "upload-failed-file" } },
      `${asText(f.file)}: ${asText(f.reason)}`)),
  );
}

function wireDropzone() {
  const zone = els.dropzone;
  const stop = (event) => {
    event.preventDefault();
    event.stopPropagation();
  };
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      stop(event);
      zone.classList.add("dragging");
    });
  }
  zone.addEventListener("dragleave", (event) => {
    stop(event);
    if (!zone.contains(event.relatedTarget)) zone.classList.remove("dragging");
  });
  zone.addEventListener("drop", (event) => {
    stop(event);
    zone.classList.remove("dragging");
    uploadFiles(event.dataTransfer && event.dataTransfer.files);
  });
  // A file dropped outside the zone must not navigate away from the page.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  els.upload.addEventListener("change", () => uploadFiles(els.upload.files));
}

// ---------- jobs ----------

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
    els.progress.max = Math.max(total, 1);
    els.progress.value = Math.max(total, 1);
  } else if (total > 0) {
    els.progress.max = total;
    els.progress.value = Math.min(done, total);
  } else {
    els.progress.removeAttribute("value"); // indeterminate until the total is known
  }
  const key = { queued: "admin.jobQueued", done: "admin.jobDone", failed: "admin.jobFailed" }[job.state];
  els.jobStatus.textContent = t(key || "admin.jobRunning", { done, total });
  const errors = Array.isArray(job.errors) ? job.errors : [];
  els.jobErrors.replaceChildren(...errors.map((e) => el("li", {}, asText(e))));
  els.reindex.disabled = job.state === "queued" || job.state === "running";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll /api/jobs/{id} until the job is done or failed, updating the progress bar. */
async function watchJob(id) {
  job = { id, state: "queued", done: 0, total: 0, errors: [] };
  renderJob();
  if (polling) return; // the running loop picks up the new job id
  polling = true;
  try {
    while (job && job.state !== "done" && job.state !== "failed") {
      const current = job.id;
      try {
        const status = await api(`/api/jobs/${encodeURIComponent(current)}`);
        if (job && job.id === current) job = status;
      } catch (error) {
        setMessage(els.reindexMessage, failMessage(error), "error");
        job = { ...job, state: "failed" };
      }
      renderJob();
      if (job && job.state !== "done" && job.state !== "failed") await sleep(POLL_MS);
    }
  } finally {
    polling = false;
  }
  if (job && job.state === "done") await refreshDocuments();
}

async function startReindex() {
  setMessage(els.reindexMessage, "");
  els.reindex.disabled = true;
  try {
    const result = await api("/api/reindex", { method: "POST" });
    await watchJob(String(result.job_id));
  } catch (error) {
    const message = error.status === 409 ? t("admin.reindexRunning") : failMessage(error);
    setMessage(els.reindexMessage, message, "error");
  } finally {
    if (!job || job.state === "done" || job.state === "failed") els.reindex.disabled = false;
  }
}

// ---------- wiring ----------

function wire() {
  els.tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = els.token.value.trim();
    if (token) signIn(token);
    else els.token.focus();
  });
  els.signOut.addEventListener("click", () => {
    signOut();
    els.token.focus();
  });
  els.refresh.addEventListener("click", refreshDocuments);
  els.reindex.addEventListener("click", startReindex);
  els.documents.addEventListener("click", (event) => {
    const button = event.target.closest("button.delete");
    if (button) deleteDocument(button.dataset.id, button);
  });
  wireDropzone();
  els.conflictReplace.addEventListener("click", () => resolveConflicts("replace"));
  els.conflictKeep.addEventListener("click", () => resolveConflicts("keep"));
  els.conflictCancel.addEventListener("click", () => resolveConflicts(null));
  window.I18N.onChange(() => {
    renderDocuments();
    renderJob();
  });
}

window.I18N.init();
wire();
showSignedIn(false);
if (getToken()) signIn(getToken());
