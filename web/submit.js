// submit.js - the submit form, built from GET /v1/info: a model and a
// sampler from the server's tables, each with a field per parameter (so a
// new sampler appears without editing the page), the data (one of the
// caller's datasets, a CSV uploaded here, or synthetic rows), chains,
// samples, warmup, thin, key and the draws' dtype (from /v1/info too).
// Empty fields are left out (the server's defaults apply); the browser
// checks nothing itself, and each error the server answers is shown next
// to the field its path names.
import { getJson, request, sendJson } from "./api.js";
import { el, clear, errorBox, bytes } from "./dom.js";

// A field's text as the spec's value: a number when it reads as one, JSON
// for arrays, else the text itself (the server then says what is wrong).
function parseValue(type, text) {
  const t = text.trim();
  if (t === "") return undefined;
  if (type === "number" || type === "integer") return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t) ? Number(t) : t;
  if (type === "boolean") return t === "true" ? true : t === "false" ? false : t;
  if (type === "array" || type === "matrix") {
    try {
      return JSON.parse(t);
    } catch (_) {
      return t;
    }
  }
  return t;
}

// One labelled input whose error span answers to `path`.
function field(path, label, input, help) {
  input.dataset.path = path;
  input.id = "f-" + path.replace(/[^a-z0-9_]/gi, "-");
  return el("div", { class: "field", dataset: { field: path } },
    el("label", { for: input.id }, label), input,
    el("span", { class: "field-error", dataset: { errorFor: path }, role: "alert" }),
    help ? el("small", { class: "help" }, help) : null);
}

function paramInput(p) {
  if (p.type === "boolean" || p.type === "string")
    return el("select", { dataset: { type: p.type } },
      el("option", { value: "" }, p.default !== undefined ? `default (${p.default})` : "-"),
      (p.type === "boolean" ? ["true", "false"] : p.enum || []).map((v) => el("option", { value: v }, v)));
  const ph = p.required ? "required" : p.default !== undefined ? JSON.stringify(p.default) : "optional";
  return el("input", { type: "text", dataset: { type: p.type }, placeholder: ph, autocomplete: "off" });
}

// The fields of a table entry (model or sampler) under prefix.
function paramFields(box, prefix, entry) {
  clear(box);
  if (entry.help) box.append(el("p", { class: "help" }, entry.help));
  for (const p of entry.params || []) {
    const bound = [p.minimum !== undefined ? `>= ${p.minimum}` : "", p.exclusiveMinimum !== undefined ? `> ${p.exclusiveMinimum}` : "",
      p.maximum !== undefined ? `<= ${p.maximum}` : ""].filter(Boolean).join(", ");
    box.append(field(`${prefix}.${p.name}`, p.name + (p.required ? " *" : ""), paramInput(p),
      p.help + (bound ? ` (${bound})` : "")));
  }
}

// Each input with a data-path under prefix, read into obj.
function readParams(box, prefix, obj) {
  for (const input of box.querySelectorAll("[data-path]")) {
    const v = parseValue(input.dataset.type, input.value);
    if (v !== undefined) obj[input.dataset.path.slice(prefix.length + 1)] = v;
  }
  return obj;
}

function textInput(placeholder, type = "integer") {
  return el("input", { type: "text", placeholder, autocomplete: "off", dataset: { type } });
}

export function showSubmit(main, ctx) {
  let stopped = false;
  const status = el("div", { class: "status", id: "submit-status" });
  main.append(el("h1", {}, "Submit a job"), status);
  (async () => {
    const [info, ds] = await Promise.all([getJson("/v1/info"), getJson("/v1/datasets")]);
    if (stopped) return;
    build(main, info, ds.datasets, status);
  })().catch((e) => {
    if (e.status === 401) return ctx.onAuthLost();
    status.append(errorBox(e));
  });
  return () => (stopped = true);
}

function build(main, info, datasets, status) {
  const modelSel = el("select", {}, info.models.map((m) => el("option", { value: m.name }, m.name)));
  const samplerSel = el("select", {}, info.samplers.map((s) => el("option", { value: s.name }, s.name)));
  const modelBox = el("div", { class: "params" });
  const samplerBox = el("div", { class: "params" });
  const dataSel = el("select", {});
  const synth = el("div", { class: "params", hidden: true },
    field("data.synthetic.n", "rows n", textInput("e.g. 1000")),
    field("data.synthetic.d", "covariates d", textInput("e.g. 5")),
    field("data.synthetic.seed", "seed", textInput("0")));
  const upload = el("input", { type: "file", accept: ".csv,text/csv", id: "f-upload" });
  const uploadName = textInput("name (the file's by default)", "string");
  uploadName.id = "f-upload-name";
  const uploadBtn = el("button", { type: "button", id: "upload" }, "Upload CSV");
  const uploadMsg = el("span", { class: "field-error", dataset: { errorFor: "upload" } });
  const fillData = (selectId) => {
    const y = (info.models.find((m) => m.name === modelSel.value) || {}).y;
    const options = y === "none" ? [el("option", { value: "none" }, "no data (this model takes none)")]
      : [...datasets.map((d) => el("option", { value: "id:" + d.id },
        `${d.name || d.id.slice(0, 12)} (n ${d.n}, d ${d.d}, ${bytes(d.bytes)})`)),
      el("option", { value: "synthetic" }, "synthetic rows")];
    clear(dataSel).append(...options);
    if (selectId) dataSel.value = "id:" + selectId;
    synth.hidden = dataSel.value !== "synthetic";
  };
  modelSel.addEventListener("change", () => {
    paramFields(modelBox, "model", info.models.find((m) => m.name === modelSel.value));
    fillData();
  });
  samplerSel.addEventListener("change", () =>
    paramFields(samplerBox, "sampler", info.samplers.find((s) => s.name === samplerSel.value)));
  dataSel.addEventListener("change", () => (synth.hidden = dataSel.value !== "synthetic"));
  uploadBtn.addEventListener("click", async () => {
    const f = upload.files[0];
    uploadMsg.textContent = "";
    if (!f) return (uploadMsg.textContent = "choose a CSV file first");
    const name = uploadName.value.trim() || f.name.replace(/\.csv$/i, "");
    try {
      const r = await request("POST", "/v1/datasets?name=" + encodeURIComponent(name), { body: f, type: "text/csv" });
      const d = await r.json();
      datasets = (await getJson("/v1/datasets")).datasets;
      fillData(d.id);
      uploadMsg.textContent = `uploaded: n ${d.n}, d ${d.d}`;
    } catch (e) {
      uploadMsg.textContent = e.message;
    }
  });

  const top = {
    name: field("name", "name", textInput("optional", "string")),
    tags: field("tags", "tags", textInput("comma separated", "string")),
    chains: field("chains", "chains", textInput("1")),
    num_samples: field("num_samples", "samples per chain", textInput("1000")),
    num_warmup: field("num_warmup", "warmup", textInput("0")),
    thin: field("thin", "thin", textInput("1")),
    key: field("key", "key (seed)", textInput("0"), "an integer, or a JAX-style pair [hi, lo]"),
    progress_every: field("progress_every", "progress every", textInput("1000"), "iterations per progress event and block of draws"),
    dtype: field("dtype", "dtype", el("select", {}, el("option", { value: "" }, "default"),
      (info.dtypes || []).map((t) => el("option", { value: t }, t))), "how the draws are stored"),
  };
  const general = el("ul", { class: "errors", id: "submit-errors" });
  const submit = el("button", { type: "submit", id: "submit" }, "Submit");
  const form = el("form", { id: "submit-form", novalidate: true, class: "card" },
    el("fieldset", {}, el("legend", {}, "Job"), top.name, top.tags),
    el("fieldset", {}, el("legend", {}, "Model"), field("model.type", "model", modelSel), modelBox),
    el("fieldset", {}, el("legend", {}, "Data"), field("data", "data", dataSel), synth,
      el("div", { class: "field" }, el("label", { for: "f-upload" }, "or upload"), upload, uploadName, uploadBtn, uploadMsg)),
    el("fieldset", {}, el("legend", {}, "Sampler"), field("sampler.type", "sampler", samplerSel), samplerBox),
    el("fieldset", {}, el("legend", {}, "Run"), top.chains, top.num_samples, top.num_warmup, top.thin, top.key, top.progress_every, top.dtype),
    general, submit);
  main.append(form);
  paramFields(modelBox, "model", info.models[0]);
  paramFields(samplerBox, "sampler", info.samplers[0]);
  fillData();

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const s of form.querySelectorAll(".field-error")) s.textContent = "";
    form.querySelectorAll(".invalid").forEach((n) => n.classList.remove("invalid"));
    clear(general);
    const spec = {};
    const text = (k) => top[k].querySelector("input").value.trim();
    if (text("name")) spec.name = text("name");
    if (text("tags")) spec.tags = text("tags").split(",").map((t) => t.trim()).filter(Boolean);
    spec.model = readParams(modelBox, "model", { type: modelSel.value });
    if (dataSel.value.startsWith("id:")) spec.data = { dataset: dataSel.value.slice(3) };
    else if (dataSel.value === "synthetic") spec.data = { synthetic: readParams(synth, "data.synthetic", {}) };
    spec.sampler = readParams(samplerBox, "sampler", { type: samplerSel.value });
    for (const k of ["chains", "num_samples", "num_warmup", "thin", "progress_every"]) {
      const v = parseValue("integer", text(k));
      if (v !== undefined) spec[k] = v;
    }
    const key = text("key");
    if (key) spec.key = /^\d+$/.test(key) && Number.isSafeInteger(Number(key)) ? Number(key) : parseValue("array", key);
    const dtype = top.dtype.querySelector("select").value;
    if (dtype) spec.dtype = dtype;
    submit.disabled = true;
    try {
      const job = await sendJson("POST", "/v1/jobs", spec);
      location.hash = "#/job/" + job.id;
    } catch (e) {
      showErrors(form, general, e);
    } finally {
      submit.disabled = false;
    }
  });
}

// "a.b[2]" -> "a.b" -> "a" -> "".
function parentPath(p) {
  const q = p.replace(/(\[[^\]]*\]|\.[^.[\]]*)$/, "");
  return q === p ? "" : q;
}

// Each detail next to the field its path names (or the nearest enclosing
// one: "sampler.inv_metric[2]" goes to sampler.inv_metric); the rest, and
// an error without details, in the list under the form.
function showErrors(form, general, e) {
  const details = e.details && e.details.length ? e.details : [{ path: "", message: e.message }];
  for (const d of details) {
    let path = d.path || "", span = null;
    while (path && !(span = form.querySelector(`[data-error-for="${CSS.escape(path)}"]`)))
      path = parentPath(path);
    if (span) {
      span.textContent = (span.textContent ? span.textContent + "; " : "") + (d.path !== path ? d.path + ": " : "") + d.message;
      const input = form.querySelector(`[data-path="${CSS.escape(path)}"]`);
      if (input) input.classList.add("invalid");
    } else {
      general.append(el("li", {}, (d.path ? d.path + ": " : "") + d.message));
    }
  }
  if (!e.details || !e.details.length) return;
  if (!general.childElementCount) general.append(el("li", {}, e.message));
}
