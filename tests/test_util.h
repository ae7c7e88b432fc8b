/* test_util.h - shared bits of the cmocka tests. */
#ifndef MCMCD_TEST_UTIL_H
#define MCMCD_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "simd.h"

/* ctest's SKIP_RETURN_CODE: a SIMD path this CPU cannot run is reported as
 * skipped, never silently replaced by another path. */
#define TEST_SKIP 77

static inline void test_require_simd_path(void) {
    const char *want = getenv("MCMCD_SIMD");
    if (want && *want && !simd_ops_named(want)) {
        printf("# SIMD path %s: not supported by this CPU, skipped\n", want);
        exit(TEST_SKIP);
    }
    printf("# SIMD path: %s\n", simd_ops_get()->name);
}

#endif
