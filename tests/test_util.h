/* test_util.h - shared bits of the cmocka tests. */
#ifndef MCMCD_TEST_UTIL_H
#define MCMCD_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "chain.h"
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

/* cfg's sampler set to the named table entry with its defaults, and
 * step_size when the sampler has one. */
static inline void test_use_sampler(chain_config *cfg, const char *name, double step_size) {
    cfg->sampler = sampler_find(name);
    if (!cfg->sampler) {
        printf("# no sampler %s in the table\n", name);
        exit(1);
    }
    sampler_defaults(cfg->sampler, cfg->params);
    int i = sampler_param_index(cfg->sampler, "step_size");
    if (i >= 0) cfg->params[i] = step_size;
}

/* Sets one of cfg's sampler parameters; exits when the sampler lacks it. */
static inline void test_set_param(chain_config *cfg, const char *name, double v) {
    int i = sampler_param_index(cfg->sampler, name);
    if (i < 0) {
        printf("# sampler %s has no parameter %s\n", cfg->sampler->name, name);
        exit(1);
    }
    cfg->params[i] = v;
}

#endif
