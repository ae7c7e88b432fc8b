/* rng.c - JAX-compatible keys and scalar draws on top of Threefry-2x32. */
#include <math.h>
#include <stdint.h>

#include "rng.h"
#include "simd.h"
#include "threefry.h"

void threefry2x32(rng_key key, uint32_t x0, uint32_t x1, uint32_t out[2]) {
    tf_block(key.hi, key.lo, x0, x1, &out[0], &out[1]);
}

rng_key rng_key_from_seed(uint64_t seed) {
    return (rng_key){.hi = (uint32_t)(seed >> 32), .lo = (uint32_t)seed};
}

rng_key rng_fold_in(rng_key key, uint32_t data) {
    uint32_t o[2];
    threefry2x32(key, 0, data, o);
    return (rng_key){o[0], o[1]};
}

rng_key rng_split(rng_key key, uint32_t i) {
    return rng_fold_in(key, i);
}

rng_key rng_split_legacy(rng_key key, uint32_t n, uint32_t i) {
    /* Counters 0..2n-1 hashed as pairs (j, n + j); outputs laid out as
     * [y0_0..y0_{n-1}, y1_0..y1_{n-1}] and read two at a time. */
    uint32_t w[2];
    for (int half = 0; half < 2; half++) {
        uint32_t flat = 2 * i + (uint32_t)half; /* index into the 2n outputs */
        uint32_t j = flat < n ? flat : flat - n, o[2];
        threefry2x32(key, j, n + j, o);
        w[half] = flat < n ? o[0] : o[1];
    }
    return (rng_key){w[0], w[1]};
}

uint32_t rng_bits32(rng_key key, uint64_t i) {
    uint32_t o[2];
    threefry2x32(key, (uint32_t)(i >> 32), (uint32_t)i, o);
    return o[0] ^ o[1];
}

uint64_t rng_bits64(rng_key key, uint64_t i) {
    uint32_t o[2];
    threefry2x32(key, (uint32_t)(i >> 32), (uint32_t)i, o);
    return ((uint64_t)o[0] << 32) | o[1];
}

float rng_uniform_f32(rng_key key, uint64_t i) {
    union {
        uint32_t u;
        float f;
    } v = {.u = (rng_bits32(key, i) >> 9) | 0x3F800000u};
    return v.f - 1.0f;
}

double rng_uniform_f64(rng_key key, uint64_t i) {
    union {
        uint64_t u;
        double d;
    } v = {.u = (rng_bits64(key, i) >> 12) | 0x3FF0000000000000ULL};
    return v.d - 1.0;
}

void rng_normal_fill(rng_key key, double *out, size_t n) {
    simd_ops_get()->normal_fill(key, 0, out, n);
}

double rng_normal(rng_key key, uint64_t i) {
    double z;
    simd_ops_get()->normal_fill(key, i, &z, 1);
    return z;
}

void rng_index_fill(rng_key key, uint64_t first, uint32_t range, uint32_t *out, size_t n) {
    if (range <= INT32_MAX) {
        simd_ops_get()->index_fill(key, first, range, out, n);
        return;
    }
    for (size_t i = 0; i < n; i++) { /* the same map, without the int32 shortcut */
        double u = (double)(rng_bits64(key, first + i) >> 12) * 0x1p-52;
        out[i] = (uint32_t)(u * (double)range);
    }
}

double normal_quantile(double p) {
    if (!(p > 0.0 && p < 1.0)) return p == 0.0 ? -INFINITY : (p == 1.0 ? INFINITY : NAN);
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    double x, q, r;
    if (p < 0.02425 || p > 1 - 0.02425) {
        q = sqrt(-2 * log(p < 0.5 ? p : 1 - p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        if (p > 0.5) x = -x;
    } else {
        q = p - 0.5;
        r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    /* One Halley step on Phi(x) - p, with Phi from erfc. */
    double e = 0.5 * erfc(-x / sqrt(2.0)) - p;
    double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}
