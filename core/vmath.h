/* vmath.h - branch-free exp, log, log1p, softplus and sigmoid for doubles.
 *
 * Written so that GCC vectorises loops that call them: no calls, no errno,
 * no branches, bit casts through unions. Accuracy (tested against libm in
 * tests/test_vmath.c): exp and log within 1 ulp over their finite ranges,
 * log1p within 2 ulp on [0, 1]. Included by the per-ISA kernel files, so the
 * same source becomes SSE2, AVX2 and AVX-512 code.
 */
#ifndef MCMCD_VMATH_H
#define MCMCD_VMATH_H

#include <math.h>
#include <stdint.h>

static inline uint64_t vm_bits(double x) {
    union {
        double d;
        uint64_t u;
    } v = {.d = x};
    return v.u;
}

static inline double vm_from_bits(uint64_t u) {
    union {
        uint64_t u;
        double d;
    } v = {.u = u};
    return v.d;
}

/* e^x for x in [-745, 709.78]; 0 below -708.39 (no subnormals), inf above. */
static inline double vm_exp(double x) {
    const double log2e = 1.4426950408889634074, shifter = 0x1.8p52;
    const double ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;
    double xc = x < -708.39 ? -708.39 : (x > 709.78 ? 709.78 : x);
    double kd = xc * log2e + shifter;
    uint64_t ki = vm_bits(kd);
    kd -= shifter;
    double r = (xc - kd * ln2hi) - kd * ln2lo;
    /* Taylor series to degree 13: |r| <= ln2/2 keeps the tail under 1 ulp. */
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r * r + r;
    /* 2^k from the low bits of kd (they hold k mod 4096); for x > 0 build
     * 2^(k-1) and double it, so that k = 1024 does not overflow the field. */
    uint64_t pos = xc > 0.0;
    uint64_t sb = (ki + 1023 - pos) << 52;
    double y = (1.0 + p) * vm_from_bits(sb) * (pos ? 2.0 : 1.0);
    y = x < -708.39 ? 0.0 : y;
    y = x > 709.78 ? (double)INFINITY : y;
    return y;
}

/* Natural log for finite x > 0 in the normal range (fdlibm's polynomial). */
static inline double vm_log(double x) {
    const double ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;
    const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01,
                 Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01,
                 Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
                 Lg7 = 1.479819860511658591e-01;
    uint64_t u = vm_bits(x);
    u += 0x3ff0000000000000ULL - 0x3fe6a09e00000000ULL;
    /* k = exponent - 1023, converted through the 2^52 trick: AVX2 has no
     * int64 -> double conversion and would not vectorise a cast. */
    double dk = vm_from_bits(0x4330000000000000ULL | (u >> 52)) - (0x1p52 + 1023.0);
    u = (u & 0x000fffffffffffffULL) + 0x3fe6a09e00000000ULL;
    double f = vm_from_bits(u) - 1.0;
    double hfsq = 0.5 * f * f;
    double s = f / (2.0 + f);
    double z = s * s, w = z * z;
    double t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
    double t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
    return s * (hfsq + t1 + t2) + dk * ln2lo - hfsq + f + dk * ln2hi;
}

/* log(1 + t) for t >= 0 (any finite t > -1 + 2^-52 in fact). */
static inline double vm_log1p(double t) {
    double u = 1.0 + t;
    double c = (u - 1.0) - t; /* rounding error of 1 + t */
    return vm_log(u) - c / u;
}

/* Bernoulli-logit pieces from one exp: t = e^-|eta|. */
static inline double vm_softplus_t(double eta, double t) {
    return (eta > 0.0 ? eta : 0.0) + vm_log1p(t);
}

static inline double vm_sigmoid_t(double eta, double t) {
    return (eta >= 0.0 ? 1.0 : t) / (1.0 + t);
}

/* --- float32: the same functions for float32 models, 16 lanes wide ---- */

static inline uint32_t vmf_bits(float x) {
    union {
        float f;
        uint32_t u;
    } v = {.f = x};
    return v.u;
}

static inline float vmf_from_bits(uint32_t u) {
    union {
        uint32_t u;
        float f;
    } v = {.u = u};
    return v.f;
}

/* e^x for x <= 0 (all the link needs): 0 below -87.33 (no subnormals). */
static inline float vmf_exp_neg(float x) {
    const float log2e = 1.44269504f, shifter = 0x1.8p23f;
    const float ln2hi = 0.693359375f, ln2lo = -2.12194440e-4f;
    float xc = x < -87.33f ? -87.33f : x;
    float kf = xc * log2e + shifter;
    uint32_t ki = vmf_bits(kf);
    kf -= shifter;
    float r = (xc - kf * ln2hi) - kf * ln2lo;
    /* Taylor to degree 7: |r| <= ln2/2 keeps the tail under 0.1 ulp */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r * r + r;
    float y = (1.0f + p) * vmf_from_bits((ki + 127u) << 23);
    return x < -87.33f ? 0.0f : y;
}

/* Natural log for finite normal x > 0 (fdlibm's float polynomial). */
static inline float vmf_log(float x) {
    const float ln2hi = 6.9313812256e-01f, ln2lo = 9.0580006145e-06f;
    const float Lg1 = 6.6666662693e-01f, Lg2 = 4.0000972152e-01f, Lg3 = 2.8498786688e-01f,
                Lg4 = 2.4279078841e-01f;
    uint32_t u = vmf_bits(x);
    u += 0x3f800000u - 0x3f3504f3u;
    float k = (float)(int32_t)((u >> 23) - 0x7f);
    u = (u & 0x007fffffu) + 0x3f3504f3u;
    float f = vmf_from_bits(u) - 1.0f;
    float hfsq = 0.5f * f * f;
    float s = f / (2.0f + f);
    float z = s * s, w = z * z;
    float r = z * (Lg1 + w * Lg3) + w * (Lg2 + w * Lg4);
    return s * (hfsq + r) + k * ln2lo - hfsq + f + k * ln2hi;
}

static inline float vmf_log1p(float t) {
    float u = 1.0f + t;
    float c = (u - 1.0f) - t;
    return vmf_log(u) - c / u;
}

static inline float vmf_softplus_t(float eta, float t) {
    return (eta > 0.0f ? eta : 0.0f) + vmf_log1p(t);
}

static inline float vmf_sigmoid_t(float eta, float t) {
    return (eta >= 0.0f ? 1.0f : t) / (1.0f + t);
}

#endif
