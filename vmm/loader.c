/* vmm/loader.c - loader_load dispatch and the pieces every format shares:
 * bounds-checked file reads, the command line, the ramdisk. */
#include "loader.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader_internal.h"

#define PAGE 4096ull

int kf_open(struct kfile *f, int fd, const char *what, char *err, size_t errlen)
{
	struct stat st;
	if (fd < 0) {
		errf(err, errlen, "%s: no file (fd %d)", what, fd);
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		errf(err, errlen, "%s: fstat failed: %s", what, strerror(errno));
		return -1;
	}
	/* Only a regular file has a size to check every read against. */
	if (!S_ISREG(st.st_mode)) {
		errf(err, errlen, "%s: not a regular file", what);
		return -1;
	}
	f->fd = fd;
	f->size = (uint64_t)st.st_size;
	return 0;
}

static bool read_full(int fd, uint64_t off, uint8_t *p, uint64_t len)
{
	while (len > 0) {
		size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
		ssize_t n = pread(fd, p, chunk, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false; /* error, or the file shrank under us */
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return true;
}

bool kf_read(const struct kfile *f, uint64_t off, void *buf, uint64_t len)
{
	if (off > f->size || len > f->size - off)
		return false;
	return read_full(f->fd, off, buf, len);
}

bool kf_read_to_guest(const struct kfile *f, uint64_t off, const struct guest_mem *gm,
                      uint64_t gpa, uint64_t len)
{
	if (len == 0)
		return true;
	if (off > f->size || len > f->size - off)
		return false;
	uint8_t *p = gm_span(gm, gpa, len);
	if (!p)
		return false;
	return read_full(f->fd, off, p, len);
}

enum guest_error loader_put_cmdline(const struct guest_mem *gm, const char *cmdline,
                                    uint64_t max_len, char *err, size_t errlen)
{
	if (!cmdline)
		cmdline = "";
	uint64_t len = strlen(cmdline);
	if (len > max_len) {
		errf(err, errlen,
		     "command line is %" PRIu64 " bytes; the kernel accepts at most %" PRIu64
		     " (cmdline_size)", len, max_len);
		return GUEST_ERR_KERNEL_LOAD_FAILURE;
	}
	if (len + 1 > LOADER_CMDLINE_MAX) {
		errf(err, errlen,
		     "command line is %" PRIu64 " bytes; the vmm's command line area holds %llu",
		     len, LOADER_CMDLINE_MAX - 1);
		return GUEST_ERR_KERNEL_LOAD_FAILURE;
	}
	if (gm_write(gm, LOADER_CMDLINE_GPA, cmdline, len + 1) != 0) {
		errf(err, errlen, "command line area at 0x%llx is not guest RAM", LOADER_CMDLINE_GPA);
		return GUEST_ERR_KERNEL_LOAD_FAILURE;
	}
	return GUEST_OK;
}

/* Highest page-aligned start for `size` bytes ending at or below end, not
 * below lo; false when there is no such start. */
static bool place_top(uint64_t lo, uint64_t end, uint64_t size, uint64_t *addr)
{
	if (size > end)
		return false;
	uint64_t a = (end - size) & ~(PAGE - 1);
	if (a < lo)
		return false;
	*addr = a;
	return true;
}

enum guest_error loader_put_ramdisk(const struct guest_mem *gm, int ramdisk_fd,
                                    uint64_t min_start, uint64_t max_end, bool high_ok,
                                    uint64_t *addr, uint64_t *size, char *err, size_t errlen)
{
	struct kfile rf;
	if (kf_open(&rf, ramdisk_fd, "ramdisk", err, errlen) != 0)
		return GUEST_ERR_KERNEL_LOAD_FAILURE;
	if (rf.size == 0) {
		errf(err, errlen, "ramdisk: file is empty");
		return GUEST_ERR_KERNEL_LOAD_FAILURE;
	}
	if (rf.size > gm->size) {
		errf(err, errlen,
		     "ramdisk is %" PRIu64 " bytes, larger than guest RAM (%" PRIu64 " bytes)",
		     rf.size, gm->size);
		return GUEST_ERR_KERNEL_LOAD_FAILURE;
	}
	uint64_t low_end = gm_low_end(gm);
	uint64_t end = max_end < low_end ? max_end : low_end;
	uint64_t lo = (min_start + PAGE - 1) & ~(PAGE - 1);
	uint64_t a;
	bool ok = place_top(lo, end, rf.size, &a) && gm_valid(gm, a, rf.size);
	if (!ok && high_ok && gm->nregions > 1) {
		const struct gm_region *h = &gm->regions[1];
		ok = place_top(h->gpa, h->gpa + h->len, rf.size, &a) && gm_valid(gm, a, rf.size);
	}
	if (!ok) {
		errf(err, errlen,
		     "ramdisk of %" PRIu64 " bytes does not fit between the kernel end 0x%" PRIx64
		     " and 0x%" PRIx64 " (guest RAM %" PRIu64 " bytes)",
		     rf.size, lo, end, gm->size);
		return GUEST_ERR_KERNEL_LOAD_FAILURE;
	}
	if (!kf_read_to_guest(&rf, 0, gm, a, rf.size)) {
		errf(err, errlen, "ramdisk: reading %" PRIu64 " bytes failed", rf.size);
		return GUEST_ERR_KERNEL_LOAD_FAILURE;
	}
	*addr = a;
	*size = rf.size;
	return GUEST_OK;
}

enum guest_error loader_load(struct guest_mem *gm, int kernel_fd, int ramdisk_fd,
                             const char *cmdline, unsigned cpus, struct boot_info *bi,
                             char *err, size_t errlen)
{
	memset(bi, 0, sizeof(*bi));
	if (err && errlen)
		err[0] = '\0';
	struct kfile kf;
	if (kf_open(&kf, kernel_fd, "kernel", err, errlen) != 0)
		return GUEST_ERR_KERNEL_LOAD_FAILURE;
	/* The fixed boot-data pages and the kernel minimum must be RAM. */
	if (!gm_valid(gm, 0, LOADER_KERNEL_MIN)) {
		errf(err, errlen, "guest RAM does not cover 0-1 MiB, where boot data goes");
		return GUEST_ERR_KERNEL_LOAD_FAILURE;
	}
	enum kernel_format f = loader_detect(kernel_fd);
	switch (f) {
	case KFMT_BZIMAGE:
		return load_bzimage(gm, &kf, ramdisk_fd, cmdline, bi, err, errlen);
	case KFMT_ELF_PVH:
	case KFMT_ELF:
		/* load_pvh re-parses and says precisely what is wrong or missing. */
		return load_pvh(gm, &kf, ramdisk_fd, cmdline, bi, err, errlen);
	case KFMT_ZBI:
		errf(err, errlen, "ZBI (Zircon) kernels are not supported by this vmm yet");
		return GUEST_ERR_KERNEL_LOAD_FAILURE;
	case KFMT_UNKNOWN:
	default:
		errf(err, errlen,
		     "kernel format not recognised (%" PRIu64 " bytes; not a bzImage, ELF or ZBI)",
		     kf.size);
		return GUEST_ERR_KERNEL_LOAD_FAILURE;
	}
}
