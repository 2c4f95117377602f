/* vmm/loader_bzimage.c - the Linux x86 boot protocol (bzImage), 64-bit entry.
 *
 * Reads and checks the setup header, loads the protected-mode kernel, builds
 * the zero page (struct boot_params) at LOADER_BOOT_INFO_GPA and the entry
 * state. Offsets are those of Documentation/arch/x86/boot.rst and
 * zero-page.rst.
 */
#include <inttypes.h>
#include <string.h>

#include "boot_x86.h"
#include "loader.h"
#include "loader_internal.h"

/* Setup header fields: offsets in the file and in the zero page alike. */
#define H_SETUP_SECTS 0x1f1
#define H_SYSSIZE 0x1f4
#define H_BOOT_FLAG 0x1fe
#define H_JUMP 0x200
#define H_HEADER 0x202
#define H_VERSION 0x206
#define H_TYPE_OF_LOADER 0x210
#define H_LOADFLAGS 0x211
#define H_RAMDISK_IMAGE 0x218
#define H_RAMDISK_SIZE 0x21c
#define H_CMD_LINE_PTR 0x228
#define H_INITRD_ADDR_MAX 0x22c
#define H_KERNEL_ALIGNMENT 0x230
#define H_RELOCATABLE 0x234
#define H_MIN_ALIGNMENT 0x235
#define H_XLOADFLAGS 0x236
#define H_CMDLINE_SIZE 0x238
#define H_PREF_ADDRESS 0x258
#define H_INIT_SIZE 0x260
/* Protocol 2.12's header runs through handover_offset (ends 0x268); the
 * zero page leaves room for it up to 0x290. */
#define H_MIN_END 0x268
#define H_MAX_END 0x290

/* Zero-page fields outside the setup header. */
#define ZP_EXT_RAMDISK_IMAGE 0x0c0
#define ZP_EXT_RAMDISK_SIZE 0x0c4
#define ZP_EXT_CMD_LINE_PTR 0x0c8
#define ZP_E820_ENTRIES 0x1e8
#define ZP_E820_TABLE 0x2d0
#define ZP_E820_MAX 128
#define ZP_SIZE 4096

#define LOADED_HIGH 0x01
#define XLF_KERNEL_64 0x01
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x02
#define MIN_PROTOCOL 0x020c

#define FAIL(...)                                         \
	do {                                              \
		errf(err, errlen, "bzImage: " __VA_ARGS__); \
		return GUEST_ERR_KERNEL_LOAD_FAILURE;     \
	} while (0)

struct bz {
	uint64_t setup_bytes, kernel_bytes, need, load;
	uint32_t hdr_end;
};

/* Check the header; work out where the kernel goes. */
static enum guest_error check(const struct guest_mem *gm, const struct kfile *kf,
                              const uint8_t *h, struct bz *bz, char *err, size_t errlen)
{
	if (le16_get(h + H_BOOT_FLAG) != 0xaa55)
		FAIL("bad boot_flag 0x%04x at 0x1fe (want 0xaa55)", le16_get(h + H_BOOT_FLAG));
	if (memcmp(h + H_HEADER, "HdrS", 4) != 0)
		FAIL("no \"HdrS\" magic at 0x202");
	uint16_t ver = le16_get(h + H_VERSION);
	if (ver < MIN_PROTOCOL)
		FAIL("boot protocol %u.%02u too old (need >= 2.12)", ver >> 8, ver & 0xff);
	bz->hdr_end = 0x202u + h[H_JUMP + 1];
	if (bz->hdr_end < H_MIN_END || bz->hdr_end > H_MAX_END)
		FAIL("setup header length byte at 0x201 puts its end at 0x%x, outside [0x%x, 0x%x]",
		     bz->hdr_end, H_MIN_END, H_MAX_END);
	if (kf->size < bz->hdr_end)
		FAIL("file truncated in the setup header (%" PRIu64 " bytes, header ends at 0x%x)",
		     kf->size, bz->hdr_end);
	if (!(h[H_LOADFLAGS] & LOADED_HIGH))
		FAIL("loadflags 0x%02x lacks LOADED_HIGH (zImage kernels are not supported)",
		     h[H_LOADFLAGS]);
	uint16_t xlf = le16_get(h + H_XLOADFLAGS);
	if (!(xlf & XLF_KERNEL_64))
		FAIL("no 64-bit entry point (xloadflags 0x%04x lacks XLF_KERNEL_64)", xlf);

	unsigned sects = h[H_SETUP_SECTS] ? h[H_SETUP_SECTS] : 4; /* 0 means 4 */
	bz->setup_bytes = (sects + 1ull) * 512;
	bz->kernel_bytes = (uint64_t)le32_get(h + H_SYSSIZE) * 16;
	if (bz->kernel_bytes == 0)
		FAIL("syssize is 0: no protected-mode kernel");
	if (kf->size < bz->setup_bytes || kf->size - bz->setup_bytes < bz->kernel_bytes)
		FAIL("file is %" PRIu64 " bytes, shorter than setup (%" PRIu64
		     " bytes, setup_sects %u) + syssize*16 (%" PRIu64 " bytes)",
		     kf->size, bz->setup_bytes, h[H_SETUP_SECTS], bz->kernel_bytes);

	uint64_t init = le32_get(h + H_INIT_SIZE);
	if (init < bz->kernel_bytes)
		FAIL("init_size 0x%" PRIx64 " is smaller than the kernel (syssize*16 = 0x%" PRIx64 ")",
		     init, bz->kernel_bytes);
	bz->need = init;

	bool reloc = h[H_RELOCATABLE] != 0;
	uint64_t align = le32_get(h + H_KERNEL_ALIGNMENT);
	if (reloc) {
		if (align == 0 || (align & (align - 1)) != 0)
			FAIL("kernel_alignment 0x%" PRIx64 " is not a power of two", align);
		if (h[H_MIN_ALIGNMENT] > 31)
			FAIL("min_alignment %u is absurd", h[H_MIN_ALIGNMENT]);
		uint64_t min_align = 1ull << h[H_MIN_ALIGNMENT];
		if (min_align > align)
			align = min_align;
	}
	uint64_t pref = le64_get(h + H_PREF_ADDRESS);
	if (pref == 0)
		pref = LOADER_KERNEL_MIN;
	uint64_t low_end = gm_low_end(gm);
	if (reloc) {
		uint64_t a = pref < LOADER_KERNEL_MIN ? LOADER_KERNEL_MIN : pref;
		/* Round up; an address near 2^64 cannot be RAM anyway. */
		a = a > UINT64_MAX - align ? UINT64_MAX & ~(align - 1) : (a + align - 1) & ~(align - 1);
		if (!gm_valid(gm, a, bz->need)) /* fall back to the lowest spot */
			a = (LOADER_KERNEL_MIN + align - 1) & ~(align - 1);
		bz->load = a;
	} else {
		if (pref < LOADER_KERNEL_MIN)
			FAIL("non-relocatable kernel wants pref_address 0x%" PRIx64 ", below 1 MiB",
			     pref);
		bz->load = pref;
	}
	if (!gm_valid(gm, bz->load, bz->need))
		FAIL("kernel needs init_size 0x%" PRIx64 " bytes at 0x%" PRIx64
		     " but guest RAM below 4 GiB ends at 0x%" PRIx64,
		     bz->need, bz->load, low_end);
	return GUEST_OK;
}

static enum guest_error zero_page(struct guest_mem *gm, const uint8_t *h, const struct bz *bz,
                                  uint64_t rd_addr, uint64_t rd_size, char *err,
                                  size_t errlen)
{
	uint8_t zp[ZP_SIZE];
	memset(zp, 0, sizeof(zp));
	/* The setup header as the file has it; the kernel reads its own fields. */
	memcpy(zp + H_SETUP_SECTS, h + H_SETUP_SECTS, bz->hdr_end - H_SETUP_SECTS);
	zp[H_TYPE_OF_LOADER] = 0xff; /* no assigned loader id */
	le32_put(zp + H_CMD_LINE_PTR, (uint32_t)LOADER_CMDLINE_GPA);
	le32_put(zp + ZP_EXT_CMD_LINE_PTR, 0);
	le32_put(zp + H_RAMDISK_IMAGE, (uint32_t)rd_addr);
	le32_put(zp + H_RAMDISK_SIZE, (uint32_t)rd_size);
	le32_put(zp + ZP_EXT_RAMDISK_IMAGE, (uint32_t)(rd_addr >> 32));
	le32_put(zp + ZP_EXT_RAMDISK_SIZE, (uint32_t)(rd_size >> 32));

	struct x86_e820 map[X86_E820_MAX];
	unsigned n = x86_e820_build(gm, map);
	for (unsigned i = 0; i < n && i < ZP_E820_MAX; i++) {
		uint8_t *e = zp + ZP_E820_TABLE + i * 20; /* packed: u64 addr, u64 size, u32 type */
		le64_put(e, map[i].addr);
		le64_put(e + 8, map[i].size);
		le32_put(e + 16, map[i].type);
	}
	zp[ZP_E820_ENTRIES] = (uint8_t)n;
	if (gm_write(gm, LOADER_BOOT_INFO_GPA, zp, sizeof(zp)) != 0)
		FAIL("zero page at 0x%llx is not guest RAM", LOADER_BOOT_INFO_GPA);
	return GUEST_OK;
}

enum guest_error load_bzimage(struct guest_mem *gm, const struct kfile *kf, int ramdisk_fd,
                              const char *cmdline, struct boot_info *bi, char *err,
                              size_t errlen)
{
	uint8_t h[H_MAX_END];
	memset(h, 0, sizeof(h));
	if (kf->size < H_VERSION + 2)
		FAIL("file truncated in the setup header (%" PRIu64 " bytes; need 0x%x to read the "
		     "protocol version)",
		     kf->size, H_VERSION + 2);
	if (!kf_read(kf, 0, h, kf->size < sizeof(h) ? kf->size : sizeof(h)))
		FAIL("reading the setup header failed");
	struct bz bz;
	enum guest_error e = check(gm, kf, h, &bz, err, errlen);
	if (e != GUEST_OK)
		return e;

	uint32_t cmax = le32_get(h + H_CMDLINE_SIZE);
	e = loader_put_cmdline(gm, cmdline, cmax, err, errlen);
	if (e != GUEST_OK)
		return e;

	if (!kf_read_to_guest(kf, bz.setup_bytes, gm, bz.load, bz.kernel_bytes))
		FAIL("reading the %" PRIu64 "-byte kernel to 0x%" PRIx64 " failed",
		     bz.kernel_bytes, bz.load);

	uint64_t rd_addr = 0, rd_size = 0;
	if (ramdisk_fd >= 0) {
		/* initrd_addr_max is the highest address the initrd may occupy. */
		uint64_t max_end = (uint64_t)le32_get(h + H_INITRD_ADDR_MAX) + 1;
		bool high = le16_get(h + H_XLOADFLAGS) & XLF_CAN_BE_LOADED_ABOVE_4G;
		e = loader_put_ramdisk(gm, ramdisk_fd, bz.load + bz.need, max_end, high,
		                       &rd_addr, &rd_size, err, errlen);
		if (e != GUEST_OK)
			return e;
	}
	e = zero_page(gm, h, &bz, rd_addr, rd_size, err, errlen);
	if (e != GUEST_OK)
		return e;
	if (x86_write_gdt(gm) != 0 || x86_write_page_tables(gm) != 0)
		FAIL("GDT or page tables do not fit in guest RAM");

	x86_regs_long_mode(&bi->bsp, bz.load + 0x200, LOADER_BOOT_INFO_GPA);
	bi->kernel_start = bz.load;
	bi->kernel_end = bz.load + bz.need;
	bi->initrd_start = rd_addr;
	bi->initrd_size = rd_size;
	bi->cmdline_gpa = LOADER_CMDLINE_GPA;
	return GUEST_OK;
}
