/* tests/lib/vdriver.c - see vdriver.h. */
#include "vdriver.h"

#include <string.h>

#include "base/byteorder.h"
#include "devices/virtqueue.h"

static void set_irq(void *ctx, int level)
{
	((struct vdriver *)ctx)->line = level;
}

uint32_t vd_read32(struct vdriver *d, uint64_t off)
{
	return (uint32_t)virtio_mmio_bus_ops.read(&d->mmio, off, 4);
}

void vd_write32(struct vdriver *d, uint64_t off, uint32_t v)
{
	virtio_mmio_bus_ops.write(&d->mmio, off, 4, v);
}

static uint64_t ring(unsigned q, unsigned part)
{
	/* desc at +0 (16*QSZ), avail at +0x1000, used at +0x2000 */
	return VD_RING_BASE + (uint64_t)q * VD_RING_STRIDE + part * 0x1000ull;
}

uint64_t vd_cfg_read(struct vdriver *d, uint32_t off, unsigned size)
{
	return virtio_mmio_bus_ops.read(&d->mmio, VIRTIO_MMIO_CONFIG + off, size);
}

void vd_cfg_write(struct vdriver *d, uint32_t off, unsigned size, uint64_t v)
{
	virtio_mmio_bus_ops.write(&d->mmio, VIRTIO_MMIO_CONFIG + off, size, v);
}

uint32_t vd_ack(struct vdriver *d)
{
	uint32_t st = vd_read32(d, 0x60);
	vd_write32(d, 0x64, st);
	return st;
}

uint32_t vd_start(struct vdriver *d, struct virtio_device *dev, uint64_t features,
                  unsigned nqueues)
{
	return vd_start_mem(d, dev, features, nqueues, VD_RAM);
}

uint32_t vd_start_mem(struct vdriver *d, struct virtio_device *dev, uint64_t features,
                      unsigned nqueues, uint64_t ram)
{
	memset(d, 0, sizeof(*d));
	if (gm_create(&d->mem, ram) < 0)
		return 0;
	d->heap_next = VD_HEAP;
	virtio_mmio_init(&d->mmio, dev, &d->mem, set_irq, d);
	features |= 1ull << VIRTIO_F_VERSION_1;
	vd_write32(d, 0x70, 1);
	vd_write32(d, 0x70, 3);
	vd_write32(d, 0x24, 0);
	vd_write32(d, 0x20, (uint32_t)features);
	vd_write32(d, 0x24, 1);
	vd_write32(d, 0x20, (uint32_t)(features >> 32));
	vd_write32(d, 0x70, 3 | 8);
	for (unsigned q = 0; q < nqueues; q++) {
		vd_write32(d, 0x30, q);
		vd_write32(d, 0x38, VD_QSZ);
		vd_write32(d, 0x80, (uint32_t)ring(q, 0));
		vd_write32(d, 0x84, 0);
		vd_write32(d, 0x90, (uint32_t)ring(q, 1));
		vd_write32(d, 0x94, 0);
		vd_write32(d, 0xa0, (uint32_t)ring(q, 2));
		vd_write32(d, 0xa4, 0);
		vd_write32(d, 0x44, 1);
	}
	vd_write32(d, 0x70, vd_read32(d, 0x70) | 4);
	return vd_read32(d, 0x70);
}

void vd_stop(struct vdriver *d)
{
	gm_destroy(&d->mem);
}

uint64_t vd_alloc(struct vdriver *d, uint32_t len)
{
	uint64_t gpa = d->heap_next;
	d->heap_next += (len + 15) & ~15u;
	gm_fill(&d->mem, gpa, 0, len);
	return gpa;
}

void *vd_ptr(struct vdriver *d, uint64_t gpa, uint32_t len)
{
	return gm_span(&d->mem, gpa, len);
}

void vd_put_desc(struct vdriver *d, unsigned q, uint16_t idx, uint64_t gpa, uint32_t len,
                 uint16_t flags, uint16_t next)
{
	/* struct virtq_desc { le64 addr; le32 len; le16 flags; le16 next; } */
	uint8_t desc[16];
	le64_put(desc, gpa);
	le32_put(desc + 8, len);
	le16_put(desc + 12, flags);
	le16_put(desc + 14, next);
	gm_write(&d->mem, ring(q, 0) + 16ull * idx, desc, 16);
}

uint16_t vd_submit(struct vdriver *d, unsigned q, const struct vd_seg *segs, unsigned n)
{
	uint16_t head = d->next_desc[q];
	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % VD_QSZ);
		uint16_t next = (uint16_t)((idx + 1) % VD_QSZ);
		uint16_t flags = (uint16_t)((segs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
		                            (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		vd_put_desc(d, q, idx, segs[i].gpa, segs[i].len, flags, next);
	}
	d->next_desc[q] = (uint16_t)((head + n) % VD_QSZ);
	uint16_t slot = d->avail_idx[q] % VD_QSZ;
	gm_write(&d->mem, ring(q, 1) + 4 + 2ull * slot, &head, 2);
	d->avail_idx[q]++;
	gm_write(&d->mem, ring(q, 1) + 2, &d->avail_idx[q], 2);
	vd_write32(d, 0x50, q);
	return head;
}

uint64_t vd_rx_buffer(struct vdriver *d, unsigned q, uint32_t len)
{
	uint64_t gpa = vd_alloc(d, len);
	struct vd_seg seg = { gpa, len, true };
	vd_submit(d, q, &seg, 1);
	return gpa;
}

bool vd_used(struct vdriver *d, unsigned q, uint32_t *id, uint32_t *len)
{
	uint16_t used;
	gm_read(&d->mem, ring(q, 2) + 2, &used, 2);
	if (used == d->used_seen[q])
		return false;
	uint32_t elem[2];
	gm_read(&d->mem, ring(q, 2) + 4 + 8ull * (d->used_seen[q] % VD_QSZ), elem, 8);
	d->used_seen[q]++;
	*id = elem[0];
	*len = elem[1];
	return true;
}
