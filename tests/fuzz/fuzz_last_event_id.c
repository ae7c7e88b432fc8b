/* fuzz_last_event_id.c - libFuzzer harness of where an event stream
 * resumes (job_events_parse_resume): the Last-Event-ID header and the
 * ?after= query. The input is the header's value, then optionally a NUL
 * byte and the query's value; a leading 0xff byte leaves the header out.
 * Checked against a plain reference: a value is accepted exactly when it
 * is 1 or more decimal digits no greater than UINT64_MAX, and the header's
 * value wins. */
#include "fuzz_util.h"
#include "job_events.h"

/* The reference reading: 0 and *out, or -1. */
static int reference(const char *s, uint64_t *out) {
    size_t len = strlen(s), skip = 0;
    if (len == 0) return -1;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9') return -1;
    while (skip + 1 < len && s[skip] == '0')
        skip++;
    const char *max = "18446744073709551615";
    if (len - skip > strlen(max) || (len - skip == strlen(max) && strcmp(s + skip, max) > 0))
        return -1;
    *out = strtoull(s + skip, NULL, 10);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int no_header = size > 0 && data[0] == 0xff;
    const uint8_t *nul = memchr(data, 0, size);
    size_t head_len = nul ? (size_t)(nul - data) : size;
    char *header = fuzz_cstr(data + no_header, head_len - (size_t)(no_header && head_len));
    char *query = nul ? fuzz_cstr(nul + 1, size - head_len - 1) : NULL;
    const char *h = no_header ? NULL : header;

    uint64_t after = 12345, want_h = 0, want_q = 0;
    int ok_h = h ? reference(h, &want_h) == 0 : 1,
        ok_q = query ? reference(query, &want_q) == 0 : 1;
    int rc = job_events_parse_resume(query, h, &after);
    FUZZ_CHECK(rc == ((ok_h && ok_q) ? 0 : -1), "rc %d for header \"%s\" query \"%s\"", rc,
               h ? h : "(none)", query ? query : "(none)");
    if (rc == 0) {
        uint64_t want = h ? want_h : want_q;
        FUZZ_CHECK(after == want, "%llu, not %llu", (unsigned long long)after,
                   (unsigned long long)want);
    } else {
        FUZZ_CHECK(after == 12345, "*after changed on failure");
    }
    free(header);
    free(query);
    return 0;
}
