// draw_store.test.mjs - web/draw_store.js, the decimation behind the job
// page's trace plots, fed the way the server's draws?follow=1 stream feeds
// it (each chain's rows in turn, a chunk at a time, at the store's thin,
// restarted from resumeAt() when the thin doubles). Every row's theta is
// [draw, chain], so what the store keeps can be checked exactly. Run by
// ctest as test_dashboard_stats: node --test.
import test from "node:test";
import assert from "node:assert/strict";
import { drawStore, thinFor, MAX_POINTS } from "../../web/draw_store.js";

// The server's follow stream over rows [0, avail[c]) of each chain, CHUNK
// rows of a chain at a time, restarted whenever the store's thin changes;
// returns how many rows it sent.
const CHUNK = 64;
function follow(store, avail, statRow = () => ({})) {
  let sent = 0;
  for (;;) {
    const start = store.resumeAt(), thin = store.thin;
    const next = avail.map(() => start);
    let restarted = false, any = true;
    while (any && !restarted) {
      any = false;
      for (let c = 0; c < avail.length && !restarted; c++) {
        for (let i = 0; i < CHUNK && next[c] < avail[c]; i++, next[c] += thin) {
          any = true;
          sent++;
          store.add(Object.assign({ chain: c, draw: next[c], theta: [next[c], c] }, statRow(c, next[c])));
          if (store.thin !== thin) {
            restarted = true;
            break;
          }
        }
      }
    }
    if (!restarted) return sent;
  }
}

// Every grid row below top of every chain holds the draw k * thin.
function assertGrid(store, avail) {
  for (let c = 0; c < store.chains; c++) {
    const want = Math.ceil(avail[c] / store.thin);
    assert.equal(store.received[c], want, `chain ${c}: ${store.received[c]} rows, want ${want}`);
    for (let k = 0; k < want; k++) {
      assert.equal(store.theta[0][c][k], k * store.thin);
      assert.equal(store.theta[1][c][k], c);
    }
    for (let k = want; k < store.K; k++) assert.equal(store.theta[0][c][k], null);
  }
}

test("thinFor: the smallest power of two that fits the rows into MAX_POINTS", () => {
  assert.equal(MAX_POINTS, 2000);
  assert.equal(thinFor(0), 1);
  assert.equal(thinFor(2000), 1);
  assert.equal(thinFor(2001), 2);
  assert.equal(thinFor(4000), 2);
  assert.equal(thinFor(4001), 4);
  assert.equal(thinFor(1e6), 512); // 1e6 / 512 = 1953.1 points; / 256 would be 3906
});

test("a short chain: every draw, thin 1, and the count grows with each block", () => {
  const s = drawStore({ chains: 2, d: 2, rows: 1500 });
  let last = 0;
  for (let avail = 100; avail <= 1500; avail += 100) {
    follow(s, [avail, avail]);
    assert.equal(s.thin, 1);
    assert.ok(s.points() > last);
    last = s.points();
    assertGrid(s, [avail, avail]);
  }
  assert.equal(s.points(), 3000);
  assert.equal(s.resumeAt(), 1500);
});

test("a 1e6-draw chain streamed in blocks of 500: at most 2000 points a chain, more than 1000 once past 2000", () => {
  const rows = 1e6, block = 500, chains = 2;
  const s = drawStore({ chains, d: 2, rows });
  let sent = 0, thin = 1, growths = 0, prev = 0;
  for (let avail = block; avail <= rows; avail += block) {
    sent += follow(s, [avail, avail]);
    assert.ok(s.thin >= thin, "thin never shrinks");
    if (s.thin === thin && s.points() > prev) growths++;
    thin = s.thin;
    prev = s.points();
    assert.equal(s.thin, thinFor(avail));
    for (const r of s.received) assert.ok(r <= MAX_POINTS && (s.thin === 1 || r > MAX_POINTS / 2));
    if (avail % 50000 === 0 || avail <= 5000) assertGrid(s, [avail, avail]);
  }
  assertGrid(s, [rows, rows]);
  assert.equal(s.thin, 512);
  assert.deepEqual(s.received, [1954, 1954]);
  assert.ok(growths > 1000, `${growths} of 2000 blocks added points at the same thin`);
  // each doubling costs at most half the grid again: far from 2e6 rows
  assert.ok(sent < chains * MAX_POINTS * 12, `${sent} rows sent`);
});

test("a page opened late starts at the thin that fits what is there", () => {
  const s = drawStore({ chains: 3, d: 2, rows: 1e6, available: 300000 });
  assert.equal(s.thin, thinFor(300000));
  const sent = follow(s, [300000, 299500, 300000]);
  assertGrid(s, [300000, 299500, 300000]);
  // no row twice, no restart
  assert.equal(sent, [300000, 299500, 300000].reduce((a, n) => a + Math.ceil(n / s.thin), 0));
});

test("chains that run apart: the stream resumes at the shortest, rows fill in", () => {
  const s = drawStore({ chains: 2, d: 2, rows: 100000 });
  follow(s, [9000, 1000]);
  assertGrid(s, [9000, 1000]);
  assert.equal(s.resumeAt(), 1000);
  follow(s, [9000, 9000]);
  assertGrid(s, [9000, 9000]);
  assert.equal(s.top, Math.ceil(9000 / s.thin));
  assert.deepEqual(s.x().slice(0, 3), [0, s.thin, 2 * s.thin]);
});

test("rethinning keeps the statistics and the divergent marks on the kept rows", () => {
  const s = drawStore({ chains: 1, d: 2, rows: 10000, warmupRows: 1001, statNames: ["divergent__", "treedepth__"] });
  // draws 3, 6, 9, ... diverge; tree depth is draw % 7
  follow(s, [4001], (c, draw) => ({ divergent__: draw % 3 === 0 ? 1 : 0, treedepth__: draw % 7 }));
  assert.equal(s.thin, 4);
  assertGrid(s, [4001]);
  for (let k = 0; k < s.top; k++) assert.equal(s.stat.treedepth__[0][k], (k * 4) % 7);
  const want = [];
  for (let k = 0; k < s.top; k++) if ((k * 4) % 3 === 0) want.push(k);
  assert.deepEqual([...s.divs[0]].sort((a, b) => a - b), want);
  assert.equal(s.warmupK(), Math.ceil(1001 / 4));
});

test("rows off the grid, of other chains, past the end or malformed are dropped", () => {
  const s = drawStore({ chains: 2, d: 1, rows: 10, maxPoints: 4 });
  assert.equal(s.add({ chain: 0, draw: 9, theta: [9] }), false); // 9 needs thin 4: off its grid
  assert.equal(s.thin, 4);
  assert.equal(s.add({ chain: 0, draw: 8, theta: [8] }), true);
  assert.equal(s.add({ chain: 2, draw: 0, theta: [0] }), false);
  assert.equal(s.add({ chain: 0, draw: 12, theta: [12] }), false);
  assert.equal(s.add({ chain: 0, draw: 4 }), false);
  assert.equal(s.add({ chain: 1, draw: 0.5, theta: [1] }), false);
  assert.equal(s.points(), 1);
  assert.equal(s.resumeAt(), 0);
});

test("a store of d values keeps the first d of each row's theta", () => {
  const s = drawStore({ chains: 1, d: 2, rows: 10 });
  assert.equal(s.add({ chain: 0, draw: 0, theta: [1, 2, 3, 4] }), true);
  assert.equal(s.theta.length, 2);
  assert.deepEqual([s.theta[0][0][0], s.theta[1][0][0]], [1, 2]);
});
