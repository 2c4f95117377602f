/* The vmm's host side of virtio-vsock, end to end: a running VM on the fake
 * backend, its real vsock device driven by a test guest (tests/lib/
 * vsock_guest: every register access a real exit under the event lock), and
 * the host side through lc_vsock_* and over FIDL (vmm_serve): listeners with
 * acceptors, host connects, bridged sockets, credit with slow readers. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fidl/channel.h"
#include "fidl/virtualization.h"
#include "launcher/lifecycle_client.h"
#include "lib/fake_hv.h"
#include "lib/mini_kernel.h"
#include "lib/vsock_guest.h"
#include "vmm/lifecycle.h"
#include "vmm/serve.h"

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE,
       OP_CREDIT_REQUEST };
#define TMO 5000

static struct fake_hv_ctl ctl;
static struct vguest g;
static struct guest_lifecycle *lc;
static pthread_t run_t;
static bool running;
static uint64_t sink_in_bytes;
/* Receive buffers, freed after each test (a gconn lives on a test's stack). */
static void *bufs[32];
static unsigned nbufs;

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void sink_input(void *ctx, const char *dev, const void *d, uint64_t len)
{
	if (strcmp(dev, "vsock") == 0)
		__atomic_add_fetch(&sink_in_bytes, len, __ATOMIC_SEQ_CST);
}

static void *run_main(void *a)
{
	lc_run(lc);
	return NULL;
}

static void wait_entered(void)
{
	for (int i = 0; i < 5000 && __atomic_load_n(&ctl.vcpus_entered, __ATOMIC_SEQ_CST) < 1; i++)
		usleep(1000);
	assert_true(ctl.vcpus_entered >= 1);
}

static void vsock_config(struct guest_config *c, bool vsock)
{
	gc_init(c);
	c->kernel_fd = mini_pvh_kernel();
	c->has_guest_memory = true;
	c->guest_memory = 32ull << 20;
	c->has_virtio_vsock = true;
	c->virtio_vsock = vsock;
}

/* Create a guest with virtio-vsock (and a config listener when acceptor >= 0);
 * run it; bring its driver up. */
static void boot(uint32_t cfg_port, int cfg_acceptor, bool start_driver)
{
	fake_hv_reset(&ctl);
	sink_in_bytes = 0;
	static const struct ev_sink sink = { .host_input = sink_input };
	struct lc_options o = { .hv = &hv_fake_ops, .hv_fd = -1, .backend_arg = &ctl,
	                        .sink = &sink, .serial_fd = -1 };
	lc = lc_new(&o);
	assert_non_null(lc);
	struct guest_config c;
	vsock_config(&c, true);
	if (cfg_acceptor >= 0) {
		c.has_vsock_listeners = true;
		c.vsock_listeners = calloc(1, sizeof(*c.vsock_listeners));
		c.n_vsock_listeners = 1;
		c.vsock_listeners[0] = (struct vsock_listener){ cfg_port, cfg_acceptor };
	}
	char err[256];
	enum guest_error e = lc_create(lc, &c, err, sizeof(err));
	if (e)
		fail_msg("create: %s: %s", guest_error_name(e), err);
	if (!start_driver)
		return;
	assert_int_equal(pthread_create(&run_t, NULL, run_main, NULL), 0);
	running = true;
	wait_entered();
	assert_int_equal(vg_start(&g, &ctl), 0);
	assert_int_equal(vg_cid(&g), 3);
}

static int teardown(void **s)
{
	for (unsigned i = 0; i < nbufs; i++)
		free(bufs[i]);
	nbufs = 0;
	if (lc) {
		lc_stop(lc);
		if (running)
			pthread_join(run_t, NULL);
		running = false;
		lc_free(lc);
		lc = NULL;
	}
	return 0;
}

/* ---- the guest's side of connections ---- */

struct gconn {
	uint32_t gport, hport;
	uint32_t buf_alloc, fwd_cnt, rx_cnt;          /* ours */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt; /* the host's */
	bool response, rst;
	uint32_t shut;
	uint8_t *data;
	size_t len, cap;
	unsigned credit_stalls;
};

static struct gconn *conns[8];
static unsigned nconns;

static void track(void *old, void *now)
{
	for (unsigned i = 0; i < nbufs; i++)
		if (old && bufs[i] == old) {
			bufs[i] = now;
			return;
		}
	assert_true(nbufs < 32);
	bufs[nbufs++] = now;
}
/* Packets for no known connection: the host's REQUESTs, RSTs for refusals. */
static struct vg_hdr stray[32];
static unsigned nstray;

static void gconn_init(struct gconn *c, uint32_t gport, uint32_t hport, uint32_t buf_alloc)
{
	memset(c, 0, sizeof(*c));
	c->gport = gport;
	c->hport = hport;
	c->buf_alloc = buf_alloc;
	conns[nconns++] = c;
}

static void gsend_op(struct gconn *c, uint16_t op, uint32_t flags, const void *d, uint32_t n)
{
	vg_send_op(&g, c->gport, c->hport, op, flags, c->buf_alloc, c->fwd_cnt, d, n);
	if (op == OP_RW)
		c->tx_cnt += n;
}

/* One packet from the device (waiting up to ms), accounted to its connection. */
static bool pump(int ms)
{
	static uint8_t buf[VG_RXBUF];
	struct vg_hdr h;
	if (!vg_recv(&g, &h, buf, ms))
		return false;
	assert_int_equal(h.src_cid, 2);
	assert_int_equal(h.dst_cid, 3);
	assert_int_equal(h.type, 1);
	struct gconn *c = NULL;
	for (unsigned i = 0; i < nconns; i++)
		if (conns[i]->gport == h.dst_port && conns[i]->hport == h.src_port)
			c = conns[i];
	if (!c) {
		assert_true(nstray < 32);
		stray[nstray++] = h;
		return true;
	}
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	switch (h.op) {
	case OP_RESPONSE: c->response = true; break;
	case OP_RST: c->rst = true; break;
	case OP_SHUTDOWN: c->shut |= h.flags; break;
	case OP_RW:
		c->rx_cnt += h.len;
		/* The host must never send beyond the credit we gave it. */
		assert_true(c->rx_cnt - c->fwd_cnt <= c->buf_alloc);
		if (c->len + h.len > c->cap) {
			c->cap = (c->len + h.len) * 2;
			uint8_t *old = c->data;
			c->data = realloc(c->data, c->cap);
			assert_non_null(c->data);
			track(old, c->data);
		}
		memcpy(c->data + c->len, buf, h.len);
		c->len += h.len;
		break;
	case OP_CREDIT_REQUEST: gsend_op(c, OP_CREDIT_UPDATE, 0, NULL, 0); break;
	default: break;
	}
	return true;
}

#define WAIT_FOR(cond)                                                     \
	do {                                                               \
		long long t0_ = now_ms();                                  \
		while (!(cond) && now_ms() - t0_ < TMO)                    \
			pump(10);                                          \
		if (!(cond))                                               \
			fail_msg("timed out waiting for " #cond);          \
	} while (0)

/* The guest application reads n bytes: credit goes back to the host. */
static void gconsume(struct gconn *c, size_t n)
{
	memmove(c->data, c->data + n, c->len - n);
	c->len -= n;
	c->fwd_cnt += (uint32_t)n;
	gsend_op(c, OP_CREDIT_UPDATE, 0, NULL, 0);
}

/* Send all of d within the host's credit, waiting for it as a driver does. */
static void gwrite(struct gconn *c, const uint8_t *d, size_t n)
{
	long long last = now_ms();
	while (n) {
		uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
		uint32_t credit = in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
		if (credit == 0) {
			c->credit_stalls++;
			if (!pump(20))
				gsend_op(c, OP_CREDIT_REQUEST, 0, NULL, 0);
			assert_false(c->rst);
			if (now_ms() - last > 10000)
				fail_msg("no credit for 10 s");
			continue;
		}
		uint32_t k = credit < n ? credit : (uint32_t)n;
		if (k > VG_TXMAX)
			k = VG_TXMAX;
		gsend_op(c, OP_RW, 0, d, k);
		d += k;
		n -= k;
		last = now_ms();
		while (pump(0)) /* take what the device has said meanwhile */
			;
	}
}

/* Guest connects gport -> hport; waits for RESPONSE or RST. */
static void gconnect(struct gconn *c, uint32_t gport, uint32_t hport, uint32_t buf_alloc)
{
	gconn_init(c, gport, hport, buf_alloc);
	gsend_op(c, OP_REQUEST, 0, NULL, 0);
	WAIT_FOR(c->response || c->rst);
}

static int setup(void **s)
{
	nconns = nstray = 0;
	return 0;
}

/* ---- the host's side ---- */

static struct fidl_msg msg;

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) == 1;
}

/* Wait for an Accept on acceptor channel a and check what it says. */
static uint32_t expect_accept(int a, uint32_t src_port, uint32_t port)
{
	assert_true(readable(a, TMO));
	assert_int_equal(fidl_chan_recv(a, &msg), ZX_OK);
	struct fidl_dec d;
	assert_int_equal(fidl_dec_init(&d, &msg), ZX_OK);
	assert_true(d.hdr.ordinal == FV_ORD_ACCEPTOR_ACCEPT);
	uint32_t cid, sp, p;
	assert_int_equal(fv_dec_accept_req(&d, &cid, &sp, &p), ZX_OK);
	assert_int_equal(cid, 3);
	assert_int_equal(sp, src_port);
	assert_int_equal(p, port);
	assert_int_not_equal(d.hdr.txid, 0);
	return d.hdr.txid;
}

static void answer_accept(int a, uint32_t txid, int status, int sock)
{
	struct fv_result r = { .which = status ? FIDL_RESULT_ERR : FIDL_RESULT_RESPONSE,
	                       .err = status, .fd = sock };
	assert_int_equal(fv_enc_result(&msg, txid, FV_ORD_ACCEPTOR_ACCEPT, FV_ERR_ZX_STATUS, true,
	                               &r), ZX_OK);
	assert_int_equal(fidl_chan_send(a, &msg), ZX_OK);
}

static void read_exactly(int fd, void *buf, size_t n)
{
	size_t have = 0;
	while (have < n) {
		assert_true(readable(fd, TMO));
		ssize_t r = read(fd, (uint8_t *)buf + have, n - have);
		assert_true(r > 0);
		have += (size_t)r;
	}
}

static void pair(int sv[2], int type)
{
	assert_int_equal(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
}

/* A host connect's result, through a pipe. */
static int done_pipe[2];

static void connect_done(void *ctx, int status, int sock)
{
	int v[2] = { status, sock };
	assert_int_equal(write(done_pipe[1], v, sizeof(v)), sizeof(v));
}

static void connect_result(int *status, int *sock)
{
	assert_true(readable(done_pipe[0], TMO));
	int v[2];
	assert_int_equal(read(done_pipe[0], v, sizeof(v)), sizeof(v));
	*status = v[0];
	*sock = v[1];
}

/* The host's REQUEST to guest_port, seen by the guest: its host port. */
static uint32_t expect_request(uint32_t guest_port)
{
	for (long long t0 = now_ms(); now_ms() - t0 < TMO;) {
		for (unsigned i = 0; i < nstray; i++)
			if (stray[i].op == OP_REQUEST && stray[i].dst_port == guest_port) {
				uint32_t hp = stray[i].src_port;
				stray[i] = stray[--nstray];
				assert_true(hp >= 49152);
				return hp;
			}
		pump(10);
	}
	fail_msg("no REQUEST for guest port %u", guest_port);
	return 0;
}

/* A host connect to guest port `port` that the guest (c, with buf_alloc of
 * credit) accepts: returns the socket the connect hands out. */
static int host_connect_accepted(struct gconn *c, uint32_t port, uint32_t buf_alloc)
{
	assert_int_equal(lc_vsock_connect(lc, port, connect_done, NULL), ZX_OK);
	gconn_init(c, port, expect_request(port), buf_alloc);
	gsend_op(c, OP_RESPONSE, 0, NULL, 0);
	int st, sock;
	connect_result(&st, &sock);
	assert_int_equal(st, ZX_OK);
	assert_true(sock >= 0);
	return sock;
}

/* The acceptor at acc is offered gport -> port and accepts with a new
 * stream socket: returns the host's end of it. */
static int accept_stream(int acc, uint32_t gport, uint32_t port)
{
	uint32_t txid = expect_accept(acc, gport, port);
	int sv[2];
	pair(sv, SOCK_STREAM);
	answer_accept(acc, txid, ZX_OK, sv[1]);
	close(sv[1]);
	return sv[0];
}

/* ---- tests ---- */

static void test_guest_connects_to_listener(void **s)
{
	boot(0, -1, true);
	int acc[2];
	pair(acc, SOCK_SEQPACKET);
	assert_int_equal(lc_vsock_listen(lc, 5000, acc[1]), ZX_OK);
	struct gconn c;
	gconnect(&c, 1234, 5000, 65536);
	assert_true(c.response);
	/* Data sent before the acceptor has answered waits for its socket. */
	gwrite(&c, (const uint8_t *)"early ", 6);
	int sv[2];
	sv[0] = accept_stream(acc[0], 1234, 5000);
	gwrite(&c, (const uint8_t *)"hello host", 10);
	char buf[64] = { 0 };
	read_exactly(sv[0], buf, 16);
	assert_memory_equal(buf, "early hello host", 16);

	assert_int_equal(write(sv[0], "hello guest", 11), 11);
	WAIT_FOR(c.len >= 11);
	assert_memory_equal(c.data, "hello guest", 11);
	gconsume(&c, 11);
	assert_int_equal(__atomic_load_n(&sink_in_bytes, __ATOMIC_SEQ_CST), 11);

	/* Host EOF: SHUTDOWN(SEND) to the guest, which may still send. */
	shutdown(sv[0], SHUT_WR);
	WAIT_FOR(c.shut & 2);
	gwrite(&c, (const uint8_t *)"bye", 3);
	read_exactly(sv[0], buf, 3);
	assert_memory_equal(buf, "bye", 3);
	/* The guest closes: the device finishes with RST and the socket ends. */
	gsend_op(&c, OP_SHUTDOWN, 3, NULL, 0);
	WAIT_FOR(c.rst);
	assert_true(readable(sv[0], TMO));
	assert_int_equal(read(sv[0], buf, sizeof(buf)), 0);
	close(sv[0]);
	close(acc[0]);
}

static void test_no_listener_gets_rst(void **s)
{
	boot(0, -1, true);
	struct gconn c;
	gconnect(&c, 1235, 5001, 65536);
	assert_true(c.rst);
	assert_false(c.response);
}

static void test_listener_from_config(void **s)
{
	int acc[2];
	pair(acc, SOCK_SEQPACKET);
	boot(6000, acc[1], true);
	struct gconn c;
	gconnect(&c, 1236, 6000, 65536);
	assert_true(c.response);
	int sock = accept_stream(acc[0], 1236, 6000);
	gwrite(&c, (const uint8_t *)"cfg", 3);
	char buf[3];
	read_exactly(sock, buf, 3);
	assert_memory_equal(buf, "cfg", 3);
	close(sock);
	close(acc[0]);
}

static void test_acceptor_error_or_gone_resets(void **s)
{
	boot(0, -1, true);
	int acc[2];
	pair(acc, SOCK_SEQPACKET);
	assert_int_equal(lc_vsock_listen(lc, 5002, acc[1]), ZX_OK);
	/* An error answer: the accepted connection is reset. */
	struct gconn c1;
	gconnect(&c1, 2000, 5002, 65536);
	assert_true(c1.response);
	answer_accept(acc[0], expect_accept(acc[0], 2000, 5002), ZX_ERR_CONNECTION_REFUSED, -1);
	WAIT_FOR(c1.rst);
	/* An answer that is no stream socket: reset too. */
	struct gconn c2;
	gconnect(&c2, 2001, 5002, 65536);
	int dg[2];
	pair(dg, SOCK_DGRAM);
	answer_accept(acc[0], expect_accept(acc[0], 2001, 5002), ZX_OK, dg[1]);
	WAIT_FOR(c2.rst);
	close(dg[0]);
	close(dg[1]);
	/* The acceptor goes away with a connection waiting: reset; the port is free. */
	struct gconn c3;
	gconnect(&c3, 2002, 5002, 65536);
	assert_true(c3.response);
	expect_accept(acc[0], 2002, 5002);
	close(acc[0]);
	WAIT_FOR(c3.rst);
	struct gconn c4;
	gconnect(&c4, 2003, 5002, 65536);
	assert_true(c4.rst);
	pair(acc, SOCK_SEQPACKET);
	assert_int_equal(lc_vsock_listen(lc, 5002, acc[1]), ZX_OK);
	close(acc[0]);
}

static void test_host_connect_accepted_and_refused(void **s)
{
	boot(0, -1, true);
	assert_int_equal(pipe(done_pipe), 0);
	struct gconn c;
	int st, sock = host_connect_accepted(&c, 7000, 65536);
	uint32_t hp = c.hport;
	assert_int_equal(write(sock, "ping", 4), 4);
	WAIT_FOR(c.len >= 4);
	assert_memory_equal(c.data, "ping", 4);
	gconsume(&c, 4);
	gwrite(&c, (const uint8_t *)"pong", 4);
	char buf[4];
	read_exactly(sock, buf, 4);
	assert_memory_equal(buf, "pong", 4);
	/* Closing the handed-out socket: SHUTDOWN(SEND) reaches the guest. */
	close(sock);
	WAIT_FOR(c.shut & 2);

	/* Refused: the guest answers RST. */
	assert_int_equal(lc_vsock_connect(lc, 7001, connect_done, NULL), ZX_OK);
	uint32_t hp2 = expect_request(7001);
	assert_int_not_equal(hp2, hp);
	vg_send_op(&g, 7001, hp2, OP_RST, 0, 0, 0, NULL, 0);
	connect_result(&st, &sock);
	assert_int_equal(st, ZX_ERR_CONNECTION_REFUSED);
	assert_int_equal(sock, -1);
	/* Stopping with a connect pending: it hears CANCELED. */
	assert_int_equal(lc_vsock_connect(lc, 7002, connect_done, NULL), ZX_OK);
	expect_request(7002);
	teardown(NULL);
	connect_result(&st, &sock);
	assert_int_equal(st, ZX_ERR_CANCELED);
	close(done_pipe[0]);
	close(done_pipe[1]);
}

static void test_before_run_and_without_device(void **s)
{
	boot(0, -1, false);
	/* No driver yet: a connect is refused at once; a listen is kept. */
	assert_int_equal(lc_vsock_connect(lc, 7000, connect_done, NULL), ZX_ERR_BAD_STATE);
	int acc[2];
	pair(acc, SOCK_SEQPACKET);
	assert_int_equal(lc_vsock_listen(lc, 5003, acc[1]), ZX_OK);
	int acc2[2];
	pair(acc2, SOCK_SEQPACKET);
	assert_int_equal(lc_vsock_listen(lc, 5003, acc2[1]), ZX_ERR_ALREADY_BOUND);
	/* The first acceptor is gone: its port may be taken again. */
	close(acc[0]);
	pair(acc, SOCK_SEQPACKET);
	assert_int_equal(lc_vsock_listen(lc, 5003, acc[1]), ZX_OK);
	close(acc[0]);
	close(acc2[0]);
	int fd;
	assert_int_equal(guest_get_host_vsock_endpoint(lc, &fd), GUEST_OK);
	teardown(NULL);
	/* No VM. */
	struct lc_options o = { .hv = &hv_fake_ops, .hv_fd = -1, .backend_arg = &ctl, .serial_fd = -1 };
	lc = lc_new(&o);
	assert_int_equal(guest_get_host_vsock_endpoint(lc, &fd), GUEST_ERR_NOT_CREATED);
	assert_int_equal(lc_vsock_listen(lc, 1, -1), ZX_ERR_BAD_STATE);
	struct guest_config c;
	vsock_config(&c, false);
	char err[256];
	assert_int_equal(lc_create(lc, &c, err, sizeof(err)), GUEST_OK);
	assert_int_equal(guest_get_host_vsock_endpoint(lc, &fd), GUEST_ERR_DEVICE_NOT_PRESENT);
	assert_int_equal(lc_vsock_connect(lc, 1, connect_done, NULL), ZX_ERR_NOT_SUPPORTED);
}

/* A reader that takes 4 KiB every millisecond. */
struct slow_reader {
	int fd;
	size_t want, got;
	uint8_t *buf;
};

static void *slow_read_main(void *arg)
{
	struct slow_reader *r = arg;
	while (r->got < r->want) {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		if (poll(&p, 1, 10000) != 1)
			break;
		ssize_t n = read(r->fd, r->buf + r->got, 4096);
		if (n <= 0)
			break;
		r->got += (size_t)n;
		usleep(1000);
	}
	return NULL;
}

static uint8_t *pattern(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 12));
	return p;
}

/* Guest -> host, 1 MiB into a reader much slower than the guest: the guest
 * runs out of credit, waits, and every byte arrives in order. */
static void test_slow_host_reader_loses_nothing(void **s)
{
	boot(0, -1, true);
	int acc[2], sv[2];
	pair(acc, SOCK_SEQPACKET);
	assert_int_equal(lc_vsock_listen(lc, 5004, acc[1]), ZX_OK);
	struct gconn c;
	gconnect(&c, 3000, 5004, 65536);
	assert_true(c.response);
	assert_int_equal(c.peer_buf_alloc, 256u << 10);
	sv[0] = accept_stream(acc[0], 3000, 5004);
	const size_t N = 1u << 20;
	uint8_t *src = pattern(N, 1);
	struct slow_reader r = { .fd = sv[0], .want = N, .buf = malloc(N) };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, slow_read_main, &r), 0);
	gwrite(&c, src, N);
	pthread_join(t, NULL);
	assert_int_equal(r.got, N);
	assert_memory_equal(r.buf, src, N);
	assert_true(c.credit_stalls > 0); /* the credit really ran out */
	assert_false(c.rst);
	free(src);
	free(r.buf);
	close(sv[0]);
	close(acc[0]);
}

struct writer {
	int fd;
	const uint8_t *d;
	size_t n;
	ssize_t done;
};

static void *write_main(void *arg)
{
	struct writer *w = arg;
	size_t off = 0;
	while (off < w->n) {
		ssize_t k = write(w->fd, w->d + off, w->n - off);
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	w->done = (ssize_t)off;
	return NULL;
}

/* Host -> guest, 1 MiB to a guest that gives 32 KiB of credit and reads
 * slowly: the device fills, the vmm holds and retries, nothing is lost. */
static void test_slow_guest_reader_loses_nothing(void **s)
{
	boot(0, -1, true);
	assert_int_equal(pipe(done_pipe), 0);
	struct gconn c;
	int sock = host_connect_accepted(&c, 7100, 32768);
	const size_t N = 1u << 20;
	uint8_t *src = pattern(N, 2), *got = malloc(N);
	struct writer w = { .fd = sock, .d = src, .n = N };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, write_main, &w), 0);
	size_t have = 0;
	for (long long t0 = now_ms(); have < N && now_ms() - t0 < 30000;) {
		pump(10);
		if (c.len >= 8192 || (c.len && c.rx_cnt == N)) {
			size_t k = c.len < 8192 ? c.len : 8192;
			memcpy(got + have, c.data, k);
			have += k;
			gconsume(&c, k);
		}
	}
	pthread_join(t, NULL);
	assert_int_equal(w.done, (ssize_t)N);
	assert_int_equal(have, N);
	assert_memory_equal(got, src, N);
	assert_int_equal(__atomic_load_n(&sink_in_bytes, __ATOMIC_SEQ_CST), N);
	free(src);
	free(got);
	close(sock);
	close(done_pipe[0]);
	close(done_pipe[1]);
}

static void test_unix_listener(void **s)
{
	boot(0, -1, true);
	char dir[] = "/tmp/vm-vsock-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/s", dir);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(lc_vsock_listen_unix(lc, 5005, a.sun_path), ZX_OK);
	assert_int_equal(lc_vsock_listen_unix(lc, 5005, a.sun_path), ZX_ERR_ALREADY_BOUND);
	struct gconn c;
	gconnect(&c, 4000, 5005, 65536);
	assert_true(c.response);
	int s1 = accept(l, NULL, NULL);
	assert_true(s1 >= 0);
	gwrite(&c, (const uint8_t *)"unix", 4);
	char buf[4];
	read_exactly(s1, buf, 4);
	assert_memory_equal(buf, "unix", 4);
	assert_int_equal(write(s1, "back", 4), 4);
	WAIT_FOR(c.len >= 4);
	assert_memory_equal(c.data, "back", 4);
	/* Nobody accepting there any more: refused. */
	close(l);
	unlink(a.sun_path);
	rmdir(dir);
	struct gconn c2;
	gconnect(&c2, 4001, 5005, 65536);
	assert_true(c2.rst);
	close(s1);
}

/* ---- over FIDL ---- */

static int serve_fd[2];
static pthread_t serve_t;

static void *serve_main(void *arg)
{
	vmm_serve(serve_fd[0], &hv_fake_ops, -1);
	return NULL;
}

/* A call on channel ch; the reply decoded into d (msg holds it). */
static void call(int ch, struct fidl_dec *d)
{
	assert_int_equal(fidl_chan_send(ch, &msg), ZX_OK);
	assert_true(readable(ch, TMO));
	assert_int_equal(fidl_chan_recv(ch, &msg), ZX_OK);
	assert_int_equal(fidl_dec_init(d, &msg), ZX_OK);
}

static enum guest_error get_endpoint(int guest, int *ep)
{
	int sv[2];
	pair(sv, SOCK_SEQPACKET);
	assert_int_equal(fv_enc_handle_body(&msg, 9, FV_ORD_GUEST_GET_HOST_VSOCK_ENDPOINT, sv[1]),
	                 ZX_OK);
	struct fidl_dec d;
	call(guest, &d);
	close(sv[1]);
	struct fv_result r;
	assert_int_equal(fv_dec_result(&d, FV_ERR_GUEST_ERROR, false, &r), ZX_OK);
	*ep = sv[0];
	return r.which == FIDL_RESULT_RESPONSE ? GUEST_OK : (enum guest_error)r.err;
}

static int fidl_listen(int ep, uint32_t port, int *acceptor)
{
	int sv[2];
	pair(sv, SOCK_SEQPACKET);
	assert_int_equal(fv_enc_listen_req(&msg, 10, port, sv[1]), ZX_OK);
	struct fidl_dec d;
	call(ep, &d);
	close(sv[1]);
	struct fv_result r;
	assert_int_equal(fv_dec_result(&d, FV_ERR_ZX_STATUS, false, &r), ZX_OK);
	*acceptor = sv[0];
	return r.which == FIDL_RESULT_RESPONSE ? ZX_OK : r.err;
}

static void test_fidl_endpoint(void **s)
{
	fake_hv_reset(&ctl);
	pair(serve_fd, SOCK_SEQPACKET);
	assert_int_equal(pthread_create(&serve_t, NULL, serve_main, NULL), 0);
	struct lc_client cl;
	lcc_attach(&cl, serve_fd[1]);
	enum guest_error e;
	int guest, ep, acc;

	/* Without the device. */
	struct guest_config c;
	vsock_config(&c, false);
	assert_int_equal(lcc_create(&cl, &c, &e), ZX_OK);
	gc_free(&c);
	assert_int_equal(e, GUEST_OK);
	assert_int_equal(lcc_bind(&cl, &guest, &e), ZX_OK);
	assert_int_equal(get_endpoint(guest, &ep), GUEST_ERR_DEVICE_NOT_PRESENT);
	/* The server end was closed. */
	assert_true(readable(ep, TMO));
	assert_int_equal(fidl_chan_recv(ep, &msg), ZX_ERR_PEER_CLOSED);
	close(ep);
	close(guest);

	/* With it. */
	vsock_config(&c, true);
	assert_int_equal(lcc_create(&cl, &c, &e), ZX_OK);
	gc_free(&c);
	assert_int_equal(e, GUEST_OK);
	assert_int_equal(lcc_bind(&cl, &guest, &e), ZX_OK);
	assert_int_equal(get_endpoint(guest, &ep), GUEST_OK);
	assert_int_equal(fidl_listen(ep, 5000, &acc), ZX_OK);
	int acc2;
	assert_int_equal(fidl_listen(ep, 5000, &acc2), ZX_ERR_ALREADY_BOUND);
	close(acc2);

	assert_int_equal(lcc_run_start(&cl), ZX_OK);
	wait_entered();
	assert_int_equal(vg_start(&g, &ctl), 0);

	/* Connect, accepted. */
	assert_int_equal(fv_enc_u32_body(&msg, 11, FV_ORD_VSOCK_CONNECT, 8000), ZX_OK);
	assert_int_equal(fidl_chan_send(ep, &msg), ZX_OK);
	uint32_t hp = expect_request(8000);
	struct gconn gc1;
	gconn_init(&gc1, 8000, hp, 65536);
	gsend_op(&gc1, OP_RESPONSE, 0, NULL, 0);
	assert_true(readable(ep, TMO));
	assert_int_equal(fidl_chan_recv(ep, &msg), ZX_OK);
	struct fidl_dec d;
	struct fv_result r;
	assert_int_equal(fidl_dec_init(&d, &msg), ZX_OK);
	assert_int_equal(d.hdr.txid, 11);
	assert_int_equal(fv_dec_result(&d, FV_ERR_ZX_STATUS, true, &r), ZX_OK);
	assert_int_equal(r.which, FIDL_RESULT_RESPONSE);
	assert_int_equal(write(r.fd, "fidl", 4), 4);
	WAIT_FOR(gc1.len >= 4);
	assert_memory_equal(gc1.data, "fidl", 4);
	close(r.fd);

	/* Connect, refused. */
	assert_int_equal(fv_enc_u32_body(&msg, 12, FV_ORD_VSOCK_CONNECT, 8001), ZX_OK);
	assert_int_equal(fidl_chan_send(ep, &msg), ZX_OK);
	uint32_t hp2 = expect_request(8001);
	vg_send_op(&g, 8001, hp2, OP_RST, 0, 0, 0, NULL, 0);
	assert_true(readable(ep, TMO));
	assert_int_equal(fidl_chan_recv(ep, &msg), ZX_OK);
	assert_int_equal(fidl_dec_init(&d, &msg), ZX_OK);
	assert_int_equal(fv_dec_result(&d, FV_ERR_ZX_STATUS, true, &r), ZX_OK);
	assert_int_equal(r.which, FIDL_RESULT_ERR);
	assert_int_equal(r.err, ZX_ERR_CONNECTION_REFUSED);

	/* The guest connects to the port listened on over FIDL. */
	struct gconn gc2;
	gconnect(&gc2, 1500, 5000, 65536);
	assert_true(gc2.response);
	int sv[2];
	sv[0] = accept_stream(acc, 1500, 5000);
	gwrite(&gc2, (const uint8_t *)"over fidl", 9);
	char buf[9];
	read_exactly(sv[0], buf, 9);
	assert_memory_equal(buf, "over fidl", 9);
	close(sv[0]);

	assert_int_equal(lcc_stop(&cl), ZX_OK);
	assert_int_equal(lcc_run_wait(&cl, TMO, &e), ZX_OK);
	assert_int_equal(e, GUEST_ERR_CONTROLLER_FORCED_HALT);
	close(acc);
	close(ep);
	close(guest);
	lcc_close(&cl);
	pthread_join(serve_t, NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		T(test_guest_connects_to_listener),
		T(test_no_listener_gets_rst),
		T(test_listener_from_config),
		T(test_acceptor_error_or_gone_resets),
		T(test_host_connect_accepted_and_refused),
		T(test_before_run_and_without_device),
		T(test_slow_host_reader_loses_nothing),
		T(test_slow_guest_reader_loses_nothing),
		T(test_unix_listener),
		T(test_fidl_endpoint),
	};
	return cmocka_run_group_tests_name("vm_vsock", tests, NULL, NULL);
}
