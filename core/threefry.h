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

#endif
