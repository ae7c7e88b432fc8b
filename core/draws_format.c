/* draws_format.c - CSV, JSON and NDJSON text of draws, into caller buffers.
 *
 * Each piece function checks its cap against draws_render_max once, then
 * writes with a plain cursor: no piece can outgrow that bound (a number is
 * at most 24 characters, a count at most 20 digits).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draws_format.h"

size_t draws_render_max(size_t d) {
    /* The widest piece per parameter is the CSV header's ",theta.<20
     * digits>" (27); the widest fixed part is an NDJSON row's (61). */
    if (d > (SIZE_MAX - 96) / 32) return SIZE_MAX; /* no buffer is that big */
    return 96 + 32 * d;
}

size_t draws_render_json_number(char *buf, double v) {
    if (!isfinite(v)) {
        memcpy(buf, "null", 5);
        return 4;
    }
    char text[DRAWS_NUMBER_MAX]; /* a local: GCC's sanitizer builds misjudge buf */
    int len = 0;
    /* 15, 16 or 17 significant digits: the fewest that read back exactly */
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(text, sizeof text, "%.*g", prec, v);
        if (strtod(text, NULL) == v) break;
    }
    memcpy(buf, text, (size_t)len + 1);
    return (size_t)len;
}

size_t draws_render_csv_number(char *buf, double v) {
    const char *word = isnan(v) ? "NaN" : isinf(v) ? (v > 0 ? "inf" : "-inf") : NULL;
    if (!word) return draws_render_json_number(buf, v);
    size_t len = strlen(word);
    memcpy(buf, word, len + 1);
    return len;
}

/* ---- a cursor that trusts the up-front cap check ---- */

static char *put_text(char *p, const char *s) {
    size_t len = strlen(s);
    memcpy(p, s, len + 1);
    return p + len;
}

static char *put_count(char *p, uint64_t v) {
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = digits[--n];
    *p = 0;
    return p;
}

/* v1,v2,...,vd, each as JSON (csv = 0) or CSV (csv = 1); a leading comma
 * before each value when lead is set. */
static char *put_values(char *p, const double *row, size_t d, int csv, int lead) {
    for (size_t j = 0; j < d; j++) {
        if (j || lead) *p++ = ',';
        p += csv ? draws_render_csv_number(p, row[j]) : draws_render_json_number(p, row[j]);
    }
    *p = 0;
    return p;
}

/* ---- CSV ---- */

size_t draws_render_csv_header(char *buf, size_t cap, size_t d) {
    if (cap < draws_render_max(d)) return 0;
    char *p = put_text(buf, "chain,draw");
    for (size_t j = 0; j < d; j++) {
        p = put_text(p, ",theta.");
        p = put_count(p, (uint64_t)j + 1);
    }
    p = put_text(p, "\n");
    return (size_t)(p - buf);
}

size_t draws_render_csv_row(char *buf, size_t cap, uint32_t chain, uint64_t draw, const double *row,
                            size_t d) {
    if (cap < draws_render_max(d)) return 0;
    char *p = put_count(buf, chain);
    *p++ = ',';
    p = put_count(p, draw);
    p = put_values(p, row, d, 1, 1);
    p = put_text(p, "\n");
    return (size_t)(p - buf);
}

/* ---- JSON ---- */

size_t draws_render_json_open(char *buf, size_t cap, uint32_t chains, uint64_t samples, size_t d) {
    if (cap < draws_render_max(d)) return 0;
    char *p = put_text(buf, "{\"shape\":[");
    p = put_count(p, chains);
    *p++ = ',';
    p = put_count(p, samples);
    *p++ = ',';
    p = put_count(p, d);
    p = put_text(p, "],\"draws\":[");
    return (size_t)(p - buf);
}

size_t draws_render_json_row(char *buf, size_t cap, const double *row, size_t d, unsigned place) {
    if (cap < draws_render_max(d)) return 0;
    const char *open = ",[";
    if (place & DRAWS_JSON_FIRST_ROW) open = place & DRAWS_JSON_FIRST_CHAIN ? "[[" : ",[[";
    char *p = put_text(buf, open);
    p = put_values(p, row, d, 0, 0);
    p = put_text(p, place & DRAWS_JSON_LAST_ROW ? "]]" : "]");
    return (size_t)(p - buf);
}

size_t draws_render_json_empty_chain(char *buf, size_t cap, int first_chain) {
    if (cap < draws_render_max(0)) return 0;
    return (size_t)(put_text(buf, first_chain ? "[]" : ",[]") - buf);
}

size_t draws_render_json_close(char *buf, size_t cap) {
    if (cap < draws_render_max(0)) return 0;
    return (size_t)(put_text(buf, "]}\n") - buf);
}

/* ---- NDJSON ---- */

size_t draws_render_ndjson_row(char *buf, size_t cap, uint32_t chain, uint64_t draw,
                               const double *row, size_t d) {
    if (cap < draws_render_max(d)) return 0;
    char *p = put_text(buf, "{\"chain\":");
    p = put_count(p, chain);
    p = put_text(p, ",\"draw\":");
    p = put_count(p, draw);
    p = put_text(p, ",\"theta\":[");
    p = put_values(p, row, d, 0, 0);
    p = put_text(p, "]}\n");
    return (size_t)(p - buf);
}
