/* vmm/vm_vsock.c - the vmm's wiring of virtio-vsock: the device on the vm's
 * bus, its bridges (host/vsock_backend.c) polled by the I/O thread, and the
 * vmm's own protocol for taking guest connections, HostVsockAcceptor
 * channels (Accept requests out, answers in). See vm.h.
 *
 * Locking: every field here and the backend are guarded by the VM's event
 * lock. The device's callbacks already run under it (on a vCPU thread, or
 * inside a host call into the device); the I/O thread takes it to handle
 * what poll reported. Nothing here blocks under the lock: sockets and
 * acceptor channels are non-blocking, and the one call that may block (a
 * HostVsockEndpoint.Connect answer, through `done`) is made after the lock
 * is dropped.
 *
 * Fd lifetime: as for bridge sockets (host/vsock_backend.h), only the I/O
 * thread (or destroy, once it has stopped) closes an acceptor channel it may
 * be polling: a listener whose port is taken over while its acceptor hung up
 * is only retired, and the I/O thread drains and closes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/vsock.h"
#include "fidl/channel.h"
#include "fidl/virtualization.h"
#include "base/log.h"
#include "host/vsock_backend.h"
#include "vm_internal.h"

/* Live acceptors plus retired ones whose channel is still being drained. */
#define VV_MAX_LISTENERS (2 * VSOCK_MAX_LISTEN)

_Static_assert(VM_VSOCK_MAX_POLL >= VSOCK_BACKEND_MAX_POLL + VV_MAX_LISTENERS,
               "the I/O thread must be able to poll every vsock fd");

struct vv_listener {
	bool used;
	bool retired; /* its port was given to a new listener; draining the acceptor */
	uint32_t port;
	int chan;     /* HostVsockAcceptor client end */
};

struct vm_vsock {
	struct vm *vm;
	struct vv_listener listeners[VV_MAX_LISTENERS];
	uint32_t next_txid;
	/* Which acceptor the last poll_fill put where (the bridges follow). */
	struct { uint16_t idx; int fd; } pm[VV_MAX_LISTENERS];
	unsigned nchan;
	struct fidl_msg msg; /* Accept requests and replies, under the lock */
	struct vsock_backend be;
	struct virtio_vsock dev;
};

static void wake_io(void *ctx)
{
	vm_io_kick(ctx);
}

/* ---- acceptors: guest connections to a port listened with a channel ---- */

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

/* The backend's acceptor hook: send Accept; the answer comes on the channel,
 * keyed (listener, txid). A full or closed acceptor refuses at once. */
static int acceptor_accept(void *ctx, uint32_t host_port, uint32_t guest_port, uint32_t *owner,
                           uint32_t *token)
{
	struct vm_vsock *vs = ctx;
	int li = listener_for(vs, host_port);
	if (li < 0)
		return -1;
	uint32_t txid = next_txid(vs);
	int r = fv_enc_accept_req(&vs->msg, txid, (uint32_t)vs->dev.guest_cid, guest_port,
	                          host_port);
	if (r == ZX_OK)
		r = fidl_chan_send(vs->listeners[li].chan, &vs->msg);
	if (r != ZX_OK)
		return -1;
	*owner = (uint32_t)li;
	*token = txid;
	return 0;
}

static bool hung_up(const struct vv_listener *l)
{
	struct pollfd p = { .fd = l->chan, .events = POLLIN };
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* Free port for a new listener: ZX_OK, or ZX_ERR_ALREADY_BOUND while a live
 * acceptor holds it. One whose acceptor is gone but that the I/O thread has
 * not reaped yet (or is not running) gives the port up and is drained and
 * closed by the I/O thread. */
static int take_port(struct vm_vsock *vs, uint32_t port)
{
	int li = listener_for(vs, port);
	if (li < 0)
		return ZX_OK;
	struct vv_listener *old = &vs->listeners[li];
	if (!hung_up(old))
		return ZX_ERR_ALREADY_BOUND;
	virtio_vsock_unlisten(&vs->dev, port);
	old->retired = true;
	return ZX_OK;
}

static int add_acceptor(struct vm_vsock *vs, uint32_t port, int chan)
{
	int r = take_port(vs, port);
	if (r != ZX_OK)
		return r;
	int free_slot = -1;
	for (int i = 0; i < VV_MAX_LISTENERS && free_slot < 0; i++)
		if (!vs->listeners[i].used)
			free_slot = i;
	if (free_slot < 0)
		return ZX_ERR_NO_RESOURCES;
	r = virtio_vsock_listen(&vs->dev, port);
	if (r == -EEXIST)
		return ZX_ERR_ALREADY_BOUND;
	if (r < 0)
		return ZX_ERR_NO_RESOURCES;
	vs->listeners[free_slot] = (struct vv_listener){ .used = true, .port = port, .chan = chan };
	return ZX_OK;
}

/* The acceptor went away or broke the protocol: the listener ends, and the
 * connections still waiting for its answer are reset. I/O thread only. */
static void listener_drop(struct vm_vsock *vs, int li)
{
	struct vv_listener *l = &vs->listeners[li];
	if (!l->retired)
		virtio_vsock_unlisten(&vs->dev, l->port);
	vsock_backend_drop_owner(&vs->be, (uint32_t)li);
	close(l->chan);
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
	bool response = res.which == FIDL_RESULT_RESPONSE;
	if (!response && res.fd >= 0)
		close(res.fd);
	r = vsock_backend_answer(&vs->be, (uint32_t)li, d.hdr.txid, response ? res.fd : -1);
	if (r == -ENOTSOCK)
		log_warn("vsock port %u: the acceptor's answer is not a stream socket", l->port);
}

/* ---- the I/O thread ---- */

unsigned vm_vsock_poll_fill(struct vm *vm, struct pollfd *p, unsigned max)
{
	struct vm_vsock *vs = vm->vsock;
	unsigned n = 0;
	pthread_mutex_lock(&vm->event_lock);
	for (int i = 0; i < VV_MAX_LISTENERS && n < max; i++) {
		const struct vv_listener *l = &vs->listeners[i];
		if (!l->used)
			continue;
		p[n] = (struct pollfd){ .fd = l->chan, .events = POLLIN };
		vs->pm[n].idx = (uint16_t)i;
		vs->pm[n++].fd = l->chan;
	}
	vs->nchan = n;
	n += vsock_backend_poll_fill(&vs->be, p + n, max - n);
	pthread_mutex_unlock(&vm->event_lock);
	return n;
}

void vm_vsock_poll_done(struct vm *vm, const struct pollfd *p, unsigned n)
{
	struct vm_vsock *vs = vm->vsock;
	struct vsock_done_call calls[VSOCK_BACKEND_MAX_BRIDGES];
	pthread_mutex_lock(&vm->event_lock);
	unsigned nchan = n < vs->nchan ? n : vs->nchan;
	for (unsigned k = 0; k < nchan; k++) {
		unsigned i = vs->pm[k].idx;
		if (p[k].revents && vs->listeners[i].used && vs->listeners[i].chan == vs->pm[k].fd)
			listener_input(vs, (int)i);
	}
	unsigned ncalls = vsock_backend_poll_done(&vs->be, p + nchan, n - nchan, calls);
	pthread_mutex_unlock(&vm->event_lock);
	/* done may block (a FIDL answer): never under the lock. */
	vsock_backend_run_done(calls, ncalls);
}

/* ---- the host's calls ---- */

int vm_vsock_listen(struct vm *vm, uint32_t port, int acceptor)
{
	struct vm_vsock *vs = vm->vsock;
	if (acceptor < 0)
		return ZX_ERR_INVALID_ARGS;
	/* Accept requests go out under the event lock: a full acceptor refuses
	 * the connection instead of stalling a vCPU. */
	int fl = vs ? fcntl(acceptor, F_GETFL) : -1;
	if (fl < 0 || fcntl(acceptor, F_SETFL, fl | O_NONBLOCK) != 0) {
		close(acceptor);
		return vs ? ZX_ERR_BAD_HANDLE : ZX_ERR_NOT_SUPPORTED;
	}
	pthread_mutex_lock(&vm->event_lock);
	int r = add_acceptor(vs, port, acceptor);
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
	pthread_mutex_lock(&vm->event_lock);
	int r = take_port(vs, port);
	if (r == ZX_OK) {
		r = vsock_backend_listen_path(&vs->be, port, path);
		r = r == 0 ? ZX_OK : r == -EINVAL ? ZX_ERR_INVALID_ARGS : r == -ENOMEM ? ZX_ERR_NO_MEMORY
		  : r == -EEXIST ? ZX_ERR_ALREADY_BOUND : ZX_ERR_NO_RESOURCES;
	}
	pthread_mutex_unlock(&vm->event_lock);
	return r;
}

int vm_vsock_connect(struct vm *vm, uint32_t guest_port, vm_vsock_connect_fn *done, void *ctx)
{
	struct vm_vsock *vs = vm->vsock;
	if (!vs)
		return ZX_ERR_NOT_SUPPORTED;
	if (!done)
		return ZX_ERR_INVALID_ARGS;
	struct vsock_connect_req req = { .sock = -1, .done = done, .ctx = ctx };
	pthread_mutex_lock(&vm->event_lock);
	int c = vsock_backend_connect(&vs->be, guest_port, &req);
	pthread_mutex_unlock(&vm->event_lock);
	/* -ENOTCONN: the guest's driver is not running (yet). */
	return c >= 0 ? ZX_OK : c == -ENOTCONN ? ZX_ERR_BAD_STATE
	     : c == -ENOSPC ? ZX_ERR_NO_RESOURCES : ZX_ERR_NO_MEMORY;
}

/* ---- creation and teardown ---- */

enum guest_error vm_vsock_add(struct vm *vm, char *err, size_t errlen)
{
	struct vm_vsock *vs = calloc(1, sizeof(*vs));
	if (!vs)
		return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "out of memory");
	vs->vm = vm;
	vs->next_txid = 1;
	vsock_backend_init(&vs->be, &vs->dev, wake_io, vm);
	vsock_backend_set_sink(&vs->be, &vm->sink, &vm->have_sink);
	vsock_backend_set_acceptor(&vs->be, &(struct vsock_acceptor_hook){ vs, acceptor_accept });
	struct vsock_host h = vsock_backend_device_host(&vs->be);
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
	vsock_backend_destroy(&vs->be);
	for (int i = 0; i < VV_MAX_LISTENERS; i++)
		if (vs->listeners[i].used)
			close(vs->listeners[i].chan);
	virtio_vsock_destroy(&vs->dev);
	free(vs);
	vm->vsock = NULL;
}
