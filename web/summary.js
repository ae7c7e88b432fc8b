// summary.js - the summary table (GET /v1/jobs/{id}/summary: mean, sd,
// quantiles, MCSE, bulk and tail ESS, R-hat), with R-hat > 1.01 and an
// ESS under 100 per chain highlighted (Vehtari et al. 2021's thresholds),
// and the per-chain table of the sampler's statistics (E-BFMI under 0.3
// highlighted). Each number cell keeps the exact value in data-value.
import { el, clear, num, percent } from "./dom.js";

const COLUMNS = [
  ["mean", "mean"], ["sd", "sd"], ["q05", "5%"], ["q50", "50%"], ["q95", "95%"],
  ["mcse_mean", "MCSE"], ["ess_bulk", "ESS bulk"], ["ess_tail", "ESS tail"], ["rhat", "R-hat"],
];

function cell(v, warn, text) {
  return el("td", { class: "num" + (warn ? " warn" : ""), dataset: { value: v === null ? "null" : String(v) } },
    text === undefined ? num(v) : text);
}

// R-hat to 4 decimals, so that one just over 1.01 does not read as 1.01.
function rhatText(v) {
  return v === null || v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(4);
}

export function summaryTable(section, chains) {
  const info = el("p", { class: "note", id: "summary-info" });
  const body = el("tbody", {});
  const table = el("table", { class: "summary", id: "summary-table" },
    el("thead", {}, el("tr", {}, el("th", {}, "parameter"), COLUMNS.map(([, h]) => el("th", { class: "num" }, h)))), body);
  section.append(info, table,
    el("p", { class: "note" }, `Highlighted: R-hat > 1.01, ESS < ${100 * chains} (100 per chain).`));
  const lowEss = 100 * chains;
  return {
    update(s, final) {
      table.dataset.final = final ? "1" : "0";
      info.textContent = `${s.draws_per_chain} post-warmup draws per chain (state ${s.state})` +
        (s.nonfinite && s.nonfinite.length ? `; chains ${s.nonfinite.join(", ")} went non-finite` : "");
      table.dataset.state = s.state;
      table.dataset.draws = String(s.draws_per_chain);
      clear(body).append(...s.parameters.map((p) => el("tr", { dataset: { param: p.name } },
        el("th", {}, p.name),
        COLUMNS.map(([k]) => cell(p[k],
          (k === "rhat" && p[k] !== null && p[k] > 1.01) ||
          ((k === "ess_bulk" || k === "ess_tail") && p[k] !== null && p[k] < lowEss),
          k === "rhat" ? rhatText(p[k]) : undefined)))));
    },
    note(text) {
      info.textContent = text;
    },
  };
}

const SAMPLER_COLUMNS = [
  ["accept_rate", "accept rate", (v) => percent(v)], ["divergent", "divergent"],
  ["ebfmi", "E-BFMI"], ["mean_step_size", "mean step size"], ["mean_treedepth", "mean tree depth"],
  ["treedepth_max_share", "at max tree depth", (v) => percent(v)], ["mean_accept_stat", "mean accept stat"],
];

export function samplerTable(section) {
  const body = el("tbody", {});
  section.append(el("table", { class: "summary", id: "sampler-table" },
    el("thead", {}, el("tr", {}, el("th", {}, "chain"), SAMPLER_COLUMNS.map(([, h]) => el("th", { class: "num" }, h)))), body));
  return {
    update(s) {
      clear(body).append(...(s.chains || []).map((c) => el("tr", { dataset: { chain: c.chain } },
        el("th", {}, String(c.chain)),
        SAMPLER_COLUMNS.map(([k, , f]) => {
          const v = c[k];
          const warn = (k === "ebfmi" && v !== null && v < 0.3) || (k === "divergent" && v > 0);
          const td = cell(v, warn);
          if (f) td.textContent = f(v);
          return td;
        }))));
    },
  };
}
