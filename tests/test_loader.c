/* tests/test_loader.c - the kernel loaders: a real Debian bzImage (fetched by
 * scripts/fetch-kernel.sh), malformed variants derived from its header, and
 * small PVH ELF images built here. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"
#include "vmm/boot_x86.h"
#include "vmm/loader.h"

#define MiB (1024ull * 1024)

/* ---- helpers ---- */

static int memfd_with(const void *buf, size_t len)
{
	int fd = memfd_create("t", MFD_CLOEXEC);
	assert_true(fd >= 0);
	if (len)
		assert_int_equal(write(fd, buf, len), (ssize_t)len);
	return fd;
}

/* A sparse file of `len` bytes with a marker at the start. */
static int sparse_fd(uint64_t len)
{
	int fd = memfd_create("rd", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)len), 0);
	return fd;
}

static uint16_t g16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t g32(const uint8_t *p) { return g16(p) | (uint32_t)g16(p + 2) << 16; }
static uint64_t g64(const uint8_t *p) { return g32(p) | (uint64_t)g32(p + 4) << 32; }
static void s16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void s32(uint8_t *p, uint32_t v) { s16(p, (uint16_t)v); s16(p + 2, (uint16_t)(v >> 16)); }
static void s64(uint8_t *p, uint64_t v) { s32(p, (uint32_t)v); s32(p + 4, (uint32_t)(v >> 32)); }

struct result {
	enum guest_error e;
	char err[512];
	struct boot_info bi;
};

static struct result load_buf(struct guest_mem *gm, const void *buf, size_t len, int rd_fd,
                              const char *cmdline)
{
	struct result r;
	memset(&r, 0, sizeof(r));
	int fd = memfd_with(buf, len);
	r.e = loader_load(gm, fd, rd_fd, cmdline, 1, &r.bi, r.err, sizeof(r.err));
	close(fd);
	return r;
}

/* Load buf into a fresh guest of mem bytes; expect failure naming `want`. */
static void expect_fail_mem(const void *buf, size_t len, uint64_t mem, int rd_fd,
                            const char *cmdline, const char *want)
{
	struct guest_mem gm;
	assert_int_equal(gm_create(&gm, mem), 0);
	struct result r = load_buf(&gm, buf, len, rd_fd, cmdline);
	gm_destroy(&gm);
	if (r.e != GUEST_ERR_KERNEL_LOAD_FAILURE || !strstr(r.err, want))
		fail_msg("want KERNEL_LOAD_FAILURE with \"%s\", got %s: \"%s\"", want,
		         guest_error_name(r.e), r.err);
}

static void expect_fail(const void *buf, size_t len, const char *want)
{
	expect_fail_mem(buf, len, 256 * MiB, -1, "console=ttyS0", want);
}

/* Walk the guest's 4-level page tables (2 MiB leaves). */
static uint64_t translate(const struct guest_mem *gm, uint64_t cr3, uint64_t va)
{
	uint64_t e;
	assert_int_equal(gm_read(gm, cr3 + ((va >> 39) & 511) * 8, &e, 8), 0);
	assert_true(e & 1);
	assert_int_equal(gm_read(gm, (e & ~0xfffull) + ((va >> 30) & 511) * 8, &e, 8), 0);
	assert_true(e & 1);
	assert_int_equal(gm_read(gm, (e & ~0xfffull) + ((va >> 21) & 511) * 8, &e, 8), 0);
	assert_true(e & 1);
	assert_true(e & 0x80);
	return (e & ~0x1fffffull & 0xffffffffffull) | (va & 0x1fffff);
}

/* ---- the real bzImage ---- */

static uint8_t *kimg;
static size_t klen;

/* scripts/fetch-kernel.sh writes to $B/cache (make check passes B). */
static void cache_path(char *out, size_t len, const char *name)
{
	const char *b = getenv("B");
	snprintf(out, len, "%s/cache/%s", b && *b ? b : "build", name);
}

static int read_kernel(void **state)
{
	(void)state;
	char path[512];
	const char *p = getenv("VMM_TEST_BZIMAGE");
	if (!p || !*p) {
		cache_path(path, sizeof(path), "vmlinuz");
		p = path;
	}
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* each bzImage test reports it */
	off_t n = lseek(fd, 0, SEEK_END);
	if (n > 0) {
		kimg = malloc((size_t)n);
		if (kimg && pread(fd, kimg, (size_t)n, 0) == n)
			klen = (size_t)n;
	}
	close(fd);
	return 0;
}

static int free_kernel(void **state)
{
	(void)state;
	free(kimg);
	return 0;
}

/* Fail (not skip) when the kernel is missing, unless fetch-kernel.sh recorded
 * why apt could not get one. */
static void need_kernel(void)
{
	if (klen)
		return;
	char why[512] = "";
	char path[512];
	cache_path(path, sizeof(path), "vmlinuz.unavailable");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, why, sizeof(why) - 1);
		close(fd);
		if (n > 0) {
			why[n] = '\0';
			why[strcspn(why, "\n")] = '\0';
			SKIP_BECAUSE("no Debian bzImage: %s", why);
		}
	}
	cache_path(path, sizeof(path), "vmlinuz");
	fail_msg("no bzImage: set VMM_TEST_BZIMAGE or run scripts/fetch-kernel.sh "
	         "(make check does) to create %s", path);
}

static uint8_t *kcopy(void)
{
	need_kernel();
	uint8_t *c = malloc(klen);
	assert_non_null(c);
	memcpy(c, kimg, klen);
	return c;
}

static uint64_t setup_bytes(const uint8_t *k)
{
	unsigned s = k[0x1f1] ? k[0x1f1] : 4;
	return (s + 1ull) * 512;
}

static void test_bz_detect(void **state)
{
	(void)state;
	need_kernel();
	int fd = memfd_with(kimg, klen);
	assert_int_equal(loader_detect(fd), KFMT_BZIMAGE);
	assert_string_equal(kernel_format_name(KFMT_BZIMAGE), "bzImage");
	close(fd);
}

static void test_bz_load(void **state)
{
	(void)state;
	need_kernel();
	struct guest_mem gm;
	assert_int_equal(gm_create(&gm, 256 * MiB), 0);
	/* A ramdisk of odd size with a recognisable pattern. */
	size_t rdlen = MiB + 123;
	uint8_t *rd = malloc(rdlen);
	assert_non_null(rd);
	for (size_t i = 0; i < rdlen; i++)
		rd[i] = (uint8_t)(i * 7 + 3);
	int rfd = memfd_with(rd, rdlen);
	const char *cl = "console=ttyS0 root=/dev/vda rw";
	struct result r = load_buf(&gm, kimg, klen, rfd, cl);
	close(rfd);
	if (r.e != GUEST_OK)
		fail_msg("load failed: %s", r.err);

	uint8_t zp[4096];
	assert_int_equal(gm_read(&gm, LOADER_BOOT_INFO_GPA, zp, sizeof(zp)), 0);
	/* Setup header copied from the file. */
	unsigned hdr_end = 0x202u + kimg[0x201];
	assert_memory_equal(zp + 0x202, kimg + 0x202, 4);
	assert_int_equal(g16(zp + 0x206), g16(kimg + 0x206));
	assert_int_equal(g32(zp + 0x260), g32(kimg + 0x260));
	assert_true(hdr_end <= 0x290);
	assert_int_equal(zp[0x210], 0xff); /* type_of_loader */
	/* Command line. */
	assert_int_equal(g32(zp + 0x228), LOADER_CMDLINE_GPA);
	char got[64] = "";
	assert_int_equal(gm_read(&gm, g32(zp + 0x228), got, strlen(cl) + 1), 0);
	assert_string_equal(got, cl);
	assert_int_equal(r.bi.cmdline_gpa, LOADER_CMDLINE_GPA);

	/* Kernel at pref_address (16 MiB for Debian), bytes from the file. */
	uint64_t load = g64(kimg + 0x258);
	assert_int_equal(r.bi.kernel_start, load);
	assert_int_equal(r.bi.kernel_end, load + g32(kimg + 0x260));
	assert_int_equal(load % g32(kimg + 0x230), 0);
	assert_memory_equal(gm_span(&gm, load, 4096), kimg + setup_bytes(kimg), 4096);

	/* Ramdisk: page-aligned, above the kernel, as high as allowed, intact. */
	uint64_t ri = g32(zp + 0x218), rs = g32(zp + 0x21c);
	assert_int_equal(g32(zp + 0xc0), 0);
	assert_int_equal(g32(zp + 0xc4), 0);
	assert_int_equal(rs, rdlen);
	assert_int_equal(ri % 4096, 0);
	assert_true(ri >= r.bi.kernel_end);
	uint64_t top = 256 * MiB;
	if ((uint64_t)g32(kimg + 0x22c) + 1 < top)
		top = (uint64_t)g32(kimg + 0x22c) + 1;
	assert_true(ri + rs <= top);
	assert_true(ri + rs > top - 4096);
	assert_memory_equal(gm_span(&gm, ri, rs), rd, rdlen);
	assert_int_equal(r.bi.initrd_start, ri);
	assert_int_equal(r.bi.initrd_size, rs);
	free(rd);

	/* e820: sorted, non-overlapping, low RAM to the EBDA, reserved legacy areas,
	 * RAM from 1 MiB to the end. */
	unsigned n = zp[0x1e8];
	assert_int_equal(n, 4);
	uint64_t prev_end = 0, ram = 0;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *e = zp + 0x2d0 + i * 20;
		uint64_t a = g64(e), s = g64(e + 8);
		uint32_t t = g32(e + 16);
		assert_true(s > 0);
		assert_true(a >= prev_end);
		prev_end = a + s;
		assert_true(t == 1 || t == 2);
		if (t == 1)
			ram += s;
		if (a < 0x100000 && t == 1)
			assert_true(a + s <= 0x9fc00);
	}
	assert_int_equal(g64(zp + 0x2d0), 0);
	assert_int_equal(g64(zp + 0x2d0 + 8), 0x9fc00);
	assert_int_equal(g32(zp + 0x2d0 + 20 + 16), 2); /* EBDA reserved */
	assert_int_equal(ram, 256 * MiB - 0x60400);
	assert_int_equal(prev_end, 256 * MiB);

	/* 64-bit entry state. */
	const struct hv_regs *b = &r.bi.bsp;
	assert_int_equal(b->rip, load + 0x200);
	assert_int_equal(b->rsi, LOADER_BOOT_INFO_GPA);
	assert_int_equal(b->cr0 & 0x80000001u, 0x80000001u);
	assert_int_equal(b->cr4 & 0x20, 0x20);
	assert_int_equal(b->efer & 0x500, 0x500);
	assert_int_equal(b->rflags & 0x200, 0); /* interrupts off */
	assert_int_equal(b->cs.l, 1);
	assert_int_equal(b->cs.selector, LOADER_SEL_CODE64);
	assert_int_equal(b->ds.selector, LOADER_SEL_DATA);
	assert_int_equal(b->gdt_base, LOADER_GDT_GPA);
	/* GDT entries match the hidden segment state. */
	uint64_t cs_desc;
	assert_int_equal(gm_read(&gm, LOADER_GDT_GPA + LOADER_SEL_CODE64, &cs_desc, 8), 0);
	assert_true(cs_desc & (1ull << 53)); /* L */
	/* Page tables identity-map the kernel, the zero page and 4 GiB - 1. */
	assert_int_equal(translate(&gm, b->cr3, b->rip), b->rip);
	assert_int_equal(translate(&gm, b->cr3, r.bi.kernel_end - 1), r.bi.kernel_end - 1);
	assert_int_equal(translate(&gm, b->cr3, LOADER_BOOT_INFO_GPA), LOADER_BOOT_INFO_GPA);
	assert_int_equal(translate(&gm, b->cr3, 0xffffffffull), 0xffffffffull);
	/* Nothing written to the MP table page or the AP trampoline page. */
	uint8_t zero[0x400] = { 0 };
	assert_memory_equal(gm_span(&gm, 0x9fc00, 0x400), zero, 0x400);
	assert_memory_equal(gm_span(&gm, 0x8000, 0x400), zero, 0x400);
	gm_destroy(&gm);
}

/* Relocatable: when pref_address + init_size does not fit, load lower. */
static void test_bz_relocates_low(void **state)
{
	(void)state;
	need_kernel();
	uint64_t align = g32(kimg + 0x230);
	uint64_t need = g32(kimg + 0x260);
	uint64_t mem = ((g64(kimg + 0x258) + need) & ~(MiB - 1)); /* just short */
	struct guest_mem gm;
	assert_int_equal(gm_create(&gm, mem), 0);
	struct result r = load_buf(&gm, kimg, klen, -1, "");
	if (r.e != GUEST_OK)
		fail_msg("load failed: %s", r.err);
	assert_int_equal(r.bi.kernel_start, (MiB + align - 1) & ~(align - 1));
	assert_int_equal(r.bi.bsp.rip, r.bi.kernel_start + 0x200);
	gm_destroy(&gm);
	/* A wild pref_address on a relocatable kernel: the same fallback, and the
	 * round-up to kernel_alignment must not wrap. */
	uint8_t *k = kcopy();
	s64(k + 0x258, 0xfffffffffff00001ull);
	assert_int_equal(gm_create(&gm, 256 * MiB), 0);
	r = load_buf(&gm, k, klen, -1, "");
	assert_int_equal(r.e, GUEST_OK);
	assert_int_equal(r.bi.kernel_start, (MiB + align - 1) & ~(align - 1));
	gm_destroy(&gm);
	free(k);
}

/* initrd_addr_max caps the ramdisk even when RAM goes higher. */
static void test_bz_initrd_addr_max(void **state)
{
	(void)state;
	uint8_t *k = kcopy();
	s32(k + 0x22c, 128 * MiB - 1);
	struct guest_mem gm;
	assert_int_equal(gm_create(&gm, 256 * MiB), 0);
	int rfd = sparse_fd(3 * MiB);
	struct result r = load_buf(&gm, k, klen, rfd, "");
	close(rfd);
	assert_int_equal(r.e, GUEST_OK);
	assert_true(r.bi.initrd_start + r.bi.initrd_size <= 128 * MiB);
	assert_true(r.bi.initrd_start + r.bi.initrd_size > 128 * MiB - 4096);
	gm_destroy(&gm);
	free(k);
}

/* No room below initrd_addr_max: a kernel that says XLF_CAN_BE_LOADED_ABOVE_4G
 * gets the ramdisk above 4 GiB, with the high halves in ext_ramdisk_*. */
static void test_bz_ramdisk_above_4g(void **state)
{
	(void)state;
	uint8_t *k = kcopy();
	s32(k + 0x22c, 32 * MiB - 1); /* below the kernel's end */
	s16(k + 0x236, g16(k + 0x236) | 2);
	struct guest_mem gm;
	assert_int_equal(gm_create(&gm, GM_MMIO_HOLE_START + 16 * MiB), 0);
	int rfd = sparse_fd(MiB);
	struct result r = load_buf(&gm, k, klen, rfd, "");
	if (r.e != GUEST_OK)
		fail_msg("load failed: %s", r.err);
	assert_int_equal(r.bi.initrd_start, GM_HIGH_RAM_START + 15 * MiB);
	uint8_t zp[4096];
	assert_int_equal(gm_read(&gm, LOADER_BOOT_INFO_GPA, zp, sizeof(zp)), 0);
	assert_int_equal(g32(zp + 0x218), (uint32_t)(15 * MiB));
	assert_int_equal(g32(zp + 0xc0), 1); /* ext_ramdisk_image */
	assert_int_equal(g32(zp + 0x21c), MiB);
	assert_int_equal(g32(zp + 0xc4), 0);
	assert_int_equal(zp[0x1e8], 5); /* e820 includes the high RAM */
	gm_destroy(&gm);
	/* Without the flag it must stay low, and cannot. */
	s16(k + 0x236, g16(k + 0x236) & ~2u);
	expect_fail_mem(k, klen, GM_MMIO_HOLE_START + 16 * MiB, rfd, "",
	                "does not fit between the kernel end");
	close(rfd);
	free(k);
}

static void test_bz_truncated(void **state)
{
	(void)state;
	need_kernel();
	uint64_t sb = setup_bytes(kimg);
	expect_fail(kimg, 0, "not recognised");
	expect_fail(kimg, 0x1f0, "not recognised");
	expect_fail(kimg, 0x206, "truncated in the setup header");
	expect_fail(kimg, 0x220, "truncated in the setup header");
	expect_fail(kimg, 0x202u + kimg[0x201] - 1, "truncated in the setup header");
	expect_fail(kimg, 0x202u + kimg[0x201], "shorter than setup");
	expect_fail(kimg, sb, "shorter than setup");
	expect_fail(kimg, sb + 4096, "shorter than setup");
	expect_fail(kimg, klen - 1, "shorter than setup");
	/* setup_sects 0 means 4: the kernel then starts at 5 * 512. */
	uint8_t *k = kcopy();
	k[0x1f1] = 0;
	expect_fail(k, 5 * 512 + (uint64_t)g32(k + 0x1f4) * 16 - 1,
	            "setup (2560 bytes, setup_sects 0)");
	free(k);
}

#define MUTATE(stmt, want)                          \
	do {                                        \
		uint8_t *k = kcopy();               \
		stmt;                               \
		expect_fail(k, klen, want);         \
		free(k);                            \
	} while (0)

static void test_bz_bad_header_fields(void **state)
{
	(void)state;
	need_kernel();
	MUTATE(s16(k + 0x1fe, 0x55ab), "not recognised");
	MUTATE(memcpy(k + 0x202, "HdrT", 4), "not recognised");
	MUTATE(s16(k + 0x206, 0x020b), "boot protocol 2.11 too old");
	MUTATE(s16(k + 0x206, 0x0100), "too old");
	MUTATE(k[0x201] = 0x10, "outside");
	MUTATE(k[0x201] = 0xff, "outside");
	MUTATE(s16(k + 0x236, g16(k + 0x236) & ~1u), "XLF_KERNEL_64");
	MUTATE(k[0x211] &= (uint8_t)~1u, "LOADED_HIGH");
	MUTATE(k[0x1f1] = 255, "shorter than setup");
	MUTATE(s32(k + 0x1f4, 0xffffffffu), "shorter than setup");
	MUTATE(s32(k + 0x1f4, g32(k + 0x1f4) + 1), "shorter than setup");
	MUTATE(s32(k + 0x1f4, 0), "syssize is 0");
	MUTATE(s32(k + 0x260, 0x7fffffffu), "needs init_size");
	MUTATE(s32(k + 0x260, 300 * MiB), "needs init_size");
	MUTATE(s32(k + 0x260, 16), "smaller than the kernel");
	MUTATE(s32(k + 0x230, 3), "not a power of two");
	MUTATE(s32(k + 0x230, 0), "not a power of two");
	MUTATE(k[0x235] = 40, "min_alignment");
	MUTATE((k[0x234] = 0, s64(k + 0x258, 0x8000)), "below 1 MiB");
	MUTATE((k[0x234] = 0, s64(k + 0x258, 250 * MiB)), "needs init_size");
	MUTATE((k[0x234] = 0, s64(k + 0x258, 0xfffffffffff00000ull)), "needs init_size");
}

static void test_bz_small_ram(void **state)
{
	(void)state;
	need_kernel();
	expect_fail_mem(kimg, klen, 64 * MiB, -1, "", "needs init_size");
}

static void test_bz_cmdline_too_long(void **state)
{
	(void)state;
	need_kernel();
	uint32_t max = g32(kimg + 0x238);
	char *cl = malloc(max + 2);
	assert_non_null(cl);
	memset(cl, 'a', max + 1);
	cl[max + 1] = '\0';
	expect_fail_mem(kimg, klen, 256 * MiB, -1, cl, "cmdline_size");
	/* Exactly cmdline_size is fine. */
	cl[max] = '\0';
	struct guest_mem gm;
	assert_int_equal(gm_create(&gm, 256 * MiB), 0);
	struct result r = load_buf(&gm, kimg, klen, -1, cl);
	assert_int_equal(r.e, GUEST_OK);
	gm_destroy(&gm);
	free(cl);
}

static void test_bz_ramdisk_bad(void **state)
{
	(void)state;
	need_kernel();
	int fd = sparse_fd(300 * MiB);
	expect_fail_mem(kimg, klen, 256 * MiB, fd, "", "larger than guest RAM");
	close(fd);
	/* Fits in RAM, but not between the kernel's init_size and RAM end. */
	fd = sparse_fd(60 * MiB);
	expect_fail_mem(kimg, klen, 128 * MiB, fd, "", "does not fit between the kernel end");
	close(fd);
	fd = sparse_fd(0);
	expect_fail_mem(kimg, klen, 256 * MiB, fd, "", "ramdisk: file is empty");
	close(fd);
	int p[2];
	assert_int_equal(pipe(p), 0);
	expect_fail_mem(kimg, klen, 256 * MiB, p[0], "", "ramdisk: not a regular file");
	close(p[0]);
	close(p[1]);
}

/* ---- non-bzImage inputs ---- */

static void test_kernel_not_a_file(void **state)
{
	(void)state;
	struct guest_mem gm;
	assert_int_equal(gm_create(&gm, 16 * MiB), 0);
	struct boot_info bi;
	char err[256];
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(loader_load(&gm, p[0], -1, "", 1, &bi, err, sizeof(err)),
	                 GUEST_ERR_KERNEL_LOAD_FAILURE);
	assert_non_null(strstr(err, "kernel: not a regular file"));
	assert_int_equal(loader_detect(p[0]), KFMT_UNKNOWN);
	close(p[0]);
	close(p[1]);
	assert_int_equal(loader_load(&gm, -1, -1, "", 1, &bi, err, sizeof(err)),
	                 GUEST_ERR_KERNEL_LOAD_FAILURE);
	assert_non_null(strstr(err, "kernel: no file"));
	gm_destroy(&gm);
}

static void test_unknown_and_zbi(void **state)
{
	(void)state;
	uint8_t junk[4096];
	memset(junk, 0x5a, sizeof(junk));
	int fd = memfd_with(junk, sizeof(junk));
	assert_int_equal(loader_detect(fd), KFMT_UNKNOWN);
	close(fd);
	expect_fail(junk, sizeof(junk), "not recognised");

	uint8_t zbi[64];
	memset(zbi, 0, sizeof(zbi));
	s32(zbi, 0x544f4f42u);       /* ZBI_TYPE_CONTAINER "BOOT" */
	s32(zbi + 8, 0x868cf7e6u);   /* ZBI_CONTAINER_MAGIC */
	s32(zbi + 12, 0x00010000u);  /* ZBI_FLAGS_VERSION */
	s32(zbi + 24, 0xb5781729u);  /* ZBI_ITEM_MAGIC */
	fd = memfd_with(zbi, sizeof(zbi));
	assert_int_equal(loader_detect(fd), KFMT_ZBI);
	close(fd);
	expect_fail(zbi, sizeof(zbi), "ZBI (Zircon) kernels are not supported by this vmm yet");
	s32(zbi + 24, 0);
	fd = memfd_with(zbi, sizeof(zbi));
	assert_int_equal(loader_detect(fd), KFMT_UNKNOWN);
	close(fd);
}

static void test_guest_ram_too_small_for_boot_data(void **state)
{
	(void)state;
	uint8_t junk[16] = { 0 };
	expect_fail_mem(junk, sizeof(junk), 512 * 1024, -1, "", "does not cover 0-1 MiB");
}

/* ---- PVH ELF images built here ---- */

struct elfspec {
	bool is32;
	bool note;              /* include the PVH note */
	uint32_t descsz;        /* 4 or 8 (or bad) */
	uint32_t note_namesz;   /* 4 normally */
	uint64_t paddr, filesz, memsz, entry;
	bool second;            /* a second PT_LOAD */
	uint64_t paddr2, memsz2;
};

#define ELF_DATA_OFF 0x200
#define ELF_FILE_LEN 0x400

static struct elfspec good_spec(void)
{
	return (struct elfspec){ .note = true, .descsz = 4, .note_namesz = 4,
	                         .paddr = 0x200000, .filesz = 0x100, .memsz = 0x3000,
	                         .entry = 0x200010 };
}

/* File layout: ehdr, phdrs at its end, the note at 0x180, data at 0x200. */
static size_t build_elf(uint8_t *f, const struct elfspec *s)
{
	memset(f, 0, ELF_FILE_LEN);
	memcpy(f, "\x7f" "ELF", 4);
	f[4] = s->is32 ? 1 : 2;
	f[5] = 1;
	f[6] = 1;
	s16(f + 16, 2); /* ET_EXEC */
	s16(f + 18, s->is32 ? 3 : 62);
	s32(f + 20, 1);
	unsigned ehsize = s->is32 ? 52 : 64, phsize = s->is32 ? 32 : 56;
	unsigned phnum = 1 + (s->note ? 1 : 0) + (s->second ? 1 : 0);
	if (s->is32) {
		s32(f + 24, (uint32_t)s->entry);
		s32(f + 28, ehsize);
		s16(f + 40, (uint16_t)ehsize);
		s16(f + 42, (uint16_t)phsize);
		s16(f + 44, (uint16_t)phnum);
	} else {
		s64(f + 24, s->entry);
		s64(f + 32, ehsize);
		s16(f + 52, (uint16_t)ehsize);
		s16(f + 54, (uint16_t)phsize);
		s16(f + 56, (uint16_t)phnum);
	}
	uint8_t *ph = f + ehsize;
	/* note body */
	uint32_t note_len = 12 + ((s->note_namesz + 3) & ~3u) + ((s->descsz + 3) & ~3u);
	if (s->note) {
		uint8_t *n = f + 0x180;
		s32(n, s->note_namesz);
		s32(n + 4, s->descsz);
		s32(n + 8, 18);
		memcpy(n + 12, "Xen", 4);
		if (s->descsz == 8)
			s64(n + 16, s->entry);
		else
			s32(n + 16, (uint32_t)s->entry);
		if (note_len > 0x80)
			note_len = 0x80;
	}
	for (unsigned i = 0; i < 0x100; i++)
		f[ELF_DATA_OFF + i] = (uint8_t)(0xc0 + i);
	struct { uint32_t type; uint64_t off, paddr, filesz, memsz; } segs[3];
	unsigned k = 0;
	segs[k++] = (typeof(segs[0])){ 1, ELF_DATA_OFF, s->paddr, s->filesz, s->memsz };
	if (s->note)
		segs[k++] = (typeof(segs[0])){ 4, 0x180, 0, note_len, note_len };
	if (s->second)
		segs[k++] = (typeof(segs[0])){ 1, ELF_DATA_OFF, s->paddr2, 0x10, s->memsz2 };
	for (unsigned i = 0; i < k; i++, ph += phsize) {
		s32(ph, segs[i].type);
		if (s->is32) {
			s32(ph + 4, (uint32_t)segs[i].off);
			s32(ph + 8, (uint32_t)segs[i].paddr);
			s32(ph + 12, (uint32_t)segs[i].paddr);
			s32(ph + 16, (uint32_t)segs[i].filesz);
			s32(ph + 20, (uint32_t)segs[i].memsz);
		} else {
			s64(ph + 8, segs[i].off);
			s64(ph + 16, segs[i].paddr);
			s64(ph + 24, segs[i].paddr);
			s64(ph + 32, segs[i].filesz);
			s64(ph + 40, segs[i].memsz);
		}
	}
	return ELF_FILE_LEN;
}

static void check_pvh_ok(const struct elfspec *s)
{
	uint8_t f[ELF_FILE_LEN];
	size_t len = build_elf(f, s);
	int fd = memfd_with(f, len);
	assert_int_equal(loader_detect(fd), KFMT_ELF_PVH);
	close(fd);

	struct guest_mem gm;
	assert_int_equal(gm_create(&gm, 64 * MiB), 0);
	/* Dirty the bss so that zero-filling is visible. */
	assert_int_equal(gm_fill(&gm, s->paddr, 0xaa, s->memsz), 0);
	uint8_t rd[5000];
	for (size_t i = 0; i < sizeof(rd); i++)
		rd[i] = (uint8_t)i;
	int rfd = memfd_with(rd, sizeof(rd));
	struct result r = load_buf(&gm, f, len, rfd, "pvh cmdline");
	close(rfd);
	if (r.e != GUEST_OK)
		fail_msg("PVH load failed: %s", r.err);

	assert_memory_equal(gm_span(&gm, s->paddr, s->filesz), f + ELF_DATA_OFF, s->filesz);
	for (uint64_t i = s->filesz; i < s->memsz; i++)
		if (*(uint8_t *)gm_span(&gm, s->paddr + i, 1) != 0)
			fail_msg("bss byte 0x%llx not zeroed", (unsigned long long)i);
	assert_int_equal(r.bi.kernel_start, s->paddr);
	assert_int_equal(r.bi.kernel_end, s->paddr + s->memsz);

	uint8_t si[0x38];
	assert_int_equal(gm_read(&gm, LOADER_BOOT_INFO_GPA, si, sizeof(si)), 0);
	assert_int_equal(g32(si), 0x336ec578u);
	assert_int_equal(g32(si + 4), 1);
	assert_int_equal(g32(si + 12), 1); /* nr_modules */
	assert_int_equal(g64(si + 0x18), LOADER_CMDLINE_GPA);
	assert_string_equal((char *)gm_span(&gm, LOADER_CMDLINE_GPA, 12), "pvh cmdline");
	assert_int_equal(g64(si + 0x20), 0); /* rsdp */
	uint64_t ml = g64(si + 0x10);
	assert_int_equal(ml, LOADER_PVH_MODLIST_GPA);
	uint8_t mod[32];
	assert_int_equal(gm_read(&gm, ml, mod, sizeof(mod)), 0);
	uint64_t ra = g64(mod), rs = g64(mod + 8);
	assert_int_equal(rs, sizeof(rd));
	assert_int_equal(ra % 4096, 0);
	assert_true(ra >= r.bi.kernel_end);
	assert_true(ra + rs <= 64 * MiB && ra + rs > 64 * MiB - 4096);
	assert_memory_equal(gm_span(&gm, ra, rs), rd, sizeof(rd));
	/* memmap: E820 types, sorted, covering all RAM. */
	uint64_t mm = g64(si + 0x28);
	uint32_t n = g32(si + 0x30);
	assert_int_equal(mm, LOADER_PVH_MEMMAP_GPA);
	assert_int_equal(n, 4);
	uint64_t ram = 0, prev = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t e[24];
		assert_int_equal(gm_read(&gm, mm + i * 24, e, 24), 0);
		assert_true(g64(e) >= prev);
		prev = g64(e) + g64(e + 8);
		assert_true(g32(e + 16) == 1 || g32(e + 16) == 2);
		if (g32(e + 16) == 1)
			ram += g64(e + 8);
	}
	assert_int_equal(ram, 64 * MiB - 0x60400);

	const struct hv_regs *b = &r.bi.bsp;
	assert_int_equal(b->rip, s->entry);
	assert_int_equal(b->rbx, LOADER_BOOT_INFO_GPA);
	assert_int_equal(b->cr0, 1);
	assert_int_equal(b->cr4, 0);
	assert_int_equal(b->efer, 0);
	assert_int_equal(b->rflags & 0x20300, 0); /* VM, IF, TF clear */
	assert_int_equal(b->cs.db, 1);
	assert_int_equal(b->cs.l, 0);
	assert_int_equal(b->cs.base, 0);
	assert_int_equal(b->cs.limit, 0xffffffffu);
	assert_int_equal(b->ds.limit, 0xffffffffu);
	assert_int_equal(b->tr.type, 0xb);
	assert_int_equal(b->tr.limit, 0x67);
	gm_destroy(&gm);
}

static void test_pvh_elf64(void **state)
{
	(void)state;
	struct elfspec s = good_spec();
	check_pvh_ok(&s);
	s.descsz = 8; /* Linux's pointer-sized note */
	check_pvh_ok(&s);
}

static void test_pvh_elf32(void **state)
{
	(void)state;
	struct elfspec s = good_spec();
	s.is32 = true;
	check_pvh_ok(&s);
}

static void pvh_fail(const struct elfspec *s, size_t trunc, const char *want)
{
	uint8_t f[ELF_FILE_LEN];
	size_t len = build_elf(f, s);
	if (trunc)
		len = trunc;
	expect_fail_mem(f, len, 64 * MiB, -1, "", want);
}

static void test_pvh_no_note(void **state)
{
	(void)state;
	struct elfspec s = good_spec();
	s.note = false;
	uint8_t f[ELF_FILE_LEN];
	size_t len = build_elf(f, &s);
	int fd = memfd_with(f, len);
	assert_int_equal(loader_detect(fd), KFMT_ELF);
	close(fd);
	pvh_fail(&s, 0, "no PVH entry note");
}

static void test_pvh_truncated(void **state)
{
	(void)state;
	struct elfspec s = good_spec();
	pvh_fail(&s, 4, "truncated in e_ident");
	pvh_fail(&s, 15, "truncated in e_ident");
	pvh_fail(&s, 40, "truncated in the ELF header");
	pvh_fail(&s, 63, "truncated in the ELF header");
	pvh_fail(&s, 64 + 56, "program header table");
	pvh_fail(&s, 0x190, "runs past the end of the file"); /* in the note */
	pvh_fail(&s, ELF_DATA_OFF + 0x80, "runs past the end of the file"); /* in data */
	s.is32 = true;
	pvh_fail(&s, 50, "truncated in the ELF header");
	pvh_fail(&s, 52 + 40, "program header table");
}

static void test_pvh_bad_headers(void **state)
{
	(void)state;
	struct elfspec s = good_spec();
	uint8_t f[ELF_FILE_LEN];
	size_t len;
#define EDIT(stmt, want)                                             \
	do {                                                         \
		len = build_elf(f, &s);                              \
		stmt;                                                \
		expect_fail_mem(f, len, 64 * MiB, -1, "", want);     \
	} while (0)
	EDIT(f[4] = 3, "bad EI_CLASS");
	EDIT(f[5] = 2, "not little-endian");
	EDIT(s16(f + 16, 3), "not ET_EXEC");
	EDIT(s16(f + 18, 40), "e_machine");
	EDIT(s64(f + 32, 0x100000), "program header table");           /* phoff past EOF */
	EDIT(s64(f + 32, 0xffffffffffffff00ull), "program header table"); /* would wrap */
	EDIT(s16(f + 54, 20), "e_phentsize");
	EDIT(s16(f + 56, 0), "no program headers");
	EDIT(s16(f + 56, 0xffff), "program headers (at most");
	/* p_offset of the PT_LOAD beyond the file, and wrapping. */
	EDIT(s64(f + 64 + 8, 0xfffffffffffffff0ull), "runs past the end of the file");
	EDIT(s64(f + 64 + 32, 0x10000), "runs past the end of the file");
	/* Note: namesz running past the segment; odd descriptor size. */
	EDIT(s32(f + 0x180, 0xfffffff0u), "runs past its end");
	EDIT(s32(f + 0x184, 2), "2-byte descriptor");
#undef EDIT
}

static void test_pvh_bad_segments(void **state)
{
	(void)state;
	struct elfspec s = good_spec();
	s.filesz = 0x100;
	s.memsz = 0x80;
	s.entry = 0x200010;
	pvh_fail(&s, 0, "p_filesz 0x100 > p_memsz 0x80");

	s = good_spec();
	s.paddr = 63 * MiB;
	s.memsz = 2 * MiB;
	s.entry = s.paddr;
	pvh_fail(&s, 0, "outside guest RAM");
	s.paddr = 0xfffffffffffff000ull;
	s.memsz = 0x2000;
	pvh_fail(&s, 0, "outside guest RAM");

	s = good_spec();
	s.paddr = 0x10000;
	s.entry = 0x10010;
	pvh_fail(&s, 0, "below 1 MiB");

	s = good_spec();
	s.second = true;
	s.paddr2 = s.paddr + 0x1000;
	s.memsz2 = 0x1000;
	pvh_fail(&s, 0, "overlap");
	s.paddr2 = s.paddr - 0x800;
	pvh_fail(&s, 0, "overlap");
	s.paddr2 = 64 * MiB - 0x800;
	pvh_fail(&s, 0, "outside guest RAM");

	s = good_spec();
	s.entry = 0x900000;
	pvh_fail(&s, 0, "not inside any PT_LOAD");
	s.descsz = 8;
	s.entry = 0x100000000ull;
	pvh_fail(&s, 0, "above 4 GiB");

	s = good_spec();
	s.memsz = 0; /* nothing loadable */
	pvh_fail(&s, 0, "no loadable");
}

static void test_pvh_cmdline_and_ramdisk(void **state)
{
	(void)state;
	struct elfspec s = good_spec();
	uint8_t f[ELF_FILE_LEN];
	size_t len = build_elf(f, &s);
	char *cl = malloc(LOADER_CMDLINE_MAX + 1);
	assert_non_null(cl);
	memset(cl, 'x', LOADER_CMDLINE_MAX);
	cl[LOADER_CMDLINE_MAX] = '\0';
	expect_fail_mem(f, len, 64 * MiB, -1, cl, "command line");
	free(cl);
	int fd = sparse_fd(65 * MiB);
	expect_fail_mem(f, len, 64 * MiB, fd, "", "larger than guest RAM (67108864 bytes)");
	close(fd);
}

static void test_e820_high_ram(void **state)
{
	(void)state;
	struct guest_mem gm;
	assert_int_equal(gm_create(&gm, GM_MMIO_HOLE_START + 512 * MiB), 0);
	struct x86_e820 m[X86_E820_MAX];
	unsigned n = x86_e820_build(&gm, m);
	assert_int_equal(n, 5);
	assert_int_equal(m[0].addr, 0);
	assert_int_equal(m[0].size, 0x9fc00);
	assert_int_equal(m[1].type, E820_RESERVED);
	assert_int_equal(m[2].addr, 0xe0000);
	assert_int_equal(m[2].type, E820_RESERVED);
	assert_int_equal(m[3].addr, 0x100000);
	assert_int_equal(m[3].size, GM_MMIO_HOLE_START - 0x100000);
	assert_int_equal(m[4].addr, GM_HIGH_RAM_START);
	assert_int_equal(m[4].size, 512 * MiB);
	assert_int_equal(m[4].type, E820_RAM);
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bz_detect),
		cmocka_unit_test(test_bz_load),
		cmocka_unit_test(test_bz_relocates_low),
		cmocka_unit_test(test_bz_initrd_addr_max),
		cmocka_unit_test(test_bz_ramdisk_above_4g),
		cmocka_unit_test(test_bz_truncated),
		cmocka_unit_test(test_bz_bad_header_fields),
		cmocka_unit_test(test_bz_small_ram),
		cmocka_unit_test(test_bz_cmdline_too_long),
		cmocka_unit_test(test_bz_ramdisk_bad),
		cmocka_unit_test(test_kernel_not_a_file),
		cmocka_unit_test(test_unknown_and_zbi),
		cmocka_unit_test(test_guest_ram_too_small_for_boot_data),
		cmocka_unit_test(test_pvh_elf64),
		cmocka_unit_test(test_pvh_elf32),
		cmocka_unit_test(test_pvh_no_note),
		cmocka_unit_test(test_pvh_truncated),
		cmocka_unit_test(test_pvh_bad_headers),
		cmocka_unit_test(test_pvh_bad_segments),
		cmocka_unit_test(test_pvh_cmdline_and_ramdisk),
		cmocka_unit_test(test_e820_high_ram),
	};
	return cmocka_run_group_tests(tests, read_kernel, free_kernel);
}
