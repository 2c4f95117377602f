/* vmm/loader_detect.c - which kind of kernel a file is, from its bytes. */
#include <string.h>

#include "loader.h"
#include "loader_internal.h"

/* ZBI container header: type "BOOT", extra ZBI_CONTAINER_MAGIC, magic
 * ZBI_ITEM_MAGIC (Fuchsia's lib/zbi-format). */
#define ZBI_TYPE_CONTAINER 0x544f4f42u
#define ZBI_CONTAINER_MAGIC 0x868cf7e6u
#define ZBI_ITEM_MAGIC 0xb5781729u

const char *kernel_format_name(enum kernel_format f)
{
	switch (f) {
	case KFMT_BZIMAGE: return "bzImage";
	case KFMT_ELF_PVH: return "PVH ELF";
	case KFMT_ELF: return "ELF (no PVH note)";
	case KFMT_ZBI: return "ZBI";
	case KFMT_UNKNOWN:
	default: return "unknown";
	}
}

enum kernel_format loader_detect(int fd)
{
	struct kfile kf;
	if (kf_open(&kf, fd, "kernel", NULL, 0) != 0)
		return KFMT_UNKNOWN;
	uint8_t h[0x206];
	memset(h, 0, sizeof(h));
	/* Read what there is; short files simply match nothing that needs more. */
	uint64_t n = kf.size < sizeof(h) ? kf.size : sizeof(h);
	if (n > 0 && !kf_read(&kf, 0, h, n))
		return KFMT_UNKNOWN;
	if (n >= 0x206 && le16_get(h + 0x1fe) == 0xaa55 && memcmp(h + 0x202, "HdrS", 4) == 0)
		return KFMT_BZIMAGE;
	if (n >= 4 && memcmp(h, "\x7f" "ELF", 4) == 0) {
		uint32_t entry;
		return pvh_probe(&kf, &entry, NULL, 0) == 1 ? KFMT_ELF_PVH : KFMT_ELF;
	}
	if (n >= 32 && le32_get(h) == ZBI_TYPE_CONTAINER && le32_get(h + 8) == ZBI_CONTAINER_MAGIC &&
	    le32_get(h + 24) == ZBI_ITEM_MAGIC)
		return KFMT_ZBI;
	return KFMT_UNKNOWN;
}
