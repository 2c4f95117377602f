/* tests/lib/vsock_guest.c - see vsock_guest.h. Register offsets from the
 * virtio 1.x "MMIO Device Register Layout". */
#include "vsock_guest.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/machine.h"

#define R_DEVICE_ID 0x08
#define R_DRV_FEATURES 0x20
#define R_DRV_FEATURES_SEL 0x24
#define R_QUEUE_SEL 0x30
#define R_QUEUE_NUM 0x38
#define R_QUEUE_READY 0x44
#define R_QUEUE_NOTIFY 0x50
#define R_INT_STATUS 0x60
#define R_INT_ACK 0x64
#define R_STATUS 0x70
#define R_DESC 0x80
#define R_AVAIL 0x90
#define R_USED 0xa0
#define R_CONFIG 0x100

#define RX_STRIDE 0x2000ull
#define TX_STRIDE 0x5000ull
#define RX_AREA (VG_BASE + 0x10000)
#define TX_AREA (VG_BASE + 0x100000)

static uint64_t ring(unsigned q, unsigned part)
{
	return VG_BASE + q * 0x4000ull + part * 0x1000ull; /* desc, avail, used */
}

static void *mem(struct vguest *g, uint64_t gpa, uint64_t len)
{
	return fake_hv_gpa(g->ctl, gpa, len);
}

static uint32_t rd(struct vguest *g, uint32_t off)
{
	return fake_hv_mmio_read32(g->ctl, g->base + off);
}

static void wr(struct vguest *g, uint32_t off, uint32_t v)
{
	fake_hv_mmio_write32(g->ctl, g->base + off, v);
}

static void set_desc(struct vguest *g, unsigned q, uint16_t i, uint64_t gpa, uint32_t len,
                     bool writable)
{
	uint8_t *d = mem(g, ring(q, 0) + 16ull * i, 16);
	uint16_t flags = writable ? 2 : 0, next = 0;
	memcpy(d, &gpa, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Make descriptor `head` available on q; the device sees it at the notify. */
static void make_avail(struct vguest *g, unsigned q, uint16_t head)
{
	uint8_t *a = mem(g, ring(q, 1), 4 + 2 * VG_QSZ);
	memcpy(a + 4 + 2 * (g->avail[q] % VG_QSZ), &head, 2);
	g->avail[q]++;
	/* The entry before the index, as a driver's write barrier orders them. */
	__atomic_store_n((uint16_t *)(a + 2), g->avail[q], __ATOMIC_RELEASE);
}

int vg_start(struct vguest *g, struct fake_hv_ctl *ctl)
{
	memset(g, 0, sizeof(*g));
	g->ctl = ctl;
	if (!fake_hv_gpa(ctl, VG_BASE, TX_AREA + VG_QSZ * TX_STRIDE - VG_BASE))
		return -1;
	for (unsigned i = 0; i < VM_MAX_VIRTIO && !g->base; i++) {
		uint64_t base = VM_VIRTIO_MMIO_BASE + i * VM_VIRTIO_MMIO_SIZE;
		if (fake_hv_mmio_read32(ctl, base + R_DEVICE_ID) == 19)
			g->base = base;
	}
	if (!g->base)
		return -1;
	memset(mem(g, VG_BASE, 0x10000), 0, 0x10000);
	wr(g, R_STATUS, 0);
	wr(g, R_STATUS, 1);
	wr(g, R_STATUS, 3);
	wr(g, R_DRV_FEATURES_SEL, 0);
	wr(g, R_DRV_FEATURES, 0);
	wr(g, R_DRV_FEATURES_SEL, 1);
	wr(g, R_DRV_FEATURES, 1); /* VIRTIO_F_VERSION_1 */
	wr(g, R_STATUS, 3 | 8);
	if (!(rd(g, R_STATUS) & 8))
		return -1;
	for (unsigned q = 0; q < 3; q++) {
		wr(g, R_QUEUE_SEL, q);
		wr(g, R_QUEUE_NUM, VG_QSZ);
		wr(g, R_DESC, (uint32_t)ring(q, 0));
		wr(g, R_DESC + 4, 0);
		wr(g, R_AVAIL, (uint32_t)ring(q, 1));
		wr(g, R_AVAIL + 4, 0);
		wr(g, R_USED, (uint32_t)ring(q, 2));
		wr(g, R_USED + 4, 0);
		wr(g, R_QUEUE_READY, 1);
	}
	wr(g, R_STATUS, 3 | 8 | 4);
	if (rd(g, R_STATUS) != (3 | 8 | 4))
		return -1;
	for (uint16_t i = 0; i < VG_QSZ; i++) {
		set_desc(g, 0, i, RX_AREA + i * RX_STRIDE, sizeof(struct vg_hdr) + VG_RXBUF, true);
		make_avail(g, 0, i);
	}
	wr(g, R_QUEUE_NOTIFY, 0);
	return 0;
}

uint64_t vg_cid(struct vguest *g)
{
	return rd(g, R_CONFIG) | (uint64_t)rd(g, R_CONFIG + 4) << 32;
}

void vg_send(struct vguest *g, const struct vg_hdr *h, const void *data)
{
	uint16_t i = g->tx_next++ % VG_QSZ;
	uint64_t gpa = TX_AREA + i * TX_STRIDE;
	uint32_t len = h->len <= VG_TXMAX ? h->len : VG_TXMAX;
	uint8_t *p = mem(g, gpa, sizeof(*h) + len);
	memcpy(p, h, sizeof(*h));
	if (len)
		memcpy(p + sizeof(*h), data, len);
	set_desc(g, 1, i, gpa, (uint32_t)sizeof(*h) + len, false);
	make_avail(g, 1, i);
	/* The device takes the packet while it handles this exit. */
	wr(g, R_QUEUE_NOTIFY, 1);
}

void vg_send_op(struct vguest *g, uint32_t gport, uint32_t hport, uint16_t op, uint32_t flags,
                uint32_t buf_alloc, uint32_t fwd_cnt, const void *data, uint32_t len)
{
	struct vg_hdr h = { .src_cid = 3, .dst_cid = 2, .src_port = gport, .dst_port = hport,
	                    .len = len, .type = 1, .op = op, .flags = flags,
	                    .buf_alloc = buf_alloc, .fwd_cnt = fwd_cnt };
	vg_send(g, &h, data);
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

bool vg_recv(struct vguest *g, struct vg_hdr *h, void *data, int timeout_ms)
{
	long long t0 = now_ms();
	for (;;) {
		/* An exit first, as an interrupt handler's register read: whatever
		 * the device wrote under the event lock before it is visible. */
		uint32_t st = rd(g, R_INT_STATUS);
		if (st)
			wr(g, R_INT_ACK, st);
		uint8_t *u = mem(g, ring(0, 2), 4 + 8 * VG_QSZ);
		uint16_t used = __atomic_load_n((uint16_t *)(u + 2), __ATOMIC_ACQUIRE);
		if (used != g->used_seen[0]) {
			uint32_t elem[2];
			memcpy(elem, u + 4 + 8 * (g->used_seen[0] % VG_QSZ), 8);
			g->used_seen[0]++;
			uint16_t id = (uint16_t)elem[0];
			const uint8_t *p = mem(g, RX_AREA + id * RX_STRIDE, sizeof(*h) + VG_RXBUF);
			memcpy(h, p, sizeof(*h));
			uint32_t n = h->len <= VG_RXBUF ? h->len : VG_RXBUF;
			if (data && n)
				memcpy(data, p + sizeof(*h), n);
			make_avail(g, 0, id);
			wr(g, R_QUEUE_NOTIFY, 0);
			return true;
		}
		if (now_ms() - t0 >= timeout_ms)
			return false;
		usleep(200);
	}
}
