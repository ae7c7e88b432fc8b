/* sha256.h - SHA-256 (FIPS 180-4): an incremental hash and a hex helper.
 *
 *   sha256_ctx c;
 *   sha256_init(&c);
 *   sha256_update(&c, part1, len1);      any number of times, any split
 *   sha256_final(&c, digest);            32 bytes; c must be re-initialised
 *
 * The context is a plain value: no allocation, nothing to free. */
#ifndef MCMCD_SHA256_H
#define MCMCD_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN 64 /* characters, without the terminating NUL */

typedef struct sha256_ctx {
    uint32_t state[8];
    uint64_t total;    /* bytes hashed so far */
    uint8_t block[64]; /* a partial block waiting for more input */
    size_t block_used;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, uint8_t digest[SHA256_DIGEST_LEN]);

/* The digest of one buffer, in one call. */
void sha256(const void *data, size_t len, uint8_t digest[SHA256_DIGEST_LEN]);

/* Writes the first nbytes of digest as 2 * nbytes lowercase hex characters
 * and a NUL into hex (which holds 2 * nbytes + 1). */
void sha256_hex(const uint8_t *digest, size_t nbytes, char *hex);

#endif
