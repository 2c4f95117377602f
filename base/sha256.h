/* base/sha256.h - SHA-256 (FIPS 180-4), used to compute FIDL method ordinals.
 *
 * Owns: a one-shot and an incremental SHA-256. libc has none, and the
 * algorithm is small and fully specified, so it lives here rather than
 * pulling in a crypto library for one hash of a short name.
 */
#ifndef BASE_SHA256_H
#define BASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32

struct sha256_ctx {
	uint32_t h[8];
	uint64_t total;     /* bytes hashed so far */
	uint8_t block[64];
	size_t used;        /* bytes waiting in block */
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN]);
void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN]);

#endif
