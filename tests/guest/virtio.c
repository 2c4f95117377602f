/* tests/guest/virtio.c - see virtio.h. */
#include "virtio.h"

#include "hw.h"

enum {
	R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008,
	R_DEVICE_FEATURES = 0x010, R_DEVICE_FEATURES_SEL = 0x014,
	R_DRIVER_FEATURES = 0x020, R_DRIVER_FEATURES_SEL = 0x024,
	R_QUEUE_SEL = 0x030, R_QUEUE_NUM_MAX = 0x034, R_QUEUE_NUM = 0x038,
	R_QUEUE_READY = 0x044, R_QUEUE_NOTIFY = 0x050,
	R_INTERRUPT_STATUS = 0x060, R_INTERRUPT_ACK = 0x064, R_STATUS = 0x070,
	R_QUEUE_DESC_LOW = 0x080, R_QUEUE_DESC_HIGH = 0x084,
	R_QUEUE_DRIVER_LOW = 0x090, R_QUEUE_DRIVER_HIGH = 0x094,
	R_QUEUE_DEVICE_LOW = 0x0a0, R_QUEUE_DEVICE_HIGH = 0x0a4,
	R_CONFIG_GENERATION = 0x0fc, R_CONFIG = 0x100,
};

#define MAGIC 0x74726976u /* "virt" */
#define S_ACKNOWLEDGE 1u
#define S_DRIVER 2u
#define S_DRIVER_OK 4u
#define S_FEATURES_OK 8u
#define S_NEEDS_RESET 64u
#define S_FAILED 128u

#define DESC_F_NEXT 1
#define DESC_F_WRITE 2

/* Each queue's rings inside its slot's page: 16-byte descriptors, then the
 * driver (available) ring, then the device (used) ring. VIRTIO_QSIZE 8 needs
 * 128 + 22 + 70 bytes; every queue gets RING_Q_BYTES. */
#define RING_DESC 0x000
#define RING_AVAIL 0x100
#define RING_USED 0x200
#define RING_Q_BYTES 0x400
#define RING_PAGE 4096
_Static_assert(VIRTIO_MAX_Q * RING_Q_BYTES <= RING_PAGE, "queues fit in a page");
_Static_assert(VIRTIO_QSIZE * 16 <= RING_AVAIL && 6 + 2 * VIRTIO_QSIZE <= RING_USED - RING_AVAIL &&
               6 + 8 * VIRTIO_QSIZE <= RING_Q_BYTES - RING_USED, "rings fit in their queue's room");

/* How long to wait for a used buffer: ~1 s at 2.5 GHz. Our vmm completes a
 * request during the notify exit, so the first look normally finds it. */
#define USED_WAIT_TICKS 2500000000ull
#define CONFIG_TRIES 8

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static uint8_t rings[VIRTIO_SLOTS][RING_PAGE] __attribute__((aligned(RING_PAGE)));

static uint32_t rd(struct vdev *d, unsigned off)
{
	return mmio_read32(d->base + off);
}

static void wr(struct vdev *d, unsigned off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

static void barrier(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

uint32_t virtio_probe(unsigned slot, struct vdev *d)
{
	d->base = VIRTIO_SLOT_BASE + slot * VIRTIO_SLOT_SIZE;
	d->slot = slot;
	d->id = 0;
	if (rd(d, R_MAGIC) != MAGIC || rd(d, R_VERSION) != 2)
		return 0;
	d->id = rd(d, R_DEVICE_ID);
	return d->id;
}

static int fail(struct vdev *d, int step)
{
	wr(d, R_STATUS, rd(d, R_STATUS) | S_FAILED);
	return -step;
}

static void wr64(struct vdev *d, unsigned lo, uint64_t v)
{
	wr(d, lo, (uint32_t)v);
	wr(d, lo + 4, (uint32_t)(v >> 32));
}

int virtio_setup(struct vdev *d, uint64_t want, unsigned nq)
{
	if (nq == 0 || nq > VIRTIO_MAX_Q)
		return -1;
	wr(d, R_STATUS, 0); /* reset */
	wr(d, R_STATUS, S_ACKNOWLEDGE);
	wr(d, R_STATUS, S_ACKNOWLEDGE | S_DRIVER);

	wr(d, R_DEVICE_FEATURES_SEL, 0);
	uint64_t lo = rd(d, R_DEVICE_FEATURES);
	wr(d, R_DEVICE_FEATURES_SEL, 1);
	d->offered = lo | (uint64_t)rd(d, R_DEVICE_FEATURES) << 32;
	if (!(d->offered & VIRTIO_FEATURE_VERSION_1))
		return fail(d, 1); /* a legacy device: not ours */
	d->features = (d->offered & want) | VIRTIO_FEATURE_VERSION_1;
	wr(d, R_DRIVER_FEATURES_SEL, 0);
	wr(d, R_DRIVER_FEATURES, (uint32_t)d->features);
	wr(d, R_DRIVER_FEATURES_SEL, 1);
	wr(d, R_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	uint32_t st = S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK;
	wr(d, R_STATUS, st);
	if (!(rd(d, R_STATUS) & S_FEATURES_OK))
		return fail(d, 2);

	uint8_t *page = rings[d->slot];
	for (unsigned i = 0; i < RING_PAGE; i++)
		page[i] = 0;
	d->nq = nq;
	for (unsigned q = 0; q < nq; q++) {
		struct vqueue *vq = &d->q[q];
		wr(d, R_QUEUE_SEL, q);
		uint32_t max = rd(d, R_QUEUE_NUM_MAX);
		if (max == 0 || rd(d, R_QUEUE_READY) != 0)
			return fail(d, 3);
		uint16_t n = VIRTIO_QSIZE;
		while (n > max)
			n >>= 1;
		vq->size = n;
		vq->avail_idx = vq->used_seen = 0;
		vq->ring = page + q * RING_Q_BYTES;
		uint64_t pa = (uint64_t)(uintptr_t)vq->ring;
		wr(d, R_QUEUE_NUM, n);
		wr64(d, R_QUEUE_DESC_LOW, pa + RING_DESC);
		wr64(d, R_QUEUE_DRIVER_LOW, pa + RING_AVAIL);
		wr64(d, R_QUEUE_DEVICE_LOW, pa + RING_USED);
		wr(d, R_QUEUE_READY, 1);
		if (rd(d, R_QUEUE_READY) != 1)
			return fail(d, 4);
	}

	st |= S_DRIVER_OK;
	wr(d, R_STATUS, st);
	if ((rd(d, R_STATUS) & (S_DRIVER_OK | S_NEEDS_RESET)) != S_DRIVER_OK)
		return fail(d, 5);
	return 0;
}

int64_t virtio_request(struct vdev *d, unsigned q, const struct vbuf *bufs, unsigned n)
{
	if (q >= d->nq || n == 0 || n > d->q[q].size)
		return -1;
	struct vqueue *vq = &d->q[q];
	/* One request at a time: the chain always starts at descriptor 0. */
	volatile struct desc *desc = (volatile struct desc *)(vq->ring + RING_DESC);
	for (unsigned i = 0; i < n; i++) {
		desc[i].addr = (uint64_t)(uintptr_t)bufs[i].addr;
		desc[i].len = bufs[i].len;
		desc[i].flags = (uint16_t)((bufs[i].writable ? DESC_F_WRITE : 0) |
		                           (i + 1 < n ? DESC_F_NEXT : 0));
		desc[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
	}
	/* Driver ring: flags, idx, ring[size]. */
	volatile uint16_t *avail = (volatile uint16_t *)(vq->ring + RING_AVAIL);
	avail[2 + vq->avail_idx % vq->size] = 0;
	barrier();
	avail[1] = ++vq->avail_idx;
	barrier();
	wr(d, R_QUEUE_NOTIFY, q);

	/* Device ring: flags, idx, then {u32 id, u32 len} elements from byte 4. */
	volatile uint16_t *used = (volatile uint16_t *)(vq->ring + RING_USED);
	volatile uint32_t *elem = (volatile uint32_t *)(vq->ring + RING_USED + 4);
	uint64_t t0 = rdtsc();
	for (unsigned spins = 1; used[1] == vq->used_seen; spins++) {
		if (rdtsc() - t0 > USED_WAIT_TICKS)
			return -1;
		if (spins % 1024 == 0 && (rd(d, R_STATUS) & S_NEEDS_RESET))
			return -1;
		cpu_relax();
	}
	barrier();
	unsigned slot = vq->used_seen % vq->size;
	uint32_t id = elem[2 * slot], len = elem[2 * slot + 1];
	vq->used_seen++;
	/* Drop the device's interrupt line: we poll, nobody else will. */
	uint32_t isr = rd(d, R_INTERRUPT_STATUS);
	if (isr)
		wr(d, R_INTERRUPT_ACK, isr);
	return id == 0 ? (int64_t)len : -1;
}

uint32_t virtio_config32(struct vdev *d, unsigned off)
{
	uint32_t v = 0;
	for (int i = 0; i < CONFIG_TRIES; i++) {
		uint32_t g = rd(d, R_CONFIG_GENERATION);
		v = rd(d, R_CONFIG + off);
		if (rd(d, R_CONFIG_GENERATION) == g)
			break;
	}
	return v;
}

uint64_t virtio_config64(struct vdev *d, unsigned off)
{
	uint64_t v = 0;
	for (int i = 0; i < CONFIG_TRIES; i++) {
		uint32_t g = rd(d, R_CONFIG_GENERATION);
		v = rd(d, R_CONFIG + off) | (uint64_t)rd(d, R_CONFIG + off + 4) << 32;
		if (rd(d, R_CONFIG_GENERATION) == g)
			break;
	}
	return v;
}
