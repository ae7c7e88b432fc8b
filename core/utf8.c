/* utf8.c - checking and repairing UTF-8 from requests (utf8.h). The
 * well-formed sequences are those of Unicode's table 3-7. */
#include <string.h>

#include "utf8.h"

/* The length of the well-formed sequence at p (1..4), or 0. */
static size_t seq_len(const unsigned char *p) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    unsigned lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

int utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = seq_len(p);
        if (!n) return 0;
        p += n;
    }
    return 1;
}

const char *utf8_clip(char *buf, size_t cap, const char *s) {
    static const char fffd[] = "\xEF\xBF\xBD";
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t used = 0;
    while (*p) {
        size_t n = seq_len(p);
        const char *from = n ? (const char *)p : fffd;
        size_t len = n ? n : 3;
        if (used + len > cap - 1) break;
        memcpy(buf + used, from, len);
        used += len;
        p += n ? n : 1;
    }
    buf[used] = 0;
    return buf;
}
