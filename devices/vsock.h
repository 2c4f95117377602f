/* devices/vsock.h - virtio-vsock (ID 19): rx 0, tx 1, event 2; stream sockets
 * between the guest (config guest_cid, default 3) and the host (CID 2).
 *
 * Owns: the vsock packet protocol (virtio 1.x "Socket Device"): the 44-byte
 * header {le64 src_cid, dst_cid; le32 src_port, dst_port, len; le16 type, op;
 * le32 flags, buf_alloc, fwd_cnt}, the connection table keyed by (host port,
 * guest port), connection set-up and tear-down, and credit-based flow control
 * in both directions. The vmm drives the host side through the calls below
 * and hears back through struct vsock_host; the device never touches a socket.
 *
 * Guest -> host connections: only to ports the host listens on (listen());
 * host->accept decides. Nothing listening, accept refusing, or a full table
 * (VSOCK_MAX_CONNS) is answered with RST (the vmm's CONNECTION_REFUSED).
 * Host -> guest connections: connect(guest_port) picks a free host port (from
 * 49152) and sends REQUEST; host->connected reports RESPONSE (0) or RST
 * (-ECONNREFUSED); a refused connection is freed with that callback.
 *
 * Data guest -> host goes to host->recv as it arrives. The device advertises
 * buf_alloc = VSOCK_HOST_BUF_ALLOC and a fwd_cnt that advances only when the
 * vmm calls virtio_vsock_consumed(), so the guest never has more than that
 * in flight towards a slow host socket. A guest that sends beyond that credit
 * breaks the protocol: the connection is reset (RST), not silently truncated.
 * When the vmm consumes and the guest's view of our free space has fallen
 * below one packet, or when it sends CREDIT_REQUEST, a CREDIT_UPDATE goes out
 * (every packet carries the current fwd_cnt anyway).
 *
 * Data host -> guest: send() queues up to VSOCK_HOST_TXBUF bytes per
 * connection (short count when partly full, -EAGAIN when full; host->send_space
 * says when to retry). Queued bytes leave in RW packets, never more than the
 * guest's buf_alloc - (tx_cnt - fwd_cnt); at zero credit the device sends one
 * CREDIT_REQUEST and waits for the guest's next packet.
 *
 * Shutdown and close: the guest's SHUTDOWN goes to host->shutdown; once the
 * guest has shut down both directions the device answers RST and the
 * connection closes (host->closed). shutdown() from the host sends SHUTDOWN
 * after the queued data; close() shuts down both and the connection is freed
 * when the guest answers RST (host->closed); reset() sends RST and frees it at
 * once, without a callback.
 *
 * Malformed input: a chain shorter than a header is dropped; a packet whose
 * src_cid is not the guest's or dst_cid not the host's is dropped (counted in
 * bad_cid, as vhost-vsock does); a len beyond the chain's bytes or above
 * VSOCK_MAX_PKT, a type other than STREAM, an unknown op, or an op that makes
 * no sense in the connection's state is answered with RST (and resets the
 * connection if there is one). Control packets for the guest that cannot go
 * out (no receive buffers) wait in per-connection flags; RSTs for closed
 * connections in a bounded queue (VSOCK_RST_QUEUE; overflow counted in
 * rst_dropped). The event queue is never used: there is no transport reset
 * (no migration).
 *
 * Callbacks may call back into the device (send from recv, and so on).
 */
#ifndef DEVICES_VSOCK_H
#define DEVICES_VSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "devices/virtio.h"

#define VSOCK_RXQ 0
#define VSOCK_TXQ 1
#define VSOCK_EVQ 2
#define VSOCK_QUEUE_SIZE 256
#define VSOCK_HOST_CID 2
#define VSOCK_DEFAULT_GUEST_CID 3
#define VSOCK_HDR_LEN 44

#define VIRTIO_VSOCK_TYPE_STREAM 1
#define VIRTIO_VSOCK_OP_INVALID 0
#define VIRTIO_VSOCK_OP_REQUEST 1
#define VIRTIO_VSOCK_OP_RESPONSE 2
#define VIRTIO_VSOCK_OP_RST 3
#define VIRTIO_VSOCK_OP_SHUTDOWN 4
#define VIRTIO_VSOCK_OP_RW 5
#define VIRTIO_VSOCK_OP_CREDIT_UPDATE 6
#define VIRTIO_VSOCK_OP_CREDIT_REQUEST 7
#define VIRTIO_VSOCK_SHUTDOWN_RCV 1
#define VIRTIO_VSOCK_SHUTDOWN_SEND 2

#define VSOCK_MAX_CONNS 64
#define VSOCK_MAX_LISTEN 16
#define VSOCK_HOST_BUF_ALLOC (256u << 10)
#define VSOCK_HOST_TXBUF (64u << 10)
#define VSOCK_MAX_PKT (64u << 10)
#define VSOCK_RST_QUEUE 128
#define VSOCK_EPHEMERAL_FIRST 49152u

struct vsock_host {
	void *ctx;
	/* The guest connects to a port we listen on: 0 accepts, < 0 refuses (RST). */
	int (*accept)(void *ctx, int conn, uint32_t host_port, uint32_t guest_port);
	/* A host-initiated connect finished: 0 connected; -ECONNREFUSED (RST) or
	 * -ECONNRESET (device reset) and conn is already free. */
	void (*connected)(void *ctx, int conn, int result);
	/* Bytes from the guest, in order. Call virtio_vsock_consumed as they drain. */
	void (*recv)(void *ctx, int conn, const void *data, size_t len);
	/* The guest shut down VIRTIO_VSOCK_SHUTDOWN_RCV and/or _SEND (accumulated). */
	void (*shutdown)(void *ctx, int conn, uint32_t flags);
	/* The connection is gone (guest RST, guest closed both ways, the answer to
	 * close(), a protocol violation, a device reset); conn is free afterwards. */
	void (*closed)(void *ctx, int conn);
	/* Optional: send() returned -EAGAIN earlier and there is room again. */
	void (*send_space)(void *ctx, int conn);
};

enum vsock_state { VSOCK_FREE = 0, VSOCK_CONNECTING, VSOCK_ESTABLISHED, VSOCK_CLOSING };

struct vsock_conn {
	enum vsock_state state;
	uint32_t host_port, guest_port;
	uint32_t peer_buf_alloc, peer_fwd_cnt; /* the guest's, from its last packet */
	uint32_t tx_cnt;                       /* bytes sent to the guest */
	uint32_t rx_cnt, fwd_cnt;              /* from the guest; consumed by the host */
	uint32_t last_fwd_sent;                /* fwd_cnt the guest last saw */
	uint8_t *txbuf;                        /* VSOCK_HOST_TXBUF ring of host bytes */
	uint32_t tx_head, tx_len;
	unsigned pending;                      /* control packets owed to the guest */
	uint32_t shut_flags;                   /* SHUTDOWN flags the host asked for */
	uint32_t peer_shut;                    /* SHUTDOWN flags the guest sent */
	bool credit_requested, send_blocked;
};

struct vsock_rst {
	uint32_t host_port, guest_port;
};

struct virtio_vsock {
	struct virtio_device dev;
	struct vsock_host host;
	uint64_t guest_cid;
	struct vsock_conn conns[VSOCK_MAX_CONNS];
	uint32_t listen[VSOCK_MAX_LISTEN];
	unsigned nlisten;
	struct vsock_rst rsts[VSOCK_RST_QUEUE];
	unsigned rst_head, rst_len;
	unsigned rr;            /* next connection to serve: round robin, deterministic */
	uint32_t next_port;
	bool in_pump;
	uint64_t bad_packets, bad_cid, malformed, refused, table_full, credit_violations,
	         rst_sent, rst_dropped, bad_rx_chains, rx_bytes, tx_bytes;
	struct vq_chain tx_chain, rx_chain;
	uint8_t payload[VSOCK_MAX_PKT];
};

void virtio_vsock_init(struct virtio_vsock *v, uint64_t guest_cid, const struct vsock_host *host);
/* Free connection buffers (the device must not be used afterwards). */
void virtio_vsock_destroy(struct virtio_vsock *v);
/* Accept guest connections to host port `port`: 0, -EEXIST, -ENOSPC. */
int virtio_vsock_listen(struct virtio_vsock *v, uint32_t port);
void virtio_vsock_unlisten(struct virtio_vsock *v, uint32_t port);
/* Connect to the guest's `guest_port`: the connection id (result through
 * host->connected), or -ENOTCONN (driver not running), -ENOSPC (table full),
 * -ENOMEM. */
int virtio_vsock_connect(struct virtio_vsock *v, uint32_t guest_port);
/* Queue bytes for the guest: how many were taken (maybe fewer than len),
 * -EAGAIN none fit, -ENOTCONN no such connection or not yet connected,
 * -EPIPE the host shut down sending or the guest shut down receiving. */
ssize_t virtio_vsock_send(struct virtio_vsock *v, int conn, const void *data, size_t len);
/* The host forwarded n more received bytes: frees guest credit. */
int virtio_vsock_consumed(struct virtio_vsock *v, int conn, uint32_t n);
/* Shut down VIRTIO_VSOCK_SHUTDOWN_RCV and/or _SEND towards the guest. */
int virtio_vsock_shutdown(struct virtio_vsock *v, int conn, uint32_t flags);
/* Graceful close: SHUTDOWN both after queued data; freed on the guest's RST. */
int virtio_vsock_close(struct virtio_vsock *v, int conn);
/* Abort: RST now; the connection is free on return (no callback). */
int virtio_vsock_reset(struct virtio_vsock *v, int conn);
/* Ports of a live connection; -ENOTCONN if there is none. */
int virtio_vsock_conn_ports(const struct virtio_vsock *v, int conn, uint32_t *host_port,
                            uint32_t *guest_port);
extern const struct virtio_device_ops virtio_vsock_ops;

#endif
