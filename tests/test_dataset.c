/* test_dataset.c - datasets from CSV text and files (headers, CRLF, blank
 * lines, spaces, quotes, exponents; every parse error names its line and
 * leaves *out NULL) and the post's synthetic generator (determinism, the
 * moments of X and theta_true, y ~ Bernoulli(sigmoid(X theta_true)), the
 * correlated-columns option and its argument checks). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset.h"
#include "errors.h"

/* A non-NULL value that no allocation returns: proves *out was written. */
#define NOT_SET ((dataset *)(uintptr_t)0x1)

/* --- helpers --------------------------------------------------------- */

static dataset *parse_ok(const char *text) {
    char err[256] = "untouched";
    dataset *ds = NOT_SET;
    int rc = dataset_parse_csv(text, strlen(text), &ds, err, sizeof err);
    if (rc != MCMC_OK) print_error("parse failed (%d): %s\n", rc, err);
    assert_int_equal(rc, MCMC_OK);
    assert_non_null(ds);
    assert_true(ds != NOT_SET);
    assert_null(ds->theta_true);
    return ds;
}

/* Exact equality, element by element: the parser must be strtod exact. */
static void expect_data(const dataset *ds, size_t n, size_t d, const double *X, const double *y) {
    assert_int_equal(ds->n, n);
    assert_int_equal(ds->d, d);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) {
            if (ds->X[i * d + j] != X[i * d + j])
                print_error("X[%zu][%zu] = %.17g, want %.17g\n", i, j, ds->X[i * d + j],
                            X[i * d + j]);
            assert_true(ds->X[i * d + j] == X[i * d + j]);
        }
        assert_true(ds->y[i] == y[i]);
    }
}

/* True when msg contains "line <k>" not followed by another digit. */
static int names_line(const char *msg, size_t k) {
    char want[32];
    snprintf(want, sizeof want, "line %zu", k);
    for (const char *p = msg; (p = strstr(p, want)) != NULL; p++) {
        char next = p[strlen(want)];
        if (next < '0' || next > '9') return 1;
    }
    return 0;
}

/* Parses text expecting MCMC_EPARSE whose message names line `line` and
 * contains each of the NULL-terminated substrings that follow. */
static void expect_parse_error(const char *text, size_t len, size_t line, ...) {
    char err[256] = "untouched";
    dataset *ds = NOT_SET;
    int rc = dataset_parse_csv(text, len, &ds, err, sizeof err);
    if (rc == MCMC_OK) dataset_free(ds), ds = NULL; /* keep the ASan report about the code */
    if (rc != MCMC_EPARSE) print_error("input %.*s: rc %d, err '%s'\n", (int)len, text, rc, err);
    assert_int_equal(rc, MCMC_EPARSE);
    assert_null(ds);
    if (!names_line(err, line)) print_error("'%s' does not name line %zu\n", err, line);
    assert_true(names_line(err, line));
    va_list ap;
    va_start(ap, line);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;) {
        if (!strstr(err, s)) print_error("'%s' lacks '%s'\n", err, s);
        assert_non_null(strstr(err, s));
    }
    va_end(ap);
}

#define EXPECT_PARSE_ERROR(text, line, ...)                                                        \
    expect_parse_error((text), strlen(text), (line), __VA_ARGS__, (const char *)NULL)

/* --- CSV: accepted input --------------------------------------------- */

static const double X3[] = {1.5, 2, -3, 0.25, 0.1, -7};
static const double Y3[] = {1, 0, 1};

static void test_parse_no_header(void **state) {
    (void)state;
    dataset *ds = parse_ok("1.5,2,1\n-3,0.25,0\n0.1,-7,1\n");
    expect_data(ds, 3, 2, X3, Y3);
    dataset_free(ds);
    /* No newline after the last row. */
    ds = parse_ok("1.5,2,1\n-3,0.25,0\n0.1,-7,1");
    expect_data(ds, 3, 2, X3, Y3);
    dataset_free(ds);
}

static void test_parse_header(void **state) {
    (void)state;
    dataset *ds = parse_ok("x1,x2,y\n1.5,2,1\n-3,0.25,0\n0.1,-7,1\n");
    expect_data(ds, 3, 2, X3, Y3);
    dataset_free(ds);
    ds = parse_ok("\"x1\",\"x2\",\"y\"\n1.5,2,1\n-3,0.25,0\n0.1,-7,1\n");
    expect_data(ds, 3, 2, X3, Y3);
    dataset_free(ds);
}

static void test_parse_crlf(void **state) {
    (void)state;
    dataset *ds = parse_ok("x1,x2,y\r\n1.5,2,1\r\n-3,0.25,0\r\n0.1,-7,1\r\n");
    expect_data(ds, 3, 2, X3, Y3);
    dataset_free(ds);
    ds = parse_ok("1.5,2,1\r\n-3,0.25,0\r\n0.1,-7,1");
    expect_data(ds, 3, 2, X3, Y3);
    dataset_free(ds);
}

static void test_parse_blank_lines(void **state) {
    (void)state;
    dataset *ds = parse_ok("\n\nx1,x2,y\n\n1.5,2,1\n   \n-3,0.25,0\n\t\n\r\n0.1,-7,1\n\n\n  \n");
    expect_data(ds, 3, 2, X3, Y3);
    dataset_free(ds);
    ds = parse_ok("1.5,2,1\r\n\r\n-3,0.25,0\r\n0.1,-7,1\r\n\r\n");
    expect_data(ds, 3, 2, X3, Y3);
    dataset_free(ds);
}

static void test_parse_spaces_and_quotes(void **state) {
    (void)state;
    dataset *ds = parse_ok(" x1 , x2 , y \n  1.5 ,\t2,1 \n-3 , 0.25 ,  0\n 0.1,-7 ,1\n");
    expect_data(ds, 3, 2, X3, Y3);
    dataset_free(ds);
    ds = parse_ok("\"1.5\",\"2\",\"1\"\n\"-3\", \"0.25\" ,0\n0.1,\"-7\",\"1\"\n");
    expect_data(ds, 3, 2, X3, Y3);
    dataset_free(ds);
}

static void test_parse_scientific(void **state) {
    (void)state;
    static const double X[] = {1e-3, -2.5E+10, 6.02214076e23, 1e-300, -0.0, 3.0e0};
    static const double y[] = {0, 1, 1};
    dataset *ds = parse_ok("1e-3,-2.5E+10,0\n6.02214076e23,1e-300,1.0\n-0.0,3.0e0,1e0\n");
    expect_data(ds, 3, 2, X, y);
    dataset_free(ds);
    /* Many digits: the value is the correctly rounded one, as strtod gives. */
    static const double X2[] = {0.1, 1.0 / 3.0};
    static const double y2[] = {0};
    ds = parse_ok("0.1000000000000000055511151231257827,0.33333333333333331483,0\n");
    expect_data(ds, 1, 2, X2, y2);
    dataset_free(ds);
}

static void test_parse_wide(void **state) {
    (void)state;
    char text[4096];
    size_t k = 0;
    double X[2 * 50];
    double y[2] = {1, 0};
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < 50; j++) {
            X[i * 50 + j] = (double)(i * 100 + j) / 8;
            k += (size_t)snprintf(text + k, sizeof text - k, "%.17g,", X[i * 50 + j]);
        }
        k += (size_t)snprintf(text + k, sizeof text - k, "%g\n", y[i]);
    }
    dataset *ds = parse_ok(text);
    expect_data(ds, 2, 50, X, y);
    dataset_free(ds);
}

/* --- CSV: errors ----------------------------------------------------- */

static void test_error_field_count(void **state) {
    (void)state;
    EXPECT_PARSE_ERROR("1,2,0\n3,4,1\n5,1\n", 3, "expected 3", "got 2");
    EXPECT_PARSE_ERROR("1,2,0\n3,4,1,0\n", 2, "expected 3", "got 4");
    /* Lines count physically: the header and the blank lines. */
    EXPECT_PARSE_ERROR("a,b,y\n\n1,2,0\r\n\r\n1,2,3,0\r\n", 5, "expected 3", "got 4");
    /* A trailing comma is one more (empty) field. */
    EXPECT_PARSE_ERROR("1,2,0\n1,2,0,\n", 2, "expected 3", "got 4");
}

static void test_error_not_a_number(void **state) {
    (void)state;
    EXPECT_PARSE_ERROR("1,2,0\n3,abc,1\n", 2, "column 2");
    EXPECT_PARSE_ERROR("x,y\n1,0\n2,1\n4x,1\n", 4, "column 1");
    EXPECT_PARSE_ERROR("1,2,0\n3,4,yes\n", 2, "column 3");
    EXPECT_PARSE_ERROR("1,2,0\n3,,1\n", 2, "column 2");
    EXPECT_PARSE_ERROR("1,2,0\n3,1 2,1\n", 2, "column 2");
}

/* y is any finite number: which values a model takes is its own check. */
static void test_parse_real_y(void **state) {
    (void)state;
    static const double X[] = {1, 2, 3, 4, 5, 6};
    static const double y[] = {-2.5, 7, 1e-3};
    dataset *ds = parse_ok("1,2,-2.5\n3,4,7\n5,6,1e-3\n");
    expect_data(ds, 3, 2, X, y);
    assert_null(ds->names);
    dataset_free(ds);
    EXPECT_PARSE_ERROR("1,2,0\n3,4,nan\n", 2, "column 3");
}

/* A header names the covariates (not y), unquoted and trimmed. */
static void test_parse_header_names(void **state) {
    (void)state;
    dataset *ds = parse_ok("\"age\", income ,y\n1,2,0\n3,4,1\n");
    assert_non_null(ds->names);
    assert_string_equal(ds->names[0], "age");
    assert_string_equal(ds->names[1], "income");
    dataset_free(ds);
    EXPECT_PARSE_ERROR("a,a,y\n1,2,0\n", 1, "header", "column 2", "repeats");
    EXPECT_PARSE_ERROR("\n\na,b,c,y\n1,2,0\n", 3, "header has 4 fields");
    EXPECT_PARSE_ERROR("a,\"\",y\n1,2,0\n", 1, "column 2", "empty");
    /* names go back out as JSON strings: not UTF-8, not a name (a fuzz find) */
    EXPECT_PARSE_ERROR("a,b\xff,y\n1,2,0\n", 1, "column 2", "UTF-8");
    EXPECT_PARSE_ERROR("\xc3,b,y\n1,2,0\n", 1, "column 1", "UTF-8");
    ds = parse_ok("\xc3\xa9t\xc3\xa9,b,y\n1,2,0\n"); /* "été" is fine */
    assert_string_equal(ds->names[0], "\xc3\xa9t\xc3\xa9");
    dataset_free(ds);
}

static void test_error_empty(void **state) {
    (void)state;
    EXPECT_PARSE_ERROR("", 0, "no data");
    /* Only blank lines: the message names the last line read. */
    EXPECT_PARSE_ERROR("\n \r\n\t\n", 3, "no data");
    /* len 0 with a non-empty buffer: only len counts. */
    expect_parse_error("1,2,0\n", 0, 0, "no data", (const char *)NULL);
}

static void test_error_header_only(void **state) {
    (void)state;
    EXPECT_PARSE_ERROR("x1,x2,y\n", 1, "header");
    EXPECT_PARSE_ERROR("x1,x2,y", 1, "header");
    EXPECT_PARSE_ERROR("x1,x2,y\r\n\r\n\r\n", 3, "header");
}

static void test_error_single_column(void **state) {
    (void)state;
    EXPECT_PARSE_ERROR("1\n0\n1\n", 1, "1 field");
    EXPECT_PARSE_ERROR("y\n1\n0\n", 2, "1 field");
}

static void test_error_non_finite(void **state) {
    (void)state;
    EXPECT_PARSE_ERROR("1,2,0\ninf,3,1\n", 2, "column 1");
    EXPECT_PARSE_ERROR("1,2,0\n1,nan,1\n", 2, "column 2");
    EXPECT_PARSE_ERROR("1,2,0\n1,-Infinity,1\n", 2, "column 2");
    EXPECT_PARSE_ERROR("1,2,0\n1,2,nan\n", 2, "column 3");
    EXPECT_PARSE_ERROR("1,2,0\n1,2,0\n1e999,2,1\n", 3, "column 1");
    EXPECT_PARSE_ERROR("x,y\n1,0\n\"NaN\",1\n", 3, "column 1");
}

/* A first line whose first field is numeric text for a non-finite value is
 * a data row with a bad value, not a header: it must fail like any other
 * row, never be dropped silently. */
static void test_error_non_finite_first_line(void **state) {
    (void)state;
    EXPECT_PARSE_ERROR("1e999,2,1\n1,2,0\n", 1, "column 1");
    EXPECT_PARSE_ERROR("nan,2,1\n1,2,0\n", 1, "column 1");
    EXPECT_PARSE_ERROR("-inf,2,1\n1,2,0\n", 1, "column 1");
}

/* The message is cut to errlen, always terminated; errlen 0 is allowed. */
static void test_error_short_buffer(void **state) {
    (void)state;
    const char *text = "1,2,0\n3,abc,1\n";
    char err[8];
    memset(err, 'X', sizeof err);
    dataset *ds = NOT_SET;
    assert_int_equal(dataset_parse_csv(text, strlen(text), &ds, err, sizeof err), MCMC_EPARSE);
    assert_null(ds);
    assert_string_equal(err, "line 2:");
    ds = NOT_SET;
    assert_int_equal(dataset_parse_csv(text, strlen(text), &ds, NULL, 0), MCMC_EPARSE);
    assert_null(ds);
}

/* --- CSV files ------------------------------------------------------- */

static void write_temp(char *path, const char *text, size_t len) {
    strcpy(path, "/tmp/test_dataset_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void expect_same(const dataset *a, const dataset *b) {
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->d, b->d);
    assert_memory_equal(a->X, b->X, a->n * a->d * sizeof(double));
    assert_memory_equal(a->y, b->y, a->n * sizeof *a->y);
}

static void load_and_compare(const char *text, size_t len) {
    char path[64], err[256];
    write_temp(path, text, len);
    dataset *parsed = NULL, *loaded = NOT_SET;
    assert_int_equal(dataset_parse_csv(text, len, &parsed, err, sizeof err), MCMC_OK);
    int rc = dataset_load_csv(path, &loaded, err, sizeof err);
    unlink(path);
    if (rc != MCMC_OK) print_error("load: %s\n", err);
    assert_int_equal(rc, MCMC_OK);
    expect_same(parsed, loaded);
    dataset_free(parsed);
    dataset_free(loaded);
}

static void test_load_csv(void **state) {
    (void)state;
    const char *small = "x1,x2,y\r\n1.5,2,1\r\n\r\n-3,0.25,0\r\n\"0.1\", -7 ,1\r\n";
    load_and_compare(small, strlen(small));

    /* Larger than the loader's 64 KiB read chunk, so it grows its buffer. */
    size_t cap = 1 << 20, len = 0, rows = 12000;
    char *big = malloc(cap);
    assert_non_null(big);
    len += (size_t)snprintf(big, cap, "a,b,c,y\n");
    for (size_t i = 0; i < rows; i++)
        len += (size_t)snprintf(big + len, cap - len, "%.17g,%zu,%.6e,%zu\n", 1.0 / (double)(i + 3),
                                i, -(double)i * 1e-7, i % 2);
    assert_true(len > 3 * 65536);
    load_and_compare(big, len);
    dataset *ds = NULL;
    char err[256];
    assert_int_equal(dataset_parse_csv(big, len, &ds, err, sizeof err), MCMC_OK);
    assert_int_equal(ds->n, rows);
    assert_int_equal(ds->d, 3);
    assert_true(ds->X[(rows - 1) * 3 + 0] == 1.0 / (double)(rows + 2));
    assert_int_equal(ds->y[rows - 1], (rows - 1) % 2);
    dataset_free(ds);
    free(big);
}

static void test_load_csv_errors(void **state) {
    (void)state;
    char err[256] = "";
    dataset *ds = NOT_SET;
    const char *missing = "/tmp/test_dataset_no_such_dir_6b1f/none.csv";
    assert_int_equal(dataset_load_csv(missing, &ds, err, sizeof err), MCMC_EIO);
    assert_null(ds);
    assert_non_null(strstr(err, missing));

    /* A parse error in a file is still MCMC_EPARSE, naming the line. */
    char path[64];
    const char *bad = "x,y\n1,0\n2,seven\n";
    write_temp(path, bad, strlen(bad));
    ds = NOT_SET;
    int rc = dataset_load_csv(path, &ds, err, sizeof err);
    unlink(path);
    assert_int_equal(rc, MCMC_EPARSE);
    assert_null(ds);
    assert_true(names_line(err, 3));

    /* An empty file. */
    write_temp(path, "", 0);
    ds = NOT_SET;
    rc = dataset_load_csv(path, &ds, err, sizeof err);
    unlink(path);
    assert_int_equal(rc, MCMC_EPARSE);
    assert_null(ds);
}

/* --- synthetic data -------------------------------------------------- */

static dataset *synth(size_t n, size_t d, uint64_t seed, double var, double rho) {
    synth_params p = {.n = n, .d = d, .seed = seed, .theta_variance = var, .rho = rho};
    dataset *ds = NOT_SET;
    assert_int_equal(dataset_synthesize(&p, &ds), MCMC_OK);
    assert_non_null(ds);
    assert_true(ds != NOT_SET);
    assert_int_equal(ds->n, n);
    assert_int_equal(ds->d, d);
    assert_non_null(ds->theta_true);
    for (size_t i = 0; i < n; i++)
        assert_true(ds->y[i] == 0 || ds->y[i] == 1);
    return ds;
}

static int same_bytes(const dataset *a, const dataset *b) {
    return a->n == b->n && a->d == b->d && !memcmp(a->X, b->X, a->n * a->d * sizeof(double)) &&
           !memcmp(a->y, b->y, a->n * sizeof *a->y) &&
           !memcmp(a->theta_true, b->theta_true, a->d * sizeof(double));
}

static void test_synth_deterministic(void **state) {
    (void)state;
    for (int k = 0; k < 2; k++) {
        double rho = k ? 0.4 : 0;
        dataset *a = synth(500, 7, 42, 10, rho), *b = synth(500, 7, 42, 10, rho);
        dataset *c = synth(500, 7, 43, 10, rho);
        assert_true(same_bytes(a, b));
        assert_memory_not_equal(a->X, c->X, 500 * 7 * sizeof(double));
        assert_memory_not_equal(a->theta_true, c->theta_true, 7 * sizeof(double));
        assert_memory_not_equal(a->y, c->y, 500 * sizeof *a->y);
        dataset_free(a), dataset_free(b), dataset_free(c);
    }
    /* The seed's high word matters too (a JAX key is {seed >> 32, seed}). */
    dataset *a = synth(50, 3, 1, 10, 0), *b = synth(50, 3, (1ull << 32) | 1, 10, 0);
    assert_memory_not_equal(a->X, b->X, 50 * 3 * sizeof(double));
    dataset_free(a), dataset_free(b);
}

static void test_synth_x_moments(void **state) {
    (void)state;
    size_t n = 20000, d = 10, N = n * d;
    dataset *ds = synth(n, d, 7, 10, 0);
    double sum = 0, ss = 0;
    for (size_t k = 0; k < N; k++)
        sum += ds->X[k];
    double mean = sum / (double)N;
    for (size_t k = 0; k < N; k++)
        ss += (ds->X[k] - mean) * (ds->X[k] - mean);
    double var = ss / (double)(N - 1);
    /* 5 standard errors: the mean of N iid N(0,1) has sd 1/sqrt(N); the
     * sample variance has sd sqrt(2/N). */
    assert_true(fabs(mean) < 5 / sqrt((double)N));
    assert_true(fabs(var - 1) < 5 * sqrt(2.0 / (double)N));
    /* Per column too (n values each), so no column is left out or scaled. */
    for (size_t j = 0; j < d; j++) {
        double cs = 0, css = 0;
        for (size_t i = 0; i < n; i++)
            cs += ds->X[i * d + j], css += ds->X[i * d + j] * ds->X[i * d + j];
        assert_true(fabs(cs / (double)n) < 5 / sqrt((double)n));
        /* E[x^2] = 1 with sd sqrt(2/n) (known zero mean). */
        assert_true(fabs(css / (double)n - 1) < 5 * sqrt(2.0 / (double)n));
    }
    dataset_free(ds);
}

static void test_synth_theta_variance(void **state) {
    (void)state;
    size_t d = 20000;
    double v = 10;
    dataset *ds = synth(2, d, 11, v, 0);
    double sum = 0, ss = 0;
    for (size_t j = 0; j < d; j++)
        sum += ds->theta_true[j], ss += ds->theta_true[j] * ds->theta_true[j];
    double s2 = ss / (double)d;
    /* 5 standard errors: theta_j ~ N(0, v), so the mean has sd sqrt(v/d)
     * and the variance about the known zero mean has sd v*sqrt(2/d). */
    assert_true(fabs(sum / (double)d) < 5 * sqrt(v / (double)d));
    assert_true(fabs(s2 - v) < 5 * v * sqrt(2.0 / (double)d));
    dataset_free(ds);

    /* Another variance: the scale follows the parameter (sd of s2 as above). */
    ds = synth(2, d, 11, 0.5, 0);
    ss = 0;
    for (size_t j = 0; j < d; j++)
        ss += ds->theta_true[j] * ds->theta_true[j];
    assert_true(fabs(ss / (double)d - 0.5) < 5 * 0.5 * sqrt(2.0 / (double)d));
    dataset_free(ds);
}

/* y_i ~ Bernoulli(p_i), p_i = sigmoid(x_i . theta_true), independent given
 * X. The residuals r_i = y_i - p_i then have mean 0 and variance p(1-p). */
static void check_labels(size_t n, size_t d, double var, uint64_t seed) {
    dataset *ds = synth(n, d, seed, var, 0);
    double r = 0, w = 0, vr = 0, vw = 0, ones = 0, mp = 0;
    for (size_t i = 0; i < n; i++) {
        double eta = 0;
        for (size_t j = 0; j < d; j++)
            eta += ds->X[i * d + j] * ds->theta_true[j];
        double p = 1 / (1 + exp(-eta)), q = p * (1 - p), res = ds->y[i] - p;
        r += res, vr += q;
        /* Weighted by (p - 1/2): zero in expectation under the model, but
         * not for labels that ignore p (coin flips: -E(p-1/2)^2) or
         * threshold it (y = [p > 1/2]: > 0) or flip it (1 - y: < 0),
         * which the plain mean cannot see when p is symmetric about 1/2. */
        w += res * (p - 0.5), vw += q * (p - 0.5) * (p - 0.5);
        ones += ds->y[i], mp += p;
    }
    /* 5 standard errors: sd(mean r) = sqrt(mean(p(1-p)) / n), and
     * sd(mean w) = sqrt(mean(p(1-p)(p-1/2)^2) / n). */
    double mean_r = r / (double)n, se_r = sqrt(vr / (double)n / (double)n);
    double mean_w = w / (double)n, se_w = sqrt(vw / (double)n / (double)n);
    if (fabs(mean_r) >= 5 * se_r || fabs(mean_w) >= 5 * se_w)
        print_error("d %zu var %g: mean r %g (se %g), mean w %g (se %g), ones %g, mean p %g\n", d,
                    var, mean_r, se_r, mean_w, se_w, ones / (double)n, mp / (double)n);
    assert_true(fabs(mean_r) < 5 * se_r);
    assert_true(fabs(mean_w) < 5 * se_w);
    dataset_free(ds);
}

static void test_synth_labels(void **state) {
    (void)state;
    check_labels(20000, 5, 10, 3);   /* the post's setting: p near 0 or 1 */
    check_labels(20000, 4, 0.25, 5); /* p spread over (0, 1) */
    check_labels(20000, 1, 1, 9);
}

/* Pearson correlation of columns j and k over the n rows. */
static double column_corr(const dataset *ds, size_t j, size_t k) {
    size_t n = ds->n, d = ds->d;
    double mj = 0, mk = 0, sjk = 0, sjj = 0, skk = 0;
    for (size_t i = 0; i < n; i++)
        mj += ds->X[i * d + j], mk += ds->X[i * d + k];
    mj /= (double)n, mk /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double a = ds->X[i * d + j] - mj, b = ds->X[i * d + k] - mk;
        sjk += a * b, sjj += a * a, skk += b * b;
    }
    return sjk / sqrt(sjj * skk);
}

/* rho > 0: corr(x_j, x_k) = u^|j-k| with one u ~ U(-rho, rho) per dataset.
 * The Pearson correlation of n normal pairs has sd (1 - r^2)/sqrt(n) <=
 * 1/sqrt(n) =: se, and an average of such estimates has sd <= se too. So
 * u_hat (mean of lag-1 correlations) and r2 (mean of lag-2 ones) are each
 * within 5 se; u_hat^2 moves by at most 2*0.4*|u_hat - u| = 0.8 * that, and
 * r2 - u_hat^2 has sd <= se + 0.8 se = 1.8 se (triangle inequality, whatever
 * their dependence): we allow 5 * 1.8 se. */
static void test_synth_correlated(void **state) {
    (void)state;
    size_t n = 200000, d = 4;
    double se = 1 / sqrt((double)n), rho = 0.4;
    int strong = 0;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        dataset *ds = synth(n, d, seed, 10, rho);
        double u = 0, r2 = 0, r3 = 0;
        for (size_t j = 0; j + 1 < d; j++)
            u += column_corr(ds, j, j + 1);
        for (size_t j = 0; j + 2 < d; j++)
            r2 += column_corr(ds, j, j + 2);
        r3 = column_corr(ds, 0, 3);
        u /= (double)(d - 1), r2 /= (double)(d - 2);
        print_message("seed %llu: lag-1 %.4f, lag-2 %.4f (u^2 %.4f), lag-3 %.4f (u^3 %.4f)\n",
                      (unsigned long long)seed, u, r2, u * u, r3, u * u * u);
        assert_true(fabs(u) <= rho + 5 * se);
        assert_true(fabs(r2 - u * u) < 5 * 1.8 * se);
        /* Lag 3: u^3 moves by at most 3*0.16 |u_hat - u| = 0.48 of it. */
        assert_true(fabs(r3 - u * u * u) < 5 * 1.48 * se);
        strong += fabs(u) > 10 * se;
        /* Each column keeps variance 1: the AR(1) recursion is stationary
         * (sd of the second moment about a known zero mean: sqrt(2/n)). */
        for (size_t j = 0; j < d; j++) {
            double ss = 0;
            for (size_t i = 0; i < n; i++)
                ss += ds->X[i * d + j] * ds->X[i * d + j];
            assert_true(fabs(ss / (double)n - 1) < 5 * sqrt(2.0 / (double)n));
        }
        dataset_free(ds);
    }
    /* u is uniform on (-0.4, 0.4): P(|u| <= 10 se = 0.022) is 0.056 per
     * seed, so at least one of four seeds shows the correlation for sure
     * (and the seeds are fixed, so this cannot flake). */
    assert_true(strong > 0);
}

static void test_synth_invalid(void **state) {
    (void)state;
    const double bad_rho[] = {-0.1, -1e-300, 1.0, 1.5, INFINITY, -INFINITY};
    for (size_t k = 0; k < sizeof bad_rho / sizeof *bad_rho; k++) {
        synth_params p = {.n = 10, .d = 2, .seed = 1, .theta_variance = 10, .rho = bad_rho[k]};
        dataset *ds = NOT_SET;
        assert_int_equal(dataset_synthesize(&p, &ds), MCMC_EINVAL);
        assert_null(ds);
    }
    const double bad_var[] = {0, -1, NAN};
    for (size_t k = 0; k < sizeof bad_var / sizeof *bad_var; k++) {
        synth_params p = {.n = 10, .d = 2, .seed = 1, .theta_variance = bad_var[k]};
        dataset *ds = NOT_SET;
        assert_int_equal(dataset_synthesize(&p, &ds), MCMC_EINVAL);
        assert_null(ds);
    }
    /* rho = 0 and rho just below 1 are accepted. */
    dataset *ds = synth(10, 2, 1, 10, 0.999);
    dataset_free(ds);
}

/* NaN is not in [0, 1) either: it must not be taken as rho = 0. */
static void test_synth_rho_nan(void **state) {
    (void)state;
    synth_params p = {.n = 10, .d = 2, .seed = 1, .theta_variance = 10, .rho = NAN};
    dataset *ds = NOT_SET;
    int rc = dataset_synthesize(&p, &ds);
    if (rc == MCMC_OK) dataset_free(ds), ds = NULL;
    assert_int_equal(rc, MCMC_EINVAL);
    assert_null(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_no_header),
        cmocka_unit_test(test_parse_header),
        cmocka_unit_test(test_parse_crlf),
        cmocka_unit_test(test_parse_blank_lines),
        cmocka_unit_test(test_parse_spaces_and_quotes),
        cmocka_unit_test(test_parse_scientific),
        cmocka_unit_test(test_parse_wide),
        cmocka_unit_test(test_error_field_count),
        cmocka_unit_test(test_error_not_a_number),
        cmocka_unit_test(test_parse_real_y),
        cmocka_unit_test(test_parse_header_names),
        cmocka_unit_test(test_error_empty),
        cmocka_unit_test(test_error_header_only),
        cmocka_unit_test(test_error_single_column),
        cmocka_unit_test(test_error_non_finite),
        cmocka_unit_test(test_error_non_finite_first_line),
        cmocka_unit_test(test_error_short_buffer),
        cmocka_unit_test(test_load_csv),
        cmocka_unit_test(test_load_csv_errors),
        cmocka_unit_test(test_synth_deterministic),
        cmocka_unit_test(test_synth_x_moments),
        cmocka_unit_test(test_synth_theta_variance),
        cmocka_unit_test(test_synth_labels),
        cmocka_unit_test(test_synth_correlated),
        cmocka_unit_test(test_synth_invalid),
        cmocka_unit_test(test_synth_rho_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
