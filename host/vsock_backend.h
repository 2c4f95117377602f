/* host/vsock_backend.h - the host-socket backend of virtio-vsock (after
 * Firecracker's vsock/unix muxer): the set of bridged connections of one
 * device, the device's host callbacks, polling of the bridge sockets, Unix
 * path listeners, and host-initiated connects.
 *
 * Owns: which bridge belongs to which device connection, the listeners
 * that connect a guest connection to a Unix socket path (refused with RST
 * when nothing accepts there at once), the hook that lets a front end take
 * guest connections to other ports (the vmm's HostVsockAcceptor channels),
 * and the results of host connects. One bridge's rules are in
 * host/vsock_bridge.h.
 *
 * Locking: none of its own. Every call, and every device callback, must be
 * serialised with the device (the vmm's event lock; vmm-device's one
 * thread). Connect results (`done`) are collected by poll_done and run by
 * the caller after it dropped that lock (vsock_backend_run_done), because
 * done may block.
 *
 * Fd lifetime: the poller polls bridge sockets between two holds of the
 * lock, so only poll_done (or destroy, once polling stopped) closes a bridge
 * socket: elsewhere a finished bridge is only detached and the poller woken
 * (link wake). An fd number in its poll set is then never reused under it.
 *
 * Return convention: 0 or a non-negative value on success, -errno on
 * failure, unless a function says otherwise. Connect results are zx.Status.
 */
#ifndef HOST_VSOCK_BACKEND_H
#define HOST_VSOCK_BACKEND_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/vsock_bridge.h"

/* Room for every connection plus as many finishing (lingering) ones. */
#define VSOCK_BACKEND_MAX_BRIDGES (2 * VSOCK_MAX_CONNS)
/* The most pollfds poll_fill can ask for. */
#define VSOCK_BACKEND_MAX_POLL VSOCK_BACKEND_MAX_BRIDGES

/* Who takes a guest connection to host_port when no path listener has that
 * port: 0 when the connection waits for an answer (vsock_backend_answer
 * with the *owner and *token set here), < 0 to refuse it (RST). */
struct vsock_acceptor_hook {
	void *ctx;
	int (*accept)(void *ctx, uint32_t host_port, uint32_t guest_port, uint32_t *owner,
	              uint32_t *token);
};

/* The result of a host connect in socketpair mode: ZX_OK and a connected
 * stream socket done owns, or a status and -1 (ZX_ERR_CONNECTION_REFUSED,
 * ZX_ERR_CANCELED, ZX_ERR_NO_RESOURCES). */
typedef void vsock_connect_done_fn(void *ctx, int status, int sock);

struct vsock_connect_req {
	/* The host end of the new connection, owned from the call on (closed
	 * if the guest refuses); or -1: a socketpair is made once the guest
	 * accepted, one end bridged and the other handed to done. */
	int sock;
	/* sock >= 0: the guest accepted; called at once, before any byte
	 * crosses (host_port is the connection's). false resets it. */
	bool (*opened)(void *ctx, int sock, uint32_t host_port);
	/* sock < 0: exactly one result, from poll_done's collected calls or from
	 * destroy (ZX_ERR_CANCELED). */
	vsock_connect_done_fn *done;
	void *ctx;
};

/* What the counters say, for a program's summary line. */
struct vsock_backend_stats {
	unsigned long long accepted;    /* guest connections bridged to a path */
	unsigned long long refused;     /* guest or host connections refused */
	unsigned long long connects;    /* host connects sent to the guest */
	unsigned long long established; /* host connects the guest accepted */
};

struct vsock_done_call {
	vsock_connect_done_fn *fn;
	void *ctx;
	int status, fd;
};

struct vsock_slot {
	struct vsock_bridge *b;        /* NULL: free */
	uint32_t owner, token;         /* VSB_ACCEPTING: the acceptor's answer key */
	struct vsock_connect_req req;  /* VSB_CONNECTING: the host connect */
	bool done_pending;
	int done_status, done_fd;
};

struct vsock_path_listener {
	uint32_t port;
	char *path; /* NULL: free */
};

struct vsock_backend {
	struct vsock_link link;
	struct vsock_acceptor_hook acceptor;
	struct vsock_slot slots[VSOCK_BACKEND_MAX_BRIDGES];
	int by_conn[VSOCK_MAX_CONNS]; /* device connection -> slot, checked against its conn */
	struct vsock_path_listener paths[VSOCK_MAX_LISTEN];
	/* What the last poll_fill put where, to match revents to their bridge. */
	struct { uint16_t slot; int fd; } pm[VSOCK_BACKEND_MAX_POLL];
	unsigned npm;
	struct vsock_backend_stats stats;
};

/* Set up be for device dev (not initialised yet). wake(wake_ctx) is called
 * whenever the poll set changed; it must not block or take the lock. */
void vsock_backend_init(struct vsock_backend *be, struct virtio_vsock *dev,
                        void (*wake)(void *ctx), void *wake_ctx);
/* Announce bridged bytes to sink while *sink_on (default: never). */
void vsock_backend_set_sink(struct vsock_backend *be, const struct ev_sink *sink,
                            const bool *sink_on);
void vsock_backend_set_acceptor(struct vsock_backend *be, const struct vsock_acceptor_hook *h);
/* The device's host callbacks, for virtio_vsock_init. */
struct vsock_host vsock_backend_device_host(struct vsock_backend *be);
/* After the poller stopped: close every socket; pending connects hear
 * ZX_ERR_CANCELED. The device is the caller's. */
void vsock_backend_destroy(struct vsock_backend *be);

/* Listen on port and bridge each guest connection to a new connection to
 * the Unix stream socket at path (copied): -EINVAL (no path, too long),
 * -EEXIST (port taken), -ENOSPC, -ENOMEM. */
int vsock_backend_listen_path(struct vsock_backend *be, uint32_t port, const char *path);
/* The acceptor's answer for (owner, token): sock >= 0 (owned), a stream
 * socket, is made non-blocking and bridged (0); sock < 0 (-ECONNRESET) or
 * any other kind of socket (-ENOTSOCK) resets the connection. An answer
 * nobody waits for any more is closed (-ENOENT). */
int vsock_backend_answer(struct vsock_backend *be, uint32_t owner, uint32_t token, int sock);
/* The acceptor owner is gone: reset its connections still waiting. */
void vsock_backend_drop_owner(struct vsock_backend *be, uint32_t owner);
/* Connect to the guest's guest_port (see struct vsock_connect_req): the
 * device connection, or -ENOTCONN (the guest's driver is not running),
 * -ENOSPC (no room), -ENOMEM. On failure req->sock is left to the caller. */
int vsock_backend_connect(struct vsock_backend *be, uint32_t guest_port,
                          const struct vsock_connect_req *req);

/* The poller's share: fill up to max pollfds with the sockets bridges wait
 * on; then hand back what poll said (n as filled). poll_done also does the
 * work that needs no fd event (retries after send_space, EOFs to pass on,
 * bridges to reap) and collects connect results into calls (room for
 * VSOCK_BACKEND_MAX_BRIDGES), returning how many: run them with
 * vsock_backend_run_done once the lock is dropped. */
unsigned vsock_backend_poll_fill(struct vsock_backend *be, struct pollfd *p, unsigned max);
unsigned vsock_backend_poll_done(struct vsock_backend *be, const struct pollfd *p, unsigned n,
                                 struct vsock_done_call *calls);
void vsock_backend_run_done(const struct vsock_done_call *calls, unsigned n);

#endif
