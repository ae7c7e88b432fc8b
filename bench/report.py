#!/usr/bin/python3
"""report.py - joins the benchmark JSON files into tables and checks the
speed targets of issue 5.

  report.py [--ours post_tables-*.json] [--ours-threads post_tables-*-t2.json]
            [--numpy numpy_loop-*.json] [--jax post_jax-*.json] [--markdown OUT.md]

--ours is a bench_post_tables run with one chain on one core (row_threads 1);
--ours-threads a run where the chain splits its rows over threads
(bench_post_tables --threads 2, usually --dtype f32). With neither given it
takes, under bench/results/, the newest post_tables-*.json whose
settings.row_threads is 1 (a file without row_threads counts as 1) and the
newest whose row_threads is above 1, and the newest numpy_loop-*.json when
--numpy is not given. Given one of them, nothing else is picked for you.

Targets checked:
  T1  ULA and MALA, one chain on ONE core (the --ours run), within 1.5x of the
      measured memory bound where X does not fit in L2 (N >= 1e5 at d = 5,
      and d >= 500), per dtype: r_mem = s_per_iter / stream_s_per_iter;
  T2  >= 10x faster than the post's full JAX (2nd run) on every one of the 24
      configurations in float32, the chain free to use both cores: our time is
      the best of the one-core and the threaded run, for 20 000 iterations
      (and, given --jax, also against JAX measured on this machine);
  T3  >= 100x faster than the NumPy Python loop at N = 1e3, d = 5, with our
      best time (float64 or float32, either run).
A second table checks issue 15's targets (see issue15_table).
"""

import argparse
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ITERS_POST = 20000  # the post's iterations: every "s" below is for 20 000


def load(path):
    with open(path) as f:
        return json.load(f)


def row_threads(doc):
    """settings.row_threads; older files have none (one chain, one thread)."""
    st = doc.get("settings") or {}
    rt = st.get("row_threads", st.get("threads_used_per_chain", 1))
    try:
        return int(rt or 1)
    except (TypeError, ValueError):
        return 1


def newest_post_tables():
    """(newest one-core file, newest threaded file) under bench/results/."""
    files = sorted(glob.glob(os.path.join(HERE, "results", "post_tables-*.json")), key=os.path.getmtime)
    one = thr = None
    for path in reversed(files):
        try:
            rt = row_threads(load(path))
        except (OSError, ValueError):
            continue
        if rt <= 1 and one is None:
            one = path
        elif rt > 1 and thr is None:
            thr = path
        if one and thr:
            break
    return one, thr


def newest(pattern):
    files = sorted(glob.glob(os.path.join(HERE, "results", pattern)), key=os.path.getmtime)
    return files[-1] if files else None


def key(r):
    return (r["sampler"], r["table"], r["n"], r["d"])


def num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == x


def ok(r):
    """A row with a usable time (a failed row has a status other than ok)."""
    return r is not None and r.get("status", "ok") == "ok" and num(r.get("s_per_iter")) and r["s_per_iter"] > 0


def t20k(r):
    return r["s_per_iter"] * ITERS_POST


def ratio_to(r, bound, stored):
    """Our time / r[bound] (seconds an iteration), else the ratio the bench
    stored under `stored` (older files); None if the row has neither."""
    if not ok(r):
        return None
    if num(r.get(bound)) and r[bound] > 0:
        return r["s_per_iter"] / r[bound]
    v = r.get(stored)
    return v if num(v) else None


def r_mem(r):
    """Our time / the memory bound (stream_s_per_iter) of this row."""
    return ratio_to(r, "stream_s_per_iter", "ratio_to_memory_bound")


def r_bound(r):
    """Our time / the larger of the memory and arithmetic bounds."""
    return ratio_to(r, "bound_s_per_iter", "ratio_to_bound")


def f3(x):
    return "%.3g" % x if num(x) else "-"


def f2(x):
    return "%.2f" % x if num(x) else "-"


def sci(n):
    """1000 -> 1e3, 100000 -> 1e5 (the post's notation); else the number."""
    s = "%g" % n
    if "e+" in s:
        m, e = s.split("e+")
        return f"{m}e{int(e)}"
    return f"1e{len(s) - 1}" if s.startswith("1") and set(s[1:]) == {"0"} else s


def where(k):
    return f"{k[0]} {k[1]} N={sci(k[2])} d={k[3]}"


def ns(m, f):
    v = m.get(f)
    return "%.2f" % (v * 1e9) if num(v) else "-"


def miss_list(bad, fmt):
    return "; ".join(fmt(x) for x in bad) if bad else "-"


# --- issue 15's targets --------------------------------------------------------
# Issue 15 restates the targets against the measured bounds of each row:
#   1. ULA/MALA, one core, X beyond L2: within 1.5x of the memory bound (T1);
#   2. ULA/MALA at d = 5, one core: within 1.5x of the arithmetic bound;
#   3. SGLD, one core: within 2x of the gather + arithmetic bound;
#   4. float32, both cores: >= 10x the post's full JAX where the bound allows
#      it (bound * 20 000 <= JAX / 10), else within 1.3x of the bound;
#   5. >= 100x bench/numpy_loop.py's loop at N = 1e3, d = 5 (T3).


def r_arith(r):
    """Our time / the arithmetic bound (arith_s_per_iter); None if unknown."""
    v = ratio_to(r, "arith_s_per_iter", "ratio_to_arith_bound")
    if v is None and ok(r) and r.get("bound_kind") == "arith":
        return r_bound(r)
    return v


def r_gather(r):
    """Our time / bound_s_per_iter where that bound is SGLD's gather + arithmetic."""
    return r_bound(r) if ok(r) and r.get("bound_kind") == "gather" else None


def within(keys, ratio, limit):
    """(checked [(k, ratio)], over the limit sorted worst first, keys without a ratio)."""
    vals = [(k, ratio(k)) for k in keys]
    got = [(k, v) for k, v in vals if v is not None]
    bad = sorted([kv for kv in got if kv[1] > limit], key=lambda kv: -kv[1])
    return got, bad, [k for k, v in vals if v is None]


def within_line(p, name, keys, ratio, limit, extra=""):
    """A table line: every row of keys within limit x of its bound."""
    got, bad, unk = within(keys, ratio, limit)
    if not got:
        p(f"| {name} | not checkable: none of its {len(keys)} rows has this bound | - |")
        return
    worst = max(got, key=lambda kv: kv[1])
    res = "not met" if bad else "met" if not unk else "met where checkable"
    nc = f", {len(unk)} not checkable ({', '.join(where(k) for k in unk)})" if unk else ""
    p(f"| {name} | {res}: {len(got) - len(bad)}/{len(keys)} rows{nc}; worst {worst[1]:.2f}x "
      f"({where(worst[0])}){extra} | {miss_list(bad, lambda kv: f'{where(kv[0])}: {kv[1]:.2f}x of bound')} |")


def post_check(r):
    """Point 4 for one float32 row: (passes, speedup, bound allows 10x, ratio to bound)."""
    jax, b = r.get("post_full_jax_2nd_s"), r.get("bound_s_per_iter")
    if not num(jax) or not num(b) or b <= 0:
        return None
    sp, allows, rb = jax / t20k(r), b * ITERS_POST <= jax / 10, r["s_per_iter"] / b
    return (sp >= 10 if allows else rb <= 1.3), sp, allows, rb


def issue15_post(p, order, cands):
    """Point 4: cands(k) lists (float32 row, tag) of each run; judged on the fastest."""
    res = []
    for k in order:
        c = [(r, tag) for r, tag in cands(k) if ok(r)]
        r, tag = min(c, key=lambda rt: rt[0]["s_per_iter"]) if c else (None, None)
        pc = post_check(r) if r else None
        if pc:
            res.append((k, tag) + pc)
    name = "4: float32, both cores: >= 10x the post's full JAX where the bound allows it, else within 1.3x of it"
    if not res:
        p(f"| {name} | not checked: no float32 rows with a bound | - |")
        return
    bad = sorted([x for x in res if not x[2]], key=lambda x: x[3])
    nal = sum(1 for x in res if x[4])
    miss = len(order) - len(res)
    extra = f", {miss} without a float32 time or bound" if miss else ""
    fmt = lambda x: (f"{where(x[0])}: speedup {x[3]:.1f}x ({x[1]}), bound allows 10x: "  # noqa: E731
                     f"{'yes' if x[4] else 'no'}, {x[5]:.2f}x of bound")
    p(f"| {name} | {'met' if not bad and not miss else 'not met'}: {len(res) - len(bad)}/{len(order)} rows"
      f"{extra} (the bound allows 10x on {nal}) | {miss_list(bad, fmt)} |")


def issue15_table(p, ctx):
    """Issue 15's targets. ctx: order, one, threaded, one_core, big, tags (one-core, threaded), t3."""
    order, one, thr, tags = ctx["order"], ctx["one"], ctx["threaded"], ctx["tags"]
    p("")
    p("Issue 15's targets (1-3 on the one-core run; 4 on the best of both runs, as T2):")
    p("")
    p("| target | result | rows that miss |")
    p("|---|---|---|")
    d5 = [k for k in order if k[0] in ("ula", "mala") and k[3] == 5]
    sgld = [k for k in order if k[0] == "sgld"]
    pts = (("1 {}: ULA/MALA, one core, X beyond L2: within 1.5x of the memory bound", ctx["big"], r_mem, 1.5),
           ("2 {}: ULA/MALA at d = 5, one core: within 1.5x of the arithmetic bound", d5, r_arith, 1.5),
           ("3 {}: SGLD, one core: within 2x of the gather + arithmetic bound", sgld, r_gather, 2.0))
    for fmt, keys, ratio, limit in pts:
        for dt in ("float64", "float32"):
            name = fmt.format(dt)
            if not ctx["one_core"]:
                p(f"| {name} | not checked: no one-core run | - |")
                continue
            extra = issue15_thr_note(sgld, thr, tags[1]) if ratio is r_gather and dt == "float32" else ""
            within_line(p, name, keys, lambda k: ratio(one(k, dt)), limit, extra)
    issue15_post(p, order, lambda k: ((one(k, "float32"), tags[0]), (thr(k, "float32"), tags[1])))
    issue15_numpy(p, ctx["t3"])


def issue15_thr_note(keys, thr, tag):
    """Point 3, for information: the threaded float32 run's ratios to its gather bound."""
    got, bad, _ = within(keys, lambda k: r_gather(thr(k, "float32")), 2.0)
    if not got:
        return ""
    worst = max(got, key=lambda kv: kv[1])
    return (f"; threaded float32 ({tag}, not judged): {len(got) - len(bad)}/{len(got)} within 2x, "
            f"worst {worst[1]:.2f}x ({where(worst[0])})")


def issue15_numpy(p, t3):
    """Point 5 (T3): >= 100x bench/numpy_loop.py's loop at N = 1e3, d = 5."""
    name = "5: >= 100x bench/numpy_loop.py's loop at N = 1e3, d = 5 (as T3)"
    if not t3:
        p(f"| {name} | not checked: no matching NumPy rows | - |")
        return
    bad = [x for x in t3 if x[1] < 100]
    got = ", ".join(f"{x[0][0]} {x[1]:.0f}x" for x in t3)
    p(f"| {name} | {'met' if not bad else 'not met'}: {len(t3) - len(bad)}/{len(t3)} samplers ({got}) | "
      f"{miss_list(bad, lambda x: f'{x[0][0]}: speedup {x[1]:.0f}x ({x[2]})')} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", help="bench_post_tables JSON, one chain on one core (row_threads 1)")
    ap.add_argument("--ours-threads", help="bench_post_tables JSON with row_threads > 1 (--threads 2)")
    ap.add_argument("--numpy", help="numpy_loop.py JSON")
    ap.add_argument("--jax", help="jax/post_jax.py JSON (JAX measured on this machine)")
    ap.add_argument("--markdown", help="also write the report here")
    a = ap.parse_args()

    explicit = a.ours or a.ours_threads
    if explicit:
        ours_path, thr_path = a.ours, a.ours_threads
    else:
        ours_path, thr_path = newest_post_tables()
    if not ours_path and not thr_path:
        sys.exit("report.py: no post_tables JSON; run bench_post_tables (or bench/run_all.sh) first")
    numpy_path = a.numpy or (newest("numpy_loop-*.json") if not explicit else None)
    ours = load(ours_path) if ours_path else None
    thr = load(thr_path) if thr_path else None
    npy = load(numpy_path) if numpy_path else None
    jx = load(a.jax) if a.jax else None

    out = []
    p = out.append
    notes = []
    if ours and row_threads(ours) > 1:
        notes.append(f"the --ours run `{os.path.basename(ours_path)}` has row_threads {row_threads(ours)}, "
                     "not one core: T1 is not checked on it")
    if thr and row_threads(thr) <= 1:
        notes.append(f"the --ours-threads run `{os.path.basename(thr_path)}` has row_threads 1")
    one_core = ours is not None and row_threads(ours) <= 1
    nthr = row_threads(thr) if thr else None
    otag = "1c" if one_core else f"{row_threads(ours)}t" if ours else None  # where a best time came from

    # --- machine and runs ------------------------------------------------------
    m = (ours or thr)["machine"]
    p(f"Machine: {m.get('cpu_model', '?')}, {m.get('cores', '?')} cores, SIMD path {m.get('simd_path', '?')}, "
      f"host {m.get('host', '?')}; peak FMA {m.get('peak_flops_f64', 0) / 1e9:.0f} Gflop/s f64, "
      f"{m.get('peak_flops_f32', 0) / 1e9:.0f} f32; link per element (exp / sigmoid / softplus): "
      f"f64 {ns(m, 'exp_s_per_elem')} / {ns(m, 'sigmoid_s_per_elem')} / {ns(m, 'softplus_s_per_elem')} ns, "
      f"f32 {ns(m, 'exp_f32_s_per_elem')} / {ns(m, 'sigmoid_f32_s_per_elem')} / "
      f"{ns(m, 'softplus_f32_s_per_elem')} ns.")
    for doc, path, what in ((ours, ours_path, "one core"), (thr, thr_path, "threaded")):
        if not doc:
            continue
        st, dm = doc["settings"], doc["machine"]
        la = lambda f: "%.2f" % dm[f][0] if dm.get(f) else "?"  # noqa: E731
        p(f"- {what}: `{os.path.basename(path)}`: row_threads {row_threads(doc)}, {st.get('iterations')} "
          f"iterations, median of {st.get('runs')} runs ({st.get('runs_large')} at N = 1e6), cpus "
          f"{st.get('cpus') or 'any'}; load average {la('loadavg_before')} before, {la('loadavg_after')} after"
          f"{'; label: ' + doc['label'] if doc.get('label') else ''}.")
    if not thr:
        p("- threaded: no run given (run `bench_post_tables --dtype f32 --threads 2`); "
          "the threaded columns are empty and T2 uses the one-core times.")
    for n in notes:
        p(f"- note: {n}.")
    p("")

    # --- rows --------------------------------------------------------------------
    by, tby, order = {}, {}, []
    for doc, dst in ((ours, by), (thr, tby)):
        for r in (doc or {}).get("rows", []):
            dst.setdefault(key(r), {})[r["dtype"]] = r
            if key(r) not in order:
                order.append(key(r))
    jby = {key(r): r for r in jx["rows"]} if jx else {}

    def one(k, dt):
        return by.get(k, {}).get(dt)

    def threaded(k, dt):
        return tby.get(k, {}).get(dt)

    def best(k, dts):
        """(seconds for 20 000 iterations, where) of the fastest usable row."""
        c = []
        for dt in dts:
            for r, tag in ((one(k, dt), otag), (threaded(k, dt), f"{nthr}t")):
                if ok(r):
                    c.append((t20k(r), tag if len(dts) == 1 else f"{dt.replace('float', 'f')} {tag}"))
        return min(c) if c else (None, None)

    tcol = f"{nthr} threads" if thr else "threads"
    hdr = (f"| sampler | table | N | d | f64 us/it (1 core) | f32 us/it (1 core) | f64 ÷ mem bound (1 core) "
           f"| f32 ÷ mem bound (1 core) | f32 us/it ({tcol}) | threads/pass | f32 ÷ bound ({tcol}) "
           f"| post full JAX s | ours f32 s (best) | speedup |")
    if jx:
        hdr += " JAX here s | speedup vs JAX here |"
    p(f"Per configuration (us/it: median time per iteration; s: for {ITERS_POST} iterations; bound kind "
      "a = arithmetic, m = memory; ours f32 s is the best of the one-core and the threaded run):")
    p("")
    p(hdr)
    p("|" + "---|" * (hdr.count("|") - 1))
    sp_rows, spj_rows = [], []
    for k in order:
        o64, o32, t32 = one(k, "float64"), one(k, "float32"), threaded(k, "float32")
        anyr = next(iter({**tby.get(k, {}), **by.get(k, {})}.values()))
        post = anyr.get("post_full_jax_2nd_s")
        us = lambda r: f3(r["s_per_iter"] * 1e6) if ok(r) else "-"  # noqa: E731
        if ok(t32):
            kind = {"memory": "m", "arith": "a"}.get(t32.get("bound_kind"), t32.get("bound_kind") or "?")
            tb = f"{f2(r_bound(t32))} {kind}"
            tpp = str(t32.get("threads_per_pass", nthr))
        else:
            tb, tpp = "-", "-"
        b, tag = best(k, ("float32",))
        sp = post / b if b and num(post) else None
        if sp is not None:
            sp_rows.append((k, sp, tag))
        line = (f"| {k[0]} | {k[1]} | {sci(k[2])} | {k[3]} | {us(o64)} | {us(o32)} | {f2(r_mem(o64))} | "
                f"{f2(r_mem(o32))} | {us(t32)} | {tpp} | {tb} | {f3(post) if num(post) else '-'} | "
                f"{f3(b) + ' (' + tag + ')' if b else '-'} | {'%.1fx' % sp if sp is not None else '-'} |")
        if jx:
            j = jby.get(k)
            if j and j.get("full2_s") and b:
                jt = j["full2_s"] / j["iterations"] * ITERS_POST
                spj_rows.append((k, jt / b))
                line += f" {jt:.3g} | {jt / b:.1f}x |"
            else:
                line += " - | - |"
        p(line)
    p("")

    # --- NumPy -----------------------------------------------------------------
    t3 = []
    if npy:
        p(f"NumPy {npy.get('numpy', '?')} (`{os.path.basename(numpy_path)}`), env {npy.get('env')}:")
        p("")
        p("| sampler | N | d | NumPy loop s | NumPy kernel s | ours f64 s | ours f32 s | ours best s "
          "| speedup f64 vs loop | speedup f32 vs loop | speedup best vs loop | speedup f64 vs kernel "
          "| post's Python loop s | speedup f64 vs post's loop |")
        p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        rows = {}
        for r in npy.get("rows", []):
            rows.setdefault(key(r), {})[r["version"]] = r
        for k in order:
            if k not in rows or k[1] != "data":
                continue
            loop, kern = rows[k].get("loop"), rows[k].get("kernel")
            o64, o32 = one(k, "float64"), one(k, "float32")
            a64 = t20k(o64) if ok(o64) else None
            a32 = t20k(o32) if ok(o32) else None
            b, tag = best(k, ("float64", "float32"))
            lt = loop["time_20k_s"] if loop else None
            kt = kern["time_20k_s"] if kern else None
            div = lambda x, y: x / y if x and y else None  # noqa: E731
            post_py = (loop or kern).get("post_python_s")
            p(f"| {k[0]} | {sci(k[2])} | {k[3]} | {f3(lt)} | {f3(kt)} | {f3(a64)} | {f3(a32)} | "
              f"{f3(b) + ' (' + tag + ')' if b else '-'} | {f3(div(lt, a64))} | {f3(div(lt, a32))} | "
              f"{f3(div(lt, b))} | {f3(div(kt, a64))} | {f3(post_py)} | {f3(div(post_py, a64))} |")
            if k[2] == 1000 and k[3] == 5 and lt and b:
                t3.append((k, lt / b, tag))
        p("")

    # --- targets -----------------------------------------------------------------
    p("Targets:")
    p("")
    p("| target | result | rows that miss |")
    p("|---|---|---|")

    big = [k for k in order if k[0] in ("ula", "mala") and ((k[3] == 5 and k[2] >= 100000) or k[3] >= 500)]
    for dt in ("float64", "float32"):
        name = f"T1 {dt}: ULA/MALA on one core within 1.5x of the memory bound, X beyond L2"
        if not one_core:
            p(f"| {name} | not checked: no one-core run | - |")
            continue
        vals = [(k, r_mem(one(k, dt))) for k in big]
        vals = [(k, v) for k, v in vals if v is not None]
        if not vals:
            p(f"| {name} | not checked: no {dt} rows | - |")
            continue
        bad = sorted([(k, v) for k, v in vals if v > 1.5], key=lambda kv: -kv[1])
        worst = max(vals, key=lambda kv: kv[1])
        res = "met" if not bad else "not met"
        p(f"| {name} | {res}: {len(vals) - len(bad)}/{len(vals)} rows; worst {worst[1]:.2f}x "
          f"({where(worst[0])}) | {miss_list(bad, lambda kv: f'{where(kv[0])}: {kv[1]:.2f}x of bound')} |")

    name = "T2: >= 10x the post's full JAX on every configuration, float32, free to use both cores"
    if sp_rows:
        bad = sorted([x for x in sp_rows if x[1] < 10], key=lambda x: x[1])
        worst = min(sp_rows, key=lambda x: x[1])
        missing = len(order) - len(sp_rows)
        res = "met" if not bad and not missing else "not met"
        extra = f", {missing} without a float32 time" if missing else ""
        p(f"| {name} | {res}: {len(sp_rows) - len(bad)}/{len(order)} rows{extra}; lowest {worst[1]:.1f}x "
          f"({where(worst[0])}) | {miss_list(bad, lambda x: f'{where(x[0])}: speedup {x[1]:.1f}x ({x[2]})')} |")
    else:
        p(f"| {name} | not checked: no float32 rows | - |")
    if jx:
        name = "T2': >= 10x JAX full (2nd run) measured on this machine, float32"
        if spj_rows:
            bad = sorted([x for x in spj_rows if x[1] < 10], key=lambda x: x[1])
            worst = min(spj_rows, key=lambda x: x[1])
            p(f"| {name} | {'met' if not bad else 'not met'}: {len(spj_rows) - len(bad)}/{len(spj_rows)} rows; "
              f"lowest {worst[1]:.1f}x ({where(worst[0])}) | "
              f"{miss_list(bad, lambda x: f'{where(x[0])}: speedup {x[1]:.1f}x')} |")
        else:
            p(f"| {name} | not checked: no matching JAX rows | - |")

    name = "T3: >= 100x the NumPy Python loop at N = 1e3, d = 5 (our best of f64/f32, either run)"
    if t3:
        bad = [x for x in t3 if x[1] < 100]
        res = "met" if not bad else "not met"
        got = ", ".join(f"{x[0][0]} {x[1]:.0f}x" for x in t3)
        p(f"| {name} | {res}: {len(t3) - len(bad)}/{len(t3)} samplers ({got}) | "
          f"{miss_list(bad, lambda x: f'{x[0][0]}: speedup {x[1]:.0f}x ({x[2]})')} |")
    else:
        p(f"| {name} | not checked: {'no numpy_loop JSON' if not npy else 'no matching rows'} | - |")

    issue15_table(p, {"order": order, "one": one, "threaded": threaded, "one_core": one_core, "big": big,
                      "tags": (otag, f"{nthr}t"), "t3": t3})

    text = "\n".join(out)
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
