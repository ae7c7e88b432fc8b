/* vmath.h - branch-free exp, log, log1p, softplus and sigmoid, in double
 * and float (no float log), for the link functions.
 *
 * Written so that GCC vectorises loops that call them: no calls, no errno,
 * no branches, bit casts through unions. Accuracy (tested against libm in
 * tests/test_vmath.c): exp within 0.85 ulp (AVX-512; 0.53 elsewhere) and
 * log within 1 ulp over their finite ranges, log1p within 2 ulp on [0, 1],
 * the only range the link uses. Included by the per-ISA kernel files, so
 * the same source becomes SSE2, AVX2 and AVX-512 code.
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

/* e^x (issue 15): x = (k/N) ln2 + r with |r| <= ln2/(2N), e^x = 2^(k div N)
 * 2^(j/N) (1 + r + r^2 q(r)), j = k mod N, q minimax for the relative
 * error. bench/exp_coeffs.py derives q and the table of 2^(j/N) (the bits
 * of the nearest double, then the rest relative to it, folded into the
 * polynomial) and prints them as below; bench/exp_f64.c timed each (N, q)
 * against the old degree-13 Taylor series on this project's AMD Zen 5:
 *
 *  - AVX-512: N = 2, 2^(j/2) by a select, q of degree 8 (e^r to degree 10;
 *    |r| <= 0.174). A table read is a gather, slow there: 0.53 x the old
 *    exp's time, where N = 64 takes 0.72 x.
 *  - AVX2 and the generic path: N = 64, q of degree 3 (e^r to degree 5;
 *    |r| <= 0.0055), gathered from a 1 KB table: 0.47 x (AVX2) and 0.28 x
 *    (SSE2) the old time, where N = 2 takes 0.59 x and 0.62 x.
 *
 * Measured against long-double libm (tests/test_vmath.c): at most 0.85 ulp
 * (AVX-512) and 0.53 ulp (AVX2, generic; the old series: 0.97) over
 * [-708.39, 709.78]. 2^(k div N) is added into the exponent field of the
 * result, which is normal on that whole range: no clamp and no second
 * factor. Below it 0 (no subnormals), above it inf, NaN stays NaN. */
#if defined(__AVX512F__)
#define VM_EXP_M 1
static const double vm_exp_q1[9] = {
    0x1.0000000000000p-1,  0x1.5555555555507p-3,  0x1.5555555555895p-5,
    0x1.1111111164628p-7,  0x1.6c16c16983f24p-10, 0x1.a019fa522bfc8p-13,
    0x1.a01a19671b3fdp-16, 0x1.7221127fbe0a5p-19, 0x1.27ad50f631ccep-22,
};
static const uint64_t vm_exp_tab1[4] = {
    0x3ff0000000000000ULL,
    0x0000000000000000ULL,
    0x3ff6a09e667f3bcdULL,
    0xbc93b3efbf5e2228ULL,
};
#define VM_EXP_Q vm_exp_q1
#else
#define VM_EXP_M 6
static const double vm_exp_q6[4] = {
    0x1.fffffffffdbd9p-2,
    0x1.5555555557677p-3,
    0x1.555573c31855bp-5,
    0x1.111108f357562p-7,
};
static const uint64_t vm_exp_tab6[128] = {
    0x3ff0000000000000ULL, 0x0000000000000000ULL, 0x3ff02c9a3e778061ULL, 0xbc7160139cd8dc5dULL,
    0x3ff059b0d3158574ULL, 0x3c8cd2523567f613ULL, 0x3ff0874518759bc8ULL, 0x3c60f74e61e6c861ULL,
    0x3ff0b5586cf9890fULL, 0x3c979aa65d837b6dULL, 0x3ff0e3ec32d3d1a2ULL, 0x3c3ebe3d702f9cd1ULL,
    0x3ff11301d0125b51ULL, 0xbc9556522a2fbd0eULL, 0x3ff1429aaea92de0ULL, 0xbc91c923b9d5f416ULL,
    0x3ff172b83c7d517bULL, 0xbc801b15eaa59348ULL, 0x3ff1a35beb6fcb75ULL, 0x3c8b898c3f1353bfULL,
    0x3ff1d4873168b9aaULL, 0x3c9aecf73e3a2f60ULL, 0x3ff2063b88628cd6ULL, 0x3c8a6f4144a6c38dULL,
    0x3ff2387a6e756238ULL, 0x3c968efde3a8a894ULL, 0x3ff26b4565e27cddULL, 0x3c80472b981fe7f2ULL,
    0x3ff29e9df51fdee1ULL, 0x3c82f7e16d09ab31ULL, 0x3ff2d285a6e4030bULL, 0x3c8b3782720c0ab4ULL,
    0x3ff306fe0a31b715ULL, 0x3c834d754db0abb6ULL, 0x3ff33c08b26416ffULL, 0x3c8fdd395dd3f84aULL,
    0x3ff371a7373aa9cbULL, 0xbc924aedcc4b5068ULL, 0x3ff3a7db34e59ff7ULL, 0xbc71d1e83e9436d2ULL,
    0x3ff3dea64c123422ULL, 0x3c859f48a72a4c6dULL, 0x3ff4160a21f72e2aULL, 0xbc58a78f4817895bULL,
    0x3ff44e086061892dULL, 0x3c4363ed60c2ac11ULL, 0x3ff486a2b5c13cd0ULL, 0x3c6ecce1daa10379ULL,
    0x3ff4bfdad5362a27ULL, 0x3c7690cebb7aafb0ULL, 0x3ff4f9b2769d2ca7ULL, 0xbc8f94340071a38eULL,
    0x3ff5342b569d4f82ULL, 0xbc78dec6bd0f385fULL, 0x3ff56f4736b527daULL, 0x3c93350518fdd78eULL,
    0x3ff5ab07dd485429ULL, 0x3c9063e1e21c5409ULL, 0x3ff5e76f15ad2148ULL, 0x3c9432e62b64c035ULL,
    0x3ff6247eb03a5585ULL, 0xbc8c33c53bef4da8ULL, 0x3ff6623882552225ULL, 0xbc93cedd78565858ULL,
    0x3ff6a09e667f3bcdULL, 0xbc93b3efbf5e2228ULL, 0x3ff6dfb23c651a2fULL, 0xbc6367efb86da9eeULL,
    0x3ff71f75e8ec5f74ULL, 0xbc781f647e5a3ecfULL, 0x3ff75feb564267c9ULL, 0xbc8619321e55e68aULL,
    0x3ff7a11473eb0187ULL, 0xbc7b32dcb94da51dULL, 0x3ff7e2f336cf4e62ULL, 0x3c65ebe1abd66c55ULL,
    0x3ff82589994cce13ULL, 0xbc9369b6f13b3734ULL, 0x3ff868d99b4492edULL, 0xbc94d450d872576eULL,
    0x3ff8ace5422aa0dbULL, 0x3c8db72fc1f0eab4ULL, 0x3ff8f1ae99157736ULL, 0x3c7bf68359f35f44ULL,
    0x3ff93737b0cdc5e5ULL, 0xbc5da9b88b6c1e29ULL, 0x3ff97d829fde4e50ULL, 0xbc92434322f4f9aaULL,
    0x3ff9c49182a3f090ULL, 0x3c71affc2b91ce27ULL, 0x3ffa0c667b5de565ULL, 0xbc87c50422622263ULL,
    0x3ffa5503b23e255dULL, 0xbc91bbd1d3bcbb15ULL, 0x3ffa9e6b5579fdbfULL, 0x3c8469846e735ab3ULL,
    0x3ffae89f995ad3adULL, 0x3c8c1a7792cb3387ULL, 0x3ffb33a2b84f15fbULL, 0xbc55c3d956dcaebaULL,
    0x3ffb7f76f2fb5e47ULL, 0xbc68d6f438ad9334ULL, 0x3ffbcc1e904bc1d2ULL, 0x3c74ffd70a5fddcdULL,
    0x3ffc199bdd85529cULL, 0x3c736eae30af0cb3ULL, 0x3ffc67f12e57d14bULL, 0x3c84e08fd10959acULL,
    0x3ffcb720dcef9069ULL, 0x3c676b2c6c921968ULL, 0x3ffd072d4a07897cULL, 0xbc8fad5d3ffffa6fULL,
    0x3ffd5818dcfba487ULL, 0x3c74a385a63d07a7ULL, 0x3ffda9e603db3285ULL, 0x3c8e5a50d5c192acULL,
    0x3ffdfc97337b9b5fULL, 0xbc82d52107b43e1fULL, 0x3ffe502ee78b3ff6ULL, 0x3c74b604603a88d3ULL,
    0x3ffea4afa2a490daULL, 0xbc8ff7128fd391f0ULL, 0x3ffefa1bee615a27ULL, 0x3c8ec3bc41aa2008ULL,
    0x3fff50765b6e4540ULL, 0x3c8a64a931d185eeULL, 0x3fffa7c1819e90d8ULL, 0x3c77893b4d91cd9dULL,
};
#define VM_EXP_Q vm_exp_q6
#endif

static inline double vm_exp(double x) {
    const double n = (double)(1 << VM_EXP_M), shifter = 0x1.8p52;
    const double ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;
    const int nq = (int)(sizeof VM_EXP_Q / sizeof VM_EXP_Q[0]);
    /* k = round(x N / ln2) in the low bits of kd's bits (x N/ln2 < 2^51) */
    double kd = x * (n * 1.4426950408889634074) + shifter;
    uint64_t ki = vm_bits(kd), j = ki & ((1u << VM_EXP_M) - 1), tb, rb;
    kd -= shifter;
    double r = (x - kd * (ln2hi / n)) - kd * (ln2lo / n);
#if VM_EXP_M == 1
    tb = j ? vm_exp_tab1[2] : vm_exp_tab1[0];
    rb = j ? vm_exp_tab1[3] : vm_exp_tab1[1];
#else
    tb = vm_exp_tab6[2 * j];
    rb = vm_exp_tab6[2 * j + 1];
#endif
    double t = vm_from_bits(tb), q = VM_EXP_Q[nq - 1];
#pragma GCC unroll 16
    for (int i = nq - 2; i >= 0; i--)
        q = q * r + VM_EXP_Q[i];
    double p = (r + vm_from_bits(rb)) + (r * r) * q; /* 2^(j/N) e^r / t - 1 */
    /* (ki >> M) << 52: k div N in the exponent field (mod 2^12, as it wraps) */
    double y = vm_from_bits(vm_bits(t + t * p) + ((ki >> VM_EXP_M) << 52));
    y = x < -708.39 ? 0.0 : y;
    y = x > 709.78 ? (double)INFINITY : y;
    return y;
}
#undef VM_EXP_Q

/* Natural log for finite x > 0 in the normal range (fdlibm's polynomial),
 * for the normal quantile (kernels.c). */
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

/* log(1 + t) for 0 <= t <= 1 (t = e^-|eta|, all the link needs), as
 * 2 atanh(s) = 2s (1 + z P(z)) with s = t / (2 + t) <= 1/3 and z = s^2;
 * P of degree 9 from bench/log1p_coeffs.py (0.064 ulp). s carries its
 * rounding, and that of 2 + t, as lo: exact where FMA contracts t - s u
 * (AVX2, AVX-512), only partly on the generic path. One division, where
 * log(1 + t) through vm_log took two: from libm 0.68 ulp with FMA and 1.11
 * generic, against 1.10-1.20 for that one, and softplus 13% faster
 * (issue 15). */
static inline double vm_log1p(double t) {
    static const double c[10] = {
        0x1.5555555555555p-2, 0x1.999999999a3ddp-3, 0x1.24924923d44c6p-3, 0x1.c71c727143318p-4,
        0x1.745cf0b0e03bdp-4, 0x1.3b18b294bebf9p-4, 0x1.10ac75dc602b1p-4, 0x1.eb905e8575054p-5,
        0x1.687a6e7c95176p-5, 0x1.4b0a26c5f2aefp-4,
    };
    double u = 2.0 + t, s = t / u, z = s * s, p = c[9];
#pragma GCC unroll 16
    for (int i = 8; i >= 0; i--)
        p = p * z + c[i];
    double eu = t - (u - 2.0);                    /* 2 + t = u + eu exactly */
    double rem = t - s * u;                       /* t - s u: exact with FMA */
    double lo = (rem - s * eu) * (0.5 - 0.5 * s); /* t / (2 + t) - s; 1/u = (1 - s)/2 */
    double s2 = s + s;
    return s2 + (s2 * (z * p) + (lo + lo));
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

/* log(1 + t) for 0 <= t <= 1, as t Q(t): Q of degree 10 from
 * bench/log1p_coeffs.py (0.036 ulp), evaluated by Horner. No division:
 * the float32 softplus takes 0.34 ns per element, where log(1 + t) with
 * fdlibm's log took 0.59 (issue 15). Over every float in [0, 1] it is
 * within 1.47 ulp of libm with FMA and 1.88 on the generic path (that
 * one: 1.17-1.23), under test_vmath's bound of 2. */
static inline float vmf_log1p(float t) {
    static const float c[11] = {
        0x1p+0f,        -0x1.fffff2p-2f, 0x1.555324p-2f, -0x1.ffb934p-3f,
        0x1.9742f8p-3f, -0x1.49797ap-3f, 0x1.fb00b2p-4f, -0x1.4f61d4p-4f,
        0x1.4fed04p-5f, -0x1.b02382p-7f, 0x1.04667ap-9f,
    };
    float p = c[10];
#pragma GCC unroll 16
    for (int i = 9; i >= 0; i--)
        p = p * t + c[i];
    return t * p;
}

static inline float vmf_softplus_t(float eta, float t) {
    return (eta > 0.0f ? eta : 0.0f) + vmf_log1p(t);
}

static inline float vmf_sigmoid_t(float eta, float t) {
    return (eta >= 0.0f ? 1.0f : t) / (1.0f + t);
}

#endif
