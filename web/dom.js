// dom.js - small helpers the views share: building elements (text only
// through textContent, never innerHTML, so no server string becomes
// markup), formatting numbers, sizes and durations.

// el("td", {class: "num", dataset: {value: 1}}, "text", child...)
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "value" || k === "checked" || k === "disabled" || k === "hidden") e[k] = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

// 4 significant digits, or "-" for null/NaN.
export function num(v, digits = 4) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "-";
  if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-3)) return v.toExponential(digits - 1);
  return Number(v.toPrecision(digits)).toString();
}

export function bytes(n) {
  if (!Number.isFinite(n)) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) n /= 1024, i++;
  return (i ? n.toFixed(1) : String(n)) + " " + units[i];
}

export function seconds(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return "-";
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
}

export function percent(v) {
  return v === null || v === undefined || !Number.isFinite(v) ? "-" : (100 * v).toFixed(1) + "%";
}

// A message box: el("p", {class: "error"}, ...).
export function errorBox(err) {
  return el("p", { class: "error", role: "alert" }, err && err.message ? err.message : String(err));
}
