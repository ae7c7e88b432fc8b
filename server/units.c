/* units.c - strict parsing and exact formatting of counts, sizes and
 * durations (see units.h). */
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* Decimal digits only: strtoull alone would take "-1", " 7" and "0x10". */
static int parse_digits(const char *s, uint64_t *out, const char **end) {
    if (!isdigit((unsigned char)*s)) return -1;
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno == ERANGE) return -1;
    *out = v;
    *end = e;
    return 0;
}

int units_parse_count(const char *text, uint64_t *out) {
    const char *end;
    if (parse_digits(text, out, &end) || *end) return -1;
    return 0;
}

static int size_shift(char ch) {
    switch (ch) {
    case 'k':
    case 'K':
        return 10;
    case 'm':
    case 'M':
        return 20;
    case 'g':
    case 'G':
        return 30;
    case 't':
    case 'T':
        return 40;
    default:
        return -1;
    }
}

int units_parse_size(const char *text, uint64_t *out) {
    const char *end;
    uint64_t v;
    if (parse_digits(text, &v, &end)) return -1;
    if (*end) {
        int shift = size_shift(*end);
        if (shift < 0 || end[1] || v > (UINT64_MAX >> shift)) return -1;
        v <<= shift;
    }
    *out = v;
    return 0;
}

static uint64_t seconds_per(char ch) {
    switch (ch) {
    case 's':
        return 1;
    case 'm':
        return 60;
    case 'h':
        return 3600;
    case 'd':
        return 86400;
    default:
        return 0;
    }
}

int units_parse_seconds(const char *text, uint64_t *out) {
    const char *end;
    uint64_t v, mul = 1;
    if (parse_digits(text, &v, &end)) return -1;
    if (*end) {
        mul = seconds_per(*end);
        if (!mul || end[1] || v > UINT64_MAX / mul) return -1;
    }
    *out = v * mul;
    return 0;
}

void units_format_size(uint64_t v, char *buf, size_t cap) {
    static const char units[] = "TGMk";
    for (int i = 0; i < 4; i++) {
        int shift = 40 - 10 * i;
        if (v && v % (1ull << shift) == 0) {
            snprintf(buf, cap, "%llu%c", (unsigned long long)(v >> shift), units[i]);
            return;
        }
    }
    snprintf(buf, cap, "%llu", (unsigned long long)v);
}

void units_format_seconds(uint64_t v, char *buf, size_t cap) {
    static const struct {
        char unit;
        uint64_t s;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}};
    for (int i = 0; i < 3; i++)
        if (v && v % units[i].s == 0) {
            snprintf(buf, cap, "%llu%c", (unsigned long long)(v / units[i].s), units[i].unit);
            return;
        }
    snprintf(buf, cap, "%llu", (unsigned long long)v);
}
