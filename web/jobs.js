// jobs.js - the job list: the caller's jobs (an admin's: everyone's),
// newest first, polled every second while shown (each item of GET /v1/jobs
// names its sampler and model); filtered by state (the API's ?state=) and
// by a part of the name; cancel and delete, each after a confirmation.
import { getJson, request } from "./api.js";
import { el, clear, errorBox, percent } from "./dom.js";

const STATES = ["", "queued", "running", "succeeded", "failed", "cancelled"];
const POLL_MS = 1000;

async function fetchJobs(state) {
  const jobs = [];
  let token = "";
  for (let page = 0; page < 5; page++) { // at most 5000 jobs
    const q = new URLSearchParams({ page_size: "1000" });
    if (state) q.set("state", state);
    if (token) q.set("page_token", token);
    const j = await getJson("/v1/jobs?" + q);
    jobs.push(...j.jobs);
    token = j.next_page_token;
    if (!token) break;
  }
  return jobs.reverse();
}

function progressCell(job) {
  const p = job.progress || { iter: 0, total: 0 };
  const share = p.total ? p.iter / p.total : 0;
  return el("td", { class: "progress-cell" },
    el("progress", { max: 1, value: share, "aria-label": "progress" }), " ", percent(share));
}

function jobRow(job, actions) {
  const link = el("a", { href: "#/job/" + encodeURIComponent(job.id) }, job.name || job.id.slice(0, 12));
  const active = job.state === "queued" || job.state === "running";
  return el("tr", { dataset: { job: job.id, state: job.state } },
    el("td", {}, link),
    el("td", {}, el("span", { class: "state state-" + job.state }, job.state)),
    el("td", { class: "sampler" }, job.sampler || "-"),
    el("td", { class: "model" }, job.model || "-"),
    progressCell(job),
    el("td", {}, job.owner),
    el("td", {}, (job.tags || []).map((t) => el("span", { class: "tag" }, t))),
    el("td", {}, job.created ? job.created.replace("T", " ").slice(0, 19) : "-"),
    el("td", { class: "actions" },
      active ? el("button", { type: "button", class: "cancel", onclick: () => actions.cancel(job) }, "Cancel") : null,
      active ? null : el("button", { type: "button", class: "delete", onclick: () => actions.remove(job) }, "Delete")));
}

export function showJobs(main, ctx) {
  const stateSel = el("select", { id: "filter-state", "aria-label": "state" },
    STATES.map((s) => el("option", { value: s }, s || "any state")));
  const nameIn = el("input", { id: "filter-name", type: "search", placeholder: "name contains", "aria-label": "name" });
  const status = el("div", { class: "status" });
  const body = el("tbody", {});
  const table = el("table", { class: "jobs", id: "jobs" },
    el("thead", {}, el("tr", {}, ["name", "state", "sampler", "model", "progress", "owner", "tags", "created", ""]
      .map((h) => el("th", {}, h)))), body);
  main.append(el("section", {},
    el("h1", {}, "Jobs"),
    el("div", { class: "filters" }, stateSel, " ", nameIn, " ", el("a", { href: "#/submit" }, "Submit a job")),
    status, table));

  let timer = null, stopped = false, jobs = [];
  const actions = {
    async cancel(job) {
      if (!confirm(`Cancel job ${job.name || job.id}? Its draws so far are kept.`)) return;
      await act(() => request("POST", `/v1/jobs/${job.id}/cancel`));
    },
    async remove(job) {
      if (!confirm(`Delete job ${job.name || job.id} and its draws? This cannot be undone.`)) return;
      await act(() => request("DELETE", `/v1/jobs/${job.id}`));
    },
  };
  async function act(fn) {
    try {
      await fn();
      clear(status);
    } catch (e) {
      clear(status).append(errorBox(e));
    }
    refresh();
  }
  function render() {
    const part = nameIn.value.trim().toLowerCase();
    const shown = jobs.filter((j) => !part || (j.name || "").toLowerCase().includes(part));
    clear(body).append(...shown.map((j) => jobRow(j, actions)));
    if (!shown.length) body.append(el("tr", {}, el("td", { colspan: 9, class: "empty" }, "No jobs.")));
  }
  async function refresh() {
    clearTimeout(timer);
    try {
      jobs = await fetchJobs(stateSel.value);
      if (stopped) return;
      if (status.querySelector(".load-error")) clear(status);
      render();
    } catch (e) {
      if (e.status === 401) return ctx.onAuthLost();
      clear(status).append(el("div", { class: "load-error" }, errorBox(e)));
    }
    if (!stopped) timer = setTimeout(refresh, POLL_MS);
  }
  stateSel.addEventListener("change", refresh);
  nameIn.addEventListener("input", render);
  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
