// job.js - one job's page: its status and actions, a live progress bar per
// chain (from the job's Server-Sent Events), trace plots that grow as draws
// arrive (draws?follow=1 at the thin of draw_store.js, which doubles as a
// chain grows, so each chain plots at most MAX_POINTS rows however long it
// is), per-chain histograms and rank plots of the first MAX_PLOTTED
// parameters, the summary table (refreshed while the job runs), the
// sampler's statistics and download links.
import { download, getJson, request, streamEvents, streamLines } from "./api.js";
import { el, clear, errorBox } from "./dom.js";
import { stepPlot, tracePlot } from "./plots.js";
import { drawStore, MAX_POINTS } from "./draw_store.js";
import { energyHistograms, histograms, rankHistograms } from "./stats.js";
import { progressBars } from "./progress.js";
import { summaryTable, samplerTable } from "./summary.js";

const REDRAW_MS = 250; // at most 4 redraws a second
const DERIVED_MS = 1500; // histograms and ranks
const SUMMARY_MS = 2000;
const PLOTTED_STATS = ["stepsize__", "treedepth__"];
// The first parameters get plots (the summary table lists them all): a
// chart is a canvas and its data, and a model of 2000 coefficients would
// otherwise ask for 6000 of them.
const MAX_PLOTTED = 10;

function active(state) {
  return state === "queued" || state === "running";
}

export function showJob(main, id, ctx) {
  const ac = new AbortController();
  const timers = [];
  const charts = [];
  let stopped = false;
  const header = el("div", { class: "job-header" });
  const errors = el("div", { class: "status" });
  const sections = {
    progress: el("section", { id: "progress" }, el("h2", {}, "Progress")),
    traces: el("section", { id: "traces" }, el("h2", {}, "Traces")),
    hists: el("section", { id: "histograms", class: "grid" }, el("h2", {}, "Marginals per chain")),
    ranks: el("section", { id: "ranks", class: "grid" }, el("h2", {}, "Rank plots")),
    summary: el("section", { id: "summary" }, el("h2", {}, "Summary")),
    sampler: el("section", { id: "sampler-stats", hidden: true }, el("h2", {}, "Sampler statistics")),
  };
  main.append(header, errors, ...Object.values(sections));
  const fail = (e) => {
    if (stopped || (e && e.name === "AbortError")) return;
    if (e && e.status === 401) return ctx.onAuthLost();
    errors.append(errorBox(e));
  };
  const later = (fn, ms) => timers.push(setTimeout(fn, ms));
  const onResize = () => charts.forEach((c) => c.resize());
  window.addEventListener("resize", onResize);

  (async () => {
    const [job, info] = await Promise.all([getJson("/v1/jobs/" + id), getJson("/v1/info")]);
    if (stopped) return;
    const samplerType = job.spec && job.spec.sampler && job.spec.sampler.type;
    const sampler = (info.samplers || []).find((s) => s.name === samplerType) || { stats: [] };
    const allNames = job.parameters || Array.from({ length: job.shape[2] }, (_, i) => "theta." + (i + 1));
    const names = allNames.slice(0, MAX_PLOTTED);
    let state = job.state;
    const head = jobHeader(header, job, ctx, () => state);
    const bars = progressBars(sections.progress, job);
    const statNames = sampler.stats.filter((n) => n !== "lp__");
    const marksDivergent = statNames.includes("divergent__");
    const store = drawStore({
      chains: job.shape[0], d: names.length, rows: job.shape[1], warmupRows: job.warmup_draws || 0, statNames,
      available: Math.max(0, ...(job.chains || []).map((c) => c.draws || 0)),
    });
    const traceNote = el("p", { class: "note", id: "trace-note" });
    sections.traces.append(traceNote);
    if (allNames.length > names.length)
      sections.traces.append(el("p", { class: "note", id: "plotted-note" },
        `The plots show the first ${names.length} of the ${allNames.length} parameters; the summary table lists all.`));
    const traces = names.map((n, p) => {
      const box = el("div", { class: "chart trace", dataset: { param: n } });
      sections.traces.append(box);
      const t = tracePlot(box, n, store.chains);
      charts.push(t);
      return t;
    });
    const chainLabels = Array.from({ length: store.chains }, (_, c) => "chain " + c);
    const hists = names.map((n) => {
      const box = el("div", { class: "chart hist", dataset: { param: n } });
      sections.hists.append(box);
      const h = stepPlot(box, n, chainLabels, { xLabel: n });
      charts.push(h);
      return h;
    });
    const ranks = names.map((n) => {
      const box = el("div", { class: "chart rank", dataset: { param: n } });
      sections.ranks.append(box);
      const r = stepPlot(box, n + ": ranks of the pooled draws", chainLabels, { xLabel: "rank", level: "uniform" });
      charts.push(r);
      return r;
    });
    sections.ranks.append(el("p", { class: "note" },
      "Each chain's share of the ranks of all chains' post-warmup draws (Vehtari et al. 2021): " +
      "chains that mix give flat lines near the dashed level."));
    const samplerView = statNames.length ? samplerSection(sections.sampler, store, charts) : null;

    // --- redraws, throttled ---
    let dirty = false;
    const redraw = () => {
      dirty = false;
      const x = store.x();
      traces.forEach((t, p) =>
        t.update(x, store.theta[p].map((a) => a.slice(0, store.top)), store.divs, store.received, store.thin));
      if (samplerView) samplerView.traces(x);
      traceNote.textContent = (store.thin > 1
        ? `One draw in ${store.thin} of each chain is plotted (at most ${MAX_POINTS} a chain: the step doubles ` +
          "as the chains grow)" + (marksDivergent ? "; divergent ones among them" : ".")
        : "Every draw is plotted" + (marksDivergent ? "; divergent ones" : ".")) +
        (marksDivergent ? " are marked with red triangles (the progress table counts every divergence, warmup's " +
          "too; the sampler statistics those after warmup)." : "");
    };
    const touch = () => {
      if (!dirty) (dirty = true), later(redraw, REDRAW_MS);
    };
    // one parameter per task, so the main thread is never held for all of
    // them at once; a call while one runs makes it run once more at the end
    let deriving = false, again = false;
    const derive = async () => {
      if (deriving) return void (again = true);
      deriving = true;
      do {
        again = false;
        const from = store.warmupK();
        for (let p = 0; p < names.length && !stopped; p++) {
          const h = histograms(store.theta[p], from, store.top);
          if (h) hists[p].update(h.edges, h.dens);
          const r = rankHistograms(store.theta[p], from, store.top);
          if (r) ranks[p].update(r.edges, r.counts, r.expected);
          await new Promise((res) => setTimeout(res, 0));
        }
        if (samplerView && !stopped) samplerView.energy(from);
      } while (again && !stopped);
      deriving = false;
    };
    const deriveLoop = () => {
      derive();
      if (active(state)) later(deriveLoop, DERIVED_MS);
    };

    // --- the summary, polled while the job runs ---
    const table = summaryTable(sections.summary, job.shape[0]);
    // Answers may cross: one asked while the job ran can come back after
    // the final one (and then already names the final state: the server
    // reads the state as it answers), so only the latest asked is shown,
    // and the table is marked final (data-final) once asked after "done".
    let asked = 0, shown = 0, done = false;
    const refreshSummary = async () => {
      const mine = ++asked, final = done;
      try {
        const s = await getJson(`/v1/jobs/${id}/summary`);
        if (mine < shown) return;
        shown = mine;
        table.update(s, final);
        if (samplerView) samplerView.table(s);
      } catch (e) {
        if (e.status === 401) return ctx.onAuthLost();
        table.note(e.message);
      }
    };
    const summaryLoop = async () => {
      await refreshSummary();
      if (!stopped && active(state)) later(summaryLoop, SUMMARY_MS);
    };

    // --- the streams ---
    let lastSeq = 0;
    const onEvent = (ev) => {
      if (ev.seq) lastSeq = ev.seq;
      if (ev.type === "progress") bars.update(ev);
      if (ev.type === "state" || ev.type === "done") {
        state = ev.state;
        head.setState(state, ev.error);
      }
      if (ev.type === "done") {
        done = true;
        refreshSummary();
        later(derive, 300);
      }
    };
    const followEvents = async () => {
      while (!stopped) {
        try {
          await streamEvents(`/v1/jobs/${id}/events?after=${lastSeq}`, onEvent, ac.signal);
        } catch (e) {
          if (e.status === 401 || e.status === 404) return fail(e);
          if (stopped) return;
        }
        if (!active(state)) return;
        await new Promise((r) => later(r, 1000));
      }
    };
    // One stream at the store's thin from the first row some chain lacks;
    // when the store's thin doubles, that stream is dropped and the next
    // one asks for half as many rows.
    const followDraws = async () => {
      const stats = statNames.length ? "&stats=1" : "";
      while (!stopped) {
        const start = store.resumeAt(), thin = store.thin;
        if (start >= store.rows) break; // every row is here
        const mine = new AbortController();
        const onStop = () => mine.abort();
        ac.signal.addEventListener("abort", onStop);
        try {
          await streamLines(`/v1/jobs/${id}/draws?follow=1&thin=${thin}&start=${start}${stats}`,
            (row) => {
              if ("heartbeat" in row) return;
              if (store.add(row)) touch();
              if (store.thin !== thin) mine.abort();
            }, mine.signal);
        } catch (e) {
          if (e.status === 401 || e.status === 404) return fail(e);
          if (stopped) return;
        } finally {
          ac.signal.removeEventListener("abort", onStop);
        }
        if (store.thin !== thin) continue; // at once, at the new thin
        if (!active(state)) break;
        await new Promise((r) => later(r, 1000));
      }
      redraw();
      derive();
    };
    followEvents();
    followDraws();
    summaryLoop();
    later(deriveLoop, DERIVED_MS);
  })().catch(fail);

  return () => {
    stopped = true;
    ac.abort();
    timers.forEach(clearTimeout);
    window.removeEventListener("resize", onResize);
    charts.forEach((c) => c.destroy());
  };
}

// The title, state, facts and buttons; setState(state, error) keeps the
// badge and the buttons current.
function jobHeader(box, job, ctx, getState) {
  const spec = job.spec || {};
  const badge = el("span", { class: "state state-" + job.state, id: "job-state" }, job.state);
  const err = el("p", { class: "error", id: "job-error" }, job.error || "");
  const cancel = el("button", { type: "button", id: "job-cancel" }, "Cancel");
  const del = el("button", { type: "button", id: "job-delete" }, "Delete");
  const msg = el("span", { class: "status" });
  cancel.addEventListener("click", async () => {
    if (!confirm("Cancel this job? Its draws so far are kept.")) return;
    try {
      await request("POST", `/v1/jobs/${job.id}/cancel`);
    } catch (e) {
      msg.textContent = e.message;
    }
  });
  del.addEventListener("click", async () => {
    if (!confirm("Delete this job and its draws? This cannot be undone.")) return;
    try {
      await request("DELETE", `/v1/jobs/${job.id}`);
      location.hash = "#/jobs";
    } catch (e) {
      msg.textContent = e.message;
    }
  });
  const dl = (label, query, file) => el("button", {
    type: "button", class: "download", dataset: { format: label },
    onclick: () => download(`/v1/jobs/${job.id}/draws?${query}`, file).catch((e) => (msg.textContent = e.message)),
  }, label);
  const specButton = el("button", {
    type: "button", class: "download", dataset: { format: "spec" },
    onclick: () => {
      const url = URL.createObjectURL(new Blob([JSON.stringify(spec, null, 2) + "\n"], { type: "application/json" }));
      const a = el("a", { href: url, download: `${job.id}.spec.json` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    },
  }, "spec JSON");
  const facts = [
    ["owner", job.owner], ["sampler", spec.sampler && spec.sampler.type],
    ["model", (spec.model && spec.model.type) || "logistic_regression"],
    ["chains", job.shape[0]], ["draws per chain", job.shape[1]], ["parameters", job.shape[2]],
    ["warmup", spec.num_warmup], ["spec thin", spec.thin], ["tags", (job.tags || []).join(", ") || "-"],
    ["created", job.created],
  ];
  clear(box).append(
    el("h1", {}, job.name || "Job " + job.id, " ", badge),
    el("p", { class: "muted" }, job.id), err,
    el("dl", { class: "facts" }, facts.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v === undefined || v === null ? "-" : String(v))])),
    el("div", { class: "actions" }, cancel, " ", del, " Download draws: ",
      dl(".npy", "format=npy", `${job.id}.npy`), " ", dl("CSV", "format=csv", `${job.id}.csv`), " ",
      dl("JSON", "format=json", `${job.id}.json`), " ", specButton, " ", msg));
  const setState = (state, error) => {
    badge.textContent = state;
    badge.className = "state state-" + state;
    if (error) err.textContent = error;
    cancel.hidden = !active(state);
    del.hidden = active(state);
  };
  setState(job.state, job.error);
  return { setState };
}

// Step size and tree depth traces, the energy plot and the per-chain
// table of the sampler's statistics.
function samplerSection(section, store, charts) {
  section.hidden = false;
  const traced = PLOTTED_STATS.filter((n) => n in store.stat);
  const plots = traced.map((n) => {
    const box = el("div", { class: "chart stat", dataset: { stat: n } });
    section.append(box);
    const t = tracePlot(box, n.replace(/__$/, "").replace("stepsize", "step size").replace("treedepth", "tree depth"), store.chains);
    charts.push(t);
    return t;
  });
  let energyPlot = null;
  if ("energy__" in store.stat) {
    const box = el("div", { class: "chart energy" });
    section.append(box);
    energyPlot = stepPlot(box, "energy: E - mean E and transitions E(n) - E(n-1) (E-BFMI in the table)",
      ["E - mean E", "delta E"], { colors: ["#1f77b4", "#d62728"] });
    charts.push(energyPlot);
  }
  const table = samplerTable(section);
  return {
    traces(x) {
      traced.forEach((n, i) => {
        const ys = store.stat[n].map((a) => a.slice(0, store.top));
        plots[i].update(x, ys, [], store.received, store.thin);
      });
    },
    energy(from) {
      if (!energyPlot) return;
      const h = energyHistograms(store.stat.energy__, from, store.top);
      if (h) energyPlot.update(h.edges, h.dens);
    },
    table: (s) => table.update(s),
  };
}
