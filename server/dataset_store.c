/* dataset_store.c - datasets on disk: the canonical encoding and its hash
 * (the id), the .ds file format (see dataset_store.h), atomic writes,
 * validating reads; and datasets from the JSON body of an upload.
 *
 * Data moves through fixed buffers in both directions: a sink encodes
 * values little-endian into a buffer and flushes it to a hash, a file or
 * both; a reader fills a buffer from a file, hashes it and decodes it.
 * Saving and loading hold nothing but the dataset and one such buffer; the
 * JSON parser holds jansson's tree of the body while it copies it out. */
#include "dataset_store.h"
#include "utf8.h"
#include "job_spec.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "sha256.h"

#define HASH_MAGIC_V1 "MCMCID01"
#define HASH_MAGIC_V2 "MCMCID02"
#define FILE_MAGIC "MCMCDS01"
#define FORMAT_VERSION 2u /* this daemon writes; it reads 1 too */
#define FLAG_THETA 1u
#define FLAG_NAMES 2u
#define HEADER_LEN 64
#define CHUNK 16384 /* bytes per buffered read or write; a multiple of 8 */
#define ECHO_MAX 40 /* at most this many bytes of a client's key in a message */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- Little-endian fields ------------------------------------------------ */

static void put_le32(uint8_t *p, uint32_t x) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(x >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t x) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(x >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p) {
    uint32_t x = 0;
    for (int i = 3; i >= 0; i--)
        x = x << 8 | p[i];
    return x;
}

static uint64_t get_le64(const uint8_t *p) {
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | p[i];
    return x;
}

/* The stored bits of x: -0.0 becomes +0.0 (see dataset_store.h). */
static uint64_t canonical_bits(double x) {
    uint64_t u;
    if (x == 0) x = 0.0;
    memcpy(&u, &x, sizeof u);
    return u;
}

static double double_from_bits(uint64_t u) {
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* ---- Sinks: encoded bytes to a hash and/or a file ------------------------ */

typedef struct sink {
    sha256_ctx *hash; /* or NULL */
    int fd;           /* or -1 */
    int write_errno;  /* of the first failed write; later writes are skipped */
    size_t used;
    uint8_t buf[CHUNK];
} sink;

static int write_all(int fd, const uint8_t *p, size_t len) {
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return errno;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

static void sink_flush(sink *s) {
    if (s->hash) sha256_update(s->hash, s->buf, s->used);
    if (s->fd >= 0 && !s->write_errno) s->write_errno = write_all(s->fd, s->buf, s->used);
    s->used = 0;
}

static void sink_put(sink *s, const void *data, size_t len) {
    const uint8_t *p = data;
    while (len > 0) {
        if (s->used == CHUNK) sink_flush(s);
        size_t take = CHUNK - s->used < len ? CHUNK - s->used : len;
        memcpy(s->buf + s->used, p, take);
        s->used += take;
        p += take;
        len -= take;
    }
}

static void sink_put_u64(sink *s, uint64_t x) {
    uint8_t b[8];
    put_le64(b, x);
    sink_put(s, b, sizeof b);
}

static void sink_put_doubles(sink *s, const double *x, size_t count) {
    for (size_t i = 0; i < count; i++) {
        if (CHUNK - s->used < 8) sink_flush(s);
        put_le64(s->buf + s->used, canonical_bits(x[i]));
        s->used += 8;
    }
}

/* ---- The canonical encoding and the file --------------------------------- */

static int has_theta(const dataset *ds) {
    return ds->theta_true != NULL;
}

/* Version 1 (y as bytes) for 0/1 labels without names, so that such
 * datasets keep the ids they had before y became real; version 2 else. */
static int canonical_version(const dataset *ds) {
    if (ds->names) return 2;
    for (size_t i = 0; i < ds->n; i++)
        if (ds->y[i] != 0.0 && ds->y[i] != 1.0) return 2;
    return 1;
}

static void sink_put_labels(sink *s, const double *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)y[i];
        sink_put(s, &b, 1);
    }
}

/* Names as uint64 length and bytes each (canonical), or NUL-terminated
 * after their total length (the file). */
static void sink_put_names(sink *s, const dataset *ds, int terminated) {
    uint64_t total = 0;
    for (size_t j = 0; terminated && j < ds->d; j++)
        total += strlen(ds->names[j]) + 1;
    if (terminated) sink_put_u64(s, total);
    for (size_t j = 0; j < ds->d; j++) {
        size_t len = strlen(ds->names[j]);
        if (!terminated) sink_put_u64(s, len);
        sink_put(s, ds->names[j], len + (size_t)terminated);
    }
}

/* The encoding that is hashed into the id, in the given version (a
 * version 1 encoding writes y as bytes: the caller knows they are 0/1 or
 * checks them after). */
static void emit_canonical(const dataset *ds, int version, sink *s) {
    uint8_t theta_flag = (uint8_t)has_theta(ds), names_flag = ds->names != NULL;
    sink_put(s, version == 1 ? HASH_MAGIC_V1 : HASH_MAGIC_V2, 8);
    sink_put_u64(s, ds->n);
    sink_put_u64(s, ds->d);
    sink_put_doubles(s, ds->X, ds->n * ds->d);
    if (version == 1)
        sink_put_labels(s, ds->y, ds->n);
    else
        sink_put_doubles(s, ds->y, ds->n);
    sink_put(s, &theta_flag, 1);
    if (theta_flag) sink_put_doubles(s, ds->theta_true, ds->d);
    if (version == 2) sink_put(s, &names_flag, 1);
    if (version == 2 && names_flag) sink_put_names(s, ds, 0);
    sink_flush(s);
}

static uint32_t file_flags(const dataset *ds) {
    return (has_theta(ds) ? FLAG_THETA : 0) | (ds->names ? FLAG_NAMES : 0);
}

static void emit_file(const dataset *ds, const uint8_t digest[SHA256_DIGEST_LEN], sink *s) {
    uint8_t h[HEADER_LEN] = {0};
    memcpy(h, FILE_MAGIC, 8);
    put_le32(h + 8, FORMAT_VERSION);
    put_le32(h + 12, file_flags(ds));
    put_le64(h + 16, ds->n);
    put_le64(h + 24, ds->d);
    memcpy(h + 32, digest, SHA256_DIGEST_LEN);
    sink_put(s, h, sizeof h);
    sink_put_doubles(s, ds->X, ds->n * ds->d);
    sink_put_doubles(s, ds->y, ds->n);
    if (has_theta(ds)) sink_put_doubles(s, ds->theta_true, ds->d);
    if (ds->names) sink_put_names(s, ds, 1);
    sink_flush(s);
}

/* The length of a file of the given version holding n x d values, up to
 * the names (whose length the file gives); 0 when it overflows. */
static uint64_t file_length(uint32_t version, uint64_t n, uint64_t d, int theta) {
    uint64_t per_y = version == 1 ? 1 : 8;
    if (n == 0 || d == 0 || n > (UINT64_MAX - HEADER_LEN) / (8 + per_y) / d) return 0;
    uint64_t len = HEADER_LEN + n * d * 8 + n * per_y;
    if (theta && d > (UINT64_MAX - len) / 8) return 0;
    return len + (theta ? d * 8 : 0);
}

/* The whole file's length as saved, names included. */
static uint64_t saved_length(const dataset *ds) {
    uint64_t len = file_length(FORMAT_VERSION, ds->n, ds->d, has_theta(ds));
    for (size_t j = 0; len && ds->names && j < ds->d; j++)
        len += strlen(ds->names[j]) + 1;
    return len && ds->names ? len + 8 : len;
}

static int dataset_digest(const dataset *ds, int version, uint8_t digest[SHA256_DIGEST_LEN]) {
    if (!ds || ds->n == 0 || ds->d == 0 || !ds->X || !ds->y) return MCMC_EINVAL;
    sha256_ctx hash;
    sha256_init(&hash);
    sink *s = malloc(sizeof *s);
    if (!s) return MCMC_ENOMEM;
    *s = (sink){.hash = &hash, .fd = -1};
    emit_canonical(ds, version, s);
    free(s);
    sha256_final(&hash, digest);
    return MCMC_OK;
}

int dataset_hash(const dataset *ds, char id_out[DATASET_ID_LEN + 1]) {
    uint8_t digest[SHA256_DIGEST_LEN];
    if (!ds || !ds->y) return MCMC_EINVAL;
    int rc = dataset_digest(ds, canonical_version(ds), digest);
    if (rc == MCMC_OK) sha256_hex(digest, DATASET_ID_LEN / 2, id_out);
    return rc;
}

int dataset_id_valid(const char *id) {
    if (!id) return 0;
    for (int i = 0; i < DATASET_ID_LEN; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return 0;
    return id[DATASET_ID_LEN] == 0;
}

/* ---- Paths and durability ------------------------------------------------ */

/* Writes dir/<name><suffix> into path[PATH_MAX]; -1 (ENAMETOOLONG) if long. */
static int store_path(char *path, const char *dir, const char *name, const char *suffix) {
    int k = snprintf(path, PATH_MAX, "%s/%s%s", dir, name, suffix);
    if (k < 0 || k >= PATH_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* Makes a rename or unlink in dir durable. */
static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* ---- Save ------------------------------------------------------------- */

static int dataset_savable(const dataset *ds) {
    if (!ds || ds->n == 0 || ds->d == 0 || !ds->X || !ds->y) return 0;
    if (!saved_length(ds)) return 0;
    for (size_t i = 0; i < ds->n * ds->d; i++)
        if (!isfinite(ds->X[i])) return 0;
    for (size_t i = 0; i < ds->n; i++)
        if (!isfinite(ds->y[i])) return 0;
    for (size_t j = 0; has_theta(ds) && j < ds->d; j++)
        if (!isfinite(ds->theta_true[j])) return 0;
    return 1;
}

/* Writes the file to an open temporary file and fsyncs it; 0 or an errno. */
static int write_file_contents(int fd, const dataset *ds, const uint8_t *digest) {
    sink *s = malloc(sizeof *s);
    if (!s) return ENOMEM;
    *s = (sink){.fd = fd};
    emit_file(ds, digest, s);
    int e = s->write_errno;
    free(s);
    if (!e && fsync(fd) != 0) e = errno;
    return e;
}

/* Writes ds to a new temporary file in dir, renames it to path and makes
 * that durable. On failure the temporary file is gone and errno says why. */
static int write_atomically(const char *dir, const char *path, const char *id, const dataset *ds,
                            const uint8_t *digest) {
    char tmp[PATH_MAX];
    char name[DATASET_ID_LEN + 2] = ".";
    strcat(name, id);
    if (store_path(tmp, dir, name, ".tmp.XXXXXX") != 0) return MCMC_EIO;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) return MCMC_EIO;
    fchmod(fd, 0600); /* mkostemp's mode, whatever the umask: data stays private */
    int e = write_file_contents(fd, ds, digest);
    if (close(fd) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) {
        unlink(tmp);
        errno = e;
        return e == ENOMEM ? MCMC_ENOMEM : MCMC_EIO;
    }
    return fsync_dir(dir) == 0 ? MCMC_OK : MCMC_EIO;
}

uint64_t dataset_store_file_size(const dataset *ds) {
    return saved_length(ds);
}

int dataset_store_save(const char *dir, const dataset *ds, char id_out[DATASET_ID_LEN + 1],
                       uint64_t *bytes_out) {
    uint8_t digest[SHA256_DIGEST_LEN];
    char path[PATH_MAX];
    if (!dataset_savable(ds)) return MCMC_EINVAL;
    int rc = dataset_digest(ds, canonical_version(ds), digest);
    if (rc != MCMC_OK) return rc;
    sha256_hex(digest, DATASET_ID_LEN / 2, id_out);
    uint64_t len = saved_length(ds);
    if (store_path(path, dir, id_out, ".ds") != 0) return MCMC_EIO;
    struct stat st;
    int present = stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == len;
    if (!present) rc = write_atomically(dir, path, id_out, ds, digest);
    if (rc == MCMC_OK && bytes_out) *bytes_out = len;
    return rc;
}

/* ---- Load ------------------------------------------------------------- */

typedef struct reader {
    int fd;
    const char *id;
    char *err;
    size_t errlen;
} reader;

/* Reads exactly len bytes into buf. */
static int read_exact(reader *r, void *buf, size_t len) {
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t k = read(r->fd, p, len);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0)
            return fail(r->err, r->errlen, MCMC_EIO, "dataset %s: read: %s", r->id,
                        strerror(errno));
        if (k == 0)
            return fail(r->err, r->errlen, MCMC_EPARSE, "dataset %s: file is truncated", r->id);
        p += k;
        len -= (size_t)k;
    }
    return MCMC_OK;
}

static int read_doubles(reader *r, double *dst, size_t count) {
    uint8_t buf[CHUNK];
    while (count > 0) {
        size_t k = count < CHUNK / 8 ? count : CHUNK / 8;
        int rc = read_exact(r, buf, k * 8);
        if (rc != MCMC_OK) return rc;
        for (size_t i = 0; i < k; i++)
            dst[i] = double_from_bits(get_le64(buf + 8 * i));
        dst += k;
        count -= k;
    }
    return MCMC_OK;
}

/* Version 1's y: one byte per row. */
static int read_label_bytes(reader *r, double *dst, size_t count) {
    uint8_t buf[CHUNK];
    while (count > 0) {
        size_t k = count < CHUNK ? count : CHUNK;
        int rc = read_exact(r, buf, k);
        if (rc != MCMC_OK) return rc;
        for (size_t i = 0; i < k; i++)
            dst[i] = buf[i];
        dst += k;
        count -= k;
    }
    return MCMC_OK;
}

typedef struct file_header {
    uint32_t version, flags;
    uint64_t n, d;
    uint64_t length; /* of the file */
    uint8_t checksum[SHA256_DIGEST_LEN];
} file_header;

static int check_header(reader *r, const uint8_t *raw, uint64_t file_len, file_header *h) {
    if (memcmp(raw, FILE_MAGIC, 8) != 0)
        return fail(r->err, r->errlen, MCMC_EPARSE, "dataset %s: not a dataset file (bad magic)",
                    r->id);
    h->version = get_le32(raw + 8);
    h->flags = get_le32(raw + 12);
    h->n = get_le64(raw + 16);
    h->d = get_le64(raw + 24);
    h->length = file_len;
    memcpy(h->checksum, raw + 32, SHA256_DIGEST_LEN);
    if (h->version != 1 && h->version != FORMAT_VERSION)
        return fail(r->err, r->errlen, MCMC_EPARSE, "dataset %s: unsupported format version %u",
                    r->id, (unsigned)h->version);
    uint32_t known = h->version == 1 ? FLAG_THETA : FLAG_THETA | FLAG_NAMES;
    if (h->flags & ~known)
        return fail(r->err, r->errlen, MCMC_EPARSE, "dataset %s: unknown flags 0x%x", r->id,
                    (unsigned)h->flags);
    uint64_t want = file_length(h->version, h->n, h->d, h->flags & FLAG_THETA);
    int names = (h->flags & FLAG_NAMES) != 0; /* their length comes later */
    if (want == 0 || (names ? file_len < want + 8 : want != file_len) ||
        (uint64_t)(size_t)h->n != h->n || (uint64_t)(size_t)h->d != h->d)
        return fail(r->err, r->errlen, MCMC_EPARSE,
                    "dataset %s: file is %llu bytes, but its header (n=%llu, d=%llu) implies "
                    "%s%llu: truncated or corrupt",
                    r->id, (unsigned long long)file_len, (unsigned long long)h->n,
                    (unsigned long long)h->d, names ? "more than " : "",
                    (unsigned long long)(names ? want + 8 : want));
    return MCMC_OK;
}

/* The names block: its length (the rest of the file), then d names, each
 * NUL-terminated, that dataset_set_names accepts. */
static int read_names(reader *r, const file_header *h, dataset *ds) {
    uint8_t b[8];
    int rc = read_exact(r, b, 8);
    if (rc != MCMC_OK) return rc;
    uint64_t len = get_le64(b), want = file_length(h->version, h->n, h->d, h->flags & FLAG_THETA);
    if (len != h->length - want - 8 || len > (uint64_t)ds->d * DATASET_NAME_MAX)
        return fail(r->err, r->errlen, MCMC_EPARSE,
                    "dataset %s: the names take %llu bytes, the file has %llu left: corrupt", r->id,
                    (unsigned long long)len, (unsigned long long)(h->length - want - 8));
    char *text = malloc(len + 1), **names = calloc(ds->d, sizeof *names);
    if (!text || !names || (rc = read_exact(r, text, len)) != MCMC_OK) {
        free(text), free(names);
        return rc != MCMC_OK ? rc : fail(r->err, r->errlen, MCMC_ENOMEM, "out of memory");
    }
    text[len] = 0;
    size_t at = 0, j = 0;
    for (; j < ds->d && at < len; j++) {
        names[j] = text + at;
        at += strlen(text + at) + 1;
    }
    char why[128] = "";
    rc = j == ds->d && at == len
             ? dataset_set_names(ds, (const char *const *)names, why, sizeof why)
             : MCMC_EINVAL;
    free(text), free(names);
    if (rc == MCMC_ENOMEM) return fail(r->err, r->errlen, rc, "out of memory");
    if (rc != MCMC_OK)
        return fail(r->err, r->errlen, MCMC_EPARSE, "dataset %s: bad column names%s%s", r->id,
                    why[0] ? ": " : "", why);
    return MCMC_OK;
}

static int read_payload(reader *r, const file_header *h, dataset *ds) {
    int rc = read_doubles(r, ds->X, ds->n * ds->d);
    if (rc == MCMC_OK)
        rc = h->version == 1 ? read_label_bytes(r, ds->y, ds->n) : read_doubles(r, ds->y, ds->n);
    if (rc != MCMC_OK) return rc;
    if (h->flags & FLAG_THETA) {
        if (!(ds->theta_true = malloc(ds->d * sizeof(double)))) return MCMC_ENOMEM;
        if ((rc = read_doubles(r, ds->theta_true, ds->d)) != MCMC_OK) return rc;
    }
    return h->flags & FLAG_NAMES ? read_names(r, h, ds) : MCMC_OK;
}

/* The checks that follow a good checksum: the id and the values. A
 * version 1 file is hashed as it was written, y as bytes; a version 2
 * file as it was saved, in the encoding that dataset_hash picks. */
static int check_contents(reader *r, const file_header *h, const dataset *ds) {
    uint8_t digest[SHA256_DIGEST_LEN];
    char hex[SHA256_HEX_LEN + 1];
    int rc = dataset_digest(ds, h->version == 1 ? 1 : canonical_version(ds), digest);
    if (rc != MCMC_OK) return fail(r->err, r->errlen, rc, "dataset %s: out of memory", r->id);
    if (memcmp(digest, h->checksum, sizeof digest) != 0)
        return fail(r->err, r->errlen, MCMC_EPARSE,
                    "dataset %s: checksum mismatch: the file is corrupt", r->id);
    sha256_hex(digest, DATASET_ID_LEN / 2, hex);
    if (strcmp(hex, r->id) != 0)
        return fail(r->err, r->errlen, MCMC_EPARSE, "dataset %s: the file holds dataset %s", r->id,
                    hex);
    for (size_t i = 0; i < ds->n; i++) {
        if (h->version == 1 && ds->y[i] > 1)
            return fail(r->err, r->errlen, MCMC_EPARSE, "dataset %s: y[%zu] is %u, not 0 or 1",
                        r->id, i, (unsigned)ds->y[i]);
        if (!isfinite(ds->y[i]))
            return fail(r->err, r->errlen, MCMC_EPARSE, "dataset %s: y[%zu] is not finite", r->id,
                        i);
    }
    for (size_t i = 0; i < ds->n * ds->d; i++)
        if (!isfinite(ds->X[i]))
            return fail(r->err, r->errlen, MCMC_EPARSE, "dataset %s: X[%zu][%zu] is not finite",
                        r->id, i / ds->d, i % ds->d);
    for (size_t j = 0; ds->theta_true && j < ds->d; j++)
        if (!isfinite(ds->theta_true[j]))
            return fail(r->err, r->errlen, MCMC_EPARSE, "dataset %s: theta_true[%zu] is not finite",
                        r->id, j);
    return MCMC_OK;
}

static int read_dataset(reader *r, dataset **out) {
    struct stat st;
    uint8_t raw[HEADER_LEN];
    file_header h;
    if (fstat(r->fd, &st) != 0)
        return fail(r->err, r->errlen, MCMC_EIO, "dataset %s: %s", r->id, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(r->err, r->errlen, MCMC_EIO, "dataset %s: not a regular file", r->id);
    if ((uint64_t)st.st_size < HEADER_LEN)
        return fail(r->err, r->errlen, MCMC_EPARSE,
                    "dataset %s: file is %llu bytes, shorter than its header: truncated", r->id,
                    (unsigned long long)st.st_size);
    int rc = read_exact(r, raw, HEADER_LEN);
    if (rc == MCMC_OK) rc = check_header(r, raw, (uint64_t)st.st_size, &h);
    if (rc != MCMC_OK) return rc;
    dataset *ds = dataset_alloc((size_t)h.n, (size_t)h.d);
    if (!ds) return fail(r->err, r->errlen, MCMC_ENOMEM, "dataset %s: out of memory", r->id);
    rc = read_payload(r, &h, ds);
    if (rc == MCMC_ENOMEM) fail(r->err, r->errlen, rc, "dataset %s: out of memory", r->id);
    if (rc == MCMC_OK) rc = check_contents(r, &h, ds);
    if (rc != MCMC_OK) {
        dataset_free(ds);
        return rc;
    }
    *out = ds;
    return MCMC_OK;
}

int dataset_store_load(const char *dir, const char *id, dataset **out, char *err, size_t errlen) {
    char path[PATH_MAX];
    *out = NULL;
    if (errlen) err[0] = 0;
    if (!dataset_id_valid(id))
        return fail(err, errlen, MCMC_EINVAL,
                    "invalid dataset id: expected %d lowercase hex characters", DATASET_ID_LEN);
    if (store_path(path, dir, id, ".ds") != 0)
        return fail(err, errlen, MCMC_EIO, "dataset %s: %s", id, strerror(errno));
    reader r = {.fd = open(path, O_RDONLY | O_CLOEXEC), .id = id, .err = err, .errlen = errlen};
    if (r.fd < 0 && errno == ENOENT)
        return fail(err, errlen, DATASET_STORE_ENOENT, "dataset %s not found", id);
    if (r.fd < 0) return fail(err, errlen, MCMC_EIO, "dataset %s: %s", id, strerror(errno));
    int rc = read_dataset(&r, out);
    close(r.fd);
    return rc;
}

/* ---- Remove ----------------------------------------------------------- */

int dataset_store_remove(const char *dir, const char *id) {
    char path[PATH_MAX];
    if (!dataset_id_valid(id)) return MCMC_EINVAL;
    if (store_path(path, dir, id, ".ds") != 0) return MCMC_EIO;
    if (unlink(path) != 0) return errno == ENOENT ? DATASET_STORE_ENOENT : MCMC_EIO;
    return fsync_dir(dir) == 0 ? MCMC_OK : MCMC_EIO;
}

/* ---- Datasets from JSON ------------------------------------------------- */

typedef struct json_ctx {
    char *err;
    size_t errlen;
} json_ctx;

/* How many bytes of s to echo: at most ECHO_MAX, cut at a UTF-8 boundary
 * (jansson's strings are valid UTF-8, and error envelopes must stay so). */
static int echo_length(const char *s) {
    size_t len = strlen(s);
    if (len <= ECHO_MAX) return (int)len;
    len = ECHO_MAX;
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;
    return (int)len;
}

static int check_fields(json_ctx *c, json_t *root) {
    static const char *const known[] = {"name", "X", "y", "names"};
    for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
        const char *key = json_object_iter_key(it);
        int ok = 0;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok)
            return fail(c->err, c->errlen, MCMC_EINVAL,
                        "%.*s%s: unknown field (expected name, X, y and names)", echo_length(key),
                        key, strlen(key) > ECHO_MAX ? "..." : "");
    }
    return MCMC_OK;
}

static int read_name(json_ctx *c, const json_t *v, char *name_out, size_t name_cap) {
    if (!v) return MCMC_OK;
    if (!json_is_string(v))
        return fail(c->err, c->errlen, MCMC_EINVAL, "name: expected a string, got %s",
                    json_type_name(v));
    size_t len = json_string_length(v); /* no NUL inside: jansson rejects \u0000 */
    if (!name_out) return MCMC_OK;
    if (len >= name_cap)
        return fail(c->err, c->errlen, MCMC_EINVAL, "name: longer than %zu bytes",
                    name_cap ? name_cap - 1 : 0);
    memcpy(name_out, json_string_value(v), len + 1);
    return MCMC_OK;
}

/* Checks that X is n >= 1 rows of the same length d >= 1. */
static int check_shape(json_ctx *c, const json_t *X, size_t *n, size_t *d) {
    if (!X) return fail(c->err, c->errlen, MCMC_EINVAL, "X: required");
    if (!json_is_array(X))
        return fail(c->err, c->errlen, MCMC_EINVAL, "X: expected an array of rows, got %s",
                    json_type_name(X));
    if (json_array_size(X) == 0)
        return fail(c->err, c->errlen, MCMC_EINVAL, "X: must have at least one row");
    *n = json_array_size(X);
    for (size_t i = 0; i < *n; i++) {
        const json_t *row = json_array_get(X, i);
        if (!json_is_array(row))
            return fail(c->err, c->errlen, MCMC_EINVAL,
                        "X[%zu]: expected an array of numbers, got %s", i, json_type_name(row));
        if (i == 0) *d = json_array_size(row);
        if (*d == 0)
            return fail(c->err, c->errlen, MCMC_EINVAL, "X[0]: must have at least one number");
        if (json_array_size(row) != *d)
            return fail(c->err, c->errlen, MCMC_EINVAL, "X[%zu]: expected %zu numbers, got %zu", i,
                        *d, json_array_size(row));
    }
    return MCMC_OK;
}

static int read_rows(json_ctx *c, const json_t *X, dataset *ds) {
    for (size_t i = 0; i < ds->n; i++) {
        const json_t *row = json_array_get(X, i);
        for (size_t j = 0; j < ds->d; j++) {
            const json_t *v = json_array_get(row, j);
            if (!json_is_number(v))
                return fail(c->err, c->errlen, MCMC_EINVAL,
                            "X[%zu][%zu]: expected a number, got %s", i, j, json_type_name(v));
            double x = json_number_value(v);
            if (!isfinite(x))
                return fail(c->err, c->errlen, MCMC_EINVAL, "X[%zu][%zu]: must be finite", i, j);
            ds->X[i * ds->d + j] = x;
        }
    }
    return MCMC_OK;
}

/* y: one finite number per row (true and false count as 1 and 0); which
 * values a model takes is checked when a job builds it. */
static int read_y(json_ctx *c, const json_t *y, dataset *ds) {
    if (!y) return fail(c->err, c->errlen, MCMC_EINVAL, "y: required");
    if (!json_is_array(y))
        return fail(c->err, c->errlen, MCMC_EINVAL, "y: expected an array, got %s",
                    json_type_name(y));
    if (json_array_size(y) != ds->n)
        return fail(c->err, c->errlen, MCMC_EINVAL,
                    "y: expected %zu numbers (one per row of X), got %zu", ds->n,
                    json_array_size(y));
    for (size_t i = 0; i < ds->n; i++) {
        const json_t *v = json_array_get(y, i);
        if (json_is_boolean(v)) {
            ds->y[i] = json_is_true(v);
            continue;
        }
        if (!json_is_number(v))
            return fail(c->err, c->errlen, MCMC_EINVAL, "y[%zu]: expected a number, got %s", i,
                        json_type_name(v));
        ds->y[i] = json_number_value(v);
        if (!isfinite(ds->y[i]))
            return fail(c->err, c->errlen, MCMC_EINVAL, "y[%zu]: must be finite", i);
    }
    return MCMC_OK;
}

/* names (optional): d strings naming the columns of X. */
static int read_column_names(json_ctx *c, const json_t *v, dataset *ds) {
    if (!v) return MCMC_OK;
    if (!json_is_array(v) || json_array_size(v) != ds->d)
        return fail(c->err, c->errlen, MCMC_EINVAL,
                    "names: expected an array of %zu strings (one per column of X)", ds->d);
    const char **names = calloc(ds->d, sizeof *names);
    if (!names) return fail(c->err, c->errlen, MCMC_ENOMEM, "out of memory");
    int rc = MCMC_OK;
    for (size_t j = 0; rc == MCMC_OK && j < ds->d; j++) {
        const json_t *s = json_array_get(v, j);
        if (!json_is_string(s))
            rc = fail(c->err, c->errlen, MCMC_EINVAL, "names[%zu]: expected a string, got %s", j,
                      json_type_name(s));
        else
            names[j] = json_string_value(s);
    }
    char why[128];
    if (rc == MCMC_OK && (rc = dataset_set_names(ds, names, why, sizeof why)) != MCMC_OK)
        fail(c->err, c->errlen, rc, "names: %s", rc == MCMC_ENOMEM ? "out of memory" : why);
    free(names);
    return rc;
}

static int dataset_from_object(json_ctx *c, json_t *root, dataset **out, char *name_out,
                               size_t name_cap) {
    size_t n = 0, d = 0;
    if (!json_is_object(root))
        return fail(c->err, c->errlen, MCMC_EINVAL, "expected a JSON object, got %s",
                    json_type_name(root));
    const json_t *X = json_object_get(root, "X");
    int rc = check_fields(c, root);
    if (rc == MCMC_OK) rc = read_name(c, json_object_get(root, "name"), name_out, name_cap);
    if (rc == MCMC_OK) rc = check_shape(c, X, &n, &d);
    if (rc != MCMC_OK) return rc;
    dataset *ds = dataset_alloc(n, d);
    if (!ds) return fail(c->err, c->errlen, MCMC_ENOMEM, "X: %zu x %zu is too large", n, d);
    rc = read_rows(c, X, ds);
    if (rc == MCMC_OK) rc = read_y(c, json_object_get(root, "y"), ds);
    if (rc == MCMC_OK) rc = read_column_names(c, json_object_get(root, "names"), ds);
    if (rc != MCMC_OK) {
        dataset_free(ds);
        return rc;
    }
    *out = ds;
    return MCMC_OK;
}

int dataset_from_json(const char *text, size_t len, dataset **out, char *name_out, size_t name_cap,
                      char *err, size_t errlen) {
    json_ctx c = {.err = err, .errlen = errlen};
    json_error_t jerr;
    *out = NULL;
    if (name_out && name_cap) name_out[0] = 0;
    if (errlen) err[0] = 0;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) { /* jansson quotes the input near the error: maybe cut mid-character */
        char clipped[sizeof jerr.text];
        return fail(err, errlen, MCMC_EPARSE, "invalid JSON at byte %d: %s", jerr.position,
                    utf8_clip(clipped, sizeof clipped, jerr.text));
    }
    int rc = dataset_from_object(&c, root, out, name_out, name_cap);
    json_decref(root);
    if (rc != MCMC_OK && name_out && name_cap) name_out[0] = 0;
    return rc;
}
