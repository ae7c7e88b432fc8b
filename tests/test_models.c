/* test_models.c - the table of models: every regression (logistic, linear
 * with sampled or fixed sigma, Poisson), with and without intercept, in
 * float64 and float32, on both data layouts (panels for d <= 64, rows
 * above), against a direct long-double formula written here and against
 * central differences of it; minibatch estimates unbiased; the conjugate
 * linear regression against its known Gaussian posterior; Neal's funnel;
 * parameter names; the table's entries and checks. Runs once per SIMD
 * path (tests/CMakeLists.txt). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "rng.h"
#include "test_util.h"

#define PRIOR_VARIANCE 4.0
#define SIGMA_SCALE 1.5

/* One configuration of a regression. */
typedef struct reg_case {
    const char *model;
    int intercept;
    double sigma; /* linear: fixed sigma; NAN: log_sigma is sampled */
} reg_case;

static const reg_case cases[] = {
    {"logistic_regression", 0, NAN}, {"logistic_regression", 1, NAN},
    {"poisson_regression", 0, NAN},  {"poisson_regression", 1, NAN},
    {"linear_regression", 0, NAN},   {"linear_regression", 1, NAN},
    {"linear_regression", 0, 0.7},   {"linear_regression", 1, 0.7},
};
#define NCASES (sizeof cases / sizeof cases[0])

static int is_linear(const reg_case *c) {
    return strcmp(c->model, "linear_regression") == 0;
}
static int samples_sigma(const reg_case *c) {
    return is_linear(c) && isnan(c->sigma);
}
static size_t case_dim(const reg_case *c, size_t p) {
    return p + (size_t)c->intercept + (size_t)samples_sigma(c);
}

/* X ~ N(0, 1/p) entries, and y drawn from the case's model at a fixed
 * theta (counts by inversion, real y with noise sd 0.5). */
static dataset *make_data(const reg_case *c, size_t n, size_t p, uint64_t seed) {
    dataset *ds = dataset_alloc(n, p);
    assert_non_null(ds);
    rng_key key = rng_key_from_seed(seed);
    rng_normal_fill(rng_fold_in(key, 1), ds->X, n * p);
    double *beta = malloc(p * sizeof *beta);
    rng_normal_fill(rng_fold_in(key, 2), beta, p);
    for (size_t i = 0; i < n; i++) {
        double eta = 0.3;
        for (size_t j = 0; j < p; j++) {
            ds->X[i * p + j] /= sqrt((double)p);
            eta += ds->X[i * p + j] * beta[j];
        }
        double u = rng_uniform_f64(rng_fold_in(key, 3), i);
        if (strcmp(c->model, "logistic_regression") == 0) {
            ds->y[i] = u < 1 / (1 + exp(-eta));
        } else if (strcmp(c->model, "poisson_regression") == 0) {
            double mu = exp(eta), pk = exp(-mu), cdf = pk, k = 0;
            while (u > cdf && k < 1000)
                k++, pk *= mu / k, cdf += pk;
            ds->y[i] = k;
        } else {
            ds->y[i] = eta + 0.5 * rng_normal(rng_fold_in(key, 4), i);
        }
    }
    free(beta);
    return ds;
}

static model *make_model(const reg_case *c, const dataset *ds, model_dtype dt) {
    const model_def *def = model_find(c->model);
    assert_non_null(def);
    model_args a;
    char err[160] = "";
    model_args_defaults(def, &a);
    a.values[0] = PRIOR_VARIANCE;
    a.values[1] = c->intercept;
    if (is_linear(c)) {
        a.values[2] = SIGMA_SCALE;
        a.values[3] = c->sigma;
    }
    assert_int_equal(def->dim(&a, ds->d), case_dim(c, ds->d));
    model *m = def->create(ds, &a, dt, err, sizeof err);
    if (!m) fail_msg("%s: %s", c->model, err);
    assert_int_equal(model_dim(m), case_dim(c, ds->d));
    return m;
}

/* log p(y_i | eta) without the constants the model drops. */
static long double row_ll(const reg_case *c, long double eta, long double y, long double prec) {
    if (strcmp(c->model, "logistic_regression") == 0)
        return y * eta - ((eta > 0 ? eta : 0) + log1pl(expl(-fabsl(eta))));
    if (strcmp(c->model, "poisson_regression") == 0) return y * eta - expl(eta);
    return -0.5L * prec * (y - eta) * (y - eta);
}

/* The model's log density, written out: the prior on intercept and
 * coefficients, the rows idx[0..nb) (all when idx is NULL) scaled by
 * N / nb, and for a sampled log sigma u: -N u, the half-normal prior on
 * e^u and the Jacobian u. */
static long double direct_logp(const reg_case *c, const dataset *ds, const double *theta,
                               const uint32_t *idx, size_t nb) {
    size_t p = ds->d, ic = (size_t)c->intercept, d = case_dim(c, p);
    long double prior = 0, sum = 0, u = samples_sigma(c) ? theta[d - 1] : 0;
    long double prec = samples_sigma(c) ? expl(-2 * u) : 1.0L / ((long double)c->sigma * c->sigma);
    for (size_t j = 0; j < p + ic; j++)
        prior += (long double)theta[j] * theta[j];
    for (size_t r = 0; r < nb; r++) {
        size_t i = idx ? idx[r] : r;
        long double eta = ic ? theta[0] : 0;
        for (size_t j = 0; j < p; j++)
            eta += (long double)ds->X[i * p + j] * theta[ic + j];
        sum += row_ll(c, eta, ds->y[i], prec);
    }
    long double N = (long double)ds->n,
                lp = (idx ? N / nb : 1) * sum - prior / (2 * PRIOR_VARIANCE);
    if (samples_sigma(c)) lp += -N * u - expl(2 * u) / (2 * SIGMA_SCALE * SIGMA_SCALE) + u;
    return lp;
}

static void random_theta(double *theta, size_t d, uint64_t seed, double scale) {
    rng_normal_fill(rng_key_from_seed(seed), theta, d);
    for (size_t j = 0; j < d; j++)
        theta[j] *= scale;
}

/* ---- log densities against the formula ------------------------------------ */

/* float64 to 1e-12 relative (sums of n terms reassociated); float32 to
 * 1e-5 (X, y and eta rounded to 24 bits); at random theta of scale
 * scale / sqrt(d). */
static void check_logp_scaled(const reg_case *c, size_t n, size_t p, model_dtype dt, double scale) {
    dataset *ds = make_data(c, n, p, 11);
    model *m = make_model(c, ds, dt);
    model_work *w = model_work_create(m, 0);
    size_t d = model_dim(m);
    double *theta = malloc(d * sizeof *theta), *g = malloc(d * sizeof *g);
    double tol = dt == DTYPE_F32 ? 1e-5 : 1e-12;
    for (uint64_t trial = 0; trial < 3; trial++) {
        random_theta(theta, d, 100 + trial, scale / sqrt((double)d));
        double lp = model_logp_grad(m, w, theta, g, 1);
        long double ref = direct_logp(c, ds, theta, NULL, n);
        if (!(fabsl(lp - ref) <= tol * fabsl(ref)))
            fail_msg("%s icpt %d sigma %g n %zu p %zu dt %d: %.17g vs %.17Lg", c->model,
                     c->intercept, c->sigma, n, p, dt, lp, ref);
    }
    free(theta), free(g);
    model_work_free(w), model_free(m), dataset_free(ds);
}

static void check_logp(const reg_case *c, size_t n, size_t p, model_dtype dt) {
    check_logp_scaled(c, n, p, dt, 1.0);
}

static void test_logp_direct(void **state) {
    (void)state;
    for (size_t k = 0; k < NCASES; k++)
        for (int dt = 0; dt < 2; dt++) {
            check_logp(&cases[k], 1001, 5, (model_dtype)dt);  /* panels, ragged last panel */
            check_logp(&cases[k], 333, 70, (model_dtype)dt);  /* fused row kernel */
            check_logp(&cases[k], 20011, 3, (model_dtype)dt); /* eight segments of panels */
        }
    /* segments of more panels than one lane's product of (1 + t) may hold
     * (KPROD_PANELS: 120 in float32, 1000 in float64), in both dtypes */
    for (size_t k = 0; k < 2; k++) {                 /* logistic, without and with the intercept */
        check_logp(&cases[k], 40011, 2, DTYPE_F32);  /* segments of 157 panels */
        check_logp(&cases[k], 300007, 1, DTYPE_F64); /* segments of 1172 */
    }
    /* theta = 0: every row's 1 + t is 2, the largest factor the products
     * take, so these passes overflow unless the logs are taken in time */
    check_logp_scaled(&cases[0], 40011, 2, DTYPE_F32, 0.0);
    check_logp_scaled(&cases[0], 300007, 1, DTYPE_F64, 0.0);
    /* row groups (avx512): groups cut short (3, 37 rows), a pass over two
     * panels' flushes, the widest groups (4 KB rows: 1024 floats, 512
     * doubles), one column past them */
    for (size_t k = 0; k < NCASES; k++)
        for (int dt = 0; dt < 2; dt++) {
            size_t widest = dt == DTYPE_F32 ? 1024 : 512;
            check_logp(&cases[k], 3, 70, (model_dtype)dt);
            check_logp(&cases[k], 37, widest - 24, (model_dtype)dt);
            check_logp(&cases[k], 70, widest, (model_dtype)dt);
        }
    check_logp(&cases[1], 33, 1025, DTYPE_F32);
    check_logp(&cases[1], 33, 513, DTYPE_F64);
    check_logp(&cases[1], 40, 4100, DTYPE_F64); /* the block row kernel, d > 4096 */
    check_logp(&cases[3], 40, 4100, DTYPE_F32);
    check_logp(&cases[5], 40, 4100, DTYPE_F64);
}

/* ---- gradients against central differences -------------------------------- */

/* Central differences of the direct formula with step 1e-5: truncation
 * ~h^2 f''' and rounding ~1e-19 |f| / h in long double, far below the
 * tolerance. float64 gradients agree to 1e-6 (1 + |fd|); float32 ones
 * carry x and eta rounded to 24 bits, ~6e-8 relative per term, summed over
 * a few hundred terms of size ~1: 1e-4 (1 + |fd|). */
static void check_gradient(const reg_case *c, size_t n, size_t p, model_dtype dt) {
    dataset *ds = make_data(c, n, p, 12);
    model *m = make_model(c, ds, dt);
    model_work *w = model_work_create(m, 0);
    size_t d = model_dim(m);
    double *theta = malloc(d * sizeof *theta), *g = malloc(d * sizeof *g),
           *g1 = malloc(d * sizeof *g1);
    double tol = dt == DTYPE_F32 ? 1e-4 : 1e-6;
    random_theta(theta, d, 5, 0.5);
    model_logp_grad(m, w, theta, g, 0);
    for (size_t j = 0; j < d; j++) {
        double h = 1e-5, save = theta[j];
        theta[j] = save + h;
        long double fp = direct_logp(c, ds, theta, NULL, n);
        theta[j] = save - h;
        long double fm = direct_logp(c, ds, theta, NULL, n);
        theta[j] = save;
        double fd = (double)((fp - fm) / (2 * h));
        if (!(fabs(g[j] - fd) <= tol * (1 + fabs(fd))))
            fail_msg("%s icpt %d sigma %g p %zu dt %d: grad[%zu] %.12g vs fd %.12g", c->model,
                     c->intercept, c->sigma, p, dt, j, g[j], fd);
    }
    model_logp_grad(m, w, theta, g1, 1); /* want_logp changes nothing in the gradient */
    assert_memory_equal(g, g1, d * sizeof *g);
    free(theta), free(g), free(g1);
    model_work_free(w), model_free(m), dataset_free(ds);
}

static void test_gradient_fd(void **state) {
    (void)state;
    for (size_t k = 0; k < NCASES; k++)
        for (int dt = 0; dt < 2; dt++) {
            check_gradient(&cases[k], 300, 5, (model_dtype)dt);  /* panels */
            check_gradient(&cases[k], 150, 70, (model_dtype)dt); /* rows, or groups */
        }
    for (size_t k = 0; k < NCASES; k++) /* groups cut short, over two flushes */
        for (int dt = 0; dt < 2; dt++)
            check_gradient(&cases[k], 67, 130, (model_dtype)dt);
}

/* ---- minibatches ----------------------------------------------------------- */

/* The estimate equals log prior + (N/n) sum over the batch (against the
 * formula on the first batches), and over 2000 batches of 50 indices drawn
 * with replacement its log density and gradient average to the full-data
 * values: each within 5 standard errors of the mean of the batches. */
static void check_batch(const reg_case *c, size_t p, model_dtype dt) {
    size_t n = 1000, nb = 50, reps = 2000;
    dataset *ds = make_data(c, n, p, 14);
    model *m = make_model(c, ds, dt);
    model_work *w = model_work_create(m, nb);
    size_t d = model_dim(m);
    double *theta = malloc(d * sizeof *theta), *g = malloc(d * sizeof *g),
           *full = malloc(d * sizeof *full), *s1 = calloc(d + 1, sizeof *s1),
           *s2 = calloc(d + 1, sizeof *s2);
    uint32_t idx[50];
    random_theta(theta, d, 6, 0.3);
    double full_lp = model_logp_grad(m, w, theta, full, 1);
    for (size_t r = 0; r < reps; r++) {
        rng_index_fill(rng_key_from_seed(r), 0, (uint32_t)n, idx, nb);
        double lp = model_logp_grad_batch(m, w, theta, idx, nb, g, 1);
        if (r < 3) {
            long double ref = direct_logp(c, ds, theta, idx, nb);
            assert_true(fabsl(lp - ref) <= (dt == DTYPE_F32 ? 1e-5 : 1e-12) * fabsl(ref));
        }
        for (size_t j = 0; j < d; j++)
            s1[j] += g[j], s2[j] += g[j] * g[j];
        s1[d] += lp, s2[d] += lp * lp;
    }
    for (size_t j = 0; j <= d; j++) {
        double want = j < d ? full[j] : full_lp;
        double mean = s1[j] / reps, var = s2[j] / reps - mean * mean;
        if (!(fabs(mean - want) <= 5 * sqrt(var / reps)))
            fail_msg("%s icpt %d p %zu: coordinate %zu: mean %g, full %g, se %g", c->model,
                     c->intercept, p, j, mean, want, sqrt(var / reps));
    }
    free(theta), free(g), free(full), free(s1), free(s2);
    model_work_free(w), model_free(m), dataset_free(ds);
}

static void test_minibatch(void **state) {
    (void)state;
    for (size_t k = 0; k < NCASES; k++) {
        check_batch(&cases[k], 5, DTYPE_F64);  /* gathered into panels */
        check_batch(&cases[k], 70, DTYPE_F64); /* row-major gather */
    }
    check_batch(&cases[3], 5, DTYPE_F32);
    check_batch(&cases[5], 70, DTYPE_F32);
}

/* ---- the conjugate linear regression ----------------------------------------- */

/* With sigma fixed the posterior is N(mu, A^-1), A = Z^T Z / sigma^2 + I / v
 * for Z = [1, X] (with intercept), and A mu = b = Z^T y / sigma^2. So
 * log p(theta) + theta^T A theta / 2 - b^T theta is the same constant at
 * every theta, and the gradient is b - A theta. */
static void check_conjugate(int intercept, model_dtype dt, double tol) {
    reg_case c = {"linear_regression", intercept, 0.8};
    size_t n = 500, p = 4, ic = (size_t)intercept, d = p + ic;
    dataset *ds = make_data(&c, n, p, 21);
    model *m = make_model(&c, ds, dt);
    model_work *w = model_work_create(m, 0);
    long double A[5][5] = {{0}}, b[5] = {0}, s2 = (long double)c.sigma * c.sigma;
    for (size_t i = 0; i < n; i++) {
        long double z[5];
        for (size_t j = 0; j < d; j++)
            z[j] = j < ic ? 1.0L : ds->X[i * p + j - ic];
        for (size_t j = 0; j < d; j++) {
            b[j] += z[j] * ds->y[i] / s2;
            for (size_t k = 0; k < d; k++)
                A[j][k] += z[j] * z[k] / s2;
        }
    }
    for (size_t j = 0; j < d; j++)
        A[j][j] += 1 / PRIOR_VARIANCE;
    long double first = 0;
    for (uint64_t t = 0; t < 6; t++) {
        double theta[5], g[5];
        random_theta(theta, d, 40 + t, 2.0);
        long double q = 0, lin = 0, lp = model_logp_grad(m, w, theta, g, 1);
        for (size_t j = 0; j < d; j++) {
            long double at = 0;
            for (size_t k = 0; k < d; k++)
                at += A[j][k] * theta[k];
            q += theta[j] * at;
            lin += b[j] * theta[j];
            assert_true(fabsl(g[j] - (b[j] - at)) <= tol * (1 + fabsl(b[j]) + fabsl(at)));
        }
        long double constant = lp + q / 2 - lin;
        if (t == 0) first = constant;
        assert_true(fabsl(constant - first) <= tol * (fabsl(lp) + q + fabsl(lin)));
    }
    model_work_free(w), model_free(m), dataset_free(ds);
}

static void test_conjugate_linear(void **state) {
    (void)state;
    check_conjugate(0, DTYPE_F64, 1e-12);
    check_conjugate(1, DTYPE_F64, 1e-12);
    check_conjugate(1, DTYPE_F32, 1e-5);
}

/* ---- Poisson far from the data ------------------------------------------------- */

/* eta far past where e^eta overflows: the mean turns linear there
 * (simd.h), so lp is finite and very negative, the gradient finite. */
static void test_poisson_far_theta(void **state) {
    (void)state;
    const reg_case *c = &cases[3];
    for (int dt = 0; dt < 2; dt++) {
        for (size_t p = 5; p <= 70; p += 65) {
            dataset *ds = make_data(c, 200, p, 15);
            model *m = make_model(c, ds, (model_dtype)dt);
            model_work *w = model_work_create(m, 0);
            size_t d = model_dim(m);
            double *theta = malloc(d * sizeof *theta), *g = malloc(d * sizeof *g);
            for (size_t j = 0; j < d; j++)
                theta[j] = j % 2 ? 3000.0 : -2000.0;
            theta[0] = 900.0; /* the intercept */
            double lp = model_logp_grad(m, w, theta, g, 1);
            assert_true(isfinite(lp) && lp < -1e20);
            for (size_t j = 0; j < d; j++)
                assert_true(isfinite(g[j]));
            free(theta), free(g);
            model_work_free(w), model_free(m), dataset_free(ds);
        }
    }
}

/* ---- Neal's funnel --------------------------------------------------------------- */

static long double funnel_logp(const double *x, size_t d) {
    long double v = x[0], lp = -v * v / 18;
    for (size_t i = 1; i < d; i++)
        lp += -(long double)x[i] * x[i] / (2 * expl(v)) - v / 2;
    return lp;
}

static void test_funnel(void **state) {
    (void)state;
    const model_def *def = model_find("funnel");
    assert_non_null(def);
    model_args a;
    char err[160];
    model_args_defaults(def, &a);
    assert_true(a.values[0] == 10);
    assert_int_equal(def->dim(&a, 0), 10);
    a.values[0] = 6;
    model *m = def->create(NULL, &a, DTYPE_F64, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(model_dim(m), 6);
    assert_int_equal(model_num_data(m), 0);
    model_work *w = model_work_create(m, 0);
    double x[6], g[6];
    for (uint64_t t = 0; t < 4; t++) {
        random_theta(x, 6, 70 + t, 1.5);
        double lp = model_logp_grad(m, w, x, g, 1);
        assert_true(fabsl(lp - funnel_logp(x, 6)) <= 1e-12 * (1 + fabsl(funnel_logp(x, 6))));
        for (size_t j = 0; j < 6; j++) {
            double h = 1e-5, save = x[j];
            x[j] = save + h;
            long double fp = funnel_logp(x, 6);
            x[j] = save - h;
            long double fm = funnel_logp(x, 6);
            x[j] = save;
            double fd = (double)((fp - fm) / (2 * h));
            assert_true(fabs(g[j] - fd) <= 1e-6 * (1 + fabs(fd)));
        }
    }
    /* Exact draws: v = 3 z, so v's variance over 4000 draws is 9 within
     * 5 standard errors (var of z^2 is 2: se of the variance 9 sqrt(2/4000)). */
    double s = 0, s2 = 0;
    for (uint64_t k = 0; k < 4000; k++) {
        model_draw_prior(m, rng_key_from_seed(k), x);
        s += x[0], s2 += x[0] * x[0];
    }
    double mean = s / 4000, var = s2 / 4000 - mean * mean;
    assert_true(fabs(mean) <= 5 * 3 / sqrt(4000.0));
    assert_true(fabs(var - 9) <= 5 * 9 * sqrt(2 / 4000.0));
    a.values[0] = 1; /* below the bound */
    assert_null(def->create(NULL, &a, DTYPE_F64, err, sizeof err));
    assert_non_null(strstr(err, "dim"));
    model_work_free(w), model_free(m);
}

/* ---- names, the table, y ------------------------------------------------------------ */

static void test_param_names(void **state) {
    (void)state;
    dataset *ds = make_data(&cases[5], 20, 2, 3);
    char buf[64];
    model *m = make_model(&cases[5], ds, DTYPE_F64); /* linear, intercept, log_sigma */
    const char *want_plain[] = {"intercept", "theta.1", "theta.2", "log_sigma"};
    for (size_t j = 0; j < 4; j++) {
        model_param_name(m, j, buf, sizeof buf);
        assert_string_equal(buf, want_plain[j]);
    }
    model_free(m);
    const char *names[] = {"age", "income"};
    assert_int_equal(dataset_set_names(ds, names, buf, sizeof buf), 0);
    m = make_model(&cases[5], ds, DTYPE_F64);
    const char *want_named[] = {"intercept", "theta.age", "theta.income", "log_sigma"};
    for (size_t j = 0; j < 4; j++) {
        model_param_name(m, j, buf, sizeof buf);
        assert_string_equal(buf, want_named[j]);
    }
    assert_ptr_equal(model_definition(m), model_find("linear_regression"));
    model_free(m);
    m = make_model(&cases[6], ds, DTYPE_F64); /* fixed sigma, no intercept */
    assert_int_equal(model_dim(m), 2);
    model_param_name(m, 1, buf, sizeof buf);
    assert_string_equal(buf, "theta.income");
    model_free(m);
    double mean[2] = {0, 0}, cov[4] = {1, 0, 0, 1};
    m = model_gaussian_create(2, mean, cov);
    model_param_name(m, 1, buf, sizeof buf);
    assert_string_equal(buf, "theta.2");
    model_free(m);
    dataset_free(ds);
}

static void test_table(void **state) {
    (void)state;
    const char *want[] = {"logistic_regression", "linear_regression", "poisson_regression",
                          "gaussian", "funnel"};
    size_t k = 0;
    for (; model_table[k]; k++) {
        assert_true(k < 5);
        assert_string_equal(model_table[k]->name, want[k]);
        assert_ptr_equal(model_find(want[k]), model_table[k]);
        assert_non_null(model_table[k]->help);
        assert_true(model_table[k]->num_params <= MODEL_MAX_PARAMS);
    }
    assert_int_equal(k, 5);
    assert_null(model_find("probit"));
    const model_def *lin = model_find("linear_regression");
    assert_int_equal(lin->y, Y_REAL);
    assert_int_equal(model_find("poisson_regression")->y, Y_COUNTS);
    assert_int_equal(model_find("logistic_regression")->y, Y_BINARY);
    assert_int_equal(model_find("funnel")->y, Y_NONE);
    assert_int_equal(param_index(lin->params, lin->num_params, "sigma"), 3);
    assert_int_equal(param_index(lin->params, lin->num_params, "nope"), -1);
    model_args a;
    model_args_defaults(lin, &a);
    assert_true(a.values[0] == 10 && a.values[1] == 0 && a.values[2] == 1 && isnan(a.values[3]));
    assert_int_equal(lin->dim(&a, 3), 4); /* log_sigma */
    a.values[1] = 1, a.values[3] = 2;
    assert_int_equal(lin->dim(&a, 3), 4); /* intercept, sigma fixed */
    assert_string_equal(param_kind_name(P_BOOL), "boolean");
    assert_string_equal(param_kind_name(P_MATRIX), "matrix");
    assert_string_equal(y_kind_name(Y_COUNTS), "counts");
    assert_true(model_y_fits(Y_BINARY, 1) && !model_y_fits(Y_BINARY, 0.5));
    assert_true(model_y_fits(Y_COUNTS, 7) && !model_y_fits(Y_COUNTS, -1) &&
                !model_y_fits(Y_COUNTS, 2.5) && !model_y_fits(Y_COUNTS, INFINITY));
    assert_true(model_y_fits(Y_REAL, -2.5) && !model_y_fits(Y_REAL, NAN));
}

/* A y the model cannot take fails create, naming the first bad row. */
static void test_y_checked(void **state) {
    (void)state;
    dataset *ds = make_data(&cases[5], 10, 2, 3);
    for (size_t i = 0; i < 10; i++)
        ds->y[i] = (double)(i % 3);
    ds->y[4] = 2.5;
    char err[160] = "";
    model_args a;
    const model_def *pois = model_find("poisson_regression");
    model_args_defaults(pois, &a);
    assert_null(pois->create(ds, &a, DTYPE_F64, err, sizeof err));
    assert_non_null(strstr(err, "y[4]"));
    const model_def *lr = model_find("logistic_regression");
    model_args_defaults(lr, &a);
    assert_null(lr->create(ds, &a, DTYPE_F64, err, sizeof err));
    assert_non_null(strstr(err, "y[2]")); /* the first 2 */
    const model_def *lin = model_find("linear_regression");
    model_args_defaults(lin, &a);
    model *m = lin->create(ds, &a, DTYPE_F64, err, sizeof err);
    assert_non_null(m);
    model_free(m);
    a.values[0] = -1; /* prior_variance out of bounds */
    assert_null(lin->create(ds, &a, DTYPE_F64, err, sizeof err));
    assert_non_null(strstr(err, "prior_variance"));
    dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_logp_direct),
        cmocka_unit_test(test_gradient_fd),
        cmocka_unit_test(test_minibatch),
        cmocka_unit_test(test_conjugate_linear),
        cmocka_unit_test(test_poisson_far_theta),
        cmocka_unit_test(test_funnel),
        cmocka_unit_test(test_param_names),
        cmocka_unit_test(test_y_checked),
    };
    test_require_simd_path();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
