/* traces/trace_blob.c - zlib for trace blobs; see trace_internal.h.
 *
 * The writer compresses memory reads always and other blobs when that is
 * shorter; the reader inflates to the length the row recorded and nothing
 * else, so a blob that inflates to more or less is refused as corrupt.
 */
#include "traces/trace_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <zlib.h>

int trace_deflate(const uint8_t *src, size_t len, uint8_t **out, size_t *outlen)
{
	uLongf cap = compressBound((uLong)len);
	uint8_t *p = malloc(cap ? cap : 1);
	if (!p)
		return -ENOMEM;
	/* Level 9: a trace is written once and read many times. */
	if (compress2(p, &cap, src, (uLong)len, 9) != Z_OK) {
		free(p);
		return -EIO;
	}
	*out = p;
	*outlen = cap;
	return 0;
}

int trace_inflate_exact(const void *src, size_t len, size_t raw, uint8_t **out,
                        const char **why)
{
	uint8_t *p = malloc(raw ? raw : 1);
	if (!p) {
		*why = "out of memory";
		return -ENOMEM;
	}
	uLongf got = raw;
	int z = uncompress(p, &got, src, (uLong)len);
	if (z != Z_OK || got != raw) {
		free(p);
		*why = z == Z_OK ? "decompressed length differs from the recorded length"
		       : z == Z_BUF_ERROR ? "longer than the recorded length, or truncated"
		       : z == Z_DATA_ERROR ? "corrupt compressed data" : "zlib failure";
		return -EINVAL;
	}
	*out = p;
	return 0;
}
