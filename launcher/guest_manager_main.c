/* launcher/guest_manager_main.c - `guest_manager`: one guest's manager (the
 * product session side of RFC-0210), for one user.
 *
 * It owns the guest's package and per-user state, serves
 * fuchsia.virtualization/GuestManager (Launch, ForceShutdown, Connect,
 * GetInfo) on RUNTIME/<name>.sock, and holds the GuestLifecycle channel to
 * the guest's vmm, which it gets by connecting to vmm_launcher: when the
 * manager closes it (ForceShutdown, SIGTERM, or the manager dying) the guest
 * stops and its vmm exits. The `guest` tool starts it on first launch.
 *
 * Status follows GuestStatus: RUNNING from a successful Launch until Run
 * answers (STOPPED, with stop_error when Run failed) or until the channel
 * closes without a Stop (VMM_UNEXPECTED_TERMINATION). After its guest stops
 * by itself the vmm is kept (so its serial output can still be read through
 * Connect) until ForceShutdown. With no vmm and no client for --linger-ms the
 * manager exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fidl/channel.h"
#include "fidl/virtualization.h"
#include "launcher/chan_list.h"
#include "launcher/guest_package.h"
#include "launcher/lifecycle_client.h"
#include "base/cli_args.h"
#include "base/err.h"
#include "base/log.h"

#define MAX_CLIENTS 32
#define MAX_PROBLEMS 4
#define MAX_VSOCK_CONNS 16
#define MAX_LOCAL_GUESTS 8
/* Create loads the kernel and builds the VM: generous, but bounded so a
 * wedged vmm cannot wedge the manager. */
#define VMM_CALL_TIMEOUT_MS 30000

static const char usage[] =
	"usage: guest_manager --name NAME --package FILE --launcher SOCKET [options]\n"
	"\n"
	"Manage one guest for this user: serve fuchsia.virtualization/GuestManager on\n"
	"$XDG_RUNTIME_DIR/vmm/NAME.sock (fallback /tmp/vmm-$UID/NAME.sock), keep the\n"
	"guest's state in $XDG_DATA_HOME/vmm/NAME/ (default ~/.local/share/vmm/NAME/)\n"
	"and get its vmm from the vmm_launcher listening on SOCKET. Normally started\n"
	"by 'guest launch'.\n"
	"\n"
	"options:\n"
	"  --name NAME        the guest's name ([A-Za-z0-9_-], at most 32 bytes)\n"
	"  --package FILE     the guest package (see launcher/packages/)\n"
	"  --launcher SOCKET  the vmm_launcher socket (implicit mode)\n"
	"  --linger-ms MS     exit after MS with no vmm and no client (default 60000;\n"
	"                     $VMM_MANAGER_LINGER_MS)\n"
	"  --ready-fd FD      write 'ok' (or the error) to FD once listening, then close it\n"
	"  -v, --verbose      log every event\n";

struct manager {
	char name[GUEST_NAME_MAX + 1];
	char sock_path[PATH_MAX], pid_path[PATH_MAX], state_dir[PATH_MAX];
	const char *launcher;
	struct guest_package pkg;
	int listen_fd, signal_fd;
	int clients[MAX_CLIENTS];
	unsigned nclients;
	/* The guest. */
	struct lc_client lc;
	bool have_vmm;
	enum fv_guest_status status;
	bool has_stop_error;
	enum guest_error stop_error;
	char problems[MAX_PROBLEMS][256];
	unsigned nproblems;
	long long started_ms, stopped_ms;
	struct fv_guest_descriptor desc;
	/* vsock: our ends of the HostVsockAcceptor channels, and accepted
	 * connections (whose bytes are logged). */
	int acceptors[PKG_MAX_VSOCK];
	uint32_t acceptor_ports[PKG_MAX_VSOCK];
	size_t nacceptors;
	int vconns[MAX_VSOCK_CONNS];
	unsigned nvconns;
	/* The guest's serial socket, taken before Run so that output of a guest
	 * that stops by itself at once is not lost (the vmm tears its VM down
	 * when Run returns). Never read here: it is handed to readers. */
	int serial;
	/* Guest channels served by the manager itself once the vmm no longer
	 * binds them (the guest stopped): they answer GetSerial only. */
	int local_guests[MAX_LOCAL_GUESTS];
	unsigned nlocal;
	struct fidl_msg in, out;
};

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void problem(struct manager *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct manager *m, const char *fmt, ...)
{
	/* Newest problems win: the oldest is dropped when full. */
	if (m->nproblems == MAX_PROBLEMS) {
		memmove(m->problems[0], m->problems[1], sizeof(m->problems[0]) * (MAX_PROBLEMS - 1));
		m->nproblems--;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->problems[m->nproblems], sizeof(m->problems[0]), fmt, ap);
	va_end(ap);
	log_warn("%s", m->problems[m->nproblems]);
	m->nproblems++;
}

static void close_vsock(struct manager *m)
{
	for (size_t i = 0; i < m->nacceptors; i++)
		close(m->acceptors[i]);
	m->nacceptors = 0;
	for (unsigned i = 0; i < m->nvconns; i++)
		close(m->vconns[i]);
	m->nvconns = 0;
}

static void drop_local(struct manager *m, unsigned i, int32_t epitaph);

static void guest_gone(struct manager *m, enum fv_guest_status status)
{
	lcc_close(&m->lc);
	m->have_vmm = false;
	if (m->status == FV_GUEST_RUNNING || m->status == FV_GUEST_STARTING)
		m->stopped_ms = now_ms();
	m->status = status;
	close_vsock(m);
	while (m->nlocal)
		drop_local(m, m->nlocal - 1, 0);
}

static void run_answered(struct manager *m, enum guest_error e)
{
	m->stopped_ms = now_ms();
	m->status = FV_GUEST_STOPPED;
	if (e != GUEST_OK) {
		m->has_stop_error = true;
		m->stop_error = e;
	}
	log_info("guest %s stopped: Run returned %s", m->name, guest_error_name(e));
}

/* Look at what Run answered (if it did) during any call on the channel. */
static void note_run(struct manager *m)
{
	enum guest_error e;
	if (m->lc.run_done && lcc_run_wait(&m->lc, 0, &e) == ZX_OK)
		run_answered(m, e);
}

static void force_shutdown(struct manager *m)
{
	if (!m->have_vmm)
		return;
	m->status = FV_GUEST_STOPPING;
	int r = lcc_stop(&m->lc);
	note_run(m);
	if (r != ZX_OK)
		problem(m, "Stop: the vmm did not answer (%d); closing its channel anyway", r);
	/* Closing the channel is what ends the vmm (rule 3). */
	guest_gone(m, FV_GUEST_STOPPED);
	log_info("guest %s: shut down", m->name);
}

static enum fv_manager_error create_error(struct manager *m, enum guest_error e)
{
	m->has_stop_error = true;
	m->stop_error = e;
	if (e == GUEST_ERR_KERNEL_LOAD_FAILURE && m->pkg.kernel_type == KERNEL_ZIRCON)
		problem(m, "Create: KERNEL_LOAD_FAILURE: the vmm cannot boot the ZBI %s (ZBI boot "
		           "is not supported by this vmm yet)", m->pkg.kernel);
	else if (e == GUEST_ERR_KERNEL_LOAD_FAILURE)
		problem(m, "Create: KERNEL_LOAD_FAILURE: the vmm could not load %s", m->pkg.kernel);
	else
		problem(m, "Create: %s (the vmm's log has the details)", guest_error_name(e));
	return e == GUEST_ERR_BAD_CONFIG ? FV_MANAGER_BAD_CONFIG : FV_MANAGER_START_FAILURE;
}

/* Launch: returns 0 or the GuestManagerError. controller is consumed. */
static enum fv_manager_error launch(struct manager *m, struct guest_config *user, int controller)
{
	if (m->have_vmm) {
		close(controller);
		return FV_MANAGER_ALREADY_RUNNING;
	}
	char err[512];
	if (!pkg_user_config_ok(user, err, sizeof(err))) {
		close(controller);
		problem(m, "Launch: %s", err);
		return FV_MANAGER_BAD_CONFIG;
	}
	/* A fresh launch: forget the last run's outcome. */
	m->nproblems = 0;
	m->has_stop_error = false;
	int peer[PKG_MAX_VSOCK];
	for (size_t i = 0; i < m->pkg.n_vsock; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			close_vsock(m);
			for (size_t j = 0; j < i; j++)
				close(peer[j]);
			close(controller);
			problem(m, "Launch: socketpair: %s", strerror(errno));
			return FV_MANAGER_START_FAILURE;
		}
		m->acceptors[m->nacceptors] = sv[0];
		m->acceptor_ports[m->nacceptors++] = m->pkg.vsock_ports[i];
		peer[i] = sv[1];
	}
	struct guest_config cfg;
	bool no_storage;
	int r = pkg_build_config(&m->pkg, user, m->state_dir, peer, &cfg, &no_storage, err,
	                         sizeof(err));
	for (size_t i = 0; i < m->pkg.n_vsock; i++)
		close(peer[i]);
	if (r < 0) {
		close_vsock(m);
		close(controller);
		problem(m, "Launch: %s", err);
		return no_storage ? FV_MANAGER_NO_STORAGE : FV_MANAGER_BAD_CONFIG;
	}
	/* What GetInfo reports. */
	memset(&m->desc, 0, sizeof(m->desc));
	m->desc.has_num_cpus = true;
	m->desc.num_cpus = gc_cpus(&cfg);
	m->desc.has_guest_memory = true;
	m->desc.guest_memory = gc_memory(&cfg);
	struct { int ord; bool on; } devs[] = {
		{ FV_DESC_BALLOON, cfg.virtio_balloon }, { FV_DESC_CONSOLE, cfg.virtio_console },
		{ FV_DESC_GPU, cfg.virtio_gpu },         { FV_DESC_RNG, cfg.virtio_rng },
		{ FV_DESC_VSOCK, cfg.virtio_vsock },     { FV_DESC_SOUND, cfg.virtio_sound },
	};
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		m->desc.has_device[devs[i].ord] = true;
		m->desc.device[devs[i].ord] = devs[i].on;
	}

	m->status = FV_GUEST_STARTING;
	r = lcc_connect(&m->lc, m->launcher);
	if (r < 0) {
		gc_free(&cfg);
		close_vsock(m);
		close(controller);
		m->status = FV_GUEST_STOPPED;
		problem(m, "Launch: cannot reach vmm_launcher at %s: %s", m->launcher, strerror(-r));
		return FV_MANAGER_START_FAILURE;
	}
	m->lc.call_timeout_ms = VMM_CALL_TIMEOUT_MS;
	m->have_vmm = true;
	enum guest_error e;
	r = lcc_create(&m->lc, &cfg, &e);
	gc_free(&cfg); /* the vmm has its own copies of every fd now */
	if (r != ZX_OK) {
		close(controller);
		problem(m, "Create: the vmm did not answer (%d, epitaph %d)", r, m->lc.epitaph);
		guest_gone(m, FV_GUEST_VMM_UNEXPECTED_TERMINATION);
		return FV_MANAGER_START_FAILURE;
	}
	if (e != GUEST_OK) {
		close(controller);
		enum fv_manager_error me = create_error(m, e);
		guest_gone(m, FV_GUEST_STOPPED);
		return me;
	}
	r = lcc_bind_fd(&m->lc, controller, &e);
	if (r != ZX_OK || e != GUEST_OK) {
		problem(m, "Bind: %s", r != ZX_OK ? "the vmm did not answer" : guest_error_name(e));
		force_shutdown(m);
		return FV_MANAGER_START_FAILURE;
	}
	/* The manager's own Guest channel, for the serial socket. */
	int own = -1;
	if (m->serial >= 0)
		close(m->serial);
	m->serial = -1;
	if (lcc_bind(&m->lc, &own, &e) == ZX_OK && e == GUEST_OK) {
		if (guest_client_get_serial(own, &m->serial) != ZX_OK)
			m->serial = -1;
		close(own);
	}
	if (lcc_run_start(&m->lc) != ZX_OK) {
		problem(m, "Run: the vmm went away");
		guest_gone(m, FV_GUEST_VMM_UNEXPECTED_TERMINATION);
		return FV_MANAGER_START_FAILURE;
	}
	m->status = FV_GUEST_RUNNING;
	m->started_ms = now_ms();
	m->stopped_ms = 0;
	log_info("guest %s launched (%u vcpus, %llu bytes)", m->name, m->desc.num_cpus,
	         (unsigned long long)m->desc.guest_memory);
	return 0;
}

static void reply(struct manager *m, int fd)
{
	int r = fidl_chan_send(fd, &m->out);
	if (r != ZX_OK && r != ZX_ERR_PEER_CLOSED)
		log_warn("reply could not be sent: %d", r);
}

static void reply_manager_result(struct manager *m, int fd, uint32_t txid, uint64_t ord,
                                 enum fv_manager_error err)
{
	struct fv_result res = { .which = err ? FIDL_RESULT_ERR : FIDL_RESULT_RESPONSE,
	                         .err = (int32_t)err, .fd = -1 };
	if (fv_enc_result(&m->out, txid, ord, FV_ERR_MANAGER_ERROR, false, &res) == ZX_OK)
		reply(m, fd);
}

static void get_info(struct manager *m, int fd, uint32_t txid)
{
	struct fv_guest_info g;
	fv_guest_info_init(&g);
	g.has_guest_status = true;
	g.guest_status = m->status;
	if (m->started_ms) {
		g.has_uptime = true;
		long long end = m->stopped_ms ? m->stopped_ms : now_ms();
		g.uptime = (end - m->started_ms) * 1000000LL;
	}
	if (m->desc.has_num_cpus) {
		g.has_guest_descriptor = true;
		g.guest_descriptor = m->desc;
	}
	if (m->has_stop_error) {
		g.has_stop_error = true;
		g.stop_error = m->stop_error;
	}
	char *probs[MAX_PROBLEMS];
	if (m->nproblems) {
		for (unsigned i = 0; i < m->nproblems; i++)
			probs[i] = m->problems[i];
		g.has_detected_problems = true;
		g.detected_problems = probs;
		g.n_detected_problems = m->nproblems;
	}
	/* g borrows everything: not freed. */
	if (fv_enc_guest_info_resp(&m->out, txid, &g) == ZX_OK)
		reply(m, fd);
}

static void drop_client(struct manager *m, unsigned i, int32_t epitaph)
{
	chan_list_drop(m->clients, &m->nclients, i, epitaph);
}

/* One GuestManager message from client i. Hostile input closes that client
 * with an epitaph and nothing else. */
static void serve_client(struct manager *m, unsigned i)
{
	int fd = m->clients[i];
	int r = fidl_chan_recv(fd, &m->in);
	if (r == ZX_ERR_PEER_CLOSED) {
		drop_client(m, i, 0);
		return;
	}
	if (r != ZX_OK) {
		log_warn("GuestManager client: unreadable message (%d): closing it", r);
		drop_client(m, i, r);
		return;
	}
	struct fidl_dec d;
	if (fidl_dec_init(&d, &m->in) != ZX_OK) {
		log_warn("GuestManager client: %s: closing it", d.err ? d.err : "bad header");
		drop_client(m, i, d.status);
		return;
	}
	uint32_t txid = d.hdr.txid;
	uint64_t ord = d.hdr.ordinal;
	switch (ord) {
	case FV_ORD_MANAGER_LAUNCH: {
		struct guest_config user;
		int controller = -1;
		gc_init(&user);
		if (fv_dec_launch_req(&d, &user, &controller) != ZX_OK)
			break;
		enum fv_manager_error e = launch(m, &user, controller);
		gc_free(&user);
		reply_manager_result(m, fd, txid, ord, e);
		return;
	}
	case FV_ORD_MANAGER_FORCE_SHUTDOWN:
		if (fv_dec_empty(&d) != ZX_OK)
			break;
		force_shutdown(m);
		if (fv_enc_empty(&m->out, txid, ord) == ZX_OK)
			reply(m, fd);
		return;
	case FV_ORD_MANAGER_CONNECT: {
		int server_end = -1;
		if (fv_dec_handle_body(&d, &server_end) != ZX_OK)
			break;
		enum fv_manager_error me = 0;
		if (!m->have_vmm) {
			close(server_end);
			me = FV_MANAGER_NOT_RUNNING;
		} else {
			/* Forwarded to the vmm. If it binds no more because the guest
			 * has stopped (maybe just now), the manager serves the channel
			 * itself from a copy kept for that. */
			int keep = m->serial >= 0 && m->nlocal < MAX_LOCAL_GUESTS
			                   ? fcntl(server_end, F_DUPFD_CLOEXEC, 0)
			                   : -1;
			enum guest_error e;
			r = lcc_bind_fd(&m->lc, server_end, &e);
			note_run(m);
			if (r == ZX_OK && e == GUEST_OK) {
				if (keep >= 0)
					close(keep);
			} else if (r == ZX_OK && keep >= 0) {
				m->local_guests[m->nlocal++] = keep;
			} else {
				if (keep >= 0)
					close(keep);
				me = FV_MANAGER_NOT_RUNNING;
			}
		}
		reply_manager_result(m, fd, txid, ord, me);
		return;
	}
	case FV_ORD_MANAGER_GET_INFO:
		if (fv_dec_empty(&d) != ZX_OK)
			break;
		get_info(m, fd, txid);
		return;
	default:
		log_warn("GuestManager client: unknown method ordinal 0x%016llx: closing it",
		         (unsigned long long)ord);
		fidl_msg_close_handles(&m->in);
		drop_client(m, i, ZX_ERR_NOT_SUPPORTED);
		return;
	}
	log_warn("GuestManager client: malformed request (%s): closing it", d.err ? d.err : "?");
	drop_client(m, i, ZX_ERR_INVALID_ARGS);
}

/* The vmm spoke or went away. */
static void serve_lifecycle(struct manager *m)
{
	enum guest_error e;
	int r = lcc_run_wait(&m->lc, 0, &e);
	if (r == ZX_OK) {
		run_answered(m, e);
		return;
	}
	if (r == ZX_ERR_TIMED_OUT)
		return;
	/* Closed with no Stop from us: the vmm died or gave up. */
	problem(m, "the vmm ended without a Stop (%s, epitaph %d)",
	        r == ZX_ERR_PEER_CLOSED ? "channel closed" : "channel error", m->lc.epitaph);
	guest_gone(m, FV_GUEST_VMM_UNEXPECTED_TERMINATION);
}

/* HostVsockAcceptor.Accept from the vmm: give it one end of a new socket and
 * log what the guest sends on the other. */
static void serve_acceptor(struct manager *m, size_t i)
{
	int fd = m->acceptors[i];
	struct fidl_dec d;
	uint32_t cid, sport, port;
	if (fidl_chan_recv(fd, &m->in) != ZX_OK || fidl_dec_init(&d, &m->in) != ZX_OK ||
	    d.hdr.ordinal != FV_ORD_ACCEPTOR_ACCEPT ||
	    fv_dec_accept_req(&d, &cid, &sport, &port) != ZX_OK) {
		fidl_msg_close_handles(&m->in);
		close(fd);
		m->acceptors[i] = m->acceptors[--m->nacceptors];
		m->acceptor_ports[i] = m->acceptor_ports[m->nacceptors];
		return;
	}
	struct fv_result res = { .which = FIDL_RESULT_ERR, .err = ZX_ERR_NO_RESOURCES, .fd = -1 };
	int sv[2] = { -1, -1 };
	if (m->nvconns < MAX_VSOCK_CONNS &&
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
		res = (struct fv_result){ .which = FIDL_RESULT_RESPONSE, .fd = sv[1] };
		m->vconns[m->nvconns++] = sv[0];
		log_info("vsock: guest %u:%u connected to host port %u", cid, sport, port);
	}
	if (fv_enc_result(&m->out, d.hdr.txid, FV_ORD_ACCEPTOR_ACCEPT, FV_ERR_ZX_STATUS, true,
	                  &res) == ZX_OK)
		reply(m, fd);
	if (sv[1] >= 0)
		close(sv[1]);
}

static void drop_local(struct manager *m, unsigned i, int32_t epitaph)
{
	chan_list_drop(m->local_guests, &m->nlocal, i, epitaph);
}

/* fuchsia.virtualization/Guest for a stopped guest: its serial output (kept
 * from before Run); every device is gone (NOT_CREATED). */
static void serve_local_guest(struct manager *m, unsigned i)
{
	int fd = m->local_guests[i];
	int r = fidl_chan_recv(fd, &m->in);
	if (r != ZX_OK) {
		drop_local(m, i, r == ZX_ERR_PEER_CLOSED ? 0 : r);
		return;
	}
	struct fidl_dec d;
	if (fidl_dec_init(&d, &m->in) != ZX_OK) {
		drop_local(m, i, d.status);
		return;
	}
	uint32_t txid = d.hdr.txid;
	uint64_t ord = d.hdr.ordinal;
	int h = -1, out = -1;
	struct fv_result res = { .which = FIDL_RESULT_ERR, .err = GUEST_ERR_NOT_CREATED, .fd = -1 };
	switch (ord) {
	case FV_ORD_GUEST_GET_SERIAL:
		if (fv_dec_empty(&d) != ZX_OK)
			break;
		out = m->serial >= 0 ? fcntl(m->serial, F_DUPFD_CLOEXEC, 0) : -1;
		if (out < 0) {
			drop_local(m, i, ZX_ERR_UNAVAILABLE);
			return;
		}
		if (fv_enc_handle_body(&m->out, txid, ord, out) == ZX_OK)
			reply(m, fd);
		close(out);
		return;
	case FV_ORD_GUEST_GET_CONSOLE:
		if (fv_dec_empty(&d) != ZX_OK)
			break;
		if (fv_enc_result(&m->out, txid, ord, FV_ERR_GUEST_ERROR, true, &res) == ZX_OK)
			reply(m, fd);
		return;
	case FV_ORD_GUEST_GET_HOST_VSOCK_ENDPOINT:
	case FV_ORD_GUEST_GET_BALLOON_CONTROLLER:
		if (fv_dec_handle_body(&d, &h) != ZX_OK)
			break;
		close(h);
		if (fv_enc_result(&m->out, txid, ord, FV_ERR_GUEST_ERROR, false, &res) == ZX_OK)
			reply(m, fd);
		return;
	default:
		fidl_msg_close_handles(&m->in);
		drop_local(m, i, ZX_ERR_NOT_SUPPORTED);
		return;
	}
	drop_local(m, i, ZX_ERR_INVALID_ARGS);
}

static void serve_vconn(struct manager *m, unsigned i)
{
	char buf[512];
	ssize_t n = read(m->vconns[i], buf, sizeof(buf));
	if (n <= 0) {
		chan_list_drop(m->vconns, &m->nvconns, i, 0);
		return;
	}
	log_info("vsock: %zd bytes from the guest: %.*s", n, (int)n, buf);
}

static int open_socket(struct manager *m, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(m->sock_path) >= sizeof(sa.sun_path)) {
		errf(err, errlen, "socket path %s is too long", m->sock_path);
		return -1;
	}
	strcpy(sa.sun_path, m->sock_path);
	int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(probe);
		errf(err, errlen, "a manager for guest '%s' is already listening on %s", m->name,
		     m->sock_path);
		return -1;
	}
	if (probe >= 0)
		close(probe);
	unlink(m->sock_path);
	m->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	/* Only this user may connect: the runtime dir is 0700, and so is the
	 * socket (umask), and SO_PEERCRED is checked on accept. */
	mode_t old = umask(0077);
	int r = m->listen_fd < 0 ? -1 : bind(m->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(m->listen_fd, 16) < 0) {
		errf(err, errlen, "%s: %s", m->sock_path, strerror(errno));
		return -1;
	}
	FILE *f = fopen(m->pid_path, "we");
	if (f) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	return 0;
}

static void accept_client(struct manager *m)
{
	int c = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid()) {
		log_warn("refusing a client of another user (uid %u)", (unsigned)cred.uid);
		fidl_chan_close_with_epitaph(c, ZX_ERR_ACCESS_DENIED);
		return;
	}
	if (m->nclients == MAX_CLIENTS) {
		fidl_chan_close_with_epitaph(c, ZX_ERR_NO_RESOURCES);
		return;
	}
	m->clients[m->nclients++] = c;
}

static void run(struct manager *m, int linger_ms)
{
	long long idle_since = now_ms();
	for (;;) {
		struct pollfd p[3 + MAX_CLIENTS + PKG_MAX_VSOCK + MAX_VSOCK_CONNS + MAX_LOCAL_GUESTS];
		unsigned n = 0;
		p[n++] = (struct pollfd){ .fd = m->listen_fd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = m->signal_fd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = m->have_vmm ? m->lc.fd : -1, .events = POLLIN };
		unsigned c0 = n;
		for (unsigned i = 0; i < m->nclients; i++)
			p[n++] = (struct pollfd){ .fd = m->clients[i], .events = POLLIN };
		unsigned a0 = n;
		for (size_t i = 0; i < m->nacceptors; i++)
			p[n++] = (struct pollfd){ .fd = m->acceptors[i], .events = POLLIN };
		unsigned v0 = n;
		for (unsigned i = 0; i < m->nvconns; i++)
			p[n++] = (struct pollfd){ .fd = m->vconns[i], .events = POLLIN };
		unsigned g0 = n;
		for (unsigned i = 0; i < m->nlocal; i++)
			p[n++] = (struct pollfd){ .fd = m->local_guests[i], .events = POLLIN };
		bool idle = !m->have_vmm && m->nclients == 0;
		if (!idle)
			idle_since = now_ms();
		long long left = idle ? idle_since + linger_ms - now_ms() : -1;
		if (idle && left <= 0) {
			log_info("no guest and no client for %d ms: exiting", linger_ms);
			return;
		}
		int pr = poll(p, n, idle ? (int)left : -1);
		if (pr < 0 && errno != EINTR)
			return;
		if (pr <= 0)
			continue;
		if (p[1].revents) {
			struct signalfd_siginfo si;
			if (read(m->signal_fd, &si, sizeof(si)) == sizeof(si)) {
				log_info("%s: stopping the guest and exiting", strsignal((int)si.ssi_signo));
				force_shutdown(m);
				return;
			}
		}
		if (p[2].revents && m->have_vmm)
			serve_lifecycle(m);
		/* Back to front so dropping one (swap with last) is safe. */
		for (unsigned i = g0 + m->nlocal; i-- > g0;)
			if (p[i].revents && i - g0 < m->nlocal && m->local_guests[i - g0] == p[i].fd)
				serve_local_guest(m, i - g0);
		for (unsigned i = v0 + m->nvconns; i-- > v0;)
			if (p[i].revents && i - v0 < m->nvconns && m->vconns[i - v0] == p[i].fd)
				serve_vconn(m, i - v0);
		for (unsigned i = a0 + (unsigned)m->nacceptors; i-- > a0;)
			if (p[i].revents && i - a0 < m->nacceptors && m->acceptors[i - a0] == p[i].fd)
				serve_acceptor(m, i - a0);
		for (unsigned i = a0; i-- > c0;)
			if (p[i].revents && i - c0 < m->nclients && m->clients[i - c0] == p[i].fd)
				serve_client(m, i - c0);
		if (p[0].revents & POLLIN)
			accept_client(m);
	}
}

static void ready(int fd, const char *msg)
{
	if (fd < 0)
		return;
	ssize_t w = write(fd, msg, strlen(msg));
	(void)w;
	close(fd);
}

/* Starting failed: log why, tell the `guest` tool waiting on ready_fd the
 * same line, and return the exit status. */
static int start_failed(int ready_fd, int status, const char *why)
{
	char line[700];
	snprintf(line, sizeof(line), "%s\n", why);
	log_err("%s", why);
	ready(ready_fd, line);
	return status;
}

/* What the command line asks for. */
struct manager_args {
	const char *name, *package, *launcher;
	int ready_fd;       /* -1: nobody waits for the start */
	uint64_t linger_ms; /* --linger-ms, else $VMM_MANAGER_LINGER_MS, else 60000 */
};

/* Parse the command line into a. Returns true to go on; false with *status
 * the exit status (0 after --help, 2 after a usage error it printed). */
static bool parse_args(int argc, char **argv, struct manager_args *a, int *status)
{
	static const struct option opts[] = {
		{ "name", required_argument, 0, 'n' },
		{ "package", required_argument, 0, 'p' },
		{ "launcher", required_argument, 0, 'l' },
		{ "linger-ms", required_argument, 0, 'L' },
		{ "ready-fd", required_argument, 0, 'r' },
		{ "verbose", no_argument, 0, 'v' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	*a = (struct manager_args){ .ready_fd = -1, .linger_ms = 60000 };
	*status = 2;
	char err[600];
	uint64_t v;
	const char *env = getenv("VMM_MANAGER_LINGER_MS");
	if (env && parse_uint(env, 0, 86400000, &v, err, sizeof(err)) == 0)
		a->linger_ms = v;
	int c;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'n': a->name = optarg; break;
		case 'p': a->package = optarg; break;
		case 'l': a->launcher = optarg; break;
		case 'L':
			if (parse_uint(optarg, 0, 86400000, &a->linger_ms, err, sizeof(err)) < 0) {
				fprintf(stderr, "guest_manager: --linger-ms: %s\n", err);
				return false;
			}
			break;
		case 'r':
			if (parse_uint(optarg, 0, 1 << 20, &v, err, sizeof(err)) < 0) {
				fprintf(stderr, "guest_manager: --ready-fd: %s\n", err);
				return false;
			}
			a->ready_fd = (int)v;
			break;
		case 'v': log_set_level(LOG_INFO); break;
		case 'h': fputs(usage, stdout); *status = 0; return false;
		default: fprintf(stderr, "Try 'guest_manager --help'.\n"); return false;
		}
	}
	if (optind < argc || !a->name || !a->package || !a->launcher) {
		fprintf(stderr, "guest_manager: --name, --package and --launcher are required\n"
		                "Try 'guest_manager --help'.\n");
		ready(a->ready_fd, "bad arguments\n");
		return false;
	}
	if (!guest_name_ok(a->name)) {
		snprintf(err, sizeof(err), "'%s' is not a guest name ([A-Za-z0-9_-], 1-%d bytes)\n",
		         a->name, GUEST_NAME_MAX);
		fputs(err, stderr);
		ready(a->ready_fd, err);
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	static struct manager mgr;
	struct manager *m = &mgr;
	struct manager_args a;
	int status;
	if (!parse_args(argc, argv, &a, &status))
		return status;
	const char *name = a.name;
	char tag[64];
	snprintf(tag, sizeof(tag), "guest_manager[%s]", name);
	log_set_prefix(tag);
	m->launcher = a.launcher;
	snprintf(m->name, sizeof(m->name), "%s", name);
	char build[PATH_MAX], err[600];
	if (self_dir(build, sizeof(build)) < 0)
		snprintf(build, sizeof(build), ".");
	if (pkg_load(&m->pkg, a.package, build, err, sizeof(err)) < 0 ||
	    guest_state_dir(m->state_dir, sizeof(m->state_dir), name, true, err, sizeof(err)) < 0 ||
	    manager_file(m->sock_path, sizeof(m->sock_path), name, ".sock", err, sizeof(err)) < 0 ||
	    manager_file(m->pid_path, sizeof(m->pid_path), name, ".pid", err, sizeof(err)) < 0)
		return start_failed(a.ready_fd, 1, err);
	m->status = FV_GUEST_NOT_STARTED;
	m->listen_fd = -1;
	m->lc.fd = -1;
	m->serial = -1;
	signal(SIGPIPE, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	m->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (m->signal_fd < 0) {
		errf(err, sizeof(err), "signalfd: %s", strerror(errno));
		return start_failed(a.ready_fd, 1, err);
	}
	if (open_socket(m, err, sizeof(err)) < 0)
		return start_failed(a.ready_fd, 1, err);
	log_info("serving GuestManager on %s (package %s, state %s)", m->sock_path, a.package,
	         m->state_dir);
	ready(a.ready_fd, "ok\n");
	run(m, (int)a.linger_ms);
	while (m->nclients)
		drop_client(m, m->nclients - 1, 0);
	close(m->listen_fd);
	unlink(m->sock_path);
	unlink(m->pid_path);
	return 0;
}
