/* draws_file.c - draws and statistics to .npy, CSV, JSON or CmdStan CSV
 * files in bounded memory; the text is rendered by draws_format.c, shared
 * with the daemon. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "draws_file.h"
#include "draws_format.h"
#include "errors.h"
#include "sampler.h"

/* One float64 body: an .npy file, or a .part file behind a text format. */
typedef struct body {
    int fd;
    off_t start;  /* offset of value (0, 0, 0) */
    size_t width; /* values per row */
    char *path;   /* the file the body is in */
} body;

/* CmdStan's comment blocks of one chain. */
typedef struct chain_text {
    char *prologue, *adaptation, *epilogue;
} chain_text;

struct draws_file {
    draws_format fmt;
    draws_file_shape shape; /* names: our copy */
    char **names;
    body draws, stats; /* stats.fd < 0: none */
    char *path;        /* what the user named */
    chain_text *text;  /* DRAWS_CMDSTAN: per chain */
};

int draws_format_from_path(const char *path) {
    const char *dot = strrchr(path, '.');
    if (!dot) return -1;
    if (!strcmp(dot, ".npy")) return DRAWS_NPY;
    if (!strcmp(dot, ".csv")) return DRAWS_CSV;
    if (!strcmp(dot, ".json")) return DRAWS_JSON;
    return -1;
}

void draws_cmdstan_chain_path(const char *path, uint32_t chain, char *buf, size_t cap) {
    size_t len = strlen(path);
    if (len >= 4 && !strcmp(path + len - 4, ".csv")) len -= 4;
    snprintf(buf, cap, "%.*s_%u.csv", (int)len, path, chain + 1);
}

size_t npy_header(char *buf, size_t cap, const uint64_t *shape, int ndim) {
    char dict[256], dims[160] = "";
    size_t k = 0;
    for (int i = 0; i < ndim; i++) /* a 1-tuple needs its comma: (5,) */
        k += (size_t)snprintf(dims + k, sizeof dims - k, "%s%llu%s", i ? ", " : "",
                              (unsigned long long)shape[i], ndim == 1 ? "," : "");
    int len = snprintf(dict, sizeof dict,
                       "{'descr': '<f8', 'fortran_order': False, 'shape': (%s), }", dims);
    size_t total = (10 + (size_t)len + 1 + 63) / 64 * 64; /* magic + dict + '\n', padded */
    if (total > cap) return 0;
    size_t hlen = total - 10;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)len);
    memset(buf + 10 + len, ' ', hlen - (size_t)len - 1);
    buf[total - 1] = '\n';
    return total;
}

static int write_all(int fd, const void *p, size_t n, off_t off) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, c, n, off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return MCMC_EIO;
        c += w, n -= (size_t)w, off += w;
    }
    return MCMC_OK;
}

static int read_all(int fd, void *p, size_t n, off_t off) {
    char *c = p;
    while (n > 0) {
        ssize_t r = pread(fd, c, n, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return MCMC_EIO;
        c += r, n -= (size_t)r, off += r;
    }
    return MCMC_OK;
}

/* ---- bodies ---- */

/* Creates the body at path: with an .npy header when npy is set, sized
 * (sparse) for every row. */
static int body_create(body *b, char *path, size_t width, const draws_file_shape *s, int npy) {
    b->path = path;
    b->width = width;
    b->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (b->fd < 0) return MCMC_EIO;
    int rc = MCMC_OK;
    if (npy) {
        char hdr[256];
        uint64_t shape[3] = {s->chains, s->rows, width};
        size_t n = npy_header(hdr, sizeof hdr, shape, 3);
        rc = write_all(b->fd, hdr, n, 0);
        b->start = (off_t)n;
    }
    off_t size = b->start + (off_t)((uint64_t)s->chains * s->rows * width * sizeof(double));
    if (rc == MCMC_OK && ftruncate(b->fd, size) != 0) rc = MCMC_EIO;
    return rc;
}

static off_t body_offset(const body *b, const draws_file_shape *s, uint32_t c, uint64_t row) {
    return b->start + (off_t)(((uint64_t)c * s->rows + row) * b->width * sizeof(double));
}

static int body_write(body *b, const draws_file_shape *s, uint32_t c, uint64_t first,
                      uint64_t count, const double *values) {
    if (b->fd < 0 || c >= s->chains || first > s->rows || count > s->rows - first)
        return MCMC_EINVAL;
    return write_all(b->fd, values, count * b->width * sizeof(double), body_offset(b, s, c, first));
}

static void body_close(body *b, int remove) {
    if (b->fd >= 0) close(b->fd);
    if (remove && b->path) unlink(b->path);
    free(b->path);
    *b = (body){.fd = -1};
}

/* ---- create ---- */

static void draws_file_free(draws_file *f) {
    body_close(&f->draws, 0);
    body_close(&f->stats, 0);
    for (size_t j = 0; f->names && j < f->shape.d; j++)
        free(f->names[j]);
    free(f->names);
    for (uint32_t c = 0; f->text && c < f->shape.chains; c++) {
        free(f->text[c].prologue);
        free(f->text[c].adaptation);
        free(f->text[c].epilogue);
    }
    free(f->text);
    free(f->path);
    free(f);
}

static int copy_names(draws_file *f, const char *const *names) {
    if (!names) return MCMC_OK;
    f->names = calloc(f->shape.d, sizeof *f->names);
    if (!f->names) return MCMC_ENOMEM;
    for (size_t j = 0; j < f->shape.d; j++)
        if (!(f->names[j] = strdup(names[j]))) return MCMC_ENOMEM;
    f->shape.names = (const char *const *)f->names;
    return MCMC_OK;
}

/* <stem>.stats.npy beside x.npy; <path>.stats.part behind text. */
static char *stats_path(const char *path, draws_format fmt) {
    char *p = NULL;
    size_t len = strlen(path);
    if (fmt == DRAWS_NPY && len >= 4 && !strcmp(path + len - 4, ".npy")) len -= 4;
    int rc = fmt == DRAWS_NPY ? asprintf(&p, "%.*s.stats.npy", (int)len, path)
                              : asprintf(&p, "%s.stats.part", path);
    return rc < 0 ? NULL : p;
}

static int create_bodies(draws_file *f) {
    int npy = f->fmt == DRAWS_NPY;
    char *dpath = NULL;
    if (npy)
        dpath = strdup(f->path);
    else if (asprintf(&dpath, "%s.part", f->path) < 0)
        dpath = NULL;
    if (!dpath) return MCMC_ENOMEM;
    int rc = body_create(&f->draws, dpath, f->shape.d, &f->shape, npy);
    unsigned nstats = chain_stat_count(f->shape.stats);
    if (rc == MCMC_OK && nstats > 0) {
        char *spath = stats_path(f->path, f->fmt);
        rc = spath ? body_create(&f->stats, spath, nstats, &f->shape, npy) : MCMC_ENOMEM;
    }
    return rc;
}

int draws_file_open(const char *path, draws_format fmt, const draws_file_shape *shape,
                    draws_file **out) {
    *out = NULL;
    if (fmt > DRAWS_CMDSTAN || shape->warmup_rows > shape->rows) return MCMC_EINVAL;
    draws_file *f = calloc(1, sizeof *f);
    if (!f) return MCMC_ENOMEM;
    f->fmt = fmt;
    f->shape = *shape;
    f->shape.names = NULL;
    f->draws.fd = f->stats.fd = -1;
    f->path = strdup(path);
    if (fmt == DRAWS_CMDSTAN) f->text = calloc(shape->chains ? shape->chains : 1, sizeof *f->text);
    int rc =
        f->path && (fmt != DRAWS_CMDSTAN || f->text) ? copy_names(f, shape->names) : MCMC_ENOMEM;
    if (rc == MCMC_OK) rc = create_bodies(f);
    if (rc != MCMC_OK) {
        /* nothing of ours stays on disk: leave whatever was there before */
        if (f->draws.fd >= 0) unlink(f->draws.path);
        if (f->stats.fd >= 0) unlink(f->stats.path);
        draws_file_free(f);
        return rc == MCMC_ENOMEM ? rc : MCMC_EIO;
    }
    *out = f;
    return MCMC_OK;
}

int draws_file_create(const char *path, draws_format fmt, uint32_t chains, uint64_t samples,
                      size_t d, draws_file **out) {
    draws_file_shape s = {.chains = chains, .rows = samples, .d = d};
    return draws_file_open(path, fmt, &s, out);
}

int draws_file_write(draws_file *f, uint32_t chain, uint64_t first, uint64_t count,
                     const double *draws) {
    return body_write(&f->draws, &f->shape, chain, first, count, draws);
}

int draws_file_write_stats(draws_file *f, uint32_t chain, uint64_t first, uint64_t count,
                           const double *stats) {
    return body_write(&f->stats, &f->shape, chain, first, count, stats);
}

static int replace_text(char **slot, const char *text) {
    free(*slot);
    *slot = text ? strdup(text) : NULL;
    return !text || *slot ? MCMC_OK : MCMC_ENOMEM;
}

int draws_file_set_cmdstan_text(draws_file *f, uint32_t chain, const char *prologue,
                                const char *adaptation, const char *epilogue) {
    if (f->fmt != DRAWS_CMDSTAN || chain >= f->shape.chains) return MCMC_EINVAL;
    chain_text *t = &f->text[chain];
    int rc = replace_text(&t->prologue, prologue);
    if (rc == MCMC_OK) rc = replace_text(&t->adaptation, adaptation);
    if (rc == MCMC_OK) rc = replace_text(&t->epilogue, epilogue);
    return rc;
}

/* ---- text from the bodies ---- */

/* A text file being written, with the row buffers and the piece buffer. */
typedef struct text_out {
    FILE *out;
    draws_layout layout;
    double *theta, *stats;
    char *buf;
    size_t cap;
    int rc;
} text_out;

static int text_begin(text_out *t, const draws_file *f, const char *path) {
    t->layout = (draws_layout){.d = f->shape.d,
                               .names = f->shape.names,
                               .stats = f->shape.stats,
                               .warmup = f->fmt != DRAWS_CMDSTAN && f->shape.warmup_rows > 0};
    t->cap = draws_layout_max(&t->layout);
    unsigned nstats = chain_stat_count(f->shape.stats);
    t->theta = malloc(f->shape.d * sizeof(double) + 1);
    t->stats = malloc(nstats * sizeof(double) + 1);
    t->buf = t->cap < SIZE_MAX ? malloc(t->cap) : NULL;
    t->out = t->theta && t->stats && t->buf ? fopen(path, "w") : NULL;
    t->rc = t->out ? MCMC_OK : MCMC_EIO;
    return t->rc;
}

static int text_end(text_out *t) {
    if (t->out && (fclose(t->out) != 0 && t->rc == MCMC_OK)) t->rc = MCMC_EIO;
    free(t->theta);
    free(t->stats);
    free(t->buf);
    return t->rc;
}

static void text_put(text_out *t, const char *s, size_t n) {
    if (t->rc == MCMC_OK && n > 0 && fwrite(s, 1, n, t->out) != n) t->rc = MCMC_EIO;
}

static void text_put_string(text_out *t, const char *s) {
    if (s) text_put(t, s, strlen(s));
}

/* Reads row s of chain c from the bodies into t's row buffers. */
static int text_load(text_out *t, const draws_file *f, uint32_t c, uint64_t s, draws_row *row) {
    const body *b = &f->draws;
    if (t->rc == MCMC_OK)
        t->rc =
            read_all(b->fd, t->theta, b->width * sizeof(double), body_offset(b, &f->shape, c, s));
    b = &f->stats;
    if (t->rc == MCMC_OK && b->fd >= 0)
        t->rc =
            read_all(b->fd, t->stats, b->width * sizeof(double), body_offset(b, &f->shape, c, s));
    *row = (draws_row){.chain = c,
                       .draw = s,
                       .warmup = s < f->shape.warmup_rows,
                       .stats = t->stats,
                       .theta = t->theta};
    return t->rc;
}

static int write_csv(const draws_file *f, uint64_t rows) {
    text_out t = {0};
    if (text_begin(&t, f, f->path) == MCMC_OK)
        text_put(&t, t.buf, draws_render_csv_header_of(t.buf, t.cap, &t.layout));
    draws_row row;
    for (uint32_t c = 0; c < f->shape.chains; c++)
        for (uint64_t s = 0; s < rows && text_load(&t, f, c, s, &row) == MCMC_OK; s++)
            text_put(&t, t.buf, draws_render_csv_row_of(t.buf, t.cap, &t.layout, &row));
    return text_end(&t);
}

/* The JSON rows of one body (draws or statistics), chain by chain. */
static void put_json_rows(text_out *t, const draws_file *f, uint64_t rows, int stats) {
    draws_row row;
    size_t n = stats ? chain_stat_count(f->shape.stats) : f->shape.d;
    for (uint32_t c = 0; c < f->shape.chains; c++) {
        if (rows == 0) text_put(t, t->buf, draws_render_json_empty_chain(t->buf, t->cap, c == 0));
        for (uint64_t s = 0; s < rows && text_load(t, f, c, s, &row) == MCMC_OK; s++) {
            unsigned place = (c == 0 ? DRAWS_JSON_FIRST_CHAIN : 0) |
                             (s == 0 ? DRAWS_JSON_FIRST_ROW : 0) |
                             (s + 1 == rows ? DRAWS_JSON_LAST_ROW : 0);
            const double *v = stats ? row.stats : row.theta;
            text_put(t, t->buf, draws_render_json_row(t->buf, t->cap, v, n, place));
        }
    }
}

static int write_json(const draws_file *f, uint64_t rows) {
    text_out t = {0};
    uint64_t warmup = f->shape.warmup_rows < rows ? f->shape.warmup_rows : rows;
    if (text_begin(&t, f, f->path) == MCMC_OK)
        text_put(&t, t.buf,
                 draws_render_json_open_of(t.buf, t.cap, &t.layout, f->shape.chains, rows, warmup));
    put_json_rows(&t, f, rows, 0);
    if (f->shape.stats) {
        text_put(&t, t.buf, draws_render_json_stats_open(t.buf, t.cap, &t.layout));
        put_json_rows(&t, f, rows, 1);
    }
    text_put(&t, t.buf, draws_render_json_close(t.buf, t.cap));
    return text_end(&t);
}

/* One CmdStan file: prologue, header, warmup rows, adaptation, the other
 * rows, timing. */
static int write_cmdstan_chain(const draws_file *f, uint32_t c, uint64_t rows) {
    char path[4096];
    draws_cmdstan_chain_path(f->path, c, path, sizeof path);
    const chain_text *ct = &f->text[c];
    text_out t = {0};
    if (text_begin(&t, f, path) == MCMC_OK) {
        text_put_string(&t, ct->prologue);
        text_put(&t, t.buf, draws_render_cmdstan_header(t.buf, t.cap, &t.layout));
    }
    draws_row row;
    uint64_t warmup = f->shape.warmup_rows;
    for (uint64_t s = 0; s < rows && text_load(&t, f, c, s, &row) == MCMC_OK; s++) {
        if (s == warmup) text_put_string(&t, ct->adaptation);
        text_put(&t, t.buf, draws_render_cmdstan_row(t.buf, t.cap, &t.layout, &row));
    }
    if (rows <= warmup) text_put_string(&t, ct->adaptation); /* no row after the warmup */
    text_put_string(&t, ct->epilogue);
    return text_end(&t);
}

/* NaN in rows [rows[c], shape.rows) of each chain: draws never made. */
static int fill_missing(draws_file *f, body *b, const uint64_t *rows) {
    if (b->fd < 0) return MCMC_OK;
    double nan_row[64];
    for (size_t k = 0; k < 64; k++)
        nan_row[k] = NAN;
    for (uint32_t c = 0; c < f->shape.chains; c++)
        for (uint64_t s = rows[c]; s < f->shape.rows; s++)
            for (size_t j = 0; j < b->width; j += 64) {
                size_t n = b->width - j < 64 ? b->width - j : 64;
                off_t off = body_offset(b, &f->shape, c, s) + (off_t)(j * sizeof(double));
                if (write_all(b->fd, nan_row, n * sizeof(double), off) != MCMC_OK) return MCMC_EIO;
            }
    return MCMC_OK;
}

static int finish(draws_file *f, const uint64_t *rows) {
    uint64_t fewest = f->shape.rows;
    for (uint32_t c = 0; rows && c < f->shape.chains; c++)
        if (rows[c] < fewest) fewest = rows[c];
    int rc = MCMC_OK;
    switch (f->fmt) {
    case DRAWS_NPY:
        if (rows) rc = fill_missing(f, &f->draws, rows);
        if (rc == MCMC_OK && rows) rc = fill_missing(f, &f->stats, rows);
        if (rc == MCMC_OK && (fsync(f->draws.fd) != 0 || (f->stats.fd >= 0 && fsync(f->stats.fd))))
            rc = MCMC_EIO;
        break;
    case DRAWS_CSV:
        rc = write_csv(f, fewest);
        break;
    case DRAWS_JSON:
        rc = write_json(f, fewest);
        break;
    case DRAWS_CMDSTAN:
        for (uint32_t c = 0; rc == MCMC_OK && c < f->shape.chains; c++)
            rc = write_cmdstan_chain(f, c,
                                     rows && rows[c] < f->shape.rows ? rows[c] : f->shape.rows);
        break;
    }
    return rc;
}

/* The files the user sees: removed when finishing failed. */
static void remove_outputs(const draws_file *f) {
    char path[4096];
    if (f->fmt == DRAWS_NPY) return; /* the bodies are the outputs */
    if (f->fmt != DRAWS_CMDSTAN) {
        unlink(f->path);
        return;
    }
    for (uint32_t c = 0; c < f->shape.chains; c++) {
        draws_cmdstan_chain_path(f->path, c, path, sizeof path);
        unlink(path);
    }
}

int draws_file_finish_rows(draws_file *f, const uint64_t *rows) {
    int rc = finish(f, rows);
    int npy = f->fmt == DRAWS_NPY;
    if (rc != MCMC_OK) remove_outputs(f);
    body_close(&f->draws, !npy || rc != MCMC_OK);
    body_close(&f->stats, !npy || rc != MCMC_OK);
    draws_file_free(f);
    return rc;
}

int draws_file_finish(draws_file *f) {
    return draws_file_finish_rows(f, NULL);
}

void draws_file_abort(draws_file *f) {
    if (!f) return;
    body_close(&f->draws, 1);
    body_close(&f->stats, 1);
    draws_file_free(f);
}

void json_write_number(FILE *out, double v) {
    char buf[DRAWS_NUMBER_MAX];
    fwrite(buf, 1, draws_render_json_number(buf, v), out);
}
