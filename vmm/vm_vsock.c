/* vmm/vm_vsock.c - the host side of virtio-vsock: listeners and their
 * acceptors, host-initiated connections, and the bridge between each
 * connection and a host stream socket. See vm.h.
 *
 * Locking: every field here is guarded by the VM's event lock. The device's
 * callbacks already run under it (on a vCPU thread, or inside a host call
 * into the device); the I/O thread takes it to handle what poll reported.
 * Nothing here blocks under the lock: sockets and acceptor channels are
 * non-blocking, and the one call that may block (a HostVsockEndpoint.Connect
 * answer, through `done`) is made after the lock is dropped.
 *
 * Fd lifetime: the I/O thread polls bridge sockets and acceptor channels
 * between two holds of the lock, so only the I/O thread (or destroy, once it
 * has stopped) closes an fd it may be polling: elsewhere a finished bridge is
 * only marked (conn -1, broken) and the I/O thread is kicked. An fd number in
 * its poll set can then never be reused under it.
 *
 * Flow control, guest -> host: bytes from the guest are written to the
 * socket at once if it takes them, else kept in the bridge's out buffer; the
 * device is told (virtio_vsock_consumed) only of bytes the socket took, so
 * the guest's credit is what the host really drained and out never holds
 * more than VSOCK_HOST_BUF_ALLOC. Host -> guest: at most VV_IN_BUF bytes are
 * read from the socket ahead of the device; when the device is full
 * (-EAGAIN) the socket is not read until send_space.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/vsock.h"
#include "fidl/channel.h"
#include "fidl/virtualization.h"
#include "base/log.h"
#include "vm_internal.h"

/* Room for every connection plus as many finishing (lingering) ones. */
#define VV_MAX_BRIDGES (2 * VSOCK_MAX_CONNS)
/* Live listeners plus retired ones whose acceptor is still being drained. */
#define VV_MAX_LISTENERS (2 * VSOCK_MAX_LISTEN)
#define VV_IN_BUF (16u << 10)

_Static_assert(VM_VSOCK_MAX_POLL >= VV_MAX_BRIDGES + VV_MAX_LISTENERS,
               "the I/O thread must be able to poll every vsock fd");

enum vb_state { VB_ACCEPTING, VB_CONNECTING, VB_OPEN };

struct vv_bridge {
	enum vb_state state;
	int conn;      /* the device's connection; -1 once the guest side is gone */
	int sock;      /* the host socket, -1 until there is one */
	int listener;  /* VB_ACCEPTING: the listener whose Accept answer we wait for */
	uint32_t txid;
	/* Host-initiated: who hears the result, and the result once known. */
	vm_vsock_connect_fn *done;
	void *done_ctx;
	bool done_pending;
	int done_status, done_fd;
	bool sock_eof;      /* the socket said EOF ... */
	bool eof_sent;      /* ... and the guest was told (SHUTDOWN SEND) */
	bool guest_wr_done; /* the guest sends no more: EOF the socket once out drains */
	bool guest_rd_done; /* the guest reads no more */
	bool wr_shut, rd_shut;
	bool send_blocked;  /* the device was full: wait for send_space */
	bool broken;        /* the socket failed; the connection was reset */
	uint8_t *out;       /* guest bytes the socket has not taken yet */
	uint32_t out_off, out_len, out_cap;
	uint32_t in_len;    /* socket bytes the device has not taken yet */
	uint8_t in[VV_IN_BUF];
};

struct vv_listener {
	bool used;
	bool retired; /* its port was given to a new listener; draining the acceptor */
	uint32_t port;
	int chan;     /* HostVsockAcceptor client end, or -1 */
	char *path;   /* Unix socket to connect to, or NULL */
};

enum { PM_LISTENER, PM_BRIDGE };

struct vm_vsock {
	struct vm *vm;
	struct vv_listener listeners[VV_MAX_LISTENERS];
	struct vv_bridge *bridges[VV_MAX_BRIDGES];
	int by_conn[VSOCK_MAX_CONNS]; /* device connection -> bridge, or -1 */
	uint32_t next_txid;
	/* What the last poll_fill put where, to match revents to their owner. */
	struct { uint8_t kind; uint16_t idx; int fd; } pm[VM_VSOCK_MAX_POLL];
	unsigned npm;
	struct fidl_msg msg; /* Accept requests and replies, under the lock */
	struct virtio_vsock dev;
};

/* ---- helpers ---- */

static void announce(struct vm *vm, bool input, const void *data, size_t len)
{
	if (!vm->have_sink || !len)
		return;
	if (input && vm->sink.host_input)
		vm->sink.host_input(vm->sink.ctx, "vsock", data, len);
	else if (!input && vm->sink.host_output)
		vm->sink.host_output(vm->sink.ctx, "vsock", data, len);
}

static bool set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

static bool is_stream_socket(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

static struct vv_bridge *bridge_new(struct vm_vsock *vs, int *idx)
{
	for (int i = 0; i < VV_MAX_BRIDGES; i++) {
		if (vs->bridges[i])
			continue;
		struct vv_bridge *b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		b->conn = b->sock = b->listener = b->done_fd = -1;
		vs->bridges[i] = b;
		*idx = i;
		return b;
	}
	return NULL;
}

/* Only for a bridge whose socket the I/O thread cannot be polling (see top). */
static void bridge_free(struct vm_vsock *vs, int i)
{
	struct vv_bridge *b = vs->bridges[i];
	if (b->conn >= 0)
		vs->by_conn[b->conn] = -1;
	if (b->sock >= 0)
		close(b->sock);
	if (b->done_fd >= 0)
		close(b->done_fd);
	free(b->out);
	free(b);
	vs->bridges[i] = NULL;
}

static struct vv_bridge *bridge_of(struct vm_vsock *vs, int conn)
{
	if (conn < 0 || conn >= VSOCK_MAX_CONNS || vs->by_conn[conn] < 0)
		return NULL;
	return vs->bridges[vs->by_conn[conn]];
}

/* The guest side is gone (or going): the bridge lives on only to finish
 * writing what the guest sent, and the I/O thread reaps it. */
static void detach(struct vm_vsock *vs, struct vv_bridge *b)
{
	if (b->conn >= 0)
		vs->by_conn[b->conn] = -1;
	b->conn = -1;
	b->in_len = 0;
	vm_io_kick(vs->vm);
}

/* The host socket failed: nothing more can cross, so the guest gets RST
 * rather than a silent truncation. */
static void bridge_fail(struct vm_vsock *vs, struct vv_bridge *b)
{
	if (b->conn >= 0)
		virtio_vsock_reset(&vs->dev, b->conn);
	detach(vs, b);
	b->broken = true;
	b->out_len = b->out_off = 0;
}

/* Apply the guest's shutdowns to the socket, once it exists. */
static void apply_shutdowns(struct vv_bridge *b)
{
	if (b->sock < 0 || b->broken)
		return;
	if (b->guest_wr_done && b->out_len == 0 && !b->wr_shut) {
		shutdown(b->sock, SHUT_WR);
		b->wr_shut = true;
	}
	if (b->guest_rd_done && !b->rd_shut) {
		/* The host's writer then gets EPIPE, as a peer that stopped reading. */
		shutdown(b->sock, SHUT_RD);
		b->rd_shut = true;
		b->in_len = 0;
	}
}

/* Write held guest bytes to the socket; credit goes back for what it took. */
static void flush_out(struct vm_vsock *vs, struct vv_bridge *b)
{
	if (b->sock < 0 || b->broken)
		return;
	while (b->out_len) {
		ssize_t n = send(b->sock, b->out + b->out_off, b->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			bridge_fail(vs, b);
			return;
		}
		b->out_off += (uint32_t)n;
		b->out_len -= (uint32_t)n;
		if (b->conn >= 0)
			virtio_vsock_consumed(&vs->dev, b->conn, (uint32_t)n);
	}
	b->out_off = 0;
	apply_shutdowns(b);
}

static bool append_out(struct vv_bridge *b, const void *data, size_t len)
{
	if (b->out_off + b->out_len + len > b->out_cap && b->out_off) {
		memmove(b->out, b->out + b->out_off, b->out_len);
		b->out_off = 0;
	}
	if (b->out_len + len > b->out_cap) {
		/* The device never lets the guest have more than its buf_alloc
		 * unconsumed, and all of that is here: the bound is exact. */
		if (b->out_len + len > VSOCK_HOST_BUF_ALLOC)
			return false;
		uint32_t cap = b->out_cap ? b->out_cap : 16384;
		while (cap < b->out_len + len)
			cap *= 2;
		if (cap > VSOCK_HOST_BUF_ALLOC)
			cap = VSOCK_HOST_BUF_ALLOC;
		uint8_t *p = realloc(b->out, cap);
		if (!p)
			return false;
		b->out = p;
		b->out_cap = cap;
	}
	memcpy(b->out + b->out_off + b->out_len, data, len);
	b->out_len += (uint32_t)len;
	return true;
}

/* Hand bytes read from the socket to the device, as far as it takes them. */
static void deliver_in(struct vm_vsock *vs, struct vv_bridge *b)
{
	if (b->conn < 0 || b->state != VB_OPEN) {
		b->in_len = 0;
		return;
	}
	while (b->in_len && !b->send_blocked) {
		ssize_t n = virtio_vsock_send(&vs->dev, b->conn, b->in, b->in_len);
		if (n == -EAGAIN) {
			b->send_blocked = true;
			break;
		}
		if (n <= 0) {
			/* -EPIPE: the guest reads no more (its SHUTDOWN RCV). */
			b->guest_rd_done = true;
			apply_shutdowns(b);
			b->in_len = 0;
			break;
		}
		announce(vs->vm, true, b->in, (size_t)n);
		memmove(b->in, b->in + n, b->in_len - (uint32_t)n);
		b->in_len -= (uint32_t)n;
	}
	if (b->sock_eof && !b->eof_sent && b->in_len == 0 && b->conn >= 0) {
		b->eof_sent = true;
		virtio_vsock_shutdown(&vs->dev, b->conn, VIRTIO_VSOCK_SHUTDOWN_SEND);
	}
}

/* ---- the device's callbacks (under the event lock) ---- */

static int listener_for(const struct vm_vsock *vs, uint32_t port)
{
	for (int i = 0; i < VV_MAX_LISTENERS; i++) {
		const struct vv_listener *l = &vs->listeners[i];
		if (l->used && !l->retired && l->port == port)
			return i;
	}
	return -1;
}

static uint32_t next_txid(struct vm_vsock *vs)
{
	uint32_t t = vs->next_txid++;
	if (vs->next_txid == 0 || vs->next_txid >= 0x80000000u)
		vs->next_txid = 1; /* 0 is for one-way messages; the top bit is reserved */
	return t;
}

static int on_accept(void *ctx, int conn, uint32_t host_port, uint32_t guest_port)
{
	struct vm_vsock *vs = ctx;
	int li = listener_for(vs, host_port), bi;
	if (li < 0)
		return -1;
	struct vv_bridge *b = bridge_new(vs, &bi);
	if (!b)
		return -1;
	struct vv_listener *l = &vs->listeners[li];
	b->state = VB_ACCEPTING;
	b->conn = conn;
	b->listener = li;
	vs->by_conn[conn] = bi;
	if (l->path) {
		/* A Unix socket that accepts at once or not at all: never blocks. */
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", l->path);
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
			if (s >= 0)
				close(s);
			bridge_free(vs, bi);
			return -1;
		}
		b->sock = s;
		b->state = VB_OPEN;
		vm_io_kick(vs->vm);
		return 0;
	}
	/* The connection is accepted now (the device answers RESPONSE); the
	 * acceptor's answer bridges it or resets it. A full or closed acceptor
	 * refuses at once. */
	b->txid = next_txid(vs);
	int r = fv_enc_accept_req(&vs->msg, b->txid, (uint32_t)vs->dev.guest_cid, guest_port,
	                          host_port);
	if (r == ZX_OK)
		r = fidl_chan_send(l->chan, &vs->msg);
	if (r != ZX_OK) {
		bridge_free(vs, bi);
		return -1;
	}
	return 0;
}

static void on_connected(void *ctx, int conn, int result)
{
	struct vm_vsock *vs = ctx;
	struct vv_bridge *b = bridge_of(vs, conn);
	if (!b || b->state != VB_CONNECTING) {
		if (result == 0)
			virtio_vsock_reset(&vs->dev, conn);
		return;
	}
	b->done_pending = true;
	if (result < 0) {
		detach(vs, b);
		b->done_status = result == -ECONNREFUSED ? ZX_ERR_CONNECTION_REFUSED : ZX_ERR_CANCELED;
		return;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || !set_nonblock(sv[0])) {
		virtio_vsock_reset(&vs->dev, conn);
		detach(vs, b);
		b->done_status = ZX_ERR_NO_RESOURCES;
		return;
	}
	b->sock = sv[0];
	b->done_fd = sv[1];
	b->done_status = ZX_OK;
	b->state = VB_OPEN;
	vm_io_kick(vs->vm);
}

static void on_recv(void *ctx, int conn, const void *data, size_t len)
{
	struct vm_vsock *vs = ctx;
	struct vv_bridge *b = bridge_of(vs, conn);
	announce(vs->vm, false, data, len);
	if (!b) {
		virtio_vsock_reset(&vs->dev, conn);
		return;
	}
	const uint8_t *p = data;
	if (b->sock >= 0 && !b->broken && b->out_len == 0) {
		ssize_t n;
		do
			n = send(b->sock, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			bridge_fail(vs, b);
			return;
		}
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			virtio_vsock_consumed(&vs->dev, conn, (uint32_t)n);
		}
	}
	if (len && !append_out(b, p, len)) {
		bridge_fail(vs, b);
		return;
	}
	if (b->out_len)
		vm_io_kick(vs->vm); /* the I/O thread waits for POLLOUT now */
}

static void on_shutdown(void *ctx, int conn, uint32_t flags)
{
	struct vm_vsock *vs = ctx;
	struct vv_bridge *b = bridge_of(vs, conn);
	if (!b)
		return;
	if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
		b->guest_wr_done = true;
	if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
		b->guest_rd_done = true;
	apply_shutdowns(b);
	vm_io_kick(vs->vm);
}

static void on_closed(void *ctx, int conn)
{
	struct vm_vsock *vs = ctx;
	struct vv_bridge *b = bridge_of(vs, conn);
	if (b) {
		/* Whatever the guest sent before closing still goes to the socket. */
		b->guest_wr_done = true;
		detach(vs, b);
	}
}

static void on_send_space(void *ctx, int conn)
{
	struct vm_vsock *vs = ctx;
	struct vv_bridge *b = bridge_of(vs, conn);
	if (b) {
		b->send_blocked = false;
		vm_io_kick(vs->vm);
	}
}

/* ---- listeners ---- */

static bool hung_up(const struct vv_listener *l)
{
	if (l->chan < 0)
		return false;
	struct pollfd p = { .fd = l->chan, .events = POLLIN };
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* chan or path (owned on success). */
static int add_listener(struct vm_vsock *vs, uint32_t port, int chan, char *path)
{
	int li = listener_for(vs, port);
	if (li >= 0) {
		struct vv_listener *old = &vs->listeners[li];
		if (!hung_up(old))
			return ZX_ERR_ALREADY_BOUND;
		/* Its acceptor is gone but the I/O thread has not reaped it yet
		 * (or is not running): the port goes to the new listener, the old
		 * one is drained and closed by the I/O thread. */
		virtio_vsock_unlisten(&vs->dev, port);
		old->retired = true;
	}
	int free_slot = -1;
	for (int i = 0; i < VV_MAX_LISTENERS && free_slot < 0; i++)
		if (!vs->listeners[i].used)
			free_slot = i;
	if (free_slot < 0)
		return ZX_ERR_NO_RESOURCES;
	int r = virtio_vsock_listen(&vs->dev, port);
	if (r == -EEXIST)
		return ZX_ERR_ALREADY_BOUND;
	if (r < 0)
		return ZX_ERR_NO_RESOURCES;
	vs->listeners[free_slot] = (struct vv_listener){ .used = true, .port = port, .chan = chan,
	                                                 .path = path };
	return ZX_OK;
}

/* The acceptor went away or broke the protocol: the listener ends, and the
 * connections still waiting for its answer are reset. I/O thread or destroy. */
static void listener_drop(struct vm_vsock *vs, int li)
{
	struct vv_listener *l = &vs->listeners[li];
	if (!l->retired)
		virtio_vsock_unlisten(&vs->dev, l->port);
	for (int i = 0; i < VV_MAX_BRIDGES; i++) {
		struct vv_bridge *b = vs->bridges[i];
		if (b && b->state == VB_ACCEPTING && b->listener == li) {
			if (b->conn >= 0)
				virtio_vsock_reset(&vs->dev, b->conn);
			bridge_free(vs, i);
		}
	}
	if (l->chan >= 0)
		close(l->chan);
	free(l->path);
	memset(l, 0, sizeof(*l));
}

/* One message from acceptor li: an Accept answer. */
static void listener_input(struct vm_vsock *vs, int li)
{
	struct vv_listener *l = &vs->listeners[li];
	int r = fidl_chan_recv(l->chan, &vs->msg);
	if (r == ZX_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (r != ZX_OK) {
		listener_drop(vs, li);
		return;
	}
	struct fidl_dec d;
	if (fidl_dec_init(&d, &vs->msg) != ZX_OK || d.hdr.ordinal != FV_ORD_ACCEPTOR_ACCEPT) {
		if (d.hdr.ordinal != FIDL_EPITAPH_ORDINAL)
			log_warn("vsock port %u: the acceptor sent something other than an Accept "
			         "answer: closing it", l->port);
		fidl_msg_close_handles(&vs->msg);
		listener_drop(vs, li);
		return;
	}
	struct fv_result res;
	if (fv_dec_result(&d, FV_ERR_ZX_STATUS, true, &res) != ZX_OK) {
		log_warn("vsock port %u: malformed Accept answer: closing the acceptor", l->port);
		listener_drop(vs, li);
		return;
	}
	int bi = -1;
	for (int i = 0; i < VV_MAX_BRIDGES && bi < 0; i++) {
		struct vv_bridge *b = vs->bridges[i];
		if (b && b->state == VB_ACCEPTING && b->listener == li && b->txid == d.hdr.txid)
			bi = i;
	}
	struct vv_bridge *b = bi >= 0 ? vs->bridges[bi] : NULL;
	if (!b || b->conn < 0) {
		/* The guest gave up meanwhile (or a stray answer). */
		if (res.fd >= 0)
			close(res.fd);
		return;
	}
	if (res.which != FIDL_RESULT_RESPONSE || !is_stream_socket(res.fd) ||
	    !set_nonblock(res.fd)) {
		if (res.which == FIDL_RESULT_RESPONSE)
			log_warn("vsock port %u: the acceptor's answer is not a stream socket", l->port);
		if (res.fd >= 0)
			close(res.fd);
		virtio_vsock_reset(&vs->dev, b->conn);
		bridge_free(vs, bi);
		return;
	}
	b->sock = res.fd;
	b->state = VB_OPEN;
	flush_out(vs, b); /* what the guest sent while we waited */
	apply_shutdowns(b);
}

/* ---- the I/O thread ---- */

static short bridge_events(const struct vv_bridge *b)
{
	if (b->state != VB_OPEN || b->sock < 0 || b->broken)
		return 0;
	short ev = 0;
	if (b->conn >= 0 && !b->sock_eof && !b->rd_shut && b->in_len < VV_IN_BUF)
		ev |= POLLIN;
	if (b->out_len)
		ev |= POLLOUT;
	return ev;
}

unsigned vm_vsock_poll_fill(struct vm *vm, struct pollfd *p, unsigned max)
{
	struct vm_vsock *vs = vm->vsock;
	unsigned n = 0;
	pthread_mutex_lock(&vm->event_lock);
	for (int i = 0; i < VV_MAX_LISTENERS && n < max; i++) {
		const struct vv_listener *l = &vs->listeners[i];
		if (!l->used || l->chan < 0)
			continue;
		p[n] = (struct pollfd){ .fd = l->chan, .events = POLLIN };
		vs->pm[n].kind = PM_LISTENER;
		vs->pm[n].idx = (uint16_t)i;
		vs->pm[n++].fd = l->chan;
	}
	for (int i = 0; i < VV_MAX_BRIDGES && n < max; i++) {
		const struct vv_bridge *b = vs->bridges[i];
		/* A socket with nothing to wait for is left out: its POLLHUP would
		 * otherwise wake us in a loop. */
		short ev = b ? bridge_events(b) : 0;
		if (!ev)
			continue;
		p[n] = (struct pollfd){ .fd = b->sock, .events = ev };
		vs->pm[n].kind = PM_BRIDGE;
		vs->pm[n].idx = (uint16_t)i;
		vs->pm[n++].fd = b->sock;
	}
	vs->npm = n;
	pthread_mutex_unlock(&vm->event_lock);
	return n;
}

static void bridge_io(struct vm_vsock *vs, struct vv_bridge *b, short revents)
{
	if (revents & (POLLOUT | POLLHUP | POLLERR))
		flush_out(vs, b);
	if (!(revents & (POLLIN | POLLHUP | POLLERR)) || b->broken || b->conn < 0 ||
	    b->sock_eof || b->rd_shut || b->in_len == VV_IN_BUF)
		return;
	ssize_t n = recv(b->sock, b->in + b->in_len, VV_IN_BUF - b->in_len, MSG_DONTWAIT);
	if (n > 0)
		b->in_len += (uint32_t)n;
	else if (n == 0)
		b->sock_eof = true;
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		bridge_fail(vs, b);
}

static bool reapable(const struct vv_bridge *b)
{
	if (b->done_pending || b->conn >= 0)
		return false;
	if (b->state != VB_OPEN)
		return true;
	return b->sock < 0 || b->broken || b->out_len == 0;
}

struct done_call {
	vm_vsock_connect_fn *fn;
	void *ctx;
	int status, fd;
};

void vm_vsock_poll_done(struct vm *vm, const struct pollfd *p, unsigned n)
{
	struct vm_vsock *vs = vm->vsock;
	struct done_call calls[VV_MAX_BRIDGES];
	unsigned ncalls = 0;
	pthread_mutex_lock(&vm->event_lock);
	for (unsigned k = 0; k < n && k < vs->npm; k++) {
		if (!p[k].revents)
			continue;
		unsigned i = vs->pm[k].idx;
		if (vs->pm[k].kind == PM_LISTENER) {
			if (vs->listeners[i].used && vs->listeners[i].chan == vs->pm[k].fd)
				listener_input(vs, (int)i);
		} else if (vs->bridges[i] && vs->bridges[i]->sock == vs->pm[k].fd) {
			bridge_io(vs, vs->bridges[i], p[k].revents);
		}
	}
	/* Work that needs no fd event: retries after send_space, EOFs to pass
	 * on, results to hand out, bridges to reap. */
	for (int i = 0; i < VV_MAX_BRIDGES; i++) {
		struct vv_bridge *b = vs->bridges[i];
		if (!b)
			continue;
		deliver_in(vs, b);
		if (b->done_pending) {
			calls[ncalls++] = (struct done_call){ b->done, b->done_ctx, b->done_status,
			                                      b->done_fd };
			b->done_pending = false;
			b->done = NULL;
			b->done_fd = -1;
		}
		if (reapable(b))
			bridge_free(vs, i);
	}
	pthread_mutex_unlock(&vm->event_lock);
	/* done may block (a FIDL answer): never under the lock. */
	for (unsigned i = 0; i < ncalls; i++)
		calls[i].fn(calls[i].ctx, calls[i].status, calls[i].fd);
}

/* ---- the host's calls ---- */

int vm_vsock_listen(struct vm *vm, uint32_t port, int acceptor)
{
	struct vm_vsock *vs = vm->vsock;
	if (acceptor < 0)
		return ZX_ERR_INVALID_ARGS;
	/* Accept requests go out under the event lock: a full acceptor refuses
	 * the connection instead of stalling a vCPU. */
	if (!vs || !set_nonblock(acceptor)) {
		close(acceptor);
		return vs ? ZX_ERR_BAD_HANDLE : ZX_ERR_NOT_SUPPORTED;
	}
	pthread_mutex_lock(&vm->event_lock);
	int r = add_listener(vs, port, acceptor, NULL);
	pthread_mutex_unlock(&vm->event_lock);
	if (r != ZX_OK)
		close(acceptor);
	else
		vm_io_kick(vm); /* a new channel to poll */
	return r;
}

int vm_vsock_listen_unix(struct vm *vm, uint32_t port, const char *path)
{
	struct vm_vsock *vs = vm->vsock;
	if (!vs)
		return ZX_ERR_NOT_SUPPORTED;
	if (!path || !path[0] || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return ZX_ERR_INVALID_ARGS;
	char *copy = strdup(path);
	if (!copy)
		return ZX_ERR_NO_MEMORY;
	pthread_mutex_lock(&vm->event_lock);
	int r = add_listener(vs, port, -1, copy);
	pthread_mutex_unlock(&vm->event_lock);
	if (r != ZX_OK)
		free(copy);
	return r;
}

int vm_vsock_connect(struct vm *vm, uint32_t guest_port, vm_vsock_connect_fn *done, void *ctx)
{
	struct vm_vsock *vs = vm->vsock;
	if (!vs)
		return ZX_ERR_NOT_SUPPORTED;
	if (!done)
		return ZX_ERR_INVALID_ARGS;
	int r = ZX_OK, bi;
	pthread_mutex_lock(&vm->event_lock);
	struct vv_bridge *b = bridge_new(vs, &bi);
	if (!b) {
		r = ZX_ERR_NO_RESOURCES;
	} else {
		int c = virtio_vsock_connect(&vs->dev, guest_port);
		if (c < 0) {
			bridge_free(vs, bi);
			/* -ENOTCONN: the guest's driver is not running (yet). */
			r = c == -ENOTCONN ? ZX_ERR_BAD_STATE
			  : c == -ENOSPC ? ZX_ERR_NO_RESOURCES : ZX_ERR_NO_MEMORY;
		} else {
			b->state = VB_CONNECTING;
			b->conn = c;
			vs->by_conn[c] = bi;
			b->done = done;
			b->done_ctx = ctx;
		}
	}
	pthread_mutex_unlock(&vm->event_lock);
	return r;
}

/* ---- creation and teardown ---- */

enum guest_error vm_vsock_add(struct vm *vm, char *err, size_t errlen)
{
	struct vm_vsock *vs = calloc(1, sizeof(*vs));
	if (!vs)
		return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "out of memory");
	vs->vm = vm;
	vs->next_txid = 1;
	for (int i = 0; i < VSOCK_MAX_CONNS; i++)
		vs->by_conn[i] = -1;
	struct vsock_host h = {
		.ctx = vs, .accept = on_accept, .connected = on_connected, .recv = on_recv,
		.shutdown = on_shutdown, .closed = on_closed, .send_space = on_send_space,
	};
	virtio_vsock_init(&vs->dev, VSOCK_DEFAULT_GUEST_CID, &h);
	vm->vsock = vs;
	enum guest_error e = vm_add_virtio(vm, &vs->dev.dev, err, errlen);
	if (e)
		return e;
	struct guest_config *c = &vm->cfg;
	for (size_t i = 0; c->vsock_listeners && i < c->n_vsock_listeners; i++) {
		struct vsock_listener *l = &c->vsock_listeners[i];
		int fd = l->acceptor_fd;
		l->acceptor_fd = -1; /* moved to the listener */
		int r = vm_vsock_listen(vm, l->port, fd);
		if (r != ZX_OK)
			return vm_fail(err, errlen, GUEST_ERR_DEVICE_INITIALIZATION_FAILURE,
			               "vsock_listeners[%zu]: port %u: %s", i, l->port,
			               r == ZX_ERR_NO_RESOURCES ? "too many listeners (the device "
			                                          "has room for 16)"
			                                        : "cannot listen");
	}
	return GUEST_OK;
}

void vm_vsock_destroy(struct vm *vm)
{
	struct vm_vsock *vs = vm->vsock;
	if (!vs)
		return;
	for (int i = 0; i < VV_MAX_BRIDGES; i++) {
		struct vv_bridge *b = vs->bridges[i];
		if (!b)
			continue;
		/* Nobody is left to bridge a socket handed out now. */
		if (b->done)
			b->done(b->done_ctx, ZX_ERR_CANCELED, -1);
		b->conn = -1; /* the device goes too: nothing to tell it */
		bridge_free(vs, i);
	}
	for (int i = 0; i < VV_MAX_LISTENERS; i++) {
		struct vv_listener *l = &vs->listeners[i];
		if (!l->used)
			continue;
		if (l->chan >= 0)
			close(l->chan);
		free(l->path);
	}
	virtio_vsock_destroy(&vs->dev);
	free(vs);
	vm->vsock = NULL;
}
