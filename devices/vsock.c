/* devices/vsock.c - see vsock.h. */
#include "vsock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Control packets a connection owes the guest (vsock_conn.pending). */
enum { P_REQUEST = 1, P_RESPONSE = 2, P_CREDIT_UPDATE = 4, P_CREDIT_REQUEST = 8,
       P_SHUTDOWN = 16 };

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

_Static_assert(sizeof(struct hdr) == VSOCK_HDR_LEN, "vsock header is 44 bytes");

static void pump_rx(struct virtio_vsock *v);

/* ---- connection table ---- */

static struct vsock_conn *get(struct virtio_vsock *v, int conn)
{
	if (conn < 0 || conn >= VSOCK_MAX_CONNS || v->conns[conn].state == VSOCK_FREE)
		return NULL;
	return &v->conns[conn];
}

static int find(const struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
		const struct vsock_conn *c = &v->conns[i];
		if (c->state != VSOCK_FREE && c->host_port == host_port && c->guest_port == guest_port)
			return i;
	}
	return -1;
}

static int alloc_conn(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port,
                      enum vsock_state st)
{
	for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];
		if (c->state != VSOCK_FREE)
			continue;
		uint8_t *buf = malloc(VSOCK_HOST_TXBUF);
		if (!buf)
			return -ENOMEM;
		memset(c, 0, sizeof(*c));
		c->txbuf = buf;
		c->state = st;
		c->host_port = host_port;
		c->guest_port = guest_port;
		return i;
	}
	return -ENOSPC;
}

static void free_conn(struct vsock_conn *c)
{
	free(c->txbuf);
	memset(c, 0, sizeof(*c));
}

static void queue_rst(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	if (v->rst_len == VSOCK_RST_QUEUE) {
		v->rst_dropped++;
		return;
	}
	v->rsts[(v->rst_head + v->rst_len++) % VSOCK_RST_QUEUE] =
		(struct vsock_rst){ host_port, guest_port };
}

/* The connection ends now: RST to the guest, the host told (if asked). */
static void drop_conn(struct virtio_vsock *v, int conn, bool tell_host)
{
	struct vsock_conn *c = &v->conns[conn];
	enum vsock_state was = c->state;
	queue_rst(v, c->host_port, c->guest_port);
	free_conn(c);
	if (!tell_host)
		return;
	if (was == VSOCK_CONNECTING) {
		if (v->host.connected)
			v->host.connected(v->host.ctx, conn, -ECONNRESET);
	} else if (v->host.closed) {
		v->host.closed(v->host.ctx, conn);
	}
}

static bool listening(const struct virtio_vsock *v, uint32_t port)
{
	for (unsigned i = 0; i < v->nlisten; i++)
		if (v->listen[i] == port)
			return true;
	return false;
}

/* What the guest may still receive from us on this connection. */
static uint32_t peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* ---- guest -> host: the transmit queue ---- */

static void on_packet(struct virtio_vsock *v, const struct hdr *h, const struct vq_chain *ch)
{
	struct virtqueue *vq = &v->dev.vq[VSOCK_TXQ];
	int id = find(v, h->dst_port, h->src_port);
	struct vsock_conn *c = id >= 0 ? &v->conns[id] : NULL;
	if (h->len > ch->readable_len - VSOCK_HDR_LEN || h->len > VSOCK_MAX_PKT) {
		v->malformed++;
		if (c)
			drop_conn(v, id, true);
		else if (h->op != VIRTIO_VSOCK_OP_RST)
			queue_rst(v, h->dst_port, h->src_port);
		return;
	}
	if (h->type != VIRTIO_VSOCK_TYPE_STREAM) {
		v->malformed++;
		if (h->op != VIRTIO_VSOCK_OP_RST)
			queue_rst(v, h->dst_port, h->src_port);
		return;
	}
	if (!c) {
		if (h->op == VIRTIO_VSOCK_OP_REQUEST) {
			int r = -ECONNREFUSED;
			if (listening(v, h->dst_port)) {
				r = alloc_conn(v, h->dst_port, h->src_port, VSOCK_ESTABLISHED);
				if (r == -ENOSPC)
					v->table_full++;
			}
			if (r < 0) {
				v->refused++;
				queue_rst(v, h->dst_port, h->src_port);
				return;
			}
			c = &v->conns[r];
			c->peer_buf_alloc = h->buf_alloc;
			c->peer_fwd_cnt = h->fwd_cnt;
			c->pending = P_RESPONSE;
			/* Nothing leaves for the guest while the host decides: data it
			 * queues from accept must follow the RESPONSE, not race it. */
			bool was = v->in_pump;
			v->in_pump = true;
			int a = v->host.accept ? v->host.accept(v->host.ctx, r, h->dst_port, h->src_port) : 0;
			v->in_pump = was;
			if (a < 0 && get(v, r)) {
				v->refused++;
				drop_conn(v, r, false);
			}
		} else if (h->op != VIRTIO_VSOCK_OP_RST) {
			/* Nothing is connected there: tell the guest so. */
			queue_rst(v, h->dst_port, h->src_port);
		}
		return;
	}
	/* Every packet carries the guest's current credit. */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->credit_requested = false;
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != VSOCK_CONNECTING) {
			v->malformed++;
			drop_conn(v, id, true);
			return;
		}
		c->state = VSOCK_ESTABLISHED;
		if (v->host.connected)
			v->host.connected(v->host.ctx, id, 0);
		return;
	case VIRTIO_VSOCK_OP_RST: {
		enum vsock_state was = c->state;
		free_conn(c);
		if (was == VSOCK_CONNECTING) {
			if (v->host.connected)
				v->host.connected(v->host.ctx, id, -ECONNREFUSED);
		} else if (v->host.closed) {
			v->host.closed(v->host.ctx, id);
		}
		return;
	}
	case VIRTIO_VSOCK_OP_SHUTDOWN: {
		if (c->state == VSOCK_CONNECTING) {
			v->malformed++;
			drop_conn(v, id, true);
			return;
		}
		uint32_t f = h->flags & (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
		c->peer_shut |= f;
		if (c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV)
			c->tx_len = 0; /* the guest reads no more: drop what waits for it */
		if (f && v->host.shutdown)
			v->host.shutdown(v->host.ctx, id, c->peer_shut);
		c = get(v, id);
		if (c && c->peer_shut == (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND))
			drop_conn(v, id, true); /* the guest waits for our RST to finish its close */
		return;
	}
	case VIRTIO_VSOCK_OP_RW: {
		if (c->state == VSOCK_CONNECTING) {
			v->malformed++;
			drop_conn(v, id, true);
			return;
		}
		uint32_t used = c->rx_cnt - c->fwd_cnt;
		if (h->len > VSOCK_HOST_BUF_ALLOC - used) {
			v->credit_violations++;
			drop_conn(v, id, true);
			return;
		}
		if (h->len == 0)
			return;
		if (vq_chain_read(vq, ch, VSOCK_HDR_LEN, v->payload, h->len) != h->len) {
			v->malformed++;
			drop_conn(v, id, true);
			return;
		}
		c->rx_cnt += h->len;
		v->rx_bytes += h->len;
		if (v->host.recv)
			v->host.recv(v->host.ctx, id, v->payload, h->len);
		return;
	}
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		return; /* the credit was taken above */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pending |= P_CREDIT_UPDATE;
		return;
	default: /* REQUEST on a live connection, INVALID, unknown ops */
		v->malformed++;
		drop_conn(v, id, true);
		return;
	}
}

static void vsock_tx(struct virtio_vsock *v)
{
	struct virtqueue *vq = &v->dev.vq[VSOCK_TXQ];
	struct vq_chain *ch = &v->tx_chain;
	while (vq_pop(vq, ch) == 1) {
		struct hdr h;
		if (ch->readable_len < VSOCK_HDR_LEN ||
		    vq_chain_read(vq, ch, 0, &h, sizeof(h)) != sizeof(h)) {
			v->bad_packets++;
		} else if (h.src_cid != v->guest_cid || h.dst_cid != VSOCK_HOST_CID) {
			v->bad_cid++;
		} else {
			on_packet(v, &h, ch);
		}
		if (vq_push(vq, ch, 0) < 0)
			break;
	}
	virtio_queue_done(&v->dev, VSOCK_TXQ);
	pump_rx(v);
}

/* ---- host -> guest: the receive queue ---- */

enum pick_kind { PICK_NONE, PICK_RST, PICK_CONTROL, PICK_DATA };

struct pick {
	enum pick_kind kind;
	int conn;
	uint16_t op;
};

/* Data still flows while a close waits for its queued bytes to leave. */
static bool is_open(const struct vsock_conn *c)
{
	return c->state == VSOCK_ESTABLISHED || c->state == VSOCK_CLOSING;
}

static bool data_ready(const struct vsock_conn *c)
{
	return is_open(c) && c->tx_len && peer_credit(c) > 0;
}

/* The next packet owed to the guest, chosen without side effects: requests
 * and responses first, then data, then credit and shutdown notices. */
static bool conn_pick(const struct vsock_conn *c, struct pick *p)
{
	if (c->state == VSOCK_FREE)
		return false;
	p->kind = PICK_CONTROL;
	if (c->pending & P_REQUEST)
		p->op = VIRTIO_VSOCK_OP_REQUEST;
	else if (c->pending & P_RESPONSE)
		p->op = VIRTIO_VSOCK_OP_RESPONSE;
	else if (data_ready(c))
		p->kind = PICK_DATA, p->op = VIRTIO_VSOCK_OP_RW;
	else if (c->pending & P_CREDIT_UPDATE)
		p->op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	else if (is_open(c) && c->tx_len && !c->credit_requested)
		p->op = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
	else if ((c->pending & P_SHUTDOWN) && c->tx_len == 0)
		p->op = VIRTIO_VSOCK_OP_SHUTDOWN;
	else
		return false;
	return true;
}

static bool pick_next(struct virtio_vsock *v, struct pick *p)
{
	if (v->rst_len) {
		p->kind = PICK_RST;
		return true;
	}
	for (unsigned k = 0; k < VSOCK_MAX_CONNS; k++) {
		int i = (int)((v->rr + k) % VSOCK_MAX_CONNS);
		if (conn_pick(&v->conns[i], p)) {
			p->conn = i;
			return true;
		}
	}
	return false;
}

static void fill_hdr(struct virtio_vsock *v, struct hdr *h, uint32_t host_port,
                     uint32_t guest_port, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = v->guest_cid;
	h->src_port = host_port;
	h->dst_port = guest_port;
	h->type = VIRTIO_VSOCK_TYPE_STREAM;
	h->op = op;
}

/* Write the picked packet into chain ch; returns the bytes written. */
static uint32_t emit(struct virtio_vsock *v, const struct pick *p, const struct vq_chain *ch)
{
	struct virtqueue *vq = &v->dev.vq[VSOCK_RXQ];
	struct hdr h;
	if (p->kind == PICK_RST) {
		struct vsock_rst r = v->rsts[v->rst_head];
		v->rst_head = (v->rst_head + 1) % VSOCK_RST_QUEUE;
		v->rst_len--;
		fill_hdr(v, &h, r.host_port, r.guest_port, VIRTIO_VSOCK_OP_RST);
		v->rst_sent++;
		vq_chain_write(vq, ch, 0, &h, sizeof(h));
		return VSOCK_HDR_LEN;
	}
	struct vsock_conn *c = &v->conns[p->conn];
	v->rr = (unsigned)(p->conn + 1) % VSOCK_MAX_CONNS;
	uint16_t op = p->op;
	uint32_t len = 0;
	if (p->kind == PICK_DATA) {
		uint64_t room = ch->writable_len - VSOCK_HDR_LEN;
		len = c->tx_len;
		if (len > peer_credit(c))
			len = peer_credit(c);
		if (len > VSOCK_MAX_PKT)
			len = VSOCK_MAX_PKT;
		if (len > room)
			len = (uint32_t)room;
		if (len == 0) /* a receive buffer with no room for data: say something useful */
			op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	}
	fill_hdr(v, &h, c->host_port, c->guest_port, op);
	h.len = len;
	h.buf_alloc = VSOCK_HOST_BUF_ALLOC;
	h.fwd_cnt = c->fwd_cnt;
	switch (op) {
	case VIRTIO_VSOCK_OP_REQUEST: c->pending &= ~(unsigned)P_REQUEST; break;
	case VIRTIO_VSOCK_OP_RESPONSE: c->pending &= ~(unsigned)P_RESPONSE; break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST: c->credit_requested = true; break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		c->pending &= ~(unsigned)P_SHUTDOWN;
		h.flags = c->shut_flags;
		break;
	default: break;
	}
	/* Any packet tells the guest our fwd_cnt: no separate update is owed. */
	c->pending &= ~(unsigned)P_CREDIT_UPDATE;
	c->last_fwd_sent = c->fwd_cnt;
	vq_chain_write(vq, ch, 0, &h, sizeof(h));
	if (len) {
		uint32_t first = VSOCK_HOST_TXBUF - c->tx_head;
		if (first > len)
			first = len;
		vq_chain_write(vq, ch, VSOCK_HDR_LEN, c->txbuf + c->tx_head, first);
		if (len > first)
			vq_chain_write(vq, ch, VSOCK_HDR_LEN + first, c->txbuf, len - first);
		c->tx_head = (c->tx_head + len) % VSOCK_HOST_TXBUF;
		c->tx_len -= len;
		c->tx_cnt += len;
		v->tx_bytes += len;
	}
	return VSOCK_HDR_LEN + len;
}

static void pump_rx(struct virtio_vsock *v)
{
	/* Callbacks below may call send() etc.; the outer loop picks that up. */
	if (v->in_pump || !v->dev.active)
		return;
	v->in_pump = true;
	struct virtqueue *vq = &v->dev.vq[VSOCK_RXQ];
	struct vq_chain *ch = &v->rx_chain;
	bool pushed = false;
	struct pick p;
	while (pick_next(v, &p)) {
		if (vq_pop(vq, ch) != 1)
			break;
		uint32_t n = 0;
		if (ch->writable_len < VSOCK_HDR_LEN)
			v->bad_rx_chains++; /* cannot hold a header: returned empty */
		else
			n = emit(v, &p, ch);
		pushed = true;
		if (vq_push(vq, ch, n) < 0)
			break;
	}
	if (pushed || vq->broken)
		virtio_queue_done(&v->dev, VSOCK_RXQ);
	v->in_pump = false;
	for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];
		if (c->state != VSOCK_FREE && c->send_blocked && c->tx_len < VSOCK_HOST_TXBUF) {
			c->send_blocked = false;
			if (v->host.send_space)
				v->host.send_space(v->host.ctx, i);
		}
	}
}

/* ---- the host's side ---- */

int virtio_vsock_listen(struct virtio_vsock *v, uint32_t port)
{
	if (listening(v, port))
		return -EEXIST;
	if (v->nlisten == VSOCK_MAX_LISTEN)
		return -ENOSPC;
	v->listen[v->nlisten++] = port;
	return 0;
}

void virtio_vsock_unlisten(struct virtio_vsock *v, uint32_t port)
{
	for (unsigned i = 0; i < v->nlisten; i++)
		if (v->listen[i] == port) {
			v->listen[i] = v->listen[--v->nlisten];
			return;
		}
}

static bool port_in_use(const struct virtio_vsock *v, uint32_t port)
{
	if (listening(v, port))
		return true;
	for (int i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns[i].state != VSOCK_FREE && v->conns[i].host_port == port)
			return true;
	return false;
}

int virtio_vsock_connect(struct virtio_vsock *v, uint32_t guest_port)
{
	if (!v->dev.active)
		return -ENOTCONN;
	uint32_t port = v->next_port;
	/* At most VSOCK_MAX_CONNS + VSOCK_MAX_LISTEN ports are taken: this ends. */
	while (port_in_use(v, port))
		port = port >= 65535 ? VSOCK_EPHEMERAL_FIRST : port + 1;
	int id = alloc_conn(v, port, guest_port, VSOCK_CONNECTING);
	if (id < 0)
		return id;
	v->next_port = port >= 65535 ? VSOCK_EPHEMERAL_FIRST : port + 1;
	v->conns[id].pending = P_REQUEST;
	pump_rx(v);
	return id;
}

ssize_t virtio_vsock_send(struct virtio_vsock *v, int conn, const void *data, size_t len)
{
	struct vsock_conn *c = get(v, conn);
	if (!c || c->state == VSOCK_CONNECTING)
		return -ENOTCONN;
	if ((c->shut_flags & VIRTIO_VSOCK_SHUTDOWN_SEND) || (c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) ||
	    c->state == VSOCK_CLOSING)
		return -EPIPE;
	uint32_t room = VSOCK_HOST_TXBUF - c->tx_len;
	if (room == 0) {
		c->send_blocked = true;
		return -EAGAIN;
	}
	uint32_t n = len < room ? (uint32_t)len : room;
	uint32_t tail = (c->tx_head + c->tx_len) % VSOCK_HOST_TXBUF;
	uint32_t first = VSOCK_HOST_TXBUF - tail < n ? VSOCK_HOST_TXBUF - tail : n;
	memcpy(c->txbuf + tail, data, first);
	memcpy(c->txbuf, (const uint8_t *)data + first, n - first);
	c->tx_len += n;
	pump_rx(v);
	return (ssize_t)n;
}

int virtio_vsock_consumed(struct virtio_vsock *v, int conn, uint32_t n)
{
	struct vsock_conn *c = get(v, conn);
	if (!c)
		return -ENOTCONN;
	if (n > c->rx_cnt - c->fwd_cnt)
		return -EINVAL;
	c->fwd_cnt += n;
	/* The guest's view of our free space; tell it once that drops below a packet. */
	uint32_t seen_free = VSOCK_HOST_BUF_ALLOC - (c->rx_cnt - c->last_fwd_sent);
	if (seen_free < VSOCK_MAX_PKT && c->fwd_cnt != c->last_fwd_sent) {
		c->pending |= P_CREDIT_UPDATE;
		pump_rx(v);
	}
	return 0;
}

int virtio_vsock_shutdown(struct virtio_vsock *v, int conn, uint32_t flags)
{
	struct vsock_conn *c = get(v, conn);
	if (!c || c->state == VSOCK_CONNECTING)
		return -ENOTCONN;
	flags &= VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	if (!flags || (c->shut_flags | flags) == c->shut_flags)
		return 0;
	c->shut_flags |= flags;
	c->pending |= P_SHUTDOWN;
	pump_rx(v);
	return 0;
}

int virtio_vsock_close(struct virtio_vsock *v, int conn)
{
	struct vsock_conn *c = get(v, conn);
	if (!c)
		return -ENOTCONN;
	if (c->state == VSOCK_CONNECTING)
		return virtio_vsock_reset(v, conn);
	int r = virtio_vsock_shutdown(v, conn, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	if ((c = get(v, conn)))
		c->state = VSOCK_CLOSING;
	return r;
}

int virtio_vsock_reset(struct virtio_vsock *v, int conn)
{
	if (!get(v, conn))
		return -ENOTCONN;
	drop_conn(v, conn, false);
	pump_rx(v);
	return 0;
}

int virtio_vsock_conn_ports(const struct virtio_vsock *v, int conn, uint32_t *host_port,
                            uint32_t *guest_port)
{
	if (conn < 0 || conn >= VSOCK_MAX_CONNS || v->conns[conn].state == VSOCK_FREE)
		return -ENOTCONN;
	*host_port = v->conns[conn].host_port;
	*guest_port = v->conns[conn].guest_port;
	return 0;
}

/* ---- device ops ---- */

static void vsock_notify(struct virtio_device *d, unsigned q)
{
	struct virtio_vsock *v = d->priv;
	if (q == VSOCK_TXQ)
		vsock_tx(v);
	else if (q == VSOCK_RXQ)
		pump_rx(v);
	/* VSOCK_EVQ: the driver's event buffers stay with us; no event is ever sent. */
}

static void vsock_reset(struct virtio_device *d)
{
	struct virtio_vsock *v = d->priv;
	/* The guest forgot every connection: so do we, and the host hears of it. */
	v->rst_len = v->rst_head = 0;
	for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];
		if (c->state == VSOCK_FREE)
			continue;
		enum vsock_state was = c->state;
		free_conn(c);
		if (was == VSOCK_CONNECTING) {
			if (v->host.connected)
				v->host.connected(v->host.ctx, i, -ECONNRESET);
		} else if (v->host.closed) {
			v->host.closed(v->host.ctx, i);
		}
	}
}

static void vsock_config_read(struct virtio_device *d, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_vsock *v = d->priv;
	uint8_t raw[8];
	memcpy(raw, &v->guest_cid, 8);
	memcpy(buf, raw + off, len);
}

const struct virtio_device_ops virtio_vsock_ops = {
	.name = "vsock", .device_id = VIRTIO_ID_VSOCK, .num_queues = 3,
	.queue_max = VSOCK_QUEUE_SIZE, .features = 0, .config_size = 8,
	.config_read = vsock_config_read, .queue_notify = vsock_notify, .reset = vsock_reset,
};

void virtio_vsock_init(struct virtio_vsock *v, uint64_t guest_cid, const struct vsock_host *host)
{
	memset(v, 0, sizeof(*v));
	v->guest_cid = guest_cid ? guest_cid : VSOCK_DEFAULT_GUEST_CID;
	if (host)
		v->host = *host;
	v->next_port = VSOCK_EPHEMERAL_FIRST;
	v->dev.ops = &virtio_vsock_ops;
	v->dev.priv = v;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	for (int i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns[i].state != VSOCK_FREE)
			free_conn(&v->conns[i]);
}
