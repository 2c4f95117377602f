/* vmm/serve.c - see serve.h. */
#include "serve.h"

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

/* One GuestLifecycle message. Returns false when the channel must close. */
static bool lifecycle_msg(struct server *s)
{
	struct fidl_dec d;
	if (fidl_dec_init(&d, &s->in) != ZX_OK) {
		log_warn("GuestLifecycle: malformed header: %s", d.err ? d.err : "?");
		s->epitaph = d.status;
		return false;
	}
	uint32_t txid = d.hdr.txid;
	switch (d.hdr.ordinal) {
	case FV_ORD_LIFECYCLE_CREATE: {
		struct guest_config cfg;
		gc_init(&cfg);
		if (fv_dec_create_req(&d, &cfg) != ZX_OK) {
			log_warn("GuestLifecycle.Create: %s", d.err ? d.err : "malformed");
			gc_free(&cfg);
			s->epitaph = ZX_ERR_INVALID_ARGS;
			return false;
		}
		char err[512];
		enum guest_error e = lc_create(s->lc, &cfg, err, sizeof(err));
		if (e)
			log_warn("GuestLifecycle.Create: %s: %s", guest_error_name(e), err);
		if (e == GUEST_OK) {
			if (s->serial_cache >= 0)
				close(s->serial_cache);
			if (guest_get_serial(s->lc, &s->serial_cache) != GUEST_OK)
				s->serial_cache = -1;
		}
		reply_result(s, s->lifecycle_fd, txid, FV_ORD_LIFECYCLE_CREATE, e, -1);
		return true;
	}
	case FV_ORD_LIFECYCLE_BIND: {
		int guest = -1;
		if (fv_dec_handle_body(&d, &guest) != ZX_OK) {
			s->epitaph = ZX_ERR_INVALID_ARGS;
			return false;
		}
		enum guest_error e = lc_bind(s->lc);
		if (e == GUEST_OK && !add_channel(s, guest, CH_GUEST))
			e = GUEST_ERR_DUPLICATE_PUBLIC_SERVICES;
		if (e) /* The seed: outside Create..Stop the channel is closed at once. */
			close(guest);
		reply_result(s, s->lifecycle_fd, txid, FV_ORD_LIFECYCLE_BIND, e, -1);
		return true;
	}
	case FV_ORD_LIFECYCLE_RUN: {
		if (fv_dec_empty(&d) != ZX_OK) {
			s->epitaph = ZX_ERR_INVALID_ARGS;
			return false;
		}
		if (s->run_thread_live) {
			/* A Run is in progress; answer this one at once. */
			reply_result(s, s->lifecycle_fd, txid, FV_ORD_LIFECYCLE_RUN,
			             GUEST_ERR_ALREADY_RUNNING, -1);
			return true;
		}
		s->run_txid = txid;
		if (pthread_create(&s->run_thread, NULL, run_main, s) != 0) {
			reply_result(s, s->lifecycle_fd, txid, FV_ORD_LIFECYCLE_RUN,
			             GUEST_ERR_INTERNAL_ERROR, -1);
			return true;
		}
		s->run_thread_live = true;
		return true;
	}
	case FV_ORD_LIFECYCLE_STOP: {
		if (fv_dec_empty(&d) != ZX_OK) {
			s->epitaph = ZX_ERR_INVALID_ARGS;
			return false;
		}
		lc_stop(s->lc);
		/* Run's answer goes out before Stop's. */
		join_run(s);
		while (s->nguest)
			close_guest_channel(s, s->nguest - 1, 0);
		if (fv_enc_empty(&s->out, txid, FV_ORD_LIFECYCLE_STOP) == ZX_OK)
			send_msg(s, s->lifecycle_fd, &s->out);
		return true;
	}
	default:
		log_warn("GuestLifecycle: unknown method ordinal 0x%016llx: closing",
		         (unsigned long long)d.hdr.ordinal);
		fidl_msg_close_handles(&s->in);
		s->epitaph = ZX_ERR_NOT_SUPPORTED;
		return false;
	}
}

/* One Guest message on guest channel i. */
static void guest_msg(struct server *s, unsigned i)
{
	int fd = s->guest_fds[i];
	struct fidl_dec d;
	if (fidl_dec_init(&d, &s->in) != ZX_OK) {
		close_guest_channel(s, i, d.status);
		return;
	}
	uint32_t txid = d.hdr.txid;
	int out = -1, req = -1;
	enum guest_error e;
	switch (d.hdr.ordinal) {
	case FV_ORD_GUEST_GET_SERIAL:
		if (fv_dec_empty(&d) != ZX_OK)
			break;
		e = s->serial_cache >= 0
		        ? ((out = fcntl(s->serial_cache, F_DUPFD_CLOEXEC, 0)) >= 0 ? GUEST_OK
		                                                                   : GUEST_ERR_INTERNAL_ERROR)
		        : guest_get_serial(s->lc, &out);
		if (e) {
			/* GetSerial cannot fail on the wire: the channel closes instead. */
			close_guest_channel(s, i, ZX_ERR_UNAVAILABLE);
			return;
		}
		if (fv_enc_handle_body(&s->out, txid, FV_ORD_GUEST_GET_SERIAL, out) == ZX_OK)
			send_msg(s, fd, &s->out);
		close(out);
		return;
	case FV_ORD_GUEST_GET_CONSOLE:
		if (fv_dec_empty(&d) != ZX_OK)
			break;
		e = guest_get_console(s->lc, &out);
		reply_result(s, fd, txid, FV_ORD_GUEST_GET_CONSOLE, e, out);
		if (out >= 0)
			close(out);
		return;
	case FV_ORD_GUEST_GET_BALLOON_CONTROLLER:
		if (fv_dec_handle_body(&d, &req) != ZX_OK)
			break;
		e = guest_get_balloon_controller(s->lc, &out);
		if (e == GUEST_OK && !add_channel(s, req, CH_BALLOON))
			e = GUEST_ERR_DUPLICATE_PUBLIC_SERVICES;
		if (e) /* without the device the server end is closed with the error */
			close(req);
		reply_result(s, fd, txid, d.hdr.ordinal, e, -1);
		return;
	case FV_ORD_GUEST_GET_HOST_VSOCK_ENDPOINT:
		if (fv_dec_handle_body(&d, &req) != ZX_OK)
			break;
		e = guest_get_host_vsock_endpoint(s->lc, &out);
		if (e == GUEST_OK && !add_channel(s, req, CH_VSOCK))
			e = GUEST_ERR_DUPLICATE_PUBLIC_SERVICES;
		if (e)
			close(req);
		reply_result(s, fd, txid, d.hdr.ordinal, e, -1);
		return;
	default:
		fidl_msg_close_handles(&s->in);
		close_guest_channel(s, i, ZX_ERR_NOT_SUPPORTED);
		return;
	}
	close_guest_channel(s, i, ZX_ERR_INVALID_ARGS);
}

/* One BalloonController message on channel i. */
static void balloon_msg(struct server *s, unsigned i)
{
	int fd = s->guest_fds[i];
	struct fidl_dec d;
	if (fidl_dec_init(&d, &s->in) != ZX_OK) {
		close_guest_channel(s, i, d.status);
		return;
	}
	uint32_t txid = d.hdr.txid, pages;
	switch (d.hdr.ordinal) {
	case FV_ORD_BALLOON_REQUEST_NUM_PAGES:
		if (fv_dec_u32_body(&d, &pages) != ZX_OK)
			break;
		if (lc_balloon_request_pages(s->lc, pages) != GUEST_OK)
			close_guest_channel(s, i, ZX_ERR_UNAVAILABLE);
		return;
	case FV_ORD_BALLOON_GET_BALLOON_SIZE: {
		if (fv_dec_empty(&d) != ZX_OK)
			break;
		uint32_t actual, requested;
		if (lc_balloon_size(s->lc, &actual, &requested) != GUEST_OK) {
			close_guest_channel(s, i, ZX_ERR_UNAVAILABLE);
			return;
		}
		if (fv_enc_balloon_size_resp(&s->out, txid, actual, requested) == ZX_OK)
			send_msg(s, fd, &s->out);
		return;
	}
	case FV_ORD_BALLOON_GET_MEM_STATS: {
		if (fv_dec_empty(&d) != ZX_OK)
			break;
		struct balloon_stat st[BALLOON_MAX_STATS];
		struct fv_mem_stat ms[BALLOON_MAX_STATS];
		int n = lc_balloon_stats(s->lc, st, BALLOON_MAX_STATS);
		for (int k = 0; k < n; k++)
			ms[k] = (struct fv_mem_stat){ .tag = st[k].tag, .val = st[k].val };
		/* No stats yet: ZX_ERR_SHOULD_WAIT-like status and no vector, as the
		 * driver has not answered a request so far. */
		if (fv_enc_mem_stats_resp(&s->out, txid, n >= 0 ? ZX_OK : ZX_ERR_UNAVAILABLE, n >= 0,
		                          ms, n > 0 ? (size_t)n : 0) == ZX_OK)
			send_msg(s, fd, &s->out);
		return;
	}
	default:
		fidl_msg_close_handles(&s->in);
		close_guest_channel(s, i, ZX_ERR_NOT_SUPPORTED);
		return;
	}
	close_guest_channel(s, i, ZX_ERR_INVALID_ARGS);
}

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

/* One HostVsockEndpoint message on channel i. */
static void vsock_msg(struct server *s, unsigned i)
{
	int fd = s->guest_fds[i];
	struct fidl_dec d;
	if (fidl_dec_init(&d, &s->in) != ZX_OK) {
		close_guest_channel(s, i, d.status);
		return;
	}
	uint32_t txid = d.hdr.txid, port;
	int acceptor = -1, r;
	switch (d.hdr.ordinal) {
	case FV_ORD_VSOCK_LISTEN:
		if (fv_dec_listen_req(&d, &port, &acceptor) != ZX_OK)
			break;
		r = lc_vsock_listen(s->lc, port, acceptor);
		reply_zx(s, fd, txid, FV_ORD_VSOCK_LISTEN, r, false, -1);
		return;
	case FV_ORD_VSOCK_CONNECT: {
		if (fv_dec_u32_body(&d, &port) != ZX_OK)
			break;
		struct pending_connect *pc = malloc(sizeof(*pc));
		r = ZX_ERR_NO_MEMORY;
		if (pc) {
			pc->txid = txid;
			pc->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
			r = pc->fd < 0 ? ZX_ERR_NO_RESOURCES
			               : lc_vsock_connect(s->lc, port, connect_done, pc);
		}
		if (r != ZX_OK) {
			if (pc && pc->fd >= 0)
				close(pc->fd);
			free(pc);
			reply_zx(s, fd, txid, FV_ORD_VSOCK_CONNECT, r, true, -1);
		}
		return;
	}
	default:
		fidl_msg_close_handles(&s->in);
		close_guest_channel(s, i, ZX_ERR_NOT_SUPPORTED);
		return;
	}
	close_guest_channel(s, i, ZX_ERR_INVALID_ARGS);
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
			if (r == ZX_OK && s->kind[gi] == CH_BALLOON)
				balloon_msg(s, gi);
			else if (r == ZX_OK && s->kind[gi] == CH_VSOCK)
				vsock_msg(s, gi);
			else if (r == ZX_OK)
				guest_msg(s, gi);
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
