#!/usr/bin/python3
"""report.py - joins the benchmark JSON files into tables and checks the
speed targets of issue 5.

  report.py --ours post_tables-*.json [--numpy numpy_loop-*.json]
            [--jax post_jax-*.json] [--markdown OUT.md]

With no --ours it takes the newest post_tables-*.json under bench/results/
(and the newest numpy_loop-*.json when --numpy is not given but one exists).

Targets checked:
  T1  ULA and MALA, one chain on one core, within 1.5x of the measured memory
      bound where X does not fit in L2 (N >= 1e5 at d = 5, and d >= 500);
  T2  >= 10x faster than the post's full JAX (2nd run) on every configuration
      in float32 (and, given --jax, than JAX measured on this machine);
  T3  >= 100x faster than the NumPy Python loop at N = 1e3, d = 5.
"""

import argparse
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def newest(pattern):
    files = sorted(glob.glob(os.path.join(HERE, "results", pattern)), key=os.path.getmtime)
    return files[-1] if files else None


def key(r):
    return (r["sampler"], r["table"], r["n"], r["d"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours")
    ap.add_argument("--numpy")
    ap.add_argument("--jax")
    ap.add_argument("--markdown", help="also write the report here")
    a = ap.parse_args()
    ours_path = a.ours or newest("post_tables-*.json")
    if not ours_path:
        sys.exit("report.py: no post_tables JSON; run bench_post_tables first")
    numpy_path = a.numpy or (newest("numpy_loop-*.json") if not a.ours else None)
    ours = json.load(open(ours_path))
    npy = json.load(open(numpy_path)) if numpy_path else None
    jx = json.load(open(a.jax)) if a.jax else None

    out = []
    p = out.append
    m = ours["machine"]
    st = ours["settings"]
    p(f"Machine: {m['cpu_model']}, {m['cores']} cores, SIMD path {m['simd_path']}, host {m['host']}; "
      f"load average {m['loadavg_before'][0]:.2f} before, {m['loadavg_after'][0]:.2f} after.")
    p(f"Ours: {st['iterations']} iterations, median of {st['runs']} runs ({st['runs_large']} at N = 1e6), "
      f"one chain on one thread, from `{os.path.basename(ours_path)}`.")
    p(f"Peak FMA {m['peak_flops_f64'] / 1e9:.0f} Gflop/s f64, {m['peak_flops_f32'] / 1e9:.0f} f32; "
      f"sigmoid {m['sigmoid_s_per_elem'] * 1e9:.2f} ns, softplus {m['softplus_s_per_elem'] * 1e9:.2f} ns per element.")
    p("")
    by = {}
    for r in ours["rows"]:
        by.setdefault(key(r), {})[r["dtype"]] = r
    jby = {key(r): r for r in jx["rows"]} if jx else {}

    hdr = ("| sampler | table | N | d | f64 s | f32 s | f64 us/it | f32 us/it | f64 X GB/s | f32 X GB/s "
           "| f64 mem bound us | f32 mem bound us | f64 / bound | f32 / bound | f64 / mem | f32 / mem "
           "| post full JAX s | speedup f32 |")
    if jx:
        hdr += " JAX here s | speedup vs JAX here |"
    p(hdr)
    p("|" + "---|" * (hdr.count("|") - 1))
    order = []
    for r in ours["rows"]:
        if key(r) not in order:
            order.append(key(r))

    def g(d, dt, f, scale=1.0, fmt="{:.3g}"):
        r = d.get(dt)
        return fmt.format(r[f] * scale) if r and r.get(f) is not None else "-"

    def t20k(r):
        return r["s_per_iter"] * 20000

    for k in order:
        d = by[k]
        anyr = next(iter(d.values()))
        f32 = d.get("float32")
        post = anyr["post_full_jax_2nd_s"]
        line = (f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | "
                f"{'%.3g' % t20k(d['float64']) if 'float64' in d else '-'} | "
                f"{'%.3g' % t20k(f32) if f32 else '-'} | "
                f"{g(d, 'float64', 's_per_iter', 1e6)} | {g(d, 'float32', 's_per_iter', 1e6)} | "
                f"{g(d, 'float64', 'x_bytes_per_s', 1e-9)} | {g(d, 'float32', 'x_bytes_per_s', 1e-9)} | "
                f"{g(d, 'float64', 'stream_s_per_iter', 1e6)} | {g(d, 'float32', 'stream_s_per_iter', 1e6)} | "
                f"{g(d, 'float64', 'ratio_to_bound', fmt='{:.2f}')} | {g(d, 'float32', 'ratio_to_bound', fmt='{:.2f}')} | "
                f"{g(d, 'float64', 'ratio_to_memory_bound', fmt='{:.2f}')} | {g(d, 'float32', 'ratio_to_memory_bound', fmt='{:.2f}')} | "
                f"{post:g} | {'%.1f' % (post / t20k(f32)) if f32 else '-'} |")
        if jx:
            j = jby.get(k)
            if j and j.get("full2_s") and f32:
                jt = j["full2_s"] / j["iterations"] * 20000
                line += f" {jt:.3g} | {jt / t20k(f32):.1f} |"
            else:
                line += " - | - |"
        p(line)
    p("")

    # --- targets -------------------------------------------------------------
    p("Targets:")
    big = [k for k in order if k[0] in ("ula", "mala") and ((k[3] == 5 and k[2] >= 100000) or k[3] >= 500)]
    for dt in ("float64", "float32"):
        vals = [(k, by[k][dt]["ratio_to_memory_bound"]) for k in big if dt in by[k]]
        if not vals:
            continue
        bad = [(k, v) for k, v in vals if v > 1.5]
        worst = max(vals, key=lambda kv: kv[1])
        p(f"- T1 ({dt}) within 1.5x of the memory bound, ULA/MALA with X beyond L2: "
          f"{len(vals) - len(bad)}/{len(vals)} rows met; worst {worst[1]:.2f}x "
          f"({worst[0][0]} N={worst[0][2]} d={worst[0][3]}).")
    f32rows = [(k, by[k]["float32"]) for k in order if "float32" in by[k]]
    if f32rows:
        sp = [(k, r["post_full_jax_2nd_s"] / t20k(r)) for k, r in f32rows]
        met = [x for x in sp if x[1] >= 10]
        worst = min(sp, key=lambda kv: kv[1])
        p(f"- T2 >= 10x the post's full JAX in float32 (one thread): {len(met)}/{len(sp)} rows met; "
          f"lowest {worst[1]:.1f}x ({worst[0][0]} {worst[0][1]} N={worst[0][2]} d={worst[0][3]}).")
        if jx:
            spj = []
            for k, r in f32rows:
                j = jby.get(k)
                if j and j.get("full2_s"):
                    spj.append((k, j["full2_s"] / j["iterations"] * 20000 / t20k(r)))
            if spj:
                metj = [x for x in spj if x[1] >= 10]
                worst = min(spj, key=lambda kv: kv[1])
                p(f"- T2' >= 10x JAX full (2nd run) measured on this machine: {len(metj)}/{len(spj)} rows met; "
                  f"lowest {worst[1]:.1f}x ({worst[0][0]} {worst[0][1]} N={worst[0][2]} d={worst[0][3]}).")
    if npy:
        p("")
        p(f"NumPy {npy['numpy']} (`{os.path.basename(numpy_path)}`), env {npy['env']}:")
        p("")
        p("| sampler | N | d | NumPy loop s | NumPy kernel s | ours f64 s | ours f32 s | speedup f64 vs loop | "
          "speedup f32 vs loop | speedup f64 vs kernel | post's Python loop s | speedup f64 vs post's loop |")
        p("|---|---|---|---|---|---|---|---|---|---|---|---|")
        rows = {}
        for r in npy["rows"]:
            rows.setdefault(key(r), {})[r["version"]] = r
        t3 = []
        for k in order:
            if k not in rows or k[1] != "data":
                continue
            loop, kern = rows[k].get("loop"), rows[k].get("kernel")
            o64, o32 = by[k].get("float64"), by[k].get("float32")
            lt = loop["time_20k_s"] if loop else None
            kt = kern["time_20k_s"] if kern else None
            f = lambda x: "%.3g" % x if x is not None else "-"  # noqa: E731
            s64 = lt / t20k(o64) if lt and o64 else None
            s32 = lt / t20k(o32) if lt and o32 else None
            sk = kt / t20k(o64) if kt and o64 else None
            post_py = (loop or kern)["post_python_s"]
            p(f"| {k[0]} | {k[2]} | {k[3]} | {f(lt)} | {f(kt)} | {f(t20k(o64) if o64 else None)} | "
              f"{f(t20k(o32) if o32 else None)} | {f(s64)} | {f(s32)} | {f(sk)} | {post_py:g} | "
              f"{f(post_py / t20k(o64) if o64 else None)} |")
            if k[2] == 1000 and k[3] == 5 and s64:
                t3.append((k[0], s64, s32))
        p("")
        for smp, s64, s32 in t3:
            p(f"- T3 {smp} N=1e3 d=5: {s64:.0f}x (f64), {s32:.0f}x (f32) over the NumPy Python loop: "
              f"{'met' if max(s64, s32 or 0) >= 100 else 'not met'}.")
    text = "\n".join(out)
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
