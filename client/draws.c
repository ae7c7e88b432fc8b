/* draws.c - GET /v1/jobs/{id}/draws?format=npy into a caller's buffer:
 * the selection query, the .npy header (version, '<f8', C order, a 3-D
 * shape) checked as it arrives, and the values copied straight into place. */
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

#define NPY_HEADER_MAX (1u << 20)

typedef struct npy_sink {
    mcmc_client *client;
    mcmcc_buf head; /* bytes up to the end of the header */
    int header_done;
    mcmc_draws_shape shape;
    uint64_t need_bytes, got_bytes;
    double *values;
    size_t capacity;
    int size_only, too_small, bad;
    char why[160];
} npy_sink;

/* --- the header ---------------------------------------------------------- */

/* The value after "'key':" in a header dict, spaces skipped; NULL if none. */
static const char *dict_value(const char *dict, const char *key) {
    char pattern[32];
    snprintf(pattern, sizeof pattern, "'%s':", key);
    const char *p = strstr(dict, pattern);
    if (!p) return NULL;
    p += strlen(pattern);
    while (*p == ' ')
        p++;
    return p;
}

/* "(2, 100, 5)" into shape; -1 unless exactly three dimensions. */
static int parse_shape(const char *p, mcmc_draws_shape *shape) {
    uint64_t dims[3];
    int n = 0;
    if (!p || *p++ != '(') return -1;
    for (;;) {
        while (*p == ' ')
            p++;
        if (*p == ')') break;
        if (*p < '0' || *p > '9' || n == 3) return -1;
        char *end;
        dims[n++] = strtoull(p, &end, 10);
        p = end;
        while (*p == ' ')
            p++;
        if (*p == ',') p++;
    }
    if (n != 3) return -1;
    *shape = (mcmc_draws_shape){dims[0], dims[1], dims[2]};
    return 0;
}

static int npy_bad(npy_sink *s, const char *why) {
    snprintf(s->why, sizeof s->why, "%s", why);
    s->bad = 1;
    return -1;
}

/* Checks the dict; sets shape and need_bytes. */
static int parse_dict(npy_sink *s, const char *dict) {
    const char *descr = dict_value(dict, "descr");
    const char *order = dict_value(dict, "fortran_order");
    if (!descr || strncmp(descr, "'<f8'", 5) != 0) return npy_bad(s, "dtype is not '<f8'");
    if (!order || strncmp(order, "False", 5) != 0) return npy_bad(s, "the array is not C order");
    if (parse_shape(dict_value(dict, "shape"), &s->shape) != 0)
        return npy_bad(s, "the shape is not chains x samples x d");
    uint64_t c = s->shape.chains, r = s->shape.rows, d = s->shape.d;
    if ((r && c > SIZE_MAX / 8 / r) || (d && c * r > SIZE_MAX / 8 / d))
        return npy_bad(s, "the array is too large for this machine");
    s->need_bytes = c * r * d * 8;
    return 0;
}

/* The header's total length once its prefix is in; 0 while incomplete. */
static size_t header_length(npy_sink *s) {
    const unsigned char *h = (const unsigned char *)s->head.data;
    if (s->head.len < 12) return 0;
    if (memcmp(h, "\x93NUMPY", 6) != 0 || h[6] < 1 || h[6] > 3) {
        npy_bad(s, "not a .npy file (version 1 to 3)");
        return 0;
    }
    if (h[6] == 1) return 10 + (size_t)(h[8] | h[9] << 8);
    return 12 + (size_t)((uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 |
                         (uint32_t)h[11] << 24);
}

/* --- the sink ------------------------------------------------------------ */

static int store_values(npy_sink *s, const char *data, size_t n) {
    if (n > s->need_bytes - s->got_bytes) return npy_bad(s, "more data than the shape says");
    memcpy((char *)s->values + s->got_bytes, data, n);
    s->got_bytes += n;
    return 0;
}

/* With the whole header in: decide, then store what followed it. */
static int header_complete(npy_sink *s, size_t total) {
    s->head.data[total - 1] = '\0'; /* the header's final '\n' */
    if (parse_dict(s, s->head.data + (s->head.data[6] == 1 ? 10 : 12)) != 0) return -1;
    s->header_done = 1;
    uint64_t need = s->need_bytes / 8;
    if (s->size_only) return 1;
    if (need > s->capacity) return s->too_small = 1;
    return store_values(s, s->head.data + total, s->head.len - total);
}

static int npy_sink_write(void *ctx, const char *data, size_t n) {
    npy_sink *s = ctx;
    if (s->header_done) return store_values(s, data, n) != 0;
    if (s->head.len == 0) {
        char *ct = NULL;
        curl_easy_getinfo(s->client->curl, CURLINFO_CONTENT_TYPE, &ct);
        if (!ct || strncmp(ct, "application/x-npy", 17) != 0)
            return npy_bad(s, "the answer is not application/x-npy") != 0;
    }
    if (mcmcc_buf_append(&s->head, data, n) != 0) return npy_bad(s, "out of memory") != 0;
    size_t total = header_length(s);
    if (s->bad) return 1;
    if (total > NPY_HEADER_MAX) return npy_bad(s, "the .npy header is too long") != 0;
    if (total == 0 || s->head.len < total) return 0;
    return header_complete(s, total) != 0;
}

/* --- the call ------------------------------------------------------------ */

static mcmc_client_status draws_path(mcmc_client *c, const char *id, const mcmc_draw_query *q,
                                     char *buf, size_t cap, mcmc_error *err) {
    char query[160] = "/draws?format=npy", part[48];
    if (q->chain != MCMC_ALL_CHAINS) {
        snprintf(part, sizeof part, "&chain=%u", q->chain);
        strcat(query, part);
    }
    snprintf(part, sizeof part, "&start=%llu", (unsigned long long)q->start);
    strcat(query, part);
    if (q->stop != MCMC_DRAWS_END) {
        snprintf(part, sizeof part, "&stop=%llu", (unsigned long long)q->stop);
        strcat(query, part);
    }
    snprintf(part, sizeof part, "&thin=%llu", (unsigned long long)(q->thin ? q->thin : 1));
    strcat(query, part);
    return mcmcc_job_path(c, id, query, buf, cap, err);
}

static void to_host_order(double *values, uint64_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (uint64_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &values[i], 8);
        u = __builtin_bswap64(u);
        memcpy(&values[i], &u, 8);
    }
#else
    (void)values, (void)n;
#endif
}

static mcmc_client_status draws_result(npy_sink *s, mcmc_client_status st, mcmc_error *err) {
    if (s->bad) return mcmcc_fail(err, MCMC_CLIENT_PROTOCOL, "draws: %s", s->why);
    if (st != MCMC_CLIENT_OK) return st;
    if (!s->header_done) return mcmcc_fail(err, MCMC_CLIENT_PROTOCOL, "draws: no .npy header");
    if (s->too_small)
        return mcmcc_fail(err, MCMC_CLIENT_INVALID,
                          "draws: the buffer holds %zu values, %llu are needed", s->capacity,
                          (unsigned long long)(s->need_bytes / 8));
    if (!s->size_only && s->got_bytes != s->need_bytes)
        return mcmcc_fail(err, MCMC_CLIENT_PROTOCOL, "draws: %llu of %llu bytes came",
                          (unsigned long long)s->got_bytes, (unsigned long long)s->need_bytes);
    to_host_order(s->values, s->got_bytes / 8);
    return MCMC_CLIENT_OK;
}

mcmc_client_status mcmc_fetch_draws(mcmc_client *c, const char *id, const mcmc_draw_query *query,
                                    double *values, size_t capacity, mcmc_draws_shape *shape,
                                    mcmc_error *err) {
    mcmcc_error_reset(err);
    if (shape) *shape = (mcmc_draws_shape){0, 0, 0};
    if (!c || !shape || (!values && capacity))
        return mcmcc_fail(err, MCMC_CLIENT_INVALID, "no client, no shape, or no buffer");
    mcmc_draw_query q = query ? *query : MCMC_DRAW_QUERY_ALL;
    char path[512];
    mcmc_client_status st = draws_path(c, id, &q, path, sizeof path, err);
    if (st != MCMC_CLIENT_OK) return st;
    npy_sink s = {.client = c, .values = values, .capacity = capacity};
    s.size_only = !values && capacity == 0;
    mcmcc_request rq = {.method = "GET",
                        .path = path,
                        .accept = "application/x-npy",
                        .streaming = 1,
                        .sink = npy_sink_write,
                        .sink_ctx = &s};
    mcmcc_response rs;
    st = mcmcc_perform(c, &rq, &rs, err);
    mcmcc_response_free(&rs);
    st = draws_result(&s, st, err);
    if (s.header_done) *shape = s.shape;
    mcmcc_buf_free(&s.head);
    return st;
}
