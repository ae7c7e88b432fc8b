/* test_job_spec.c - the job spec parser: defaults, every error path with
 * its JSON path, key and init forms, the Gaussian target, round trips, the
 * error envelope, and (under ASan) no leaks on any path.
 *
 * Specs are written with single quotes for readability; q() turns them
 * into JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_spec.h"

/* A valid logistic-regression spec's required parts, to extend. */
#define BASE "'data': {'dataset': 'd1'}, 'sampler': {'type': 'ula', 'step_size': 0.1}"
#define SYNTH                                                                                      \
    "'data': {'synthetic': {'n': 100, 'd': 3}}, 'sampler': {'type': 'ula', 'step_size': 0.1}"
#define GAUSS_MODEL "'model': {'type': 'gaussian', 'mean': [0, 1], 'cov': [[1, 0.5], [0.5, 2]]}"

/* The text with every ' replaced by ", in a buffer that lives until the
 * next call. */
static const char *q(const char *text) {
    static char buf[16384];
    size_t n = strlen(text);
    assert_true(n < sizeof buf);
    for (size_t i = 0; i <= n; i++)
        buf[i] = text[i] == '\'' ? '"' : text[i];
    return buf;
}

static int parse(const char *text, job_spec *spec, spec_errors *errs) {
    const char *json = q(text);
    return job_spec_parse_text(json, strlen(json), spec, errs);
}

static void print_errors(const spec_errors *errs) {
    for (size_t i = 0; i < errs->count; i++)
        print_error("  %s: %s\n", errs->items[i].path, errs->items[i].message);
}

static void assert_valid(const char *text, job_spec *spec) {
    spec_errors errs;
    int rc = parse(text, spec, &errs);
    if (rc != 0) print_errors(&errs);
    assert_int_equal(rc, 0);
    assert_int_equal(errs.count, 0);
}

static void assert_owns_nothing(const job_spec *spec) {
    for (size_t i = 0; i < MODEL_MAX_PARAMS; i++)
        assert_null(spec->model_arrays[i]);
    assert_null(spec->chain.init_values);
}

/* The error at exactly path whose message contains text, if any. */
static const spec_error *find_error(const spec_errors *errs, const char *path, const char *text) {
    for (size_t i = 0; i < errs->count; i++)
        if (strcmp(errs->items[i].path, path) == 0 && strstr(errs->items[i].message, text))
            return &errs->items[i];
    return NULL;
}

static void expect_error_in(const spec_errors *errs, const char *path, const char *text) {
    if (find_error(errs, path, text)) return;
    print_error("no error at \"%s\" containing \"%s\"; got:\n", path, text);
    print_errors(errs);
    fail();
}

/* Parses text, which must fail with (at least) an error at path whose
 * message contains text, and leave the spec owning nothing. */
static void expect_error(const char *text, const char *path, const char *message) {
    job_spec spec;
    spec_errors errs;
    assert_int_equal(parse(text, &spec, &errs), -1);
    assert_owns_nothing(&spec);
    expect_error_in(&errs, path, message);
}

/* Like expect_error, and path's error must be the only one. */
static void expect_only_error(const char *text, const char *path, const char *message) {
    job_spec spec;
    spec_errors errs;
    assert_int_equal(parse(text, &spec, &errs), -1);
    assert_owns_nothing(&spec);
    expect_error_in(&errs, path, message);
    if (errs.count != 1) print_errors(&errs);
    assert_int_equal(errs.count, 1);
    assert_int_equal(errs.dropped, 0);
}

/* ---- Valid specs ---- */

/* The value of a sampler parameter of a parsed spec. */
static double param_of(const job_spec *s, const char *name) {
    int i = sampler_param_index(s->chain.sampler, name);
    assert_true(i >= 0);
    return s->chain.params[i];
}

static void test_full_spec(void **state) {
    (void)state;
    job_spec s;
    assert_valid("{'model': {'type': 'logistic_regression', 'prior_variance': 2.5},"
                 " 'data': {'synthetic': {'n': 500, 'd': 2, 'seed': 7, 'rho': 0.5,"
                 " 'theta_variance': 3}},"
                 " 'sampler': {'type': 'sgld', 'step_size': 0.005, 'batch_size': 50},"
                 " 'num_samples': 200, 'num_warmup': 10, 'thin': 3, 'chains': 2,"
                 " 'key': [1, 2], 'init': [[1, 2], [3, 4.5]], 'dtype': 'float32',"
                 " 'progress_every': 25, 'row_threads': 4}",
                 &s);
    assert_ptr_equal(s.model, model_find("logistic_regression"));
    assert_true(s.model_args.values[0] == 2.5);
    assert_int_equal(s.data, SPEC_DATA_SYNTHETIC);
    assert_int_equal(s.synthetic.n, 500);
    assert_int_equal(s.synthetic.d, 2);
    assert_int_equal(s.synthetic.seed, 7);
    assert_true(s.synthetic.rho == 0.5);
    assert_true(s.synthetic.theta_variance == 3);
    assert_ptr_equal(s.chain.sampler, &sampler_sgld);
    assert_true(param_of(&s, "step_size") == 0.005);
    assert_true(param_of(&s, "batch_size") == 50);
    assert_int_equal(s.chain.num_samples, 200);
    assert_int_equal(s.chain.num_warmup, 10);
    assert_int_equal(s.chain.thin, 3);
    assert_int_equal(s.chain.chains, 2);
    assert_int_equal(s.chain.key.hi, 1);
    assert_int_equal(s.chain.key.lo, 2);
    assert_int_equal(s.chain.init, INIT_VALUES);
    assert_int_equal(s.chain.init_per_chain, 1);
    assert_int_equal(s.init_dim, 2);
    const double want[] = {1, 2, 3, 4.5};
    for (int i = 0; i < 4; i++)
        assert_true(s.chain.init_values[i] == want[i]);
    assert_int_equal(s.dtype, DTYPE_F32);
    assert_int_equal(s.chain.progress_every, 25);
    assert_int_equal(s.chain.row_threads, 4);
    job_spec_free(&s);
}

static void test_defaults(void **state) {
    (void)state;
    job_spec s;
    assert_valid("{" BASE "}", &s);
    assert_ptr_equal(s.model, model_find("logistic_regression"));
    assert_true(s.model_args.values[0] == 10);
    assert_true(s.model_args.values[1] == 0); /* no intercept */
    assert_int_equal(s.data, SPEC_DATA_DATASET);
    assert_string_equal(s.dataset_id, "d1");
    assert_ptr_equal(s.chain.sampler, &sampler_ula);
    assert_int_equal(s.chain.sampler->num_params, 1); /* ULA takes step_size alone */
    assert_int_equal(s.chain.num_samples, 1000);
    assert_int_equal(s.chain.num_warmup, 0);
    assert_int_equal(s.chain.thin, 1);
    assert_int_equal(s.chain.chains, 1);
    assert_int_equal(s.chain.key.hi, 0);
    assert_int_equal(s.chain.key.lo, 0);
    assert_int_equal(s.chain.init, INIT_ZEROS);
    assert_null(s.chain.init_values);
    assert_int_equal(s.dtype, DTYPE_F64);
    assert_int_equal(s.chain.progress_every, 1000);
    assert_int_equal(s.chain.row_threads, 1);
    job_spec_free(&s);

    /* model without a type is logistic regression; synthetic defaults. */
    assert_valid("{'model': {'prior_variance': 4}, " SYNTH "}", &s);
    assert_ptr_equal(s.model, model_find("logistic_regression"));
    assert_true(s.model_args.values[0] == 4);
    assert_int_equal(s.synthetic.seed, 0);
    assert_true(s.synthetic.rho == 0);
    assert_true(s.synthetic.theta_variance == 10);
    job_spec_free(&s);
}

static void test_sgld_full_batch(void **state) {
    (void)state;
    job_spec s;
    assert_valid("{'data': {'dataset': 'x'}, 'sampler': {'type': 'sgld', 'step_size': 1e-4}}", &s);
    assert_true(param_of(&s, "batch_size") == 0);
    job_spec_free(&s);
    assert_valid("{'data': {'dataset': 'x'},"
                 " 'sampler': {'type': 'sgld', 'step_size': 1e-4, 'batch_size': 0}}",
                 &s);
    assert_true(param_of(&s, "batch_size") == 0);
    job_spec_free(&s);
}

static void test_integral_reals(void **state) {
    (void)state;
    job_spec s;
    assert_valid("{" BASE ", 'num_samples': 1000.0, 'thin': 1e1, 'chains': 4.0, 'key': 5.0}", &s);
    assert_int_equal(s.chain.num_samples, 1000);
    assert_int_equal(s.chain.thin, 10);
    assert_int_equal(s.chain.chains, 4);
    assert_int_equal(s.chain.key.lo, 5);
    job_spec_free(&s);
}

static void test_iteration_limit_boundary(void **state) {
    (void)state;
    job_spec s;
    assert_valid("{" BASE ", 'num_warmup': 1, 'num_samples': 4294967294}", &s);
    job_spec_free(&s);
    assert_valid("{" BASE ", 'num_samples': 1431655765, 'thin': 3}", &s);
    job_spec_free(&s);
}

/* ---- Errors: structure ---- */

/* Labels: name, tags and priority are kept, written back, and checked. */
static void test_labels(void **state) {
    (void)state;
    job_spec spec;
    assert_valid("{\"data\": {\"dataset\": \"d1\"}, \"sampler\": {\"type\": \"mala\"},"
                 " \"name\": \"sweep 3\", \"tags\": [\"lr\", \"a=b/c\"], \"priority\": -5}",
                 &spec);
    assert_string_equal(spec.name, "sweep 3");
    assert_int_equal(spec.ntags, 2);
    assert_string_equal(spec.tags[1], "a=b/c");
    assert_int_equal(spec.priority, -5);
    json_t *back = job_spec_to_json(&spec);
    assert_string_equal(json_string_value(json_object_get(back, "name")), "sweep 3");
    assert_int_equal(json_array_size(json_object_get(back, "tags")), 2);
    assert_int_equal(json_integer_value(json_object_get(back, "priority")), -5);
    json_decref(back);
    job_spec_free(&spec);
    const char *base = "{\"data\": {\"dataset\": \"d1\"}, \"sampler\": {\"type\": \"mala\"}, ";
    char text[512];
    snprintf(text, sizeof text, "%s\"name\": 7}", base);
    expect_only_error(text, "name", "expected a string");
    snprintf(text, sizeof text, "%s\"name\": \"a\\nb\"}", base);
    expect_only_error(text, "name", "without control characters");
    snprintf(text, sizeof text, "%s\"tags\": [\"ok\", \"no space\"]}", base);
    expect_only_error(text, "tags[1]", "a tag is");
    snprintf(text, sizeof text, "%s\"tags\": [\"x\", \"x\"]}", base);
    expect_only_error(text, "tags[1]", "given twice");
    snprintf(text, sizeof text, "%s\"priority\": 101}", base);
    expect_only_error(text, "priority", "from -100 to 100");
    snprintf(text, sizeof text, "%s\"priority\": 1.5}", base);
    expect_only_error(text, "priority", "from -100 to 100");
}

static void test_root_not_object(void **state) {
    (void)state;
    expect_only_error("[1, 2]", "", "expected a JSON object");
    expect_only_error("5", "", "expected a JSON object");
    expect_only_error("null", "", "expected a JSON object");

    job_spec s;
    spec_errors errs;
    assert_int_equal(job_spec_parse(NULL, &s, &errs), -1);
    expect_error_in(&errs, "", "expected a JSON object");
}

static void test_unknown_fields(void **state) {
    (void)state;
    expect_only_error("{" BASE ", 'chain': 2}", "chain", "unknown field");
    expect_only_error("{'model': {'type': 'logistic_regression', 'prior': 1}, " BASE "}",
                      "model.prior", "unknown field");
    expect_only_error("{'data': {'dataset': 'a', 'format': 'csv'},"
                      " 'sampler': {'type': 'ula', 'step_size': 0.1}}",
                      "data.format", "unknown field");
    expect_only_error("{'data': {'synthetic': {'n': 10, 'd': 2, 'k': 1}},"
                      " 'sampler': {'type': 'ula', 'step_size': 0.1}}",
                      "data.synthetic.k", "unknown field");
    expect_only_error("{'data': {'dataset': 'a'},"
                      " 'sampler': {'type': 'ula', 'step_size': 0.1, 'momentum': 1}}",
                      "sampler.momentum", "unknown field");
}

static void test_type_errors(void **state) {
    (void)state;
    expect_only_error("{'model': 3, " BASE "}", "model", "expected an object, got number");
    expect_only_error("{'data': [], 'sampler': {'type': 'ula', 'step_size': 0.1}}", "data",
                      "expected an object, got array");
    expect_only_error("{'data': {'dataset': 'a'}, 'sampler': 'ula'}", "sampler",
                      "expected an object, got string");
    expect_only_error("{" BASE ", 'num_samples': 'ten'}", "num_samples",
                      "expected an integer, got string");
    expect_only_error("{" BASE ", 'thin': true}", "thin", "expected an integer, got boolean");
    expect_only_error("{" BASE ", 'chains': null}", "chains", "expected an integer, got null");
    expect_only_error("{" BASE ", 'dtype': 64}", "dtype", "expected a string, got number");
}

/* ---- Errors: sampler ---- */

static void test_sampler_errors(void **state) {
    (void)state;
    expect_only_error("{'data': {'dataset': 'a'}}", "sampler", "required");
    /* the list of samplers comes from the table */
    char want[SPEC_MESSAGE_MAX] = "unknown sampler \"bogus\"; expected one of ";
    for (const sampler_def *const *d = sampler_table; *d; d++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s",
                 d == sampler_table ? "" : ", ", (*d)->name);
    expect_only_error("{'data': {'dataset': 'a'}, 'sampler': {'type': 'bogus', 'step_size': 1}}",
                      "sampler.type", want);
    expect_only_error("{'data': {'dataset': 'a'}, 'sampler': {'step_size': 1}}", "sampler.type",
                      "required");
    expect_only_error("{'data': {'dataset': 'a'}, 'sampler': {'type': 'ula'}}", "sampler.step_size",
                      "required");
    expect_only_error("{'data': {'dataset': 'a'}, 'sampler': {'type': 'ula', 'step_size': 0}}",
                      "sampler.step_size", "must be > 0");
    expect_only_error("{'data': {'dataset': 'a'}, 'sampler': {'type': 'ula', 'step_size': -1}}",
                      "sampler.step_size", "must be > 0");
    expect_only_error("{'data': {'dataset': 'a'}, 'sampler': {'type': 'mala', 'step_size': 'x'}}",
                      "sampler.step_size", "expected a number, got string");
    expect_only_error("{'data': {'dataset': 'a'},"
                      " 'sampler': {'type': 'mala', 'step_size': 1, 'batch_size': 10}}",
                      "sampler.batch_size",
                      "unknown field for sampler mala (GET /v1/info lists its parameters)");
    expect_only_error("{'data': {'dataset': 'a'},"
                      " 'sampler': {'type': 'sgld', 'step_size': 1, 'batch_size': 2.5}}",
                      "sampler.batch_size", "must be an integer");
    expect_only_error("{'data': {'dataset': 'a'},"
                      " 'sampler': {'type': 'sgld', 'step_size': 1, 'batch_size': -1}}",
                      "sampler.batch_size", "must be >= 0");
    expect_only_error("{'data': {'dataset': 'a'},"
                      " 'sampler': {'type': 'sgld', 'step_size': 1, 'batch_size': 4294967296}}",
                      "sampler.batch_size", "must be <= 4294967295");
}

/* ---- Errors: counts ---- */

static void test_count_errors(void **state) {
    (void)state;
    expect_only_error("{" BASE ", 'num_samples': 0}", "num_samples", "must be >= 1");
    expect_only_error("{" BASE ", 'num_samples': 2.5}", "num_samples", "must be an integer");
    expect_only_error("{" BASE ", 'num_warmup': -1}", "num_warmup", "must be >= 0");
    expect_only_error("{" BASE ", 'num_warmup': -1.0}", "num_warmup", "must be >= 0");
    expect_only_error("{" BASE ", 'thin': 0}", "thin", "must be >= 1");
    expect_only_error("{" BASE ", 'chains': 0}", "chains", "must be >= 1");
    expect_only_error("{" BASE ", 'chains': 1025}", "chains", "must be <= 1024");
    expect_only_error("{" BASE ", 'progress_every': 0}", "progress_every", "must be >= 1");
    expect_only_error("{" BASE ", 'progress_every': 4294967296}", "progress_every",
                      "must be <= 4294967295");
}

/* row_threads: 1..64, default 1; every bad value is one error at exactly
 * "row_threads". */
static void test_row_threads(void **state) {
    (void)state;
    job_spec s;
    assert_valid("{" BASE "}", &s);
    assert_int_equal(s.chain.row_threads, 1);
    job_spec_free(&s);
    assert_valid("{" BASE ", 'row_threads': 4}", &s);
    assert_int_equal(s.chain.row_threads, 4);
    job_spec_free(&s);
    assert_valid("{" BASE ", 'row_threads': 1, 'chains': 3}", &s);
    assert_int_equal(s.chain.row_threads, 1);
    assert_int_equal(s.chain.chains, 3);
    job_spec_free(&s);
    assert_valid("{" BASE ", 'row_threads': 64.0}", &s);
    assert_int_equal(s.chain.row_threads, 64);
    job_spec_free(&s);

    expect_only_error("{" BASE ", 'row_threads': 0}", "row_threads", "must be >= 1");
    expect_only_error("{" BASE ", 'row_threads': 65}", "row_threads", "must be <= 64");
    expect_only_error("{" BASE ", 'row_threads': -1}", "row_threads", "must be >= 1");
    expect_only_error("{" BASE ", 'row_threads': 2.5}", "row_threads", "must be an integer");
    expect_only_error("{" BASE ", 'row_threads': '2'}", "row_threads",
                      "expected an integer, got string");
    expect_only_error("{" BASE ", 'row_threads': true}", "row_threads",
                      "expected an integer, got boolean");
    expect_only_error("{" BASE ", 'row_threads': null}", "row_threads",
                      "expected an integer, got null");
    expect_only_error("{" BASE ", 'row_thread': 2}", "row_thread", "unknown field");
}

static void test_iteration_limit(void **state) {
    (void)state;
    expect_only_error("{" BASE ", 'num_samples': 4294967295, 'num_warmup': 1}", "num_samples",
                      "must be <= 4294967295");
    expect_only_error("{" BASE ", 'num_samples': 2147483648, 'thin': 2}", "num_samples",
                      "num_warmup + num_samples * thin");
    /* The product overflows 64 bits: still an error, never a wrap. */
    expect_only_error("{" BASE ", 'num_samples': 4294967296, 'thin': 4294967296}", "num_samples",
                      "4294967295");
    expect_only_error("{" BASE ", 'num_samples': 1e19, 'thin': 1e19}", "num_samples", "4294967295");
    expect_only_error("{" BASE ", 'num_warmup': 9223372036854775807}", "num_samples", "4294967295");
}

/* ---- key ---- */

static void test_key_forms(void **state) {
    (void)state;
    job_spec s;
    assert_valid("{" BASE ", 'key': 42}", &s);
    assert_int_equal(s.chain.key.hi, 0);
    assert_int_equal(s.chain.key.lo, 42);
    job_spec_free(&s);

    assert_valid("{" BASE ", 'key': 8589934597}", &s); /* 2^33 + 5 */
    assert_int_equal(s.chain.key.hi, 2);
    assert_int_equal(s.chain.key.lo, 5);
    job_spec_free(&s);

    assert_valid("{" BASE ", 'key': '18446744073709551615'}", &s);
    assert_int_equal(s.chain.key.hi, 0xffffffffu);
    assert_int_equal(s.chain.key.lo, 0xffffffffu);
    job_spec_free(&s);

    assert_valid("{" BASE ", 'key': '0'}", &s);
    assert_int_equal(s.chain.key.hi, 0);
    assert_int_equal(s.chain.key.lo, 0);
    job_spec_free(&s);

    assert_valid("{" BASE ", 'key': [4294967295, 7]}", &s);
    assert_int_equal(s.chain.key.hi, 0xffffffffu);
    assert_int_equal(s.chain.key.lo, 7);
    job_spec_free(&s);
}

static void test_key_errors(void **state) {
    (void)state;
    expect_only_error("{" BASE ", 'key': -1}", "key", "must be >= 0");
    expect_only_error("{" BASE ", 'key': 1.5}", "key", "must be an integer");
    expect_only_error("{" BASE ", 'key': '18446744073709551616'}", "key",
                      "must be <= 18446744073709551615");
    expect_only_error("{" BASE ", 'key': '99999999999999999999999'}", "key", "must be <=");
    expect_only_error("{" BASE ", 'key': '12a'}", "key", "expected a decimal integer");
    expect_only_error("{" BASE ", 'key': ''}", "key", "expected a decimal integer");
    expect_only_error("{" BASE ", 'key': '-1'}", "key", "expected a decimal integer");
    expect_only_error("{" BASE ", 'key': 1e20}", "key", "must be <= 18446744073709551615");
    expect_only_error("{" BASE ", 'key': [1, 4294967296]}", "key[1]", "must be <= 4294967295");
    expect_only_error("{" BASE ", 'key': [-1, 0]}", "key[0]", "must be >= 0");
    expect_only_error("{" BASE ", 'key': [1, 'a']}", "key[1]", "expected an integer, got string");
    expect_only_error("{" BASE ", 'key': [1]}", "key", "expected [hi, lo]");
    expect_only_error("{" BASE ", 'key': [1, 2, 3]}", "key", "expected [hi, lo]");
    expect_only_error("{" BASE ", 'key': true}", "key", "got boolean");
}

/* ---- init ---- */

static void test_init_forms(void **state) {
    (void)state;
    job_spec s;
    assert_valid("{" BASE ", 'init': 'prior'}", &s);
    assert_int_equal(s.chain.init, INIT_PRIOR);
    job_spec_free(&s);

    assert_valid("{" SYNTH ", 'init': 'true'}", &s);
    assert_int_equal(s.chain.init, INIT_TRUE);
    job_spec_free(&s);

    assert_valid("{" BASE ", 'init': 'zeros'}", &s);
    assert_int_equal(s.chain.init, INIT_ZEROS);
    job_spec_free(&s);

    assert_valid("{" BASE ", 'chains': 3, 'init': [1, -2, 3.5]}", &s);
    assert_int_equal(s.chain.init, INIT_VALUES);
    assert_int_equal(s.chain.init_per_chain, 0);
    assert_int_equal(s.init_dim, 3);
    assert_true(s.chain.init_values[0] == 1 && s.chain.init_values[1] == -2 &&
                s.chain.init_values[2] == 3.5);
    job_spec_free(&s);

    assert_valid("{" BASE ", 'chains': 3, 'init': [[1], [2], [3]]}", &s);
    assert_int_equal(s.chain.init_per_chain, 1);
    assert_int_equal(s.init_dim, 1);
    assert_true(s.chain.init_values[2] == 3);
    job_spec_free(&s);
}

static void test_init_errors(void **state) {
    (void)state;
    expect_only_error("{" BASE ", 'init': 'random'}", "init", "unknown init \"random\"");
    expect_only_error("{" BASE ", 'init': 5}", "init",
                      "expected a string or an array of numbers, got number");
    expect_only_error("{" BASE ", 'init': []}", "init", "must not be empty");
    expect_only_error("{" BASE ", 'init': [1, 2, 'x']}", "init[2]",
                      "expected a number, got string");
    expect_only_error("{" BASE ", 'init': [1, [2]]}", "init[1]", "expected a number, got array");
    expect_only_error("{" BASE ", 'chains': 2, 'init': [[1, 2]]}", "init",
                      "expected 2 vectors (one per chain), got 1");
    expect_only_error("{" BASE ", 'chains': 2, 'init': [[1, 2], [3]]}", "init[1]",
                      "expected 2 numbers like init[0], got 1");
    expect_only_error("{" BASE ", 'chains': 2, 'init': [[1, 2], ['a', 3]]}", "init[1][0]",
                      "expected a number, got string");
    expect_only_error("{" BASE ", 'chains': 2, 'init': [[1, 2], 3]}", "init[1]",
                      "expected an array of numbers, got number");
    expect_error("{" BASE ", 'chains': 2, 'init': [[], []]}", "init[0]", "must not be empty");
    expect_only_error("{" BASE ", 'init': 'true'}", "init", "\"true\" needs synthetic data");
    expect_only_error("{" GAUSS_MODEL ", 'sampler': {'type': 'ula', 'step_size': 0.1},"
                      " 'init': 'true'}",
                      "init", "\"true\" needs synthetic data");
    /* chains is itself wrong: only that is reported, not the init count. */
    expect_only_error("{" BASE ", 'chains': 0, 'init': [[1], [2]]}", "chains", "must be >= 1");
}

/* ---- model ---- */

static void test_logistic_errors(void **state) {
    (void)state;
    expect_only_error("{'model': {'prior_variance': 0}, " BASE "}", "model.prior_variance",
                      "must be > 0");
    expect_only_error("{'model': {'prior_variance': '1'}, " BASE "}", "model.prior_variance",
                      "expected a number, got string");
    expect_only_error("{'model': {'type': 'probit'}, " BASE "}", "model.type",
                      "unknown model \"probit\"; expected one of logistic_regression, "
                      "linear_regression, poisson_regression, gaussian, funnel");
    expect_only_error("{'model': {'type': 'logistic_regression', 'mean': [1]}, " BASE "}",
                      "model.mean", "only gaussian takes mean");
}

static void test_gaussian_valid(void **state) {
    (void)state;
    job_spec s;
    assert_valid("{" GAUSS_MODEL ", 'sampler': {'type': 'mala', 'step_size': 0.1}}", &s);
    assert_ptr_equal(s.model, model_find("gaussian"));
    assert_int_equal(s.data, SPEC_DATA_NONE);
    assert_int_equal(s.model_args.lens[0], 2);
    assert_int_equal(job_spec_model_dim(&s, 0), 2);
    assert_true(s.model_args.arrays[0][0] == 0 && s.model_args.arrays[0][1] == 1);
    const double cov[] = {1, 0.5, 0.5, 2};
    for (int i = 0; i < 4; i++)
        assert_true(s.model_args.arrays[1][i] == cov[i]);
    assert_int_equal(job_spec_check_shape(&s, 0, 0, &(spec_errors){0}), 0);
    json_t *j = job_spec_to_json(&s);
    assert_non_null(j);
    assert_null(json_object_get(j, "data"));
    assert_null(json_object_get(json_object_get(j, "model"), "prior_variance"));
    json_decref(j);
    job_spec_free(&s);

    /* Asymmetry within the relative tolerance is accepted. */
    assert_valid("{'model': {'type': 'gaussian', 'mean': [0, 0],"
                 " 'cov': [[1e6, 1000.0], [1000.0000000000001, 1e6]]},"
                 " 'sampler': {'type': 'ula', 'step_size': 0.1}}",
                 &s);
    job_spec_free(&s);
}

#define GAUSS_SAMPLER "'sampler': {'type': 'ula', 'step_size': 0.1}"

static void test_gaussian_errors(void **state) {
    (void)state;
    expect_only_error("{" GAUSS_MODEL ", 'data': {'dataset': 'a'}, " GAUSS_SAMPLER "}", "data",
                      "the gaussian model takes no data");
    expect_only_error("{'model': {'type': 'gaussian', 'mean': [0], 'cov': [[1]],"
                      " 'prior_variance': 1}, " GAUSS_SAMPLER "}",
                      "model.prior_variance",
                      "only logistic_regression, linear_regression, poisson_regression take "
                      "prior_variance");
    expect_only_error("{'model': {'type': 'gaussian', 'cov': [[1]]}, " GAUSS_SAMPLER "}",
                      "model.mean", "required");
    expect_only_error("{'model': {'type': 'gaussian', 'mean': [1]}, " GAUSS_SAMPLER "}",
                      "model.cov", "required");
    expect_only_error("{'model': {'type': 'gaussian', 'mean': [], 'cov': [[1]]}, " GAUSS_SAMPLER
                      "}",
                      "model.mean", "must not be empty");
    expect_only_error("{'model': {'type': 'gaussian', 'mean': [0, null], 'cov': [[1, 0], [0, 1]]},"
                      " " GAUSS_SAMPLER "}",
                      "model.mean[1]", "expected a number, got null");
    expect_only_error("{'model': {'type': 'gaussian', 'mean': [0, 0], 'cov': [[1, 0], [0]]},"
                      " " GAUSS_SAMPLER "}",
                      "model.cov[1]", "expected 2 numbers (a square matrix), got 1");
    expect_only_error("{'model': {'type': 'gaussian', 'mean': [0, 0, 0], 'cov': [[1, 0], [0, 1]]},"
                      " " GAUSS_SAMPLER "}",
                      "model.cov", "expected 3 rows (the length of mean), got 2");
    expect_only_error("{'model': {'type': 'gaussian', 'mean': [0, 0], 'cov': [[1, 0.5], [0.4, 1]]},"
                      " " GAUSS_SAMPLER "}",
                      "model.cov[0][1]", "must equal model.cov[1][0]");
    expect_only_error("{'model': {'type': 'gaussian', 'mean': [0, 0], 'cov': [[1, 0], ['0', 1]]},"
                      " " GAUSS_SAMPLER "}",
                      "model.cov[1][0]", "expected a number, got string");
    expect_only_error("{'model': {'type': 'gaussian', 'mean': [0], 'cov': [1]}, " GAUSS_SAMPLER "}",
                      "model.cov[0]", "expected an array of numbers, got number");
    expect_only_error("{'model': {'type': 'gaussian', 'mean': [0], 'cov': []}, " GAUSS_SAMPLER "}",
                      "model.cov", "must not be empty");
}

static void round_trip(const char *text);

/* Every entry of the model table parses against its parameters; the
 * model's dimension counts the intercept and log_sigma. */
static void test_table_models(void **state) {
    (void)state;
    job_spec s;
    spec_errors errs = {0};
    assert_valid("{'model': {'type': 'linear_regression', 'intercept': true, 'sigma_scale': 2},"
                 " " BASE ", 'init': [1, 2, 3, 4, 5]}",
                 &s);
    assert_ptr_equal(s.model, model_find("linear_regression"));
    assert_true(s.model_args.values[1] == 1 && s.model_args.values[2] == 2);
    assert_true(isnan(s.model_args.values[3]));     /* sigma: sampled */
    assert_int_equal(job_spec_model_dim(&s, 3), 5); /* intercept, 3 coefficients, log_sigma */
    assert_int_equal(job_spec_check_shape(&s, 10, 3, &errs), 0);
    assert_int_equal(job_spec_check_shape(&s, 10, 5, &errs), -1);
    expect_error_in(&errs, "init", "expected 7 numbers (the model's dimension), got 5");
    job_spec_free(&s);
    round_trip("{'model': {'type': 'linear_regression', 'sigma': 0.5}, " BASE "}");
    round_trip("{'model': {'type': 'poisson_regression', 'intercept': true}, " SYNTH "}");
    round_trip(
        "{'model': {'type': 'funnel', 'dim': 5}, 'sampler': {'type': 'ula', 'step_size': 1}}");

    assert_valid("{'model': {'type': 'funnel'}, 'sampler': {'type': 'ula', 'step_size': 1}}", &s);
    assert_int_equal(job_spec_model_dim(&s, 0), 10);
    errs.count = 0;
    assert_int_equal(job_spec_check_shape(&s, 0, 0, &errs), 0);
    char err[160];
    model *m = job_spec_build_model(&s, NULL, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(model_dim(m), 10);
    model_free(m);
    job_spec_free(&s);

    /* init "true" needs the synthetic theta to be the whole parameter. */
    assert_valid("{'model': {'intercept': true}, " SYNTH ", 'init': 'true'}", &s);
    errs.count = 0;
    assert_int_equal(job_spec_check_shape(&s, 100, 3, &errs), -1);
    expect_error_in(&errs, "init", "no intercept");
    job_spec_free(&s);

    /* y that the model does not take fails the build, naming the row. */
    assert_valid("{'model': {'type': 'poisson_regression'}, " BASE "}", &s);
    dataset *ds = dataset_alloc(3, 1);
    ds->X[0] = ds->X[1] = ds->X[2] = 1;
    ds->y[0] = 1, ds->y[1] = 0.5, ds->y[2] = 2;
    assert_null(job_spec_build_model(&s, ds, err, sizeof err));
    assert_non_null(strstr(err, "y[1]"));
    ds->y[1] = 4;
    m = job_spec_build_model(&s, ds, err, sizeof err);
    assert_non_null(m);
    model_free(m);
    dataset_free(ds);
    job_spec_free(&s);
}

static void test_table_model_errors(void **state) {
    (void)state;
    const char *smp = "'sampler': {'type': 'ula', 'step_size': 1}";
    char buf[512];
#define FUNNEL(f) (snprintf(buf, sizeof buf, "{'model': {'type': 'funnel'%s}, %s}", f, smp), buf)
    expect_only_error(FUNNEL(", 'dim': 1"), "model.dim", "must be >= 2");
    expect_only_error(FUNNEL(", 'dim': 2.5"), "model.dim", "must be an integer");
    expect_only_error(FUNNEL(", 'intercept': true"), "model.intercept",
                      "only logistic_regression, linear_regression, poisson_regression take "
                      "intercept");
    expect_only_error(FUNNEL(", 'width': 3"), "model.width",
                      "unknown field for model funnel (GET /v1/info lists its parameters)");
    snprintf(buf, sizeof buf, "{'model': {'type': 'funnel'}, 'data': {'dataset': 'a'}, %s}", smp);
    expect_only_error(buf, "data", "the funnel model takes no data");
#undef FUNNEL
    expect_only_error("{'model': {'type': 'linear_regression', 'sigma': 0}, " BASE "}",
                      "model.sigma", "must be > 0");
    expect_only_error("{'model': {'type': 'linear_regression', 'intercept': 'yes'}, " BASE "}",
                      "model.intercept", "expected true or false, got string");
    expect_only_error("{'model': {'type': 'poisson_regression', 'sigma': 1}, " BASE "}",
                      "model.sigma", "only linear_regression takes sigma");
    expect_only_error("{'model': {'type': 7}, " BASE "}", "model.type",
                      "expected a string, got number");
}

/* ---- data ---- */

static void test_data_errors(void **state) {
    (void)state;
    const char *smp = ", 'sampler': {'type': 'ula', 'step_size': 0.1}}";
    char buf[1024];
#define DATA(d) (snprintf(buf, sizeof buf, "{'data': %s%s", d, smp), buf)
    expect_only_error(DATA("{'dataset': 'a', 'synthetic': {'n': 1, 'd': 1}}"), "data", "not both");
    expect_only_error(DATA("{}"), "data", "expected {\"dataset\": id}");
    expect_only_error(DATA("{'dataset': ''}"), "data.dataset", "must not be empty");
    expect_only_error(DATA("{'dataset': 'a/b'}"), "data.dataset", "may contain only");
    expect_only_error(DATA("{'dataset': 'a b'}"), "data.dataset", "may contain only");
    expect_only_error(DATA("{'dataset': 12}"), "data.dataset", "expected a string, got number");
    char id[200];
    memset(id, 'a', 128);
    id[128] = '\0';
    char spec[400];
    snprintf(spec, sizeof spec, "{'dataset': '%s'}", id);
    expect_only_error(DATA(spec), "data.dataset", "at most 127 characters");
    id[127] = '\0';
    snprintf(spec, sizeof spec, "{'data': {'dataset': '%s'}%s", id, smp);
    job_spec s;
    assert_valid(spec, &s);
    assert_string_equal(s.dataset_id, id);
    job_spec_free(&s);

    expect_only_error(DATA("{'synthetic': 3}"), "data.synthetic", "expected an object");
    expect_only_error(DATA("{'synthetic': {'n': 0, 'd': 2}}"), "data.synthetic.n", "must be >= 1");
    expect_only_error(DATA("{'synthetic': {'n': 10}}"), "data.synthetic.d", "required");
    expect_only_error(DATA("{'synthetic': {'n': 10, 'd': 2, 'rho': 1}}"), "data.synthetic.rho",
                      "must be >= 0 and < 1");
    expect_only_error(DATA("{'synthetic': {'n': 10, 'd': 2, 'rho': -0.1}}"), "data.synthetic.rho",
                      "must be >= 0 and < 1");
    expect_only_error(DATA("{'synthetic': {'n': 10, 'd': 2, 'theta_variance': 0}}"),
                      "data.synthetic.theta_variance", "must be > 0");
    expect_only_error(DATA("{'synthetic': {'n': 10, 'd': 2, 'seed': -3}}"), "data.synthetic.seed",
                      "must be >= 0");
    expect_only_error(DATA("{'synthetic': {'n': 10, 'd': 2, 'seed': [1, 2]}}"),
                      "data.synthetic.seed", "expected an integer, got array");
    expect_only_error(DATA("{'synthetic': {'n': 65536, 'd': 32769}}"), "data.synthetic",
                      "n*d too large");
    expect_only_error(DATA("{'synthetic': {'n': 1e19, 'd': 2}}"), "data.synthetic",
                      "n*d too large");

    assert_valid(DATA("{'synthetic': {'n': 65536, 'd': 32768, 'seed': '18446744073709551615'}}"),
                 &s);
    assert_int_equal(s.synthetic.seed, UINT64_MAX);
    job_spec_free(&s);
#undef DATA
    expect_only_error("{'data': {'dataset': '..'}, 'sampler': {'type': 'ula', 'step_size': 1}}",
                      "data.dataset", "must start with a letter or a digit");
}

static void test_dtype(void **state) {
    (void)state;
    expect_only_error("{" BASE ", 'dtype': 'float16'}", "dtype",
                      "unknown dtype \"float16\"; expected one of float64, float32");
}

/* ---- Many errors ---- */

static void test_all_errors_reported(void **state) {
    (void)state;
    job_spec s;
    spec_errors errs;
    assert_int_equal(parse("{'model': {'type': 'logistic_regression', 'prior_variance': -1},"
                           " 'data': {'synthetic': {'n': 0, 'd': 'x'}},"
                           " 'sampler': {'type': 'ula', 'step_size': 0, 'extra': 1},"
                           " 'num_samples': 2.5, 'thin': 0, 'chains': 2,"
                           " 'key': [1, 2, 3], 'init': [[1, 2], [3]], 'dtype': 'int8',"
                           " 'progress_every': -5, 'row_threads': 65, 'bogus': {}}",
                           &s, &errs),
                     -1);
    assert_owns_nothing(&s);
    expect_error_in(&errs, "bogus", "unknown field");
    expect_error_in(&errs, "model.prior_variance", "must be > 0");
    expect_error_in(&errs, "data.synthetic.n", "must be >= 1");
    expect_error_in(&errs, "data.synthetic.d", "expected an integer, got string");
    expect_error_in(&errs, "sampler.extra", "unknown field");
    expect_error_in(&errs, "sampler.step_size", "must be > 0");
    expect_error_in(&errs, "num_samples", "must be an integer");
    expect_error_in(&errs, "thin", "must be >= 1");
    expect_error_in(&errs, "key", "expected [hi, lo]");
    expect_error_in(&errs, "init[1]", "expected 2 numbers like init[0], got 1");
    expect_error_in(&errs, "dtype", "unknown dtype");
    expect_error_in(&errs, "progress_every", "must be >= 1");
    expect_error_in(&errs, "row_threads", "must be <= 64");
    if (errs.count != 13) print_errors(&errs);
    assert_int_equal(errs.count, 13);
    assert_int_equal(errs.dropped, 0);
}

static void test_dropped_errors(void **state) {
    (void)state;
    char text[4096] = "{" BASE;
    size_t used = strlen(text);
    for (int i = 0; i < 40; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, ", 'x%d': %d", i, i);
    snprintf(text + used, sizeof text - used, "}");
    job_spec s;
    spec_errors errs;
    assert_int_equal(parse(text, &s, &errs), -1);
    assert_int_equal(errs.count, SPEC_ERRORS_MAX);
    assert_int_equal(errs.dropped, 40 - SPEC_ERRORS_MAX);
    assert_string_equal(errs.items[0].path, "x0");

    json_t *env = spec_errors_to_json(&errs, "invalid_spec", "the job spec is invalid");
    assert_non_null(env);
    json_t *details = json_object_get(json_object_get(env, "error"), "details");
    assert_int_equal(json_array_size(details), SPEC_ERRORS_MAX + 1);
    json_t *last = json_array_get(details, SPEC_ERRORS_MAX);
    assert_string_equal(json_string_value(json_object_get(last, "path")), "");
    assert_string_equal(json_string_value(json_object_get(last, "message")),
                        "8 more errors not shown");
    json_decref(env);
}

/* ---- JSON text ---- */

static void test_syntax_error(void **state) {
    (void)state;
    job_spec s;
    spec_errors errs;
    const char *text = "{\n  \"sampler\": {\"type\": \"ula\"},\n  \"data\": }";
    assert_int_equal(job_spec_parse_text(text, strlen(text), &s, &errs), -1);
    assert_owns_nothing(&s);
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.items[0].path, "");
    assert_non_null(strstr(errs.items[0].message, "invalid JSON at line 3, column 11"));
    assert_non_null(strstr(errs.items[0].message, "(byte 43)"));

    expect_only_error("{'data': {'dataset': 'a'}, 'data': {'dataset': 'b'}}", "", "duplicate");
    expect_only_error("", "", "invalid JSON at line");
    assert_int_equal(job_spec_parse_text(NULL, 0, &s, &errs), -1);
    assert_int_equal(errs.count, 1);

    /* Text that is not NUL-terminated: only len bytes are read. */
    const char *two = "{\"data\": {\"dataset\": \"a\"}, "
                      "\"sampler\": {\"type\": \"ula\", \"step_size\": 1}}garbage";
    assert_int_equal(job_spec_parse_text(two, strlen(two) - 7, &s, &errs), 0);
    job_spec_free(&s);
}

static void test_messages_are_valid_utf8(void **state) {
    (void)state;
    /* A long key of two-byte characters is cut at SPEC_PATH_MAX, possibly
     * mid-character; the envelope must still be buildable. */
    char text[1024] = "{'data': {'dataset': 'a'}, 'sampler': {'type': 'ula', 'step_size': 1}, '";
    size_t used = strlen(text);
    for (int i = 0; i < 100; i++)
        used += (size_t)snprintf(text + used, 8, "\xc3\xa9");
    snprintf(text + used, sizeof text - used,
             "': 1, 'dtype': 'x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
             "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
             "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
             "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9'}");
    job_spec s;
    spec_errors errs;
    assert_int_equal(parse(text, &s, &errs), -1);
    assert_int_equal(errs.count, 2);
    json_t *env = spec_errors_to_json(&errs, "invalid_spec", "bad");
    assert_non_null(env);
    json_decref(env);

    /* Invalid UTF-8 in the text: jansson's message may quote it. */
    const char *bad = "{\"a\xff\": 1}";
    assert_int_equal(job_spec_parse_text(bad, strlen(bad), &s, &errs), -1);
    env = spec_errors_to_json(&errs, "invalid_json", "bad");
    assert_non_null(env);
    json_decref(env);
}

/* ---- Shape checks ---- */

static void test_check_shape(void **state) {
    (void)state;
    job_spec s;
    spec_errors errs = {0};

    assert_valid("{" BASE ", 'init': [1, 2, 3]}", &s);
    assert_int_equal(job_spec_check_shape(&s, 100, 3, &errs), 0);
    assert_int_equal(job_spec_check_shape(&s, 100, 5, &errs), -1);
    expect_error_in(&errs, "init", "expected 5 numbers (the model's dimension), got 3");
    job_spec_free(&s);

    errs.count = 0;
    assert_valid("{" BASE ", 'chains': 2, 'init': [[1, 2, 3], [4, 5, 6]]}", &s);
    assert_int_equal(job_spec_check_shape(&s, 100, 2, &errs), -1);
    expect_error_in(&errs, "init[0]", "expected 2 numbers (the model's dimension), got 3");
    expect_error_in(&errs, "init[1]", "expected 2 numbers (the model's dimension), got 3");
    job_spec_free(&s);

    /* Appends: the earlier errors stay. */
    size_t before = errs.count;
    assert_valid("{'data': {'dataset': 'a'},"
                 " 'sampler': {'type': 'sgld', 'step_size': 1, 'batch_size': 2000}}",
                 &s);
    assert_int_equal(job_spec_check_shape(&s, 2000, 5, &errs), 0);
    assert_int_equal(job_spec_check_shape(&s, 1000, 5, &errs), -1);
    assert_int_equal(errs.count, before + 1);
    expect_error_in(&errs, "sampler.batch_size", "must be <= 1000, the number of rows");
    job_spec_free(&s);

    /* No "data": valid to parse (rows may come from mcmcd run --data), but
     * logistic regression without rows fails the shape check. */
    errs.count = 0;
    assert_valid("{'sampler': {'type': 'ula', 'step_size': 0.1}}", &s);
    assert_int_equal(s.data, SPEC_DATA_NONE);
    assert_int_equal(job_spec_check_shape(&s, 50, 5, &errs), 0);
    assert_int_equal(job_spec_check_shape(&s, 0, 5, &errs), -1);
    expect_error_in(&errs, "data", "required");
    job_spec_free(&s);

    errs.count = 0;
    assert_valid("{" SYNTH ", 'init': 'true'}", &s);
    assert_int_equal(job_spec_check_shape(&s, 100, 3, &errs), 0);
    s.data = SPEC_DATA_DATASET;
    assert_int_equal(job_spec_check_shape(&s, 100, 3, &errs), -1);
    expect_error_in(&errs, "init", "\"true\" needs synthetic data");
    job_spec_free(&s);
}

/* ---- Round trip ---- */

static void assert_specs_equal(const job_spec *a, const job_spec *b) {
    assert_ptr_equal(a->model, b->model);
    for (size_t i = 0; i < a->model->num_params; i++) {
        const model_args *x = &a->model_args, *y = &b->model_args;
        size_t k = a->model->params[i].kind == P_MATRIX ? x->lens[i] * x->lens[i] : x->lens[i];
        assert_memory_equal(&x->values[i], &y->values[i], sizeof(double));
        assert_int_equal(x->lens[i], y->lens[i]);
        if (k) assert_memory_equal(x->arrays[i], y->arrays[i], k * sizeof(double));
    }
    assert_int_equal(a->data, b->data);
    assert_string_equal(a->dataset_id, b->dataset_id);
    assert_memory_equal(&a->synthetic, &b->synthetic, sizeof a->synthetic);
    const chain_config *x = &a->chain, *y = &b->chain;
    assert_ptr_equal(x->sampler, y->sampler);
    assert_memory_equal(x->params, y->params, x->sampler->num_params * sizeof(double));
    assert_int_equal(x->num_samples, y->num_samples);
    assert_int_equal(x->num_warmup, y->num_warmup);
    assert_int_equal(x->thin, y->thin);
    assert_int_equal(x->chains, y->chains);
    assert_int_equal(x->key.hi, y->key.hi);
    assert_int_equal(x->key.lo, y->key.lo);
    assert_int_equal(x->init, y->init);
    assert_int_equal(x->init_per_chain, y->init_per_chain);
    assert_int_equal(a->init_dim, b->init_dim);
    if (x->init == INIT_VALUES) {
        size_t n = a->init_dim * (x->init_per_chain ? x->chains : 1);
        assert_memory_equal(x->init_values, y->init_values, n * sizeof(double));
    }
    assert_int_equal(x->progress_every, y->progress_every);
    assert_int_equal(x->row_threads, y->row_threads);
    assert_int_equal(a->dtype, b->dtype);
}

static void round_trip(const char *text) {
    job_spec a, b;
    spec_errors errs;
    assert_valid(text, &a);
    json_t *ja = job_spec_to_json(&a);
    assert_non_null(ja);
    char *dumped = json_dumps(ja, JSON_COMPACT);
    assert_non_null(dumped);
    int rc = job_spec_parse_text(dumped, strlen(dumped), &b, &errs);
    if (rc != 0) {
        print_error("%s\n", dumped);
        print_errors(&errs);
    }
    assert_int_equal(rc, 0);
    assert_specs_equal(&a, &b);
    json_t *jb = job_spec_to_json(&b);
    assert_true(json_equal(ja, jb));
    json_decref(jb);
    free(dumped);
    json_decref(ja);
    job_spec_free(&a);
    job_spec_free(&b);
}

static void test_round_trip(void **state) {
    (void)state;
    round_trip("{" BASE "}");
    round_trip("{'model': {'type': 'logistic_regression', 'prior_variance': 0.1},"
               " 'data': {'synthetic': {'n': 500, 'd': 2, 'seed': '18446744073709551615',"
               " 'rho': 0.3, 'theta_variance': 3}},"
               " 'sampler': {'type': 'sgld', 'step_size': 0.1234567890123, 'batch_size': 50},"
               " 'num_samples': 200, 'num_warmup': 10, 'thin': 3, 'chains': 2,"
               " 'key': '12345678901234567890', 'init': [[1, 2], [3, 4.5]], 'dtype': 'float32',"
               " 'progress_every': 25, 'row_threads': 4}");
    round_trip("{" BASE ", 'row_threads': 64}");
    round_trip("{" GAUSS_MODEL ", 'sampler': {'type': 'mala', 'step_size': 3e-7},"
               " 'init': [0.1, 0.2], 'key': [7, 9]}");
    round_trip("{" SYNTH ", 'init': 'true', 'chains': 8}");
    round_trip("{'data': {'dataset': 'x'}, 'sampler': {'type': 'sgld', 'step_size': 1}}");

    /* The canonical form: defaults present, key as a pair. */
    job_spec s;
    assert_valid("{" BASE ", 'key': 4294967298}", &s);
    json_t *j = job_spec_to_json(&s);
    json_t *want = json_loads(q("{'model': {'type': 'logistic_regression', 'prior_variance': 10.0,"
                                " 'intercept': false},"
                                " 'data': {'dataset': 'd1'},"
                                " 'sampler': {'type': 'ula', 'step_size': 0.1},"
                                " 'num_samples': 1000, 'num_warmup': 0, 'thin': 1, 'chains': 1,"
                                " 'key': [1, 2], 'init': 'zeros', 'dtype': 'float64',"
                                " 'progress_every': 1000, 'row_threads': 1,"
                                " 'save_warmup': false, 'schema': 2}"),
                              0, NULL);
    assert_non_null(want);
    if (!json_equal(j, want)) {
        char *got = json_dumps(j, JSON_SORT_KEYS);
        print_error("got %s\n", got);
        free(got);
        fail();
    }
    json_decref(want);
    json_decref(j);
    job_spec_free(&s);

    /* A non-default row_threads is written back as given. */
    assert_valid("{" BASE ", 'row_threads': 4}", &s);
    j = job_spec_to_json(&s);
    assert_non_null(j);
    assert_true(json_is_integer(json_object_get(j, "row_threads")));
    assert_int_equal(json_integer_value(json_object_get(j, "row_threads")), 4);
    json_decref(j);
    job_spec_free(&s);
}

/* ---- Envelope and ownership ---- */

static void test_errors_envelope(void **state) {
    (void)state;
    spec_errors errs;
    job_spec s;
    assert_int_equal(
        parse("{'data': {'dataset': 'a'}, 'sampler': {'type': 'ula', 'step_size': 0}}", &s, &errs),
        -1);
    json_t *env = spec_errors_to_json(&errs, "invalid_spec", "the job spec is invalid");
    json_t *want = json_loads(q("{'error': {'code': 'invalid_spec',"
                                " 'message': 'the job spec is invalid',"
                                " 'details': [{'path': 'sampler.step_size',"
                                " 'message': 'must be > 0'}]}}"),
                              0, NULL);
    assert_true(json_equal(env, want));
    json_decref(want);
    json_decref(env);

    spec_errors none = {0};
    env = spec_errors_to_json(&none, "x", "y");
    assert_int_equal(json_array_size(json_object_get(json_object_get(env, "error"), "details")), 0);
    json_decref(env);
}

static void test_free_twice(void **state) {
    (void)state;
    job_spec s;
    memset(&s, 0, sizeof s);
    job_spec_free(&s);
    job_spec_free(&s);
    assert_valid("{" GAUSS_MODEL ", 'sampler': {'type': 'ula', 'step_size': 1}, 'init': [1, 2]}",
                 &s);
    assert_non_null(s.model_arrays[0]);
    assert_non_null(s.chain.init_values);
    job_spec_free(&s);
    assert_owns_nothing(&s);
    job_spec_free(&s);
}

/* Valid owned arrays, then an error after them: all freed (LeakSanitizer). */
static void test_no_leak_on_failure(void **state) {
    (void)state;
    expect_only_error("{" GAUSS_MODEL ", 'sampler': {'type': 'ula', 'step_size': 1},"
                      " 'chains': 2, 'init': [[1, 2], [3, 4]], 'dtype': 'x'}",
                      "dtype", "unknown dtype");
    expect_only_error("{" BASE ", 'init': [1, 2], 'progress_every': 0}", "progress_every", ">= 1");
    /* A second parse into a spec that failed before is fine. */
    job_spec s;
    spec_errors errs;
    assert_int_equal(parse("{'sampler': 1}", &s, &errs), -1);
    assert_valid("{" BASE "}", &s);
    job_spec_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_spec),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sgld_full_batch),
        cmocka_unit_test(test_integral_reals),
        cmocka_unit_test(test_iteration_limit_boundary),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_root_not_object),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_sampler_errors),
        cmocka_unit_test(test_count_errors),
        cmocka_unit_test(test_row_threads),
        cmocka_unit_test(test_iteration_limit),
        cmocka_unit_test(test_key_forms),
        cmocka_unit_test(test_key_errors),
        cmocka_unit_test(test_init_forms),
        cmocka_unit_test(test_init_errors),
        cmocka_unit_test(test_logistic_errors),
        cmocka_unit_test(test_gaussian_valid),
        cmocka_unit_test(test_gaussian_errors),
        cmocka_unit_test(test_table_models),
        cmocka_unit_test(test_table_model_errors),
        cmocka_unit_test(test_data_errors),
        cmocka_unit_test(test_dtype),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_dropped_errors),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_messages_are_valid_utf8),
        cmocka_unit_test(test_check_shape),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_errors_envelope),
        cmocka_unit_test(test_free_twice),
        cmocka_unit_test(test_no_leak_on_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
