/* simd.c - the table of kernel paths (one per build of kernels.c), what
 * each needs of the CPU, and the process's path. Which path is fastest on
 * a machine is calibrate.c's business; this file only holds the choice. */
#include <stdlib.h>
#include <string.h>

#include "simd.h"

extern const simd_ops simd_ops_generic;
#ifdef MCMCD_HAVE_X86_KERNELS
extern const simd_ops simd_ops_avx2;
extern const simd_ops simd_ops_avx512;
#ifdef MCMCD_HAVE_AVX512_256
extern const simd_ops simd_ops_avx512_256;
#endif

/* __builtin_cpu_supports takes string literals only: one function a set. */
static int cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
static int cpu_has_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
}
#endif
static int cpu_has_any(void) {
    return 1;
}

typedef struct simd_path {
    const simd_ops *ops;
    const char *features; /* what runs() asks, as text for caches and logs */
    int (*runs)(void);
} simd_path;

/* The paths, the one preferred without a measurement first. */
static const simd_path paths[] = {
#ifdef MCMCD_HAVE_X86_KERNELS
    {&simd_ops_avx512, "avx512f avx512dq avx512vl avx512bw", cpu_has_avx512},
#ifdef MCMCD_HAVE_AVX512_256
    {&simd_ops_avx512_256, "avx512f avx512dq avx512vl avx512bw", cpu_has_avx512},
#endif
    {&simd_ops_avx2, "avx2 fma", cpu_has_avx2},
#endif
    {&simd_ops_generic, "", cpu_has_any},
};
#define NUM_PATHS (sizeof paths / sizeof paths[0])
_Static_assert(NUM_PATHS <= SIMD_PATHS_MAX, "raise SIMD_PATHS_MAX");

size_t simd_path_count(void) {
    return NUM_PATHS;
}
const char *simd_path_name(size_t i) {
    return i < NUM_PATHS ? paths[i].ops->name : NULL;
}
const char *simd_path_features(size_t i) {
    return i < NUM_PATHS ? paths[i].features : NULL;
}
int simd_path_runs(size_t i) {
    return i < NUM_PATHS && paths[i].runs();
}

const simd_ops *simd_ops_named(const char *name) {
    for (size_t i = 0; i < NUM_PATHS; i++)
        if (!strcmp(name, paths[i].ops->name)) return paths[i].runs() ? paths[i].ops : NULL;
    return NULL;
}

const simd_ops *simd_ops_default(void) {
    for (size_t i = 0; i < NUM_PATHS; i++)
        if (paths[i].runs()) return paths[i].ops;
    return &simd_ops_generic;
}

static const simd_ops *forced_by_env(void) {
    const char *want = getenv("MCMCD_SIMD");
    return want && *want ? simd_ops_named(want) : NULL;
}

/* A benign race: every thread that finds it unset computes the same
 * pointer; simd_ops_use runs at start, before other threads. */
static const simd_ops *_Atomic chosen;

const simd_ops *simd_ops_get(void) {
    const simd_ops *ops = chosen;
    if (!ops) {
        ops = forced_by_env();
        chosen = ops = ops ? ops : simd_ops_default();
    }
    return ops;
}

void simd_ops_use(const simd_ops *ops) {
    const simd_ops *forced = forced_by_env();
    chosen = forced ? forced : ops;
}
