/* The vsock-to-host-socket bridge on its own (host/vsock_bridge.c,
 * host/vsock_backend.c, host/vsock_connect_server.c), without a vmm: a real
 * virtio_vsock device driven by a test guest (tests/lib/vsock_vd), the
 * backend as the device's host, and real Unix sockets whose far end the test
 * holds. The test is the poller: it fills, polls (never waits) and hands
 * back, as the vmm's vsock thread and vmm-device's loop do.
 *
 * What is checked: credit goes back to the guest only for bytes the host
 * socket took, and the out buffer stops at the device's buf_alloc; at most
 * VSOCK_BRIDGE_IN_BUF bytes are read ahead of a full device, nothing is
 * handed over after -EAGAIN until send_space; EOF and shutdown cross in both
 * directions only after the bytes before them; refusals become RST (guest
 * connects) or exactly one result (host connects); the CONNECT line server
 * answers "OK <port>\n" before any byte, and closes bad lines unanswered.
 */
#include "testutil.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/zx_status.h"
#include "host/vsock_backend.h"
#include "host/vsock_connect_server.h"
#include "lib/vsock_vd.h"

static struct virtio_vsock vs;
static struct vsock_backend be;
static struct vsock_vd g;
/* The backend's device callbacks; the device gets them with send_space
 * going through spy_send_space, so a test can hold it back. */
static struct vsock_host inner;
static bool hold_send_space;
static int held_conn[VSOCK_MAX_CONNS];
static unsigned nheld;
static unsigned wakes;

static char dir[64], lpath[128], cpath[128], ipath[128];
static int listener = -1;

/* What the guest and the peers send: position-dependent, so a lost,
 * doubled or reordered byte shows. */
#define PAT_LEN (2u << 20)
static uint8_t pat[PAT_LEN];
static uint8_t got[PAT_LEN];

static void spy_send_space(void *ctx, int conn)
{
	if (hold_send_space) {
		if (nheld < VSOCK_MAX_CONNS)
			held_conn[nheld++] = conn;
		return;
	}
	inner.send_space(ctx, conn);
}

static void release_send_space(void)
{
	hold_send_space = false;
	for (unsigned i = 0; i < nheld; i++)
		inner.send_space(inner.ctx, held_conn[i]);
	nheld = 0;
}

static void on_wake(void *ctx)
{
	wakes++;
}

static int group_setup(void **st)
{
	for (uint32_t i = 0; i < PAT_LEN; i++)
		pat[i] = (uint8_t)(i * 7 + i / 251);
	return 0;
}

static int setup(void **st)
{
	hold_send_space = false;
	nheld = wakes = 0;
	vsock_backend_init(&be, &vs, on_wake, NULL);
	inner = vsock_backend_device_host(&be);
	struct vsock_host outer = inner;
	outer.send_space = spy_send_space;
	virtio_vsock_init(&vs, 0, &outer);
	assert_true(vv_start(&g, &vs.dev));
	snprintf(dir, sizeof(dir), "/tmp/vsock-bridge-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(lpath, sizeof(lpath), "%s/listen.sock", dir);
	snprintf(cpath, sizeof(cpath), "%s/connect.sock", dir);
	snprintf(ipath, sizeof(ipath), "%s/idle.sock", dir);
	listener = -1;
	return 0;
}

static int teardown(void **st)
{
	vsock_backend_destroy(&be);
	virtio_vsock_destroy(&vs);
	vv_stop(&g);
	if (listener >= 0)
		close(listener);
	unlink(lpath);
	unlink(cpath);
	unlink(ipath);
	rmdir(dir);
	return 0;
}

/* ---- the poller ---- */

/* One round of the poll loop: fill, poll without waiting, hand back, run
 * the connect results (cs may be NULL). */
static void pump_cs(struct vsock_connect_server *cs)
{
	struct pollfd p[VSOCK_BACKEND_MAX_POLL + VSOCK_CONNECT_MAX_POLL];
	unsigned nb = vsock_backend_poll_fill(&be, p, VSOCK_BACKEND_MAX_POLL);
	unsigned nc = cs ? vsock_connect_server_poll_fill(cs, p + nb, VSOCK_CONNECT_MAX_POLL) : 0;
	assert_true(poll(p, nb + nc, 0) >= 0);
	if (cs)
		vsock_connect_server_poll_done(cs, p + nb, nc);
	struct vsock_done_call calls[VSOCK_BACKEND_MAX_BRIDGES];
	unsigned n = vsock_backend_poll_done(&be, p, nb, calls);
	vsock_backend_run_done(calls, n);
}

static void pump(unsigned rounds)
{
	while (rounds--)
		pump_cs(NULL);
}

/* ---- finding things ---- */

static int dev_conn(uint32_t hport, uint32_t gport)
{
	for (int i = 0; i < VSOCK_MAX_CONNS; i++)
		if (vs.conns[i].state != VSOCK_FREE && vs.conns[i].host_port == hport &&
		    vs.conns[i].guest_port == gport)
			return i;
	return -1;
}

static struct vsock_bridge *bridge_of(int conn)
{
	for (int i = 0; i < VSOCK_BACKEND_MAX_BRIDGES; i++)
		if (be.slots[i].b && be.slots[i].b->conn == conn)
			return be.slots[i].b;
	return NULL;
}

static unsigned slots_used(void)
{
	unsigned n = 0;
	for (int i = 0; i < VSOCK_BACKEND_MAX_BRIDGES; i++)
		n += be.slots[i].b != NULL;
	return n;
}

/* Bytes queued for reading on fd. */
static int inq(int fd)
{
	int n = -1;
	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return n;
}

/* ---- sockets ---- */

static struct sockaddr_un addr_of(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	assert_true(strlen(path) < sizeof(a.sun_path));
	memcpy(a.sun_path, path, strlen(path) + 1);
	return a;
}

static int unix_listen(const char *path)
{
	struct sockaddr_un a = addr_of(path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 4), 0);
	return s;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un a = addr_of(path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(s >= 0);
	assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	return s;
}

/* Read what fd has now (never waits). *eof: it said end of stream. */
static size_t read_now(int fd, uint8_t *buf, size_t cap, bool *eof)
{
	size_t n = 0;
	*eof = false;
	while (n < cap) {
		ssize_t r = recv(fd, buf + n, cap - n, MSG_DONTWAIT);
		if (r > 0) {
			n += (size_t)r;
			continue;
		}
		if (r == 0)
			*eof = true;
		else
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		break;
	}
	return n;
}

/* Write pat[*off..want) into fd as far as it takes it now. */
static void write_now(int fd, size_t *off, size_t want)
{
	while (*off < want) {
		ssize_t r = send(fd, pat + *off, want - *off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r < 0) {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			return;
		}
		*off += (size_t)r;
	}
}

/* A guest connection to host port hport, bridged to the Unix listener at
 * lpath: returns the peer's end (non-blocking); *conn the device's id. */
static int bridged(struct vv_conn *c, uint32_t hport, uint32_t gport, uint32_t buf_alloc,
                   int *conn)
{
	listener = unix_listen(lpath);
	assert_int_equal(vsock_backend_listen_path(&be, hport, lpath), 0);
	vv_conn_init(c, gport, hport, buf_alloc, PAT_LEN);
	assert_true(vv_connect(&g, c));
	assert_int_equal(be.stats.accepted, 1);
	int peer = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	assert_true(peer >= 0);
	*conn = dev_conn(hport, gport);
	assert_true(*conn >= 0);
	assert_non_null(bridge_of(*conn));
	assert_int_equal(bridge_of(*conn)->state, VSB_OPEN);
	return peer;
}

/* The guest sends the pattern as long as the host gives credit (asking for
 * it when it has none), while the peer reads nothing. Each step, credit
 * returned must equal what the socket holds. Returns the bytes sent. */
static uint32_t fill_until_no_credit(struct vv_conn *c, int conn, int peer)
{
	struct vsock_bridge *b = bridge_of(conn);
	uint32_t sent = 0;
	for (int guard = 0; guard < 10000; guard++) {
		vv_drain(&g, c);
		if (!vv_credit(c)) {
			vv_ctl(&g, c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0);
			vv_drain(&g, c);
			if (!vv_credit(c))
				return sent;
		}
		uint32_t n = vv_credit(c) < 16384 ? vv_credit(c) : 16384;
		assert_true(sent + n <= PAT_LEN);
		unsigned wakes_before = wakes;
		bool held_before = b->out_len > 0;
		vv_write(&g, c, pat + sent, n);
		sent += n;
		/* Every byte is either in the socket (and credited) or held. */
		assert_int_equal(vs.conns[conn].fwd_cnt, (uint32_t)inq(peer));
		assert_int_equal(vs.conns[conn].fwd_cnt + b->out_len, sent);
		assert_true(b->out_len <= VSOCK_HOST_BUF_ALLOC);
		/* Bytes held back: the poller must learn to wait for POLLOUT. */
		if (b->out_len && !held_before)
			assert_true(wakes > wakes_before);
		pump(1);
	}
	fail_msg("the guest never ran out of credit");
	return 0;
}

/* The peer writes pat[0..want), the poller running between its writes. */
static void peer_writes(int peer, size_t want)
{
	size_t wrote = 0;
	for (int guard = 0; guard < 1000 && wrote < want; guard++) {
		write_now(peer, &wrote, want);
		pump(1);
	}
	assert_int_equal(wrote, want);
}

/* The guest opens its window wide and takes what comes until it holds len
 * bytes and, with shut, has heard SHUTDOWN. */
static void guest_takes(struct vv_conn *c, size_t len, bool shut)
{
	c->buf_alloc = PAT_LEN;
	vv_ctl(&g, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
	for (int guard = 0; guard < 10000 && (c->rx_len < len || (shut && !c->shut)); guard++) {
		vv_drain(&g, c);
		pump(1);
	}
}

/* ---- guest -> host ---- */

static void test_guest_to_host_credit_follows_the_socket(void **st)
{
	struct vv_conn c;
	int conn;
	int peer = bridged(&c, 5000, 40000, 65536, &conn);
	struct vsock_bridge *b = bridge_of(conn);

	uint32_t sent = fill_until_no_credit(&c, conn, peer);
	/* The peer reads nothing: all the device lets the guest have in flight
	 * is held, and not one byte more. */
	assert_int_equal(b->out_len, VSOCK_HOST_BUF_ALLOC);
	assert_true(b->out_cap <= VSOCK_HOST_BUF_ALLOC);
	uint32_t fwd = vs.conns[conn].fwd_cnt;
	assert_int_equal(fwd, sent - VSOCK_HOST_BUF_ALLOC);
	assert_int_equal(inq(peer), (int)fwd);
	pump(5);
	assert_int_equal(vs.conns[conn].fwd_cnt, fwd);
	assert_int_equal(vv_drain(&g, &c), 0); /* no CREDIT_UPDATE */
	assert_int_equal(vv_credit(&c), 0);

	/* The peer reads: credit comes back unasked, every byte in order. */
	unsigned updates = c.credit_updates;
	size_t have = 0;
	for (int guard = 0; guard < 10000 && have < sent; guard++) {
		bool eof;
		have += read_now(peer, got + have, sizeof(got) - have, &eof);
		assert_false(eof);
		pump(1);
		vv_drain(&g, &c);
		assert_int_equal(vs.conns[conn].fwd_cnt + b->out_len, sent);
	}
	assert_int_equal(have, sent);
	assert_memory_equal(got, pat, sent);
	assert_int_equal(b->out_len, 0);
	assert_int_equal(vs.conns[conn].fwd_cnt, sent);
	assert_true(c.credit_updates > updates);
	vv_ctl(&g, &c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0);
	vv_drain(&g, &c);
	assert_int_equal(vv_credit(&c), VSOCK_HOST_BUF_ALLOC);
	assert_false(c.rst);
	assert_int_equal(c.stray, 0);
	close(peer);
	vv_conn_free(&c);
}

/* A device that let the guest have more than buf_alloc in flight is broken:
 * the bridge resets the connection rather than grow or drop bytes. */
static void test_out_buffer_bound_is_exact(void **st)
{
	struct vv_conn c;
	int conn;
	int peer = bridged(&c, 5001, 40001, 65536, &conn);
	struct vsock_bridge *b = bridge_of(conn);
	fill_until_no_credit(&c, conn, peer);
	assert_int_equal(b->out_len, VSOCK_HOST_BUF_ALLOC);
	/* One byte past the device's credit, as a broken device would pass it. */
	vsb_guest_data(b, "x", 1);
	assert_true(b->broken);
	assert_int_equal(b->out_len, 0);
	assert_int_equal(b->conn, -1);
	vv_drain(&g, &c);
	assert_true(c.rst);
	assert_int_equal(vs.conns[conn].state, VSOCK_FREE);
	pump(2);
	assert_int_equal(slots_used(), 0); /* reaped */
	close(peer);
	vv_conn_free(&c);
}

/* ---- host -> guest ---- */

static void test_host_to_guest_read_ahead_and_send_space(void **st)
{
	struct vv_conn c;
	int conn;
	int peer = bridged(&c, 5002, 40002, 0, &conn); /* the guest gives no credit */
	struct vsock_bridge *b = bridge_of(conn);

	/* The peer writes more than the device and the read-ahead can hold; its
	 * socket must keep the 64 KiB they leave, whatever the host's default. */
	const size_t want = VSOCK_HOST_TXBUF + VSOCK_BRIDGE_IN_BUF + 65536;
	int sndbuf = 256 << 10;
	assert_int_equal(setsockopt(peer, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	peer_writes(peer, want);
	pump(5);
	/* The device is full, the read-ahead is full, the rest stays in the
	 * socket and the bridge no longer asks for POLLIN. */
	assert_int_equal(vs.conns[conn].tx_len, VSOCK_HOST_TXBUF);
	assert_int_equal(b->in_len, VSOCK_BRIDGE_IN_BUF);
	assert_true(b->send_blocked);
	assert_int_equal(want - (size_t)inq(b->sock), VSOCK_HOST_TXBUF + VSOCK_BRIDGE_IN_BUF);
	assert_false(vsb_poll_events(b) & POLLIN);

	/* The guest makes room for 4 KiB, but the device's send_space is held
	 * back: the bridge hands nothing over. */
	hold_send_space = true;
	c.buf_alloc = 4096;
	vv_ctl(&g, &c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
	vv_drain(&g, &c);
	assert_int_equal(c.rx_len, 4096);
	assert_memory_equal(c.rx, pat, 4096);
	assert_int_equal(vs.conns[conn].tx_len, VSOCK_HOST_TXBUF - 4096);
	assert_int_equal(nheld, 1);
	assert_int_equal(held_conn[0], conn);
	pump(5);
	assert_int_equal(vs.conns[conn].tx_len, VSOCK_HOST_TXBUF - 4096);
	assert_int_equal(b->in_len, VSOCK_BRIDGE_IN_BUF);
	assert_true(b->send_blocked);

	/* send_space: the device is topped up, and the read-ahead refilled by
	 * exactly what it handed over. */
	release_send_space();
	pump(3);
	assert_int_equal(vs.conns[conn].tx_len, VSOCK_HOST_TXBUF);
	assert_int_equal(b->in_len, VSOCK_BRIDGE_IN_BUF);
	assert_int_equal(want - (size_t)inq(b->sock),
	                 VSOCK_HOST_TXBUF + VSOCK_BRIDGE_IN_BUF + 4096);

	/* The guest takes everything: all of it arrives, in order. */
	guest_takes(&c, want, false);
	assert_int_equal(c.rx_len, want);
	assert_memory_equal(c.rx, pat, want);
	assert_false(c.rst);
	assert_int_equal(c.shut, 0);
	assert_int_equal(c.stray, 0);
	close(peer);
	vv_conn_free(&c);
}

/* ---- endings ---- */

static void test_socket_eof_after_read_ahead(void **st)
{
	struct vv_conn c;
	int conn;
	int peer = bridged(&c, 5003, 40003, 0, &conn);
	struct vsock_bridge *b = bridge_of(conn);
	const size_t want = VSOCK_HOST_TXBUF + 500;
	peer_writes(peer, want);
	assert_int_equal(shutdown(peer, SHUT_WR), 0);
	pump(5);
	/* The EOF is seen, but 500 bytes still wait for the device: the guest
	 * hears nothing of it yet. */
	assert_true(b->sock_eof);
	assert_int_equal(b->in_len, 500);
	assert_int_equal(vs.conns[conn].shut_flags, 0);
	vv_drain(&g, &c);
	assert_int_equal(c.shut, 0);

	guest_takes(&c, 0, true);
	assert_int_equal(c.shut, VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(c.rx_len, want);
	assert_memory_equal(c.rx, pat, want);
	assert_false(c.data_after_shut);
	assert_false(c.rst);
	pump(3);
	vv_drain(&g, &c);
	assert_int_equal(c.shut, VIRTIO_VSOCK_SHUTDOWN_SEND); /* said once, nothing more */
	assert_int_equal(c.rx_len, want);
	close(peer);
	vv_conn_free(&c);
}

static void test_guest_shutdown_send_after_out_drains(void **st)
{
	struct vv_conn c;
	int conn;
	int peer = bridged(&c, 5004, 40004, 65536, &conn);
	struct vsock_bridge *b = bridge_of(conn);
	uint32_t sent = fill_until_no_credit(&c, conn, peer);
	vv_ctl(&g, &c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND);
	pump(2);
	/* 256 KiB are still held: the socket is not shut yet. */
	assert_true(b->guest_wr_done);
	assert_false(b->wr_shut);
	size_t have = 0;
	bool eof = false;
	for (int guard = 0; guard < 10000 && !eof; guard++) {
		size_t n = read_now(peer, got + have, sizeof(got) - have, &eof);
		have += n;
		/* EOF comes only after every byte the guest sent. */
		if (eof)
			assert_int_equal(have, sent);
		pump(1);
	}
	assert_true(eof);
	assert_int_equal(have, sent);
	assert_memory_equal(got, pat, sent);
	assert_true(b->wr_shut);
	/* Only the guest's sending half ended: the peer may still answer. */
	assert_int_equal(send(peer, "back", 4, MSG_NOSIGNAL), 4);
	pump(2);
	vv_drain(&g, &c);
	assert_int_equal(c.rx_len, 4);
	assert_memory_equal(c.rx, "back", 4);
	assert_false(c.rst);
	close(peer);
	vv_conn_free(&c);
}

static void test_guest_shutdown_rcv_ends_socket_reads(void **st)
{
	struct vv_conn c;
	int conn;
	int peer = bridged(&c, 5005, 40005, 65536, &conn);
	assert_int_equal(send(peer, "a", 1, MSG_NOSIGNAL), 1);
	vv_ctl(&g, &c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV);
	assert_true(bridge_of(conn)->rd_shut);
	/* The peer's writer gets EPIPE, as with a reader that stopped. */
	errno = 0;
	assert_int_equal(send(peer, "b", 1, MSG_NOSIGNAL), -1);
	assert_int_equal(errno, EPIPE);
	pump(3);
	vv_drain(&g, &c);
	assert_int_equal(c.rx_len, 0);
	close(peer);
	vv_conn_free(&c);
}

/* ---- refusals ---- */

static void test_rst_when_nothing_accepts(void **st)
{
	/* A path where nothing exists, and a socket bound but not listening. */
	struct sockaddr_un a = addr_of(ipath);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(vsock_backend_listen_path(&be, 6000, lpath), 0); /* nothing there */
	assert_int_equal(vsock_backend_listen_path(&be, 6001, ipath), 0);
	struct vv_conn c;
	vv_conn_init(&c, 41000, 6000, 65536, 0);
	assert_false(vv_connect(&g, &c));
	assert_true(c.rst);
	vv_conn_free(&c);
	vv_conn_init(&c, 41001, 6001, 65536, 0);
	assert_false(vv_connect(&g, &c));
	assert_true(c.rst);
	assert_int_equal(be.stats.refused, 2);
	assert_int_equal(be.stats.accepted, 0);
	assert_int_equal(slots_used(), 0);
	assert_int_equal(dev_conn(6000, 41000), -1);
	assert_int_equal(dev_conn(6001, 41001), -1);
	close(s);
	vv_conn_free(&c);
}

/* The acceptor hook: a refusal is an RST; an answer of -1 resets the
 * connection it accepted; a socket answer bridges it. */
static int acc_result;
static uint32_t acc_seen_port;
static int acceptor(void *ctx, uint32_t host_port, uint32_t guest_port, uint32_t *owner,
                    uint32_t *token)
{
	acc_seen_port = host_port;
	*owner = 7;
	*token = guest_port;
	return acc_result;
}

static void test_acceptor_hook(void **st)
{
	struct vsock_acceptor_hook h = { .accept = acceptor };
	vsock_backend_set_acceptor(&be, &h);
	assert_int_equal(virtio_vsock_listen(&vs, 7000), 0);
	struct vv_conn c;
	acc_result = -ECONNREFUSED;
	vv_conn_init(&c, 42000, 7000, 65536, 64);
	assert_false(vv_connect(&g, &c));
	assert_true(c.rst);
	assert_int_equal(slots_used(), 0);

	vv_conn_free(&c);
	acc_result = 0;
	vv_conn_init(&c, 42001, 7000, 65536, 64);
	assert_true(vv_connect(&g, &c));
	assert_int_equal(acc_seen_port, 7000);
	assert_int_equal(vsock_backend_answer(&be, 7, 42001, -1), -ECONNRESET);
	vv_drain(&g, &c);
	assert_true(c.rst);
	assert_int_equal(slots_used(), 0);
	/* An answer nobody waits for is closed. */
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vsock_backend_answer(&be, 7, 42001, sv[0]), -ENOENT);
	bool eof;
	read_now(sv[1], got, 16, &eof);
	assert_true(eof);
	close(sv[1]);

	vv_conn_free(&c);
	vv_conn_init(&c, 42002, 7000, 65536, 64);
	assert_true(vv_connect(&g, &c));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vsock_backend_answer(&be, 7, 42002, sv[0]), 0);
	assert_int_equal(send(sv[1], "hi", 2, MSG_NOSIGNAL), 2);
	pump(2);
	vv_drain(&g, &c);
	assert_int_equal(c.rx_len, 2);
	assert_memory_equal(c.rx, "hi", 2);
	close(sv[1]);
	vv_conn_free(&c);
}

struct done_rec {
	unsigned calls;
	int status, fd;
};

static void on_done(void *ctx, int status, int sock)
{
	struct done_rec *r = ctx;
	r->calls++;
	r->status = status;
	r->fd = sock;
}

/* The REQUEST the device sent the guest for a host connect to gport. */
static uint32_t guest_sees_request(uint32_t gport)
{
	struct vv_hdr h;
	assert_true(vv_recv(&g, &h, NULL));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, gport);
	assert_true(h.src_port >= VSOCK_EPHEMERAL_FIRST);
	return h.src_port;
}

static void test_host_connect_refused_once(void **st)
{
	struct done_rec r = { .fd = -2 };
	struct vsock_connect_req req = { .sock = -1, .done = on_done, .ctx = &r };
	assert_true(vsock_backend_connect(&be, 8000, &req) >= 0);
	uint32_t hport = guest_sees_request(8000);
	pump(2);
	assert_int_equal(r.calls, 0); /* nothing until the guest answers */
	vv_send(&g, 8000, hport, VIRTIO_VSOCK_OP_RST, 0, 0, 0, NULL, 0);
	pump(1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, ZX_ERR_CONNECTION_REFUSED);
	assert_int_equal(r.fd, -1);
	assert_int_equal(be.stats.refused, 1);
	pump(3);
	assert_int_equal(slots_used(), 0);
	vsock_backend_destroy(&be); /* and not again as CANCELED */
	assert_int_equal(r.calls, 1);
}

static void test_host_connect_accepted_once(void **st)
{
	struct done_rec r = { .fd = -2 };
	struct vsock_connect_req req = { .sock = -1, .done = on_done, .ctx = &r };
	assert_true(vsock_backend_connect(&be, 8001, &req) >= 0);
	struct vv_conn c;
	vv_conn_init(&c, 8001, guest_sees_request(8001), 65536, 64);
	vv_ctl(&g, &c, VIRTIO_VSOCK_OP_RESPONSE, 0);
	pump(1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, ZX_OK);
	assert_true(r.fd >= 0);
	vv_drain(&g, &c);
	assert_int_equal(send(r.fd, "ping", 4, MSG_NOSIGNAL), 4);
	vv_write(&g, &c, "pong", 4);
	pump(2);
	vv_drain(&g, &c);
	assert_int_equal(c.rx_len, 4);
	assert_memory_equal(c.rx, "ping", 4);
	char buf[8];
	assert_int_equal(recv(r.fd, buf, sizeof(buf), MSG_DONTWAIT), 4);
	assert_memory_equal(buf, "pong", 4);
	pump(3);
	assert_int_equal(r.calls, 1);
	assert_int_equal(be.stats.established, 1);
	close(r.fd);
	vv_conn_free(&c);
}

static void test_host_connect_cancelled_once(void **st)
{
	struct done_rec r = { .fd = -2 };
	struct vsock_connect_req req = { .sock = -1, .done = on_done, .ctx = &r };
	assert_true(vsock_backend_connect(&be, 8002, &req) >= 0);
	guest_sees_request(8002);
	pump(2);
	vsock_backend_destroy(&be); /* the guest never answered */
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, ZX_ERR_CANCELED);
	assert_int_equal(r.fd, -1);
}

/* ---- the CONNECT line server ---- */

/* fd was closed by the server without a byte written to it. */
static void assert_closed_unanswered(int fd)
{
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	/* ECONNRESET: the server closed with part of an overlong line unread. */
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
}

static void test_connect_server_bad_lines(void **st)
{
	static const char *const bad[] = {
		"CONNECT\n", "CONNECT abc\n", "CONNECT 0\n", "CONNECT -5\n", "CONNECT 5x\n",
		"CONNECT 4294967296\n", "connect 5\n", "HELLO 5\n",
		"CONNECT 1234567890123456789012345678901234567890\n",
	};
	struct vsock_connect_server cs;
	assert_int_equal(vsock_connect_server_open(&cs, &be, cpath), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int cl = unix_connect(cpath);
		assert_int_equal(send(cl, bad[i], strlen(bad[i]), MSG_NOSIGNAL),
		                 (ssize_t)strlen(bad[i]));
		pump_cs(&cs);
		pump_cs(&cs);
		assert_closed_unanswered(cl);
		close(cl);
	}
	struct vv_hdr h;
	assert_false(vv_recv(&g, &h, NULL)); /* the guest heard of none of them */
	assert_int_equal(be.stats.connects, 0);
	vsock_connect_server_close(&cs, cpath);
}

static void test_connect_server_refused_by_guest(void **st)
{
	struct vsock_connect_server cs;
	assert_int_equal(vsock_connect_server_open(&cs, &be, cpath), 0);
	int cl = unix_connect(cpath);
	assert_int_equal(send(cl, "CONNECT 9001\n", 13, MSG_NOSIGNAL), 13);
	pump_cs(&cs);
	pump_cs(&cs);
	uint32_t hport = guest_sees_request(9001);
	vv_send(&g, 9001, hport, VIRTIO_VSOCK_OP_RST, 0, 0, 0, NULL, 0);
	pump_cs(&cs);
	pump_cs(&cs);
	assert_closed_unanswered(cl);
	assert_int_equal(slots_used(), 0);
	close(cl);
	vsock_connect_server_close(&cs, cpath);
}

static void test_connect_server_ok_before_data(void **st)
{
	struct vsock_connect_server cs;
	assert_int_equal(vsock_connect_server_open(&cs, &be, cpath), 0);
	int cl = unix_connect(cpath);
	/* Bytes after the line belong to the connection, not to the line reader. */
	static const char line[] = "CONNECT 9000\nearly";
	assert_int_equal(send(cl, line, sizeof(line) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(line) - 1);
	pump_cs(&cs);
	pump_cs(&cs);
	uint32_t hport = guest_sees_request(9000);
	char buf[64];
	assert_int_equal(recv(cl, buf, sizeof(buf), MSG_DONTWAIT), -1); /* not before the guest */
	assert_int_equal(errno, EAGAIN);

	struct vv_conn c;
	vv_conn_init(&c, 9000, hport, 65536, 64);
	vv_ctl(&g, &c, VIRTIO_VSOCK_OP_RESPONSE, 0);
	vv_write(&g, &c, "from-guest", 10); /* at once: it must still follow the OK line */
	pump_cs(&cs);
	pump_cs(&cs);
	char want[64];
	int wlen = snprintf(want, sizeof(want), "OK %u\nfrom-guest", hport);
	bool eof;
	size_t n = read_now(cl, (uint8_t *)buf, sizeof(buf), &eof);
	assert_false(eof);
	assert_int_equal(n, (size_t)wlen);
	assert_memory_equal(buf, want, n);
	vv_drain(&g, &c);
	assert_int_equal(c.rx_len, 5);
	assert_memory_equal(c.rx, "early", 5);
	assert_int_equal(be.stats.established, 1);
	close(cl);
	vv_conn_free(&c);
	vsock_connect_server_close(&cs, cpath);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_guest_to_host_credit_follows_the_socket),
		T(test_out_buffer_bound_is_exact),
		T(test_host_to_guest_read_ahead_and_send_space),
		T(test_socket_eof_after_read_ahead),
		T(test_guest_shutdown_send_after_out_drains),
		T(test_guest_shutdown_rcv_ends_socket_reads),
		T(test_rst_when_nothing_accepts),
		T(test_acceptor_hook),
		T(test_host_connect_refused_once),
		T(test_host_connect_accepted_once),
		T(test_host_connect_cancelled_once),
		T(test_connect_server_bad_lines),
		T(test_connect_server_refused_by_guest),
		T(test_connect_server_ok_before_data),
	};
	return cmocka_run_group_tests_name("vsock_bridge", tests, group_setup, NULL);
}
