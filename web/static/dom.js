// Text-only DOM helpers shared by the chat and admin pages: untrusted strings become
// text nodes or attribute values, never markup.

/** createElement with attributes (className, dataset, plain attributes) and text or node children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** An http(s) URL safe for href, or null (blocks javascript:, data:, ...). */
export function safeUrl(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value, window.location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** The value if it is a string, else "". */
export const str = (value) => (typeof value === "string" ? value : "");

/** A FastAPI error `detail` (string, or a list of validation errors) as one line. */
export function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => str(d && d.msg) || JSON.stringify(d)).join("; ");
  return detail ? JSON.stringify(detail) : "";
}

/** Format an ISO date for the current language inside a <time>; null when there is none. */
export function dateNode(iso) {
  const text = window.I18N.formatDate(iso);
  return text ? el("time", { className: "date", datetime: iso.slice(0, 10) }, text) : null;
}
