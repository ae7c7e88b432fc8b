/* exp_f64_candidates.h - written by bench/exp_coeffs.py --bench-header: the
 * tables 2^(j/N) (hi bits, relative rest bits) and the minimax q of each
 * candidate of bench/exp_f64.c (c[0] multiplies r^2). Do not edit. */
static const uint64_t exp_tab1[4] = {
    0x3ff0000000000000ULL,
    0x0000000000000000ULL,
    0x3ff6a09e667f3bcdULL,
    0xbc93b3efbf5e2228ULL,
};
static const uint64_t exp_tab2[8] = {
    0x3ff0000000000000ULL, 0x0000000000000000ULL, 0x3ff306fe0a31b715ULL, 0x3c834d754db0abb6ULL,
    0x3ff6a09e667f3bcdULL, 0xbc93b3efbf5e2228ULL, 0x3ffae89f995ad3adULL, 0x3c8c1a7792cb3387ULL,
};
static const uint64_t exp_tab3[16] = {
    0x3ff0000000000000ULL, 0x0000000000000000ULL, 0x3ff172b83c7d517bULL, 0xbc801b15eaa59348ULL,
    0x3ff306fe0a31b715ULL, 0x3c834d754db0abb6ULL, 0x3ff4bfdad5362a27ULL, 0x3c7690cebb7aafb0ULL,
    0x3ff6a09e667f3bcdULL, 0xbc93b3efbf5e2228ULL, 0x3ff8ace5422aa0dbULL, 0x3c8db72fc1f0eab4ULL,
    0x3ffae89f995ad3adULL, 0x3c8c1a7792cb3387ULL, 0x3ffd5818dcfba487ULL, 0x3c74a385a63d07a7ULL,
};
static const uint64_t exp_tab4[32] = {
    0x3ff0000000000000ULL, 0x0000000000000000ULL, 0x3ff0b5586cf9890fULL, 0x3c979aa65d837b6dULL,
    0x3ff172b83c7d517bULL, 0xbc801b15eaa59348ULL, 0x3ff2387a6e756238ULL, 0x3c968efde3a8a894ULL,
    0x3ff306fe0a31b715ULL, 0x3c834d754db0abb6ULL, 0x3ff3dea64c123422ULL, 0x3c859f48a72a4c6dULL,
    0x3ff4bfdad5362a27ULL, 0x3c7690cebb7aafb0ULL, 0x3ff5ab07dd485429ULL, 0x3c9063e1e21c5409ULL,
    0x3ff6a09e667f3bcdULL, 0xbc93b3efbf5e2228ULL, 0x3ff7a11473eb0187ULL, 0xbc7b32dcb94da51dULL,
    0x3ff8ace5422aa0dbULL, 0x3c8db72fc1f0eab4ULL, 0x3ff9c49182a3f090ULL, 0x3c71affc2b91ce27ULL,
    0x3ffae89f995ad3adULL, 0x3c8c1a7792cb3387ULL, 0x3ffc199bdd85529cULL, 0x3c736eae30af0cb3ULL,
    0x3ffd5818dcfba487ULL, 0x3c74a385a63d07a7ULL, 0x3ffea4afa2a490daULL, 0xbc8ff7128fd391f0ULL,
};
static const uint64_t exp_tab6[128] = {
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
/* m = 0, degree 11: 3.620e-18 relative (0.033 ulp of 1), rounded 1.107e-17 (0.100) */
static const double exp_m0d11[10] = {
    0x1.000000000000ap-1,  0x1.55555555554fap-3,  0x1.555555555088cp-5,  0x1.1111111127b9dp-7,
    0x1.6c16c184266dep-10, 0x1.a01a012a69052p-13, 0x1.a0199a16df60cp-16, 0x1.71df253be4167p-19,
    0x1.28ad68a509e36p-22, 0x1.ad7f77fea9c92p-26,
};
/* m = 1, degree 9: 1.549e-17 relative (0.140 ulp of 1), rounded 1.582e-17 (0.142) */
static const double exp_m1d9[8] = {
    0x1.ffffffffffefcp-2,  0x1.55555555558a1p-3,  0x1.5555555600109p-5,  0x1.1111110f09f5ap-7,
    0x1.6c16b8dcf7bd0p-10, 0x1.a01a1852ccb8ep-13, 0x1.a06fe7a7e1a39p-16, 0x1.71a94637ac1e9p-19,
};
/* m = 1, degree 10: 1.425e-19 relative (0.001 ulp of 1), rounded 6.601e-19 (0.006) */
static const double exp_m1d10[9] = {
    0x1.0000000000000p-1,  0x1.5555555555507p-3,  0x1.5555555555895p-5,
    0x1.1111111164628p-7,  0x1.6c16c16983f24p-10, 0x1.a019fa522bfc8p-13,
    0x1.a01a19671b3fdp-16, 0x1.7221127fbe0a5p-19, 0x1.27ad50f631ccep-22,
};
/* m = 2, degree 8: 4.398e-18 relative (0.040 ulp of 1), rounded 4.465e-18 (0.040) */
static const double exp_m2d8[7] = {
    0x1.0000000000006p-1,  0x1.5555555557e65p-3,  0x1.5555555541be8p-5,  0x1.111110a19767ap-7,
    0x1.6c16c381d66f4p-10, 0x1.a030c55e83c78p-13, 0x1.a000b39b6928cp-16,
};
/* m = 3, degree 7: 2.844e-18 relative (0.026 ulp of 1), rounded 2.913e-18 (0.026) */
static const double exp_m3d7[6] = {
    0x1.000000000010bp-1, 0x1.5555555555132p-3,  0x1.55555548101f8p-5,
    0x1.11111125d6667p-7, 0x1.6c1cbd307a9d8p-10, 0x1.a01639ff667acp-13,
};
/* m = 4, degree 6: 1.160e-17 relative (0.105 ulp of 1), rounded 1.161e-17 (0.105) */
static const double exp_m4d6[5] = {
    0x1.fffffffffffb9p-2, 0x1.555555548f893p-3,  0x1.55555558fcb02p-5,
    0x1.11123aae4ff74p-7, 0x1.6c14c6e2f5d2ep-10,
};
/* m = 6, degree 5: 1.350e-18 relative (0.012 ulp of 1), rounded 1.350e-18 (0.012) */
static const double exp_m6d5[4] = {
    0x1.fffffffffdbd9p-2,
    0x1.5555555557677p-3,
    0x1.555573c31855bp-5,
    0x1.111108f357562p-7,
};
