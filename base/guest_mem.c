/* base/guest_mem.c - see guest_mem.h. */
#include "base/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096ull

int gm_create(struct guest_mem *gm, uint64_t size)
{
	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
	if (size == 0 || size % PAGE != 0)
		return -EINVAL;
	int fd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(fd);
		return -e;
	}
	gm->fd = fd;
	gm->host = p;
	gm->size = size;
	uint64_t low = size < GM_MMIO_HOLE_START ? size : GM_MMIO_HOLE_START;
	gm->regions[0] = (struct gm_region){ .gpa = 0, .len = low, .offset = 0 };
	gm->nregions = 1;
	if (size > low) {
		gm->regions[1] = (struct gm_region){ .gpa = GM_HIGH_RAM_START,
		                                     .len = size - low, .offset = low };
		gm->nregions = 2;
	}
	return 0;
}

int gm_init_external(struct guest_mem *gm, uint8_t *host, uint64_t size,
                     const struct gm_region *regions, unsigned nregions)
{
	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
	if (!host || nregions == 0 || nregions > GM_MAX_REGIONS)
		return -EINVAL;
	for (unsigned i = 0; i < nregions; i++) {
		const struct gm_region *r = &regions[i];
		if (r->len == 0 || r->offset > size || r->len > size - r->offset ||
		    r->gpa + r->len < r->gpa)
			return -EINVAL;
		gm->regions[i] = *r;
	}
	gm->host = host;
	gm->size = size;
	gm->nregions = nregions;
	return 0;
}

void gm_destroy(struct guest_mem *gm)
{
	if (gm->fd >= 0) {
		munmap(gm->host, gm->size);
		close(gm->fd);
	}
	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
}

void *gm_span(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	if (!gm || !gm->host || len == 0)
		return NULL;
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		/* Written so that no sum can overflow: gpa >= r->gpa first. */
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off >= r->len || len > r->len - off)
			continue;
		return gm->host + r->offset + off;
	}
	return NULL;
}

bool gm_valid(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	return gm_span(gm, gpa, len) != NULL;
}

int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len)
{
	if (len == 0)
		return 0;
	void *p = gm_span(gm, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	if (gm->obs.read)
		gm->obs.read(gm->obs.ctx, gpa, dst, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	if (len == 0)
		return 0;
	void *p = gm_span(gm, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	if (gm->obs.write)
		gm->obs.write(gm->obs.ctx, gpa, src, len);
	return 0;
}

int gm_fill(const struct guest_mem *gm, uint64_t gpa, int byte, uint64_t len)
{
	if (len == 0)
		return 0;
	void *p = gm_span(gm, gpa, len);
	if (!p)
		return -EFAULT;
	memset(p, byte, len);
	if (gm->obs.write)
		gm->obs.write(gm->obs.ctx, gpa, p, len);
	return 0;
}

int gm_load16_acquire(const struct guest_mem *gm, uint64_t gpa, uint16_t *out)
{
	uint16_t *p = gm_span(gm, gpa, 2);
	if (!p)
		return -EFAULT;
	*out = __atomic_load_n(p, __ATOMIC_ACQUIRE);
	if (gm->obs.read)
		gm->obs.read(gm->obs.ctx, gpa, out, 2);
	return 0;
}

int gm_store16_release(const struct guest_mem *gm, uint64_t gpa, uint16_t v)
{
	uint16_t *p = gm_span(gm, gpa, 2);
	if (!p)
		return -EFAULT;
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
	if (gm->obs.write)
		gm->obs.write(gm->obs.ctx, gpa, &v, 2);
	return 0;
}

uint64_t gm_low_end(const struct guest_mem *gm)
{
	return gm->nregions ? gm->regions[0].gpa + gm->regions[0].len : 0;
}
