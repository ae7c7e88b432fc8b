/* rng.h - counter-based random numbers: Threefry-2x32-20 with JAX's key layout.
 *
 * A key is the pair JAX shows as key_data: {hi, lo}. `rng_fold_in` and
 * `rng_split` follow JAX's partitionable mode (the default since JAX 0.5):
 * split(key, n)[i] == fold_in(key, i) == threefry(key, (0, i)).
 * Element i of a flat draw uses counter (hi32(i), lo32(i)), so any element of
 * any stream can be computed on its own, in any order, on any thread.
 */
#ifndef MCMCD_RNG_H
#define MCMCD_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct rng_key {
    uint32_t hi, lo;
} rng_key;

/* The raw block function: 20 rounds of Threefry-2x32 (Random123). */
void threefry2x32(rng_key key, uint32_t x0, uint32_t x1, uint32_t out[2]);

/* JAX's PRNGKey(seed) for a 64-bit seed: {seed >> 32, seed & 0xffffffff}. */
rng_key rng_key_from_seed(uint64_t seed);
rng_key rng_fold_in(rng_key key, uint32_t data);
rng_key rng_split(rng_key key, uint32_t i); /* split(key, n)[i], any n > i */
/* Legacy JAX (<= 0.4) split(key, n)[i], kept for users of old key streams. */
rng_key rng_split_legacy(rng_key key, uint32_t n, uint32_t i);

/* Element i of JAX's partitionable random_bits, 32 and 64 bits wide. */
uint32_t rng_bits32(rng_key key, uint64_t i);
uint64_t rng_bits64(rng_key key, uint64_t i);

/* JAX's uniform: float32 from bits32, float64 from bits64, in [0, 1). */
float rng_uniform_f32(rng_key key, uint64_t i);
double rng_uniform_f64(rng_key key, uint64_t i);

/* out[0..n) = standard normal draws: element i takes b = rng_bits64(key, i),
 * p = ((b >> 12) + 1/2) / 2^52 in (0, 1), and the normal quantile of p
 * (Acklam's rational approximation, relative error < 1.2e-9). Vectorised. */
void rng_normal_fill(rng_key key, double *out, size_t n);
double rng_normal(rng_key key, uint64_t i);

/* out[i] = index uniform on [0, range) from rng_bits64(key, first + i):
 * (int)(u * range) with u = (bits >> 12) / 2^52, so no index is more likely
 * than another by more than range / 2^52. Independent draws, so with
 * replacement. Vectorised for range below 2^31. */
void rng_index_fill(rng_key key, uint64_t first, uint32_t range, uint32_t *out, size_t n);

/* The standard normal quantile to full double precision (Acklam, then one
 * Halley step with erfc); for diagnostics, not for the hot loop. */
double normal_quantile(double p);

#endif
