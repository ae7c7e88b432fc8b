// datasets.js - the caller's datasets (an admin's: everyone's): name, id,
// rows, covariates, size; upload a CSV (covariates, then y) and delete,
// after a confirmation.
import { getJson, request } from "./api.js";
import { el, clear, errorBox, bytes } from "./dom.js";

export function showDatasets(main, ctx) {
  let stopped = false;
  const status = el("div", { class: "status", id: "datasets-status" });
  const body = el("tbody", {});
  const file = el("input", { type: "file", accept: ".csv,text/csv", id: "ds-file", "aria-label": "CSV file" });
  const name = el("input", { type: "text", id: "ds-name", placeholder: "name (the file's by default)", "aria-label": "name" });
  const form = el("form", { id: "ds-upload", class: "card" },
    el("h2", {}, "Upload a CSV"),
    el("p", { class: "help" }, "A header row, then the covariates' columns and y last."),
    file, " ", name, " ", el("button", { type: "submit" }, "Upload"));
  main.append(el("h1", {}, "Datasets"), status,
    el("table", { class: "datasets", id: "datasets" },
      el("thead", {}, el("tr", {}, ["name", "id", "owner", "rows n", "covariates d", "size", "created", ""]
        .map((h) => el("th", {}, h)))), body), form);

  const refresh = async () => {
    try {
      const ds = (await getJson("/v1/datasets")).datasets;
      if (stopped) return;
      clear(body).append(...ds.map((d) => el("tr", { dataset: { dataset: d.id } },
        el("td", {}, d.name || "-"), el("td", { class: "mono" }, d.id.slice(0, 12)), el("td", {}, d.owner),
        el("td", { class: "num" }, d.n), el("td", { class: "num" }, d.d),
        el("td", { class: "num", dataset: { bytes: d.bytes } }, bytes(d.bytes)),
        el("td", {}, d.created ? d.created.replace("T", " ").slice(0, 19) : "-"),
        el("td", {}, el("button", { type: "button", class: "delete", onclick: () => remove(d) }, "Delete")))));
      if (!ds.length) body.append(el("tr", {}, el("td", { colspan: 8, class: "empty" }, "No datasets.")));
    } catch (e) {
      if (e.status === 401) return ctx.onAuthLost();
      clear(status).append(errorBox(e));
    }
  };
  const remove = async (d) => {
    if (!confirm(`Delete dataset ${d.name || d.id}? Jobs that still need it keep it until they end.`)) return;
    try {
      await request("DELETE", "/v1/datasets/" + d.id);
      clear(status);
    } catch (e) {
      clear(status).append(errorBox(e));
    }
    refresh();
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = file.files[0];
    if (!f) return clear(status).append(errorBox("Choose a CSV file first."));
    const n = name.value.trim() || f.name.replace(/\.csv$/i, "");
    try {
      const r = await request("POST", "/v1/datasets?name=" + encodeURIComponent(n), { body: f, type: "text/csv" });
      const d = await r.json();
      clear(status).append(el("p", { class: "ok" }, `Uploaded ${d.name}: n ${d.n}, d ${d.d}.`));
      form.reset();
    } catch (e) {
      clear(status).append(errorBox(e));
    }
    refresh();
  });
  refresh();
  return () => (stopped = true);
}
