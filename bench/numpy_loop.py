#!/usr/bin/python3
"""numpy_loop.py - the post's samplers in NumPy, without JAX.

Two versions of ULA, MALA and SGLD on the post's Bayesian logistic regression
(prior N(0, 10 I), 20 000 iterations, start at theta_true):

  loop    the post's "Python loop" samplers (ula_sampler_python,
          mala_sampler_python, sgld_sampler_python): a Python loop over
          iterations, np.random noise, a samples array, and the log posterior
          and its gradient as functions of theta. The post's gradient was a
          jitted JAX function; here it is NumPy, vectorised over the data as
          the post's vmap is.
  kernel  a NumPy kernel written afresh for speed: all noise (and SGLD
          indices) drawn up front in one call, buffers preallocated, the
          sigmoid from one tanh, out= everywhere, no temporaries in the loop
          that can be avoided. Still one Python iteration per MCMC step.

Timing: time.perf_counter around a whole run, median of --runs runs. By
default only the N = 1e3, d = 5 row (the post's headline row) runs; --rows
all runs the other post rows with fewer iterations (--iters-large) and
reports the time scaled to 20 000 iterations.

Run it with /usr/bin/python3 and without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE
(bench/run_all.sh does): `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
/usr/bin/python3 bench/numpy_loop.py`.
"""

import argparse
import datetime
import json
import os
import platform
import socket
import statistics
import sys
import time

import numpy as np

# The post's CPU timings (seconds, 20 000 iterations): Python loop, JAX kernel
# + Python loop, full JAX 2nd run (post-workloads.md, section 1).
POST = {
    ("ula", "data", 1000, 5): (11, 3.4, 0.18),
    ("ula", "data", 10000, 5): (11, 4.6, 1.6),
    ("ula", "data", 100000, 5): (32, 32, 24),
    ("ula", "data", 1000000, 5): (280, 280, 250),
    ("ula", "dim", 1000, 5): (11, 3.4, 0.19),
    ("ula", "dim", 1000, 500): (12, 5.0, 1.6),
    ("ula", "dim", 1000, 1000): (13, 7.7, 3.4),
    ("ula", "dim", 1000, 2000): (13, 16, 13),
    ("mala", "data", 1000, 5): (38, 7, 0.19),
    ("mala", "data", 10000, 5): (38, 7, 1.9),
    ("mala", "data", 100000, 5): (56, 35, 26),
    ("mala", "data", 1000000, 5): (330, 310, 272),
    ("mala", "dim", 1000, 5): (39, 7.2, 0.20),
    ("mala", "dim", 1000, 500): (40, 7.2, 1.5),
    ("mala", "dim", 1000, 1000): (41, 8.0, 3.4),
    ("mala", "dim", 1000, 2000): (43, 15, 13),
    ("sgld", "data", 1000, 5): (59, 4.2, 0.056),
    ("sgld", "data", 10000, 5): (60, 4.4, 0.9),
    ("sgld", "data", 100000, 5): (73, 3.9, 0.40),
    ("sgld", "data", 1000000, 5): (65, 4.0, 0.69),
    ("sgld", "dim", 1000, 5): (61, 4.2, 0.055),
    ("sgld", "dim", 1000, 500): (62, 4.2, 0.56),
    ("sgld", "dim", 1000, 1000): (62, 5.0, 0.98),
    ("sgld", "dim", 1000, 2000): (68, 6.4, 1.95),
}

# (table, N, d, step size, SGLD batch)
ROWS = [
    ("data", 1000, 5, 5e-3, 100),
    ("data", 10000, 5, 5e-4, 1000),
    ("data", 100000, 5, 5e-5, 1000),
    ("data", 1000000, 5, 5e-6, 1000),
    ("dim", 1000, 5, 5e-3, 100),
    ("dim", 1000, 500, 5e-3, 100),
    ("dim", 1000, 1000, 5e-3, 100),
    ("dim", 1000, 2000, 5e-3, 100),
]

PRIOR_VARIANCE = 10.0


def gen_data(seed, dim, n):
    """The post's generator with identity covariance: theta_true ~ N(0, 10 I),
    X ~ N(0, I), y ~ Bernoulli(sigmoid(X theta_true))."""
    rng = np.random.default_rng(seed)
    theta_true = rng.standard_normal(dim) * np.sqrt(PRIOR_VARIANCE)
    X = rng.standard_normal((n, dim))
    p = 1.0 / (1.0 + np.exp(-(X @ theta_true)))
    y = (rng.uniform(size=n) < p).astype(np.int32)
    return theta_true, X, y


# --- the post's Python-loop version ------------------------------------


def sigmoid(z):
    return 0.5 + 0.5 * np.tanh(0.5 * z)


def build_log_post(X, y, N):
    """log_prior + N * mean(loglik) over the rows given, and its gradient, as
    the post's build_grad_log_post / build_batch_grad_log_post."""
    yf = y.astype(np.float64)

    def val_and_grad(theta, Xb=X, yb=yf):
        eta = Xb @ theta
        # loglik_i = -logsumexp([0, (1 - 2y) eta]) = y eta - log(1 + e^eta)
        ll = np.sum(yb * eta - np.logaddexp(0.0, eta))
        scale = N / Xb.shape[0]
        lp = -(0.5 / PRIOR_VARIANCE) * theta @ theta + scale * ll
        g = -theta / PRIOR_VARIANCE + scale * (Xb.T @ (yb - sigmoid(eta)))
        return lp, g

    def grad(theta, Xb=X, yb=yf):
        eta = Xb @ theta
        scale = N / Xb.shape[0]
        return -theta / PRIOR_VARIANCE + scale * (Xb.T @ (yb - sigmoid(eta)))

    return val_and_grad, grad


def ula_sampler_python(grad_log_post, num_samples, dt, x_0):
    (dim,) = x_0.shape
    samples = np.zeros((num_samples, dim))
    paramCurrent = x_0
    for i in range(num_samples):
        paramGradCurrent = grad_log_post(paramCurrent)
        paramCurrent = (
            paramCurrent
            + dt * paramGradCurrent
            + np.sqrt(2 * dt) * np.random.normal(size=(paramCurrent.shape))
        )
        samples[i] = paramCurrent
    return samples, num_samples


def mala_sampler_python(val_and_grad_log_post, num_samples, dt, x_0):
    (dim,) = x_0.shape
    samples = np.zeros((num_samples, dim))
    paramCurrent = x_0
    current_log_post, current_grad = val_and_grad_log_post(x_0)
    accepts = 0
    for i in range(num_samples):
        paramProp = paramCurrent + dt * current_grad + np.sqrt(2 * dt) * np.random.normal(size=dim)
        new_log_post, new_grad = val_and_grad_log_post(paramProp)
        term1 = paramProp - paramCurrent - dt * current_grad
        term2 = paramCurrent - paramProp - dt * new_grad
        q_new = -0.25 * (1 / dt) * np.dot(term1, term1)
        q_current = -0.25 * (1 / dt) * np.dot(term2, term2)
        log_ratio = new_log_post - current_log_post + q_current - q_new
        if np.log(np.random.uniform()) < log_ratio:
            paramCurrent = paramProp
            current_log_post = new_log_post
            current_grad = new_grad
            accepts += 1
        samples[i] = paramCurrent
    return samples, accepts


def sgld_sampler_python(grad_log_post, num_samples, dt, x_0, X, y_data, batch_size):
    N_data = X.shape[0]
    (dim,) = x_0.shape
    samples = np.zeros((num_samples, dim))
    paramCurrent = x_0
    yf = y_data.astype(np.float64)
    for i in range(num_samples):
        idx_batch = np.random.choice(N_data, batch_size)
        paramGradCurrent = grad_log_post(paramCurrent, X[idx_batch], yf[idx_batch])
        paramCurrent = (
            paramCurrent
            + dt * paramGradCurrent
            + np.sqrt(2 * dt) * np.random.normal(size=(paramCurrent.shape))
        )
        samples[i] = paramCurrent
    return samples, num_samples


# --- a NumPy kernel written for speed -----------------------------------


def kernel_run(sampler, X, y, theta0, num_samples, dt, batch, seed):
    """One chain, the same updates, vectorised as far as NumPy allows."""
    N, d = X.shape
    rng = np.random.default_rng(seed)
    sd = np.sqrt(2 * dt)
    inv_v = 1.0 / PRIOR_VARIANCE
    noise = rng.standard_normal((num_samples, d))
    noise *= sd
    samples = np.empty((num_samples, d))
    theta = theta0.copy()
    g = np.empty(d)
    ymh = y.astype(np.float64) - 0.5  # y - sigmoid(eta) = (y - 1/2) - tanh(eta/2)/2
    if sampler == "ula":
        eta = np.empty(N)
        for i in range(num_samples):
            np.dot(X, theta, out=eta)
            eta *= 0.5
            np.tanh(eta, out=eta)
            eta *= -0.5
            eta += ymh
            np.dot(eta, X, out=g)
            g -= inv_v * theta
            g *= dt
            theta += g
            theta += noise[i]
            samples[i] = theta
        return samples, num_samples
    if sampler == "sgld":
        n = batch
        scale = N / n
        idx = rng.integers(0, N, size=(num_samples, n))
        Xb = np.empty((n, d))
        yb = np.empty(n)
        eta = np.empty(n)
        for i in range(num_samples):
            np.take(X, idx[i], axis=0, out=Xb)
            np.take(ymh, idx[i], out=yb)
            np.dot(Xb, theta, out=eta)
            eta *= 0.5
            np.tanh(eta, out=eta)
            eta *= -0.5
            eta += yb
            np.dot(eta, Xb, out=g)
            g *= scale
            g -= inv_v * theta
            g *= dt
            theta += g
            theta += noise[i]
            samples[i] = theta
        return samples, num_samples
    # MALA: log density and gradient in one pass over X.
    logu = np.log(rng.uniform(size=num_samples))
    yf = y.astype(np.float64)
    eta = np.empty(N)
    t = np.empty(N)

    def val_grad(th, gout):
        np.dot(X, th, out=eta)
        ll = yf @ eta
        np.logaddexp(0.0, eta, out=t)
        ll -= t.sum()
        np.multiply(eta, 0.5, out=t)
        np.tanh(t, out=t)
        np.multiply(t, -0.5, out=t)
        np.add(t, ymh, out=t)
        np.dot(t, X, out=gout)
        gout -= inv_v * th
        return ll - 0.5 * inv_v * (th @ th)

    lp = val_grad(theta, g)
    prop = np.empty(d)
    gp = np.empty(d)
    r = np.empty(d)
    accepts = 0
    for i in range(num_samples):
        xi = noise[i]
        np.multiply(g, dt, out=prop)
        prop += theta
        prop += xi
        lp_prop = val_grad(prop, gp)
        np.multiply(gp, -dt, out=r)
        r += theta
        r -= prop
        log_alpha = lp_prop - lp - (r @ r) / (4 * dt) + (xi @ xi) / (4 * dt)
        if logu[i] < log_alpha:
            theta, prop = prop, theta
            g, gp = gp, g
            lp = lp_prop
            accepts += 1
        samples[i] = theta
    return samples, accepts


# --- the harness ----------------------------------------------------------


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def time_one(sampler, version, table, N, d, dt, batch, iters, runs, seed):
    theta_true, X, y = gen_data(seed, d, N)
    val_and_grad, grad = build_log_post(X, y, N)
    np.random.seed(seed)
    times = []
    accepted = 0
    for k in range(runs):
        t0 = time.perf_counter()
        if version == "loop":
            if sampler == "ula":
                s, acc = ula_sampler_python(grad, iters, dt, theta_true.copy())
            elif sampler == "mala":
                s, acc = mala_sampler_python(val_and_grad, iters, dt, theta_true.copy())
            else:
                s, acc = sgld_sampler_python(grad, iters, dt, theta_true.copy(), X, y, batch)
        else:
            s, acc = kernel_run(sampler, X, y, theta_true, iters, dt, batch, seed + k)
        times.append(time.perf_counter() - t0)
        accepted = acc
        if not np.all(np.isfinite(s[-1])):
            print(f"warning: {sampler} {version} N={N} d={d}: non-finite draw", file=sys.stderr)
    med = statistics.median(times)
    per = med / iters
    rows_per_grad = batch if sampler == "sgld" else N
    grad_evals = iters + (1 if sampler == "mala" else 0)
    post = POST[(sampler, table, N, d)]
    return {
        "sampler": sampler,
        "version": version,
        "table": table,
        "n": N,
        "d": d,
        "step_size": dt,
        "batch_size": batch if sampler == "sgld" else 0,
        "dtype": "float64",
        "iterations": iters,
        "runs": runs,
        "wall_s": times,
        "median_s": med,
        "min_s": min(times),
        "s_per_iter": per,
        "time_20k_s": per * 20000,
        "grad_evals_per_s": grad_evals / med,
        "x_bytes_per_grad": rows_per_grad * d * 8,
        "x_bytes_per_s": grad_evals * rows_per_grad * d * 8 / med,
        "accept_rate": accepted / iters,
        "post_python_s": post[0],
        "post_jax_kernel_s": post[1],
        "post_full_jax_2nd_s": post[2],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", choices=["headline", "all"], default="headline",
                    help="headline: N = 1e3, d = 5 only (default); all: the post's 8 rows per sampler")
    ap.add_argument("--only", choices=["ula", "mala", "sgld"], help="one sampler only")
    ap.add_argument("--version", choices=["loop", "kernel", "both"], default="both")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per row; the median is reported (3)")
    ap.add_argument("--iters", type=int, default=20000, help="iterations for the headline row (20000)")
    ap.add_argument("--iters-large", type=int, default=2000,
                    help="iterations for the other rows with --rows all, scaled to 20000 (2000)")
    ap.add_argument("--quick", action="store_true", help="2000 iterations, 1 run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write results here (default: bench/results/numpy_loop-DATE-HOST.json)")
    ap.add_argument("--no-json", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.iters, a.iters_large, a.runs = min(a.iters, 2000), min(a.iters_large, 500), 1

    samplers = [a.only] if a.only else ["ula", "mala", "sgld"]
    versions = ["loop", "kernel"] if a.version == "both" else [a.version]
    rows = ROWS if a.rows == "all" else ROWS[:1]

    print(f"# numpy_loop: {cpu_model()}, {os.cpu_count()} cores, numpy {np.__version__}, "
          f"python {platform.python_version()}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '-')}")
    print("# columns: median_s = median wall time of a run (time_20k = scaled to 20000 iterations); "
          "us/it; grad/s; X_GB/s = bytes of X read per second (float64)")
    hdr = f"{'smp':4} {'ver':6} {'tab':4} {'N':>7} {'d':>4} {'batch':>5} {'iters':>6} {'median_s':>9} " \
          f"{'time_20k':>9} {'us/it':>9} {'grad/s':>9} {'X_GB/s':>7} {'post_py':>8} {'post_jax':>8}"
    print(hdr, flush=True)
    results = []
    started = datetime.datetime.now().astimezone()
    for sampler in samplers:
        for (table, N, d, dt, batch) in rows:
            iters = a.iters if (N, d) == (1000, 5) and table == "data" else a.iters_large
            for version in versions:
                r = time_one(sampler, version, table, N, d, dt, batch, iters, a.runs, a.seed)
                results.append(r)
                print(f"{sampler:4} {version:6} {table:4} {N:7d} {d:4d} {r['batch_size']:5d} {iters:6d} "
                      f"{r['median_s']:9.4f} {r['time_20k_s']:9.3f} {r['s_per_iter'] * 1e6:9.2f} "
                      f"{r['grad_evals_per_s']:9.3g} {r['x_bytes_per_s'] / 1e9:7.3f} "
                      f"{r['post_python_s']:8.3g} {r['post_full_jax_2nd_s']:8.3g}", flush=True)

    if not a.no_json:
        path = a.json
        if not path:
            outdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
            os.makedirs(outdir, exist_ok=True)
            path = os.path.join(outdir, f"numpy_loop-{started.strftime('%Y%m%d-%H%M%S')}-{socket.gethostname()}.json")
        doc = {
            "benchmark": "numpy_loop",
            "started": started.isoformat(),
            "machine": {"host": socket.gethostname(), "cpu_model": cpu_model(), "cores": os.cpu_count()},
            "numpy": np.__version__,
            "python": platform.python_version(),
            "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                    "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
            "settings": {"runs": a.runs, "iters": a.iters, "iters_large": a.iters_large, "seed": a.seed},
            "rows": results,
        }
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"# wrote {path}")


if __name__ == "__main__":
    main()
