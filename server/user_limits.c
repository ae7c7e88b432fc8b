/* user_limits.c - the table of per-user limits (user_limits.h), their parsing and
 * formatting. */
#include "user_limits.h"

#include <stdio.h>
#include <string.h>

#include "units.h"

static const limit_def limit_table[LIMIT_COUNT] = {
#define LIMIT_ROW(ID, name, unit, dflt, max, help) [LIMIT_##ID] = {name, unit, dflt, max, help},
    USER_LIMITS(LIMIT_ROW)
#undef LIMIT_ROW
};

const limit_def *limit_get(limit_id id) {
    return (unsigned)id < LIMIT_COUNT ? &limit_table[id] : NULL;
}

limit_id limit_by_name(const char *name) {
    for (int i = 0; name && i < LIMIT_COUNT; i++)
        if (!strcmp(limit_table[i].name, name)) return (limit_id)i;
    return LIMIT_COUNT;
}

static const char *unit_hint(limit_unit u) {
    return u == LIMIT_UNIT_BYTES     ? ", with an optional k, M, G or T"
           : u == LIMIT_UNIT_SECONDS ? " seconds, or a number with s, m, h or d"
                                     : "";
}

int limit_parse(limit_id id, const char *text, uint64_t *out, char *msg, size_t cap) {
    const limit_def *d = limit_get(id);
    uint64_t v;
    int rc = !d                              ? -1
             : d->unit == LIMIT_UNIT_BYTES   ? units_parse_size(text, &v)
             : d->unit == LIMIT_UNIT_SECONDS ? units_parse_seconds(text, &v)
                                             : units_parse_count(text, &v);
    if (rc == 0 && v <= d->max) {
        *out = v;
        return 0;
    }
    char max[32];
    limit_format(id, d ? d->max : 0, max, sizeof max);
    snprintf(msg, cap, "must be 0 (no limit) to %s%s (got '%.64s')", max,
             d ? unit_hint(d->unit) : "", text);
    return -1;
}

void limit_format(limit_id id, uint64_t v, char *buf, size_t cap) {
    const limit_def *d = limit_get(id);
    if (d && d->unit == LIMIT_UNIT_BYTES)
        units_format_size(v, buf, cap);
    else if (d && d->unit == LIMIT_UNIT_SECONDS)
        units_format_seconds(v, buf, cap);
    else
        snprintf(buf, cap, "%llu", (unsigned long long)v);
}

int limit_exceeded(uint64_t v, uint64_t used, uint64_t more) {
    return v != 0 && (used > v || more > v - used);
}
