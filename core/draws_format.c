/* draws_format.c - CSV, CmdStan CSV, JSON and NDJSON text of draws, into
 * caller buffers.
 *
 * Each piece function checks its cap against draws_layout_max once, then
 * writes with a plain cursor: no piece can outgrow that bound (a number is
 * at most 24 characters, a count at most 20 digits, a statistic's name at
 * most 13).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draws_format.h"
#include "sampler.h"

/* Fixed text of the widest piece (an NDJSON row's or the JSON opening's),
 * then bytes per statistic (",\"accept_stat__\":" and a number) and per
 * parameter (",theta.<20 digits>" or a number and its comma). */
#define FIXED_MAX 160
#define PER_STAT 64
#define PER_PARAM 32

size_t draws_layout_max(const draws_layout *l) {
    size_t d = l->d, names = 0;
    if (d > (SIZE_MAX / 2 - FIXED_MAX - PER_STAT * STAT_COUNT) / PER_PARAM)
        return SIZE_MAX; /* no buffer is that big */
    for (size_t j = 0; l->names && j < d; j++) {
        size_t len = strlen(l->names[j]) + 1;
        if (len > SIZE_MAX / 4 - names) return SIZE_MAX;
        names += len;
    }
    return FIXED_MAX + PER_STAT * (size_t)chain_stat_count(l->stats) + PER_PARAM * d + names;
}

size_t draws_render_max(size_t d) {
    return draws_layout_max(&(draws_layout){.d = d});
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

static size_t render_word_or_number(char *buf, double v, const char *nan_word) {
    const char *word = isnan(v) ? nan_word : isinf(v) ? (v > 0 ? "inf" : "-inf") : NULL;
    if (!word) return draws_render_json_number(buf, v);
    size_t len = strlen(word);
    memcpy(buf, word, len + 1);
    return len;
}

size_t draws_render_csv_number(char *buf, double v) {
    return render_word_or_number(buf, v, "NaN");
}

size_t draws_render_cmdstan_number(char *buf, double v) {
    return render_word_or_number(buf, v, "nan");
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

enum number_style { AS_JSON, AS_CSV, AS_CMDSTAN };

static char *put_number(char *p, double v, enum number_style style) {
    if (style == AS_JSON) return p + draws_render_json_number(p, v);
    if (style == AS_CSV) return p + draws_render_csv_number(p, v);
    return p + draws_render_cmdstan_number(p, v);
}

/* v1,v2,...,vn; a leading comma before each value when lead is set. */
static char *put_values(char *p, const double *row, size_t n, enum number_style style, int lead) {
    for (size_t j = 0; j < n; j++) {
        if (j || lead) *p++ = ',';
        p = put_number(p, row[j], style);
    }
    *p = 0;
    return p;
}

/* The names of the layout's statistics, each after a comma when lead is
 * set or it is not the first; quoted for JSON. */
static char *put_stat_names(char *p, unsigned stats, int lead, int quoted) {
    int first = 1;
    for (unsigned s = 0; s < STAT_COUNT; s++) {
        if (!(stats & STAT_BIT(s))) continue;
        if (lead || !first) *p++ = ',';
        first = 0;
        p = put_text(p, quoted ? "\"" : "");
        p = put_text(p, chain_stat_name(s));
        p = put_text(p, quoted ? "\"" : "");
    }
    return p;
}

/* ,name1,...,named: the layout's names, or theta.1..theta.d. */
static char *put_param_names(char *p, const draws_layout *l, int lead) {
    for (size_t j = 0; j < l->d; j++) {
        if (lead || j) *p++ = ',';
        if (l->names) {
            p = put_text(p, l->names[j]);
        } else {
            p = put_text(p, "theta.");
            p = put_count(p, (uint64_t)j + 1);
        }
    }
    return p;
}

/* ---- CSV ---- */

size_t draws_render_csv_header_of(char *buf, size_t cap, const draws_layout *l) {
    if (cap < draws_layout_max(l)) return 0;
    char *p = put_text(buf, l->warmup ? "chain,draw,warmup" : "chain,draw");
    p = put_stat_names(p, l->stats, 1, 0);
    p = put_param_names(p, l, 1);
    p = put_text(p, "\n");
    return (size_t)(p - buf);
}

size_t draws_render_csv_row_of(char *buf, size_t cap, const draws_layout *l, const draws_row *row) {
    if (cap < draws_layout_max(l)) return 0;
    char *p = put_count(buf, row->chain);
    *p++ = ',';
    p = put_count(p, row->draw);
    if (l->warmup) p = put_text(p, row->warmup ? ",1" : ",0");
    p = put_values(p, row->stats, chain_stat_count(l->stats), AS_CSV, 1);
    p = put_values(p, row->theta, l->d, AS_CSV, 1);
    p = put_text(p, "\n");
    return (size_t)(p - buf);
}

size_t draws_render_csv_header(char *buf, size_t cap, size_t d) {
    return draws_render_csv_header_of(buf, cap, &(draws_layout){.d = d});
}

size_t draws_render_csv_row(char *buf, size_t cap, uint32_t chain, uint64_t draw, const double *row,
                            size_t d) {
    draws_row r = {.chain = chain, .draw = draw, .theta = row};
    return draws_render_csv_row_of(buf, cap, &(draws_layout){.d = d}, &r);
}

/* ---- CmdStan CSV ---- */

size_t draws_render_cmdstan_header(char *buf, size_t cap, const draws_layout *l) {
    if (cap < draws_layout_max(l)) return 0;
    char *p = put_stat_names(buf, l->stats, 0, 0);
    p = put_param_names(p, l, l->stats != 0);
    p = put_text(p, "\n");
    return (size_t)(p - buf);
}

size_t draws_render_cmdstan_row(char *buf, size_t cap, const draws_layout *l,
                                const draws_row *row) {
    if (cap < draws_layout_max(l)) return 0;
    unsigned nstats = chain_stat_count(l->stats);
    char *p = put_values(buf, row->stats, nstats, AS_CMDSTAN, 0);
    p = put_values(p, row->theta, l->d, AS_CMDSTAN, nstats > 0);
    p = put_text(p, "\n");
    return (size_t)(p - buf);
}

/* ---- JSON ---- */

size_t draws_render_json_open_of(char *buf, size_t cap, const draws_layout *l, uint32_t chains,
                                 uint64_t rows, uint64_t warmup_rows) {
    if (cap < draws_layout_max(l)) return 0;
    char *p = put_text(buf, "{\"shape\":[");
    p = put_count(p, chains);
    *p++ = ',';
    p = put_count(p, rows);
    *p++ = ',';
    p = put_count(p, l->d);
    p = put_text(p, "],");
    if (l->warmup) {
        p = put_text(p, "\"warmup_draws\":");
        p = put_count(p, warmup_rows);
        *p++ = ',';
    }
    p = put_text(p, "\"draws\":[");
    return (size_t)(p - buf);
}

size_t draws_render_json_open(char *buf, size_t cap, uint32_t chains, uint64_t samples, size_t d) {
    return draws_render_json_open_of(buf, cap, &(draws_layout){.d = d}, chains, samples, 0);
}

size_t draws_render_json_row(char *buf, size_t cap, const double *row, size_t n, unsigned place) {
    if (cap < draws_render_max(n)) return 0;
    const char *open = ",[";
    if (place & DRAWS_JSON_FIRST_ROW) open = place & DRAWS_JSON_FIRST_CHAIN ? "[[" : ",[[";
    char *p = put_text(buf, open);
    p = put_values(p, row, n, AS_JSON, 0);
    p = put_text(p, place & DRAWS_JSON_LAST_ROW ? "]]" : "]");
    return (size_t)(p - buf);
}

size_t draws_render_json_empty_chain(char *buf, size_t cap, int first_chain) {
    if (cap < draws_render_max(0)) return 0;
    return (size_t)(put_text(buf, first_chain ? "[]" : ",[]") - buf);
}

size_t draws_render_json_stats_open(char *buf, size_t cap, const draws_layout *l) {
    if (cap < draws_layout_max(l)) return 0;
    char *p = put_text(buf, "],\"stat_names\":[");
    p = put_stat_names(p, l->stats, 0, 1);
    p = put_text(p, "],\"stats\":[");
    return (size_t)(p - buf);
}

size_t draws_render_json_close(char *buf, size_t cap) {
    if (cap < draws_render_max(0)) return 0;
    return (size_t)(put_text(buf, "]}\n") - buf);
}

/* ---- NDJSON ---- */

size_t draws_render_ndjson_row_of(char *buf, size_t cap, const draws_layout *l,
                                  const draws_row *row) {
    if (cap < draws_layout_max(l)) return 0;
    char *p = put_text(buf, "{\"chain\":");
    p = put_count(p, row->chain);
    p = put_text(p, ",\"draw\":");
    p = put_count(p, row->draw);
    if (l->warmup) p = put_text(p, row->warmup ? ",\"warmup\":true" : ",\"warmup\":false");
    const double *stat = row->stats;
    for (unsigned s = 0; s < STAT_COUNT; s++) {
        if (!(l->stats & STAT_BIT(s))) continue;
        p = put_text(p, ",\"");
        p = put_text(p, chain_stat_name(s));
        p = put_text(p, "\":");
        p = put_number(p, *stat++, AS_JSON);
    }
    p = put_text(p, ",\"theta\":[");
    p = put_values(p, row->theta, l->d, AS_JSON, 0);
    p = put_text(p, "]}\n");
    return (size_t)(p - buf);
}

size_t draws_render_ndjson_row(char *buf, size_t cap, uint32_t chain, uint64_t draw,
                               const double *row, size_t d) {
    draws_row r = {.chain = chain, .draw = draw, .theta = row};
    return draws_render_ndjson_row_of(buf, cap, &(draws_layout){.d = d}, &r);
}
