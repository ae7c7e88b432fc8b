/* accept.c - the Accept header's parser (RFC 9110, 12.5.1): a list of
 * media ranges, each with parameters and an optional q-value. Lenient:
 * anything malformed reads as listed with q=1, never as an error. */
#include "accept.h"

#include <string.h>
#include <strings.h>

static int is_ows(char c) {
    return c == ' ' || c == '\t';
}

static const char *skip_ows(const char *s) {
    while (is_ows(*s))
        s++;
    return s;
}

/* A token up to one of `stops` (or the end), without surrounding spaces. */
static const char *scan_token(const char *s, const char *stops, const char **start, size_t *len) {
    s = skip_ows(s);
    *start = s;
    while (*s && !strchr(stops, *s))
        s++;
    const char *end = s;
    while (end > *start && is_ows(end[-1]))
        end--;
    *len = (size_t)(end - *start);
    return s;
}

/* A parameter value: a token or a quoted string (its quotes kept). */
static const char *scan_value(const char *s, const char **start, size_t *len) {
    s = skip_ows(s);
    if (*s != '"') return scan_token(s, ";,", start, len);
    *start = s++;
    while (*s && *s != '"')
        s += (s[0] == '\\' && s[1]) ? 2 : 1;
    if (*s == '"') s++;
    *len = (size_t)(s - *start);
    return s;
}

/* A qvalue in thousandths: "0", "0.5", "1", "1.000". Anything else reads
 * as 1000: the client did list the type. */
static int parse_qvalue(const char *s, size_t len) {
    if (len == 0 || (s[0] != '0' && s[0] != '1') || (len > 1 && s[1] != '.') || len > 5)
        return 1000;
    int q = (s[0] - '0') * 1000, scale = 100;
    for (size_t i = 2; i < len; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9') return 1000;
        q += (s[i] - '0') * scale;
    }
    return q > 1000 ? 1000 : q;
}

static int same(const char *s, size_t len, const char *word, size_t word_len) {
    return len == word_len && strncasecmp(s, word, len) == 0;
}

/* What an offered type asks for: the media type, and the one parameter
 * an element must carry (none: param_len 0). */
typedef struct offer {
    const char *type, *pname, *pvalue;
    size_t type_len, pname_len, pvalue_len;
} offer;

static offer offer_of(const char *offered) {
    offer o = {.type = offered, .type_len = strcspn(offered, ";")};
    if (offered[o.type_len] == ';') {
        o.pname = offered + o.type_len + 1;
        o.pname_len = strcspn(o.pname, "=");
        o.pvalue = o.pname + o.pname_len + (o.pname[o.pname_len] == '=');
        o.pvalue_len = strlen(o.pvalue);
    }
    return o;
}

/* Reads one element of an Accept list ("type/sub;p=v;q=0.5") at *s: 1000ths
 * of q when it names o (with o's parameter, if any), else 0. Moves *s to
 * where the next element starts. */
static int scan_element(const char **s, const offer *o) {
    const char *type, *p = *s;
    size_t type_len;
    p = scan_token(p, ";,", &type, &type_len);
    int q = 1000, has_param = o->pname_len == 0;
    while (*p == ';') {
        const char *name, *value = "";
        size_t name_len, value_len = 0;
        p = scan_token(p + 1, "=;,", &name, &name_len);
        if (*p == '=') p = scan_value(p + 1, &value, &value_len);
        if (same(name, name_len, "q", 1))
            q = parse_qvalue(value, value_len);
        else if (o->pname_len && same(name, name_len, o->pname, o->pname_len) &&
                 same(value, value_len, o->pvalue, o->pvalue_len))
            has_param = 1;
        p = skip_ows(p);
        while (*p && *p != ';' && *p != ',')
            p++; /* stray characters after a quoted value */
    }
    *s = *p == ',' ? p + 1 : p;
    return same(type, type_len, o->type, o->type_len) && has_param ? q : 0;
}

int accept_q(const char *accept, const char *offered) {
    offer o = offer_of(offered);
    int best = 0;
    for (const char *s = accept; s && *s;) {
        int q = scan_element(&s, &o);
        if (q > best) best = q;
    }
    return best;
}

int accept_choose(const char *accept, const char *const *offered, size_t n) {
    int pick = -1, best = 0;
    for (size_t i = 0; i < n; i++) {
        int q = accept_q(accept, offered[i]);
        if (q > best) best = q, pick = (int)i;
    }
    return pick;
}
