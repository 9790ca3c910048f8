// Small DOM helpers: build elements without innerHTML (no injection from data).

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export function fmtNumber(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (typeof value !== "number") return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return value.toExponential(2);
  return Number(value.toPrecision(Math.max(digits, 1) + (abs >= 1 ? Math.floor(Math.log10(abs)) : 0)))
    .toLocaleString("en-US", { maximumFractionDigits: 6 });
}

export function fmtAge(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  if (seconds < 1) return "now";
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function fmtTime(value) {
  if (!value) return "—";
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function shortModel(dtmi) {
  if (!dtmi) return "?";
  const match = /:([^:;]+);\d+$/.exec(dtmi);
  return match ? match[1] : dtmi;
}

export function statusBadge(status) {
  return el("span", { class: `badge status-${status}` }, status);
}

export function section(title, ...children) {
  const id = `h-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return el("section", { class: "card", "aria-labelledby": id }, el("h2", { id }, title), ...children);
}

export function table(headers, rows, { caption, empty = "Nothing here yet." } = {}) {
  if (!rows.length) return el("p", { class: "muted" }, empty);
  return el(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption || headers.join(", ") },
    el(
      "table",
      {},
      caption ? el("caption", { class: "sr-only" }, caption) : null,
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c))))),
    ),
  );
}

export function errorBox(error) {
  return el("div", { class: "error", role: "alert" }, describeError(error));
}

export function describeError(error) {
  if (error && error.detail) {
    const lines = [error.detail];
    for (const item of error.errors || []) {
      const where = item.field ? `${item.field}: ` : "";
      const text = `${where}${item.message || item.rule || ""}`;
      if (text && !error.detail.includes(item.message || "\u0000")) lines.push(text);
    }
    return `${error.title ? `${error.title}: ` : ""}${lines.join(" — ")}`;
  }
  return error && error.message ? error.message : String(error);
}
