#!/usr/bin/env python3
"""report.py - joins the runs of stan_vs_mcmcd.sh into one JSON file and a
markdown table: per row and implementation the medians over runs of the
minimum bulk ESS, the seconds, the gradients and ESS per second and per
gradient; then our NUTS against each Stan form, with the issue's target
(ESS/s >= 5x Stan's, ESS/gradient within 20% of Stan's).

Usage: report.py --index runs/index.tsv [--index ...] --json OUT.json --markdown OUT.md
                 [--meta key=value ...]
Standard library only.
"""
import argparse
import csv
import json
import math
import statistics
import sys

TARGET_SPEED = 5.0  # ESS/s, ours over Stan's
TARGET_PER_GRAD = 0.2  # |ours / Stan's - 1| for ESS per gradient
IMPL_ORDER = ["mcmcd_nuts", "mcmcd_nuts_f32", "mcmcd_mala", "stan_plain", "stan_glm"]


def run_metrics(run):
    """The per-run numbers the table takes medians of."""
    chains = run["chains"]
    warm = sum(c["warmup_cpu_seconds"] for c in chains)
    samp = sum(c["sampling_cpu_seconds"] for c in chains)
    grads = sum(c["grad_evals"] for c in chains)
    ess = run["min_ess_bulk"]
    steps = [c["step_size"] for c in chains if c.get("step_size") is not None]
    return {
        "min_ess_bulk": ess,
        "warmup_cpu_seconds": warm,
        "sampling_cpu_seconds": samp,
        "grad_evals": grads,
        "ess_per_s_sampling": ess / samp if samp > 0 else math.inf,
        "ess_per_s_total": ess / (warm + samp) if warm + samp > 0 else math.inf,
        "ess_per_grad": ess / grads if grads else math.nan,
        "cpu_us_per_grad": 1e6 * (warm + samp) / grads if grads else math.nan,
        "divergent": sum(c["divergent"] - c["warmup_divergent"] for c in chains),
        "warmup_divergent": sum(c["warmup_divergent"] for c in chains),
        "step_size": statistics.mean(steps) if steps else math.nan,
    }


def mean_agreement(a, b):
    """Largest |mean difference| / its standard error over parameters, the
    error of each side taken as sd / sqrt(bulk ESS)."""
    worst = 0.0
    for ma, mb, sa, sb, ea, eb in zip(a["means"], b["means"], a["sds"], b["sds"],
                                      a["ess_bulk"], b["ess_bulk"]):
        se = math.sqrt(sa * sa / ea + sb * sb / eb)
        worst = max(worst, abs(ma - mb) / se if se > 0 else math.inf)
    return worst


def load(index_paths):
    rows = {}
    for path in index_paths:
        with open(path) as f:
            records = list(csv.DictReader(f, delimiter="\t"))
        for rec in records:
            with open(rec["file"]) as g:
                run = json.load(g)
            run.update(run=int(rec["run"]), seed=int(rec["seed"]), load1=float(rec["load1"]),
                       process_wall_s=float(rec["wall_s"]), index=path)
            rows.setdefault(rec["row"], {}).setdefault(rec["impl"], []).append(run)
    return rows


def summarise(rows):
    out = []
    for name, impls in rows.items():
        kind, n, d = name.split("-")
        entry = {"row": name, "kind": kind, "n": int(float(n[1:])), "d": int(d[1:]),
                 "impls": {}, "vs_stan": {}}
        for impl, runs in impls.items():
            per_run = [run_metrics(r) for r in runs]
            med = {k: statistics.median(m[k] for m in per_run) for k in per_run[0]}
            if impl.startswith("stan"):
                med["compile_seconds"] = runs[0]["compile_seconds"]
            ref = next((f for f in ("stan_plain", "stan_glm") if f in impls), None)
            if ref and impl != ref:
                med["max_mean_z_vs_stan"] = mean_agreement(runs[0], impls[ref][0])
                med["mean_z_reference"] = ref
            entry["impls"][impl] = {"runs": runs, "median": med,
                                    "load1_median": statistics.median(r["load1"] for r in runs)}
        for mine in ("mcmcd_nuts", "mcmcd_nuts_f32"):
            for form in ("stan_plain", "stan_glm"):
                ours, stan = entry["impls"].get(mine), entry["impls"].get(form)
                if not ours or not stan:
                    continue
                o, s = ours["median"], stan["median"]
                r = {k: o[k] / s[k]
                     for k in ("ess_per_s_sampling", "ess_per_s_total", "ess_per_grad")}
                r["meets_target"] = (r["ess_per_s_sampling"] >= TARGET_SPEED
                                     and r["ess_per_s_total"] >= TARGET_SPEED
                                     and abs(r["ess_per_grad"] - 1) <= TARGET_PER_GRAD)
                key = form if mine == "mcmcd_nuts" else f"{form} (ours float32)"
                entry["vs_stan"][key] = r
        out.append(entry)
    return out


def fmt(x, digits=3):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return f"{x:.{digits}g}"


def markdown(rows, meta):
    lines = [
        f"CPU: {meta.get('model_name', '?')}, pinned to core {meta.get('cpu', '?')}: "
        f"{meta.get('chains')} chains one after the other, {meta.get('warmup')} warmup + "
        f"{meta.get('samples')} draws each, for every implementation. Medians of "
        f"{meta.get('runs')} runs per row ({meta.get('runs_large')} for N = 1e5 and d = 500); "
        f"load average {meta.get('load_start')} at the start, {meta.get('load_end')} at the end. "
        "Seconds are CPU seconds of the chains, summed over chains, on both sides (rstan "
        "2.21 times its chains with clock(); mcmcd run --report reads each chain's thread "
        "CPU clock), so load from other processes on the core does not count. Stan forms: "
        f"{meta.get('stan_forms')} ({meta.get('stan_forms_large')} on the N = 1e5 and d = 500 "
        "rows); plain is y ~ bernoulli_logit(X * beta) (normal, poisson_log), glm Stan's fused "
        "*_glm likelihood.",
        "",
        "| row | impl | runs | min bulk ESS | warmup CPU s | sampling CPU s | gradients | "
        "us/grad | ESS/s sampling | ESS/s total | ESS/grad | div (warmup) | step | load |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |",
    ]
    for e in rows:
        for impl in IMPL_ORDER:
            x = e["impls"].get(impl)
            if not x:
                continue
            m = x["median"]
            lines.append(
                f"| {e['row']} | {impl} | {len(x['runs'])} | {fmt(m['min_ess_bulk'], 4)} | "
                f"{fmt(m['warmup_cpu_seconds'])} | {fmt(m['sampling_cpu_seconds'])} | "
                f"{m['grad_evals']:.0f} | {fmt(m['cpu_us_per_grad'])} | "
                f"{fmt(m['ess_per_s_sampling'], 4)} | "
                f"{fmt(m['ess_per_s_total'], 4)} | {fmt(m['ess_per_grad'])} | "
                f"{m['divergent']:.0f} ({m['warmup_divergent']:.0f}) | {fmt(m['step_size'])} | {fmt(x['load1_median'], 2)} |")
    lines += ["", "Our NUTS over Stan's NUTS (target: ESS/s x >= 5, ESS/grad x within 0.8-1.2):",
              "",
              "| row | Stan form | ESS/s sampling x | ESS/s total x | ESS/grad x | target |",
              "| --- | --- | ---: | ---: | ---: | --- |"]
    for e in rows:
        for form, r in e["vs_stan"].items():
            lines.append(f"| {e['row']} | {form.replace('stan_', '')} | "
                         f"{fmt(r['ess_per_s_sampling'])} | "
                         f"{fmt(r['ess_per_s_total'])} | {fmt(r['ess_per_grad'])} | "
                         f"{'met' if r['meets_target'] else 'missed'} |")
    compile_s = {}
    for e in rows:
        for impl, x in e["impls"].items():
            if impl.startswith("stan"):
                key = (e["kind"], impl[5:])
                compile_s[key] = x["median"]["compile_seconds"]
    if compile_s:
        lines += ["", "Stan compile time (apart from the timings above): " + ", ".join(
            f"{k} {f} {s:.0f} s" for (k, f), s in sorted(compile_s.items())) + "."]
    z = [f"{e['row']} {impl} {x['median']['max_mean_z_vs_stan']:.1f}" for e in rows
         for impl, x in e["impls"].items() if "max_mean_z_vs_stan" in x["median"]]
    if z:
        lines += ["", "Same posterior? Largest |mean difference| / its standard error over "
                  "parameters (run 1 of each, against Stan plain, or glm where plain did not "
                  "run): " + ", ".join(z) + "."]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", required=True, action="append",
                    help="a run's index.tsv; several are joined (later runs of a row add to it)")
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--meta", nargs="*", default=[])
    a = ap.parse_args()
    meta = dict(kv.split("=", 1) for kv in a.meta)
    rows = summarise(load(a.index))
    with open(a.json, "w") as f:
        json.dump({"benchmark": "stan_vs_mcmcd", "meta": meta, "rows": rows}, f, indent=1)
    text = markdown(rows, meta)
    with open(a.markdown, "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
