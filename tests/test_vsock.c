/* virtio-vsock: connections both ways (accepted, refused), data both ways
 * under credit limits, CREDIT_REQUEST/UPDATE, shutdown and close, malformed
 * packets, the bounded connection table, device reset. The test plays the
 * guest's vsock stack on top of tests/lib/vdriver. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "devices/vsock.h"
#include "lib/vdriver.h"

#define RXBUF (VSOCK_HDR_LEN + 4096)
#define NRX 8
#define GCID 3

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

static struct vdriver drv;
static struct virtio_vsock vs;
static uint64_t rx_gpa[VD_QSZ];
static uint64_t tx_area;

/* What the host side saw. */
static int accepts, accept_result, connected_calls, connected_result, closed_calls,
	shutdown_calls, send_space_calls, last_conn;
static uint32_t last_shutdown_flags, acc_hport, acc_gport;
static uint8_t recvd[1 << 20];
static size_t recvd_len;

static int h_accept(void *ctx, int conn, uint32_t hp, uint32_t gp)
{
	accepts++;
	last_conn = conn;
	acc_hport = hp;
	acc_gport = gp;
	return accept_result;
}
static void h_connected(void *ctx, int conn, int r)
{
	connected_calls++;
	connected_result = r;
	last_conn = conn;
}
static void h_recv(void *ctx, int conn, const void *d, size_t len)
{
	assert_true(recvd_len + len <= sizeof(recvd));
	memcpy(recvd + recvd_len, d, len);
	recvd_len += len;
}
static void h_shutdown(void *ctx, int conn, uint32_t f)
{
	shutdown_calls++;
	last_shutdown_flags = f;
}
static void h_closed(void *ctx, int conn)
{
	closed_calls++;
	last_conn = conn;
}
static void h_send_space(void *ctx, int conn) { send_space_calls++; }

static void post_rx(uint64_t gpa)
{
	struct vd_seg seg = { gpa, RXBUF, true };
	uint16_t head = vd_submit(&drv, VSOCK_RXQ, &seg, 1);
	rx_gpa[head] = gpa;
}

static void start(uint64_t cid, unsigned nrx)
{
	struct vsock_host h = { .accept = h_accept, .connected = h_connected, .recv = h_recv,
	                        .shutdown = h_shutdown, .closed = h_closed,
	                        .send_space = h_send_space };
	virtio_vsock_init(&vs, cid, &h);
	accepts = accept_result = connected_calls = connected_result = closed_calls = 0;
	shutdown_calls = send_space_calls = 0;
	last_conn = -1;
	recvd_len = 0;
	assert_int_equal(vd_start(&drv, &vs.dev, 0, 3), 15);
	tx_area = vd_alloc(&drv, VSOCK_HDR_LEN + VSOCK_MAX_PKT + 16);
	for (unsigned i = 0; i < nrx; i++)
		post_rx(vd_alloc(&drv, RXBUF));
}

static int setup(void **s)
{
	start(0, NRX);
	return 0;
}

static int teardown(void **s)
{
	virtio_vsock_destroy(&vs);
	vd_stop(&drv);
	return 0;
}

/* The guest sends one packet (header and payload in separate descriptors). */
static void g_send_full(uint64_t src_cid, uint64_t dst_cid, uint32_t sport, uint32_t dport,
                        uint16_t type, uint16_t op, uint32_t flags, uint32_t buf_alloc,
                        uint32_t fwd_cnt, const void *data, uint32_t len, uint32_t claimed_len)
{
	struct hdr h = { src_cid, dst_cid, sport, dport, claimed_len, type, op, flags, buf_alloc,
	                 fwd_cnt };
	memcpy(vd_ptr(&drv, tx_area, sizeof(h)), &h, sizeof(h));
	struct vd_seg segs[2] = { { tx_area, VSOCK_HDR_LEN, false },
	                          { tx_area + 64, len, false } };
	if (len)
		memcpy(vd_ptr(&drv, tx_area + 64, len), data, len);
	vd_submit(&drv, VSOCK_TXQ, segs, len ? 2 : 1);
	uint32_t id, l;
	assert_true(vd_used(&drv, VSOCK_TXQ, &id, &l));
	assert_int_equal(l, 0);
}

static void g_send(uint32_t sport, uint32_t dport, uint16_t op, uint32_t flags,
                   uint32_t buf_alloc, uint32_t fwd_cnt, const void *data, uint32_t len)
{
	g_send_full(GCID, VSOCK_HOST_CID, sport, dport, VIRTIO_VSOCK_TYPE_STREAM, op, flags,
	            buf_alloc, fwd_cnt, data, len, len);
}

/* The guest takes the next packet from its receive queue (and reposts the buffer). */
static bool g_recv(struct hdr *h, uint8_t *data)
{
	uint32_t id, len;
	if (!vd_used(&drv, VSOCK_RXQ, &id, &len))
		return false;
	assert_true(len >= VSOCK_HDR_LEN);
	uint64_t gpa = rx_gpa[id];
	memcpy(h, vd_ptr(&drv, gpa, VSOCK_HDR_LEN), VSOCK_HDR_LEN);
	assert_int_equal(len, VSOCK_HDR_LEN + h->len);
	assert_int_equal(h->src_cid, VSOCK_HOST_CID);
	assert_int_equal(h->dst_cid, vs.guest_cid);
	assert_int_equal(h->type, VIRTIO_VSOCK_TYPE_STREAM);
	if (h->len && data)
		memcpy(data, vd_ptr(&drv, gpa + VSOCK_HDR_LEN, h->len), h->len);
	post_rx(gpa);
	return true;
}

static void expect(uint16_t op, uint32_t hport, uint32_t gport, struct hdr *out)
{
	struct hdr h;
	assert_true(g_recv(&h, NULL));
	assert_int_equal(h.op, op);
	assert_int_equal(h.src_port, hport);
	assert_int_equal(h.dst_port, gport);
	if (out)
		*out = h;
}

/* The guest connects from gport to the listening hport; returns the conn id. */
static int g_connect(uint32_t gport, uint32_t hport, uint32_t buf_alloc)
{
	int before = accepts;
	g_send(gport, hport, VIRTIO_VSOCK_OP_REQUEST, 0, buf_alloc, 0, NULL, 0);
	assert_int_equal(accepts, before + 1);
	struct hdr h;
	expect(VIRTIO_VSOCK_OP_RESPONSE, hport, gport, &h);
	assert_int_equal(h.buf_alloc, VSOCK_HOST_BUF_ALLOC);
	assert_int_equal(h.fwd_cnt, 0);
	return last_conn;
}

static void test_config_cid(void **s)
{
	assert_int_equal(vd_cfg_read(&drv, 0, 4), 3);
	assert_int_equal(vd_cfg_read(&drv, 4, 4), 0);
	teardown(s);
	start(0x100000042ull, NRX);
	assert_int_equal(vd_cfg_read(&drv, 0, 4), 0x42);
	assert_int_equal(vd_cfg_read(&drv, 4, 4), 1);
	assert_int_equal(vd_cfg_read(&drv, 0, 8), 0x100000042ull);
}

static void test_guest_connect_and_data(void **s)
{
	assert_int_equal(virtio_vsock_listen(&vs, 1234), 0);
	assert_int_equal(virtio_vsock_listen(&vs, 1234), -EEXIST);
	int c = g_connect(40000, 1234, 65536);
	assert_int_equal(acc_hport, 1234);
	assert_int_equal(acc_gport, 40000);
	uint32_t hp, gp;
	assert_int_equal(virtio_vsock_conn_ports(&vs, c, &hp, &gp), 0);
	assert_int_equal(hp, 1234);
	assert_int_equal(gp, 40000);
	g_send(40000, 1234, VIRTIO_VSOCK_OP_RW, 0, 65536, 0, "hello", 5);
	assert_int_equal(recvd_len, 5);
	assert_memory_equal(recvd, "hello", 5);
	assert_int_equal(virtio_vsock_send(&vs, c, "world!", 6), 6);
	struct hdr h;
	uint8_t data[4096];
	assert_true(g_recv(&h, data));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.len, 6);
	assert_memory_equal(data, "world!", 6);
	assert_int_equal(h.fwd_cnt, 0); /* the host has not consumed "hello" yet */
	assert_int_equal(virtio_vsock_consumed(&vs, c, 5), 0);
	assert_int_equal(virtio_vsock_consumed(&vs, c, 1), -EINVAL);
	assert_int_equal(virtio_vsock_send(&vs, c, "x", 1), 1);
	assert_true(g_recv(&h, data));
	assert_int_equal(h.fwd_cnt, 5);
	assert_false(g_recv(&h, data));
}

static void test_guest_connect_refused(void **s)
{
	/* Nothing listens: RST, and the host never hears of it. */
	g_send(40001, 999, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, 999, 40001, NULL);
	assert_int_equal(accepts, 0);
	assert_int_equal(vs.refused, 1);
	/* Listening, but the host says no. */
	virtio_vsock_listen(&vs, 77);
	accept_result = -ECONNREFUSED;
	g_send(40002, 77, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0, NULL, 0);
	assert_int_equal(accepts, 1);
	expect(VIRTIO_VSOCK_OP_RST, 77, 40002, NULL);
	assert_false(g_recv(&(struct hdr){ 0 }, NULL));
	assert_int_equal(virtio_vsock_conn_ports(&vs, last_conn, &(uint32_t){ 0 }, &(uint32_t){ 0 }),
	                 -ENOTCONN);
	/* Unlistened again: refused. */
	accept_result = 0;
	virtio_vsock_unlisten(&vs, 77);
	g_send(40003, 77, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, 77, 40003, NULL);
}

static void test_host_connect(void **s)
{
	int c = virtio_vsock_connect(&vs, 5000);
	assert_true(c >= 0);
	struct hdr h;
	expect(VIRTIO_VSOCK_OP_REQUEST, VSOCK_EPHEMERAL_FIRST, 5000, &h);
	assert_int_equal(h.buf_alloc, VSOCK_HOST_BUF_ALLOC);
	assert_int_equal(virtio_vsock_send(&vs, c, "early", 5), -ENOTCONN);
	g_send(5000, VSOCK_EPHEMERAL_FIRST, VIRTIO_VSOCK_OP_RESPONSE, 0, 4096, 0, NULL, 0);
	assert_int_equal(connected_calls, 1);
	assert_int_equal(connected_result, 0);
	assert_int_equal(last_conn, c);
	assert_int_equal(virtio_vsock_send(&vs, c, "hi", 2), 2);
	expect(VIRTIO_VSOCK_OP_RW, VSOCK_EPHEMERAL_FIRST, 5000, NULL);
	/* Refused: the guest answers RST; the connection is gone. */
	int c2 = virtio_vsock_connect(&vs, 5001);
	assert_true(c2 >= 0 && c2 != c);
	expect(VIRTIO_VSOCK_OP_REQUEST, VSOCK_EPHEMERAL_FIRST + 1, 5001, NULL);
	g_send(5001, VSOCK_EPHEMERAL_FIRST + 1, VIRTIO_VSOCK_OP_RST, 0, 0, 0, NULL, 0);
	assert_int_equal(connected_calls, 2);
	assert_int_equal(connected_result, -ECONNREFUSED);
	assert_int_equal(virtio_vsock_send(&vs, c2, "x", 1), -ENOTCONN);
	assert_int_equal(closed_calls, 0);
	/* Not before the driver runs. */
	vd_write32(&drv, 0x70, 0);
	assert_int_equal(closed_calls, 1); /* the reset closed c */
	assert_int_equal(virtio_vsock_connect(&vs, 5002), -ENOTCONN);
}

static void test_host_to_guest_credit(void **s)
{
	virtio_vsock_listen(&vs, 80);
	int c = g_connect(41000, 80, 1000); /* the guest buffers only 1000 bytes */
	static uint8_t big[3000];
	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 31);
	assert_int_equal(virtio_vsock_send(&vs, c, big, sizeof(big)), 3000);
	struct hdr h;
	uint8_t data[4096];
	assert_true(g_recv(&h, data));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.len, 1000);
	assert_memory_equal(data, big, 1000);
	/* Out of credit: one CREDIT_REQUEST, then silence. */
	expect(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 80, 41000, NULL);
	assert_false(g_recv(&h, data));
	/* The guest read 600 bytes: 600 more may come. */
	g_send(41000, 80, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 1000, 600, NULL, 0);
	assert_true(g_recv(&h, data));
	assert_int_equal(h.len, 600);
	assert_memory_equal(data, big + 1000, 600);
	expect(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 80, 41000, NULL);
	/* A bigger buffer: the rest flows, in receive-buffer-sized packets. */
	g_send(41000, 80, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 1 << 20, 1600, NULL, 0);
	assert_true(g_recv(&h, data));
	assert_int_equal(h.len, 1400);
	assert_memory_equal(data, big + 1600, 1400);
	assert_false(g_recv(&h, data));
	assert_int_equal(vs.conns[c].tx_cnt, 3000);
}

static void test_host_send_buffer_bound(void **s)
{
	virtio_vsock_listen(&vs, 81);
	int c = g_connect(41001, 81, 0); /* no credit at all */
	static uint8_t chunk[40000];
	memset(chunk, 'q', sizeof(chunk));
	assert_int_equal(virtio_vsock_send(&vs, c, chunk, sizeof(chunk)), 40000);
	assert_int_equal(virtio_vsock_send(&vs, c, chunk, sizeof(chunk)), VSOCK_HOST_TXBUF - 40000);
	assert_int_equal(virtio_vsock_send(&vs, c, chunk, 1), -EAGAIN);
	struct hdr h;
	expect(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 81, 41001, NULL);
	assert_int_equal(send_space_calls, 0);
	/* Credit arrives: data leaves, the host may send again. */
	g_send(41001, 81, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 1 << 20, 0, NULL, 0);
	uint32_t total = 0;
	uint8_t data[4096];
	while (g_recv(&h, data)) {
		assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
		assert_true(h.len <= 4096);
		total += h.len;
	}
	/* NRX buffers' worth went out; the guest reposted them, so all of it did. */
	assert_int_equal(total, VSOCK_HOST_TXBUF);
	assert_true(send_space_calls >= 1);
	assert_int_equal(virtio_vsock_send(&vs, c, chunk, 10), 10);
}

static void test_guest_to_host_credit(void **s)
{
	virtio_vsock_listen(&vs, 82);
	int c = g_connect(41002, 82, 65536);
	static uint8_t pkt[VSOCK_MAX_PKT];
	memset(pkt, 'g', sizeof(pkt));
	for (int i = 0; i < 4; i++) /* exactly our buf_alloc */
		g_send(41002, 82, VIRTIO_VSOCK_OP_RW, 0, 65536, 0, pkt, sizeof(pkt));
	assert_int_equal(recvd_len, VSOCK_HOST_BUF_ALLOC);
	struct hdr h;
	assert_false(g_recv(&h, NULL));
	/* The host drains some: the guest, which saw no room, hears of it. */
	assert_int_equal(virtio_vsock_consumed(&vs, c, 100000), 0);
	expect(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 82, 41002, &h);
	assert_int_equal(h.fwd_cnt, 100000);
	/* Consuming more while the guest already knows there is room: no packet. */
	assert_int_equal(virtio_vsock_consumed(&vs, c, 1000), 0);
	assert_false(g_recv(&h, NULL));
	/* The guest asks explicitly. */
	g_send(41002, 82, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 65536, 0, NULL, 0);
	expect(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 82, 41002, &h);
	assert_int_equal(h.fwd_cnt, 101000);
	/* Beyond the credit it was given: the connection is reset. */
	g_send(41002, 82, VIRTIO_VSOCK_OP_RW, 0, 65536, 0, pkt, sizeof(pkt));
	g_send(41002, 82, VIRTIO_VSOCK_OP_RW, 0, 65536, 0, pkt, sizeof(pkt));
	assert_int_equal(vs.credit_violations, 1);
	expect(VIRTIO_VSOCK_OP_RST, 82, 41002, NULL);
	assert_int_equal(closed_calls, 1);
	assert_int_equal(recvd_len, VSOCK_HOST_BUF_ALLOC + VSOCK_MAX_PKT);
}

static void test_shutdown_and_close(void **s)
{
	virtio_vsock_listen(&vs, 83);
	int c = g_connect(41003, 83, 65536);
	/* The guest stops sending; later closes both ways and waits for our RST. */
	g_send(41003, 83, VIRTIO_VSOCK_OP_SHUTDOWN, 0, VIRTIO_VSOCK_SHUTDOWN_SEND, 65536, NULL, 0);
	g_send(41003, 83, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, 65536, 0, NULL, 0);
	assert_int_equal(shutdown_calls, 1);
	assert_int_equal(last_shutdown_flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(virtio_vsock_send(&vs, c, "still", 5), 5); /* it still reads */
	expect(VIRTIO_VSOCK_OP_RW, 83, 41003, NULL);
	g_send(41003, 83, VIRTIO_VSOCK_OP_SHUTDOWN, 3, 65536, 0, NULL, 0);
	assert_int_equal(last_shutdown_flags, 3);
	expect(VIRTIO_VSOCK_OP_RST, 83, 41003, NULL);
	assert_int_equal(closed_calls, 1);
	assert_int_equal(virtio_vsock_send(&vs, c, "x", 1), -ENOTCONN);

	/* Host side: shutdown(SEND) goes out after the queued data. */
	c = g_connect(41004, 83, 65536);
	assert_int_equal(virtio_vsock_send(&vs, c, "bye", 3), 3);
	struct hdr h;
	expect(VIRTIO_VSOCK_OP_RW, 83, 41004, NULL);
	assert_int_equal(virtio_vsock_shutdown(&vs, c, VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
	expect(VIRTIO_VSOCK_OP_SHUTDOWN, 83, 41004, &h);
	assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(virtio_vsock_send(&vs, c, "more", 4), -EPIPE);
	g_send(41004, 83, VIRTIO_VSOCK_OP_RW, 0, 65536, 0, "reply", 5); /* still receives */
	assert_memory_equal(recvd, "reply", 5);
	/* close(): data first, then SHUTDOWN both; freed on the guest's RST. */
	int c3 = g_connect(41005, 83, 0); /* no credit yet: the data must wait */
	assert_int_equal(virtio_vsock_send(&vs, c3, "last words", 10), 10);
	expect(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 83, 41005, NULL);
	assert_int_equal(virtio_vsock_close(&vs, c3), 0);
	assert_false(g_recv(&h, NULL)); /* no SHUTDOWN ahead of the data */
	g_send(41005, 83, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 65536, 0, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RW, 83, 41005, &h);
	assert_int_equal(h.len, 10);
	expect(VIRTIO_VSOCK_OP_SHUTDOWN, 83, 41005, &h);
	assert_int_equal(h.flags, 3);
	int closed_before = closed_calls;
	g_send(41005, 83, VIRTIO_VSOCK_OP_RST, 0, 65536, 0, NULL, 0);
	assert_int_equal(closed_calls, closed_before + 1);
	assert_int_equal(last_conn, c3);
	/* reset(): RST at once, no callback. */
	assert_int_equal(virtio_vsock_reset(&vs, c), 0);
	expect(VIRTIO_VSOCK_OP_RST, 83, 41004, NULL);
	assert_int_equal(closed_calls, closed_before + 1);
	assert_int_equal(virtio_vsock_reset(&vs, c), -ENOTCONN);
}

static void test_malformed(void **s)
{
	virtio_vsock_listen(&vs, 84);
	int c = g_connect(41006, 84, 65536);
	struct hdr h;
	/* Wrong source or destination CID: dropped, nothing answered. */
	g_send_full(7, VSOCK_HOST_CID, 41006, 84, VIRTIO_VSOCK_TYPE_STREAM, VIRTIO_VSOCK_OP_RW, 0,
	            65536, 0, "spoof", 5, 5);
	g_send_full(GCID, 9, 41006, 84, VIRTIO_VSOCK_TYPE_STREAM, VIRTIO_VSOCK_OP_REQUEST, 0,
	            65536, 0, NULL, 0, 0);
	assert_int_equal(vs.bad_cid, 2);
	assert_int_equal(recvd_len, 0);
	assert_false(g_recv(&h, NULL));
	/* Shorter than a header. */
	uint64_t tiny = vd_alloc(&drv, 20);
	struct vd_seg seg = { tiny, 20, false };
	vd_submit(&drv, VSOCK_TXQ, &seg, 1);
	uint32_t id, len;
	assert_true(vd_used(&drv, VSOCK_TXQ, &id, &len));
	assert_int_equal(vs.bad_packets, 1);
	/* Not a stream socket: RST, the connection untouched. */
	g_send_full(GCID, VSOCK_HOST_CID, 41006, 84, 2, VIRTIO_VSOCK_OP_RW, 0, 65536, 0, "x", 1, 1);
	expect(VIRTIO_VSOCK_OP_RST, 84, 41006, NULL);
	assert_int_equal(closed_calls, 0);
	/* Data for a connection that does not exist: RST. A stray RST: nothing. */
	g_send(41999, 84, VIRTIO_VSOCK_OP_RW, 0, 65536, 0, "x", 1);
	expect(VIRTIO_VSOCK_OP_RST, 84, 41999, NULL);
	g_send(41999, 84, VIRTIO_VSOCK_OP_RST, 0, 65536, 0, NULL, 0);
	assert_false(g_recv(&h, NULL));
	/* len beyond the buffer: RST, the connection is reset, nothing delivered. */
	g_send_full(GCID, VSOCK_HOST_CID, 41006, 84, VIRTIO_VSOCK_TYPE_STREAM, VIRTIO_VSOCK_OP_RW, 0,
	            65536, 0, "abc", 3, 4000);
	expect(VIRTIO_VSOCK_OP_RST, 84, 41006, NULL);
	assert_int_equal(closed_calls, 1);
	assert_int_equal(last_conn, c);
	assert_int_equal(recvd_len, 0);
	/* An unknown op on a live connection: RST. */
	c = g_connect(41007, 84, 65536);
	g_send(41007, 84, 99, 0, 65536, 0, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, 84, 41007, NULL);
	assert_int_equal(closed_calls, 2);
	/* RESPONSE to nothing we asked for. */
	c = g_connect(41008, 84, 65536);
	g_send(41008, 84, VIRTIO_VSOCK_OP_RESPONSE, 0, 65536, 0, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, 84, 41008, NULL);
	assert_int_equal(closed_calls, 3);
	assert_int_equal(vs.malformed, 4);
}

static void test_connection_table_bound(void **s)
{
	virtio_vsock_listen(&vs, 85);
	for (int i = 0; i < VSOCK_MAX_CONNS; i++)
		g_connect(43000 + (uint32_t)i, 85, 65536);
	g_send(44000, 85, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, 85, 44000, NULL);
	assert_int_equal(vs.table_full, 1);
	assert_int_equal(accepts, VSOCK_MAX_CONNS);
	assert_int_equal(virtio_vsock_connect(&vs, 1), -ENOSPC);
	/* One closes; a new one fits. */
	g_send(43005, 85, VIRTIO_VSOCK_OP_RST, 0, 0, 0, NULL, 0);
	g_connect(44000, 85, 65536);
	/* A device reset closes them all. */
	vd_write32(&drv, 0x70, 0);
	assert_int_equal(closed_calls, VSOCK_MAX_CONNS + 1);
}

static void test_no_rx_buffers_then_some(void **s)
{
	teardown(s);
	start(0, 0);
	virtio_vsock_listen(&vs, 86);
	g_send(45000, 86, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0, NULL, 0);
	g_send(45001, 999, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0, NULL, 0);
	int c = last_conn;
	assert_int_equal(virtio_vsock_send(&vs, c, "queued", 6), 6);
	struct hdr h;
	assert_false(g_recv(&h, NULL));
	/* Buffers arrive: the RST first, then RESPONSE before the data. */
	for (int i = 0; i < 3; i++)
		post_rx(vd_alloc(&drv, RXBUF));
	expect(VIRTIO_VSOCK_OP_RST, 999, 45001, NULL);
	expect(VIRTIO_VSOCK_OP_RESPONSE, 86, 45000, NULL);
	uint8_t data[16];
	assert_true(g_recv(&h, data));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_memory_equal(data, "queued", 6);
}

static void test_rx_buffer_too_small(void **s)
{
	teardown(s);
	start(0, 0);
	/* A receive buffer that cannot hold a header comes back empty; the
	 * packet waits for the next one. */
	uint64_t small = vd_alloc(&drv, 16);
	struct vd_seg seg = { small, 16, true };
	vd_submit(&drv, VSOCK_RXQ, &seg, 1);
	post_rx(vd_alloc(&drv, RXBUF));
	g_send(45002, 999, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0, NULL, 0);
	uint32_t id, len;
	assert_true(vd_used(&drv, VSOCK_RXQ, &id, &len));
	assert_int_equal(len, 0);
	assert_int_equal(vs.bad_rx_chains, 1);
	expect(VIRTIO_VSOCK_OP_RST, 999, 45002, NULL);
}

static void test_hostile_chain(void **s)
{
	struct vd_seg seg = { VD_RAM - 8, 64, false };
	vd_submit(&drv, VSOCK_TXQ, &seg, 1);
	assert_true(vd_read32(&drv, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_config_cid), T(test_guest_connect_and_data), T(test_guest_connect_refused),
		T(test_host_connect), T(test_host_to_guest_credit), T(test_host_send_buffer_bound),
		T(test_guest_to_host_credit), T(test_shutdown_and_close), T(test_malformed),
		T(test_connection_table_bound), T(test_no_rx_buffers_then_some),
		T(test_rx_buffer_too_small),
		T(test_hostile_chain),
	};
	return cmocka_run_group_tests_name("vsock", tests, NULL, NULL);
}
