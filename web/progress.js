// progress.js - one progress bar per chain, fed by the job's progress
// events: phase, iterations per second, ETA, accept rate and divergences.
// Each row's data-iter and data-phase say what it shows (the browser test
// reads them).
import { el, num, percent, seconds } from "./dom.js";
import { chainColor } from "./plots.js";

export function progressBars(section, job) {
  const rows = new Map();
  const table = el("table", { class: "progress" },
    el("thead", {}, el("tr", {}, ["chain", "progress", "phase"].map((h) => el("th", {}, h)),
      ["it/s", "ETA", "accept", "divergent", "step size"].map((h) => el("th", { class: "num" }, h)))));
  const body = el("tbody", {});
  table.append(body);
  section.append(table);
  const update = (p) => {
    let r = rows.get(p.chain);
    if (!r) {
      r = {
        tr: el("tr", { class: "chain", dataset: { chain: p.chain } }),
        bar: el("progress", { max: 1, value: 0 }),
        // the first is the count beside the bar, in the bar's cell
        cells: Array.from({ length: 7 }, (_, i) => el(i ? "td" : "span", { class: i === 1 ? "phase" : "num" })),
      };
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = chainColor(p.chain); // CSSOM: allowed by the CSP
      r.tr.append(el("td", {}, swatch, " " + p.chain),
        el("td", { class: "bar" }, r.bar, r.cells[0]), ...r.cells.slice(1));
      rows.set(p.chain, r);
      const after = [...rows.keys()].filter((c) => c > p.chain).sort((a, b) => a - b)[0];
      body.insertBefore(r.tr, after === undefined ? null : rows.get(after).tr);
    }
    const share = p.total ? p.iter / p.total : 0;
    r.bar.value = share;
    r.tr.dataset.iter = String(p.iter);
    r.tr.dataset.total = String(p.total);
    r.tr.dataset.phase = p.phase;
    r.cells[0].textContent = ` ${p.iter} / ${p.total}`;
    // a chain not started yet (waiting for a worker) has no phase to show
    r.cells[1].textContent = p.iter === 0 ? "waiting" : p.phase;
    r.cells[2].textContent = num(p.it_per_s, 3);
    r.cells[3].textContent = seconds(p.eta_s);
    r.cells[4].textContent = percent(p.accept_rate);
    r.cells[5].textContent = String(p.divergent ?? 0);
    r.cells[5].classList.toggle("warn", (p.divergent || 0) > 0);
    r.cells[6].textContent = p.iter === 0 ? "-" : num(p.step_size, 3);
  };
  for (const c of job.chains || [])
    update(Object.assign({}, c, { phase: c.warmup ? "warmup" : "sampling" }));
  return { update };
}
