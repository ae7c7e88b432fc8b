/* test_sg.c - the stochastic-gradient family's exact properties, cheap
 * enough for every run: SGLD's draws are the bits of the step it replaced;
 * with all rows (no gradient noise) each estimator is the full gradient, so
 * SGLD is ULA and every CV or SVRG sampler is its plain counterpart, bit for
 * bit; the CV and SVRG estimates are unbiased (Hotelling's T^2 at a fixed
 * key); the schedules give their formulas; the runner's centre is the mode
 * the optimiser finds, and the optimiser finds known modes. The statistical
 * checks of the samplers' draws are in test_sg_stat.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../proto/job_spec.h"
#include "optimize.h"
#include "sg_gradient.h"
#include "simd.h"
#include "test_sg_util.h"
#include "test_util.h"

static chain_config sg_config(const char *sampler, double h, double batch) {
    chain_config cfg = {.num_samples = 200,
                        .thin = 1,
                        .chains = 2,
                        .key = rng_key_from_seed(21),
                        .init = INIT_ZEROS,
                        .progress_every = 50};
    test_use_sampler(&cfg, sampler, h);
    if (sampler_param_index(cfg.sampler, "batch_size") >= 0)
        test_set_param(&cfg, "batch_size", batch);
    return cfg;
}

static sg_draws *run_ok(const model *m, const chain_config *cfg) {
    int rc;
    sg_draws *r = sg_run(m, cfg, &rc);
    assert_int_equal(rc, MCMC_OK);
    return r;
}

/* SGLD's step before the family existed, written out: gradient on rows
 * idx from the index stream, noise from the noise stream's first d
 * elements, theta += h g + sqrt(2h) xi. */
static void old_sgld_chain(const model *m, const chain_config *cfg, uint32_t c, size_t batch,
                           double *out) {
    size_t d = model_dim(m), n = model_num_data(m);
    double h = cfg->params[0], sd = sqrt(2 * h);
    double *theta = calloc(d, sizeof(double)), *g = malloc(d * sizeof(double));
    double *noise = malloc(d * sizeof(double));
    uint32_t *idx = malloc(batch * sizeof(uint32_t));
    model_work *w = model_work_create(m, batch);
    rng_key kstep = rng_fold_in(rng_fold_in(cfg->key, c), 0);
    for (uint64_t t = 0; t < cfg->num_samples; t++) {
        rng_key ks = rng_fold_in(kstep, (uint32_t)t);
        rng_index_fill(ks, CHAIN_COUNTER(CHAIN_STREAM_INDEX, 0), (uint32_t)n, idx, batch);
        model_logp_grad_batch(m, w, theta, idx, batch, g, 0);
        simd_ops_get()->normal_fill(ks, CHAIN_COUNTER(CHAIN_STREAM_NOISE, 0), noise, d);
        for (size_t j = 0; j < d; j++)
            theta[j] += h * g[j] + sd * noise[j];
        memcpy(out + t * d, theta, d * sizeof(double));
    }
    model_work_free(w);
    free(theta), free(g), free(noise), free(idx);
}

static void test_sgld_keeps_its_bits(void **state) {
    (void)state;
    sg_problem p;
    sg_problem_make(&p, 500, 1);
    chain_config cfg = sg_config("sgld", 1e-4, 50);
    sg_draws *r = run_ok(p.m, &cfg);
    double *want = malloc(cfg.num_samples * p.d * sizeof(double));
    for (uint32_t c = 0; c < cfg.chains; c++) {
        old_sgld_chain(p.m, &cfg, c, 50, want);
        assert_memory_equal(r->x + c * cfg.num_samples * p.d, want,
                            cfg.num_samples * p.d * sizeof(double));
    }
    free(want);
    sg_draws_free(r);
    sg_problem_free(&p);
}

static void assert_same_draws(const model *m, chain_config *a, chain_config *b) {
    sg_draws *ra = run_ok(m, a), *rb = run_ok(m, b);
    assert_memory_equal(ra->x, rb->x, a->chains * a->num_samples * model_dim(m) * sizeof(double));
    sg_draws_free(ra), sg_draws_free(rb);
}

/* batch_size N: no minibatch, so no gradient noise: each estimator is the
 * full gradient and each sampler its full-gradient counterpart, exactly. */
static void test_full_batch_reduces(void **state) {
    (void)state;
    sg_problem p;
    sg_problem_make(&p, 300, 2);
    double centre[2] = {0.3, -0.2};
    const char *pairs[][2] = {{"sgld", "ula"},          {"sgld_svrg", "ula"},
                              {"sgld_cv", "ula"},       {"sghmc_cv", "sghmc"},
                              {"sghmc_svrg", "sghmc"},  {"sgnht_cv", "sgnht"},
                              {"badodab_cv", "badodab"}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        chain_config a = sg_config(pairs[k][0], 2e-4, 300);
        chain_config b = sg_config(pairs[k][1], 2e-4, 300);
        a.centre = centre;
        assert_same_draws(p.m, &a, &b);
    }
    sg_problem_free(&p);
}

/* A sampler_state for calling the estimators directly. */
typedef struct estimator_rig {
    sampler_state s;
    double params[SAMPLER_MAX_PARAMS];
    sg_state *g;
} estimator_rig;

static void rig_init(estimator_rig *r, const model *m, const char *sampler, size_t batch,
                     const double *centre, sg_estimator kind) {
    memset(r, 0, sizeof *r);
    const sampler_def *def = sampler_find(sampler);
    sampler_defaults(def, r->params);
    r->params[SG_P_STEP] = 1e-4;
    r->params[SG_P_BATCH] = (double)batch;
    int u = sampler_param_index(def, "update_rate");
    if (u >= 0) r->params[u] = 1000;
    sampler_state *s = &r->s;
    s->def = def, s->m = m, s->d = model_dim(m), s->n = model_num_data(m);
    s->params = r->params, s->batch = batch, s->centre = centre;
    s->w = model_work_create(m, batch);
    s->idx = malloc(batch * sizeof(uint32_t));
    size_t bytes = (def->scratch_size(s->d, r->params) + 63) / 64 * 64;
    assert_int_equal(posix_memalign(&s->priv, 64, bytes), 0);
    memset(s->priv, 0, bytes);
    r->g = sg_state_get(s, kind, 0);
}

static void rig_free(estimator_rig *r) {
    model_work_free(r->s.w);
    free(r->s.idx), free(r->s.priv);
}

/* Hotelling's T^2 = M xbar' S^-1 xbar of M draws of the estimate minus the
 * full gradient (d = 2), plus shift added to every draw (0: the test; > 0:
 * its power). */
static double hotelling(const double *x, size_t M, const double *shift) {
    double mean[2] = {0, 0}, S[2][2] = {{0, 0}, {0, 0}};
    for (size_t i = 0; i < M; i++)
        for (int a = 0; a < 2; a++)
            mean[a] += (x[2 * i + a] + shift[a]) / (double)M;
    for (size_t i = 0; i < M; i++)
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++)
                S[a][b] += (x[2 * i + a] + shift[a] - mean[a]) *
                           (x[2 * i + b] + shift[b] - mean[b]) / (double)(M - 1);
    double det = S[0][0] * S[1][1] - S[0][1] * S[1][0];
    double q = (S[1][1] * mean[0] * mean[0] - 2 * S[0][1] * mean[0] * mean[1] +
                S[0][0] * mean[1] * mean[1]) /
               det;
    return (double)M * q;
}

/* M estimates at theta minus the full gradient there, into x (M x 2); the
 * per-coordinate variance of the estimate into var. */
static void estimates(estimator_rig *r, const double *theta, size_t M, double *x, double *var) {
    double full[2], est[2];
    model_logp_grad(r->s.m, r->s.w, theta, full, 0);
    rng_key key = rng_key_from_seed(77);
    var[0] = var[1] = 0;
    for (size_t i = 0; i < M; i++) {
        r->g->t = 1; /* SVRG: not a refresh iteration */
        sg_gradient(r->g, &r->s, rng_fold_in(key, (uint32_t)i), 0, theta, est);
        for (int a = 0; a < 2; a++) {
            x[2 * i + a] = est[a] - full[a];
            var[a] += x[2 * i + a] * x[2 * i + a] / (double)M;
        }
    }
}

/* Unbiased: T^2 below chi^2_2's 0.999 quantile, 13.8 (M = 4000, so the F
 * form d (M - 1) / (M - d) F(d, M - d) is chi^2 within 0.1%); a bias of
 * 0.1 sd per coordinate (T^2 about 4000 * 0.02 = 80) must fail it. And the
 * point of control variates: near the centre the variance is far below
 * the plain minibatch's. */
static void test_cv_and_svrg_are_unbiased(void **state) {
    (void)state;
    sg_problem p;
    sg_problem_make(&p, 1000, 3);
    const size_t M = 4000, batch = 20;
    double centre[2] = {p.mean[0], p.mean[1]};
    double theta[2] = {p.mean[0] + 0.05, p.mean[1] - 0.04}; /* ~1.5 posterior sd away */
    double *x = malloc(M * 2 * sizeof(double)), var_mb[2], var[2];
    estimator_rig mb;
    rig_init(&mb, p.m, "sgld", batch, NULL, SG_MINIBATCH);
    estimates(&mb, theta, M, x, var_mb);
    double zero[2] = {0, 0};
    assert_true(hotelling(x, M, zero) < 13.8);
    rig_free(&mb);
    const char *names[2] = {"sgld_cv", "sgld_svrg"};
    for (int k = 0; k < 2; k++) {
        estimator_rig r;
        rig_init(&r, p.m, names[k], batch, centre, k == 0 ? SG_CV : SG_SVRG);
        if (k == 1) { /* SVRG's refresh at t = 0 takes the centre */
            double out[2];
            sg_gradient(r.g, &r.s, rng_key_from_seed(5), 0, centre, out);
        }
        estimates(&r, theta, M, x, var);
        double t2 = hotelling(x, M, zero);
        printf("# %s: T^2 = %.2f; variance %.3g %.3g (minibatch %.3g %.3g)\n", names[k], t2, var[0],
               var[1], var_mb[0], var_mb[1]);
        assert_true(t2 < 13.8);
        double shift[2] = {0.1 * sqrt(var[0]), 0.1 * sqrt(var[1])};
        assert_true(hotelling(x, M, shift) > 40);
        assert_true(var[0] < 0.1 * var_mb[0] && var[1] < 0.1 * var_mb[1]);
        rig_free(&r);
    }
    free(x);
    sg_problem_free(&p);
}

/* At the centre the CV estimate is the full gradient (g_B(c) - g_B(c) = 0,
 * bit for bit), and SVRG's refresh iteration returns the full gradient. */
static void test_estimators_at_the_centre(void **state) {
    (void)state;
    sg_problem p;
    sg_problem_make(&p, 400, 4);
    double centre[2] = {0.7, -0.1}, full[2], est[2];
    estimator_rig r;
    rig_init(&r, p.m, "sgld_cv", 10, centre, SG_CV);
    model_logp_grad(p.m, r.s.w, centre, full, 0);
    sg_gradient(r.g, &r.s, rng_key_from_seed(1), 0, centre, est);
    assert_memory_equal(est, full, sizeof full);
    rig_free(&r);
    rig_init(&r, p.m, "sgld_svrg", 10, NULL, SG_SVRG);
    double theta[2] = {0.2, 0.4};
    model_logp_grad(p.m, r.s.w, theta, full, 0);
    sg_gradient(r.g, &r.s, rng_key_from_seed(1), 0, theta, est);
    assert_memory_equal(est, full, sizeof full);
    assert_memory_equal(r.g->centre_own, theta, sizeof theta);
    rig_free(&r);
    sg_problem_free(&p);
}

/* stepsize__ follows each schedule's formula, iteration by iteration. */
static void test_schedules(void **state) {
    (void)state;
    sg_problem p;
    sg_problem_make(&p, 200, 5);
    const double a = 1e-3;
    for (int kind = 0; kind < 3; kind++) {
        chain_config cfg = sg_config("sghmc", a, 20);
        cfg.chains = 1, cfg.num_samples = 100, cfg.thin = 1;
        test_set_param(&cfg, "schedule", kind);
        test_set_param(&cfg, "schedule_b", 3);
        test_set_param(&cfg, "schedule_gamma", 0.55);
        test_set_param(&cfg, "cycle_length", 30);
        test_set_param(&cfg, "leapfrog_steps", 2);
        sg_draws *r = run_ok(p.m, &cfg);
        const double pi = 3.14159265358979323846;
        for (uint64_t t = 0; t < cfg.num_samples; t++) {
            double want = kind == SG_CONSTANT     ? a
                          : kind == SG_POLYNOMIAL ? a * pow(3.0 + (double)t, -0.55)
                                                  : a / 2 * (cos(pi * (double)(t % 30) / 30) + 1);
            assert_float_equal(r->stepsize[t], want, 1e-15);
        }
        sg_draws_free(r);
    }
    sg_problem_free(&p);
}

/* A known mode: the Gaussian posterior's mean. L-BFGS reaches it to the
 * tolerance; Adam on minibatches, then L-BFGS's polish, too. Adam alone
 * (10,000 iterations of 100 rows, from 200 posterior sd away) lands within
 * a quarter of a posterior sd: its last iterates jitter by about lr = 3e-3
 * here and their average keeps a fraction of that; a control-variate centre
 * needs no better (the chain itself wanders a few sd around it). */
static void test_optimiser_finds_the_mode(void **state) {
    (void)state;
    sg_problem p;
    sg_problem_make(&p, 2000, 6);
    double sd0 = sqrt(p.cov[0][0]), sd1 = sqrt(p.cov[1][1]);
    for (int method = OPTIMIZE_LBFGS; method <= OPTIMIZE_ADAM + 1; method++) {
        optimize_options o;
        optimize_options_default(&o);
        o.method = method > OPTIMIZE_ADAM ? OPTIMIZE_ADAM : (optimize_method)method;
        o.tolerance = 1e-8;
        o.batch_size = 100;
        o.adam_iter = 10000;
        o.key = rng_key_from_seed(3);
        if (method > OPTIMIZE_ADAM) o.max_iter = 0; /* Adam alone */
        double theta[2] = {5, 5};
        optimize_result res;
        assert_int_equal(optimize_mode(p.m, &o, theta, &res), MCMC_OK);
        printf("# %s%s: %s after %llu iterations, |grad| %.3g, theta - mode %.3g %.3g sd\n",
               optimize_method_name(res.method), o.max_iter ? "" : " alone",
               optimize_status_name(res.status), (unsigned long long)res.iterations, res.grad_norm,
               (theta[0] - p.mean[0]) / sd0, (theta[1] - p.mean[1]) / sd1);
        if (o.max_iter) { /* stalled: log p no longer moves in double precision */
            assert_true(res.status == OPTIMIZE_CONVERGED || res.status == OPTIMIZE_STALLED);
            assert_true(fabs(theta[0] - p.mean[0]) < 1e-6 * sd0);
            assert_true(fabs(theta[1] - p.mean[1]) < 1e-6 * sd1);
        } else {
            assert_true(fabs(theta[0] - p.mean[0]) < 0.25 * sd0);
            assert_true(fabs(theta[1] - p.mean[1]) < 0.25 * sd1);
        }
        double g[2];
        model_work *w = model_work_create(p.m, 0);
        assert_float_equal(res.lp, model_logp_grad(p.m, w, theta, g, 1), 1e-9 * fabs(res.lp));
        model_work_free(w);
    }
    sg_problem_free(&p);
}

/* The logistic posterior's mode: the gradient vanishes there, and every
 * nearby point has a lower log density. */
static void test_optimiser_logistic(void **state) {
    (void)state;
    dataset *ds = NULL;
    synth_params sp = {.n = 1000, .d = 5, .seed = 4, .theta_variance = 10};
    assert_int_equal(dataset_synthesize(&sp, &ds), 0);
    model *m = model_logistic_create(ds, 10, DTYPE_F64);
    optimize_options o;
    optimize_options_default(&o);
    double theta[5] = {0}, g[5], x[5];
    optimize_result res;
    assert_int_equal(optimize_mode(m, &o, theta, &res), MCMC_OK);
    assert_int_equal(res.method, OPTIMIZE_LBFGS);
    assert_true(res.status == OPTIMIZE_CONVERGED || res.status == OPTIMIZE_STALLED);
    assert_true(res.grad_norm < 1e-5);
    model_work *w = model_work_create(m, 0);
    for (int j = 0; j < 5; j++)
        for (int sign = -1; sign <= 1; sign += 2) {
            memcpy(x, theta, sizeof x);
            x[j] += sign * 1e-3;
            assert_true(model_logp_grad(m, w, x, g, 1) < res.lp);
        }
    model_work_free(w);
    model_free(m), dataset_free(ds);
}

/* Without a centre the runner finds the mode first: the same draws as a
 * spec that gives that mode. Bad options are refused. */
static void test_runner_centre_is_the_mode(void **state) {
    (void)state;
    sg_problem p;
    sg_problem_make(&p, 500, 7);
    chain_config a = sg_config("sgld_cv", 1e-4, 25), b = a;
    optimize_options o;
    optimize_options_default(&o);
    double mode[2] = {0, 0};
    optimize_result res;
    assert_int_equal(optimize_mode(p.m, &o, mode, &res), MCMC_OK);
    b.centre = mode;
    assert_same_draws(p.m, &a, &b);
    o.learning_rate = -1;
    assert_int_equal(optimize_mode(p.m, &o, mode, &res), MCMC_EINVAL);
    sg_problem_free(&p);
}

/* sampler.centre: a vector of the model's dimension, kept in the stored
 * spec; a wrong length or a non-array is an error at its path. */
static void test_spec_centre(void **state) {
    (void)state;
    const char *good = "{\"model\": {\"type\": \"gaussian\", \"mean\": [0, 1], \"cov\": [[1, 0], "
                       "[0, 1]]}, \"sampler\": {\"type\": \"sghmc_cv\", \"step_size\": 0.01, "
                       "\"centre\": [0.5, 1.5]}}";
    job_spec s;
    spec_errors errs = {0};
    assert_int_equal(job_spec_parse_text(good, strlen(good), &s, &errs), 0);
    assert_int_equal(job_spec_check_shape(&s, 0, 0, &errs), 0);
    assert_non_null(s.chain.centre);
    assert_float_equal(s.chain.centre[1], 1.5, 0);
    json_t *j = job_spec_to_json(&s);
    json_t *c = json_object_get(json_object_get(j, "sampler"), "centre");
    assert_int_equal(json_array_size(c), 2);
    assert_float_equal(json_real_value(json_array_get(c, 0)), 0.5, 0);
    json_decref(j);
    job_spec_free(&s);
    const char *bad[] = {
        "{\"model\": {\"type\": \"gaussian\", \"mean\": [0, 1], \"cov\": [[1, 0], [0, 1]]}, "
        "\"sampler\": {\"type\": \"sgld_cv\", \"step_size\": 0.01, \"centre\": [0.5]}}",
        "{\"model\": {\"type\": \"gaussian\", \"mean\": [0, 1], \"cov\": [[1, 0], [0, 1]]}, "
        "\"sampler\": {\"type\": \"sgld_cv\", \"step_size\": 0.01, \"centre\": 3}}",
        "{\"model\": {\"type\": \"gaussian\", \"mean\": [0, 1], \"cov\": [[1, 0], [0, 1]]}, "
        "\"sampler\": {\"type\": \"sgld\", \"step_size\": 0.01, \"centre\": [0, 1]}}",
    };
    for (size_t k = 0; k < 3; k++) {
        spec_errors e = {0};
        int rc = job_spec_parse_text(bad[k], strlen(bad[k]), &s, &e);
        if (rc == 0) rc = job_spec_check_shape(&s, 0, 0, &e);
        assert_int_not_equal(rc, 0);
        assert_string_equal(e.items[0].path, "sampler.centre");
        job_spec_free(&s);
    }
}

int main(void) {
    test_require_simd_path();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgld_keeps_its_bits),
        cmocka_unit_test(test_full_batch_reduces),
        cmocka_unit_test(test_cv_and_svrg_are_unbiased),
        cmocka_unit_test(test_estimators_at_the_centre),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_optimiser_finds_the_mode),
        cmocka_unit_test(test_optimiser_logistic),
        cmocka_unit_test(test_runner_centre_is_the_mode),
        cmocka_unit_test(test_spec_centre),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
