/* test_draws_file.c - draw files: the .npy header (magic, 64-byte padding,
 * dict text), formats from extensions, an .npy written by three threads
 * out of order read back byte for byte, CSV and JSON text with exact round
 * trips and non-finite values (NaN/inf in CSV, null in JSON), the JSON
 * number writer, range checks on writes, and that finish and abort leave
 * no stray files behind. With statistics: X.stats.npy beside X.npy, rows a
 * chain never made as NaN, CmdStan CSV files per chain with their comment
 * blocks (cmdstan_text) in place. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmdstan_text.h"
#include "draws_file.h"
#include "errors.h"
#include "sampler.h"

#define NOT_SET ((draws_file *)(uintptr_t)0x1)

/* --- helpers --------------------------------------------------------- */

/* A fresh directory per test; rmdir at the end fails if a file was left. */
static void temp_dir(char *dir) {
    strcpy(dir, "/tmp/test_draws_XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void remove_dir(const char *dir) {
    int rc = rmdir(dir);
    if (rc != 0) print_error("rmdir %s: %s (a file was left behind)\n", dir, strerror(errno));
    assert_int_equal(rc, 0);
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int same_double(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0; /* exact, and -0.0 stays -0.0 */
}

static draws_file *create_ok(const char *path, draws_format fmt, uint32_t chains, uint64_t samples,
                             size_t d) {
    draws_file *f = NOT_SET;
    assert_int_equal(draws_file_create(path, fmt, chains, samples, d, &f), MCMC_OK);
    assert_non_null(f);
    assert_true(f != NOT_SET);
    return f;
}

/* --- .npy header ----------------------------------------------------- */

/* Checks the fixed parts of a v1.0 header and returns its dict text (from
 * byte 10 on, the magic holds a NUL) as a C string. */
static char *check_npy_header(const char *buf, size_t total) {
    assert_true(total > 10);
    assert_memory_equal(buf, "\x93NUMPY\x01\x00", 8);
    assert_int_equal(total % 64, 0);
    size_t hlen = (unsigned char)buf[8] | (size_t)(unsigned char)buf[9] << 8;
    assert_int_equal(10 + hlen, total);
    assert_int_equal(buf[total - 1], '\n');
    assert_int_equal(buf[10], '{');
    char *text = calloc(1, total + 1);
    assert_non_null(text);
    memcpy(text, buf, total);
    assert_int_equal(strlen(text + 10), hlen); /* no NUL inside the dict */
    memmove(text, text + 10, hlen + 1);
    /* After the closing brace: spaces only, then the newline. */
    char *close = strrchr(text, '}');
    assert_non_null(close);
    for (char *p = close + 1; p < text + hlen - 1; p++)
        assert_int_equal(*p, ' ');
    assert_non_null(strstr(text, "'descr': '<f8'"));
    assert_non_null(strstr(text, "'fortran_order': False"));
    return text;
}

static void test_npy_header(void **state) {
    (void)state;
    char buf[256];
    uint64_t shape3[3] = {2, 3, 4};
    size_t total = npy_header(buf, sizeof buf, shape3, 3);
    char *text = check_npy_header(buf, total);
    assert_non_null(strstr(text, "'shape': (2, 3, 4)"));
    free(text);

    /* A 1-tuple needs its comma: "(5,)" or the equally valid "(5, )". */
    uint64_t shape1[1] = {5};
    total = npy_header(buf, sizeof buf, shape1, 1);
    text = check_npy_header(buf, total);
    const char *s = strstr(text, "'shape': (");
    assert_non_null(s);
    s += strlen("'shape': (");
    assert_true(*s >= '0' && *s <= '9');
    while (*s >= '0' && *s <= '9')
        s++;
    assert_int_equal(*s++, ',');
    if (*s == ' ') s++;
    assert_int_equal(*s, ')');
    assert_int_equal(strtoull(strstr(text, "'shape': (") + strlen("'shape': ("), NULL, 10), 5);
    free(text);

    /* Large dimensions print in full. */
    uint64_t big[3] = {4096, 10000000000ull, 123};
    total = npy_header(buf, sizeof buf, big, 3);
    text = check_npy_header(buf, total);
    assert_non_null(strstr(text, "'shape': (4096, 10000000000, 123)"));
    free(text);

    /* Too small a buffer: 0, not an overflow. */
    assert_int_equal(npy_header(buf, 63, shape3, 3), 0);
}

static void test_format_from_path(void **state) {
    (void)state;
    assert_int_equal(draws_format_from_path("draws.npy"), DRAWS_NPY);
    assert_int_equal(draws_format_from_path("/tmp/x/draws.csv"), DRAWS_CSV);
    assert_int_equal(draws_format_from_path("out.json"), DRAWS_JSON);
    assert_int_equal(draws_format_from_path("a.b.json"), DRAWS_JSON);
    assert_int_equal(draws_format_from_path("draws.txt"), -1);
    assert_int_equal(draws_format_from_path("draws"), -1);
    assert_int_equal(draws_format_from_path("draws.npy.part"), -1);
    assert_int_equal(draws_format_from_path("dir.csv/draws"), -1);
    assert_int_equal(draws_format_from_path(""), -1);
}

/* --- .npy files, written from threads -------------------------------- */

enum { NC = 3, NS = 10, ND = 2 };

static double value_at(uint32_t c, uint64_t s, size_t j) {
    return (double)c * 1000 + (double)s * 10 + (double)j + 0.125;
}

/* Each chain's rows in blocks [0,3) [3,4) [4,8) [8,10); block k of all
 * 12 goes to thread k % 3, which writes its blocks last to first. */
static const uint64_t block_first[] = {0, 3, 4, 8}, block_count[] = {3, 1, 4, 2};

typedef struct writer_arg {
    draws_file *f;
    int thread;
    pthread_barrier_t *start;
    int rc;
} writer_arg;

static void *writer(void *p) {
    writer_arg *a = p;
    pthread_barrier_wait(a->start);
    for (int k = 4 * NC - 1; k >= 0; k--) {
        if (k % 3 != a->thread) continue;
        uint32_t c = (uint32_t)(k / 4);
        uint64_t first = block_first[k % 4], count = block_count[k % 4];
        double rows[4 * ND];
        for (uint64_t s = 0; s < count; s++)
            for (size_t j = 0; j < ND; j++)
                rows[s * ND + j] = value_at(c, first + s, j);
        int rc = draws_file_write(a->f, c, first, count, rows);
        if (rc != MCMC_OK) a->rc = rc;
    }
    return NULL;
}

static void test_npy_file_threads(void **state) {
    (void)state;
    char dir[64], path[128];
    temp_dir(dir);
    snprintf(path, sizeof path, "%s/draws.npy", dir);
    draws_file *f = create_ok(path, DRAWS_NPY, NC, NS, ND);

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 3);
    pthread_t th[3];
    writer_arg args[3];
    for (int t = 0; t < 3; t++) {
        args[t] = (writer_arg){.f = f, .thread = t, .start = &start};
        assert_int_equal(pthread_create(&th[t], NULL, writer, &args[t]), 0);
    }
    for (int t = 0; t < 3; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(args[t].rc, MCMC_OK);
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(draws_file_finish(f), MCMC_OK);

    size_t len;
    char *buf = read_all(path, &len);
    assert_true(len > 10);
    size_t hlen = (unsigned char)buf[8] | (size_t)(unsigned char)buf[9] << 8;
    char *text = check_npy_header(buf, 10 + hlen);
    assert_non_null(strstr(text, "'shape': (3, 10, 2)"));
    free(text);
    size_t body = 10 + hlen;
    assert_int_equal(len, body + NC * NS * ND * sizeof(double));
    for (uint32_t c = 0; c < NC; c++)
        for (uint64_t s = 0; s < NS; s++)
            for (size_t j = 0; j < ND; j++) {
                double v;
                memcpy(&v, buf + body + ((c * NS + s) * ND + j) * sizeof v, sizeof v);
                if (v != value_at(c, s, j))
                    print_error("[%u][%llu][%zu] = %g, want %g\n", c, (unsigned long long)s, j, v,
                                value_at(c, s, j));
                assert_true(v == value_at(c, s, j));
            }
    free(buf);
    assert_int_equal(unlink(path), 0);
    remove_dir(dir);
}

/* --- CSV and JSON ---------------------------------------------------- */

/* chains 2 x samples 4 x d 2, with awkward values and non-finite ones. */
static const double text_values[2 * 4 * 2] = {
    0.1,      1.0 / 3.0, 1e-300,    -2.5e10,  /* chain 0, draws 0-1 */
    -0.0,     5e-324,    DBL_MAX,   -DBL_MIN, /* chain 0, draws 2-3 */
    NAN,      INFINITY,  -INFINITY, 2.0 / 3,  /* chain 1, draws 0-1 */
    123456.0, 1e22,      -7.25e-5,  0.3,      /* chain 1, draws 2-3 */
};

/* Writes text_values as chains 2 x samples 4 x d 2, in a scrambled block
 * order, and finishes the file. */
static void write_text_file(const char *path, draws_format fmt) {
    draws_file *f = create_ok(path, fmt, 2, 4, 2);
    char part[160];
    snprintf(part, sizeof part, "%s.part", path);
    assert_true(exists(part));
    assert_int_equal(draws_file_write(f, 1, 1, 3, text_values + (4 + 1) * 2), MCMC_OK);
    assert_int_equal(draws_file_write(f, 0, 2, 2, text_values + 2 * 2), MCMC_OK);
    assert_int_equal(draws_file_write(f, 1, 0, 1, text_values + 4 * 2), MCMC_OK);
    assert_int_equal(draws_file_write(f, 0, 0, 2, text_values), MCMC_OK);
    assert_int_equal(draws_file_finish(f), MCMC_OK);
    assert_false(exists(part));
    assert_true(exists(path));
}

static void test_csv_file(void **state) {
    (void)state;
    char dir[64], path[128];
    temp_dir(dir);
    snprintf(path, sizeof path, "%s/draws.csv", dir);
    write_text_file(path, DRAWS_CSV);

    size_t len;
    char *text = read_all(path, &len);
    assert_true(len > 0);
    assert_int_equal(text[len - 1], '\n');
    assert_null(strstr(text, "\n\n")); /* no blank lines */
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    assert_non_null(line);
    assert_string_equal(line, "chain,draw,theta.1,theta.2");
    for (uint32_t c = 0; c < 2; c++)
        for (uint64_t s = 0; s < 4; s++) {
            line = strtok_r(NULL, "\n", &save);
            assert_non_null(line);
            char *p = line, *end;
            assert_int_equal(strtoul(p, &end, 10), c);
            assert_int_equal(*end, ',');
            assert_int_equal(strtoull(end + 1, &end, 10), s);
            for (size_t j = 0; j < 2; j++) {
                assert_int_equal(*end, ',');
                p = end + 1;
                double want = text_values[(c * 4 + s) * 2 + j], got = strtod(p, &end);
                assert_true(end > p);
                if (!same_double(got, want))
                    print_error("row %u,%llu col %zu: '%s' reads %.17g, want %.17g\n", c,
                                (unsigned long long)s, j, line, got, want);
                assert_true(same_double(got, want));
                if (isnan(want)) assert_memory_equal(p, "NaN", 3);
                if (isinf(want))
                    assert_memory_equal(p, want > 0 ? "inf" : "-inf", want > 0 ? 3 : 4);
            }
            assert_int_equal(*end, 0);
        }
    assert_null(strtok_r(NULL, "\n", &save));
    free(text);
    assert_int_equal(unlink(path), 0);
    remove_dir(dir);
}

static void test_json_file(void **state) {
    (void)state;
    char dir[64], path[128];
    temp_dir(dir);
    snprintf(path, sizeof path, "%s/draws.json", dir);
    write_text_file(path, DRAWS_JSON);

    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) print_error("%s: line %d: %s\n", path, jerr.line, jerr.text);
    assert_non_null(root);
    assert_true(json_is_object(root));
    json_t *shape = json_object_get(root, "shape");
    assert_true(json_is_array(shape));
    assert_int_equal(json_array_size(shape), 3);
    assert_int_equal(json_integer_value(json_array_get(shape, 0)), 2);
    assert_int_equal(json_integer_value(json_array_get(shape, 1)), 4);
    assert_int_equal(json_integer_value(json_array_get(shape, 2)), 2);
    json_t *draws = json_object_get(root, "draws");
    assert_true(json_is_array(draws));
    assert_int_equal(json_array_size(draws), 2);
    for (size_t c = 0; c < 2; c++) {
        json_t *chain = json_array_get(draws, c);
        assert_true(json_is_array(chain));
        assert_int_equal(json_array_size(chain), 4);
        for (size_t s = 0; s < 4; s++) {
            json_t *row = json_array_get(chain, s);
            assert_true(json_is_array(row));
            assert_int_equal(json_array_size(row), 2);
            for (size_t j = 0; j < 2; j++) {
                json_t *v = json_array_get(row, j);
                double want = text_values[(c * 4 + s) * 2 + j];
                if (!isfinite(want)) {
                    assert_true(json_is_null(v));
                    continue;
                }
                assert_true(json_is_number(v));
                double got = json_number_value(v);
                if (got != want)
                    print_error("[%zu][%zu][%zu] = %.17g, want %.17g\n", c, s, j, got, want);
                assert_true(got == want);
            }
        }
    }
    json_decref(root);
    assert_int_equal(unlink(path), 0);
    remove_dir(dir);
}

/* One chain, one draw, one coordinate: the smallest nesting [[[v]]]. */
static void test_json_file_tiny(void **state) {
    (void)state;
    char dir[64], path[128];
    temp_dir(dir);
    snprintf(path, sizeof path, "%s/one.json", dir);
    draws_file *f = create_ok(path, DRAWS_JSON, 1, 1, 1);
    double v = -1.5;
    assert_int_equal(draws_file_write(f, 0, 0, 1, &v), MCMC_OK);
    assert_int_equal(draws_file_finish(f), MCMC_OK);
    size_t len;
    char *text = read_all(path, &len);
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (!root) print_error("'%s': %s\n", text, jerr.text);
    assert_non_null(root);
    json_t *draws = json_object_get(root, "draws");
    assert_true(json_number_value(json_array_get(json_array_get(json_array_get(draws, 0), 0), 0)) ==
                -1.5);
    json_decref(root);
    free(text);
    assert_int_equal(unlink(path), 0);
    remove_dir(dir);
}

/* --- json_write_number ----------------------------------------------- */

static char *number_text(double v) {
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    json_write_number(out, v);
    assert_int_equal(fclose(out), 0);
    return buf;
}

static void expect_number_text(double v, const char *want) {
    char *got = number_text(v);
    assert_string_equal(got, want);
    free(got);
}

static void expect_round_trip(double v) {
    char *got = number_text(v);
    char *end;
    double back = strtod(got, &end);
    assert_int_equal(*end, 0);
    if (!same_double(back, v)) print_error("%.17g -> '%s' -> %.17g\n", v, got, back);
    assert_true(same_double(back, v));
    /* Valid JSON: jansson reads it back as the same number. */
    json_error_t jerr;
    json_t *j = json_loads(got, JSON_DECODE_ANY, &jerr);
    assert_non_null(j);
    assert_true(json_number_value(j) == v);
    json_decref(j);
    free(got);
}

static void test_json_write_number(void **state) {
    (void)state;
    expect_number_text(0.1, "0.1");
    expect_number_text(1e-300, "1e-300");
    expect_number_text(2.5, "2.5");
    expect_number_text(100, "100");
    expect_number_text(-7.25e-5, "-7.25e-05");
    expect_number_text(NAN, "null");
    expect_number_text(INFINITY, "null");
    expect_number_text(-INFINITY, "null");

    /* 1/3 needs 16 digits, 0.1 + 0.2 needs 17: both read back exactly. */
    char *third = number_text(1.0 / 3);
    assert_string_equal(third, "0.3333333333333333");
    free(third);
    expect_number_text(0.1 + 0.2, "0.30000000000000004");

    const double vals[] = {1.0 / 3,  2.0 / 3, 0.1 + 0.2,          1e-300, 5e-324, DBL_MIN, DBL_MAX,
                           -DBL_MAX, 1e22,    9007199254740993.0, M_PI,   -0.0};
    for (size_t k = 0; k < sizeof vals / sizeof *vals; k++)
        expect_round_trip(vals[k]);
}

/* --- argument checks and cleanup ------------------------------------ */

static void test_write_range(void **state) {
    (void)state;
    char dir[64], path[128];
    temp_dir(dir);
    snprintf(path, sizeof path, "%s/draws.npy", dir);
    draws_file *f = create_ok(path, DRAWS_NPY, 3, 10, 2);
    double rows[2 * 10] = {0};
    assert_int_equal(draws_file_write(f, 3, 0, 1, rows), MCMC_EINVAL);
    assert_int_equal(draws_file_write(f, UINT32_MAX, 0, 1, rows), MCMC_EINVAL);
    assert_int_equal(draws_file_write(f, 0, 9, 2, rows), MCMC_EINVAL);
    assert_int_equal(draws_file_write(f, 2, 0, 11, rows), MCMC_EINVAL);
    assert_int_equal(draws_file_write(f, 1, 11, 0, rows), MCMC_EINVAL);
    /* The edges are fine. */
    assert_int_equal(draws_file_write(f, 2, 8, 2, rows), MCMC_OK);
    assert_int_equal(draws_file_write(f, 0, 0, 10, rows), MCMC_OK);
    assert_int_equal(draws_file_write(f, 1, 10, 0, rows), MCMC_OK);
    assert_int_equal(draws_file_finish(f), MCMC_OK);
    assert_int_equal(unlink(path), 0);
    remove_dir(dir);
}

/* first + count must not wrap around. With chains 3, samples 10, d 2:
 * first = 2^64 - 1, count = 1 gives first + count = 0 <= samples, and the
 * byte offset wraps to 16 bytes before the body, inside the .npy header;
 * chain 2, first = 2^64 - 2, count = 2 wraps to chain 1's draws 8-9. Both
 * must be MCMC_EINVAL and leave the file as it was. */
static void test_write_range_overflow(void **state) {
    (void)state;
    char dir[64], path[128];
    temp_dir(dir);
    snprintf(path, sizeof path, "%s/draws.npy", dir);
    draws_file *f = create_ok(path, DRAWS_NPY, 3, 10, 2);
    size_t len_before, len_after;
    char *before = read_all(path, &len_before);
    double rows[4] = {1.5, -2.5, 3.5, -4.5};
    int rc1 = draws_file_write(f, 0, UINT64_MAX, 1, rows);
    int rc2 = draws_file_write(f, 2, UINT64_MAX - 1, 2, rows);
    char *after = read_all(path, &len_after);
    int same = len_before == len_after && !memcmp(before, after, len_before);
    if (!same && len_before == len_after) {
        size_t lo = 0, hi = len_after;
        while (before[lo] == after[lo])
            lo++;
        while (before[hi - 1] == after[hi - 1])
            hi--;
        print_error("rc %d, %d: bytes [%zu, %zu) changed; the header is bytes [0, %zu)\n", rc1, rc2,
                    lo, hi, len_after - 3 * 10 * 2 * sizeof(double));
    }
    free(before);
    free(after);
    draws_file_abort(f);
    remove_dir(dir);
    assert_int_equal(rc1, MCMC_EINVAL);
    assert_int_equal(rc2, MCMC_EINVAL);
    assert_true(same);
}

static void test_abort(void **state) {
    (void)state;
    char dir[64], path[128], part[160];
    temp_dir(dir);
    double rows[4] = {1, 2, 3, 4};

    snprintf(path, sizeof path, "%s/draws.npy", dir);
    draws_file *f = create_ok(path, DRAWS_NPY, 2, 2, 2);
    assert_true(exists(path));
    assert_int_equal(draws_file_write(f, 1, 0, 2, rows), MCMC_OK);
    draws_file_abort(f);
    assert_false(exists(path));

    for (draws_format fmt = DRAWS_CSV; fmt <= DRAWS_JSON; fmt++) {
        snprintf(path, sizeof path, "%s/draws.%s", dir, fmt == DRAWS_CSV ? "csv" : "json");
        snprintf(part, sizeof part, "%s.part", path);
        f = create_ok(path, fmt, 2, 2, 2);
        assert_true(exists(part));
        assert_int_equal(draws_file_write(f, 0, 0, 2, rows), MCMC_OK);
        draws_file_abort(f);
        assert_false(exists(part));
        assert_false(exists(path));
    }
    draws_file_abort(NULL); /* a no-op */
    remove_dir(dir);
}

static void test_create_fails(void **state) {
    (void)state;
    for (draws_format fmt = DRAWS_NPY; fmt <= DRAWS_JSON; fmt++) {
        draws_file *f = NOT_SET;
        assert_int_equal(
            draws_file_create("/tmp/test_draws_no_such_dir_41c7/x.npy", fmt, 1, 1, 1, &f),
            MCMC_EIO);
        assert_null(f);
    }
}

/* A create that fails to open its path must not remove what was there: it
 * never made it. Opening a Unix socket fails (ENXIO) even for root, as a
 * read-only file would for a daemon that is not root. */
static void test_create_fail_keeps_existing(void **state) {
    (void)state;
    char dir[64], path[128];
    int rc[3], kept[3];
    draws_file *f[3];
    temp_dir(dir);
    for (draws_format fmt = DRAWS_NPY; fmt <= DRAWS_JSON; fmt++) {
        /* The file that create opens: the path itself, or the .part. */
        snprintf(path, sizeof path, "%s/draws.%s", dir,
                 fmt == DRAWS_NPY   ? "npy"
                 : fmt == DRAWS_CSV ? "csv.part"
                                    : "json.part");
        int sock = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(sock >= 0);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        assert_true(strlen(path) < sizeof addr.sun_path);
        strcpy(addr.sun_path, path);
        assert_int_equal(bind(sock, (struct sockaddr *)&addr, sizeof addr), 0);
        char target[128];
        snprintf(target, sizeof target, "%.*s", (int)(strlen(path) - (fmt == DRAWS_NPY ? 0 : 5)),
                 path);
        f[fmt] = NOT_SET;
        rc[fmt] = draws_file_create(target, fmt, 1, 1, 1, &f[fmt]);
        kept[fmt] = exists(path);
        if (!kept[fmt]) print_error("%s: removed by a failed draws_file_create\n", path);
        close(sock);
        unlink(path);
    }
    remove_dir(dir);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(rc[k], MCMC_EIO);
        assert_null(f[k]);
        assert_true(kept[k]);
    }
}

/* --- statistics and CmdStan ------------------------------------------- */

#define TWO_STATS (STAT_BIT(STAT_LP) | STAT_BIT(STAT_ENERGY))

/* The float64 body of an .npy file after its header. */
static double *npy_values(const char *path, const char *shape, size_t n) {
    size_t len;
    char *text = read_all(path, &len);
    size_t body = 10 + ((unsigned char)text[8] | (size_t)(unsigned char)text[9] << 8);
    assert_non_null(memmem(text, body, shape, strlen(shape)));
    assert_int_equal(len, body + n * sizeof(double));
    double *v = malloc(n * sizeof *v);
    memcpy(v, text + body, n * sizeof *v);
    free(text);
    return v;
}

static void test_npy_stats_and_missing_rows(void **state) {
    (void)state;
    char dir[64], path[128], spath[128];
    temp_dir(dir);
    snprintf(path, sizeof path, "%s/x.npy", dir);
    snprintf(spath, sizeof spath, "%s/x.stats.npy", dir);
    draws_file_shape shape = {.chains = 2, .rows = 4, .warmup_rows = 1, .d = 3, .stats = TWO_STATS};
    draws_file *f = NULL;
    assert_int_equal(draws_file_open(path, DRAWS_NPY, &shape, &f), MCMC_OK);
    double draws[12], st[8];
    for (int k = 0; k < 12; k++)
        draws[k] = k + 0.5;
    for (int k = 0; k < 8; k++)
        st[k] = -k;
    assert_int_equal(draws_file_write(f, 0, 0, 4, draws), MCMC_OK);
    assert_int_equal(draws_file_write_stats(f, 0, 0, 4, st), MCMC_OK);
    assert_int_equal(draws_file_write(f, 1, 0, 2, draws), MCMC_OK); /* then non-finite */
    assert_int_equal(draws_file_write_stats(f, 1, 0, 2, st), MCMC_OK);
    assert_int_equal(draws_file_write_stats(f, 1, 3, 2, st), MCMC_EINVAL);
    uint64_t rows[2] = {4, 2};
    assert_int_equal(draws_file_finish_rows(f, rows), MCMC_OK);
    double *v = npy_values(path, "'shape': (2, 4, 3)", 24);
    double *w = npy_values(spath, "'shape': (2, 4, 2)", 16);
    for (int k = 0; k < 12; k++) {
        assert_true(v[k] == draws[k]);
        assert_true(k < 6 ? v[12 + k] == draws[k] : isnan(v[12 + k]));
    }
    for (int k = 0; k < 8; k++)
        assert_true(w[k] == st[k] && (k < 4 ? w[8 + k] == st[k] : isnan(w[8 + k])));
    free(v);
    free(w);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(unlink(spath), 0);

    /* no statistics in the shape: none can be written */
    f = create_ok(path, DRAWS_NPY, 1, 1, 1);
    assert_int_equal(draws_file_write_stats(f, 0, 0, 1, st), MCMC_EINVAL);
    draws_file_abort(f);
    assert_false(exists(spath));
    remove_dir(dir);
}

static void test_cmdstan_files(void **state) {
    (void)state;
    char dir[64], path[128], c1[128], c2[128];
    temp_dir(dir);
    snprintf(path, sizeof path, "%s/out.csv", dir);
    draws_cmdstan_chain_path(path, 0, c1, sizeof c1);
    draws_cmdstan_chain_path(path, 1, c2, sizeof c2);
    assert_true(strlen(c1) > 10 && !strcmp(c1 + strlen(c1) - 10, "/out_1.csv"));
    char plain[32];
    draws_cmdstan_chain_path("run", 11, plain, sizeof plain);
    assert_string_equal(plain, "run_12.csv");
    const char *names[] = {"a", "b"};
    draws_file_shape shape = {
        .chains = 2, .rows = 3, .warmup_rows = 1, .d = 2, .stats = TWO_STATS, .names = names};
    draws_file *f = NULL;
    assert_int_equal(draws_file_open(path, DRAWS_CMDSTAN, &shape, &f), MCMC_OK);
    for (uint32_t c = 0; c < 2; c++) {
        double draws[6] = {1, 2, 3, 4, 5, NAN}, st[6] = {-1, 0.5, -2, 0.25, -3, 0.125};
        assert_int_equal(draws_file_write(f, c, 0, 3, draws), MCMC_OK);
        assert_int_equal(draws_file_write_stats(f, c, 0, 3, st), MCMC_OK);
        assert_int_equal(draws_file_set_cmdstan_text(f, c, "# p\n", c ? "# a\n" : NULL, "# t\n"),
                         MCMC_OK);
    }
    uint64_t rows[2] = {3, 2};
    assert_int_equal(draws_file_finish_rows(f, rows), MCMC_OK);
    size_t len;
    char *one = read_all(c1, &len), *two = read_all(c2, &len);
    assert_string_equal(one,
                        "# p\nlp__,energy__,a,b\n-1,0.5,1,2\n-2,0.25,3,4\n-3,0.125,5,nan\n# t\n");
    assert_string_equal(two, "# p\nlp__,energy__,a,b\n-1,0.5,1,2\n# a\n-2,0.25,3,4\n# t\n");
    free(one);
    free(two);
    assert_int_equal(unlink(c1), 0);
    assert_int_equal(unlink(c2), 0);
    assert_false(exists(path));
    remove_dir(dir); /* no .part left behind */
}

static const char *const metric_choices[] = {"unit", "diag", "dense", NULL};
static const param_def fake_params[] = {
    {.name = "step_size", .kind = P_REAL, .def = 1},
    {.name = "max_tree_depth", .kind = P_INT, .def = 10},
    {.name = "metric", .kind = P_CHOICE, .def = 1, .choices = metric_choices},
};
static const sampler_def fake_nuts = {.name = "nuts",
                                      .params = fake_params,
                                      .num_params = 3,
                                      .flags = SAMPLER_USES_METRIC | SAMPLER_ADAPTS};

static void test_cmdstan_text(void **state) {
    (void)state;
    chain_config cfg = {.sampler = &fake_nuts,
                        .params = {0.5, 7, 1},
                        .num_samples = 100,
                        .num_warmup = 50,
                        .thin = 2,
                        .save_warmup = 1,
                        .chains = 4,
                        .key = {0, 42}};
    char *pro = cmdstan_prologue(&cfg, "gaussian", 1);
    assert_non_null(pro);
    const char *want[] = {"# model = gaussian\n",
                          "#     num_samples = 200\n",
                          "#     num_warmup = 50\n",
                          "#     save_warmup = 1\n",
                          "#     thin = 2\n",
                          "#       engaged = 1\n",
                          "#     algorithm = hmc\n",
                          "#         engine = nuts\n",
                          "#             max_depth = 7\n",
                          "#         stepsize = 0.5\n",
                          "#       nuts.metric = diag\n",
                          "# id = 2\n",
                          "#   seed = 42\n"};
    for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
        if (!strstr(pro, want[k])) print_error("missing %s in\n%s", want[k], pro);
        assert_non_null(strstr(pro, want[k]));
    }
    for (const char *p = pro; *p; p = strchr(p, '\n') + 1)
        assert_int_equal(*p, '#');
    free(pro);

    double diag[2] = {0.5, 2}, dense[4] = {1, 0.25, 0.25, 3};
    chain_adaptation a = {.known = 1, .step_size = 0.125, .kind = METRIC_DIAG, .d = 2, .inv = diag};
    char *text = cmdstan_adaptation(&a);
    assert_string_equal(text, "# Adaptation terminated\n# Step size = 0.125\n"
                              "# Diagonal elements of inverse mass matrix:\n# 0.5, 2\n");
    free(text);
    a.kind = METRIC_DENSE;
    a.inv = dense;
    text = cmdstan_adaptation(&a);
    assert_string_equal(text, "# Adaptation terminated\n# Step size = 0.125\n"
                              "# Elements of inverse mass matrix:\n# 1, 0.25\n# 0.25, 3\n");
    free(text);
    text = cmdstan_timing(1.5, 0.25);
    assert_string_equal(text, "# \n#  Elapsed Time: 1.500000 seconds (Warm-up)\n"
                              "#                0.250000 seconds (Sampling)\n"
                              "#                1.750000 seconds (Total)\n# \n");
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_header),
        cmocka_unit_test(test_format_from_path),
        cmocka_unit_test(test_npy_file_threads),
        cmocka_unit_test(test_csv_file),
        cmocka_unit_test(test_json_file),
        cmocka_unit_test(test_json_file_tiny),
        cmocka_unit_test(test_json_write_number),
        cmocka_unit_test(test_write_range),
        cmocka_unit_test(test_write_range_overflow),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_create_fails),
        cmocka_unit_test(test_create_fail_keeps_existing),
        cmocka_unit_test(test_npy_stats_and_missing_rows),
        cmocka_unit_test(test_cmdstan_files),
        cmocka_unit_test(test_cmdstan_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
