// draw_store.js - the draws a job page holds for its plots. Each chain
// keeps at most maxPoints rows, on the grid draw = k * thin with thin a
// power of two. The page asks the server for rows at the store's thin; when
// a row lands past the grid's end, thin doubles and every other row is
// kept (rethin), so a chain shows each draw while it is short and between
// maxPoints / 2 and maxPoints of them however long it grows (a 1e6-draw
// chain stays at most 2000 points), and the point count grows from the
// first block on. Rows off the grid (a stream still at the old thin) are
// dropped; the caller restarts its stream at the new thin.

export const MAX_POINTS = 2000;

// The smallest power of two that fits `rows` rows into maxPoints.
export function thinFor(rows, maxPoints = MAX_POINTS) {
  let thin = 1;
  while (Math.ceil(rows / thin) > maxPoints) thin *= 2;
  return thin;
}

// chains: the job's chains; d: how many of each row's values are kept (the
// first d); rows: rows per chain it will have;
// warmupRows: how many of them are saved warmup; statNames: the per-draw
// statistics kept (divergent__ is always read for the marks); available:
// the most rows any chain has now (the first thin fits them).
export function drawStore({ chains, d, rows, warmupRows = 0, statNames = [], available = 0, maxPoints = MAX_POINTS }) {
  const K = maxPoints;
  const blank = () => Array.from({ length: chains }, () => new Array(K).fill(null));
  const s = {
    chains, d, rows, K,
    thin: thinFor(Math.min(rows, available), K),
    theta: Array.from({ length: d }, blank),
    stat: Object.fromEntries(statNames.map((n) => [n, blank()])),
    divs: Array.from({ length: chains }, () => []), // grid indices of divergent rows, per chain
    received: new Array(chains).fill(0), // grid rows held, per chain
    top: 0, // grid rows [0, top) hold something
  };

  // grid rows of the saved warmup
  s.warmupK = () => Math.ceil(warmupRows / s.thin);
  // the draw index of each grid row below top
  s.x = () => Array.from({ length: s.top }, (_, k) => k * s.thin);

  // Keeps every other grid row and doubles thin.
  s.rethin = () => {
    const half = (a) => {
      for (let j = 0; j < K / 2; j++) a[j] = a[2 * j];
      a.fill(null, Math.ceil(K / 2));
    };
    for (const p of s.theta) p.forEach(half);
    for (const n of statNames) s.stat[n].forEach(half);
    s.divs = s.divs.map((ks) => ks.filter((k) => k % 2 === 0).map((k) => k / 2));
    s.received = s.theta[0].map((a) => a.reduce((n, v) => n + (v === null ? 0 : 1), 0));
    s.top = Math.ceil(s.top / 2);
    s.thin *= 2;
  };

  // One NDJSON row of draws?follow=1: {chain, draw, theta, stats...}.
  // Returns whether it was kept.
  s.add = (row) => {
    const c = row.chain, draw = row.draw;
    if (!(c >= 0 && c < chains && Number.isInteger(draw) && draw >= 0 && draw < rows) ||
      !Array.isArray(row.theta)) return false;
    while (draw / s.thin >= K) s.rethin();
    if (draw % s.thin) return false;
    const k = draw / s.thin;
    if (s.theta[0][c][k] === null) s.received[c]++;
    for (let p = 0; p < d; p++) s.theta[p][c][k] = row.theta[p];
    for (const n of statNames) if (n in row) s.stat[n][c][k] = row[n];
    if (row.divergent__ === 1 && !s.divs[c].includes(k)) s.divs[c].push(k);
    s.top = Math.max(s.top, k + 1);
    return true;
  };

  // The first draw some chain still lacks (a stream resumes there): each
  // chain's run of grid rows from 0, the shortest of them, times thin.
  s.resumeAt = () => {
    let have = K;
    for (let c = 0; c < chains; c++) {
      const a = s.theta[0][c];
      let k = 0;
      while (k < have && a[k] !== null) k++;
      have = k;
    }
    return Math.min(rows, have * s.thin);
  };

  s.points = () => s.received.reduce((a, b) => a + b, 0);
  return s;
}
