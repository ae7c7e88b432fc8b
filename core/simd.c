/* simd.c - picks the kernel table for this CPU once, at first use. */
#include <stdlib.h>
#include <string.h>

#include "simd.h"

extern const simd_ops simd_ops_generic;
#ifdef MCMCD_HAVE_X86_KERNELS
extern const simd_ops simd_ops_avx2;
extern const simd_ops simd_ops_avx512;
#endif

const simd_ops *simd_ops_named(const char *name) {
    if (!strcmp(name, "generic")) return &simd_ops_generic;
#ifdef MCMCD_HAVE_X86_KERNELS
    __builtin_cpu_init();
    if (!strcmp(name, "avx2"))
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &simd_ops_avx2
                                                                               : NULL;
    if (!strcmp(name, "avx512"))
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")
                   ? &simd_ops_avx512
                   : NULL;
#endif
    return NULL;
}

static const simd_ops *simd_ops_choose(void) {
    const char *want = getenv("MCMCD_SIMD");
    const simd_ops *ops = NULL;
    if (want && *want) ops = simd_ops_named(want);
    if (ops) return ops;
    if ((ops = simd_ops_named("avx512"))) return ops;
    if ((ops = simd_ops_named("avx2"))) return ops;
    return &simd_ops_generic;
}

const simd_ops *simd_ops_get(void) {
    /* A benign race: every thread computes the same pointer. */
    static const simd_ops *_Atomic chosen;
    const simd_ops *ops = chosen;
    if (!ops) chosen = ops = simd_ops_choose();
    return ops;
}
