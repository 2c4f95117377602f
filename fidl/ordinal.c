/* fidl/ordinal.c - see ordinal.h. */
#include "ordinal.h"

#include <string.h>

#include "base/byteorder.h"
#include "base/sha256.h"

uint64_t fidl_method_ordinal(const char *selector)
{
	uint8_t d[SHA256_DIGEST_LEN];
	sha256(selector, strlen(selector), d);
	return le64_get(d) & 0x7fffffffffffffffull;
}
