/* devices/virtqueue.c - see virtqueue.h. Layout facts from the virtio 1.x
 * specification: a descriptor is {le64 addr, le32 len, le16 flags, le16 next};
 * the available ring is {le16 flags, le16 idx, le16 ring[size], le16
 * used_event}; the used ring is {le16 flags, le16 idx, {le32 id, le32
 * len} ring[size], le16 avail_event}. x86 is little-endian, as is the ring. */
#include "virtqueue.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static uint64_t avail_bytes(uint16_t size) { return 6 + 2ull * size; }
static uint64_t used_bytes(uint16_t size) { return 6 + 8ull * size; }

static int broke(struct virtqueue *vq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int broke(struct virtqueue *vq, const char *fmt, ...)
{
	if (!vq->broken) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(vq->error, sizeof(vq->error), fmt, ap);
		va_end(ap);
		vq->broken = true;
		/* Once per queue: a hostile driver must not be able to flood the log. */
		log_warn("virtqueue stopped: %s", vq->error);
	}
	return -EIO;
}

int vq_init(struct virtqueue *vq, const struct guest_mem *mem, uint16_t size,
            uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa, uint64_t features)
{
	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
	if (size == 0 || (size & (size - 1)) != 0 || size > VQ_MAX_SIZE) {
		snprintf(vq->error, sizeof(vq->error), "queue size %u is not a power of two <= %u",
		         size, VQ_MAX_SIZE);
		return -EINVAL;
	}
	if (desc_gpa % 16 || avail_gpa % 2 || used_gpa % 4) {
		snprintf(vq->error, sizeof(vq->error),
		         "misaligned rings (desc 0x%llx, avail 0x%llx, used 0x%llx)",
		         (unsigned long long)desc_gpa, (unsigned long long)avail_gpa,
		         (unsigned long long)used_gpa);
		return -EINVAL;
	}
	if (!gm_valid(mem, desc_gpa, 16ull * size) || !gm_valid(mem, avail_gpa, avail_bytes(size)) ||
	    !gm_valid(mem, used_gpa, used_bytes(size))) {
		snprintf(vq->error, sizeof(vq->error), "rings lie outside guest memory");
		return -EINVAL;
	}
	vq->size = size;
	vq->desc_gpa = desc_gpa;
	vq->avail_gpa = avail_gpa;
	vq->used_gpa = used_gpa;
	vq->indirect = features & (1ull << VIRTIO_F_INDIRECT_DESC);
	vq->event_idx = features & (1ull << VIRTIO_F_EVENT_IDX);
	return 0;
}

/* The rings were checked at init; these cannot fail afterwards. Index loads
 * pair with the driver's stores: acquire, so the ring entries it published
 * before bumping idx are visible to us. */
static uint16_t load16_acquire(const struct virtqueue *vq, uint64_t gpa)
{
	uint16_t v = 0;
	gm_load16_acquire(vq->mem, gpa, &v);
	return v;
}

static uint16_t load16(const struct virtqueue *vq, uint64_t gpa)
{
	uint16_t v = 0;
	gm_read(vq->mem, gpa, &v, 2);
	return v;
}

static void store16_release(const struct virtqueue *vq, uint64_t gpa, uint16_t v)
{
	gm_store16_release(vq->mem, gpa, v);
}

static int add_buf(struct virtqueue *vq, struct vq_chain *c, const struct desc *d, bool *seen_write)
{
	bool w = d->flags & VIRTQ_DESC_F_WRITE;
	if (d->len == 0)
		return 0; /* carries nothing; harmless, skipped */
	if (c->nbufs == VQ_MAX_CHAIN_BUFS)
		return broke(vq, "chain at head %u has more than %u buffers", c->head,
		             VQ_MAX_CHAIN_BUFS);
	if (d->addr + d->len < d->addr)
		return broke(vq, "buffer 0x%llx+%u wraps around the address space",
		             (unsigned long long)d->addr, d->len);
	if (!gm_valid(vq->mem, d->addr, d->len))
		return broke(vq, "buffer 0x%llx+%u is outside guest memory",
		             (unsigned long long)d->addr, d->len);
	if (!w && *seen_write)
		return broke(vq, "chain at head %u has a device-readable buffer after a writable one",
		             c->head);
	*seen_write |= w;
	c->bufs[c->nbufs++] = (struct vq_buf){ d->addr, d->len, w };
	if (w)
		c->writable_len += d->len;
	else {
		c->readable_len += d->len;
		c->nreadable++;
	}
	return 0;
}

static int read_desc(struct virtqueue *vq, uint64_t table, uint32_t i, struct desc *d)
{
	if (gm_read(vq->mem, table + 16ull * i, d, sizeof(*d)) < 0)
		return broke(vq, "descriptor %u at 0x%llx is outside guest memory", i,
		             (unsigned long long)(table + 16ull * i));
	return 0;
}

static int walk_indirect(struct virtqueue *vq, struct vq_chain *c, const struct desc *ind,
                         bool *seen_write, unsigned *budget)
{
	if (!vq->indirect)
		return broke(vq, "indirect descriptor without VIRTIO_F_INDIRECT_DESC");
	if (ind->flags & VIRTQ_DESC_F_NEXT)
		return broke(vq, "indirect descriptor with NEXT set");
	if (ind->len == 0 || ind->len % 16)
		return broke(vq, "indirect table length %u is not a non-zero multiple of 16", ind->len);
	uint32_t n = ind->len / 16;
	if (!gm_valid(vq->mem, ind->addr, ind->len))
		return broke(vq, "indirect table 0x%llx+%u is outside guest memory",
		             (unsigned long long)ind->addr, ind->len);
	/* Walk it as a chain starting at entry 0, bounded by its own size. */
	uint32_t i = 0;
	for (uint32_t steps = 0;; steps++) {
		if (steps == n)
			return broke(vq, "indirect chain at head %u loops", c->head);
		if ((*budget)-- == 0)
			return broke(vq, "chain at head %u walks more than %u descriptors", c->head,
			             VQ_MAX_CHAIN_BUFS * 2);
		struct desc d;
		if (read_desc(vq, ind->addr, i, &d) < 0)
			return -EIO;
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return broke(vq, "nested indirect table at head %u", c->head);
		if (add_buf(vq, c, &d, seen_write) < 0)
			return -EIO;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return broke(vq, "indirect next index %u out of range (table of %u)", d.next, n);
		i = d.next;
	}
}

int vq_pop(struct virtqueue *vq, struct vq_chain *c)
{
	if (vq->broken)
		return -EIO;
	if (vq->size == 0)
		return 0;
	uint16_t avail_idx = load16_acquire(vq, vq->avail_gpa + 2);
	uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
	if (pending == 0)
		return 0;
	if (pending > vq->size)
		return broke(vq, "available index %u runs %u ahead of %u (queue size %u)", avail_idx,
		             pending, vq->last_avail, vq->size);
	if (vq->inflight >= vq->size)
		return broke(vq, "more than %u chains in flight: the used ring would overflow",
		             vq->size);
	uint16_t head = load16(vq, vq->avail_gpa + 4 + 2ull * (vq->last_avail % vq->size));
	if (head >= vq->size)
		return broke(vq, "available ring names head %u, queue size %u", head, vq->size);

	memset(c, 0, offsetof(struct vq_chain, bufs));
	c->head = head;
	bool seen_write = false;
	/* Direct descriptors and indirect entries together are bounded, so a
	 * loop anywhere ends in a defined error. */
	unsigned budget = VQ_MAX_CHAIN_BUFS * 2;
	uint16_t i = head;
	for (unsigned steps = 0;; steps++) {
		if (steps == vq->size)
			return broke(vq, "chain at head %u loops (longer than the queue)", head);
		struct desc d;
		if (read_desc(vq, vq->desc_gpa, i, &d) < 0)
			return -EIO;
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (walk_indirect(vq, c, &d, &seen_write, &budget) < 0)
				return -EIO;
		} else if (add_buf(vq, c, &d, &seen_write) < 0) {
			return -EIO;
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= vq->size)
			return broke(vq, "next index %u out of range (queue size %u)", d.next, vq->size);
		i = d.next;
	}
	if (c->nbufs == 0)
		return broke(vq, "chain at head %u carries no bytes", head);
	vq->last_avail++;
	vq->inflight++;
	if (vq->event_idx) {
		/* avail_event: ask to be kicked when the driver adds past this one.
		 * The full fence orders this store before the next pop's load of the
		 * available index: without it (x86 reorders a store after a later
		 * load) the driver could read the old avail_event and skip its kick
		 * while we read the old index and stop: a lost notification. */
		store16_release(vq, vq->used_gpa + 4 + 8ull * vq->size, vq->last_avail);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	return 1;
}

int vq_push(struct virtqueue *vq, const struct vq_chain *c, uint32_t written)
{
	if (vq->broken)
		return -EIO;
	if (vq->inflight == 0)
		return broke(vq, "push of head %u with nothing in flight", c->head);
	if (written > c->writable_len)
		return broke(vq, "used length %u exceeds the chain's %llu writable bytes", written,
		             (unsigned long long)c->writable_len);
	uint64_t slot = vq->used_gpa + 4 + 8ull * (vq->used_idx % vq->size);
	uint32_t elem[2] = { c->head, written };
	gm_write(vq->mem, slot, elem, sizeof(elem));
	vq->used_idx++;
	vq->inflight--;
	/* Release: the element must be visible before the index that publishes it. */
	store16_release(vq, vq->used_gpa + 2, vq->used_idx);
	return 0;
}

bool vq_should_notify(struct virtqueue *vq)
{
	if (vq->broken || vq->size == 0)
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(load16(vq, vq->avail_gpa) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	uint16_t used_event = load16(vq, vq->avail_gpa + 4 + 2ull * vq->size);
	uint16_t old = vq->signalled_used, now = vq->used_idx;
	bool valid = vq->signalled_valid;
	vq->signalled_used = now;
	vq->signalled_valid = true;
	if (!valid)
		return true;
	/* Notify when used_event lies in (old, now]: the driver asked for it. */
	return (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
}

void vq_set_notification(struct virtqueue *vq, bool enable)
{
	if (vq->broken || vq->size == 0)
		return;
	if (vq->event_idx) {
		if (enable) {
			store16_release(vq, vq->used_gpa + 4 + 8ull * vq->size, vq->last_avail);
			__atomic_thread_fence(__ATOMIC_SEQ_CST); /* see vq_pop */
		}
		return;
	}
	store16_release(vq, vq->used_gpa, enable ? 0 : VIRTQ_USED_F_NO_NOTIFY);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static size_t copy_chain(const struct virtqueue *vq, const struct vq_chain *c, bool writable,
                         uint64_t off, uint8_t *host, size_t len)
{
	size_t done = 0;
	unsigned first = writable ? c->nreadable : 0;
	unsigned last = writable ? c->nbufs : c->nreadable;
	for (unsigned i = first; i < last && done < len; i++) {
		const struct vq_buf *b = &c->bufs[i];
		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		uint64_t n = b->len - off;
		if (n > len - done)
			n = len - done;
		int r = writable ? gm_write(vq->mem, b->gpa + off, host + done, n)
		                 : gm_read(vq->mem, b->gpa + off, host + done, n);
		if (r < 0)
			break; /* buffers were checked at pop; memory does not shrink */
		done += n;
		off = 0;
	}
	return done;
}

size_t vq_chain_read(const struct virtqueue *vq, const struct vq_chain *c, uint64_t off,
                     void *dst, size_t len)
{
	return copy_chain(vq, c, false, off, dst, len);
}

size_t vq_chain_write(const struct virtqueue *vq, const struct vq_chain *c, uint64_t off,
                      const void *src, size_t len)
{
	return copy_chain(vq, c, true, off, (uint8_t *)src, len);
}
