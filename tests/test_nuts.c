/* test_nuts.c - static HMC and NUTS (core/sampler_hmc.c, core/sampler_nuts.c)
 * and the leapfrog integrator they share (core/hamiltonian.c), driven step
 * by step without the chain runner: a test fills a sampler_state by hand,
 * with a fixed step size (no adaptation), and derives iteration t's key as
 * chain.h does, fold_in(fold_in(fold_in(key, 0), 0), t).
 *
 * Monte Carlo standard errors come from batch means: a chain of S draws is
 * cut into 50 batches of S / 50 consecutive draws (far longer than the
 * autocorrelation times here, which are a few draws), and MCSE =
 * sd(batch means) / sqrt(50). Statistical assertions allow 4 MCSE, so with
 * fixed keys a correct sampler passes and a wrong mean, variance or
 * weighting fails by many MCSE.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "errors.h"
#include "hamiltonian.h"
#include "metric.h"
#include "model.h"
#include "sampler.h"
#include "test_util.h"

#define BATCHES 50

/* A sampler_state filled by hand, and everything it points to. */
typedef struct rig {
    const sampler_def *def;
    model *m;
    metric *metric;
    sampler_state s;
    double params[SAMPLER_MAX_PARAMS];
    double *vectors; /* theta, grad, buf[0..3] */
    rng_key kc;
    uint64_t t; /* iterations run */
} rig;

static void set_param(rig *r, const char *name, double v) {
    int i = param_index(r->def->params, r->def->num_params, name);
    assert_true(i >= 0);
    r->params[i] = v;
}

/* The gaussian N(mean, cov) in d dimensions, the metric kind with inverse
 * inv (NULL: unit), the sampler's defaults with step size eps. */
static rig *rig_create(const sampler_def *def, size_t d, const double *mean, const double *cov,
                       metric_kind kind, const double *inv, double eps) {
    rig *r = calloc(1, sizeof *r);
    r->def = def;
    r->m = model_gaussian_create(d, mean, cov);
    assert_non_null(r->m);
    r->metric = metric_create(kind, d);
    assert_non_null(r->metric);
    if (inv) assert_int_equal(metric_set(r->metric, inv), 0);
    for (size_t i = 0; i < def->num_params; i++)
        r->params[i] = def->params[i].def;
    r->vectors = calloc(6 * d, sizeof(double));
    sampler_state *s = &r->s;
    *s = (sampler_state){.def = def,
                         .m = r->m,
                         .d = d,
                         .params = r->params,
                         .step_size = eps,
                         .metric = r->metric,
                         .theta = r->vectors,
                         .grad = r->vectors + d};
    for (int i = 0; i < 4; i++)
        s->buf[i] = r->vectors + (2 + i) * d;
    s->w = model_work_create(r->m, 0);
    assert_non_null(s->w);
    r->kc = rng_fold_in(rng_key_from_seed(20261206), 0);
    return r;
}

/* After the parameters are final: the scratch, and lp and grad at theta. */
static void rig_ready(rig *r, rng_key key) {
    sampler_state *s = &r->s;
    size_t bytes = (r->def->scratch_size(s->d, r->params) + 63) / 64 * 64;
    free(s->priv);
    s->priv = aligned_alloc(64, bytes);
    memset(s->priv, 0, bytes);
    s->lp = model_logp_grad(r->m, s->w, s->theta, s->grad, 1);
    r->kc = key;
    r->t = 0;
}

static void rig_free(rig *r) {
    free(r->s.priv);
    model_work_free(r->s.w);
    metric_free(r->metric);
    model_free(r->m);
    free(r->vectors);
    free(r);
}

/* Iteration t's key, as the chain runner derives it. */
static rng_key iteration_key(const rig *r, uint64_t t) {
    return rng_fold_in(rng_fold_in(r->kc, 0), (uint32_t)t);
}

/* Runs n iterations, keeping theta (n x d) and the statistics (n x
 * STAT_COUNT, NAN where the sampler reports none) when the arrays are
 * given. Every step writes exactly the statistics of its mask. */
static void rig_run(rig *r, size_t n, double *draws, double *stats) {
    double buf[STAT_COUNT];
    for (size_t i = 0; i < n; i++) {
        double *st = stats ? stats + i * STAT_COUNT : buf;
        for (unsigned k = 0; k < STAT_COUNT; k++)
            st[k] = NAN;
        r->def->step(&r->s, iteration_key(r, r->t++), st);
        for (unsigned k = 0; k < STAT_COUNT; k++)
            assert_true(!isnan(st[k]) == !!(r->def->stats & STAT_BIT(k)));
        if (draws) memcpy(draws + i * r->s.d, r->s.theta, r->s.d * sizeof(double));
    }
}

typedef struct estimate {
    double mean, mcse;
} estimate;

/* The mean of x[i * stride] over n draws, with its batch-means MCSE; with
 * centre finite, the mean of (x - centre)^2 instead. */
static estimate estimate_of(const double *x, size_t n, size_t stride, double centre) {
    size_t len = n / BATCHES;
    double bm[BATCHES], sum = 0;
    for (size_t b = 0; b < BATCHES; b++) {
        double acc = 0;
        for (size_t i = b * len; i < (b + 1) * len; i++) {
            double v = x[i * stride];
            acc += isfinite(centre) ? (v - centre) * (v - centre) : v;
        }
        bm[b] = acc / (double)len;
        sum += bm[b];
    }
    double mean = sum / BATCHES, ss = 0;
    for (size_t b = 0; b < BATCHES; b++)
        ss += (bm[b] - mean) * (bm[b] - mean);
    return (estimate){mean, sqrt(ss / (BATCHES - 1) / BATCHES)};
}

/* The mean of (x[i*stride] - mx)(y[i*stride] - my), with its MCSE. */
static estimate covariance_of(const double *x, const double *y, size_t n, size_t stride, double mx,
                              double my) {
    double *prod = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        prod[i] = (x[i * stride] - mx) * (y[i * stride] - my);
    estimate e = estimate_of(prod, n, 1, NAN);
    free(prod);
    return e;
}

static void assert_within(estimate e, double truth, double k_mcse, const char *what) {
    if (!(fabs(e.mean - truth) <= k_mcse * e.mcse))
        fail_msg("%s: estimate %.6g (mcse %.3g) vs %.6g: %.1f mcse apart", what, e.mean, e.mcse,
                 truth, fabs(e.mean - truth) / e.mcse);
}

static const double zeros[8] = {0};
static const double identity5[25] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1,
                                     0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1};
/* A correlated 2-d Gaussian (correlation 0.9, scales 1 and 3). */
static const double corr_mean[2] = {1, -2};
static const double corr_cov[4] = {1, 2.7, 2.7, 9};

/* The phase-space point of a rig: theta, a momentum from z, v = Minv p. */
static ham_point point_of(rig *r, double *mem, const double *theta, const double *z) {
    size_t d = r->s.d;
    ham_point pt = ham_point_at(mem, d);
    memcpy(pt.theta, theta, d * sizeof(double));
    pt.lp = model_logp_grad(r->m, r->s.w, pt.theta, pt.grad, 1);
    metric_momentum(r->metric, z, pt.p);
    metric_velocity(r->metric, pt.p, pt.v);
    return pt;
}

/* L leapfrog steps forward, the momentum flipped, L steps more and the
 * momentum flipped again return to the start up to rounding (1e-12), for a
 * dense metric (where Minv p mixes coordinates) and a diagonal one. */
static void test_leapfrog_reversible(void **state) {
    (void)state;
    const double theta0[2] = {0.3, -1.1}, z[2] = {0.7, -0.4}, inv_diag[2] = {2, 5};
    for (int kind = METRIC_DIAG; kind <= METRIC_DENSE; kind++) {
        rig *r = rig_create(&sampler_hmc, 2, corr_mean, corr_cov, (metric_kind)kind,
                            kind == METRIC_DENSE ? corr_cov : inv_diag, 0.1);
        double mem[16], start[16];
        ham_point pt = point_of(r, mem, theta0, z);
        memcpy(start, mem, sizeof mem);
        double lp0 = pt.lp;
        for (int i = 0; i < 50; i++)
            ham_leapfrog(&r->s, &pt, 0.1);
        assert_true(fabs(pt.theta[0] - theta0[0]) > 0.1); /* it moved */
        for (size_t j = 0; j < 2; j++)
            pt.p[j] = -pt.p[j];
        metric_velocity(r->metric, pt.p, pt.v);
        for (int i = 0; i < 50; i++)
            ham_leapfrog(&r->s, &pt, 0.1);
        for (size_t j = 0; j < 2; j++) {
            assert_true(fabs(pt.theta[j] - start[j]) < 1e-12);
            assert_true(fabs(-pt.p[j] - start[2 + j]) < 1e-12);
        }
        assert_true(fabs(pt.lp - lp0) < 1e-12);
        assert_int_equal(r->s.grad_evals, 100);
        rig_free(r);
    }
}

/* H after a fixed integration time T = 1 from a fixed point. */
static double energy_error(rig *r, double eps) {
    const double theta0[2] = {1.8, 0.5}, z[2] = {0.9, 1.3};
    double mem[16];
    ham_point pt = point_of(r, mem, theta0, z);
    double h0 = ham_energy(&r->s, &pt);
    int n = (int)lround(1.0 / eps);
    for (int i = 0; i < n; i++)
        ham_leapfrog(&r->s, &pt, eps);
    return ham_energy(&r->s, &pt) - h0;
}

/* Leapfrog is a second-order integrator: the energy error after a fixed
 * time is c eps^2 + O(eps^4), so halving eps divides it by 4 (within 1%
 * at these small steps), and it is far from 0 (the test would otherwise
 * compare rounding noise). */
static void test_leapfrog_second_order(void **state) {
    (void)state;
    rig *r = rig_create(&sampler_hmc, 2, corr_mean, corr_cov, METRIC_UNIT, NULL, 0.1);
    double e1 = energy_error(r, 0.02), e2 = energy_error(r, 0.01), e3 = energy_error(r, 0.005);
    printf("# leapfrog energy error at T = 1: %.3e %.3e %.3e\n", e1, e2, e3);
    assert_true(fabs(e3) > 1e-7);
    assert_true(fabs(e1 / e2 - 4) < 0.04);
    assert_true(fabs(e2 / e3 - 4) < 0.04);
    rig_free(r);
}

/* A hand-made trajectory in 2-d, unit metric: momenta of constant length
 * turning by delta per step, p_k = (cos k delta, sin k delta). The
 * summed momentum points along the middle angle, so the criterion holds
 * while the trajectory has turned by less than pi in all and fails past pi. */
static int circle_continues(double span, int steps) {
    double rho[2] = {0}, first[2] = {1, 0}, last[2] = {0}, zero[2] = {0};
    for (int k = 0; k <= steps; k++) {
        double a = span * k / steps;
        rho[0] += cos(a), rho[1] += sin(a);
        last[0] = cos(a), last[1] = sin(a);
    }
    return ham_no_uturn(first, last, rho, zero, 2);
}

static void test_uturn_criterion(void **state) {
    (void)state;
    assert_true(circle_continues(0.9 * M_PI, 20));
    assert_false(circle_continues(1.1 * M_PI, 20));
    assert_true(circle_continues(0.99 * M_PI, 200));
    assert_false(circle_continues(1.01 * M_PI, 200));
    /* the criterion reads p_sharp = Minv p, not p: with Minv = diag(4, 1),
     * p_end = (-1, 2) moves along rho = (1, 1) (p . rho = 1 > 0) but its
     * velocity (-4, 2) does not (-2 < 0) */
    double v_start[2] = {1, 1}, p_end[2] = {-1, 2}, v_end[2] = {-4, 2};
    double r1[2] = {0.25, 0.5}, r2[2] = {0.75, 0.5}, zero[2] = {0};
    assert_true(ham_no_uturn(v_start, p_end, r1, r2, 2));
    assert_false(ham_no_uturn(v_start, v_end, r1, r2, 2));
    /* rho = r1 + r2 is summed: each part alone would pass */
    double v_a[2] = {1, 0}, s1[2] = {3, -1}, s2[2] = {-4, 3};
    assert_true(ham_no_uturn(v_a, v_a, s1, zero, 2));
    assert_false(ham_no_uturn(v_a, v_a, s1, s2, 2));
    /* both ends must move along rho */
    double fwd[2] = {1, 0}, back[2] = {-1, 0.1}, rho[2] = {1, 1};
    assert_false(ham_no_uturn(fwd, back, rho, zero, 2));
    assert_false(ham_no_uturn(back, fwd, rho, zero, 2));
}

/* The join of old = momenta at angles 0, a and new = b, c (times pi), 2-d,
 * unit metric. */
static int join_on_circle(double a, double b, double c) {
    double q[4][2], rho_old[2], rho_new[2], angle[4] = {0, a, b, c};
    for (int k = 0; k < 4; k++)
        q[k][0] = cos(M_PI * angle[k]), q[k][1] = sin(M_PI * angle[k]);
    for (int j = 0; j < 2; j++)
        rho_old[j] = q[0][j] + q[1][j], rho_new[j] = q[2][j] + q[3][j];
    ham_end e[4] = {{q[0], q[0]}, {q[1], q[1]}, {q[2], q[2]}, {q[3], q[3]}};
    /* the checks across the pair pass on their own */
    assert_true(ham_no_uturn(q[0], q[2], rho_old, q[2], 2));
    assert_true(ham_no_uturn(q[1], q[3], rho_new, q[1], 2));
    return ham_join_no_uturn(e[0], e[1], rho_old, e[2], e[3], rho_new, 2);
}

/* Joining two trajectories: besides the criterion over the join, Stan
 * checks across the pair. A hand-made 1-d trajectory (unit metric, v = p)
 * whose old part moves right (momenta 1, 1) and whose new part starts
 * moving left and then fast right again (-0.5, 3): over the join rho = 4.5
 * and both ends move right, but old plus new's first point (rho = 1.5)
 * ends moving left, so the join stops. Mirrored in time, the other check
 * across the pair catches it. */
static void test_join_criterion(void **state) {
    (void)state;
    double one = 1, minus_half = -0.5, three = 3, two = 2, rho_new = 2.5;
    ham_end a = {&one, &one}, back = {&minus_half, &minus_half}, fast = {&three, &three};
    /* the criterion over the join alone passes */
    assert_true(ham_no_uturn(&one, &three, &two, &rho_new, 1));
    assert_false(ham_join_no_uturn(a, a, &two, back, fast, &rho_new, 1));
    /* mirrored in time: old = (3, -0.5), new = (1, 1); old's last point
     * plus new (rho = 1.5) starts moving left */
    assert_true(ham_no_uturn(&three, &one, &rho_new, &two, 1));
    assert_false(ham_join_no_uturn(fast, back, &rho_new, a, a, &two, 1));
    /* a join that moves right throughout continues */
    assert_true(ham_join_no_uturn(a, a, &two, fast, fast, &rho_new, 1));
    /* 2-d, unit momenta at angles 0, 0.4 pi (old) and 0.7 pi, 1.1 pi (new):
     * each part with the other's adjacent point turns by 0.7 pi < pi, the
     * join by 1.1 pi: only the criterion over the join stops it; spread
     * over 0.9 pi, the join goes on */
    assert_false(join_on_circle(0.4, 0.7, 1.1));
    assert_true(join_on_circle(0.3, 0.6, 0.9));
}

/* probe: one leapfrog step of s->step_size from theta with the momentum
 * from the iteration key's noise stream; min(1, exp(H0 - H)) by hand for
 * N(0, 1), theta untouched. */
static void test_probe(void **state) {
    (void)state;
    const sampler_def *defs[2] = {&sampler_nuts, &sampler_hmc};
    for (int k = 0; k < 2; k++) {
        rig *r = rig_create(defs[k], 1, zeros, identity5, METRIC_UNIT, NULL, 0);
        r->s.theta[0] = 0.8;
        rig_ready(r, rng_key_from_seed(7));
        rng_key ks = iteration_key(r, 3);
        double p = rng_normal(ks, CHAIN_COUNTER(CHAIN_STREAM_NOISE, 0));
        const double eps[3] = {0.01, 1.5, 3};
        for (int i = 0; i < 3; i++) {
            r->s.step_size = eps[i];
            double x = 0.8, ph = p - 0.5 * eps[i] * x;
            double x1 = x + eps[i] * ph, p1 = ph - 0.5 * eps[i] * x1;
            double dh = (x * x + p * p) / 2 - (x1 * x1 + p1 * p1) / 2;
            double want = dh > 0 ? 1 : exp(dh), got = defs[k]->probe(&r->s, ks);
            assert_true(fabs(got - want) < 1e-12);
            assert_true(r->s.theta[0] == 0.8);
        }
        rig_free(r);
    }
}

/* n draws of NUTS on N(0, I_d) with a unit metric and step size eps:
 * each coordinate's mean and variance within 4 MCSE; energy__ at the
 * kept point, -lp + |p|^2 / 2 with (theta, p) ~ exp(-H), is Gamma(d, 1):
 * mean d within 4 MCSE. Returns the mean accept_stat. */
static double nuts_standard_normal(size_t d, double eps, size_t n) {
    rig *r = rig_create(&sampler_nuts, d, zeros, identity5, METRIC_UNIT, NULL, eps);
    rig_ready(r, rng_key_from_seed(1000 + d));
    double *x = malloc(n * d * sizeof(double)), *st = malloc(n * STAT_COUNT * sizeof(double));
    rig_run(r, n, x, st);
    char what[64];
    uint64_t leapfrogs = 0;
    for (size_t i = 0; i < n; i++)
        leapfrogs += (uint64_t)st[i * STAT_COUNT + STAT_NLEAPFROG];
    assert_int_equal(r->s.grad_evals, leapfrogs);
    for (size_t j = 0; j < d; j++) {
        snprintf(what, sizeof what, "d = %zu, mean of x%zu", d, j);
        assert_within(estimate_of(x + j, n, d, NAN), 0, 4, what);
        snprintf(what, sizeof what, "d = %zu, variance of x%zu", d, j);
        assert_within(estimate_of(x + j, n, d, 0), 1, 4, what);
    }
    assert_within(estimate_of(st + STAT_ENERGY, n, STAT_COUNT, NAN), (double)d, 4, "energy__");
    estimate acc = estimate_of(st + STAT_ACCEPT, n, STAT_COUNT, NAN);
    estimate depth = estimate_of(st + STAT_TREEDEPTH, n, STAT_COUNT, NAN);
    printf("# NUTS on N(0, I_%zu), eps %.2f: accept_stat %.3f, tree depth %.2f, %.2f leapfrogs\n",
           d, eps, acc.mean, depth.mean, (double)leapfrogs / (double)n);
    for (size_t i = 0; i < n; i++) {
        const double *s = st + i * STAT_COUNT;
        double lp = 0;
        for (size_t j = 0; j < d; j++)
            lp -= 0.5 * x[i * d + j] * x[i * d + j];
        assert_true(s[STAT_STEPSIZE] == eps && s[STAT_DIVERGENT] == 0);
        assert_true(fabs(s[STAT_LP] - lp) < 1e-12); /* lp__ belongs to the kept draw */
    }
    free(x), free(st);
    rig_free(r);
    return acc.mean;
}

/* NUTS on N(0, 1) and N(0, I_5) with a unit metric at fixed step sizes.
 * accept_stat: at a small step it is near 1; at eps = 1.2 (about 0.6 of
 * the stability limit 2) the leapfrog energy error is O(0.1-1) per step,
 * so the mean sits clearly below 1 and well above 0. */
static void test_nuts_standard_normal(void **state) {
    (void)state;
    double a = nuts_standard_normal(1, 0.25, 40000);
    assert_true(a > 0.97 && a <= 1);
    a = nuts_standard_normal(5, 0.25, 20000);
    assert_true(a > 0.95 && a <= 1);
    a = nuts_standard_normal(5, 1.2, 40000);
    assert_true(a > 0.5 && a < 0.95);
}

/* NUTS with a dense metric equal to the covariance of a correlated 2-d
 * Gaussian (p_sharp = Minv p differs from p in direction): means, both
 * variances and the covariance within 4 MCSE. */
static void test_nuts_dense_metric(void **state) {
    (void)state;
    size_t n = 40000;
    rig *r = rig_create(&sampler_nuts, 2, corr_mean, corr_cov, METRIC_DENSE, corr_cov, 0.6);
    rig_ready(r, rng_key_from_seed(77));
    double *x = malloc(n * 2 * sizeof(double));
    rig_run(r, n, x, NULL);
    assert_within(estimate_of(x, n, 2, NAN), corr_mean[0], 4, "mean x0");
    assert_within(estimate_of(x + 1, n, 2, NAN), corr_mean[1], 4, "mean x1");
    assert_within(estimate_of(x, n, 2, corr_mean[0]), corr_cov[0], 4, "var x0");
    assert_within(estimate_of(x + 1, n, 2, corr_mean[1]), corr_cov[3], 4, "var x1");
    assert_within(covariance_of(x, x + 1, n, 2, corr_mean[0], corr_mean[1]), corr_cov[1], 4, "cov");
    free(x);
    rig_free(r);
}

/* Tree depth and leapfrog count. Stan's relation: the trajectory keeps
 * 2^depth - 1 leapfrog steps (1 + 2 + ... + 2^(depth-1)); when the last
 * subtree was built but dropped (it diverged, or a part of it turned) its
 * steps count too, between 1 and 2^depth of them. So
 *   2^depth - 1 <= n_leapfrog <= 2^(depth+1) - 1, n_leapfrog >= 1,
 * n_leapfrog == 2^depth - 1 exactly unless the last subtree was dropped,
 * and never more than 2^max_tree_depth - 1 steps.
 * On N(0, I_5) with a step of 0.05, the ends of a trajectory of duration T
 * keep moving apart while p0 . (x(T) - x0) ~ |p0|^2 T - (x0 . p0) T^2 / 2
 * stays positive, so 7 steps (T = 0.35) almost never turn: with
 * max_tree_depth 3 nearly every tree stops at the cap. Uncapped, trees turn
 * after about pi / 0.05 = 63 steps: depths near 6, and some iterations
 * drop their last subtree. */
static void test_nuts_tree_depth(void **state) {
    (void)state;
    const int limits[2] = {3, 10};
    for (int k = 0; k < 2; k++) {
        rig *r = rig_create(&sampler_nuts, 5, zeros, identity5, METRIC_UNIT, NULL, 0.05);
        set_param(r, "max_tree_depth", limits[k]);
        rig_ready(r, rng_key_from_seed(5));
        size_t n = 2000, exact = 0, capped = 0;
        double *st = malloc(n * STAT_COUNT * sizeof(double)), max_depth = 0;
        rig_run(r, n, NULL, st);
        for (size_t i = 0; i < n; i++) {
            const double *s = st + i * STAT_COUNT;
            double depth = s[STAT_TREEDEPTH], steps = s[STAT_NLEAPFROG];
            assert_true(depth >= 0 && depth <= limits[k]);
            assert_true(steps >= 1 && steps >= ldexp(1, (int)depth) - 1);
            assert_true(steps <= ldexp(1, (int)depth + 1) - 1);
            assert_true(steps <= ldexp(1, limits[k]) - 1);
            if (depth == limits[k]) assert_true(steps == ldexp(1, limits[k]) - 1);
            exact += steps == ldexp(1, (int)depth) - 1;
            capped += depth == limits[k];
            max_depth = depth > max_depth ? depth : max_depth;
        }
        printf("# max_tree_depth %d: deepest %.0f, %zu of %zu at the cap, %zu at 2^depth - 1 "
               "steps\n",
               limits[k], max_depth, capped, n, exact);
        if (k == 0) assert_true(capped > n * 99 / 100);
        if (k == 1) assert_true(max_depth >= 6 && capped == 0 && exact < n);
        free(st);
        rig_free(r);
    }
}

/* A Gaussian with scales 10 and 0.1 under a unit metric: leapfrog is
 * unstable along the narrow direction once eps > 2 * 0.1, and at eps = 1
 * the energy error passes 1000 within a few steps unless the momentum
 * along it happens to be tiny: most iterations are divergent, the divergent subtree is never
 * sampled (lp__ and energy__ stay finite and far below the diverged energies), and its steps count
 * in n_leapfrog. At eps = 0.02 (stable) no iteration diverges. */
static void test_nuts_divergence(void **state) {
    (void)state;
    const double cov[4] = {100, 0, 0, 0.01};
    const double steps[2] = {1, 0.02};
    for (int k = 0; k < 2; k++) {
        rig *r = rig_create(&sampler_nuts, 2, zeros, cov, METRIC_UNIT, NULL, steps[k]);
        rig_ready(r, rng_key_from_seed(11));
        size_t n = 1000, divergent = 0;
        double *st = malloc(n * STAT_COUNT * sizeof(double));
        rig_run(r, n, NULL, st);
        for (size_t i = 0; i < n; i++) {
            const double *s = st + i * STAT_COUNT;
            assert_true(s[STAT_DIVERGENT] == 0 || s[STAT_DIVERGENT] == 1);
            divergent += s[STAT_DIVERGENT] == 1;
            assert_true(isfinite(s[STAT_LP]) && s[STAT_ENERGY] < 1000);
            if (s[STAT_DIVERGENT])
                assert_true(s[STAT_NLEAPFROG] > ldexp(1, (int)s[STAT_TREEDEPTH]) - 1);
        }
        printf("# eps %.2f on scales 10, 0.1: %zu of %zu divergent\n", steps[k], divergent, n);
        if (k == 0)
            assert_true(divergent > n / 2);
        else
            assert_int_equal(divergent, 0);
        free(st);
        rig_free(r);
    }
}

/* Same key: the same draws and statistics, bit for bit; another key:
 * different draws. With jitter the step sizes vary within eps (1 +- j). */
static void test_nuts_reproducible(void **state) {
    (void)state;
    size_t n = 300, d = 5;
    double *x[3], *st[3];
    const uint64_t seeds[3] = {42, 42, 43};
    for (int k = 0; k < 3; k++) {
        rig *r = rig_create(&sampler_nuts, d, zeros, identity5, METRIC_DIAG, NULL, 0.4);
        set_param(r, "jitter", 0.5);
        rig_ready(r, rng_key_from_seed(seeds[k]));
        x[k] = malloc(n * d * sizeof(double));
        st[k] = malloc(n * STAT_COUNT * sizeof(double));
        rig_run(r, n, x[k], st[k]);
        rig_free(r);
    }
    assert_memory_equal(x[0], x[1], n * d * sizeof(double));
    assert_memory_equal(st[0], st[1], n * STAT_COUNT * sizeof(double));
    assert_memory_not_equal(x[0], x[2], n * d * sizeof(double));
    double lo = INFINITY, hi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = st[0][i * STAT_COUNT + STAT_STEPSIZE];
        lo = e < lo ? e : lo, hi = e > hi ? e : hi;
    }
    assert_true(lo >= 0.2 && hi <= 0.6 && lo < 0.25 && hi > 0.55);
    for (int k = 0; k < 3; k++)
        free(x[k]), free(st[k]);
}

/* Static HMC on the correlated 2-d Gaussian with the dense metric set to
 * the covariance (the dynamics become rotations in whitened coordinates):
 * 5 steps of 0.3 +- 20% jitter, means, variances and covariance within 4
 * MCSE; every iteration takes 5 steps and reports int_time__ = 5 eps. */
static void test_hmc_dense_gaussian(void **state) {
    (void)state;
    size_t n = 40000;
    rig *r = rig_create(&sampler_hmc, 2, corr_mean, corr_cov, METRIC_DENSE, corr_cov, 0.3);
    set_param(r, "num_steps", 5);
    set_param(r, "jitter", 0.2);
    rig_ready(r, rng_key_from_seed(99));
    double *x = malloc(n * 2 * sizeof(double)), *st = malloc(n * STAT_COUNT * sizeof(double));
    rig_run(r, n, x, st);
    assert_within(estimate_of(x, n, 2, NAN), corr_mean[0], 4, "mean x0");
    assert_within(estimate_of(x + 1, n, 2, NAN), corr_mean[1], 4, "mean x1");
    assert_within(estimate_of(x, n, 2, corr_mean[0]), corr_cov[0], 4, "var x0");
    assert_within(estimate_of(x + 1, n, 2, corr_mean[1]), corr_cov[3], 4, "var x1");
    assert_within(covariance_of(x, x + 1, n, 2, corr_mean[0], corr_mean[1]), corr_cov[1], 4, "cov");
    assert_within(estimate_of(st + STAT_ENERGY, n, STAT_COUNT, NAN), 2, 4, "energy__");
    estimate acc = estimate_of(st + STAT_ACCEPT, n, STAT_COUNT, NAN);
    printf("# HMC, dense metric: accept_stat %.3f, accept rate %.3f\n", acc.mean,
           (double)r->s.accepted / (double)n);
    /* E[accept_stat] is the expected accept rate: the two agree */
    assert_true(fabs(acc.mean - (double)r->s.accepted / (double)n) < 0.01);
    assert_true(acc.mean > 0.9);
    for (size_t i = 0; i < n; i++) {
        const double *s = st + i * STAT_COUNT;
        assert_true(s[STAT_NLEAPFROG] == 5 && s[STAT_DIVERGENT] == 0);
        assert_true(s[STAT_STEPSIZE] >= 0.24 && s[STAT_STEPSIZE] <= 0.36);
        assert_true(fabs(s[STAT_INT_TIME] - 5 * s[STAT_STEPSIZE]) < 1e-12);
    }
    assert_int_equal(r->s.grad_evals, 5 * n);
    free(x), free(st);
    rig_free(r);
}

/* Without num_steps, HMC takes round(path_length / eps) steps (at least
 * 1); a huge step diverges, is rejected (theta and lp unchanged) and says
 * so. */
static void test_hmc_path_length_and_divergence(void **state) {
    (void)state;
    rig *r = rig_create(&sampler_hmc, 1, zeros, identity5, METRIC_UNIT, NULL, 0.3);
    set_param(r, "path_length", 2.0);
    r->s.theta[0] = 0.5;
    rig_ready(r, rng_key_from_seed(3));
    double st[STAT_COUNT];
    r->def->step(&r->s, iteration_key(r, 0), st);
    assert_true(st[STAT_NLEAPFROG] == 7); /* round(6.67) */
    r->s.step_size = 5;
    r->def->step(&r->s, iteration_key(r, 1), st);
    assert_true(st[STAT_NLEAPFROG] == 1);
    r->s.step_size = 50;
    set_param(r, "num_steps", 10);
    double theta = r->s.theta[0], lp = r->s.lp;
    r->def->step(&r->s, iteration_key(r, 2), st);
    assert_true(st[STAT_DIVERGENT] == 1 && st[STAT_ACCEPT] == 0);
    assert_true(st[STAT_NLEAPFROG] < 10); /* it stopped at the divergence */
    assert_true(r->s.theta[0] == theta && r->s.lp == lp && st[STAT_LP] == lp);
    rig_free(r);
}

/* What a chain run hands over: its draws and statistics (in the order of
 * the sampler's mask), and the adapted step size and metric. */
typedef struct run_out {
    size_t d, nstats;
    double *x, *st;
    double step_size, inv[8];
    int adapted;
} run_out;

static int keep_block(void *ctx, const chain_block *b) {
    run_out *o = ctx;
    memcpy(o->x + b->first_draw * o->d, b->draws, b->count * o->d * sizeof(double));
    memcpy(o->st + b->first_draw * o->nstats, b->stats, b->count * o->nstats * sizeof(double));
    if (b->adapted && !o->adapted) {
        o->adapted = 1, o->step_size = b->adapted_step_size;
        if (b->adapted_metric) memcpy(o->inv, b->adapted_metric->inv, o->d * sizeof(double));
    }
    return 0;
}

static run_out run_chain(const model *m, const chain_config *cfg) {
    size_t d = model_dim(m);
    run_out o = {.d = d, .nstats = chain_stat_count(cfg->sampler->stats)};
    o.x = malloc(chain_kept_draws(cfg) * d * sizeof(double));
    o.st = malloc(chain_kept_draws(cfg) * o.nstats * sizeof(double));
    assert_int_equal(chain_run(m, cfg, 0, keep_block, &o, NULL), MCMC_OK);
    return o;
}

static chain_config config_for(const sampler_def *def, double eps, uint64_t seed) {
    chain_config cfg = {.sampler = def,
                        .num_samples = 300,
                        .thin = 1,
                        .chains = 1,
                        .key = rng_key_from_seed(seed),
                        .init = INIT_ZEROS,
                        .progress_every = 64};
    sampler_defaults(def, cfg.params);
    cfg.params[sampler_param_index(def, "step_size")] = eps;
    return cfg;
}

/* The chain runner calls the step as the tests above do: without warmup,
 * chain 0 of key k is the hand-driven chain of fold_in(k, 0), bit for
 * bit, with the statistics of the mask in chain_stat order. */
static void test_runner_runs_the_step(void **state) {
    (void)state;
    const sampler_def *defs[2] = {&sampler_nuts, &sampler_hmc};
    const double cov[9] = {1, 0.5, 0, 0.5, 2, 0, 0, 0, 0.5};
    for (int k = 0; k < 2; k++) {
        chain_config cfg = config_for(defs[k], 0.4, 31);
        size_t n = cfg.num_samples;
        model *m = model_gaussian_create(3, zeros, cov);
        run_out o = run_chain(m, &cfg);
        model_free(m);
        rig *r = rig_create(defs[k], 3, zeros, cov, METRIC_DIAG, NULL, 0.4);
        rig_ready(r, rng_fold_in(cfg.key, 0));
        double *x = malloc(n * 3 * sizeof(double)), *st = malloc(n * STAT_COUNT * sizeof(double));
        rig_run(r, n, x, st);
        assert_memory_equal(o.x, x, n * 3 * sizeof(double));
        for (size_t i = 0; i < n; i++)
            for (unsigned s = 0, c = 0; s < STAT_COUNT; s++)
                if (defs[k]->stats & STAT_BIT(s))
                    assert_true(o.st[i * o.nstats + c++] == st[i * STAT_COUNT + s]);
        free(x), free(st), free(o.x), free(o.st);
        rig_free(r);
    }
}

/* With Stan's warmup (the runner's dual averaging and metric windows) on
 * a Gaussian with scales 0.1, 1 and 10, NUTS's accept statistic steers the
 * step size: over the last 200 warmup iterations (the end of the last
 * metric window and the term buffer) dual averaging holds the mean
 * accept_stat at the target 0.8 (within 0.05: 200 draws of sd ~0.2, plus
 * the step's drift). Sampling then runs at exp(x-bar), the average of the
 * log step sizes, which is smaller than the iterates' typical step: its
 * accept_stat sits above the target, as Stan's and NumPyro's do (stan
 * issue 3105, numpyro issue 1786; 0.87-0.92 averaged over 8 chains for
 * d = 1..50 here). The
 * diagonal metric recovers the variances (the last window holds about 500
 * draws: within 30%), and the means sit within 4 MCSE. */
static void test_runner_adapts_nuts(void **state) {
    (void)state;
    const double cov[9] = {0.01, 0, 0, 0, 1, 0, 0, 0, 100};
    model *m = model_gaussian_create(3, zeros, cov);
    chain_config cfg = config_for(&sampler_nuts, 1, 8);
    cfg.num_warmup = 1000, cfg.num_samples = 4000, cfg.save_warmup = 1;
    run_out o = run_chain(m, &cfg);
    size_t w = cfg.num_warmup, n = cfg.num_samples, acc = 1; /* accept_stat__ follows lp__ */
    double late = 0;
    for (size_t i = w - 200; i < w; i++)
        late += o.st[i * o.nstats + acc] / 200;
    estimate a = estimate_of(o.st + w * o.nstats + acc, n, o.nstats, NAN);
    printf("# NUTS adapted: step %.3f, inverse metric %.4f %.3f %.1f, accept_stat %.3f at the "
           "end of warmup, %.3f after\n",
           o.step_size, o.inv[0], o.inv[1], o.inv[2], late, a.mean);
    assert_true(o.adapted);
    assert_true(fabs(late - 0.8) < 0.05);
    assert_true(a.mean > 0.8 && a.mean < 0.97);
    for (size_t j = 0; j < 3; j++) {
        double v = cov[j * 4];
        assert_true(o.inv[j] > v / 1.3 && o.inv[j] < v * 1.3);
        assert_within(estimate_of(o.x + w * 3 + j, n, 3, NAN), 0, 4, "mean after warmup");
        assert_within(estimate_of(o.x + w * 3 + j, n, 3, 0), v, 4, "variance after warmup");
    }
    free(o.x), free(o.st);
    model_free(m);
}

int main(void) {
    test_require_simd_path();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leapfrog_reversible),
        cmocka_unit_test(test_leapfrog_second_order),
        cmocka_unit_test(test_uturn_criterion),
        cmocka_unit_test(test_join_criterion),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_nuts_standard_normal),
        cmocka_unit_test(test_nuts_dense_metric),
        cmocka_unit_test(test_nuts_tree_depth),
        cmocka_unit_test(test_nuts_divergence),
        cmocka_unit_test(test_nuts_reproducible),
        cmocka_unit_test(test_hmc_dense_gaussian),
        cmocka_unit_test(test_hmc_path_length_and_divergence),
        cmocka_unit_test(test_runner_runs_the_step),
        cmocka_unit_test(test_runner_adapts_nuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
