// ClusterChat chat page: streamed answers with [n] citation chips, source panel, history.
// Article titles, quotes and passages are untrusted: they only ever reach the DOM through
// textContent / createTextNode, never innerHTML.
import { citationMap, renderAnswerContent, sourceDetails } from "./answer-view.js";
import { detailText, el, safeUrl, str } from "./dom.js";
import { readEvents } from "./sse.js";

const { t } = window.I18N;
const STORE_KEY = "clusterchat.conversation.v1";
const API_KEY_STORE = "clusterchat.apiKey";
const MAX_STORED = 50; // exchanges kept in localStorage
const MAX_HISTORY = 6; // previous exchanges sent with a follow-up question
// Each earlier turn is cut to this length: well under the server's limit per turn
// (CLUSTERCHAT_MAX_TURN_CHARS, docs/limits.md), and the server reads less of it anyway.
const MAX_TURN_CHARS = 2000;

const $ = (id) => document.getElementById(id);
const els = {
  form: $("ask-form"),
  question: $("question"),
  ask: $("ask"),
  stop: $("stop"),
  conversation: $("conversation"),
  empty: $("empty"),
  examples: $("examples"),
  examplesBlock: $("examples-block"),
  newConversation: $("new-conversation"),
  status: $("status"),
  statusText: $("status-text"),
  statusRetry: $("status-retry"),
  panel: $("source-panel"),
  panelHeading: $("source-panel-heading"),
  panelBody: $("source-body"),
  panelClose: $("source-close"),
  announcer: $("announcer"),
  keyForm: $("key-form"),
  keyInput: $("api-key"),
  keyHint: $("key-hint"),
};

/** @type {Array<object>} one entry per question: {id, question, text, citations, answer, status, error, rating} */
let exchanges = [];
const nodes = new Map(); // exchange id -> its <article class="answer">
let controller = null; // AbortController of the running request
let panelState = null; // {exchangeId, n, opener}
let health = "unknown";
let memoryKey = ""; // the access key when localStorage is unavailable
let waitingForKey = null; // the exchange to retry once a key is entered

function announce(message) {
  els.announcer.textContent = "";
  // A fresh text node after a tick makes screen readers repeat identical messages.
  setTimeout(() => {
    els.announcer.textContent = message;
  }, 50);
}

const newId = () => `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

// ---------- access key ----------
// With CLUSTERCHAT_API_KEYS set the API answers 401/403 without a key: the page asks for
// one, keeps it in localStorage and sends it as a bearer token.

function apiKey() {
  try {
    return localStorage.getItem(API_KEY_STORE) || memoryKey;
  } catch {
    return memoryKey;
  }
}

function setApiKey(value) {
  memoryKey = value;
  try {
    localStorage.setItem(API_KEY_STORE, value);
  } catch {
    // storage disabled: the key lasts until the page is left
  }
}

/** `headers` plus the access key, when there is one. */
function withKey(headers = {}) {
  const key = apiKey();
  return key ? { ...headers, Authorization: `Bearer ${key}` } : headers;
}

function askForKey(kind, ex) {
  waitingForKey = ex;
  els.keyHint.textContent = t(kind === "badKey" ? "key.bad" : "key.hint");
  els.keyInput.value = "";
  els.keyForm.hidden = false;
  els.keyInput.focus();
}

function onKeySubmit(event) {
  event.preventDefault();
  const value = els.keyInput.value.trim();
  if (!value) {
    els.keyInput.focus();
    return;
  }
  setApiKey(value);
  els.keyForm.hidden = true;
  loadExamples(); // the server sends them only to a reader with a valid key
  const ex = waitingForKey;
  waitingForKey = null;
  if (ex && exchanges.includes(ex)) retry(ex);
}

// ---------- persistence ----------

function save() {
  let kept = exchanges.slice(-MAX_STORED);
  while (kept.length) {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(kept));
      return;
    } catch {
      kept = kept.slice(Math.ceil(kept.length / 2)); // quota: drop the oldest half
    }
  }
  try {
    localStorage.removeItem(STORE_KEY);
  } catch {
    // storage disabled: the conversation lives for this page only
  }
}

function load() {
  try {
    const data = JSON.parse(localStorage.getItem(STORE_KEY) || "[]");
    if (!Array.isArray(data)) return [];
    return data
      .filter((ex) => ex && typeof ex.question === "string")
      .map((ex) => ({
        ...ex,
        id: str(ex.id) || newId(),
        text: str(ex.text),
        citations: Array.isArray(ex.citations) ? ex.citations : [],
        // A reload during streaming leaves a partial answer: show it as stopped.
        status: ex.status === "streaming" ? "stopped" : ex.status,
      }));
  } catch {
    return [];
  }
}

/** Previous user/assistant turns for a follow-up (errors and empty answers are skipped). */
function buildHistory() {
  const history = [];
  const usable = exchanges.filter((ex) => ex.status !== "error" && ex.text.trim());
  for (const ex of usable.slice(-MAX_HISTORY)) {
    history.push({ role: "user", content: ex.question.slice(0, MAX_TURN_CHARS) });
    history.push({ role: "assistant", content: ex.text.slice(0, MAX_TURN_CHARS) });
  }
  return history;
}

function updateAnswer(ex) {
  const article = nodes.get(ex.id);
  if (!article) return;
  const abstained = Boolean(ex.answer && ex.answer.abstained);
  article.className = "answer";
  article.classList.toggle("abstained", abstained);
  article.classList.toggle("streaming", ex.status === "streaming");
  article.classList.toggle("failed", ex.status === "error");
  article.dataset.status = ex.status;
  article.setAttribute("aria-busy", ex.status === "streaming" ? "true" : "false");
  article.replaceChildren(...renderAnswerContent(ex));
}

function renderExchange(ex) {
  const user = el(
    "div",
    { className: "turn-user", dataset: { testid: "user-turn" } },
    el("span", { className: "visually-hidden" }, `${t("chat.you")}: `),
    el("p", { className: "user-text" }, ex.question),
  );
  const article = el("article", { className: "answer", dataset: { testid: "answer", exchange: ex.id } });
  nodes.set(ex.id, article);
  updateAnswer(ex);
  return el("div", { className: "exchange", dataset: { exchange: ex.id } }, user, article);
}

function renderAll() {
  nodes.clear();
  els.conversation.replaceChildren(...exchanges.map(renderExchange));
  els.empty.hidden = exchanges.length > 0;
  if (panelState) renderPanel();
}

function scrollToEnd() {
  const main = els.conversation.parentElement;
  main.scrollTop = main.scrollHeight;
}

// ---------- source panel ----------

function renderPanel() {
  const ex = exchanges.find((e) => e.id === panelState.exchangeId);
  const c = ex && citationMap(ex).get(panelState.n);
  if (!c) {
    closePanel();
    return;
  }
  els.panelHeading.textContent = t("chat.panelTitle", { n: c.n });
  els.panelBody.replaceChildren(...sourceDetails(c));
}

function openPanel(exchangeId, n, opener) {
  panelState = { exchangeId, n, opener };
  renderPanel();
  if (!panelState) return;
  els.panel.hidden = false;
  document.body.classList.add("panel-open");
  els.panel.focus();
  const mark = els.panelBody.querySelector("mark");
  if (mark) mark.scrollIntoView({ block: "center" });
}

function closePanel() {
  const opener = panelState && panelState.opener;
  panelState = null;
  els.panel.hidden = true;
  document.body.classList.remove("panel-open");
  if (opener && opener.isConnected) opener.focus();
}

// ---------- network ----------

class AskError extends Error {
  constructor(kind, detail = "") {
    super(detail || kind);
    this.kind = kind;
    this.detail = detail;
  }
}

async function httpError(response) {
  let detail = "";
  try {
    detail = detailText((await response.json()).detail);
  } catch {
    detail = response.statusText;
  }
  const kind = { 503: "noIndex", 401: "needKey", 403: "badKey" }[response.status] || "failed";
  return new AskError(kind, `${response.status}${detail ? `: ${detail}` : ""}`);
}

function applyFinal(ex, answer) {
  ex.answer = answer;
  ex.text = str(answer.answer);
  ex.citations = Array.isArray(answer.citations) ? answer.citations : ex.citations;
  ex.status = "done";
}

async function streamInto(ex, response) {
  for await (const { event, data } of readEvents(response)) {
    const payload = JSON.parse(data);
    if (event === "citations") {
      ex.citations = Array.isArray(payload.citations) ? payload.citations : [];
    } else if (event === "token") {
      ex.text += str(payload.text);
    } else if (event === "done") {
      applyFinal(ex, payload);
    } else if (event === "error") {
      throw new AskError("failed", detailText(payload.detail));
    }
    updateAnswer(ex);
    scrollToEnd();
    if (ex.status === "done") return;
  }
  throw new AskError("interrupted");
}

async function request(ex, history, signal) {
  let response;
  try {
    response = await fetch("/api/ask", {
      method: "POST",
      headers: withKey({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify({ question: ex.question, history, stream: true }),
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new AskError("serverDown", String(err.message || err));
  }
  if (!response.ok) throw await httpError(response);
  if ((response.headers.get("content-type") || "").includes("text/event-stream")) {
    await streamInto(ex, response);
  } else {
    applyFinal(ex, await response.json());
  }
}

function setBusy(busy) {
  els.ask.disabled = busy;
  els.stop.hidden = !busy;
  els.form.classList.toggle("busy", busy);
}

async function run(ex, history) {
  controller = new AbortController();
  setBusy(true);
  try {
    await request(ex, history, controller.signal);
  } catch (err) {
    if (err.name === "AbortError") {
      ex.status = "stopped";
    } else {
      ex.status = "error";
      ex.error = { kind: err.kind || "failed", detail: err.detail || String(err.message || err) };
      if (err.kind === "serverDown") showStatus("serverDown");
      if (err.kind === "noIndex") showStatus("noIndex");
      if (err.kind === "needKey" || err.kind === "badKey") askForKey(err.kind, ex);
    }
  } finally {
    controller = null;
    setBusy(false);
    updateAnswer(ex);
    save();
    scrollToEnd();
  }
}

async function ask(question) {
  const text = question.trim();
  if (!text || controller) return;
  const history = buildHistory();
  const ex = { id: newId(), question: text, text: "", citations: [], answer: null, status: "streaming" };
  exchanges.push(ex);
  els.empty.hidden = true;
  els.conversation.append(renderExchange(ex));
  scrollToEnd();
  save();
  await run(ex, history);
}

async function retry(ex) {
  if (controller) return;
  const index = exchanges.indexOf(ex);
  const earlier = exchanges.slice(0, index);
  Object.assign(ex, { text: "", citations: [], answer: null, status: "streaming", error: null });
  updateAnswer(ex);
  const saved = exchanges;
  exchanges = earlier;
  const history = buildHistory();
  exchanges = saved;
  await run(ex, history);
}

async function sendFeedback(ex, rating) {
  ex.rating = rating;
  updateAnswer(ex);
  save();
  try {
    const response = await fetch("/api/feedback", {
      method: "POST",
      headers: withKey({ "Content-Type": "application/json" }),
      body: JSON.stringify({ question: ex.question, answer: ex.text, rating }),
    });
    announce(response.ok ? t("chat.feedbackThanks") : t("chat.feedbackFailed"));
  } catch {
    announce(t("chat.feedbackFailed"));
  }
}

function copyText(ex) {
  const lines = [ex.text];
  if (ex.citations.length) {
    lines.push("", `${t("chat.sources")}:`);
    for (const c of ex.citations) {
      const extra = [str(c.date), safeUrl(c.url)].filter(Boolean).join(", ");
      lines.push(`[${c.n}] ${str(c.title)}${extra ? ` (${extra})` : ""}`);
    }
  }
  return lines.join("\n");
}

async function copyAnswer(ex, button) {
  const text = copyText(ex);
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    // No clipboard API outside secure contexts: fall back to a hidden textarea.
    const area = el("textarea", { className: "visually-hidden", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    ok = document.execCommand("copy");
    area.remove();
  }
  announce(ok ? t("chat.copied") : t("chat.copyFailed"));
  if (ok && button.isConnected) button.classList.add("copied");
}

// ---------- server status ----------

function showStatus(kind, vars = {}) {
  health = kind;
  document.body.dataset.health = kind;
  const key = { serverDown: "status.serverDown", noIndex: "status.noIndex", checking: "status.checking" }[kind];
  els.status.hidden = !key;
  els.status.className = `status status-${kind}`;
  els.statusText.textContent = key ? t(key, vars) : "";
  els.statusRetry.hidden = kind !== "serverDown" && kind !== "noIndex";
}

async function checkHealth() {
  try {
    const response = await fetch("/healthz", { headers: { Accept: "application/json" } });
    if (response.ok) {
      showStatus("ok");
      loadExamples();
    } else {
      showStatus(response.status === 503 ? "noIndex" : "serverDown");
    }
  } catch {
    showStatus("serverDown");
  }
}

async function loadExamples() {
  if (els.examples.children.length) return;
  try {
    const response = await fetch("/api/examples", { headers: withKey() });
    if (!response.ok) return;
    const data = await response.json();
    const questions = Array.isArray(data.questions) ? data.questions.filter((q) => typeof q === "string") : [];
    for (const q of questions.slice(0, 6)) {
      els.examples.append(el("li", {}, el("button", { type: "button", className: "example", dataset: { testid: "example" } }, q)));
    }
    els.examplesBlock.hidden = !els.examples.children.length;
  } catch {
    // Examples are a nicety: the page works without them.
  }
}

// ---------- events ----------

function onConversationClick(event) {
  const target = event.target.closest("button");
  if (!target) return;
  const ex = exchanges.find((e) => e.id === target.dataset.exchange);
  if (!ex) return;
  if (target.classList.contains("chip") || target.classList.contains("source-item")) {
    openPanel(ex.id, Number(target.dataset.n), target);
  } else if (target.dataset.action === "copy") {
    copyAnswer(ex, target);
  } else if (target.dataset.action === "rate") {
    sendFeedback(ex, target.dataset.rating);
  } else if (target.dataset.action === "retry") {
    retry(ex);
  }
}

function newConversation() {
  if (controller) controller.abort();
  exchanges = [];
  save();
  closePanel();
  renderAll();
  els.question.value = "";
  els.question.focus();
  announce(t("chat.cleared"));
}

function submit() {
  const question = els.question.value;
  if (!question.trim() || controller) return;
  els.question.value = "";
  autosize();
  ask(question);
}

function autosize() {
  els.question.style.height = "auto";
  els.question.style.height = `${Math.min(els.question.scrollHeight, 200)}px`;
}

function wire() {
  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  els.question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  els.question.addEventListener("input", autosize);
  els.stop.addEventListener("click", () => {
    if (controller) controller.abort();
    els.question.focus();
  });
  els.conversation.addEventListener("click", onConversationClick);
  els.examples.addEventListener("click", (event) => {
    const button = event.target.closest("button.example");
    if (button) ask(button.textContent);
  });
  els.newConversation.addEventListener("click", newConversation);
  els.panelClose.addEventListener("click", closePanel);
  els.statusRetry.addEventListener("click", checkHealth);
  els.keyForm.addEventListener("submit", onKeySubmit);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && panelState) closePanel();
  });
  window.I18N.onChange(() => {
    renderAll();
    if (health !== "ok" && health !== "unknown") showStatus(health);
  });
}

window.I18N.init();
exchanges = load();
wire();
renderAll();
scrollToEnd();
checkHealth();
