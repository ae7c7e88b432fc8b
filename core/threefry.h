/* threefry.h - the Threefry-2x32-20 block function, inline, so that the
 * random-number loops in rng.c and in the per-ISA kernels vectorise. */
#ifndef MCMCD_THREEFRY_H
#define MCMCD_THREEFRY_H

#include <stdint.h>

static inline uint32_t tf_rotl(uint32_t x, unsigned r) {
    return (x << r) | (x >> (32 - r));
}

#define TF_ROUND(r)                                                                                \
    do {                                                                                           \
        x0 += x1;                                                                                  \
        x1 = tf_rotl(x1, r);                                                                       \
        x1 ^= x0;                                                                                  \
    } while (0)

/* (x0, x1) -> threefry2x32_20((k0, k1), (x0, x1)), written to *o0, *o1. */
static inline void tf_block(uint32_t k0, uint32_t k1, uint32_t x0, uint32_t x1, uint32_t *o0,
                            uint32_t *o1) {
    uint32_t k2 = k0 ^ k1 ^ 0x1BD11BDAu;
    x0 += k0;
    x1 += k1;
    TF_ROUND(13);
    TF_ROUND(15);
    TF_ROUND(26);
    TF_ROUND(6);
    x0 += k1;
    x1 += k2 + 1;
    TF_ROUND(17);
    TF_ROUND(29);
    TF_ROUND(16);
    TF_ROUND(24);
    x0 += k2;
    x1 += k0 + 2;
    TF_ROUND(13);
    TF_ROUND(15);
    TF_ROUND(26);
    TF_ROUND(6);
    x0 += k0;
    x1 += k1 + 3;
    TF_ROUND(17);
    TF_ROUND(29);
    TF_ROUND(16);
    TF_ROUND(24);
    x0 += k1;
    x1 += k2 + 4;
    TF_ROUND(13);
    TF_ROUND(15);
    TF_ROUND(26);
    TF_ROUND(6);
    x0 += k2;
    x1 += k0 + 5;
    *o0 = x0;
    *o1 = x1;
}

/* The same block function on 16 counters per vector, nv vectors at once
 * (nv a constant, 1 to 4), so that their rounds interleave and the core's
 * vector units are kept busy rather than waiting on one vector's 60-step
 * chain of round latencies. Counter lane i of vector v is (hi, lo + 16v + i)
 * and must not wrap past 2^32; o0, o1 receive 16 nv words each. GCC's
 * vector extension: one zmm per vector on AVX-512, two ymm on AVX2, four
 * xmm on SSE2. */
typedef uint32_t tf_v16 __attribute__((vector_size(64)));

#define TF_VROUND(r)                                                                               \
    do {                                                                                           \
        for (int v = 0; v < nv; v++) {                                                             \
            a[v] += b[v];                                                                          \
            b[v] = (b[v] << (r)) | (b[v] >> (32 - (r)));                                           \
            b[v] ^= a[v];                                                                          \
        }                                                                                          \
    } while (0)
#define TF_VINJECT(ka, kb, s)                                                                      \
    do {                                                                                           \
        for (int v = 0; v < nv; v++) {                                                             \
            a[v] += (ka);                                                                          \
            b[v] += (kb) + (s);                                                                    \
        }                                                                                          \
    } while (0)

static inline __attribute__((always_inline)) void tf_blocks16(const int nv, uint32_t k0,
                                                              uint32_t k1, uint32_t hi, uint32_t lo,
                                                              uint32_t *o0, uint32_t *o1) {
    uint32_t k2 = k0 ^ k1 ^ 0x1BD11BDAu;
    tf_v16 a[4], b[4], lane;
    for (int i = 0; i < 16; i++)
        lane[i] = (uint32_t)i;
    for (int v = 0; v < nv; v++) {
        a[v] = (tf_v16){0} + (hi + k0);
        b[v] = lane + (lo + 16u * (uint32_t)v + k1);
    }
    TF_VROUND(13);
    TF_VROUND(15);
    TF_VROUND(26);
    TF_VROUND(6);
    TF_VINJECT(k1, k2, 1u);
    TF_VROUND(17);
    TF_VROUND(29);
    TF_VROUND(16);
    TF_VROUND(24);
    TF_VINJECT(k2, k0, 2u);
    TF_VROUND(13);
    TF_VROUND(15);
    TF_VROUND(26);
    TF_VROUND(6);
    TF_VINJECT(k0, k1, 3u);
    TF_VROUND(17);
    TF_VROUND(29);
    TF_VROUND(16);
    TF_VROUND(24);
    TF_VINJECT(k1, k2, 4u);
    TF_VROUND(13);
    TF_VROUND(15);
    TF_VROUND(26);
    TF_VROUND(6);
    TF_VINJECT(k2, k0, 5u);
    for (int v = 0; v < nv; v++) {
        __builtin_memcpy(o0 + 16 * v, &a[v], sizeof a[v]);
        __builtin_memcpy(o1 + 16 * v, &b[v], sizeof b[v]);
    }
}
#undef TF_VROUND
#undef TF_VINJECT

#endif
