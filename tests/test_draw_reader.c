/* test_draw_reader.c - the draws endpoint's encoder: for the whole
 * selection of a finished job the .npy, CSV and JSON bytes equal those of
 * draws_file; selections (one chain, start, stop, thin) give the right rows
 * with the job's own chain and draw indices; the .npy content length and
 * header shape; buffer sizes 1, 7 and 4096 give the same bytes; a running
 * job's snapshot is rectangular; follow streams every row once as valid
 * NDJSON, waiting while nothing is new; selection errors name their
 * parameter; a body shorter than promised is an error. With statistics
 * and saved warmup rows: CSV columns, JSON's "stats" array, NDJSON fields
 * and the warmup marks hold the right values and equal draws_file's bytes;
 * CmdStan CSV of one chain puts the owner's blocks around the header and
 * rows, with the adaptation after the warmup rows. Also the shared text
 * renderers (core/draws_format). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "draw_reader.h"
#include "draws_file.h"
#include "draws_format.h"
#include "draws_request.h"
#include "errors.h"
#include "sampler.h"

/* --- a job's body ---------------------------------------------------- */

typedef struct job {
    char dir[64], body[128];
    int fd;
    uint32_t chains;
    uint64_t samples;
    size_t d;
} job;

static const double specials[] = {NAN,  INFINITY, -INFINITY, 0.1,    1.0 / 3,
                                  -0.0, 1e-300,   DBL_MAX,   5e-324, -2.5e10};
enum { NSPECIALS = sizeof specials / sizeof *specials };

/* Every fifth element is an awkward value, the rest say where they are. */
static double value_at(const job *jb, uint32_t c, uint64_t i, size_t j) {
    uint64_t n = ((uint64_t)c * jb->samples + i) * jb->d + j;
    if (n % 5 == 0) return specials[(n / 5) % NSPECIALS];
    return (double)c * 1e6 + (double)i + (double)j / 8 + 1.0 / 3;
}

static void fill_chain(const job *jb, uint32_t c, double *rows) {
    for (uint64_t i = 0; i < jb->samples; i++)
        for (size_t j = 0; j < jb->d; j++)
            rows[i * jb->d + j] = value_at(jb, c, i, j);
}

/* Writes the raw body to a temp file and opens it for reading. */
static void job_make(job *jb, uint32_t chains, uint64_t samples, size_t d) {
    *jb = (job){.chains = chains, .samples = samples, .d = d};
    strcpy(jb->dir, "/tmp/test_draw_reader_XXXXXX");
    assert_non_null(mkdtemp(jb->dir));
    snprintf(jb->body, sizeof jb->body, "%s/body", jb->dir);
    int fd = open(jb->body, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    double *rows = malloc(samples * d * sizeof *rows);
    assert_non_null(rows);
    for (uint32_t c = 0; c < chains; c++) {
        fill_chain(jb, c, rows);
        size_t n = samples * d * sizeof *rows;
        assert_int_equal(pwrite(fd, rows, n, (off_t)(c * n)), (ssize_t)n);
    }
    free(rows);
    assert_int_equal(close(fd), 0);
    jb->fd = open(jb->body, O_RDONLY);
    assert_true(jb->fd >= 0);
}

static void job_remove(job *jb) {
    close(jb->fd);
    assert_int_equal(unlink(jb->body), 0);
    assert_int_equal(rmdir(jb->dir), 0);
}

static char *slurp(const char *path, size_t *len) {
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

/* What draws_file writes for the job's draws, in format fmt. */
static char *reference_file(const job *jb, draws_format fmt, size_t *len) {
    static const char *const ext[] = {"npy", "csv", "json"};
    char path[160];
    snprintf(path, sizeof path, "%s/ref.%s", jb->dir, ext[fmt]);
    draws_file *f = NULL;
    assert_int_equal(draws_file_create(path, fmt, jb->chains, jb->samples, jb->d, &f), MCMC_OK);
    double *rows = malloc(jb->samples * jb->d * sizeof *rows);
    assert_non_null(rows);
    for (uint32_t c = jb->chains; c-- > 0;) {
        fill_chain(jb, c, rows);
        assert_int_equal(draws_file_write(f, c, 0, jb->samples, rows), MCMC_OK);
    }
    free(rows);
    assert_int_equal(draws_file_finish(f), MCMC_OK);
    char *text = slurp(path, len);
    assert_int_equal(unlink(path), 0);
    return text;
}

/* --- driving a reader ------------------------------------------------ */

typedef struct output {
    char *data;
    size_t len, cap;
} output;

static void output_add(output *o, const char *p, size_t n) {
    if (o->len + n + 1 > o->cap) {
        o->cap = (o->len + n + 1) * 2;
        o->data = realloc(o->data, o->cap);
        assert_non_null(o->data);
    }
    memcpy(o->data + o->len, p, n);
    o->len += n;
    o->data[o->len] = 0;
}

/* Reads with max-byte buffers until an answer that is not a byte count;
 * returns that answer. Checks that no call writes past max. */
static ssize_t drain(draw_reader *r, size_t max, output *o) {
    char *buf = malloc(max + 8);
    assert_non_null(buf);
    ssize_t n;
    while (1) {
        memset(buf, 0x5a, max + 8);
        n = draw_reader_read(r, buf, max);
        if (n <= 0) break;
        assert_true((size_t)n <= max);
        for (size_t k = max; k < max + 8; k++)
            assert_int_equal((unsigned char)buf[k], 0x5a);
        output_add(o, buf, (size_t)n);
    }
    free(buf);
    return n;
}

static draw_reader *open_ok(const job *jb, const draw_selection *sel, draw_format fmt, int follow) {
    draw_reader *r = NULL;
    assert_int_equal(draw_reader_open(&r, jb->fd, jb->chains, jb->samples, jb->d, sel, fmt, follow),
                     MCMC_OK);
    assert_non_null(r);
    return r;
}

static void set_all_available(draw_reader *r, const job *jb) {
    uint64_t avail[8];
    assert_true(jb->chains <= 8);
    for (uint32_t c = 0; c < jb->chains; c++)
        avail[c] = jb->samples;
    draw_reader_set_available(r, avail, 1);
}

/* The whole output of a snapshot of a finished job; END must follow. */
static char *snapshot(const job *jb, const draw_selection *sel, draw_format fmt, size_t max,
                      size_t *len) {
    draw_reader *r = open_ok(jb, sel, fmt, 0);
    set_all_available(r, jb);
    output o = {0};
    output_add(&o, "", 0);
    assert_int_equal(drain(r, max, &o), DRAW_READER_END);
    assert_int_equal(draw_reader_read(r, (char[4]){0}, 4), DRAW_READER_END);
    uint64_t want = draw_reader_content_length(r);
    if (fmt == DRAW_NPY)
        assert_int_equal(want, o.len);
    else
        assert_int_equal(want, UINT64_MAX);
    draw_reader_free(r);
    *len = o.len;
    return o.data;
}

/* --- equality with draws_file ---------------------------------------- */

static void check_same_as_draws_file(uint32_t chains, uint64_t samples, size_t d) {
    job jb;
    job_make(&jb, chains, samples, d);
    static const draw_format formats[] = {DRAW_NPY, DRAW_CSV, DRAW_JSON};
    static const draws_format file_formats[] = {DRAWS_NPY, DRAWS_CSV, DRAWS_JSON};
    static const size_t sizes[] = {1, 7, 4096, 1 << 20};
    for (int k = 0; k < 3; k++) {
        size_t want_len;
        char *want = reference_file(&jb, file_formats[k], &want_len);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            size_t got_len;
            char *got = snapshot(&jb, NULL, formats[k], sizes[s], &got_len);
            if (got_len != want_len || memcmp(got, want, want_len) != 0)
                print_error("format %d, buffer %zu: %zu bytes, want %zu\n", k, sizes[s], got_len,
                            want_len);
            assert_int_equal(got_len, want_len);
            assert_memory_equal(got, want, want_len);
            free(got);
        }
        free(want);
    }
    job_remove(&jb);
}

static void test_same_bytes_as_draws_file(void **state) {
    (void)state;
    check_same_as_draws_file(3, 1000, 5); /* 120 KB: more than one chunk */
    check_same_as_draws_file(1, 1, 1);
    check_same_as_draws_file(2, 3, 9000); /* a row larger than a chunk */
}

/* --- selections ------------------------------------------------------ */

/* The .npy header's shape and the body's offset. */
static size_t check_npy_shape(const char *npy, size_t len, uint64_t c, uint64_t s, uint64_t d) {
    assert_true(len >= 64);
    assert_memory_equal(npy, "\x93NUMPY\x01\x00", 8);
    size_t body = 10 + ((unsigned char)npy[8] | (size_t)(unsigned char)npy[9] << 8);
    assert_int_equal(body % 64, 0);
    char want[96];
    snprintf(want, sizeof want, "'shape': (%llu, %llu, %llu)", (unsigned long long)c,
             (unsigned long long)s, (unsigned long long)d);
    char *dict = strndup(npy + 10, body - 10);
    assert_non_null(strstr(dict, want));
    free(dict);
    assert_int_equal(len, body + c * s * d * sizeof(double));
    return body;
}

static int same_double(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0;
}

/* A JSON value as the draws carry it: null for non-finite. */
static void check_json_value(json_t *v, double want) {
    if (!isfinite(want)) {
        assert_true(json_is_null(v));
        return;
    }
    assert_true(json_is_number(v));
    assert_true(same_double(json_number_value(v), want) || json_number_value(v) == want);
}

/* Checks every format's output for one selection against the values. */
static void check_selection(const job *jb, const draw_selection *sel, uint64_t nrows) {
    uint32_t c0 = sel->chain == DRAW_ALL_CHAINS ? 0 : sel->chain;
    uint32_t nc = sel->chain == DRAW_ALL_CHAINS ? jb->chains : 1;
    size_t len;

    char *npy = snapshot(jb, sel, DRAW_NPY, 7, &len);
    size_t body = check_npy_shape(npy, len, nc, nrows, jb->d);
    for (uint32_t k = 0; k < nc; k++)
        for (uint64_t s = 0; s < nrows; s++)
            for (size_t j = 0; j < jb->d; j++) {
                double v;
                memcpy(&v, npy + body + ((k * nrows + s) * jb->d + j) * sizeof v, sizeof v);
                assert_true(same_double(v, value_at(jb, c0 + k, sel->start + s * sel->thin, j)));
            }
    free(npy);

    char *csv = snapshot(jb, sel, DRAW_CSV, 4096, &len), *save = NULL;
    char *line = strtok_r(csv, "\n", &save);
    assert_true(strncmp(line, "chain,draw,theta.1", 18) == 0);
    for (uint32_t k = 0; k < nc; k++)
        for (uint64_t s = 0; s < nrows; s++) {
            line = strtok_r(NULL, "\n", &save);
            assert_non_null(line);
            char *end;
            assert_int_equal(strtoul(line, &end, 10), c0 + k);
            assert_int_equal(strtoull(end + 1, &end, 10), sel->start + s * sel->thin);
            for (size_t j = 0; j < jb->d; j++)
                assert_true(same_double(strtod(end + 1, &end),
                                        value_at(jb, c0 + k, sel->start + s * sel->thin, j)));
            assert_int_equal(*end, 0);
        }
    assert_null(strtok_r(NULL, "\n", &save));
    free(csv);

    char *text = snapshot(jb, sel, DRAW_JSON, 1, &len);
    assert_int_equal(text[len - 1], '\n');
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (!root) print_error("%s: %s\n", text, jerr.text);
    assert_non_null(root);
    json_t *shape = json_object_get(root, "shape"), *draws = json_object_get(root, "draws");
    assert_int_equal(json_integer_value(json_array_get(shape, 0)), nc);
    assert_int_equal(json_integer_value(json_array_get(shape, 1)), nrows);
    assert_int_equal(json_integer_value(json_array_get(shape, 2)), jb->d);
    assert_int_equal(json_array_size(draws), nc);
    for (uint32_t k = 0; k < nc; k++) {
        json_t *chain = json_array_get(draws, k);
        assert_int_equal(json_array_size(chain), nrows);
        for (uint64_t s = 0; s < nrows; s++)
            for (size_t j = 0; j < jb->d; j++)
                check_json_value(json_array_get(json_array_get(chain, s), j),
                                 value_at(jb, c0 + k, sel->start + s * sel->thin, j));
    }
    json_decref(root);
    free(text);
}

static void test_selections(void **state) {
    (void)state;
    job jb;
    job_make(&jb, 4, 50, 3);
    const struct {
        draw_selection sel;
        uint64_t rows;
    } cases[] = {
        {{1, 3, 17, 4}, 4},                 /* draws 3 7 11 15 of chain 1 */
        {{DRAW_ALL_CHAINS, 0, 50, 1}, 50},  /* everything */
        {{DRAW_ALL_CHAINS, 10, 20, 1}, 10}, /* a window */
        {{3, 0, 50, 7}, 8},                 /* 0 7 ... 49 */
        {{0, 49, 50, 100}, 1},              /* the last draw */
        {{2, 20, 20, 1}, 0},                /* empty */
        {{DRAW_ALL_CHAINS, 5, 6, 3}, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
        check_selection(&jb, &cases[k].sel, cases[k].rows);

    /* Exact text for a tiny selection. */
    size_t len;
    draw_selection one = {2, 1, 2, 1};
    char *csv = snapshot(&jb, &one, DRAW_CSV, 3, &len);
    /* Element n = (2 * 50 + 1) * 3 + j: 303 and 304 say where they are,
     * 305 is specials[61 % 10], inf. */
    assert_string_equal(csv, "chain,draw,theta.1,theta.2,theta.3\n"
                             "2,1,2000001.3333333333,2000001.4583333333,inf\n");
    free(csv);
    char *json = snapshot(&jb, &one, DRAW_JSON, 3, &len);
    assert_string_equal(json, "{\"shape\":[1,1,3],\"draws\":[[[2000001.3333333333,"
                              "2000001.4583333333,null]]]}\n");
    free(json);
    char *nd = snapshot(&jb, &one, DRAW_NDJSON, 3, &len);
    assert_string_equal(nd, "{\"chain\":2,\"draw\":1,\"theta\":[2000001.3333333333,"
                            "2000001.4583333333,null]}\n");
    free(nd);
    job_remove(&jb);
}

/* Empty arrays stay well formed: JSON gives each chain []. */
static void test_empty_snapshot(void **state) {
    (void)state;
    job jb;
    job_make(&jb, 3, 10, 2);
    uint64_t none[3] = {0, 4, 9};
    const char *want[] = {NULL, "chain,draw,theta.1,theta.2\n",
                          "{\"shape\":[3,0,2],\"draws\":[[],[],[]]}\n", ""};
    for (draw_format fmt = DRAW_NPY; fmt <= DRAW_NDJSON; fmt++) {
        draw_reader *r = open_ok(&jb, NULL, fmt, 0);
        draw_reader_set_available(r, none, 0);
        output o = {0};
        output_add(&o, "", 0);
        assert_int_equal(drain(r, 5, &o), DRAW_READER_END);
        if (fmt == DRAW_NPY) {
            check_npy_shape(o.data, o.len, 3, 0, 2);
            assert_int_equal(draw_reader_content_length(r), o.len);
        } else {
            assert_string_equal(o.data, want[fmt]);
        }
        free(o.data);
        draw_reader_free(r);
    }
    job_remove(&jb);
}

/* --- a running job ----------------------------------------------------- */

static void test_running_snapshot(void **state) {
    (void)state;
    job jb;
    job_make(&jb, 3, 40, 2);
    draw_selection sel = {DRAW_ALL_CHAINS, 1, 40, 2}; /* 1 3 5 ... */
    draw_reader *r = open_ok(&jb, &sel, DRAW_NPY, 0);
    char buf[64];
    assert_int_equal(draw_reader_content_length(r), UINT64_MAX);
    assert_int_equal(draw_reader_read(r, buf, sizeof buf), DRAW_READER_WAIT);
    uint64_t avail[3] = {30, 12, 25}; /* min 12: draws 1 3 5 7 9 11 */
    draw_reader_set_available(r, avail, 0);
    uint64_t length = draw_reader_content_length(r);
    uint64_t more[3] = {40, 40, 40};
    draw_reader_set_available(r, more, 1); /* a snapshot is fixed */
    assert_int_equal(draw_reader_content_length(r), length);
    output o = {0};
    assert_int_equal(drain(r, 4096, &o), DRAW_READER_END);
    assert_int_equal(o.len, length);
    size_t body = check_npy_shape(o.data, o.len, 3, 6, 2);
    for (uint32_t c = 0; c < 3; c++)
        for (uint64_t s = 0; s < 6; s++)
            for (size_t j = 0; j < 2; j++) {
                double v;
                memcpy(&v, o.data + body + ((c * 6 + s) * 2 + j) * sizeof v, sizeof v);
                assert_true(same_double(v, value_at(&jb, c, 1 + 2 * s, j)));
            }
    free(o.data);
    draw_reader_free(r);

    /* One chain's snapshot only looks at that chain: 25 -> 1 3 ... 23. */
    sel.chain = 2;
    r = open_ok(&jb, &sel, DRAW_CSV, 0);
    draw_reader_set_available(r, avail, 0);
    o = (output){0};
    assert_int_equal(drain(r, 1, &o), DRAW_READER_END);
    size_t lines = 0;
    for (size_t k = 0; k < o.len; k++)
        lines += o.data[k] == '\n';
    assert_int_equal(lines, 1 + 12);
    assert_non_null(strstr(o.data, "\n2,23,"));
    assert_null(strstr(o.data, "\n2,25,"));
    free(o.data);
    draw_reader_free(r);
    job_remove(&jb);
}

/* --- follow ------------------------------------------------------------ */

/* Parses NDJSON lines, checks each against the values, counts each
 * (chain, draw) in seen and checks each chain's draws only go up. */
static void check_ndjson(const job *jb, const char *text, size_t len, unsigned char *seen,
                         int64_t *last_draw) {
    assert_true(len == 0 || text[len - 1] == '\n');
    const char *p = text;
    while (p < text + len) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        assert_non_null(nl);
        json_error_t jerr;
        json_t *row = json_loadb(p, (size_t)(nl - p), 0, &jerr);
        if (!row) print_error("'%.*s': %s\n", (int)(nl - p), p, jerr.text);
        assert_non_null(row);
        assert_int_equal(json_object_size(row), 3);
        json_int_t c = json_integer_value(json_object_get(row, "chain"));
        json_int_t i = json_integer_value(json_object_get(row, "draw"));
        json_t *theta = json_object_get(row, "theta");
        assert_true(c >= 0 && (uint64_t)c < jb->chains && i >= 0 && (uint64_t)i < jb->samples);
        assert_int_equal(json_array_size(theta), jb->d);
        for (size_t j = 0; j < jb->d; j++)
            check_json_value(json_array_get(theta, j), value_at(jb, (uint32_t)c, (uint64_t)i, j));
        seen[c * jb->samples + i]++;
        assert_true(i > last_draw[c]);
        last_draw[c] = i;
        json_decref(row);
        p = nl + 1;
    }
}

/* Follows a job whose chains grow by the given steps, reading with
 * max-byte buffers; returns the output. The last step finishes the job. */
static char *follow_job(const job *jb, const draw_selection *sel, const uint64_t *steps, int nsteps,
                        size_t max, size_t *len) {
    draw_reader *r = open_ok(jb, sel, DRAW_NDJSON, 1);
    assert_int_equal(draw_reader_content_length(r), UINT64_MAX);
    output o = {0};
    output_add(&o, "", 0);
    assert_int_equal(drain(r, max, &o), DRAW_READER_WAIT);
    for (int k = 0; k < nsteps; k++) {
        draw_reader_set_available(r, steps + (size_t)k * jb->chains, k + 1 == nsteps);
        ssize_t last = drain(r, max, &o);
        assert_int_equal(last, k + 1 == nsteps ? DRAW_READER_END : DRAW_READER_WAIT);
    }
    assert_int_equal(draw_reader_read(r, (char[8]){0}, 8), DRAW_READER_END);
    draw_reader_free(r);
    *len = o.len;
    return o.data;
}

static void test_follow(void **state) {
    (void)state;
    job jb;
    job_make(&jb, 3, 3000, 4);
    const uint64_t steps[] = {
        0,    0,    0,    /* nothing yet */
        5,    0,    2,    /* */
        5,    0,    2,    /* nothing new: WAIT at once */
        1500, 13,   900,  /* */
        1400, 20,   2999, /* a smaller count is ignored */
        3000, 3000, 3000, /* finished */
    };
    static const size_t sizes[] = {1, 7, 4096};
    char *first = NULL;
    size_t first_len = 0;
    for (size_t s = 0; s < 3; s++) {
        size_t len;
        char *text = follow_job(&jb, NULL, steps, 6, sizes[s], &len);
        unsigned char *seen = calloc(3 * 3000, 1);
        int64_t last[3] = {-1, -1, -1};
        check_ndjson(&jb, text, len, seen, last);
        for (size_t k = 0; k < 3 * 3000; k++)
            assert_int_equal(seen[k], 1);
        free(seen);
        if (!first) {
            first = text, first_len = len;
            continue;
        }
        assert_int_equal(len, first_len); /* the same interleaving */
        assert_memory_equal(text, first, len);
        free(text);
    }
    free(first);

    /* A selection, and a job that stops early (cancelled): chain 1 ends at
     * its draw 99, chain 2 at 1999; thin 7 from 10. */
    draw_selection sel = {DRAW_ALL_CHAINS, 10, 2500, 7};
    const uint64_t cut[] = {40, 0, 0, 3000, 100, 2000};
    size_t len;
    char *text = follow_job(&jb, &sel, cut, 2, 4096, &len);
    unsigned char *seen = calloc(3 * 3000, 1);
    int64_t last[3] = {-1, -1, -1};
    check_ndjson(&jb, text, len, seen, last);
    const uint64_t below[3] = {2500, 100, 2000};
    for (uint32_t c = 0; c < 3; c++)
        for (uint64_t i = 0; i < 3000; i++) {
            int want = i >= 10 && i < below[c] && (i - 10) % 7 == 0;
            assert_int_equal(seen[c * 3000 + i], want);
        }
    free(seen);
    free(text);
    job_remove(&jb);
}

/* Follow interleaves chains a chunk's worth of rows at a time. */
static void test_follow_order(void **state) {
    (void)state;
    job jb;
    job_make(&jb, 2, 4, 1);
    const uint64_t steps[] = {2, 4, 4, 4};
    size_t len;
    char *text = follow_job(&jb, NULL, steps, 2, 4096, &len);
    char order[64] = "", *p = order;
    for (const char *q = text; (q = strstr(q, "\"chain\":")) != NULL; q++) {
        int c, i;
        assert_int_equal(sscanf(q, "\"chain\":%d,\"draw\":%d", &c, &i), 2);
        p += sprintf(p, "%d%d ", c, i);
    }
    /* Chain 0 sends 0-1, chain 1 sends 0-3, then chain 0 sends 2-3. */
    assert_string_equal(order, "00 01 10 11 12 13 02 03 ");
    free(text);
    job_remove(&jb);

    /* Rows of 32 KiB: a 64 KiB read holds two, so a visit sends two. */
    job_make(&jb, 2, 5, 4096);
    const uint64_t all[] = {5, 5};
    text = follow_job(&jb, NULL, all, 1, 1 << 16, &len);
    p = order;
    for (const char *q = text; (q = strstr(q, "\"chain\":")) != NULL; q++) {
        int c, i;
        assert_int_equal(sscanf(q, "\"chain\":%d,\"draw\":%d", &c, &i), 2);
        p += sprintf(p, "%d%d ", c, i);
    }
    assert_string_equal(order, "00 01 10 11 02 03 12 13 04 14 ");
    free(text);
    job_remove(&jb);
}

/* --- errors -------------------------------------------------------------- */

static void expect_query_error(const draw_query *q, const char *want) {
    draw_selection sel = {7, 7, 7, 7}, before = sel;
    char err[DRAW_SELECTION_ERROR_MAX] = "";
    assert_int_equal(draw_selection_resolve(&sel, q, 4, 1000, err, sizeof err), MCMC_EINVAL);
    assert_string_equal(err, want);
    assert_memory_equal(&sel, &before, sizeof sel); /* untouched */
}

static void test_selection_errors(void **state) {
    (void)state;
    draw_selection sel;
    char err[DRAW_SELECTION_ERROR_MAX] = "";
    assert_int_equal(draw_selection_resolve(&sel, &(draw_query){0}, 4, 1000, err, sizeof err),
                     MCMC_OK);
    assert_int_equal(sel.chain, DRAW_ALL_CHAINS);
    assert_int_equal(sel.start, 0);
    assert_int_equal(sel.stop, 1000);
    assert_int_equal(sel.thin, 1);
    draw_query full = {"3", "10", "1000", "5"};
    assert_int_equal(draw_selection_resolve(&sel, &full, 4, 1000, NULL, 0), MCMC_OK);
    assert_true(sel.chain == 3 && sel.start == 10 && sel.stop == 1000 && sel.thin == 5);
    draw_query empty = {.start = "7", .stop = "7"};
    assert_int_equal(draw_selection_resolve(&sel, &empty, 4, 1000, NULL, 0), MCMC_OK);

    expect_query_error(&(draw_query){.chain = "4"}, "chain must be < 4");
    expect_query_error(&(draw_query){.chain = "4294967295"}, "chain must be < 4");
    expect_query_error(&(draw_query){.chain = "-1"}, "chain must be an integer >= 0");
    expect_query_error(&(draw_query){.chain = "one"}, "chain must be an integer >= 0");
    expect_query_error(&(draw_query){.start = "5", .stop = "3"}, "start must be <= stop");
    expect_query_error(&(draw_query){.start = "1001"}, "start must be <= 1000");
    expect_query_error(&(draw_query){.stop = "1001"}, "stop must be <= 1000");
    expect_query_error(&(draw_query){.start = ""}, "start must be an integer >= 0");
    expect_query_error(&(draw_query){.start = " 1"}, "start must be an integer >= 0");
    expect_query_error(&(draw_query){.stop = "99999999999999999999"},
                       "stop must be an integer >= 0");
    expect_query_error(&(draw_query){.stop = "2.5"}, "stop must be an integer >= 0");
    expect_query_error(&(draw_query){.thin = "0"}, "thin must be >= 1");
    expect_query_error(&(draw_query){.thin = "-2"}, "thin must be an integer >= 1");

    /* A struct is checked the same way, and open refuses what check does. */
    draw_selection bad = {0, 5, 3, 1};
    assert_int_equal(draw_selection_check(&bad, 4, 1000, err, sizeof err), MCMC_EINVAL);
    assert_string_equal(err, "start must be <= stop");
    job jb;
    job_make(&jb, 2, 10, 2);
    draw_reader *r = (draw_reader *)(uintptr_t)1; /* must become NULL */
    assert_int_equal(draw_reader_open(&r, jb.fd, 2, 10, 2, &bad, DRAW_CSV, 0), MCMC_EINVAL);
    assert_null(r);
    draw_selection zero_thin = {DRAW_ALL_CHAINS, 0, 10, 0};
    assert_int_equal(draw_reader_open(&r, jb.fd, 2, 10, 2, &zero_thin, DRAW_CSV, 0), MCMC_EINVAL);
    for (draw_format fmt = DRAW_NPY; fmt <= DRAW_JSON; fmt++) /* follow is NDJSON only */
        assert_int_equal(draw_reader_open(&r, jb.fd, 2, 10, 2, NULL, fmt, 1), MCMC_EINVAL);
    assert_int_equal(draw_reader_open(&r, jb.fd, 2, 10, 0, NULL, DRAW_CSV, 0), MCMC_EINVAL);
    assert_int_equal(draw_reader_open(&r, jb.fd, 0, 10, 2, NULL, DRAW_CSV, 0), MCMC_EINVAL);
    assert_int_equal(draw_reader_open(&r, -1, 2, 10, 2, NULL, DRAW_CSV, 0), MCMC_EINVAL);
    assert_int_equal(draw_reader_open(&r, jb.fd, 2, 10, 2, NULL, (draw_format)9, 0), MCMC_EINVAL);
    assert_int_equal(draw_reader_open(&r, jb.fd, 4, UINT64_MAX / 4, 2, NULL, DRAW_CSV, 0),
                     MCMC_EINVAL);
    assert_null(r);
    job_remove(&jb);
}

/* Rows said to be there but missing from the body: an error, for good. */
static void test_short_body(void **state) {
    (void)state;
    job jb;
    job_make(&jb, 2, 10, 2);
    assert_int_equal(truncate(jb.body, 15 * 2 * sizeof(double)), 0); /* chain 1: 5 rows */
    draw_reader *r = open_ok(&jb, NULL, DRAW_CSV, 0);
    set_all_available(r, &jb);
    output o = {0};
    assert_int_equal(drain(r, 64, &o), DRAW_READER_ERROR);
    assert_non_null(strstr(o.data, "\n0,9,")); /* chain 0 went out whole */
    assert_null(strstr(o.data, "\n1,"));
    assert_int_equal(draw_reader_read(r, (char[64]){0}, 64), DRAW_READER_ERROR);
    assert_int_equal(draw_reader_read(r, (char[64]){0}, 0), DRAW_READER_ERROR);
    free(o.data);
    draw_reader_free(r);
    draw_reader_free(NULL);
    job_remove(&jb);
}

static void test_content_types(void **state) {
    (void)state;
    assert_string_equal(draw_format_content_type(DRAW_NPY), "application/x-npy");
    assert_string_equal(draw_format_content_type(DRAW_CSV), "text/csv");
    assert_string_equal(draw_format_content_type(DRAW_JSON), "application/json");
    assert_string_equal(draw_format_content_type(DRAW_NDJSON), "application/x-ndjson");
    assert_string_equal(draw_format_content_type(DRAW_CMDSTAN), "text/csv");
    assert_null(draw_format_content_type((draw_format)5));
}

/* --- statistics and warmup rows --------------------------------------- */

#define STATS_MASK (STAT_BIT(STAT_LP) | STAT_BIT(STAT_ACCEPT) | STAT_BIT(STAT_ENERGY))
enum { NSTATS = 3 };

static double stat_at(uint32_t c, uint64_t i, unsigned k) {
    return k == 1 ? 1.0 / (double)(i + 2) : (double)c * 100 - (double)i - 0.25 * k;
}

/* A job with saved warmup rows and a statistics body beside its draws. */
typedef struct stats_job {
    job jb;
    char stats[160];
    int stats_fd;
    uint64_t warmup;
} stats_job;

static void stats_job_make(stats_job *sj, uint32_t chains, uint64_t rows, size_t d,
                           uint64_t warmup) {
    job_make(&sj->jb, chains, rows, d);
    sj->warmup = warmup;
    snprintf(sj->stats, sizeof sj->stats, "%s/stats", sj->jb.dir);
    int fd = open(sj->stats, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    for (uint32_t c = 0; c < chains; c++)
        for (uint64_t i = 0; i < rows; i++) {
            double row[NSTATS];
            for (unsigned k = 0; k < NSTATS; k++)
                row[k] = stat_at(c, i, k);
            off_t off = (off_t)(((uint64_t)c * rows + i) * sizeof row);
            assert_int_equal(pwrite(fd, row, sizeof row, off), (ssize_t)sizeof row);
        }
    assert_int_equal(close(fd), 0);
    sj->stats_fd = open(sj->stats, O_RDONLY);
    assert_true(sj->stats_fd >= 0);
}

static void stats_job_remove(stats_job *sj) {
    close(sj->stats_fd);
    assert_int_equal(unlink(sj->stats), 0);
    job_remove(&sj->jb);
}

static draw_body stats_body(const stats_job *sj) {
    return (draw_body){.draws_fd = sj->jb.fd,
                       .stats_fd = sj->stats_fd,
                       .chains = sj->jb.chains,
                       .rows = sj->jb.samples,
                       .warmup_rows = sj->warmup,
                       .d = sj->jb.d,
                       .stats = STATS_MASK};
}

/* The whole output of a finished job's snapshot. */
static char *read_body(const stats_job *sj, const draw_selection *sel, const draw_output *o,
                       size_t max) {
    draw_body body = stats_body(sj);
    draw_reader *r = NULL;
    assert_int_equal(draw_reader_open_body(&r, &body, sel, o), MCMC_OK);
    set_all_available(r, &sj->jb);
    output out = {0};
    output_add(&out, "", 0);
    assert_int_equal(drain(r, max, &out), DRAW_READER_END);
    draw_reader_free(r);
    return out.data;
}

/* What draws_file writes for the same job, with statistics. */
static char *reference_with_stats(const stats_job *sj, draws_format fmt) {
    const job *jb = &sj->jb;
    char path[160];
    snprintf(path, sizeof path, "%s/ref.%s", jb->dir, fmt == DRAWS_CSV ? "csv" : "json");
    draws_file_shape shape = {.chains = jb->chains,
                              .rows = jb->samples,
                              .warmup_rows = sj->warmup,
                              .d = jb->d,
                              .stats = STATS_MASK};
    draws_file *f = NULL;
    assert_int_equal(draws_file_open(path, fmt, &shape, &f), MCMC_OK);
    double *rows = malloc(jb->samples * jb->d * sizeof *rows);
    double *st = malloc(jb->samples * NSTATS * sizeof *st);
    assert_true(rows && st);
    for (uint32_t c = 0; c < jb->chains; c++) {
        fill_chain(jb, c, rows);
        for (uint64_t i = 0; i < jb->samples; i++)
            for (unsigned k = 0; k < NSTATS; k++)
                st[i * NSTATS + k] = stat_at(c, i, k);
        assert_int_equal(draws_file_write(f, c, 0, jb->samples, rows), MCMC_OK);
        assert_int_equal(draws_file_write_stats(f, c, 0, jb->samples, st), MCMC_OK);
    }
    free(rows);
    free(st);
    assert_int_equal(draws_file_finish(f), MCMC_OK);
    size_t len;
    char *text = slurp(path, &len);
    assert_int_equal(unlink(path), 0);
    return text;
}

static void test_stats_csv_ndjson(void **state) {
    (void)state;
    stats_job sj;
    stats_job_make(&sj, 2, 12, 2, 4);
    draw_output o = {.fmt = DRAW_CSV, .with_stats = 1};
    char *csv = read_body(&sj, NULL, &o, 7), *want = reference_with_stats(&sj, DRAWS_CSV);
    assert_string_equal(csv, want);
    free(want);
    char *save = NULL, *line = strtok_r(csv, "\n", &save);
    assert_string_equal(line, "chain,draw,warmup,lp__,accept_stat__,energy__,theta.1,theta.2");
    for (uint32_t c = 0; c < 2; c++)
        for (uint64_t i = 0; i < 12; i++) {
            line = strtok_r(NULL, "\n", &save);
            char *end;
            assert_int_equal(strtoul(line, &end, 10), c);
            assert_int_equal(strtoull(end + 1, &end, 10), i);
            assert_int_equal(strtoul(end + 1, &end, 10), i < 4);
            for (unsigned k = 0; k < NSTATS; k++)
                assert_true(same_double(strtod(end + 1, &end), stat_at(c, i, k)));
            for (size_t j = 0; j < 2; j++)
                assert_true(same_double(strtod(end + 1, &end), value_at(&sj.jb, c, i, j)));
            assert_int_equal(*end, 0);
        }
    free(csv);

    draw_selection sel = {1, 3, 12, 4}; /* draws 3 (warmup), 7, 11 */
    o.fmt = DRAW_NDJSON;
    char *nd = read_body(&sj, &sel, &o, 4096), *p = nd;
    for (uint64_t i = 3; i < 12; i += 4) {
        char *nl = strchr(p, '\n');
        json_t *row = json_loadb(p, (size_t)(nl - p), 0, NULL);
        assert_non_null(row);
        assert_int_equal(json_object_size(row), 7);
        assert_int_equal(json_integer_value(json_object_get(row, "draw")), i);
        assert_true(json_is_boolean(json_object_get(row, "warmup")));
        assert_int_equal(json_is_true(json_object_get(row, "warmup")), i < 4);
        assert_true(json_number_value(json_object_get(row, "accept_stat__")) == stat_at(1, i, 1));
        assert_true(json_number_value(json_object_get(row, "energy__")) == stat_at(1, i, 2));
        assert_true(same_double(json_number_value(json_object_get(row, "lp__")), stat_at(1, i, 0)));
        json_decref(row);
        p = nl + 1;
    }
    assert_int_equal(*p, 0);
    free(nd);
    stats_job_remove(&sj);
}

static void test_stats_json(void **state) {
    (void)state;
    stats_job sj;
    stats_job_make(&sj, 3, 9, 2, 5);
    draw_output o = {.fmt = DRAW_JSON, .with_stats = 1};
    char *text = read_body(&sj, NULL, &o, 1), *want = reference_with_stats(&sj, DRAWS_JSON);
    assert_string_equal(text, want);
    free(want);
    free(text);
    draw_selection sel = {DRAW_ALL_CHAINS, 2, 9, 2}; /* 2 4 (warmup) 6 8 */
    text = read_body(&sj, &sel, &o, 4096);
    json_t *root = json_loads(text, 0, NULL);
    assert_non_null(root);
    assert_int_equal(json_integer_value(json_object_get(root, "warmup_draws")), 2);
    json_t *names = json_object_get(root, "stat_names"), *st = json_object_get(root, "stats");
    assert_int_equal(json_array_size(names), 3);
    assert_string_equal(json_string_value(json_array_get(names, 0)), "lp__");
    assert_string_equal(json_string_value(json_array_get(names, 2)), "energy__");
    assert_int_equal(json_array_size(st), 3);
    for (uint32_t c = 0; c < 3; c++) {
        json_t *chain = json_array_get(st, c);
        assert_int_equal(json_array_size(chain), 4);
        for (uint64_t s = 0; s < 4; s++)
            for (unsigned k = 0; k < NSTATS; k++)
                assert_true(json_number_value(json_array_get(json_array_get(chain, s), k)) ==
                            stat_at(c, 2 + 2 * s, k));
    }
    json_decref(root);
    free(text);
    stats_job_remove(&sj);
}

/* Counts the lines of text that start with prefix. */
static size_t lines_starting(const char *text, const char *prefix) {
    size_t n = 0, len = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        n += strncmp(p, prefix, len) == 0;
    return n;
}

static void test_cmdstan(void **state) {
    (void)state;
    stats_job sj;
    stats_job_make(&sj, 2, 10, 2, 3);
    draw_output o = {.fmt = DRAW_CMDSTAN,
                     .prologue = "# pro\n",
                     .adaptation = "# Adaptation terminated\n",
                     .epilogue = "# end\n"};
    draw_selection sel = {1, 0, 10, 1};
    char *text = read_body(&sj, &sel, &o, 3);
    char want[4096], *p = want;
    p += sprintf(p, "# pro\nlp__,accept_stat__,energy__,theta.1,theta.2\n");
    char num[DRAWS_NUMBER_MAX];
    for (uint64_t i = 0; i < 10; i++) {
        if (i == 3) p += sprintf(p, "# Adaptation terminated\n");
        for (unsigned k = 0; k < NSTATS; k++) {
            draws_render_cmdstan_number(num, stat_at(1, i, k));
            p += sprintf(p, "%s%s", k ? "," : "", num);
        }
        for (size_t j = 0; j < 2; j++) {
            draws_render_cmdstan_number(num, value_at(&sj.jb, 1, i, j));
            p += sprintf(p, ",%s", num);
        }
        p += sprintf(p, "\n");
    }
    sprintf(p, "# end\n");
    assert_string_equal(text, want);
    assert_null(strstr(text, "NaN")); /* CmdStan writes nan */
    free(text);

    /* Without the warmup rows the block comes first; with none after the
     * warmup, at the end; a job of one chain needs no chain. */
    sel.start = 3;
    text = read_body(&sj, &sel, &o, 4096);
    assert_non_null(strstr(text, "theta.2\n# Adaptation terminated\n"));
    assert_int_equal(lines_starting(text, "#"), 3);
    free(text);
    sel = (draw_selection){0, 0, 2, 1};
    text = read_body(&sj, &sel, &o, 4096);
    assert_non_null(strstr(text, "\n# Adaptation terminated\n# end\n"));
    free(text);
    draw_reader *r = NULL;
    draw_body body = stats_body(&sj);
    assert_int_equal(draw_reader_open_body(&r, &body, NULL, &o), MCMC_EINVAL); /* 2 chains */
    body.chains = 1;
    assert_int_equal(draw_reader_open_body(&r, &body, NULL, &o), MCMC_OK);
    draw_reader_free(r);
    stats_job_remove(&sj);
}

/* Statistics need a body of them, and not .npy; follow stays NDJSON. */
static void test_stats_errors(void **state) {
    (void)state;
    stats_job sj;
    stats_job_make(&sj, 1, 4, 1, 0);
    draw_body body = stats_body(&sj);
    draw_reader *r = (draw_reader *)1;
    draw_output npy = {.fmt = DRAW_NPY, .with_stats = 1}, csv = {.fmt = DRAW_CSV, .with_stats = 1};
    assert_int_equal(draw_reader_open_body(&r, &body, NULL, &npy), MCMC_EINVAL);
    assert_null(r);
    body.stats_fd = -1;
    assert_int_equal(draw_reader_open_body(&r, &body, NULL, &csv), MCMC_EINVAL);
    draw_output cmd = {.fmt = DRAW_CMDSTAN};
    assert_int_equal(draw_reader_open_body(&r, &body, NULL, &cmd), MCMC_EINVAL);
    body = stats_body(&sj);
    body.warmup_rows = 5;
    assert_int_equal(draw_reader_open_body(&r, &body, NULL, &csv), MCMC_EINVAL);
    body.warmup_rows = 0;
    csv.follow = 1;
    assert_int_equal(draw_reader_open_body(&r, &body, NULL, &csv), MCMC_EINVAL);
    csv.fmt = DRAW_NDJSON;
    assert_int_equal(draw_reader_open_body(&r, &body, NULL, &csv), MCMC_OK);
    draw_reader_free(r);
    stats_job_remove(&sj);
}

/* --- the shared renderers --------------------------------------------- */

static void test_renderers(void **state) {
    (void)state;
    char buf[512];
    const double row[3] = {0.1, 1.0 / 3, NAN}, inf_row[2] = {INFINITY, -INFINITY};
    size_t n = draws_render_ndjson_row(buf, sizeof buf, 3, 12, row, 3);
    assert_string_equal(buf, "{\"chain\":3,\"draw\":12,\"theta\":[0.1,0.3333333333333333,null]}\n");
    assert_int_equal(n, strlen(buf));
    n = draws_render_csv_row(buf, sizeof buf, 0, 18446744073709551615ull, inf_row, 2);
    assert_string_equal(buf, "0,18446744073709551615,inf,-inf\n");
    assert_int_equal(n, strlen(buf));
    n = draws_render_json_row(buf, sizeof buf, inf_row, 2,
                              DRAWS_JSON_FIRST_ROW | DRAWS_JSON_LAST_ROW);
    assert_string_equal(buf, ",[[null,null]]");
    n = draws_render_json_row(buf, sizeof buf, row, 1, 0);
    assert_string_equal(buf, ",[0.1]");
    n = draws_render_json_open(buf, sizeof buf, 4294967295u, 18446744073709551615ull, 7);
    assert_string_equal(buf, "{\"shape\":[4294967295,18446744073709551615,7],\"draws\":[");
    assert_int_equal(n, strlen(buf));
    assert_true(n < draws_render_max(7));
    n = draws_render_csv_header(buf, sizeof buf, 2);
    assert_string_equal(buf, "chain,draw,theta.1,theta.2\n");
    n = draws_render_csv_number(buf, -0.0);
    assert_string_equal(buf, "-0");
    n = draws_render_json_number(buf, -DBL_MIN);
    assert_string_equal(buf, "-2.2250738585072014e-308");
    assert_int_equal(n, 24);

    /* The widest row of each kind fits draws_render_max exactly or below. */
    double wide[40];
    for (int j = 0; j < 40; j++)
        wide[j] = -DBL_MIN;
    static char big[4096];
    size_t cap = draws_render_max(40);
    assert_true(draws_render_ndjson_row(big, cap, UINT32_MAX, UINT64_MAX, wide, 40) < cap);
    assert_true(draws_render_csv_row(big, cap, UINT32_MAX, UINT64_MAX, wide, 40) < cap);
    assert_true(draws_render_json_row(big, cap, wide, 40, 7) < cap);
    assert_true(draws_render_csv_header(big, cap, 40) < cap);
    /* A cap below the bound writes nothing. */
    memset(buf, 'x', sizeof buf);
    assert_int_equal(draws_render_ndjson_row(buf, draws_render_max(3) - 1, 0, 0, row, 3), 0);
    assert_int_equal(buf[0], 'x');
}

/* Named parameters and statistic columns in the headers; a long name
 * widens the bound. */
static void test_layout_names(void **state) {
    (void)state;
    static char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    const char *names[] = {"theta.age", longname};
    draws_layout l = {
        .d = 2, .names = names, .stats = STAT_BIT(STAT_LP) | STAT_BIT(STAT_DIVERGENT)};
    size_t cap = draws_layout_max(&l);
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n = draws_render_cmdstan_header(buf, cap, &l);
    assert_int_equal(n, strlen("lp__,divergent__,theta.age,") + 299 + 1);
    assert_int_equal(strncmp(buf, "lp__,divergent__,theta.age,xxx", 30), 0);
    n = draws_render_csv_header_of(buf, cap, &l);
    assert_int_equal(strncmp(buf, "chain,draw,lp__,divergent__,theta.age,x", 39), 0);
    assert_int_equal(draws_render_csv_header_of(buf, cap - 1, &l), 0);
    const double st[2] = {NAN, 1}, th[2] = {INFINITY, -0.5};
    draws_row row = {.chain = 0, .draw = 1, .stats = st, .theta = th};
    draws_render_cmdstan_row(buf, cap, &l, &row);
    assert_string_equal(buf, "nan,1,inf,-0.5\n");
    free(buf);
}

/* draws_request_parse reads key=value pairs from a NULL-terminated list. */
static const char *pairs_get(void *ctx, const char *name) {
    for (const char *const *p = ctx; *p; p += 2)
        if (!strcmp(p[0], name)) return p[1];
    return NULL;
}

/* include_warmup=0 moves start past the warmup on the thin grid; a thin
 * near UINT64_MAX once overflowed and left start in the warmup (found by
 * tests/fuzz/fuzz_draws_query). */
static void test_request_drop_warmup(void **state) {
    (void)state;
    draws_job_shape shape = {.chains = 2, .samples = 20, .warmup_rows = 10};
    draws_request q;
    char err[DRAW_SELECTION_ERROR_MAX];
    const char *grid[] = {"include_warmup", "0", "start", "1", "thin", "4", NULL};
    assert_null(draws_request_parse(&q, pairs_get, grid, NULL, &shape, err, sizeof err));
    assert_int_equal(q.sel.start, 13);
    assert_int_equal(q.sel.stop, 20);
    const char *huge[] = {"include_warmup", "0", "thin", "18446744073709551615", NULL};
    assert_null(draws_request_parse(&q, pairs_get, huge, NULL, &shape, err, sizeof err));
    assert_int_equal(q.sel.start, 20); /* nothing left: the one grid point is warmup */
    assert_int_equal(q.sel.stop, 20);
    const char *bad[] = {"follow", "1", "format", "csv", NULL};
    assert_string_equal(draws_request_parse(&q, pairs_get, bad, NULL, &shape, err, sizeof err),
                        "follow=1 streams NDJSON: use format=ndjson");
    assert_int_equal(draws_format_from(NULL, "text/csv;profile=cmdstan"), DRAW_CMDSTAN);
}

/* --- divergent and column selections ----------------------------------- */

/* A CSV number read back: the value, up to the sign of a zero. */
static int csv_same(double got, double want) {
    return same_double(got, want) || got == want;
}

#define DIV_MASK (STAT_BIT(STAT_LP) | STAT_BIT(STAT_DIVERGENT))

/* Which draws the divergence job marks divergent: a pattern unlike thin's. */
static int is_divergent(uint32_t c, uint64_t i) {
    return (i * 7 + c * 3) % 11 == 0;
}

/* stats_job's files, with lp__ and divergent__ as statistics. */
static void div_job_make(stats_job *sj, uint32_t chains, uint64_t rows, size_t d, uint64_t warmup) {
    job_make(&sj->jb, chains, rows, d);
    sj->warmup = warmup;
    snprintf(sj->stats, sizeof sj->stats, "%s/stats", sj->jb.dir);
    int fd = open(sj->stats, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    for (uint32_t c = 0; c < chains; c++)
        for (uint64_t i = 0; i < rows; i++) {
            double row[2] = {-(double)i, is_divergent(c, i) ? 1.0 : 0.0};
            off_t off = (off_t)(((uint64_t)c * rows + i) * sizeof row);
            assert_int_equal(pwrite(fd, row, sizeof row, off), (ssize_t)sizeof row);
        }
    assert_int_equal(close(fd), 0);
    sj->stats_fd = open(sj->stats, O_RDONLY);
    assert_true(sj->stats_fd >= 0);
}

/* A reader of the columns cols (n; NULL: all), only divergent draws when
 * divergent is set. */
static draw_reader *div_open(const stats_job *sj, const draw_selection *sel, draw_format fmt,
                             int follow, int divergent, const uint32_t *cols, size_t n) {
    draw_body body = stats_body(sj);
    body.stats = DIV_MASK;
    draw_output o = {
        .fmt = fmt, .follow = follow, .divergent = divergent, .params = cols, .nparams = n};
    draw_reader *r = NULL;
    assert_int_equal(draw_reader_open_body(&r, &body, sel, &o), MCMC_OK);
    return r;
}

/* CSV of a divergent selection over three chains: exactly the divergent
 * draws in [start, stop), chain by chain, thin ignored, with the chosen
 * columns' names and values. */
static void test_divergent_csv(void **state) {
    (void)state;
    stats_job sj;
    div_job_make(&sj, 3, 40, 4, 10);
    const uint32_t cols[] = {1, 3};
    draw_selection sel = {DRAW_ALL_CHAINS, 5, 35, 4};
    draw_reader *r = div_open(&sj, &sel, DRAW_CSV, 0, 1, cols, 2);
    set_all_available(r, &sj.jb);
    output out = {0};
    output_add(&out, "", 0);
    assert_int_equal(drain(r, 7, &out), DRAW_READER_END);
    draw_reader_free(r);
    char *line = strtok(out.data, "\n");
    assert_string_equal(line, "chain,draw,warmup,theta.2,theta.4");
    size_t rows = 0;
    for (uint32_t c = 0; c < 3; c++)
        for (uint64_t i = 5; i < 35; i++) {
            if (!is_divergent(c, i)) continue;
            line = strtok(NULL, "\n");
            assert_non_null(line);
            unsigned got_c, warm;
            unsigned long long got_i;
            int at = 0;
            assert_int_equal(sscanf(line, "%u,%llu,%u,%n", &got_c, &got_i, &warm, &at), 3);
            assert_int_equal(got_c, c);
            assert_int_equal(got_i, i);
            assert_int_equal(warm, i < 10);
            char *end;
            assert_true(csv_same(strtod(line + at, &end), value_at(&sj.jb, c, i, 1)));
            assert_true(csv_same(strtod(end + 1, NULL), value_at(&sj.jb, c, i, 3)));
            rows++;
        }
    assert_null(strtok(NULL, "\n"));
    assert_true(rows >= 6); /* the pattern gives each chain a few */
    free(out.data);
    stats_job_remove(&sj);
}

/* Follow: divergences go out as their rows become available, each once. */
static void test_divergent_follow(void **state) {
    (void)state;
    stats_job sj;
    div_job_make(&sj, 2, 40, 3, 0);
    draw_selection sel = {DRAW_ALL_CHAINS, 0, 40, 1};
    draw_reader *r = div_open(&sj, &sel, DRAW_NDJSON, 1, 1, NULL, 0);
    output out = {0};
    output_add(&out, "", 0);
    uint64_t steps[][2] = {{0, 0}, {12, 3}, {12, 30}, {40, 40}};
    for (int s = 0; s < 4; s++) {
        draw_reader_set_available(r, steps[s], s == 3);
        assert_int_equal(drain(r, 64, &out), s == 3 ? DRAW_READER_END : DRAW_READER_WAIT);
        size_t want = 0, got = 0;
        for (uint32_t c = 0; c < 2; c++)
            for (uint64_t i = 0; i < steps[s][c]; i++)
                want += (size_t)is_divergent(c, i);
        for (char *p = out.data; (p = strchr(p, '\n')); p++)
            got++;
        assert_int_equal(got, want);
    }
    draw_reader_free(r);
    for (char *line = strtok(out.data, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *row = json_loads(line, 0, NULL);
        assert_non_null(row);
        uint32_t c = (uint32_t)json_integer_value(json_object_get(row, "chain"));
        uint64_t i = (uint64_t)json_integer_value(json_object_get(row, "draw"));
        assert_true(is_divergent(c, i));
        json_decref(row);
    }
    free(out.data);
    stats_job_remove(&sj);
}

/* One chain's divergences as .npy and JSON: a rectangle of the chosen
 * columns; JSON counts the warmup rows among them. */
static void test_divergent_one_chain(void **state) {
    (void)state;
    stats_job sj;
    div_job_make(&sj, 2, 50, 4, 20);
    const uint32_t cols[] = {0, 2};
    draw_selection sel = {1, 0, 50, 1};
    uint64_t draws[50], n = 0, warm = 0;
    for (uint64_t i = 0; i < 50; i++)
        if (is_divergent(1, i)) draws[n++] = i, warm += i < 20;
    draw_reader *r = div_open(&sj, &sel, DRAW_NPY, 0, 1, cols, 2);
    set_all_available(r, &sj.jb);
    output out = {0};
    output_add(&out, "", 0);
    assert_int_equal(drain(r, 5, &out), DRAW_READER_END);
    assert_int_equal(draw_reader_content_length(r), out.len);
    draw_reader_free(r);
    size_t header = check_npy_shape(out.data, out.len, 1, n, 2);
    for (uint64_t k = 0; k < n; k++)
        for (size_t j = 0; j < 2; j++) {
            double v;
            memcpy(&v, out.data + header + (k * 2 + j) * 8, 8);
            assert_true(same_double(v, value_at(&sj.jb, 1, draws[k], cols[j])));
        }
    free(out.data);
    r = div_open(&sj, &sel, DRAW_JSON, 0, 1, cols, 2);
    set_all_available(r, &sj.jb);
    out = (output){0};
    output_add(&out, "", 0);
    assert_int_equal(drain(r, 3, &out), DRAW_READER_END);
    draw_reader_free(r);
    json_t *doc = json_loads(out.data, 0, NULL);
    assert_non_null(doc);
    json_t *shape = json_object_get(doc, "shape");
    assert_int_equal(json_integer_value(json_array_get(shape, 1)), n);
    assert_int_equal(json_integer_value(json_array_get(shape, 2)), 2);
    assert_int_equal(json_integer_value(json_object_get(doc, "warmup_draws")), warm);
    assert_int_equal(json_array_size(json_array_get(json_object_get(doc, "draws"), 0)), n);
    json_decref(doc);
    free(out.data);
    stats_job_remove(&sj);
}

/* A column selection of a named job: the chosen names head the CSV, the
 * buffers fit a long one chosen after short ones, and the rows hold the
 * chosen values alone. */
static void test_columns_named(void **state) {
    (void)state;
    job jb;
    job_make(&jb, 2, 6, 3);
    char long_name[600];
    memset(long_name, 'z', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    const char *names[] = {"a", "b", long_name};
    const uint32_t cols[] = {0, 2};
    draw_body body = {
        .draws_fd = jb.fd, .stats_fd = -1, .chains = 2, .rows = 6, .d = 3, .names = names};
    draw_output o = {.fmt = DRAW_CSV, .params = cols, .nparams = 2};
    draw_reader *r = NULL;
    assert_int_equal(draw_reader_open_body(&r, &body, NULL, &o), MCMC_OK);
    set_all_available(r, &jb);
    output out = {0};
    output_add(&out, "", 0);
    assert_int_equal(drain(r, 100, &out), DRAW_READER_END);
    draw_reader_free(r);
    char *line = strtok(out.data, "\n");
    assert_int_equal(strncmp(line, "chain,draw,a,zzz", 16), 0);
    assert_int_equal(strlen(line), strlen("chain,draw,a,") + strlen(long_name));
    for (uint32_t c = 0; c < 2; c++)
        for (uint64_t i = 0; i < 6; i++) {
            line = strtok(NULL, "\n");
            assert_non_null(line);
            char *end;
            assert_int_equal(strtoul(line, &end, 10), c);
            assert_int_equal(strtoull(end + 1, &end, 10), i);
            assert_true(csv_same(strtod(end + 1, &end), value_at(&jb, c, i, 0)));
            assert_true(csv_same(strtod(end + 1, &end), value_at(&jb, c, i, 2)));
            assert_int_equal(*end, 0);
        }
    assert_null(strtok(NULL, "\n"));
    free(out.data);
    job_remove(&jb);
}

/* What a reader refuses: columns out of range or out of order, a divergent
 * selection without divergent__, or of several chains as npy or JSON. */
static void test_selection_refused(void **state) {
    (void)state;
    stats_job sj;
    div_job_make(&sj, 2, 10, 3, 0);
    draw_body body = stats_body(&sj);
    body.stats = DIV_MASK;
    draw_reader *r = NULL;
    const uint32_t high[] = {3}, order[] = {1, 1};
    draw_output bad[] = {{.fmt = DRAW_CSV, .params = high, .nparams = 1},
                         {.fmt = DRAW_CSV, .params = order, .nparams = 2},
                         {.fmt = DRAW_CSV, .params = high, .nparams = 0},
                         {.fmt = DRAW_NPY, .divergent = 1},
                         {.fmt = DRAW_JSON, .divergent = 1}};
    for (int k = 0; k < 5; k++)
        assert_int_equal(draw_reader_open_body(&r, &body, NULL, &bad[k]), MCMC_EINVAL);
    draw_output csv = {.fmt = DRAW_CSV, .divergent = 1};
    body.stats = STAT_BIT(STAT_LP) | STAT_BIT(STAT_ACCEPT); /* no divergent__ */
    assert_int_equal(draw_reader_open_body(&r, &body, NULL, &csv), MCMC_EINVAL);
    assert_null(r);
    stats_job_remove(&sj);
}

/* The query's divergent and params: what they select, and the field a
 * 400 names. */
static void test_request_divergent_params(void **state) {
    (void)state;
    draws_job_shape shape = {
        .chains = 2, .samples = 20, .warmup_rows = 10, .d = 12, .stats = DIV_MASK};
    draws_request q;
    char err[DRAW_SELECTION_ERROR_MAX];
    const char *ok[] = {"divergent",  "1",      "thin", "5", "include_warmup", "0", "params",
                        "0-3,5,9-11", "format", "csv",  NULL};
    assert_null(draws_request_parse(&q, pairs_get, ok, NULL, &shape, err, sizeof err));
    assert_true(q.out.divergent);
    assert_int_equal(q.sel.thin, 1);
    assert_int_equal(q.sel.start, 10);
    const uint32_t want[] = {0, 1, 2, 3, 5, 9, 10, 11};
    assert_int_equal(q.out.nparams, 8);
    assert_memory_equal(q.out.params, want, sizeof want);
    draws_request_release(&q);
    static const struct {
        const char *key, *value, *field;
    } bad[] = {{"params", "", "params"},      {"params", "3-1", "params"},
               {"params", "12", "params"},    {"params", "1,1", "params"},
               {"params", "2,0-1", "params"}, {"params", "1,", "params"},
               {"params", "-1", "params"},    {"params", "0-99999999999999999999", "params"},
               {"params", "1 ", "params"},    {"divergent", "2", "divergent"},
               {"stats", "yes", "stats"},     {"thin", "x", "thin"},
               {"format", "npy", "divergent"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        const char *pairs[] = {bad[k].key, bad[k].value, "divergent", k == 9 ? "2" : "1",
                               "format",   "csv",        NULL};
        assert_non_null(draws_request_parse(&q, pairs_get, pairs, NULL, &shape, err, sizeof err));
        assert_string_equal(q.field, bad[k].field);
        assert_null(q.params);
    }
    shape.stats = STAT_BIT(STAT_LP);
    const char *none[] = {"divergent", "1", "chain", "0", NULL};
    assert_non_null(draws_request_parse(&q, pairs_get, none, NULL, &shape, err, sizeof err));
    assert_string_equal(q.field, "divergent");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes_as_draws_file),
        cmocka_unit_test(test_selections),
        cmocka_unit_test(test_empty_snapshot),
        cmocka_unit_test(test_running_snapshot),
        cmocka_unit_test(test_follow),
        cmocka_unit_test(test_follow_order),
        cmocka_unit_test(test_selection_errors),
        cmocka_unit_test(test_short_body),
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_renderers),
        cmocka_unit_test(test_stats_csv_ndjson),
        cmocka_unit_test(test_stats_json),
        cmocka_unit_test(test_cmdstan),
        cmocka_unit_test(test_stats_errors),
        cmocka_unit_test(test_layout_names),
        cmocka_unit_test(test_request_drop_warmup),
        cmocka_unit_test(test_divergent_csv),
        cmocka_unit_test(test_divergent_follow),
        cmocka_unit_test(test_divergent_one_chain),
        cmocka_unit_test(test_columns_named),
        cmocka_unit_test(test_selection_refused),
        cmocka_unit_test(test_request_divergent_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
