/* fuzz_util.h - what every libFuzzer harness of tests/fuzz shares: the
 * input as a C string in a buffer of its own exact size (so ASan sees a
 * read past its end), and a check that aborts, which libFuzzer reports as
 * a crash with its reproducer. */
#ifndef MCMCD_FUZZ_UTIL_H
#define MCMCD_FUZZ_UTIL_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data[0..size) and a NUL, in a new allocation. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    if (size) memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* data[0..size) alone, no NUL after it, in a new allocation. */
static inline char *fuzz_bytes(const uint8_t *data, size_t size) {
    char *s = malloc(size ? size : 1);
    if (!s) abort();
    if (size) memcpy(s, data, size);
    return s;
}

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz check failed: %s: ", #cond);                                     \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* err is a NUL-terminated message within its cap bytes. */
static inline int fuzz_message_ok(const char *err, size_t cap) {
    return memchr(err, '\0', cap) != NULL;
}

/* s is valid UTF-8: it can go into a JSON answer as it is. */
static inline int fuzz_utf8_ok(const char *s) {
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

#endif
