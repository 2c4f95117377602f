/* tests/lib/vsock_vd.c - see vsock_vd.h. */
#include "vsock_vd.h"

#include <stdlib.h>
#include <string.h>

#define RX_SLOT (VSOCK_HDR_LEN + VV_RXBUF)

static void post_rx(struct vsock_vd *g, uint64_t gpa)
{
	struct vd_seg seg = { gpa, RX_SLOT, true };
	uint16_t head = vd_submit(&g->drv, VSOCK_RXQ, &seg, 1);
	g->rx_gpa[head] = gpa;
}

bool vv_start(struct vsock_vd *g, struct virtio_device *dev)
{
	memset(g, 0, sizeof(*g));
	/* 15: ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK, nothing refused. */
	if (vd_start(&g->drv, dev, 0, 3) != 15)
		return false;
	/* The header, then the payload 64 bytes on (separate descriptors, as
	 * Linux lays out a packet). */
	g->tx_area = vd_alloc(&g->drv, 64 + VSOCK_MAX_PKT);
	for (unsigned i = 0; i < VV_NRX; i++)
		post_rx(g, vd_alloc(&g->drv, RX_SLOT));
	return true;
}

void vv_stop(struct vsock_vd *g)
{
	vd_stop(&g->drv);
}

void vv_send(struct vsock_vd *g, uint32_t gport, uint32_t hport, uint16_t op, uint32_t flags,
             uint32_t buf_alloc, uint32_t fwd_cnt, const void *data, uint32_t len)
{
	struct vv_hdr h = { VV_GUEST_CID, VSOCK_HOST_CID, gport, hport, len,
	                    VIRTIO_VSOCK_TYPE_STREAM, op, flags, buf_alloc, fwd_cnt };
	memcpy(vd_ptr(&g->drv, g->tx_area, sizeof(h)), &h, sizeof(h));
	struct vd_seg segs[2] = { { g->tx_area, VSOCK_HDR_LEN, false },
	                          { g->tx_area + 64, len, false } };
	if (len)
		memcpy(vd_ptr(&g->drv, g->tx_area + 64, len), data, len);
	vd_submit(&g->drv, VSOCK_TXQ, segs, len ? 2 : 1);
	/* The device handled the chain during the notify: retire it. */
	uint32_t id, used_len;
	while (vd_used(&g->drv, VSOCK_TXQ, &id, &used_len))
		;
}

bool vv_recv(struct vsock_vd *g, struct vv_hdr *h, void *data)
{
	uint32_t id, len;
	if (!vd_used(&g->drv, VSOCK_RXQ, &id, &len))
		return false;
	uint64_t gpa = g->rx_gpa[id];
	memcpy(h, vd_ptr(&g->drv, gpa, VSOCK_HDR_LEN), VSOCK_HDR_LEN);
	if (h->len > VV_RXBUF || len != VSOCK_HDR_LEN + h->len)
		h->len = 0; /* the device broke the layout; the caller sees op and ports only */
	if (h->len && data)
		memcpy(data, vd_ptr(&g->drv, gpa + VSOCK_HDR_LEN, h->len), h->len);
	post_rx(g, gpa);
	return true;
}

void vv_conn_init(struct vv_conn *c, uint32_t gport, uint32_t hport, uint32_t buf_alloc,
                  size_t rx_cap)
{
	memset(c, 0, sizeof(*c));
	c->gport = gport;
	c->hport = hport;
	c->buf_alloc = buf_alloc;
	c->rx = malloc(rx_cap ? rx_cap : 1);
	c->rx_cap = rx_cap;
}

void vv_conn_free(struct vv_conn *c)
{
	free(c->rx);
	c->rx = NULL;
}

uint32_t vv_credit(const struct vv_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

void vv_ctl(struct vsock_vd *g, const struct vv_conn *c, uint16_t op, uint32_t flags)
{
	vv_send(g, c->gport, c->hport, op, flags, c->buf_alloc, c->fwd_cnt, NULL, 0);
}

void vv_write(struct vsock_vd *g, struct vv_conn *c, const void *data, uint32_t len)
{
	vv_send(g, c->gport, c->hport, VIRTIO_VSOCK_OP_RW, 0, c->buf_alloc, c->fwd_cnt, data, len);
	c->tx_cnt += len;
}

/* One packet into the books. */
static void take(struct vv_conn *c, const struct vv_hdr *h, const uint8_t *data)
{
	if (h->src_port != c->hport || h->dst_port != c->gport) {
		c->stray++;
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RW:
		if (c->shut & VIRTIO_VSOCK_SHUTDOWN_SEND)
			c->data_after_shut = true;
		if (c->rx_len + h->len > c->rx_cap) {
			c->stray++; /* more than the test made room for */
			return;
		}
		memcpy(c->rx + c->rx_len, data, h->len);
		c->rx_len += h->len;
		c->fwd_cnt += h->len;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		c->shut |= h->flags;
		break;
	case VIRTIO_VSOCK_OP_RST:
		c->rst = true;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->credit_requests++;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		c->credit_updates++;
		break;
	default:
		c->stray++;
	}
}

unsigned vv_drain(struct vsock_vd *g, struct vv_conn *c)
{
	static uint8_t data[VV_RXBUF];
	struct vv_hdr h;
	unsigned n = 0;
	while (vv_recv(g, &h, data)) {
		take(c, &h, data);
		n++;
	}
	return n;
}

bool vv_connect(struct vsock_vd *g, struct vv_conn *c)
{
	vv_ctl(g, c, VIRTIO_VSOCK_OP_REQUEST, 0);
	struct vv_hdr h;
	if (!vv_recv(g, &h, NULL) || h.src_port != c->hport || h.dst_port != c->gport)
		return false;
	if (h.op == VIRTIO_VSOCK_OP_RST)
		c->rst = true;
	if (h.op != VIRTIO_VSOCK_OP_RESPONSE)
		return false;
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	return true;
}
