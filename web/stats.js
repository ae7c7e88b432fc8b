// stats.js - the numbers behind the job page's plots, computed in the
// browser from the (thinned) draws it holds: histograms as densities per
// chain, and rank plots (Vehtari, Gelman, Simpson, Carpenter and Buerkner
// 2021, "Rank-normalization, folding, and localization": rank the pooled
// draws of all chains, then histogram each chain's ranks; chains that mix
// give flat, overlapping histograms).

// The finite values of each chain's rows [from, to).
function finite(chains, from, to) {
  return chains.map((a) => {
    const out = [];
    for (let k = from; k < Math.min(to, a.length); k++) {
      const v = a[k];
      if (v !== null && Number.isFinite(v)) out.push(v);
    }
    return out;
  });
}

// Densities over `bins` equal bins spanning the pooled range:
// {edges: bins + 1 left edges (the last repeated for a stepped plot),
//  dens: per chain, bins + 1 values}.
export function histograms(chains, from, to, bins = 30) {
  const vals = finite(chains, from, to);
  let lo = Infinity, hi = -Infinity;
  for (const v of vals) for (const x of v) (lo = Math.min(lo, x)), (hi = Math.max(hi, x));
  if (!(hi >= lo)) return null;
  if (hi === lo) (lo -= 0.5), (hi += 0.5);
  const w = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + i * w);
  const dens = vals.map((v) => {
    const c = new Array(bins + 1).fill(0);
    for (const x of v) c[Math.min(bins - 1, Math.floor((x - lo) / w))]++;
    const scale = v.length ? 1 / (v.length * w) : 0;
    for (let i = 0; i < bins; i++) c[i] *= scale;
    c[bins] = c[bins - 1];
    return c;
  });
  return { edges, dens };
}

// Rank histograms: the rows [from, to) that every chain has, ranked
// together (1 .. n*chains; tied values share their average rank, as
// MH-type samplers repeat a draw when they reject), each chain's ranks
// counted in `bins` bins. {edges, counts: per chain, expected: the count
// of a bin under perfect mixing, n: draws per chain}. One native sort of
// the pooled values and a binary search per draw: cheap enough to redo
// every second or two for 16 chains x 1000 rows x several parameters.
export function rankHistograms(chains, from, to, bins = 20) {
  let n = Infinity;
  for (const a of chains) {
    let k = from;
    while (k < Math.min(to, a.length) && a[k] !== null && Number.isFinite(a[k])) k++;
    n = Math.min(n, k - from);
  }
  if (!Number.isFinite(n) || n < 2) return null;
  const m = chains.length, total = n * m;
  const sorted = new Float64Array(total);
  for (let c = 0; c < m; c++) for (let i = 0; i < n; i++) sorted[c * n + i] = chains[c][from + i];
  sorted.sort();
  // the first index whose value is > v (strict) or >= v
  const bound = (v, strict) => {
    let lo = 0, hi = total;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (strict ? sorted[mid] <= v : sorted[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const counts = Array.from({ length: m }, () => new Array(bins + 1).fill(0));
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) {
      const v = chains[c][from + i];
      const r = (bound(v, false) + bound(v, true) - 1) / 2; // 0-based average rank
      counts[c][Math.min(bins - 1, Math.floor((r * bins) / total))]++;
    }
  }
  for (const c of counts) c[bins] = c[bins - 1];
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i * total) / bins + 1);
  return { edges, counts, expected: n / bins, n };
}

// E - mean(E) and the energy transitions E_n - E_{n-1}, pooled, as two
// densities on one grid (Betancourt 2016's energy plot; their variance
// ratio is the E-BFMI the summary reports per chain).
export function energyHistograms(chains, from, to, bins = 30) {
  const vals = finite(chains, from, to);
  const centred = [], diffs = [];
  for (const v of vals) {
    if (v.length < 2) continue;
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    for (let i = 0; i < v.length; i++) {
      centred.push(v[i] - mean);
      if (i) diffs.push(v[i] - v[i - 1]);
    }
  }
  if (!centred.length) return null;
  return histograms([centred, diffs], 0, Infinity, bins);
}
