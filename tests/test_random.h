/* test_random.h - reference random numbers for tests that need draws from
 * a known distribution independent of the RNG under test: splitmix64, a
 * uniform on (0, 1) from its top 53 bits, a standard normal by Box-Muller
 * (one of the pair). Header-only: each test includes it once. */
#ifndef MCMCD_TEST_RANDOM_H
#define MCMCD_TEST_RANDOM_H

#include <math.h>
#include <stdint.h>

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform on the open interval (0, 1). */
static double uniform(uint64_t *s) {
    return ((double)(splitmix64(s) >> 11) + 0.5) * 0x1.0p-53;
}

static double std_normal(uint64_t *s) {
    double u1 = uniform(s), u2 = uniform(s);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

#endif
