/* vmm/serve.c - see serve.h. Each protocol served is a table of methods
 * (ordinal -> body shape -> handler); dispatch() does what every request
 * needs once (header, ordinal, body, and the epitaph when one is bad), so a
 * handler holds only its method's logic and never closes its own channel. */
#include "serve.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fidl/channel.h"
#include "fidl/virtualization.h"
#include "devices/balloon.h"
#include "vmm/lifecycle.h"
#include "base/log.h"

#define SERVE_MAX_GUEST_CHANNELS 16

enum chan_kind { CH_GUEST, CH_BALLOON, CH_VSOCK };

struct server {
	int lifecycle_fd;
	/* Channels bound through the lifecycle: Guest, and the BalloonController
	 * and HostVsockEndpoint server ends handed over by Guest. */
	int guest_fds[SERVE_MAX_GUEST_CHANNELS];
	enum chan_kind kind[SERVE_MAX_GUEST_CHANNELS];
	unsigned nguest;
	struct guest_lifecycle *lc;
	pthread_mutex_t send_lock; /* the run thread answers Run concurrently */
	pthread_t run_thread;
	bool run_thread_live;
	uint32_t run_txid;
	int32_t epitaph; /* non-zero: the lifecycle channel ends with this */
	/* The serial socket of the guest last created: Guest channels bound to
	 * it can still read what the guest wrote after it stopped (a guest that
	 * shuts down in milliseconds would otherwise race every GetSerial). */
	int serial_cache;
	struct fidl_msg in, out;
};

static int send_msg(struct server *s, int fd, struct fidl_msg *m)
{
	pthread_mutex_lock(&s->send_lock);
	int r = fidl_chan_send(fd, m);
	pthread_mutex_unlock(&s->send_lock);
	if (r != ZX_OK && r != ZX_ERR_PEER_CLOSED)
		log_warn("reply could not be sent: %d", r);
	return r;
}

/* Reply with a GuestError result union (0 means success). */
static void reply_result(struct server *s, int fd, uint32_t txid, uint64_t ordinal,
                         enum guest_error e, int handle)
{
	struct fidl_msg *m = malloc(sizeof(*m));
	if (!m)
		return;
	struct fv_result r = { .which = e ? FIDL_RESULT_ERR : FIDL_RESULT_RESPONSE,
	                       .err = (int32_t)e, .fd = handle };
	if (fv_enc_result(m, txid, ordinal, FV_ERR_GUEST_ERROR, handle >= 0 || ordinal == FV_ORD_GUEST_GET_CONSOLE,
	                  &r) == ZX_OK)
		send_msg(s, fd, m);
	free(m);
}

static void *run_main(void *arg)
{
	struct server *s = arg;
	enum guest_error e = lc_run(s->lc);
	if (e)
		log_info("Run returns %s: %s", guest_error_name(e), lc_last_error(s->lc));
	reply_result(s, s->lifecycle_fd, s->run_txid, FV_ORD_LIFECYCLE_RUN, e, -1);
	return NULL;
}

static void join_run(struct server *s)
{
	if (s->run_thread_live) {
		pthread_join(s->run_thread, NULL);
		s->run_thread_live = false;
	}
}

static void close_guest_channel(struct server *s, unsigned i, int32_t epitaph)
{
	assert(i < s->nguest);
	if (epitaph)
		fidl_chan_close_with_epitaph(s->guest_fds[i], epitaph);
	else
		close(s->guest_fds[i]);
	s->nguest--;
	s->guest_fds[i] = s->guest_fds[s->nguest];
	s->kind[i] = s->kind[s->nguest];
}

static bool add_channel(struct server *s, int fd, enum chan_kind kind)
{
	if (s->nguest == SERVE_MAX_GUEST_CHANNELS)
		return false;
	s->guest_fds[s->nguest] = fd;
	s->kind[s->nguest] = kind;
	s->nguest++;
	return true;
}

/* ---- Requests: one table of methods per protocol ---------------------- */

/* The request body shapes of the served methods (virtualization.h). */
enum body { BODY_EMPTY, BODY_HANDLE, BODY_U32, BODY_LISTEN, BODY_CREATE };

/* One request, its body decoded. */
struct call {
	int fd;          /* the channel it came on */
	uint32_t txid;
	uint64_t ordinal;
	uint32_t u32;    /* BODY_U32, BODY_LISTEN: pages or port */
	int handle;      /* BODY_HANDLE, BODY_LISTEN: the handler owns it */
	struct guest_config cfg; /* BODY_CREATE: the handler owns it */
};

/* A handler does its method once the body decoded. It returns ZX_OK, or the
 * epitaph with which its channel closes. */
typedef int (*handler_fn)(struct server *s, struct call *c);

struct method {
	uint64_t ordinal;
	const char *name;
	enum body body;
	handler_fn run;
};

struct protocol {
	const char *name;
	const struct method *methods;
	size_t n;
};

static int decode_body(struct fidl_dec *d, enum body b, struct call *c)
{
	switch (b) {
	case BODY_EMPTY: return fv_dec_empty(d);
	case BODY_HANDLE: return fv_dec_handle_body(d, &c->handle);
	case BODY_U32: return fv_dec_u32_body(d, &c->u32);
	case BODY_LISTEN: return fv_dec_listen_req(d, &c->u32, &c->handle);
	case BODY_CREATE: return fv_dec_create_req(d, &c->cfg);
	}
	assert(!"a method table names an unknown body shape");
	return ZX_ERR_INTERNAL;
}

/* Decode the message in s->in as a request of protocol p and run its
 * method. Returns ZX_OK, or the epitaph with which the channel closes: the
 * header's status when it is malformed, ZX_ERR_NOT_SUPPORTED for an unknown
 * ordinal, ZX_ERR_INVALID_ARGS for a malformed body, or the handler's. No
 * handle of a rejected message stays open. */
static int dispatch(struct server *s, const struct protocol *p, struct call *c)
{
	struct fidl_dec d;
	if (fidl_dec_init(&d, &s->in) != ZX_OK) {
		log_warn("%s: malformed header: %s", p->name, d.err ? d.err : "?");
		return d.status;
	}
	const struct method *m = NULL;
	for (size_t k = 0; k < p->n && !m; k++)
		if (p->methods[k].ordinal == d.hdr.ordinal)
			m = &p->methods[k];
	if (!m) {
		log_warn("%s: unknown method ordinal 0x%016llx: closing", p->name,
		         (unsigned long long)d.hdr.ordinal);
		fidl_msg_close_handles(&s->in);
		return ZX_ERR_NOT_SUPPORTED;
	}
	c->txid = d.hdr.txid;
	c->ordinal = m->ordinal;
	c->handle = -1;
	if (decode_body(&d, m->body, c) != ZX_OK) {
		log_warn("%s.%s: %s", p->name, m->name, d.err ? d.err : "malformed");
		return ZX_ERR_INVALID_ARGS;
	}
	/* A decoded body holds a required handle (the decoders check it). */
	assert(m->body == BODY_EMPTY || m->body == BODY_U32 || m->body == BODY_CREATE ||
	       c->handle >= 0);
	return m->run(s, c);
}

/* -- GuestLifecycle -- */

static int lifecycle_create(struct server *s, struct call *c)
{
	char err[512];
	enum guest_error e = lc_create(s->lc, &c->cfg, err, sizeof(err));
	if (e)
		log_warn("GuestLifecycle.Create: %s: %s", guest_error_name(e), err);
	if (e == GUEST_OK) {
		if (s->serial_cache >= 0)
			close(s->serial_cache);
		if (guest_get_serial(s->lc, &s->serial_cache) != GUEST_OK)
			s->serial_cache = -1;
	}
	reply_result(s, c->fd, c->txid, c->ordinal, e, -1);
	return ZX_OK;
}

static int lifecycle_bind(struct server *s, struct call *c)
{
	enum guest_error e = lc_bind(s->lc);
	if (e == GUEST_OK && !add_channel(s, c->handle, CH_GUEST))
		e = GUEST_ERR_DUPLICATE_PUBLIC_SERVICES;
	if (e) /* The seed: outside Create..Stop the channel is closed at once. */
		close(c->handle);
	reply_result(s, c->fd, c->txid, c->ordinal, e, -1);
	return ZX_OK;
}

static int lifecycle_run(struct server *s, struct call *c)
{
	if (s->run_thread_live) {
		/* A Run is in progress; answer this one at once. */
		reply_result(s, c->fd, c->txid, c->ordinal, GUEST_ERR_ALREADY_RUNNING, -1);
		return ZX_OK;
	}
	s->run_txid = c->txid;
	if (pthread_create(&s->run_thread, NULL, run_main, s) != 0) {
		reply_result(s, c->fd, c->txid, c->ordinal, GUEST_ERR_INTERNAL_ERROR, -1);
		return ZX_OK;
	}
	s->run_thread_live = true;
	return ZX_OK;
}

static int lifecycle_stop(struct server *s, struct call *c)
{
	lc_stop(s->lc);
	/* Run's answer goes out before Stop's. */
	join_run(s);
	while (s->nguest)
		close_guest_channel(s, s->nguest - 1, 0);
	if (fv_enc_empty(&s->out, c->txid, c->ordinal) == ZX_OK)
		send_msg(s, c->fd, &s->out);
	return ZX_OK;
}

static const struct method lifecycle_methods[] = {
	{ FV_ORD_LIFECYCLE_CREATE, "Create", BODY_CREATE, lifecycle_create },
	{ FV_ORD_LIFECYCLE_BIND, "Bind", BODY_HANDLE, lifecycle_bind },
	{ FV_ORD_LIFECYCLE_RUN, "Run", BODY_EMPTY, lifecycle_run },
	{ FV_ORD_LIFECYCLE_STOP, "Stop", BODY_EMPTY, lifecycle_stop },
};

/* -- Guest -- */

static int guest_serial(struct server *s, struct call *c)
{
	int out = -1;
	enum guest_error e = s->serial_cache >= 0
	        ? ((out = fcntl(s->serial_cache, F_DUPFD_CLOEXEC, 0)) >= 0 ? GUEST_OK
	                                                                   : GUEST_ERR_INTERNAL_ERROR)
	        : guest_get_serial(s->lc, &out);
	if (e) /* GetSerial cannot fail on the wire: the channel closes instead. */
		return ZX_ERR_UNAVAILABLE;
	if (fv_enc_handle_body(&s->out, c->txid, c->ordinal, out) == ZX_OK)
		send_msg(s, c->fd, &s->out);
	close(out);
	return ZX_OK;
}

static int guest_console(struct server *s, struct call *c)
{
	int out = -1;
	enum guest_error e = guest_get_console(s->lc, &out);
	reply_result(s, c->fd, c->txid, c->ordinal, e, out);
	if (out >= 0)
		close(out);
	return ZX_OK;
}

/* GetBalloonController and GetHostVsockEndpoint: e is the lifecycle's
 * answer; on success the request's server end is served as a kind channel,
 * otherwise it is closed (the client sees the error on both). */
static int guest_hand_over(struct server *s, struct call *c, enum guest_error e,
                           enum chan_kind kind)
{
	if (e == GUEST_OK && !add_channel(s, c->handle, kind))
		e = GUEST_ERR_DUPLICATE_PUBLIC_SERVICES;
	if (e)
		close(c->handle);
	reply_result(s, c->fd, c->txid, c->ordinal, e, -1);
	return ZX_OK;
}

static int guest_balloon(struct server *s, struct call *c)
{
	int none;
	enum guest_error e = guest_get_balloon_controller(s->lc, &none);
	assert(none == -1); /* lifecycle.h: no fd is made */
	return guest_hand_over(s, c, e, CH_BALLOON);
}

static int guest_vsock(struct server *s, struct call *c)
{
	int none;
	enum guest_error e = guest_get_host_vsock_endpoint(s->lc, &none);
	assert(none == -1); /* lifecycle.h: no fd is made */
	return guest_hand_over(s, c, e, CH_VSOCK);
}

static const struct method guest_methods[] = {
	{ FV_ORD_GUEST_GET_SERIAL, "GetSerial", BODY_EMPTY, guest_serial },
	{ FV_ORD_GUEST_GET_CONSOLE, "GetConsole", BODY_EMPTY, guest_console },
	{ FV_ORD_GUEST_GET_BALLOON_CONTROLLER, "GetBalloonController", BODY_HANDLE, guest_balloon },
	{ FV_ORD_GUEST_GET_HOST_VSOCK_ENDPOINT, "GetHostVsockEndpoint", BODY_HANDLE, guest_vsock },
};

/* -- BalloonController -- */

static int balloon_request_pages(struct server *s, struct call *c)
{
	/* One-way: a failure can only close the channel. */
	return lc_balloon_request_pages(s->lc, c->u32) == GUEST_OK ? ZX_OK : ZX_ERR_UNAVAILABLE;
}

static int balloon_size(struct server *s, struct call *c)
{
	uint32_t actual, requested;
	if (lc_balloon_size(s->lc, &actual, &requested) != GUEST_OK)
		return ZX_ERR_UNAVAILABLE;
	if (fv_enc_balloon_size_resp(&s->out, c->txid, actual, requested) == ZX_OK)
		send_msg(s, c->fd, &s->out);
	return ZX_OK;
}

static int balloon_mem_stats(struct server *s, struct call *c)
{
	struct balloon_stat st[BALLOON_MAX_STATS];
	struct fv_mem_stat ms[BALLOON_MAX_STATS];
	int n = lc_balloon_stats(s->lc, st, BALLOON_MAX_STATS);
	assert(n <= BALLOON_MAX_STATS);
	for (int k = 0; k < n; k++)
		ms[k] = (struct fv_mem_stat){ .tag = st[k].tag, .val = st[k].val };
	/* No stats yet: ZX_ERR_SHOULD_WAIT-like status and no vector, as the
	 * driver has not answered a request so far. */
	if (fv_enc_mem_stats_resp(&s->out, c->txid, n >= 0 ? ZX_OK : ZX_ERR_UNAVAILABLE, n >= 0,
	                          ms, n > 0 ? (size_t)n : 0) == ZX_OK)
		send_msg(s, c->fd, &s->out);
	return ZX_OK;
}

static const struct method balloon_methods[] = {
	{ FV_ORD_BALLOON_REQUEST_NUM_PAGES, "RequestNumPages", BODY_U32, balloon_request_pages },
	{ FV_ORD_BALLOON_GET_BALLOON_SIZE, "GetBalloonSize", BODY_EMPTY, balloon_size },
	{ FV_ORD_BALLOON_GET_MEM_STATS, "GetMemStats", BODY_EMPTY, balloon_mem_stats },
};

/* -- HostVsockEndpoint -- */

/* A zx.Status result on channel fd (sock: the response's socket, or -1). */
static void reply_zx(struct server *s, int fd, uint32_t txid, uint64_t ordinal, int status,
                     bool with_handle, int sock)
{
	struct fv_result r = { .which = status ? FIDL_RESULT_ERR : FIDL_RESULT_RESPONSE,
	                       .err = status, .fd = sock };
	if (fv_enc_result(&s->out, txid, ordinal, FV_ERR_ZX_STATUS, with_handle, &r) == ZX_OK)
		send_msg(s, fd, &s->out);
}

/* A Connect waiting for the guest: answered from the vmm's I/O thread, on
 * a duplicate of the channel so that the number stays valid whatever this
 * loop closes meanwhile. */
struct pending_connect {
	int fd;
	uint32_t txid;
};

static void connect_done(void *ctx, int status, int sock)
{
	struct pending_connect *pc = ctx;
	struct fidl_msg *m = malloc(sizeof(*m));
	struct fv_result r = { .which = status ? FIDL_RESULT_ERR : FIDL_RESULT_RESPONSE,
	                       .err = status, .fd = sock };
	if (m && fv_enc_result(m, pc->txid, FV_ORD_VSOCK_CONNECT, FV_ERR_ZX_STATUS, true, &r) == ZX_OK)
		fidl_chan_send(pc->fd, m);
	free(m);
	if (sock >= 0)
		close(sock); /* moved to the client */
	close(pc->fd);
	free(pc);
}

static int vsock_listen(struct server *s, struct call *c)
{
	int r = lc_vsock_listen(s->lc, c->u32, c->handle);
	reply_zx(s, c->fd, c->txid, c->ordinal, r, false, -1);
	return ZX_OK;
}

static int vsock_connect(struct server *s, struct call *c)
{
	struct pending_connect *pc = malloc(sizeof(*pc));
	int r = ZX_ERR_NO_MEMORY;
	if (pc) {
		pc->txid = c->txid;
		pc->fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
		r = pc->fd < 0 ? ZX_ERR_NO_RESOURCES
		               : lc_vsock_connect(s->lc, c->u32, connect_done, pc);
	}
	if (r != ZX_OK) {
		if (pc && pc->fd >= 0)
			close(pc->fd);
		free(pc);
		reply_zx(s, c->fd, c->txid, c->ordinal, r, true, -1);
	}
	return ZX_OK;
}

static const struct method vsock_methods[] = {
	{ FV_ORD_VSOCK_LISTEN, "Listen", BODY_LISTEN, vsock_listen },
	{ FV_ORD_VSOCK_CONNECT, "Connect", BODY_U32, vsock_connect },
};

#define PROTOCOL(name, methods) { name, methods, sizeof(methods) / sizeof((methods)[0]) }

static const struct protocol lifecycle_protocol = PROTOCOL("GuestLifecycle", lifecycle_methods);

/* The protocols of the channels bound through the lifecycle, by kind. */
static const struct protocol bound_protocols[] = {
	[CH_GUEST] = PROTOCOL("Guest", guest_methods),
	[CH_BALLOON] = PROTOCOL("BalloonController", balloon_methods),
	[CH_VSOCK] = PROTOCOL("HostVsockEndpoint", vsock_methods),
};

/* One message on the lifecycle channel. Returns false when the channel must
 * close (s->epitaph is then set). */
static bool lifecycle_msg(struct server *s)
{
	struct call c = { .fd = s->lifecycle_fd };
	int r = dispatch(s, &lifecycle_protocol, &c);
	if (r != ZX_OK)
		s->epitaph = r;
	return r == ZX_OK;
}

/* One message on bound channel i, which closes with the epitaph a bad
 * message or a failed one-way call earns. */
static void bound_msg(struct server *s, unsigned i)
{
	assert(i < s->nguest);
	struct call c = { .fd = s->guest_fds[i] };
	int r = dispatch(s, &bound_protocols[s->kind[i]], &c);
	if (r != ZX_OK)
		close_guest_channel(s, i, r);
}

int vmm_serve(int channel_fd, const struct hv_ops *hv, int hv_fd)
{
	struct server *s = calloc(1, sizeof(*s));
	if (!s)
		return 1;
	s->lifecycle_fd = channel_fd;
	s->serial_cache = -1;
	pthread_mutex_init(&s->send_lock, NULL);
	struct lc_options o = { .hv = hv, .hv_fd = hv_fd, .serial_fd = -1 };
	s->lc = lc_new(&o);
	int rc = 0;
	for (;;) {
		struct pollfd p[1 + SERVE_MAX_GUEST_CHANNELS];
		p[0] = (struct pollfd){ .fd = s->lifecycle_fd, .events = POLLIN };
		for (unsigned i = 0; i < s->nguest; i++)
			p[1 + i] = (struct pollfd){ .fd = s->guest_fds[i], .events = POLLIN };
		unsigned n = 1 + s->nguest;
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			int r = fidl_chan_recv(s->lifecycle_fd, &s->in);
			if (r == ZX_ERR_PEER_CLOSED) {
				log_info("GuestLifecycle channel closed: stopping the guest");
				break;
			}
			if (r != ZX_OK)
				s->epitaph = r;
			if (r != ZX_OK || !lifecycle_msg(s)) {
				rc = 1;
				break;
			}
		}
		for (unsigned i = n - 1; i >= 1; i--) {
			unsigned gi = i - 1;
			if (gi >= s->nguest || !p[i].revents || p[i].fd != s->guest_fds[gi])
				continue;
			int r = fidl_chan_recv(s->guest_fds[gi], &s->in);
			if (r == ZX_OK)
				bound_msg(s, gi);
			else
				close_guest_channel(s, gi, r == ZX_ERR_PEER_CLOSED ? 0 : r);
		}
	}
	/* Stop the guest and let Run answer before the channel ends, so the
	 * epitaph (if any) is the last message and no thread writes to a closed
	 * (and maybe reused) fd number. */
	lc_stop(s->lc);
	join_run(s);
	while (s->nguest)
		close_guest_channel(s, s->nguest - 1, 0);
	lc_free(s->lc);
	if (s->serial_cache >= 0)
		close(s->serial_cache);
	if (s->epitaph)
		fidl_chan_send_epitaph(s->lifecycle_fd, s->epitaph);
	close(s->lifecycle_fd);
	pthread_mutex_destroy(&s->send_lock);
	free(s);
	return rc;
}
