#!/usr/bin/env python3
"""post_jax.py - the post's three JAX versions of ULA, MALA and SGLD, written
afresh for current JAX (>= 0.4), to time them on the machine that times ours.

  py      a Python loop over iterations calling a jitted gradient of the log
          posterior, NumPy noise (the post's "python loop")
  kernel  a jitted kernel (one MCMC step, JAX keys) and a Python loop
  full    the whole chain in one jitted lax.scan; run twice as the post did
          (the 1st run includes compilation), then --runs more times; the
          table's full2 is the median of the runs after the first

The model, data and settings are the post's (post-workloads.md): Bayesian
logistic regression with prior N(0, 10 I), log posterior = log prior +
N * mean(loglik) (minibatch: N/n * sum), data from PRNGKey(0) split in 4,
theta_true ~ N(0, 10 I), X ~ N(0, I) (identity covariance, as at the
repository's HEAD), y ~ Bernoulli(sigmoid(X theta_true)), 20 000 iterations,
start at theta_true, float32 (JAX's default; --x64 for float64). SGLD draws
minibatches with replacement (random.choice). Differences from the post's
code: functools.partial instead of the removed jax.partial, X and y passed to
the jitted SGLD functions as arguments (arrays are not hashable static
arguments in current JAX), and time.perf_counter instead of time.time.

Usage: post_jax.py [--only ula|mala|sgld] [--table data|dim] [--versions
full|all|py,kernel,full] [--runs N] [--iters N] [--quick] [--x64] [--json F]
Run with JAX_PLATFORMS=cpu to time the CPU (bench/jax/run_both.sh does, pinned
with taskset next to ours).
"""

import argparse
import datetime
import functools
import json
import os
import platform
import socket
import statistics
import sys
import time

import numpy as onp

# The post's CPU times (seconds): python loop, JAX kernel, full 1st, full 2nd.
POST = {
    ("ula", "data", 1000, 5): (11, 3.4, 0.53, 0.18),
    ("ula", "data", 10000, 5): (11, 4.6, 2.0, 1.6),
    ("ula", "data", 100000, 5): (32, 32, 24, 24),
    ("ula", "data", 1000000, 5): (280, 280, 250, 250),
    ("ula", "dim", 1000, 5): (11, 3.4, 0.56, 0.19),
    ("ula", "dim", 1000, 500): (12, 5.0, 2.5, 1.6),
    ("ula", "dim", 1000, 1000): (13, 7.7, 4.3, 3.4),
    ("ula", "dim", 1000, 2000): (13, 16, 14, 13),
    ("sgld", "data", 1000, 5): (59, 4.2, 1.1, 0.056),
    ("sgld", "data", 10000, 5): (60, 4.4, 3.8, 0.9),
    ("sgld", "data", 100000, 5): (73, 3.9, 1.6, 0.40),
    ("sgld", "data", 1000000, 5): (65, 4.0, 2.0, 0.69),
    ("sgld", "dim", 1000, 5): (61, 4.2, 1.1, 0.055),
    ("sgld", "dim", 1000, 500): (62, 4.2, 1.9, 0.56),
    ("sgld", "dim", 1000, 1000): (62, 5.0, 2.3, 0.98),
    ("sgld", "dim", 1000, 2000): (68, 6.4, 3.3, 1.95),
    ("mala", "data", 1000, 5): (38, 7, 0.93, 0.19),
    ("mala", "data", 10000, 5): (38, 7, 2.6, 1.9),
    ("mala", "data", 100000, 5): (56, 35, 27, 26),
    ("mala", "data", 1000000, 5): (330, 310, 270, 272),
    ("mala", "dim", 1000, 5): (39, 7.2, 0.94, 0.20),
    ("mala", "dim", 1000, 500): (40, 7.2, 2.6, 1.5),
    ("mala", "dim", 1000, 1000): (41, 8.0, 4.8, 3.4),
    ("mala", "dim", 1000, 2000): (43, 15, 14, 13),
}

# (table, N, d, dt, SGLD minibatch)
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


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["ula", "mala", "sgld"])
    ap.add_argument("--table", choices=["data", "dim"])
    ap.add_argument("--versions", default="all",
                    help="comma list of py, kernel, full; or all (default), or full")
    ap.add_argument("--runs", type=int, default=3,
                    help="timed runs of the full version after the compiling one; median reported (3)")
    ap.add_argument("--iters", type=int, default=20000, help="iterations (20000, the post's)")
    ap.add_argument("--loop-iters", type=int, default=0,
                    help="iterations for the py and kernel versions, scaled to --iters (default: --iters)")
    ap.add_argument("--quick", action="store_true", help="2000 iterations, loops 500, 1 run")
    ap.add_argument("--x64", action="store_true", help="float64 instead of the post's float32")
    ap.add_argument("--json", help="write results here (default bench/results/post_jax-DATE-HOST.json)")
    ap.add_argument("--no-json", action="store_true")
    a = ap.parse_args()
    a.versions = ["py", "kernel", "full"] if a.versions == "all" else a.versions.split(",")
    if any(v not in ("py", "kernel", "full") for v in a.versions):
        ap.error("--versions takes py, kernel, full (comma separated), all or full")
    if a.quick:
        a.iters, a.loop_iters, a.runs = 2000, 500, 1
    if not a.loop_iters:
        a.loop_iters = a.iters
    return a


ARGS = parse_args()

import jax  # noqa: E402  (after argument parsing so that --help works without JAX)

if ARGS.x64:
    jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
from jax import grad, jit, lax, random, value_and_grad, vmap  # noqa: E402

PRIOR_VARIANCE = 10.0


# --- the model ------------------------------------------------------------


def gen_data(key, dim, n):
    key, k1, k2, k3 = random.split(key, 4)
    theta_true = random.normal(k1, shape=(dim,)) * jnp.sqrt(PRIOR_VARIANCE)
    X = random.normal(k3, shape=(n, dim))  # covariance I: the cholesky factor is I
    p = jax.nn.sigmoid(X @ theta_true)
    y = vmap(random.bernoulli)(random.split(key, n), p).astype(jnp.int32)
    return theta_true, X, y


def log_prior(theta):
    return -(0.5 / PRIOR_VARIANCE) * jnp.dot(theta, theta)


def loglik_one(theta, x, y):
    # -logsumexp([0, (1 - 2y) theta.x]) = y log p + (1 - y) log(1 - p)
    return -jnp.logaddexp(0.0, (1.0 - 2.0 * y) * jnp.dot(theta, x))


batch_loglik = jit(vmap(loglik_one, in_axes=(None, 0, 0)))


def make_log_post(N):
    def log_post(theta, X, y):
        return log_prior(theta) + N * jnp.mean(batch_loglik(theta, X, y))

    return log_post


# --- ULA ------------------------------------------------------------------


def ula_python(grad_log_post, num_samples, dt, x_0):
    samples = onp.zeros((num_samples, x_0.shape[0]))
    param = x_0
    for i in range(num_samples):
        g = grad_log_post(param)
        param = param + dt * g + onp.sqrt(2 * dt) * onp.random.normal(size=param.shape)
        samples[i] = param
    return samples


@functools.partial(jit, static_argnums=(2, 3))
def ula_kernel(key, param, grad_log_post, dt):
    key, sub = random.split(key)
    g = grad_log_post(param)
    param = param + dt * g + jnp.sqrt(2 * dt) * random.normal(sub, shape=param.shape)
    return key, param


def ula_jax_kernel(key, grad_log_post, num_samples, dt, x_0):
    samples = onp.zeros((num_samples, x_0.shape[0]))
    param = x_0
    for i in range(num_samples):
        key, param = ula_kernel(key, param, grad_log_post, dt)
        samples[i] = param
    return samples


@functools.partial(jit, static_argnums=(1, 2, 3))
def ula_full(key, grad_log_post, num_samples, dt, x_0):
    def step(carry, _):
        key, param = ula_kernel(*carry, grad_log_post, dt)
        return (key, param), param

    _, samples = lax.scan(step, (key, x_0), None, num_samples)
    return samples


# --- MALA -----------------------------------------------------------------


def mala_python(val_and_grad, num_samples, dt, x_0):
    samples = onp.zeros((num_samples, x_0.shape[0]))
    param = x_0
    lp, g = val_and_grad(param)
    accepts = 0
    for i in range(num_samples):
        prop = param + dt * g + onp.sqrt(2 * dt) * onp.random.normal(size=param.shape)
        lp_prop, g_prop = val_and_grad(prop)
        t1 = prop - param - dt * g
        t2 = param - prop - dt * g_prop
        q_new = -0.25 / dt * onp.dot(t1, t1)
        q_cur = -0.25 / dt * onp.dot(t2, t2)
        if onp.log(onp.random.uniform()) < lp_prop - lp + q_cur - q_new:
            param, lp, g = prop, lp_prop, g_prop
            accepts += 1
        samples[i] = param
    return samples


@functools.partial(jit, static_argnums=(3, 5))
def mala_kernel(key, param, g, val_and_grad, lp, dt):
    key, k1, k2 = random.split(key, 3)
    prop = param + dt * g + jnp.sqrt(2 * dt) * random.normal(k1, shape=param.shape)
    lp_prop, g_prop = val_and_grad(prop)
    t1 = prop - param - dt * g
    t2 = param - prop - dt * g_prop
    q_new = -0.25 / dt * jnp.dot(t1, t1)
    q_cur = -0.25 / dt * jnp.dot(t2, t2)
    accept = jnp.log(random.uniform(k2)) < lp_prop - lp + q_cur - q_new
    param = jnp.where(accept, prop, param)
    g = jnp.where(accept, g_prop, g)
    lp = jnp.where(accept, lp_prop, lp)
    return key, param, g, lp, accept.astype(jnp.int32)


def mala_jax_kernel(key, val_and_grad, num_samples, dt, x_0):
    samples = onp.zeros((num_samples, x_0.shape[0]))
    param = x_0
    lp, g = val_and_grad(param)
    accepts = 0
    for i in range(num_samples):
        key, param, g, lp, a = mala_kernel(key, param, g, val_and_grad, lp, dt)
        accepts += int(a)
        samples[i] = param
    return samples


@functools.partial(jit, static_argnums=(1, 2, 3))
def mala_full(key, val_and_grad, num_samples, dt, x_0):
    def step(carry, _):
        key, param, g, lp, acc = carry
        key, param, g, lp, a = mala_kernel(key, param, g, val_and_grad, lp, dt)
        return (key, param, g, lp, acc + a), param

    lp, g = val_and_grad(x_0)
    carry = (key, x_0, g, lp, jnp.zeros((), jnp.int32))
    (_, _, _, _, acc), samples = lax.scan(step, carry, None, num_samples)
    return samples, 100 * acc / num_samples


# --- SGLD -----------------------------------------------------------------


def sgld_python(grad_batch, num_samples, dt, x_0, X, y, n):
    N = X.shape[0]
    samples = onp.zeros((num_samples, x_0.shape[0]))
    param = x_0
    for i in range(num_samples):
        idx = onp.random.choice(N, n)
        g = grad_batch(param, X[idx], y[idx])
        param = param + dt * g + onp.sqrt(2 * dt) * onp.random.normal(size=param.shape)
        samples[i] = param
    return samples


@functools.partial(jit, static_argnums=(2, 3, 6))
def sgld_kernel(key, param, grad_batch, dt, X, y, n):
    key, k1, k2 = random.split(key, 3)
    idx = random.choice(k1, X.shape[0], shape=(n,))  # with replacement
    g = grad_batch(param, X[idx], y[idx])
    param = param + dt * g + jnp.sqrt(2 * dt) * random.normal(k2, shape=param.shape)
    return key, param


def sgld_jax_kernel(key, grad_batch, num_samples, dt, x_0, X, y, n):
    samples = onp.zeros((num_samples, x_0.shape[0]))
    param = x_0
    for i in range(num_samples):
        key, param = sgld_kernel(key, param, grad_batch, dt, X, y, n)
        samples[i] = param
    return samples


@functools.partial(jit, static_argnums=(1, 2, 3, 7))
def sgld_full(key, grad_batch, num_samples, dt, x_0, X, y, n):
    def step(carry, _):
        key, param = sgld_kernel(*carry, grad_batch, dt, X, y, n)
        return (key, param), param

    _, samples = lax.scan(step, (key, x_0), None, num_samples)
    return samples


# --- the harness ------------------------------------------------------------


def block(x):
    jax.tree_util.tree_map(lambda a: a.block_until_ready() if hasattr(a, "block_until_ready") else a, x)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    block(out)
    return time.perf_counter() - t0, out


def run_row(sampler, table, N, d, dt, n):
    key = random.PRNGKey(0)
    theta_true, X, y = gen_data(key, d, N)
    block((theta_true, X, y))
    log_post = make_log_post(N)
    X_np, y_np = onp.asarray(X), onp.asarray(y)
    # Closures over the data, as the post's build_grad_log_post: hashable,
    # so they can be static arguments of the jitted kernels.
    grad_full = jit(grad(lambda th: log_post(th, X, y)))
    vg_full = jit(value_and_grad(lambda th: log_post(th, X, y)))
    grad_batch = jit(grad(log_post))
    k1, k2 = random.split(key)
    out = {"sampler": sampler, "table": table, "n": N, "d": d, "step_size": dt,
           "batch_size": n if sampler == "sgld" else 0}
    scale = ARGS.iters / ARGS.loop_iters
    onp.random.seed(0)
    if "py" in ARGS.versions:
        it = ARGS.loop_iters
        if sampler == "ula":
            t, _ = timed(lambda: ula_python(grad_full, it, dt, theta_true))
        elif sampler == "mala":
            t, _ = timed(lambda: mala_python(vg_full, it, dt, theta_true))
        else:
            t, _ = timed(lambda: sgld_python(grad_batch, it, dt, theta_true, X_np, y_np, n))
        out["py_s"] = t * scale
    if "kernel" in ARGS.versions:
        it = ARGS.loop_iters
        if sampler == "ula":
            t, _ = timed(lambda: ula_jax_kernel(k1, grad_full, it, dt, theta_true))
        elif sampler == "mala":
            t, _ = timed(lambda: mala_jax_kernel(k1, vg_full, it, dt, theta_true))
        else:
            t, _ = timed(lambda: sgld_jax_kernel(key, grad_batch, it, dt, theta_true, X, y, n))
        out["kernel_s"] = t * scale
    if "full" in ARGS.versions:
        it = ARGS.iters
        if sampler == "ula":
            f = lambda: ula_full(k2, grad_full, it, dt, theta_true)  # noqa: E731
        elif sampler == "mala":
            f = lambda: mala_full(k2, vg_full, it, dt, theta_true)  # noqa: E731
        else:
            f = lambda: sgld_full(key, grad_batch, it, dt, theta_true, X, y, n)  # noqa: E731
        t1, _ = timed(f)
        rest = [timed(f)[0] for _ in range(max(1, ARGS.runs))]
        out["full1_s"] = t1
        out["full2_runs_s"] = rest
        out["full2_s"] = statistics.median(rest)
        per = out["full2_s"] / it
        rows = n if sampler == "sgld" else N
        grads = it + (1 if sampler == "mala" else 0)
        out["s_per_iter"] = per
        out["grad_evals_per_s"] = grads / out["full2_s"]
        out["x_bytes_per_s"] = grads * rows * d * X.dtype.itemsize / out["full2_s"]
    out["iterations"] = ARGS.iters
    out["loop_iterations"] = ARGS.loop_iters
    out["post"] = dict(zip(("py_s", "kernel_s", "full1_s", "full2_s"), POST[(sampler, table, N, d)]))
    return out


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt(v, w=8):
    return f"{v:{w}.3g}" if v is not None else f"{'-':>{w}}"


def main():
    dtype = "float64" if ARGS.x64 else "float32"
    try:
        affinity = sorted(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    print(f"# post_jax: jax {jax.__version__}, devices {jax.devices()}, {cpu_model()}, "
          f"{os.cpu_count()} cores, affinity {affinity}, {dtype}")
    print(f"# {ARGS.iters} iterations (loops: {ARGS.loop_iters}, scaled), full2 = median of {ARGS.runs} runs after the compiling one")
    print(f"{'smp':4} {'tab':4} {'N':>7} {'d':>4} {'batch':>5} {'py_s':>8} {'kernel_s':>8} {'full1_s':>8} "
          f"{'full2_s':>8} {'us/it':>9} {'grad/s':>9} {'X_GB/s':>7} {'post_f2':>8}", flush=True)
    samplers = [ARGS.only] if ARGS.only else ["ula", "mala", "sgld"]
    results = []
    started = datetime.datetime.now().astimezone()
    for s in samplers:
        for (table, N, d, dt, n) in ROWS:
            if ARGS.table and table != ARGS.table:
                continue
            r = run_row(s, table, N, d, dt, n)
            r["dtype"] = dtype
            results.append(r)
            per = r.get("s_per_iter")
            print(f"{s:4} {table:4} {N:7d} {d:4d} {r['batch_size']:5d} {fmt(r.get('py_s'))} "
                  f"{fmt(r.get('kernel_s'))} {fmt(r.get('full1_s'))} {fmt(r.get('full2_s'))} "
                  f"{fmt(per * 1e6 if per else None, 9)} {fmt(r.get('grad_evals_per_s'), 9)} "
                  f"{fmt(r['x_bytes_per_s'] / 1e9 if 'x_bytes_per_s' in r else None, 7)} "
                  f"{r['post']['full2_s']:8.3g}", flush=True)
    if ARGS.no_json:
        return
    path = ARGS.json
    if not path:
        outdir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results")
        os.makedirs(outdir, exist_ok=True)
        path = os.path.join(outdir, f"post_jax-{started.strftime('%Y%m%d-%H%M%S')}-{socket.gethostname()}.json")
    doc = {
        "benchmark": "post_jax",
        "started": started.isoformat(),
        "machine": {"host": socket.gethostname(), "cpu_model": cpu_model(), "cores": os.cpu_count(),
                    "affinity": affinity},
        "jax": jax.__version__,
        "devices": [str(x) for x in jax.devices()],
        "env": {k: os.environ.get(k) for k in ("JAX_PLATFORMS", "XLA_FLAGS")},
        "settings": {"iterations": ARGS.iters, "loop_iterations": ARGS.loop_iters, "runs": ARGS.runs,
                     "versions": ARGS.versions, "dtype": dtype},
        "rows": results,
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"# wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
