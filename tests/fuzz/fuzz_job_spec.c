/* fuzz_job_spec.c - libFuzzer harness of the job-spec parser
 * (job_spec_parse_text, and job_spec_parse_stored on the same bytes).
 * A spec that fails has 1..SPEC_ERRORS_MAX errors and an error envelope
 * that builds (valid UTF-8). A spec that parses must round-trip: written
 * back with job_spec_to_json, parsed again, it gives the same canonical
 * JSON (sorted keys, compact); a mismatch aborts with both texts. */
#include <jansson.h>

#include "fuzz_util.h"
#include "job_spec.h"

static void check_errors(const spec_errors *errs) {
    FUZZ_CHECK(errs->count >= 1 && errs->count <= SPEC_ERRORS_MAX, "%zu errors", errs->count);
    for (size_t i = 0; i < errs->count; i++) {
        FUZZ_CHECK(fuzz_message_ok(errs->items[i].path, SPEC_PATH_MAX), "error %zu", i);
        FUZZ_CHECK(fuzz_message_ok(errs->items[i].message, SPEC_MESSAGE_MAX), "error %zu", i);
    }
    json_t *env = spec_errors_to_json(errs, "invalid_spec", "the job spec is invalid");
    FUZZ_CHECK(env != NULL, "the error envelope did not build");
    char *text = json_dumps(env, JSON_COMPACT);
    FUZZ_CHECK(text != NULL, "the error envelope did not serialise");
    free(text);
    json_decref(env);
}

/* The spec as canonical JSON text (malloc'd). */
static char *canonical(const job_spec *spec) {
    json_t *root = job_spec_to_json(spec);
    FUZZ_CHECK(root != NULL, "job_spec_to_json failed");
    char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    FUZZ_CHECK(text != NULL, "json_dumps failed");
    json_decref(root);
    return text;
}

static void round_trip(const job_spec *spec) {
    char *first = canonical(spec);
    job_spec again;
    spec_errors errs;
    if (job_spec_parse_text(first, strlen(first), &again, &errs) != 0) {
        fprintf(stderr, "written back: %s\nrejected at %s: %s\n", first, errs.items[0].path,
                errs.items[0].message);
        abort();
    }
    char *second = canonical(&again);
    if (strcmp(first, second) != 0) {
        fprintf(stderr, "round trip differs:\n first: %s\nsecond: %s\n", first, second);
        abort();
    }
    job_spec_free(&again);
    free(first);
    free(second);
}

static void parse_one(const char *text, size_t len,
                      int (*parse)(const char *, size_t, job_spec *, spec_errors *)) {
    job_spec spec;
    spec_errors errs;
    if (parse(text, len, &spec, &errs) != 0) {
        check_errors(&errs);
        return;
    }
    round_trip(&spec);
    job_spec_free(&spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_bytes(data, size); /* no NUL: the parsers take a length */
    parse_one(text, size, job_spec_parse_text);
    parse_one(text, size, job_spec_parse_stored);
    free(text);
    return 0;
}
