/* host/vsock_bridge.c - the state machine of one bridged vsock connection.
 * See vsock_bridge.h for the rules; this file only applies them.
 */
#include "host/vsock_bridge.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/event_names.h"

void vsock_announce(const struct vsock_link *l, bool input, const void *data, size_t len)
{
	if (!l->sink || !l->sink_on || !*l->sink_on || !len)
		return;
	if (input && l->sink->host_input)
		l->sink->host_input(l->sink->ctx, EVN_VSOCK, data, len);
	else if (!input && l->sink->host_output)
		l->sink->host_output(l->sink->ctx, EVN_VSOCK, data, len);
}

static void wake(const struct vsock_bridge *b)
{
	if (b->link->wake)
		b->link->wake(b->link->wake_ctx);
}

void vsb_init(struct vsock_bridge *b, const struct vsock_link *l, enum vsock_bridge_state st,
              int conn)
{
	memset(b, 0, offsetof(struct vsock_bridge, in));
	b->link = l;
	b->state = st;
	b->conn = conn;
	b->sock = -1;
}

void vsb_release(struct vsock_bridge *b)
{
	if (b->sock >= 0)
		close(b->sock);
	b->sock = -1;
	free(b->out);
	b->out = NULL;
	b->out_cap = b->out_len = b->out_off = 0;
}

void vsb_detach(struct vsock_bridge *b)
{
	b->conn = -1;
	b->in_len = 0;
	wake(b);
}

void vsb_reset(struct vsock_bridge *b)
{
	if (b->conn >= 0)
		virtio_vsock_reset(b->link->dev, b->conn);
	vsb_detach(b);
}

/* The host socket failed: nothing more can cross, so the guest gets RST
 * rather than a silent truncation. */
static void fail(struct vsock_bridge *b)
{
	vsb_reset(b);
	b->broken = true;
	b->out_len = b->out_off = 0;
}

/* Apply the guest's shutdowns to the socket, once it exists. */
static void apply_shutdowns(struct vsock_bridge *b)
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
static void flush_out(struct vsock_bridge *b)
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
			fail(b);
			return;
		}
		b->out_off += (uint32_t)n;
		b->out_len -= (uint32_t)n;
		if (b->conn >= 0)
			virtio_vsock_consumed(b->link->dev, b->conn, (uint32_t)n);
	}
	b->out_off = 0;
	apply_shutdowns(b);
}

static bool append_out(struct vsock_bridge *b, const void *data, size_t len)
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
		uint32_t cap = b->out_cap ? b->out_cap : VSOCK_BRIDGE_OUT_FIRST;
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

void vsb_open(struct vsock_bridge *b, int sock)
{
	b->sock = sock;
	b->state = VSB_OPEN;
	flush_out(b); /* what the guest sent while we waited */
	apply_shutdowns(b);
	wake(b);      /* a new socket to poll */
}

void vsb_deliver(struct vsock_bridge *b)
{
	if (b->conn < 0 || b->state != VSB_OPEN) {
		b->in_len = 0;
		return;
	}
	while (b->in_len && !b->send_blocked) {
		ssize_t n = virtio_vsock_send(b->link->dev, b->conn, b->in, b->in_len);
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
		vsock_announce(b->link, true, b->in, (size_t)n);
		memmove(b->in, b->in + n, b->in_len - (uint32_t)n);
		b->in_len -= (uint32_t)n;
	}
	if (b->sock_eof && !b->eof_sent && b->in_len == 0 && b->conn >= 0) {
		b->eof_sent = true;
		virtio_vsock_shutdown(b->link->dev, b->conn, VIRTIO_VSOCK_SHUTDOWN_SEND);
	}
}

void vsb_guest_data(struct vsock_bridge *b, const void *data, size_t len)
{
	const uint8_t *p = data;
	if (b->sock >= 0 && !b->broken && b->out_len == 0) {
		ssize_t n;
		do
			n = send(b->sock, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			fail(b);
			return;
		}
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			virtio_vsock_consumed(b->link->dev, b->conn, (uint32_t)n);
		}
	}
	if (len && !append_out(b, p, len)) {
		fail(b);
		return;
	}
	if (b->out_len)
		wake(b); /* the poller waits for POLLOUT now */
}

void vsb_guest_shutdown(struct vsock_bridge *b, uint32_t flags)
{
	if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
		b->guest_wr_done = true;
	if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
		b->guest_rd_done = true;
	apply_shutdowns(b);
	wake(b);
}

void vsb_guest_closed(struct vsock_bridge *b)
{
	/* Whatever the guest sent before closing still goes to the socket. */
	b->guest_wr_done = true;
	vsb_detach(b);
}

void vsb_send_space(struct vsock_bridge *b)
{
	b->send_blocked = false;
	wake(b);
}

short vsb_poll_events(const struct vsock_bridge *b)
{
	if (b->state != VSB_OPEN || b->sock < 0 || b->broken)
		return 0;
	short ev = 0;
	if (b->conn >= 0 && !b->sock_eof && !b->rd_shut && b->in_len < VSOCK_BRIDGE_IN_BUF)
		ev |= POLLIN;
	if (b->out_len)
		ev |= POLLOUT;
	return ev;
}

void vsb_socket_ready(struct vsock_bridge *b, short revents)
{
	if (revents & (POLLOUT | POLLHUP | POLLERR))
		flush_out(b);
	if (!(revents & (POLLIN | POLLHUP | POLLERR)) || b->broken || b->conn < 0 ||
	    b->sock_eof || b->rd_shut || b->in_len == VSOCK_BRIDGE_IN_BUF)
		return;
	ssize_t n = recv(b->sock, b->in + b->in_len, VSOCK_BRIDGE_IN_BUF - b->in_len, MSG_DONTWAIT);
	if (n > 0)
		b->in_len += (uint32_t)n;
	else if (n == 0)
		b->sock_eof = true;
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		fail(b);
}

bool vsb_reapable(const struct vsock_bridge *b)
{
	if (b->conn >= 0)
		return false;
	if (b->state != VSB_OPEN)
		return true;
	return b->sock < 0 || b->broken || b->out_len == 0;
}
