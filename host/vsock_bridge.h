/* host/vsock_bridge.h - the connection state machine of one virtio-vsock
 * connection bridged to one host stream socket (Firecracker's vsock/csm).
 *
 * Owns: a bridge's states, its in/out buffers, the flow-control rules, and
 * what to tell the device and the socket on each event. It knows no
 * listener, no FIDL, no poll set and no lock: host/vsock_backend.c holds the
 * set of bridges, polls their sockets and calls in here, under whatever lock
 * serialises the device (the vmm's event lock; vmm-device has one thread).
 *
 * Flow control, guest -> host: guest bytes are written to the socket at once
 * if it takes them, else kept in `out`; the device is told
 * (virtio_vsock_consumed) only of bytes the socket took, so the guest's
 * credit is what the host really drained and `out` never holds more than
 * VSOCK_HOST_BUF_ALLOC (more is a broken device: the bridge fails).
 * Host -> guest: at most VSOCK_BRIDGE_IN_BUF bytes are read from the socket
 * ahead of the device; once virtio_vsock_send says -EAGAIN nothing more is
 * handed over until the device's send_space (vsb_send_space).
 *
 * End of a connection: socket EOF becomes SHUTDOWN(SEND) to the guest once
 * the read-ahead is delivered; the guest's SHUTDOWN(SEND) becomes SHUT_WR
 * once `out` drained, its SHUTDOWN(RCV) SHUT_RD. A socket error resets the
 * guest's connection (RST, never a silent truncation). When the guest's side
 * is gone the bridge is detached (conn -1) and lingers only until what the
 * guest sent reached the socket (vsb_reapable).
 *
 * Every function returns nothing: the outcome is the bridge's new state.
 */
#ifndef HOST_VSOCK_BRIDGE_H
#define HOST_VSOCK_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/events.h"
#include "devices/vsock.h"

/* Socket bytes read ahead of the device, per connection. */
#define VSOCK_BRIDGE_IN_BUF (16u << 10)
/* First allocation of the out buffer; it doubles up to VSOCK_HOST_BUF_ALLOC. */
#define VSOCK_BRIDGE_OUT_FIRST (16u << 10)

/* What every bridge of one device shares: the device, the sink that hears
 * the bytes ("vsock"), and how to wake the thread that polls the sockets
 * (its poll set changed: a socket to watch, bytes to write, a bridge to
 * reap). */
struct vsock_link {
	struct virtio_vsock *dev;
	/* Where bridged bytes are announced, while *sink_on (both may be NULL:
	 * no announcements). */
	const struct ev_sink *sink;
	const bool *sink_on;
	void (*wake)(void *ctx);
	void *wake_ctx;
};

enum vsock_bridge_state {
	VSB_ACCEPTING,  /* a guest connection waiting for its socket from an acceptor */
	VSB_CONNECTING, /* a host connection waiting for the guest's answer */
	VSB_OPEN,       /* bytes cross */
};

struct vsock_bridge {
	const struct vsock_link *link;
	enum vsock_bridge_state state;
	int conn;           /* the device's connection; -1 once the guest side is gone */
	int sock;           /* the host socket, -1 until there is one */
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
	uint8_t in[VSOCK_BRIDGE_IN_BUF];
};

/* Announce bridged bytes to the link's sink: input (socket -> guest) or
 * output (guest -> socket). The one place vsock bytes reach a sink. */
void vsock_announce(const struct vsock_link *l, bool input, const void *data, size_t len);

/* A fresh bridge for device connection conn (or -1), in state st, no socket. */
void vsb_init(struct vsock_bridge *b, const struct vsock_link *l, enum vsock_bridge_state st,
              int conn);
/* The socket is known (non-blocking, owned from now): bytes cross; what the
 * guest sent meanwhile is written. */
void vsb_open(struct vsock_bridge *b, int sock);
/* Close the socket and free the buffers. Only for a bridge whose socket no
 * poller can be watching (see host/vsock_backend.h). */
void vsb_release(struct vsock_bridge *b);

/* ---- the device's events ---- */
/* Bytes from the guest (already announced by the caller). */
void vsb_guest_data(struct vsock_bridge *b, const void *data, size_t len);
/* The guest's SHUTDOWN flags (VIRTIO_VSOCK_SHUTDOWN_RCV / _SEND). */
void vsb_guest_shutdown(struct vsock_bridge *b, uint32_t flags);
/* The device's connection is gone: what the guest sent still goes out. */
void vsb_guest_closed(struct vsock_bridge *b);
/* The device has room again after -EAGAIN. */
void vsb_send_space(struct vsock_bridge *b);

/* ---- the socket's events ---- */
/* The poll events the bridge waits for now; 0 leaves the socket out of the
 * poll set (a hung-up socket with nothing wanted would wake in a loop). */
short vsb_poll_events(const struct vsock_bridge *b);
/* What poll reported for the socket. */
void vsb_socket_ready(struct vsock_bridge *b, short revents);
/* Hand read-ahead bytes to the device as far as it takes them, and pass a
 * socket EOF on once they are all delivered. */
void vsb_deliver(struct vsock_bridge *b);

/* ---- endings ---- */
/* Reset the guest's connection (if any) and detach. */
void vsb_reset(struct vsock_bridge *b);
/* The guest side is gone (or going): forget conn; the poller is woken to
 * reap the bridge. */
void vsb_detach(struct vsock_bridge *b);
/* Nothing more can cross and nothing waits for the socket: free it. */
bool vsb_reapable(const struct vsock_bridge *b);

#endif
