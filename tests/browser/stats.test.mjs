// stats.test.mjs - web/stats.js, the numbers behind the dashboard's
// histograms, rank plots and energy plot, on cases whose answers are known
// by hand. Run by ctest as test_dashboard_stats: node --test this file.
import test from "node:test";
import assert from "node:assert/strict";
import { energyHistograms, histograms, rankHistograms } from "../../web/stats.js";

const sum = (a) => a.reduce((x, y) => x + y, 0);

test("histograms: each chain's density integrates to 1 over the pooled range", () => {
  const a = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], b = [5, 5, 5, 6, 6, 7, null, NaN];
  const h = histograms([a, b], 0, Infinity, 10);
  assert.equal(h.edges.length, 11);
  assert.equal(h.edges[0], 0);
  assert.ok(Math.abs(h.edges[10] - 9) < 1e-12);
  const w = h.edges[1] - h.edges[0];
  for (const d of h.dens) assert.ok(Math.abs(sum(d.slice(0, 10)) * w - 1) < 1e-12);
  // b's six finite values: three 5s in one bin of width 0.9
  assert.ok(Math.abs(Math.max(...h.dens[1]) - 3 / (6 * w)) < 1e-12);
  // the repeated last value that a stepped plot needs
  for (const d of h.dens) assert.equal(d[10], d[9]);
});

test("histograms: rows [from, to) only; a constant sample gets a unit-wide bin range", () => {
  const h = histograms([[100, 2, 2, 2, 100]], 1, 4, 4);
  assert.equal(h.edges[0], 1.5);
  assert.equal(h.edges[4], 2.5);
  assert.equal(histograms([[null, null]], 0, 2), null);
});

test("rank histograms: interleaved chains are uniform, separated chains are not", () => {
  // chain 0 holds the even values, chain 1 the odd: ranks alternate
  const n = 100, even = [], odd = [];
  for (let i = 0; i < n; i++) even.push(2 * i), odd.push(2 * i + 1);
  const r = rankHistograms([even, odd], 0, Infinity, 10);
  assert.equal(r.n, n);
  assert.equal(r.expected, n / 10);
  for (const c of r.counts) {
    assert.equal(sum(c.slice(0, 10)), n);
    for (const v of c.slice(0, 10)) assert.equal(v, 10);
  }
  // chain 0 below chain 1: its ranks fill the lower half of the bins
  const low = [], high = [];
  for (let i = 0; i < n; i++) low.push(i), high.push(1000 + i);
  const s = rankHistograms([low, high], 0, Infinity, 10);
  assert.deepEqual(s.counts[0].slice(0, 10), [20, 20, 20, 20, 20, 0, 0, 0, 0, 0]);
  assert.deepEqual(s.counts[1].slice(0, 10), [0, 0, 0, 0, 0, 20, 20, 20, 20, 20]);
});

test("rank histograms: only the rows every chain has so far", () => {
  const r = rankHistograms([[1, 2, 3, 4, 5, 6], [6, 5, 4, null, null, null]], 0, Infinity, 2);
  assert.equal(r.n, 3);
  assert.equal(sum(r.counts[0].slice(0, 2)) + sum(r.counts[1].slice(0, 2)), 6);
  assert.equal(rankHistograms([[1], [2]], 0, Infinity), null);
});

test("energy: E - mean E and the transitions, pooled over chains", () => {
  // E alternates 0, 2: centred values are -1, +1 and transitions are +-2
  const e = [0, 2, 0, 2, 0, 2];
  const h = energyHistograms([e, e], 0, Infinity, 4);
  assert.equal(h.edges[0], -2);
  assert.equal(h.edges[4], 2);
  const w = h.edges[1] - h.edges[0];
  assert.ok(Math.abs(sum(h.dens[0].slice(0, 4)) * w - 1) < 1e-12);
  assert.ok(Math.abs(sum(h.dens[1].slice(0, 4)) * w - 1) < 1e-12);
  assert.equal(h.dens[0][0], 0); // no centred value below -1
  assert.ok(h.dens[1][0] > 0 && h.dens[1][3] > 0); // transitions at -2 and +2
});

test("rank histograms: tied draws share their average rank, favouring no chain", () => {
  // a sampler that rejects repeats a draw: here every draw is the same, and
  // ranking ties in order would put chain 0 low and chain 1 high
  const r = rankHistograms([[1, 1, 1, 1], [1, 1, 1, 1]], 0, Infinity, 2);
  assert.deepEqual(r.counts[0], r.counts[1]);
  // ties across chains at the middle, distinct values around them
  const s = rankHistograms([[0, 5, 9], [1, 5, 8]], 0, Infinity, 3);
  assert.deepEqual(s.counts[0].slice(0, 3), [1, 1, 1]);
  assert.deepEqual(s.counts[1].slice(0, 3), [1, 1, 1]);
});
