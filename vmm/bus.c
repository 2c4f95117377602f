/* vmm/bus.c - see bus.h. */
#include "bus.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void bus_init(struct bus *b)
{
	memset(b, 0, sizeof(*b));
}

/* Index of the first range whose base is > addr. */
static unsigned upper_bound(const struct bus *b, enum bus_space s, uint64_t addr)
{
	unsigned lo = 0, hi = b->n[s];
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (b->r[s][mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *b, enum bus_space space, uint64_t base, uint64_t len,
                 const char *name, const struct bus_device_ops *ops, void *ctx)
{
	if ((space != BUS_MMIO && space != BUS_PIO) || len == 0 || base + len < base || !ops)
		return -EINVAL;
	if (space == BUS_PIO && base + len > 0x10000)
		return -EINVAL;
	unsigned i = upper_bound(b, space, base);
	/* Ranges are half-open: [base, base+len). */
	if (i > 0) {
		const struct bus_range *prev = &b->r[space][i - 1];
		if (prev->base + prev->len > base)
			return -EEXIST;
	}
	if (i < b->n[space] && b->r[space][i].base < base + len)
		return -EEXIST;
	if (b->n[space] == BUS_MAX_RANGES)
		return -ENOSPC;
	memmove(&b->r[space][i + 1], &b->r[space][i],
	        (b->n[space] - i) * sizeof(struct bus_range));
	b->r[space][i] = (struct bus_range){ base, len, name, ops, ctx };
	b->n[space]++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *b, enum bus_space space,
                                 uint64_t addr, unsigned size)
{
	if ((space != BUS_MMIO && space != BUS_PIO) || size == 0)
		return NULL;
	unsigned i = upper_bound(b, space, addr);
	if (i == 0)
		return NULL;
	const struct bus_range *r = &b->r[space][i - 1];
	uint64_t off = addr - r->base;
	if (off >= r->len || size > r->len - off)
		return NULL;
	return r;
}

int bus_read(const struct bus *b, enum bus_space space, uint64_t addr, unsigned size,
             uint64_t *value)
{
	const struct bus_range *r = bus_find(b, space, addr, size);
	if (!r || !r->ops->read) {
		*value = size >= 8 ? ~0ull : ((1ull << (size * 8)) - 1);
		return -ENOENT;
	}
	/* bus_find checked the whole access lies inside the range: the
	 * handler contract (off + size <= the registered length). */
	assert(addr - r->base + size <= r->len);
	*value = r->ops->read(r->ctx, addr - r->base, size);
	return 0;
}

int bus_write(const struct bus *b, enum bus_space space, uint64_t addr, unsigned size,
              uint64_t value)
{
	const struct bus_range *r = bus_find(b, space, addr, size);
	if (!r)
		return -ENOENT;
	assert(addr - r->base + size <= r->len); /* as in bus_read */
	if (r->ops->write)
		r->ops->write(r->ctx, addr - r->base, size, value);
	return 0;
}

void bus_describe(const struct bus *b, enum bus_space space, uint64_t addr, bool write,
                  char *buf, size_t len)
{
	assert(len > 0);
	const struct bus_range *r = bus_find(b, space, addr, 1);
	if (!r) {
		snprintf(buf, len, "%s 0x%" PRIx64 " (no device)",
		         space == BUS_PIO ? "port" : "address", addr);
		return;
	}
	uint64_t off = addr - r->base;
	int n = snprintf(buf, len, "%s ", r->name ? r->name : "(unnamed)");
	size_t used = n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
	if (!r->ops->describe_reg ||
	    !r->ops->describe_reg(r->ctx, off, write, buf + used, len - used))
		snprintf(buf + used, len - used, "offset 0x%" PRIx64, off);
}
