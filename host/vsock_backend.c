/* host/vsock_backend.c - the set of bridged vsock connections of one
 * device, its host callbacks, and the polling of their sockets.
 * See vsock_backend.h (locking and fd lifetime) and vsock_bridge.h (the
 * rules of one connection).
 */
#include "host/vsock_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/zx_status.h"
#include "base/log.h"

/* ---- the set of bridges ---- */

static int slot_new(struct vsock_backend *be, enum vsock_bridge_state st, int conn)
{
	for (int i = 0; i < VSOCK_BACKEND_MAX_BRIDGES; i++) {
		struct vsock_slot *s = &be->slots[i];
		if (s->b)
			continue;
		struct vsock_bridge *b = malloc(sizeof(*b));
		if (!b)
			return -1;
		vsb_init(b, &be->link, st, conn);
		*s = (struct vsock_slot){ .b = b, .req = { .sock = -1 }, .done_fd = -1 };
		if (conn >= 0)
			be->by_conn[conn] = i;
		return i;
	}
	return -1;
}

/* Only for a bridge whose socket the poller cannot be watching (see .h). */
static void slot_free(struct vsock_backend *be, int i)
{
	struct vsock_slot *s = &be->slots[i];
	vsb_release(s->b);
	if (s->done_fd >= 0)
		close(s->done_fd);
	if (s->req.sock >= 0 && s->b->state == VSB_CONNECTING)
		close(s->req.sock); /* a host connect's socket the guest never accepted */
	free(s->b);
	memset(s, 0, sizeof(*s));
}

/* The slot of a live device connection. A bridge detached from conn keeps
 * its by_conn entry, so the entry counts only while the bridge agrees. */
static int slot_of(const struct vsock_backend *be, int conn)
{
	if (conn < 0 || conn >= VSOCK_MAX_CONNS)
		return -1;
	int i = be->by_conn[conn];
	if (i < 0 || !be->slots[i].b || be->slots[i].b->conn != conn)
		return -1;
	return i;
}

static struct vsock_bridge *bridge_of(const struct vsock_backend *be, int conn)
{
	int i = slot_of(be, conn);
	return i < 0 ? NULL : be->slots[i].b;
}

static bool set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

/* ---- the device's callbacks ---- */

static const char *path_for(const struct vsock_backend *be, uint32_t port)
{
	for (int i = 0; i < VSOCK_MAX_LISTEN; i++)
		if (be->paths[i].path && be->paths[i].port == port)
			return be->paths[i].path;
	return NULL;
}

/* A Unix socket that accepts at once or not at all: never blocks. */
static int connect_path(const char *path, uint32_t host_port, uint32_t guest_port)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
		log_info("vsock: guest port %u -> %u: connect '%s': %s", guest_port, host_port, path,
		         strerror(errno));
		close(s);
		s = -1;
	}
	return s;
}

static int on_accept(void *ctx, int conn, uint32_t host_port, uint32_t guest_port)
{
	struct vsock_backend *be = ctx;
	const char *path = path_for(be, host_port);
	if (!path && !be->acceptor.accept) {
		be->stats.refused++;
		return -ECONNREFUSED;
	}
	int i = slot_new(be, VSB_ACCEPTING, conn);
	if (i < 0) {
		be->stats.refused++;
		return -ECONNREFUSED;
	}
	struct vsock_slot *s = &be->slots[i];
	int r = 0;
	if (path) {
		int sock = connect_path(path, host_port, guest_port);
		if (sock >= 0) {
			be->stats.accepted++;
			vsb_open(s->b, sock);
			return 0;
		}
		r = -ECONNREFUSED;
	} else {
		/* The connection is accepted now (the device answers RESPONSE); the
		 * acceptor's answer bridges it or resets it. */
		r = be->acceptor.accept(be->acceptor.ctx, host_port, guest_port, &s->owner, &s->token);
	}
	if (r < 0) {
		be->stats.refused++;
		s->b->conn = -1; /* the device frees it itself when we refuse */
		slot_free(be, i);
	}
	return r < 0 ? r : 0;
}

static void on_connected(void *ctx, int conn, int result)
{
	struct vsock_backend *be = ctx;
	int i = slot_of(be, conn);
	struct vsock_slot *s = i < 0 ? NULL : &be->slots[i];
	if (!s || s->b->state != VSB_CONNECTING) {
		if (result == 0)
			virtio_vsock_reset(be->link.dev, conn);
		return;
	}
	struct vsock_bridge *b = s->b;
	if (s->req.sock >= 0) {
		/* The caller's socket: it hears first, then bytes cross. */
		uint32_t host_port = 0, guest_port;
		if (result == 0 && virtio_vsock_conn_ports(be->link.dev, conn, &host_port,
		                                           &guest_port) == 0 &&
		    (!s->req.opened || s->req.opened(s->req.ctx, s->req.sock, host_port))) {
			be->stats.established++;
			int sock = s->req.sock;
			s->req.sock = -1;
			vsb_open(b, sock);
			return;
		}
		if (result == 0)
			virtio_vsock_reset(be->link.dev, conn);
		else
			be->stats.refused++;
		/* The socket is closed by the poller when it reaps the bridge. */
		vsb_detach(b);
		return;
	}
	s->done_pending = true;
	if (result < 0) {
		be->stats.refused++;
		vsb_detach(b);
		s->done_status = result == -ECONNREFUSED ? ZX_ERR_CONNECTION_REFUSED : ZX_ERR_CANCELED;
		return;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || !set_nonblock(sv[0])) {
		vsb_reset(b);
		s->done_status = ZX_ERR_NO_RESOURCES;
		return;
	}
	be->stats.established++;
	s->done_fd = sv[1];
	s->done_status = ZX_OK;
	vsb_open(b, sv[0]);
}

static void on_recv(void *ctx, int conn, const void *data, size_t len)
{
	struct vsock_backend *be = ctx;
	struct vsock_bridge *b = bridge_of(be, conn);
	vsock_announce(&be->link, false, data, len);
	if (!b) {
		virtio_vsock_reset(be->link.dev, conn);
		return;
	}
	vsb_guest_data(b, data, len);
}

static void on_shutdown(void *ctx, int conn, uint32_t flags)
{
	struct vsock_bridge *b = bridge_of(ctx, conn);
	if (b)
		vsb_guest_shutdown(b, flags);
}

static void on_closed(void *ctx, int conn)
{
	struct vsock_bridge *b = bridge_of(ctx, conn);
	if (b)
		vsb_guest_closed(b);
}

static void on_send_space(void *ctx, int conn)
{
	struct vsock_bridge *b = bridge_of(ctx, conn);
	if (b)
		vsb_send_space(b);
}

/* ---- set-up and teardown ---- */

void vsock_backend_init(struct vsock_backend *be, struct virtio_vsock *dev,
                        void (*wake)(void *ctx), void *wake_ctx)
{
	memset(be, 0, sizeof(*be));
	be->link = (struct vsock_link){ .dev = dev, .wake = wake, .wake_ctx = wake_ctx };
	for (int i = 0; i < VSOCK_MAX_CONNS; i++)
		be->by_conn[i] = -1;
}

void vsock_backend_set_sink(struct vsock_backend *be, const struct ev_sink *sink,
                            const bool *sink_on)
{
	be->link.sink = sink;
	be->link.sink_on = sink_on;
}

void vsock_backend_set_acceptor(struct vsock_backend *be, const struct vsock_acceptor_hook *h)
{
	be->acceptor = *h;
}

struct vsock_host vsock_backend_device_host(struct vsock_backend *be)
{
	return (struct vsock_host){
		.ctx = be, .accept = on_accept, .connected = on_connected, .recv = on_recv,
		.shutdown = on_shutdown, .closed = on_closed, .send_space = on_send_space,
	};
}

void vsock_backend_destroy(struct vsock_backend *be)
{
	for (int i = 0; i < VSOCK_BACKEND_MAX_BRIDGES; i++) {
		struct vsock_slot *s = &be->slots[i];
		if (!s->b)
			continue;
		/* Nobody is left to bridge a socket handed out now. */
		if (s->req.done)
			s->req.done(s->req.ctx, ZX_ERR_CANCELED, -1);
		s->b->conn = -1; /* the device goes too: nothing to tell it */
		slot_free(be, i);
	}
	for (int i = 0; i < VSOCK_MAX_LISTEN; i++) {
		free(be->paths[i].path);
		be->paths[i].path = NULL;
	}
}

/* ---- the front end's calls ---- */

int vsock_backend_listen_path(struct vsock_backend *be, uint32_t port, const char *path)
{
	if (!path || !path[0] || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -EINVAL;
	int free_slot = -1;
	for (int i = 0; i < VSOCK_MAX_LISTEN && free_slot < 0; i++)
		if (!be->paths[i].path)
			free_slot = i;
	if (free_slot < 0)
		return -ENOSPC;
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	int r = virtio_vsock_listen(be->link.dev, port);
	if (r < 0) {
		free(copy);
		return r;
	}
	be->paths[free_slot] = (struct vsock_path_listener){ .port = port, .path = copy };
	return 0;
}

static bool is_stream_socket(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

int vsock_backend_answer(struct vsock_backend *be, uint32_t owner, uint32_t token, int sock)
{
	int i = -1;
	for (int k = 0; k < VSOCK_BACKEND_MAX_BRIDGES && i < 0; k++) {
		const struct vsock_slot *s = &be->slots[k];
		if (s->b && s->b->state == VSB_ACCEPTING && s->owner == owner && s->token == token)
			i = k;
	}
	struct vsock_bridge *b = i >= 0 ? be->slots[i].b : NULL;
	if (!b || b->conn < 0) {
		/* The guest gave up meanwhile (or a stray answer). */
		if (sock >= 0)
			close(sock);
		return -ENOENT;
	}
	int r = sock < 0 ? -ECONNRESET
	      : !is_stream_socket(sock) || !set_nonblock(sock) ? -ENOTSOCK : 0;
	if (r < 0) {
		if (sock >= 0)
			close(sock);
		virtio_vsock_reset(be->link.dev, b->conn);
		b->conn = -1;
		slot_free(be, i);
		return r;
	}
	vsb_open(b, sock);
	return 0;
}

void vsock_backend_drop_owner(struct vsock_backend *be, uint32_t owner)
{
	for (int i = 0; i < VSOCK_BACKEND_MAX_BRIDGES; i++) {
		struct vsock_slot *s = &be->slots[i];
		if (s->b && s->b->state == VSB_ACCEPTING && s->owner == owner) {
			if (s->b->conn >= 0)
				virtio_vsock_reset(be->link.dev, s->b->conn);
			s->b->conn = -1;
			slot_free(be, i);
		}
	}
}

int vsock_backend_connect(struct vsock_backend *be, uint32_t guest_port,
                          const struct vsock_connect_req *req)
{
	int i = slot_new(be, VSB_CONNECTING, -1);
	if (i < 0)
		return -ENOSPC;
	int c = virtio_vsock_connect(be->link.dev, guest_port);
	if (c < 0) {
		slot_free(be, i);
		return c;
	}
	struct vsock_slot *s = &be->slots[i];
	s->b->conn = c;
	be->by_conn[c] = i;
	s->req = *req;
	be->stats.connects++;
	return c;
}

/* ---- the poller ---- */

unsigned vsock_backend_poll_fill(struct vsock_backend *be, struct pollfd *p, unsigned max)
{
	unsigned n = 0;
	for (int i = 0; i < VSOCK_BACKEND_MAX_BRIDGES && n < max && n < VSOCK_BACKEND_MAX_POLL; i++) {
		const struct vsock_bridge *b = be->slots[i].b;
		short ev = b ? vsb_poll_events(b) : 0;
		if (!ev)
			continue;
		p[n] = (struct pollfd){ .fd = b->sock, .events = ev };
		be->pm[n].slot = (uint16_t)i;
		be->pm[n++].fd = b->sock;
	}
	be->npm = n;
	return n;
}

static bool reapable(const struct vsock_slot *s)
{
	if (s->done_pending)
		return false;
	return vsb_reapable(s->b);
}

unsigned vsock_backend_poll_done(struct vsock_backend *be, const struct pollfd *p, unsigned n,
                                 struct vsock_done_call *calls)
{
	unsigned ncalls = 0;
	for (unsigned k = 0; k < n && k < be->npm; k++) {
		if (!p[k].revents)
			continue;
		struct vsock_bridge *b = be->slots[be->pm[k].slot].b;
		/* The bridge may have gone and its slot been reused since the fill. */
		if (b && b->sock == be->pm[k].fd)
			vsb_socket_ready(b, p[k].revents);
	}
	for (int i = 0; i < VSOCK_BACKEND_MAX_BRIDGES; i++) {
		struct vsock_slot *s = &be->slots[i];
		if (!s->b)
			continue;
		vsb_deliver(s->b);
		if (s->done_pending) {
			calls[ncalls++] = (struct vsock_done_call){ s->req.done, s->req.ctx, s->done_status,
			                                            s->done_fd };
			s->done_pending = false;
			s->req.done = NULL;
			s->done_fd = -1;
		}
		if (reapable(s))
			slot_free(be, i);
	}
	return ncalls;
}

void vsock_backend_run_done(const struct vsock_done_call *calls, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		calls[i].fn(calls[i].ctx, calls[i].status, calls[i].fd);
}
