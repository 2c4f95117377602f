/* vmm-device/kind_vsock.c - virtio-vsock served over vhost-user, its
 * connections bridged to Unix stream sockets.
 *
 * The bridge is host/vsock_backend.c (the vmm's too): --vsock-listen
 * PORT:PATH are its path listeners, --vsock-connect-socket PATH its
 * CONNECT-line server (host/vsock_connect_server.c). Here only their fds
 * meet the vhost-user loop: every fd they want polled sits in one epoll set
 * (one vhu watch), rebuilt after each round, and the backend's wake is an
 * eventfd (a second watch) so a kick that changed what to poll is seen.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"
#include "devices/vsock.h"
#include "host/vsock_backend.h"
#include "host/vsock_connect_server.h"
#include "kinds.h"
#include "usage.h"

static struct virtio_vsock vs;
static struct vsock_backend vs_be;
static struct vsock_connect_server vs_cs;
static int vs_ep = -1, vs_wake = -1;

#define VS_MAX_POLL (VSOCK_BACKEND_MAX_POLL + VSOCK_CONNECT_MAX_POLL)
static int vs_watched[VS_MAX_POLL];
static unsigned vs_nwatched;

static void vs_wake_up(void *ctx)
{
	uint64_t one = 1;
	ssize_t w = write(vs_wake, &one, sizeof(one));
	(void)w; /* a full counter is already a wake-up */
}

static unsigned vs_fill(struct pollfd *p, unsigned *ncs)
{
	*ncs = vsock_connect_server_poll_fill(&vs_cs, p, VSOCK_CONNECT_MAX_POLL);
	return *ncs + vsock_backend_poll_fill(&vs_be, p + *ncs, VSOCK_BACKEND_MAX_POLL);
}

/* One round: what the fds say now, then the epoll set follows what the
 * bridges want next. Fd numbers may have been reused since the last round,
 * so the set is rebuilt rather than patched. */
static void vs_events(void *ctx, int fd, short revents)
{
	uint64_t v;
	while (read(vs_wake, &v, sizeof(v)) > 0)
		;
	struct pollfd p[VS_MAX_POLL];
	struct vsock_done_call calls[VSOCK_BACKEND_MAX_BRIDGES];
	unsigned ncs, n = vs_fill(p, &ncs);
	if (poll(p, n, 0) < 0)
		n = ncs = 0;
	vsock_connect_server_poll_done(&vs_cs, p, ncs);
	/* Connects here come from the CONNECT server, which wants no result call. */
	vsock_backend_run_done(calls, vsock_backend_poll_done(&vs_be, p + ncs, n - ncs, calls));
	for (unsigned i = 0; i < vs_nwatched; i++)
		epoll_ctl(vs_ep, EPOLL_CTL_DEL, vs_watched[i], NULL);
	vs_nwatched = vs_fill(p, &ncs);
	for (unsigned i = 0; i < vs_nwatched; i++) {
		struct epoll_event e = { .events = (uint32_t)p[i].events };
		vs_watched[i] = p[i].fd;
		if (epoll_ctl(vs_ep, EPOLL_CTL_ADD, p[i].fd, &e) < 0)
			log_warn("vsock: epoll: %s", strerror(errno));
	}
}

static int vsock_check(struct device_request *rq)
{
	const char *s = rq->cid_arg;
	rq->cid = VSOCK_DEFAULT_GUEST_CID;
	if (!s)
		return 0;
	char *end;
	errno = 0;
	rq->cid = strtoull(s, &end, 10);
	/* 0-2 are reserved (hypervisor, local, host); -1U is VMADDR_CID_ANY. */
	if (errno || *end || !*s || s[0] == '-' || rq->cid < 3 || rq->cid >= UINT32_MAX)
		return usage_error("--guest-cid '%s' is not a guest CID (3 to 4294967294)", s);
	return 0;
}

/* The device, its bridge and their two watches' fds. */
static int vsock_setup(struct device_server *ds, const struct device_request *rq,
                       struct virtio_device **dev)
{
	vsock_backend_init(&vs_be, &vs, vs_wake_up, NULL);
	struct vsock_host h = vsock_backend_device_host(&vs_be);
	virtio_vsock_init(&vs, rq->cid, &h);
	for (unsigned i = 0; i < rq->nlisten; i++)
		vsock_backend_listen_path(&vs_be, rq->listen[i].port, rq->listen[i].path);
	vs_ep = epoll_create1(EPOLL_CLOEXEC);
	vs_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vs_ep < 0 || vs_wake < 0) {
		fprintf(stderr, "vmm_device: epoll: %s\n", strerror(errno));
		return EXIT_RUNTIME;
	}
	int r = vsock_connect_server_open(&vs_cs, &vs_be, rq->vsock_connect);
	if (r < 0) {
		fprintf(stderr, "vmm_device: cannot listen on '%s': %s\n", rq->vsock_connect,
		        r == -EEXIST ? "a file that is not a socket is in the way" : strerror(-r));
		return EXIT_RUNTIME;
	}
	vs_wake_up(NULL); /* the first round fills the epoll set */
	*dev = &vs.dev;
	return 0;
}

static void vsock_start(struct device_server *ds, const struct device_request *rq)
{
	vhu_add_watch(&ds->vhu, vs_ep, POLLIN, vs_events, NULL);
	vhu_add_watch(&ds->vhu, vs_wake, POLLIN, vs_events, NULL);
}

static int vsock_finish(const struct device_request *rq)
{
	log_info("vsock: %llu guest connections accepted, %llu host connections established "
	         "(%llu tried), %llu refused; %llu bytes from the guest, %llu to it",
	         vs_be.stats.accepted, vs_be.stats.established, vs_be.stats.connects,
	         vs_be.stats.refused, (unsigned long long)vs.rx_bytes,
	         (unsigned long long)vs.tx_bytes);
	vsock_backend_destroy(&vs_be);
	vsock_connect_server_close(&vs_cs, rq->vsock_connect);
	virtio_vsock_destroy(&vs);
	close(vs_ep);
	close(vs_wake);
	return 0;
}

const struct device_kind kind_vsock = {
	.name = "vsock",
	.virtio_id = 19,
	.synopsis = "[--guest-cid N] [--vsock-listen PORT:PATH]...\n"
	            "                  [--vsock-connect-socket PATH]",
	.help = "virtio-vsock, stream sockets; the host is CID 2. Guest connections\n"
	        "to host port PORT are bridged to a new connection to the Unix\n"
	        "socket PATH (--vsock-listen; refused if nothing is there); a\n"
	        "client of the --vsock-connect-socket PATH writes\n"
	        "\"CONNECT <guest port>\\n\", reads \"OK <host port>\\n\" once the\n"
	        "guest accepted (the socket is closed if it refused) and is\n"
	        "then connected to the guest",
	.takes = OPT_BIT(OPT_GUEST_CID) | OPT_BIT(OPT_VSOCK_LISTEN) | OPT_BIT(OPT_VSOCK_CONNECT),
	.options_are = "--guest-cid and --vsock-* are",
	.check = vsock_check,
	.setup = vsock_setup,
	.start = vsock_start,
	.finish = vsock_finish,
};
