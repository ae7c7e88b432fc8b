/* executor_wire.c - a block's record between a Slurm task and the daemon
 * (executor_wire.h), with its own base64. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "executor_wire.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const void *data, size_t n) {
    const unsigned char *p = data;
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        *o++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? b64[v & 63] : '=';
    }
    *o = 0;
    return out;
}

static int b64_value(char ch) {
    const char *at = ch ? strchr(b64, ch) : NULL;
    return at ? (int)(at - b64) : -1;
}

/* Decodes exactly n bytes from s into out; 0 or -1 (not base64, or another length). */
static int b64_decode(const char *s, void *out, size_t n) {
    size_t len = strlen(s);
    if (len != (n + 2) / 3 * 4) return -1;
    unsigned char *o = out;
    for (size_t i = 0, k = 0; i < len; i += 4) {
        int v[4];
        for (int q = 0; q < 4; q++)
            v[q] = s[i + q] == '=' && i + 4 == len && q >= 2 ? 0 : b64_value(s[i + q]);
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0) return -1;
        unsigned x =
            (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        for (int q = 0; q < 3 && k < n; q++)
            o[k++] = (unsigned char)(x >> (16 - 8 * q));
    }
    return 0;
}

static json_t *real_or_null(double x) {
    return isfinite(x) ? json_real(x) : json_null();
}

json_t *wire_counts_json(uint32_t c, const chain_counts *k, const chain_adaptation *ad) {
    json_t *o = json_pack(
        "{s:i, s:I, s:I, s:I, s:I, s:o, s:I, s:o, s:o, s:b, s:b, s:I}", "chain", (int)c, "iter",
        (json_int_t)k->iter, "accepted", (json_int_t)k->accepted, "draws", (json_int_t)k->draws,
        "grad_evals", (json_int_t)k->grad_evals, "elapsed", real_or_null(k->elapsed), "divergent",
        (json_int_t)k->divergent, "warmup_elapsed", real_or_null(k->warmup_elapsed), "step_size",
        real_or_null(k->step_size), "warmup", k->warmup, "nonfinite", k->nonfinite, "nonfinite_at",
        (json_int_t)(k->nonfinite_at == UINT64_MAX ? -1 : (json_int_t)k->nonfinite_at));
    if (o && ad && ad->known) {
        char *inv = b64_encode(ad->inv ? (const void *)ad->inv : "",
                               chain_adaptation_values(ad) * sizeof(double));
        json_object_set_new(o, "adapt",
                            json_pack("{s:o, s:i, s:s}", "step_size", real_or_null(ad->step_size),
                                      "kind", (int)ad->kind, "inv", inv ? inv : ""));
        free(inv);
    }
    return o;
}

int wire_add_rows(json_t *rec, const chain_block *b) {
    char *rows = b64_encode(b->draws, (size_t)b->count * b->d * sizeof(double));
    char *stats = b64_encode(b->stats ? (const void *)b->stats : "",
                             (size_t)b->count * b->nstats * sizeof(double));
    int rc = rows && stats ? 0 : -1;
    if (rc == 0) {
        json_object_set_new(rec, "first_draw", json_integer((json_int_t)b->first_draw));
        json_object_set_new(rec, "count", json_integer((json_int_t)b->count));
        json_object_set_new(rec, "rows", json_string(rows));
        json_object_set_new(rec, "stats", json_string(stats));
    }
    free(rows);
    free(stats);
    return rc;
}

/* A non-negative integer field; 0 or -1 with why. */
static int get_count(const json_t *rec, const char *name, uint64_t *out, char *why, size_t cap) {
    const json_t *v = json_object_get(rec, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(why, cap, "%s: expected a non-negative integer", name);
        return -1;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static double get_real(const json_t *rec, const char *name) {
    const json_t *v = json_object_get(rec, name);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int parse_adapt(const json_t *a, size_t d, chain_adaptation *ad, char *why, size_t cap) {
    const json_t *kind = json_object_get(a, "kind"), *inv = json_object_get(a, "inv");
    if (!json_is_integer(kind) || json_integer_value(kind) < METRIC_UNIT ||
        json_integer_value(kind) > METRIC_DENSE || !json_is_string(inv)) {
        snprintf(why, cap, "adapt: expected {step_size, kind, inv}");
        return -1;
    }
    *ad = (chain_adaptation){.known = 1,
                             .step_size = get_real(a, "step_size"),
                             .kind = (metric_kind)json_integer_value(kind),
                             .d = d};
    size_t n = chain_adaptation_values(ad);
    if (n && !(ad->inv = malloc(n * sizeof(double))))
        return snprintf(why, cap, "out of memory"), -1;
    if (b64_decode(json_string_value(inv), ad->inv ? (void *)ad->inv : (void *)why,
                   n * sizeof(double))) {
        chain_adaptation_clear(ad);
        snprintf(why, cap, "adapt.inv: expected %zu values in base64", n);
        return -1;
    }
    return 0;
}

int wire_counts_parse(const json_t *rec, size_t d, chain_counts *k, chain_adaptation *ad, char *why,
                      size_t cap) {
    uint64_t at;
    const json_t *nf = json_object_get(rec, "nonfinite_at");
    *k = (chain_counts){0};
    if (get_count(rec, "iter", &k->iter, why, cap) ||
        get_count(rec, "accepted", &k->accepted, why, cap) ||
        get_count(rec, "draws", &k->draws, why, cap) ||
        get_count(rec, "grad_evals", &k->grad_evals, why, cap) ||
        get_count(rec, "divergent", &k->divergent, why, cap))
        return -1;
    k->elapsed = get_real(rec, "elapsed");
    k->warmup_elapsed = get_real(rec, "warmup_elapsed");
    k->step_size = get_real(rec, "step_size");
    k->warmup = json_is_true(json_object_get(rec, "warmup"));
    k->nonfinite = json_is_true(json_object_get(rec, "nonfinite"));
    at = json_is_integer(nf) && json_integer_value(nf) >= 0 ? (uint64_t)json_integer_value(nf)
                                                            : UINT64_MAX;
    k->nonfinite_at = at;
    *ad = (chain_adaptation){0};
    const json_t *a = json_object_get(rec, "adapt");
    return a ? parse_adapt(a, d, ad, why, cap) : 0;
}

static int decode_values(const json_t *rec, const char *name, size_t n, double **out, char *why,
                         size_t cap) {
    const json_t *v = json_object_get(rec, name);
    *out = malloc(n ? n * sizeof(double) : 1);
    if (!*out) return snprintf(why, cap, "out of memory"), -1;
    if (!json_is_string(v) || b64_decode(json_string_value(v), *out, n * sizeof(double))) {
        snprintf(why, cap, "%s: expected %zu float64 values in base64", name, n);
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int wire_rows_parse(const json_t *rec, size_t d, unsigned nstats, uint64_t *first, uint32_t *count,
                    double **rows, double **stats, char *why, size_t cap) {
    uint64_t n = 0;
    *rows = *stats = NULL;
    *count = 0;
    *first = 0;
    if (!json_object_get(rec, "count")) return 0;
    if (get_count(rec, "first_draw", first, why, cap) || get_count(rec, "count", &n, why, cap))
        return -1;
    if (n > UINT32_MAX) return snprintf(why, cap, "count: too large"), -1;
    *count = (uint32_t)n;
    if (decode_values(rec, "rows", n * d, rows, why, cap)) return -1;
    if (decode_values(rec, "stats", n * nstats, stats, why, cap)) {
        free(*rows);
        *rows = NULL;
        return -1;
    }
    return 0;
}
