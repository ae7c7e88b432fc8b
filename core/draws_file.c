/* draws_file.c - draws to .npy, CSV or JSON files in bounded memory; the
 * text is rendered by draws_format.c, shared with the daemon. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "draws_file.h"
#include "draws_format.h"
#include "errors.h"

struct draws_file {
    int fd;
    draws_format fmt;
    uint32_t chains;
    uint64_t samples;
    size_t d;
    off_t body;        /* offset of draw (0, 0) */
    char *path, *part; /* part: the float64 body behind CSV or JSON */
};

int draws_format_from_path(const char *path) {
    const char *dot = strrchr(path, '.');
    if (!dot) return -1;
    if (!strcmp(dot, ".npy")) return DRAWS_NPY;
    if (!strcmp(dot, ".csv")) return DRAWS_CSV;
    if (!strcmp(dot, ".json")) return DRAWS_JSON;
    return -1;
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

static void draws_file_free(draws_file *f) {
    if (f->fd >= 0) close(f->fd);
    free(f->path);
    free(f->part);
    free(f);
}

int draws_file_create(const char *path, draws_format fmt, uint32_t chains, uint64_t samples,
                      size_t d, draws_file **out) {
    *out = NULL;
    draws_file *f = calloc(1, sizeof *f);
    if (!f) return MCMC_ENOMEM;
    *f = (draws_file){.fd = -1, .fmt = fmt, .chains = chains, .samples = samples, .d = d};
    f->path = strdup(path);
    if (fmt != DRAWS_NPY && f->path && asprintf(&f->part, "%s.part", path) < 0) f->part = NULL;
    if (!f->path || (fmt != DRAWS_NPY && !f->part)) {
        draws_file_free(f);
        return MCMC_ENOMEM;
    }
    f->fd = open(fmt == DRAWS_NPY ? path : f->part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) { /* nothing of ours is on disk: leave whatever is there */
        draws_file_free(f);
        return MCMC_EIO;
    }
    int rc = MCMC_OK;
    if (rc == MCMC_OK && fmt == DRAWS_NPY) {
        char hdr[256];
        uint64_t shape[3] = {chains, samples, d};
        size_t n = npy_header(hdr, sizeof hdr, shape, 3);
        rc = write_all(f->fd, hdr, n, 0);
        f->body = (off_t)n;
    }
    off_t size = f->body + (off_t)((uint64_t)chains * samples * d * sizeof(double));
    if (rc == MCMC_OK && ftruncate(f->fd, size) != 0) rc = MCMC_EIO;
    if (rc != MCMC_OK) {
        draws_file_abort(f);
        return rc;
    }
    *out = f;
    return MCMC_OK;
}

int draws_file_write(draws_file *f, uint32_t chain, uint64_t first, uint64_t count,
                     const double *draws) {
    if (chain >= f->chains || first > f->samples || count > f->samples - first) return MCMC_EINVAL;
    off_t off = f->body + (off_t)(((uint64_t)chain * f->samples + first) * f->d * sizeof(double));
    return write_all(f->fd, draws, count * f->d * sizeof(double), off);
}

void json_write_number(FILE *out, double v) {
    char buf[DRAWS_NUMBER_MAX];
    fwrite(buf, 1, draws_render_json_number(buf, v), out);
}

static size_t render_text_header(const draws_file *f, char *buf, size_t cap) {
    if (f->fmt == DRAWS_JSON) return draws_render_json_open(buf, cap, f->chains, f->samples, f->d);
    return draws_render_csv_header(buf, cap, f->d);
}

static size_t render_text_row(const draws_file *f, char *buf, size_t cap, uint32_t c, uint64_t s,
                              const double *row) {
    if (f->fmt == DRAWS_CSV) return draws_render_csv_row(buf, cap, c, s, row, f->d);
    unsigned place = (c == 0 ? DRAWS_JSON_FIRST_CHAIN : 0) | (s == 0 ? DRAWS_JSON_FIRST_ROW : 0) |
                     (s + 1 == f->samples ? DRAWS_JSON_LAST_ROW : 0);
    return draws_render_json_row(buf, cap, row, f->d, place);
}

/* Streams the float64 body into the text file, one row at a time. */
static int convert_body(draws_file *f) {
    FILE *out = fopen(f->path, "w");
    size_t cap = draws_render_max(f->d);
    double *row = malloc(f->d * sizeof *row);
    char *text = malloc(cap);
    int rc = out && row && text ? MCMC_OK : MCMC_EIO;
    if (rc == MCMC_OK) fwrite(text, 1, render_text_header(f, text, cap), out);
    off_t off = 0;
    for (uint32_t c = 0; rc == MCMC_OK && c < f->chains; c++)
        for (uint64_t s = 0; rc == MCMC_OK && s < f->samples; s++) {
            size_t n = f->d * sizeof *row;
            if (pread(f->fd, row, n, off) != (ssize_t)n) rc = MCMC_EIO;
            off += (off_t)n;
            if (rc == MCMC_OK) fwrite(text, 1, render_text_row(f, text, cap, c, s, row), out);
        }
    if (rc == MCMC_OK && f->fmt == DRAWS_JSON)
        fwrite(text, 1, draws_render_json_close(text, cap), out);
    if (out && (fclose(out) != 0 || rc != MCMC_OK)) rc = MCMC_EIO;
    free(text);
    free(row);
    return rc;
}

int draws_file_finish(draws_file *f) {
    int rc = MCMC_OK;
    if (f->fmt != DRAWS_NPY) {
        rc = convert_body(f);
        unlink(f->part);
    } else if (fsync(f->fd) != 0) {
        rc = MCMC_EIO;
    }
    if (rc != MCMC_OK) unlink(f->path);
    draws_file_free(f);
    return rc;
}

void draws_file_abort(draws_file *f) {
    if (!f) return;
    unlink(f->fmt == DRAWS_NPY ? f->path : f->part);
    draws_file_free(f);
}
