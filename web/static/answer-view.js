// How one answer renders: text with [n] chips, sources, abstention, actions, and the
// source panel's highlighted passage. Every article string goes through text nodes.

import { dateNode, el, safeUrl, str } from "./dom.js";

const { t } = window.I18N;
const MARKER = /\[(\d{1,3})\]/g;

export function citationMap(ex) {
  const map = new Map();
  for (const c of ex.citations) if (c && Number.isInteger(c.n)) map.set(c.n, c);
  return map;
}

/** The answer text with each [n] that has a citation turned into a chip <button>. */
function renderAnswerText(ex) {
  const body = el("div", { className: "answer-text", dataset: { testid: "answer-text" } });
  const cites = citationMap(ex);
  let last = 0;
  for (const match of ex.text.matchAll(MARKER)) {
    const n = Number(match[1]);
    const citation = cites.get(n);
    if (!citation) continue;
    body.append(document.createTextNode(ex.text.slice(last, match.index)));
    body.append(chip(ex, citation));
    last = match.index + match[0].length;
  }
  body.append(document.createTextNode(ex.text.slice(last)));
  return body;
}

function chip(ex, citation) {
  const label = t("chat.sourceChip", { n: citation.n, title: str(citation.title) });
  return el(
    "button",
    {
      type: "button",
      className: "chip",
      dataset: { testid: "chip", n: String(citation.n), exchange: ex.id },
      "aria-label": label,
      title: str(citation.title),
    },
    String(citation.n),
  );
}


/** A who-answer's people: name, role, organisation, and the chip of the quote naming them. */
function renderPeople(ex) {
  const people = ex.answer && Array.isArray(ex.answer.people) ? ex.answer.people : [];
  if (!people.length) return null;
  const cites = citationMap(ex);
  const list = el("ul", { className: "people-list", dataset: { testid: "people" } });
  for (const p of people) {
    const item = el("li", { className: "person", dataset: { testid: "person" } },
      el("strong", { className: "person-name" }, str(p.name)),
      " ",
      el("span", { className: "person-role" }, t(`role.${str(p.role)}`)));
    const where = [str(p.job_title), str(p.organisation)].filter(Boolean).join(", ");
    if (where) item.append(" ", el("span", { className: "person-org" }, `(${where})`));
    const citation = cites.get(p.citation);
    if (citation) item.append(" ", chip(ex, citation));
    list.append(item);
  }
  return list;
}

function renderSources(ex) {
  if (!ex.citations.length) return null;
  const list = el("ol", { className: "sources-list" });
  const named = new Set(); // an article's other publications are listed once, under its first quote
  for (const c of ex.citations) {
    const button = el(
      "button",
      {
        type: "button",
        className: "source-item",
        dataset: { n: String(c.n), exchange: ex.id, testid: "source-item" },
      },
      el("span", { className: "source-n" }, `[${c.n}]`),
      " ",
      el("span", { className: "source-title" }, str(c.title)),
    );
    const others = named.has(c.article_id) ? [] : alsoPublished(c);
    named.add(c.article_id);
    list.append(el("li", {}, button, " ", dateNode(c.date), ...others));
  }
  return el(
    "section",
    { className: "sources", dataset: { testid: "sources" } },
    el("h3", { className: "sources-title" }, t("chat.sources")),
    list,
  );
}

/** "Also published by": the other publications of the cited news, linked when they have a URL. */
function alsoPublished(c) {
  const others = Array.isArray(c.also_published_by) ? c.also_published_by : [];
  if (!others.length) return [];
  const line = el("p", { className: "also-published", dataset: { testid: "also-published" } },
    `${t("chat.alsoPublished")} `);
  others.forEach((other, i) => {
    if (i) line.append("; ");
    const href = safeUrl(other.url);
    const title = str(other.title) || str(other.source);
    line.append(href
      ? el("a", { href, target: "_blank", rel: "noopener noreferrer" }, title)
      : el("span", {}, title));
    // Republications often keep the headline: the site tells them apart.
    if (href) line.append(` (${new URL(href).host})`);
    const date = dateNode(other.date);
    if (date) line.append(" ", date);
  });
  return [line];
}

function renderSuggestions(ex) {
  const suggestions = (ex.answer && Array.isArray(ex.answer.suggestions) && ex.answer.suggestions) || [];
  const box = el("div", { className: "suggestions", dataset: { testid: "suggestions" } });
  if (!suggestions.length) {
    box.append(el("p", {}, t("chat.noSuggestions")));
    return box;
  }
  box.append(el("p", {}, t("chat.abstainedHint")));
  const list = el("ul", { className: "suggestions-list" });
  for (const s of suggestions) {
    const href = safeUrl(s.url);
    const title = str(s.title) || str(s.article_id);
    const link = href
      ? el("a", { href, target: "_blank", rel: "noopener noreferrer" }, title)
      : el("span", {}, title);
    list.append(el("li", { dataset: { testid: "suggestion" } }, link, " ", dateNode(s.date)));
  }
  box.append(list);
  return box;
}

function answererNote(ex) {
  const key = {
    extractive: "chat.answererExtractive",
    llm: "chat.answererLlm",
    "extractive-fallback": "chat.answererFallback",
  }[ex.answer && ex.answer.answerer];
  return key ? el("p", { className: "answer-note" }, t(key)) : null;
}

function errorBlock(ex) {
  const error = ex.error || { kind: "failed" };
  const detail = str(error.detail) || t("error.unknown");
  const message = {
    serverDown: t("error.serverDown"),
    noIndex: t("error.noIndex"),
    interrupted: t("error.interrupted"),
    needKey: t("error.needKey"),
    badKey: t("error.badKey"),
  }[error.kind] || t("error.failed", { detail });
  const retry = el(
    "button",
    { type: "button", className: "button button-quiet retry", dataset: { action: "retry", exchange: ex.id } },
    t("chat.retry"),
  );
  return el("div", { className: "answer-error", role: "alert", dataset: { testid: "answer-error" } },
    el("p", {}, message), retry);
}

// Material "thumb_up" outline as inline SVG: emoji fonts are not everywhere.
const THUMB = "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06"
  + "L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22"
  + "l3.02-7.05c.09-.23.14-.47.14-.73v-2z";

function thumbIcon(down) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "18");
  svg.setAttribute("height", "18");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  if (down) svg.setAttribute("transform", "rotate(180)");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", THUMB);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

function actions(ex) {
  const rate = (rating, key, icon) =>
    el(
      "button",
      {
        type: "button",
        className: "button button-quiet icon-button rate",
        dataset: { action: "rate", rating, exchange: ex.id, testid: `rate-${rating}` },
        "aria-pressed": ex.rating === rating ? "true" : "false",
        "aria-label": t(key),
        title: t(key),
      },
      icon,
    );
  return el(
    "div",
    { className: "answer-actions" },
    el(
      "button",
      {
        type: "button",
        className: "button button-quiet copy",
        dataset: { action: "copy", exchange: ex.id, testid: "copy" },
        "aria-label": t("chat.copyLabel"),
      },
      t("chat.copy"),
    ),
    rate("up", "chat.rateUp", thumbIcon(false)),
    rate("down", "chat.rateDown", thumbIcon(true)),
  );
}

export function renderAnswerContent(ex) {
  const abstained = Boolean(ex.answer && ex.answer.abstained);
  const parts = [];
  const head = el("div", { className: "answer-head" }, el("span", { className: "who" }, t("chat.assistant")));
  if (abstained) {
    head.append(el("span", { className: "badge badge-abstained", dataset: { testid: "abstained-label" } },
      t("chat.abstainedLabel")));
  }
  parts.push(head);
  if (ex.status === "streaming" && !ex.text) {
    parts.push(el("p", { className: "thinking" }, el("span", { className: "spinner", "aria-hidden": "true" }),
      t("chat.thinking")));
  } else if (ex.text) {
    parts.push(renderAnswerText(ex));
  }
  if (ex.status === "stopped") parts.push(el("p", { className: "answer-stopped" }, t("chat.stopped")));
  if (ex.status === "error") parts.push(errorBlock(ex));
  if (abstained) parts.push(renderSuggestions(ex));
  if (!abstained) parts.push(renderPeople(ex), renderSources(ex));
  if (ex.status === "done") parts.push(answererNote(ex), actions(ex));
  return parts.filter(Boolean);
}

/** Slice by code points, so Python offsets stay right past the BMP (emoji etc.). */
function cpSlice(chars, from, to) {
  return chars.slice(from, to).join("");
}

/** Where the quote sits in the passage, in code points: [start, end] or null. */
function locateQuote(c, chars) {
  const quote = str(c.quote);
  const qs = c.start - c.passage_start;
  const qe = c.end - c.passage_start;
  if (Number.isInteger(qs) && Number.isInteger(qe) && qs >= 0 && qs <= qe && qe <= chars.length
      && cpSlice(chars, qs, qe) === quote) {
    return [qs, qe];
  }
  const passage = chars.join("");
  const at = quote ? passage.indexOf(quote) : -1;
  if (at < 0) return null;
  const from = Array.from(passage.slice(0, at)).length;
  return [from, from + Array.from(quote).length];
}

/** <mark> with the quote, its answer span (highlight_start/end) in <strong>. */
function markedQuote(c, quoteChars) {
  const mark = el("mark", { dataset: { testid: "quote" } });
  const hs = Number.isInteger(c.highlight_start) ? c.highlight_start - c.start : NaN;
  const he = Number.isInteger(c.highlight_end) ? c.highlight_end - c.start : NaN;
  if (hs >= 0 && he > hs && he <= quoteChars.length) {
    mark.append(
      cpSlice(quoteChars, 0, hs),
      el("strong", { dataset: { testid: "answer-span" } }, cpSlice(quoteChars, hs, he)),
      cpSlice(quoteChars, he),
    );
  } else {
    mark.append(quoteChars.join(""));
  }
  return mark;
}

function passageBlock(c) {
  const chars = Array.from(str(c.passage));
  const block = el("blockquote", { className: "passage", dataset: { testid: "passage" } });
  if (!str(c.quote)) {
    // Provisional citations (streamed before an LLM answer) carry the passage only.
    block.append(chars.join(""));
    return [block];
  }
  const where = locateQuote(c, chars);
  const quoteChars = Array.from(str(c.quote));
  if (!where) {
    block.append(chars.join(""));
    return [el("p", { className: "hint" }, t("chat.quoteNotFound")),
      el("p", { className: "passage" }, markedQuote(c, quoteChars)), block];
  }
  const [qs, qe] = where;
  const lead = c.passage_start > 0 ? "… " : "";
  block.append(lead + cpSlice(chars, 0, qs), markedQuote(c, chars.slice(qs, qe)), cpSlice(chars, qe), " …");
  return [block];
}

/** The source panel's content for one citation: title, date, link, highlighted passage. */
export function sourceDetails(c) {
  const href = safeUrl(c.url);
  const link = href
    ? el("p", {}, el("a", { href, target: "_blank", rel: "noopener noreferrer", dataset: { testid: "source-url" } },
      t("chat.openSource")))
    : el("p", { className: "hint" }, t("chat.noUrl"));
  return [
    el("h3", { className: "source-title-full", dataset: { testid: "source-title" } }, str(c.title)),
    el("p", { className: "source-date" }, dateNode(c.date) || t("chat.noDate")),
    link,
    ...passageBlock(c),
  ];
}
