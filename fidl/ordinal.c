/* fidl/ordinal.c - see ordinal.h. */
#include "ordinal.h"

#include <string.h>

#include "base/sha256.h"

uint64_t fidl_method_ordinal(const char *selector)
{
	uint8_t d[SHA256_DIGEST_LEN];
	sha256(selector, strlen(selector), d);
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | d[i];
	return v & 0x7fffffffffffffffull;
}
