/* fidl/utf8.c - the UTF-8 check FIDL strings require (see wire.h). Written
 * from RFC 3629 section 4 (the well-formed byte sequences table). */
#include "wire.h"

bool fidl_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
		if (c >= 0xC2 && c <= 0xDF) {
			len = 2; /* C0, C1 would be overlong */
		} else if (c >= 0xE0 && c <= 0xEF) {
			len = 3;
			if (c == 0xE0)
				lo = 0xA0; /* overlong below U+0800 */
			else if (c == 0xED)
				hi = 0x9F; /* U+D800..DFFF are surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			if (c == 0xF0)
				lo = 0x90; /* overlong below U+10000 */
			else if (c == 0xF4)
				hi = 0x8F; /* above U+10FFFF */
		} else {
			return false; /* stray continuation byte, C0/C1, F5..FF */
		}
		if (n - i < len)
			return false; /* truncated */
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k < len; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return false;
		i += len;
	}
	return true;
}
