/* base/guest_mem.h - guest physical memory and its one bounds-checked accessor.
 *
 * Owns: the memfd that backs guest RAM, its host mapping, and the x86 layout of
 * RAM in guest-physical space (low RAM from 0 up to the 32-bit MMIO hole, the
 * rest from 4 GiB). Every read or write of guest memory by the vmm, a loader or
 * a device goes through gm_read / gm_write / gm_span, which refuse any range
 * that is not wholly inside one RAM region (overflow-safe). Nothing else does
 * pointer arithmetic on guest addresses.
 *
 * An optional observer sees every byte the vmm reads or writes through those
 * accessors (not gm_span, which hands out a pointer): the recorder uses it to
 * capture what devices read from and wrote to guest memory.
 */
#ifndef BASE_GUEST_MEM_H
#define BASE_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Start of the 32-bit MMIO hole; RAM above it is relocated to 4 GiB. */
#define GM_MMIO_HOLE_START 0xC0000000ull
#define GM_HIGH_RAM_START 0x100000000ull
#define GM_MAX_REGIONS 8

struct gm_region {
	uint64_t gpa;     /* guest-physical start */
	uint64_t len;     /* bytes */
	uint64_t offset;  /* offset in the memfd and in the host mapping */
};

struct gm_observer {
	void *ctx;
	void (*read)(void *ctx, uint64_t gpa, const void *data, uint64_t len);
	void (*write)(void *ctx, uint64_t gpa, const void *data, uint64_t len);
};

struct guest_mem {
	int fd;            /* memfd; shareable with device processes */
	uint8_t *host;     /* mapping of the whole memfd */
	uint64_t size;     /* total RAM bytes */
	unsigned nregions;
	struct gm_region regions[GM_MAX_REGIONS];
	struct gm_observer obs; /* zeroed: none */
};

/* Create guest RAM of `size` bytes (page-aligned, > 0). Returns 0 or -errno. */
int gm_create(struct guest_mem *gm, uint64_t size);
/* Wrap memory someone else created (vhost-user SET_MEM_TABLE, tests): takes no
 * ownership of `host`; regions must lie inside [host, host+size). */
int gm_init_external(struct guest_mem *gm, uint8_t *host, uint64_t size,
                     const struct gm_region *regions, unsigned nregions);
void gm_destroy(struct guest_mem *gm);

/* Host pointer to [gpa, gpa+len) if the whole range is RAM in one region,
 * else NULL. len 0 is refused. */
void *gm_span(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
bool gm_valid(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
/* Copy between guest and host; -EFAULT (nothing copied) if out of bounds. */
int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len);
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len);
int gm_fill(const struct guest_mem *gm, uint64_t gpa, int byte, uint64_t len);
/* 16-bit loads and stores with acquire / release ordering (virtqueue
 * indices shared with a running driver), observed like gm_read / gm_write. */
int gm_load16_acquire(const struct guest_mem *gm, uint64_t gpa, uint16_t *out);
int gm_store16_release(const struct guest_mem *gm, uint64_t gpa, uint16_t v);

/* Highest guest-physical address + 1 below 4 GiB that is RAM. */
uint64_t gm_low_end(const struct guest_mem *gm);

#endif
