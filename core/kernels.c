/* kernels.c - the hot loops, compiled once per instruction set.
 *
 * CMake builds this file once per path with KERNEL_ISA set to generic,
 * avx2, avx512 or avx512_256 and the matching -m flags; each build defines
 * one simd_ops table named simd_ops_<isa>. The 512-bit avx512 build alone
 * also has KERNEL_GROUPS (the row groups, kernels_groups.h) and KERNEL_ZMM
 * (a minibatch's panels by transposes, kernels_transpose.h, and float32
 * panels two at a time, KPANEL_PAIRS in kernels_lr.h). Nothing here
 * allocates or branches per row.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "simd.h"
#include "threefry.h"
#include "vmath.h"
#ifdef KERNEL_ZMM
#include "kernels_transpose.h"
#endif

#ifndef KERNEL_ISA
#define KERNEL_ISA generic
#endif
#define KSTR2(x) #x
#define KSTR(x) KSTR2(x)
#define KTABLE2(isa) simd_ops_##isa
#define KTABLE(isa) KTABLE2(isa)

#define KT double
#define KSFX f64
#ifdef KERNEL_ZMM
#define KGATHER_PANEL gather_panel_zmm_f64
#define KGATHER_PANEL_MAX_D 8
#endif
#define KEXP_NEG vm_exp
#define KSIGMOID_T vm_sigmoid_t
#define KSOFTPLUS_T vm_softplus_t
#define KFABS fabs
#define KETA_MAX SIMD_POISSON_ETA_MAX_F64
#include "kernels_lr.h"
#ifdef KERNEL_GROUPS
#define GT double
#define GSFX f64
#define GSUF pd
#include "kernels_groups.h"
#undef GT
#undef GSFX
#undef GSUF
#endif
#undef KT
#undef KSFX
#undef KEXP_NEG
#undef KSIGMOID_T
#undef KSOFTPLUS_T
#undef KFABS
#undef KETA_MAX
#undef KGATHER_PANEL
#undef KGATHER_PANEL_MAX_D
#define KT float
#define KSFX f32
#ifdef KERNEL_ZMM
#define KGATHER_PANEL gather_panel_zmm_f32
#define KGATHER_PANEL_MAX_D 8
#define KPANEL_PAIRS
#endif
#define KEXP_NEG vmf_exp_neg /* exact to 0.1 ulp up to e^88 too: the Poisson mean needs e^60 */
#define KSIGMOID_T vmf_sigmoid_t
#define KSOFTPLUS_T vmf_softplus_t
#define KFABS fabsf
#define KETA_MAX SIMD_POISSON_ETA_MAX_F32
#include "kernels_lr.h"
#ifdef KERNEL_GROUPS
#define GT float
#define GSFX f32
#define GSUF ps
#include "kernels_groups.h"
#undef GT
#undef GSFX
#undef GSUF
#define KGROUPS_F32 glm_groups_f32
#define KGROUPS_F64 glm_groups_f64
#else
#define KGROUPS_F32 NULL
#define KGROUPS_F64 NULL
#endif
#undef KT
#undef KSFX
#undef KEXP_NEG
#undef KSIGMOID_T
#undef KSOFTPLUS_T
#undef KFABS
#undef KETA_MAX
#undef KGATHER_PANEL
#undef KGATHER_PANEL_MAX_D
#undef KPANEL_PAIRS

/* Acklam's rational approximation of the normal quantile, both branches
 * evaluated and one selected, so that the loop vectorises. */
static inline double acklam(double p) {
    const double a1 = -3.969683028665376e+01, a2 = 2.209460984245205e+02,
                 a3 = -2.759285104469687e+02, a4 = 1.383577518672690e+02,
                 a5 = -3.066479806614716e+01, a6 = 2.506628277459239e+00;
    const double b1 = -5.447609879822406e+01, b2 = 1.615858368580409e+02,
                 b3 = -1.556989798598866e+02, b4 = 6.680131188771972e+01,
                 b5 = -1.328068155288572e+01;
    const double c1 = -7.784894002430293e-03, c2 = -3.223964580411365e-01,
                 c3 = -2.400758277161838e+00, c4 = -2.549732539343734e+00,
                 c5 = 4.374664141464968e+00, c6 = 2.938163982698783e+00;
    const double d1 = 7.784695709041462e-03, d2 = 3.224671290700398e-01, d3 = 2.445134137142996e+00,
                 d4 = 3.754408661907416e+00;
    double q = p - 0.5, r = q * q;
    double xc = (((((a1 * r + a2) * r + a3) * r + a4) * r + a5) * r + a6) * q /
                (((((b1 * r + b2) * r + b3) * r + b4) * r + b5) * r + 1.0);
    double pt = p < 0.5 ? p : 1.0 - p;
    double u = sqrt(-2.0 * vm_log(pt));
    double xt = (((((c1 * u + c2) * u + c3) * u + c4) * u + c5) * u + c6) /
                ((((d1 * u + d2) * u + d3) * u + d4) * u + 1.0);
    xt = p < 0.5 ? xt : -xt;
    return pt < 0.02425 ? xt : xc;
}

enum { BITS_CHUNK = 256 };

/* Threefry vectors interleaved per call of tf_blocks16: as many as the
 * vector registers hold without spilling (32 zmm; 16 ymm hold two pairs of
 * 16 lanes, 16 xmm one). */
#if defined(__AVX512F__)
#define TF_NV 4
#elif defined(__AVX2__)
#define TF_NV 2
#else
#define TF_NV 1
#endif

/* tf_blocks16 on nv = ceil(m / 16) <= TF_NV vectors, nv a constant in each
 * case, for a remainder of m < 16 TF_NV counters: the lanes past m are
 * computed and dropped, as one vector costs what one lane does. */
static void tf_blocks16_upto(size_t m, rng_key key, uint64_t c, uint32_t *o0, uint32_t *o1) {
    uint32_t hi = (uint32_t)(c >> 32), lo = (uint32_t)c;
    switch ((m + 15) / 16) {
#if TF_NV >= 4
    case 4:
        tf_blocks16(4, key.hi, key.lo, hi, lo, o0, o1);
        return;
    case 3:
        tf_blocks16(3, key.hi, key.lo, hi, lo, o0, o1);
        return;
#endif
#if TF_NV >= 2
    case 2:
        tf_blocks16(2, key.hi, key.lo, hi, lo, o0, o1);
        return;
#endif
    default:
        tf_blocks16(1, key.hi, key.lo, hi, lo, o0, o1);
    }
}

/* bits[i] = rng_bits64(key, first + i) for i < m <= BITS_CHUNK: 16 TF_NV
 * counters at a time through tf_blocks16, then the remainder on as few
 * vectors as hold it; any block whose low words would wrap past 2^32 in a
 * loop the compiler vectorises. */
static void bits64_chunk(rng_key key, uint64_t first, uint64_t *bits, size_t m) {
    enum { W = 16 * TF_NV };
    _Alignas(64) uint32_t o0[W], o1[W];
    size_t b = 0;
    for (; m - b >= W; b += W) {
        uint64_t c = first + b;
        if ((uint32_t)c > UINT32_MAX - (uint32_t)(W - 1)) break;
        tf_blocks16(TF_NV, key.hi, key.lo, (uint32_t)(c >> 32), (uint32_t)c, o0, o1);
        for (size_t i = 0; i < W; i++)
            bits[b + i] = ((uint64_t)o0[i] << 32) | o1[i];
    }
    if (b < m && m - b < W && (uint32_t)(first + b) <= UINT32_MAX - (uint32_t)(m - b - 1)) {
        tf_blocks16_upto(m - b, key, first + b, o0, o1);
        for (size_t i = 0; i < m - b; i++)
            bits[b + i] = ((uint64_t)o0[i] << 32) | o1[i];
        return;
    }
#pragma omp simd
    for (size_t i = b; i < m; i++) {
        uint64_t c = first + i;
        uint32_t b1, b2;
        tf_block(key.hi, key.lo, (uint32_t)(c >> 32), (uint32_t)c, &b1, &b2);
        bits[i] = ((uint64_t)b1 << 32) | b2;
    }
}

/* (bits >> 12) / 2^52 in [0, 1), built from the bits so that AVX2, which
 * cannot convert int64 to double, vectorises. */
static inline double unit_from_bits(uint64_t bits) {
    return vm_from_bits((bits >> 12) | 0x3FF0000000000000ULL) - 1.0;
}

/* Doubles per remainder vector: a loop of exactly this many elements is
 * one AVX-512 vector, two AVX2 and four SSE2 ones, with no scalar tail. */
enum { TAIL_V = 8 };

/* out[i] = the standard normal of bits[i], i < m: the multiple of TAIL_V
 * first, then the rest padded to TAIL_V lanes (padding bits 0: a valid p)
 * so that a short fill (a step's d = 5 normals) is one vector pass rather
 * than a scalar loop. The same function of the bits on every lane. */
static void normals_from_bits(uint64_t *bits, double *out, size_t m) {
    size_t mv = m / TAIL_V * TAIL_V;
#pragma omp simd
    for (size_t i = 0; i < mv; i++) /* + 1/2^53: the open interval (0, 1) */
        out[i] = acklam(unit_from_bits(bits[i]) + 0x1p-53);
    if (mv == m) return;
    _Alignas(64) double z[TAIL_V];
    _Alignas(64) uint64_t b[TAIL_V] = {0};
    for (size_t i = mv; i < m; i++)
        b[i - mv] = bits[i];
#pragma omp simd aligned(z, b : 64)
    for (size_t i = 0; i < TAIL_V; i++)
        z[i] = acklam(unit_from_bits(b[i]) + 0x1p-53);
    for (size_t i = mv; i < m; i++)
        out[i] = z[i - mv];
}

static void normal_fill(rng_key key, uint64_t first, double *out, size_t n) {
    uint64_t bits[BITS_CHUNK];
    for (size_t base = 0; base < n; base += BITS_CHUNK) {
        size_t m = n - base < BITS_CHUNK ? n - base : BITS_CHUNK;
        bits64_chunk(key, first + base, bits, m);
        normals_from_bits(bits, out + base, m);
    }
}

/* SIMD_AHEAD step keys in one Threefry vector (rng_fold_in's counter is
 * (0, t): the lanes' low words wrap mod 2^32 as (uint32_t)t does), then
 * every (step, j) lane's bits under its own key, in a loop the compiler
 * vectorises, then the normals of all of them at once. */
static void normal_fill_ahead(rng_key kstep, uint32_t t0, uint64_t first, size_t d, rng_key *keys,
                              double *out) {
    enum { A = SIMD_AHEAD, M = SIMD_AHEAD * SIMD_AHEAD_MAX_D };
    _Static_assert(SIMD_AHEAD == 16, "one Threefry vector of step keys");
    _Alignas(64) uint32_t k0[A], k1[A], lk0[M], lk1[M], chi[M], clo[M];
    uint64_t bits[M];
    size_t m = A * d;
    if (d > SIMD_AHEAD_MAX_D) {
        /* more than the buffers hold: a step at a time (rng_fold_in's block) */
        for (uint32_t k = 0; k < A; k++) {
            tf_block(kstep.hi, kstep.lo, 0, t0 + k, &keys[k].hi, &keys[k].lo);
            normal_fill(keys[k], first, out + k * d, d);
        }
        return;
    }
    tf_blocks16(1, kstep.hi, kstep.lo, 0, t0, k0, k1);
    for (size_t k = 0; k < A; k++) {
        keys[k] = (rng_key){.hi = k0[k], .lo = k1[k]};
        for (size_t j = 0; j < d; j++) {
            uint64_t c = first + j;
            lk0[k * d + j] = k0[k], lk1[k * d + j] = k1[k];
            chi[k * d + j] = (uint32_t)(c >> 32), clo[k * d + j] = (uint32_t)c;
        }
    }
#pragma omp simd
    for (size_t i = 0; i < m; i++) {
        uint32_t b1, b2;
        tf_block(lk0[i], lk1[i], chi[i], clo[i], &b1, &b2);
        bits[i] = ((uint64_t)b1 << 32) | b2;
    }
    normals_from_bits(bits, out, m);
}

static void index_fill(rng_key key, uint64_t first, uint32_t range, uint32_t *out, size_t n) {
    uint64_t bits[BITS_CHUNK];
    double r = (double)range;
    for (size_t base = 0; base < n; base += BITS_CHUNK) {
        size_t m = n - base < BITS_CHUNK ? n - base : BITS_CHUNK;
        bits64_chunk(key, first + base, bits, m);
#pragma omp simd
        for (size_t i = 0; i < m; i++)
            out[base + i] = (uint32_t)(int32_t)(unit_from_bits(bits[i]) * r);
    }
}

/* y[i] = expr of v = x[i], for the accuracy tests and benchmarks. */
#define VMATH_LOOP(T, expr)                                                                        \
    _Pragma("omp simd") for (size_t i = 0; i < n; i++) {                                           \
        T v = x[i];                                                                                \
        y[i] = (expr);                                                                             \
    }                                                                                              \
    break

static void vmath_apply(simd_vmath_fn fn, const double *x, double *y, size_t n) {
    switch (fn) {
    case VMATH_EXP:
        VMATH_LOOP(double, vm_exp(v));
    case VMATH_LOG:
        VMATH_LOOP(double, vm_log(v));
    case VMATH_LOG1P:
        VMATH_LOOP(double, vm_log1p(v));
    case VMATH_SOFTPLUS:
        VMATH_LOOP(double, vm_softplus_t(v, vm_exp(-fabs(v))));
    case VMATH_SIGMOID:
        VMATH_LOOP(double, vm_sigmoid_t(v, vm_exp(-fabs(v))));
    case VMATH_NORMAL_QUANTILE:
        VMATH_LOOP(double, acklam(v));
    }
}

static void vmathf_apply(simd_vmath_fn fn, const float *x, float *y, size_t n) {
    switch (fn) {
    case VMATH_EXP:
        VMATH_LOOP(float, vmf_exp_neg(v));
    case VMATH_LOG1P:
        VMATH_LOOP(float, vmf_log1p(v));
    case VMATH_SOFTPLUS:
        VMATH_LOOP(float, vmf_softplus_t(v, vmf_exp_neg(-fabsf(v))));
    case VMATH_SIGMOID:
        VMATH_LOOP(float, vmf_sigmoid_t(v, vmf_exp_neg(-fabsf(v))));
    case VMATH_LOG: /* no float32 versions */
    case VMATH_NORMAL_QUANTILE:
        VMATH_LOOP(float, v *NAN);
    }
}
#undef VMATH_LOOP

const simd_ops KTABLE(KERNEL_ISA) = {
    .name = KSTR(KERNEL_ISA),
    .glm_panels_f64 = glm_panels_f64,
    .glm_panels_f32 = glm_panels_f32,
    .glm_rows_f64 = glm_rows_f64,
    .glm_rows_f32 = glm_rows_f32,
    .glm_groups_f64 = KGROUPS_F64,
    .glm_groups_f32 = KGROUPS_F32,
    .lr_panels_f64 = lr_panels_f64,
    .lr_panels_f32 = lr_panels_f32,
    .lr_rows_f64 = lr_rows_f64,
    .lr_rows_f32 = lr_rows_f32,
    .gather_panels_f64 = gather_panels_f64,
    .gather_panels_f32 = gather_panels_f32,
    .normal_fill = normal_fill,
    .normal_fill_ahead = normal_fill_ahead,
    .index_fill = index_fill,
    .vmath_apply = vmath_apply,
    .vmathf_apply = vmathf_apply,
};
