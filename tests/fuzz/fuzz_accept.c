/* fuzz_accept.c - libFuzzer harness of the Accept header parsers: the
 * events' (event_framing_from_accept) and the draws' (draws_format_from), both
 * through accept.c (q-values; media types compare case-insensitively).
 * Beyond no crash and no read past the header's NUL: SSE needs the header
 * to name text/event-stream (in any case), and each draws format needs its
 * media type in the header. */
#include <strings.h>

#include "draws_request.h"
#include "fuzz_util.h"
#include "job_events.h"

/* needle occurs in s, ignoring case. */
static int contains_nocase(const char *s, const char *needle) {
    size_t n = strlen(needle);
    for (; *s; s++)
        if (strncasecmp(s, needle, n) == 0) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *accept = fuzz_cstr(data, size);
    event_framing f = event_framing_from_accept(accept);
    FUZZ_CHECK(f == EVENT_FRAMING_NDJSON || f == EVENT_FRAMING_SSE, "framing %d", (int)f);
    if (f == EVENT_FRAMING_SSE)
        FUZZ_CHECK(contains_nocase(accept, "text/event-stream"), "SSE for \"%s\"", accept);
    FUZZ_CHECK(event_framing_content_type(f) != NULL, "no content type");

    static const char *const types[] = {"application/x-npy", "text/csv", "application/json",
                                        "application/x-ndjson", "text/csv"};
    int fmt = draws_format_from(NULL, accept);
    FUZZ_CHECK(fmt >= DRAW_NPY && fmt <= DRAW_CMDSTAN, "format %d", fmt);
    if (fmt != DRAW_JSON)
        FUZZ_CHECK(contains_nocase(accept, types[fmt]), "format %d for \"%s\"", fmt, accept);
    FUZZ_CHECK(draws_format_from(accept, NULL) == -1 || strlen(accept) <= 7,
               "\"%s\" as format=", accept);
    free(accept);
    return 0;
}
