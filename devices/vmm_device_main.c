/* devices/vmm_device_main.c - the `vmm_device` program (build/vmm_device):
 * one virtio device core served over vhost-user, as its own process.
 *
 * The same device code the vmm runs in-process behind virtio-mmio, here
 * behind devices/vhost_user.c, so any vhost-user front end (our vmm, QEMU,
 * user-mode Linux's virtio_uml) can drive it. One front end at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/event_names.h"
#include "base/log.h"
#include "devices/balloon.h"
#include "devices/block.h"
#include "devices/console.h"
#include "devices/net.h"
#include "devices/rng.h"
#include "devices/vhost_user.h"
#include "devices/vsock.h"
#include "host/balloon.h"
#include "host/block.h"
#include "host/entropy.h"
#include "host/host_events.h"
#include "host/net_tap.h"
#include "host/stream.h"
#include "traces/trace.h"

/* Exit statuses, as --help documents them. */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static const char usage[] =
	"usage: vmm_device --socket PATH --device block --image FILE [--mode MODE] [--id ID]\n"
	"       vmm_device --socket PATH --device rng\n"
	"       vmm_device --socket PATH --device console\n"
	"       vmm_device --socket PATH --device net --tap NAME\n"
	"       vmm_device --socket PATH --device balloon [--balloon-pages N]\n"
	"       vmm_device --socket PATH --device vsock [--guest-cid N] [--vsock-listen PORT:PATH]...\n"
	"                  [--vsock-connect-socket PATH]\n"
	"       vmm_device ... --record FILE.db\n"
	"       vmm_device --help\n"
	"\n"
	"Serve one virtio device to a vhost-user front end (QEMU, user-mode Linux with\n"
	"virtio_uml.device=PATH:ID, or the vmm) on the Unix socket PATH. A stale socket\n"
	"at PATH is replaced; any other file there is an error. Front ends are served\n"
	"one at a time; when one disconnects the device is reset and the next is\n"
	"awaited (with --once, the program exits instead).\n"
	"\n"
	"devices (virtio device id for virtio_uml in brackets):\n"
	"  block [2]   virtio-blk over --image FILE (a regular file or block device)\n"
	"  rng   [4]   virtio-rng; entropy from getrandom(2)\n"
	"  console [3] virtio-console, one port: guest output to stdout, stdin to the\n"
	"              guest (input waits in this process until the driver has buffers)\n"
	"  net   [1]   virtio-net on the TAP interface --tap NAME (created if missing;\n"
	"              needs CAP_NET_ADMIN); MAC 52:54:00:12:34:56\n"
	"  balloon [5] virtio-balloon; inflated pages are returned to the host with\n"
	"              MADV_REMOVE on the front end's memory\n"
	"  vsock [19]  virtio-vsock, stream sockets; the host is CID 2. Guest connections\n"
	"              to host port PORT are bridged to a new connection to the Unix\n"
	"              socket PATH (--vsock-listen; refused if nothing is there); a\n"
	"              client of the --vsock-connect-socket PATH writes\n"
	"              \"CONNECT <guest port>\\n\", reads \"OK <host port>\\n\" once the\n"
	"              guest accepted (the socket is closed if it refused) and is\n"
	"              then connected to the guest\n"
	"\n"
	"options:\n"
	"  --socket PATH   where to listen (required)\n"
	"  --device NAME   which device (required)\n"
	"  --image FILE    block: the disk image\n"
	"  --mode MODE     block: rw (default; FLUSH is fdatasync), ro (the driver sees\n"
	"                  a read-only disk), volatile (writes stay in this process's\n"
	"                  memory; FILE is opened read-only and never changes)\n"
	"  --id ID         block: the serial GET_ID returns (default: FILE's name; at\n"
	"                  most 20 bytes are visible)\n"
	"  --tap NAME      net: the TAP interface\n"
	"  --balloon-pages N  balloon: ask the guest for N 4-KiB pages from the start\n"
	"  --guest-cid N   vsock: the guest's CID (default 3)\n"
	"  --vsock-listen PORT:PATH  vsock: bridge guest connections to host port PORT\n"
	"                  to the Unix socket PATH (repeatable, up to 16 ports)\n"
	"  --vsock-connect-socket PATH  vsock: listen on PATH for host connections\n"
	"                  to the guest (the CONNECT line above)\n"
	"  --once          exit after the first front end disconnects\n"
	"  --record FILE.db  record a device-level trace (traces/README.md): every\n"
	"                  vhost-user message, kick and host input, the guest memory\n"
	"                  the device read, and what it answered, wrote and sent;\n"
	"                  `trace replay FILE.db` replays it with no front end\n"
	"  -v, --verbose   say more (repeat for debug)\n"
	"  -h, --help      this text\n"
	"\n"
	"SIGTERM and SIGINT stop the server cleanly (an rw image is fsync'd first).\n"
	"Exit status: 0 stopped or (--once) the front end left; 1 runtime failure\n"
	"(cannot open the image or listen on the socket); 2 bad command line.\n";

static struct vhu_server server;
static struct trace_writer *recorder;
/* Who the host adapters announce to: the recorder's sink with --record. */
static struct ev_sink record_sink;
static struct host_events hev;

static void on_signal(int sig)
{
	(void)sig;
	vhu_stop(&server);
}

/* ---- host sides of the streaming devices (host/stream.h, host/net_tap.h) ----
 * Input the guest has no buffer for yet waits in the adapter, and its
 * source is not polled until the driver adds buffers (rx_space): a full
 * guest throttles the host instead of losing bytes. Each offer of held input
 * is a host event of its own, taken or not; it is offered until the device
 * takes nothing. */
static struct virtio_console con;
static struct virtio_net net;
static struct virtio_balloon balloon;
static struct host_stream con_stream;
static struct host_tap tap;
static struct host_balloon balloon_host;
static int in_watch = -1;

static size_t con_deliver(void *ctx, const char *device, const void *data, size_t len)
{
	vhu_event_begin(&server);
	size_t n = virtio_console_host_input(&con, data, len);
	vhu_event_end(&server, device, data, len, n);
	return n;
}

static size_t net_deliver(void *ctx, const char *device, const void *data, size_t len)
{
	vhu_event_begin(&server);
	size_t n = host_tap_frame_in(&net, data, len);
	vhu_event_end(&server, device, data, len, n);
	return n;
}

/* The driver added receive buffers (called while a kick is handled). Held
 * input is offered again from the loop, as an event of its own, not inside
 * the kick: host input arrives between events. */
static int defer_pipe[2] = { -1, -1 };
static void (*deferred)(void);

static void rx_space(void *ctx)
{
	ssize_t n = write(defer_pipe[1], "x", 1);
	(void)n;
}

static void run_deferred(void *ctx, int fd, short revents)
{
	char b[64];
	while (read(fd, b, sizeof(b)) > 0)
		;
	if (deferred)
		deferred();
}

static void con_retry(void)
{
	if (host_stream_flush(&con_stream, con_deliver, NULL) && con_stream.in_open)
		vhu_watch_enable(&server, in_watch, true);
}

static void con_input(void *ctx, int fd, short revents)
{
	ssize_t n = host_stream_read(&con_stream);
	if (n < 0)
		return; /* nothing to read now */
	if (n == 0 || !host_stream_flush(&con_stream, con_deliver, NULL))
		vhu_watch_enable(&server, in_watch, false); /* at its end, or the guest is full */
}

static void net_retry(void)
{
	if (host_tap_retry(&tap, net_deliver, NULL))
		vhu_watch_enable(&server, in_watch, true);
}

static void net_input(void *ctx, int fd, short revents)
{
	int r;
	while ((r = host_tap_receive(&tap, net_deliver, NULL)) == 1)
		;
	if (r == 0)
		vhu_watch_enable(&server, in_watch, false); /* a frame waits for buffers */
}

/* ---- vsock: connections bridged to Unix stream sockets ----
 * Guest -> host: --vsock-listen PORT:PATH. A guest connection to host port
 * PORT is accepted when a connect to the Unix socket PATH succeeds at once
 * (it is non-blocking: a full backlog refuses too), else refused with RST.
 * Host -> guest: --vsock-connect-socket PATH. We listen on PATH; a client
 * writes "CONNECT <guest_port>\n", and once the guest accepts it reads
 * "OK <host_port>\n" and the socket is the connection from then on; if the
 * guest refuses (or the line is bad) the socket is closed unanswered.
 * Flow control: a guest byte is reported consumed only once the Unix socket
 * took it (what it has not taken waits in out, which the device's credit
 * bounds to VSOCK_HOST_BUF_ALLOC); at most VB_IN_BUF socket bytes are read
 * ahead of the device, and none while it is full (-EAGAIN) until send_space.
 * All bridge sockets sit in one epoll set, which is one vhost-user watch.
 * Bridges outlive their device connection while guest bytes still wait for
 * the socket (conn -1), so there are twice as many as connections. */
#define VB_MAX (2 * VSOCK_MAX_CONNS)
#define VB_IN_BUF (16u << 10)
#define VB_LINE_MAX 32
#define VB_LISTEN_TAG VB_MAX

enum vb_state { VB_FREE, VB_HELLO, VB_CONNECTING, VB_OPEN };

struct vbridge {
	enum vb_state state;
	int sock, conn;
	uint32_t events;    /* what epoll watches; 0: not in the set */
	bool sock_eof;      /* the host sends no more */
	bool guest_wr_done; /* the guest sends no more: SHUT_WR once out drains */
	bool guest_rd_done; /* the guest reads no more */
	bool send_blocked;  /* the device was full: wait for send_space */
	char line[VB_LINE_MAX];
	unsigned line_len;
	uint8_t *out;       /* guest bytes the socket has not taken yet */
	uint32_t out_off, out_len;
	uint32_t in_off, in_len;
	uint8_t in[VB_IN_BUF];
};

static struct virtio_vsock vs;
static struct vbridge vb[VB_MAX];
static int vs_ep = -1, vs_listen_fd = -1;
static struct {
	uint32_t port;
	const char *path;
} vs_map[VSOCK_MAX_LISTEN];
static unsigned vs_nmap;
static unsigned long long vs_refused, vs_accepted, vs_connects, vs_established;

static struct vbridge *vb_of(int conn)
{
	for (int i = 0; i < VB_MAX; i++)
		if (vb[i].state != VB_FREE && vb[i].conn == conn)
			return &vb[i];
	return NULL;
}

static struct vbridge *vb_new(int sock, enum vb_state st, int conn)
{
	for (int i = 0; i < VB_MAX; i++) {
		struct vbridge *b = &vb[i];
		if (b->state != VB_FREE)
			continue;
		b->state = st;
		b->sock = sock;
		b->conn = conn;
		b->events = 0;
		b->sock_eof = b->guest_wr_done = b->guest_rd_done = b->send_blocked = false;
		b->line_len = 0;
		b->out_off = b->out_len = b->in_off = b->in_len = 0;
		return b;
	}
	return NULL;
}

static void vb_free(struct vbridge *b)
{
	if (b->events)
		epoll_ctl(vs_ep, EPOLL_CTL_DEL, b->sock, NULL);
	close(b->sock);
	free(b->out);
	b->out = NULL;
	b->state = VB_FREE;
}

/* Watch what the bridge can act on now. A socket with nothing wanted leaves
 * the set: a hung-up peer would otherwise be reported without end. */
static void vb_update(struct vbridge *b)
{
	uint32_t ev = 0;
	if (b->state == VB_HELLO)
		ev = EPOLLIN;
	else if (b->state == VB_OPEN) {
		if (b->out_len)
			ev |= EPOLLOUT;
		if (b->conn >= 0 && !b->sock_eof && !b->in_len && !b->send_blocked && !b->guest_rd_done)
			ev |= EPOLLIN;
	}
	if (ev == b->events)
		return;
	struct epoll_event e = { .events = ev, .data.u32 = (uint32_t)(b - vb) };
	if (!ev)
		epoll_ctl(vs_ep, EPOLL_CTL_DEL, b->sock, NULL);
	else if (epoll_ctl(vs_ep, b->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, b->sock, &e) < 0)
		log_warn("vsock: epoll: %s", strerror(errno));
	b->events = ev;
}

/* The socket failed: the guest's connection is reset and the bridge goes. */
static void vb_fail(struct vbridge *b)
{
	if (b->conn >= 0)
		virtio_vsock_reset(&vs, b->conn);
	vb_free(b);
}

/* Write what waits for the socket; the device hears of every byte taken. */
static void vb_flush_out(struct vbridge *b)
{
	while (b->out_len) {
		ssize_t n = write(b->sock, b->out + b->out_off, b->out_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			vb_fail(b);
			return;
		}
		b->out_off += (uint32_t)n;
		b->out_len -= (uint32_t)n;
		if (b->conn >= 0)
			virtio_vsock_consumed(&vs, b->conn, (uint32_t)n);
	}
	if (b->out_len)
		return;
	b->out_off = 0;
	if (b->conn < 0) {
		vb_free(b); /* the guest's side is gone and its last bytes are out */
		return;
	}
	if (b->guest_wr_done)
		shutdown(b->sock, SHUT_WR);
}

/* Hand read-ahead socket bytes to the device. */
static void vb_deliver(struct vbridge *b)
{
	while (b->in_len && b->conn >= 0) {
		ssize_t n = virtio_vsock_send(&vs, b->conn, b->in + b->in_off, b->in_len);
		if (n == -EAGAIN) {
			b->send_blocked = true;
			return;
		}
		if (n < 0) { /* -EPIPE: the guest reads no more */
			b->guest_rd_done = true;
			b->in_len = 0;
			break;
		}
		b->in_off += (uint32_t)n;
		b->in_len -= (uint32_t)n;
	}
	b->in_off = 0;
}

static void vb_read(struct vbridge *b, uint32_t revents)
{
	ssize_t n = read(b->sock, b->in, sizeof(b->in));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0) {
		vb_fail(b);
		return;
	}
	if (n == 0) {
		b->sock_eof = true;
		/* A peer that closed altogether (HUP) reads nothing either: close
		 * gracefully; one that only shut down writing still reads. */
		if (revents & EPOLLHUP)
			virtio_vsock_close(&vs, b->conn);
		else
			virtio_vsock_shutdown(&vs, b->conn, VIRTIO_VSOCK_SHUTDOWN_SEND);
		return;
	}
	b->in_len = (uint32_t)n;
	b->in_off = 0;
	vb_deliver(b);
}

/* VB_HELLO: read "CONNECT <port>\n" a byte at a time (nothing after the
 * line may be taken from the socket), then connect to the guest. */
static void vb_hello(struct vbridge *b)
{
	for (;;) {
		char ch;
		ssize_t n = read(b->sock, &ch, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0 || b->line_len == VB_LINE_MAX - 1) {
			vb_free(b);
			return;
		}
		if (ch != '\n') {
			b->line[b->line_len++] = ch;
			continue;
		}
		b->line[b->line_len] = 0;
		char *end;
		errno = 0;
		unsigned long port = strncmp(b->line, "CONNECT ", 8) == 0 ?
			strtoul(b->line + 8, &end, 10) : 0;
		int conn = -EINVAL;
		if (port && !errno && *end == 0 && port <= UINT32_MAX && b->line[8] != '-')
			conn = virtio_vsock_connect(&vs, (uint32_t)port);
		if (conn < 0) {
			log_info("vsock: host connect '%s' failed: %s", b->line, strerror(-conn));
			vs_refused++;
			vb_free(b);
			return;
		}
		b->conn = conn;
		b->state = VB_CONNECTING; /* until host.connected */
		vs_connects++;
		return;
	}
}

static void vs_accept_host(void)
{
	for (;;) {
		int s = accept4(vs_listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s < 0)
			return;
		struct vbridge *b = vb_new(s, VB_HELLO, -1);
		if (!b) {
			close(s);
			continue;
		}
		vb_update(b);
	}
}

static void vs_events(void *ctx, int fd, short revents)
{
	struct epoll_event ev[32];
	int n = epoll_wait(vs_ep, ev, 32, 0);
	for (int i = 0; i < n; i++) {
		uint32_t k = ev[i].data.u32, e = ev[i].events;
		if (k == VB_LISTEN_TAG) {
			vs_accept_host();
			continue;
		}
		struct vbridge *b = &vb[k];
		/* An earlier event of this batch may have freed it (and a new
		 * socket then be watched under the same slot: harmless, we only
		 * try non-blocking I/O on it). */
		if (b->state == VB_HELLO) {
			vb_hello(b);
		} else if (b->state == VB_OPEN) {
			if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				vb_flush_out(b);
			if (b->state == VB_OPEN && b->conn >= 0 && (b->events & EPOLLIN) &&
			    (e & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				vb_read(b, e);
		}
		if (b->state != VB_FREE)
			vb_update(b);
	}
}

static int vs_on_accept(void *ctx, int conn, uint32_t host_port, uint32_t guest_port)
{
	const char *path = NULL;
	for (unsigned i = 0; i < vs_nmap; i++)
		if (vs_map[i].port == host_port)
			path = vs_map[i].path;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = path ? socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
	if (s >= 0) {
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
			log_info("vsock: guest port %u -> %u: connect '%s': %s", guest_port, host_port,
			         path, strerror(errno));
			close(s);
			s = -1;
		}
	}
	struct vbridge *b = s >= 0 ? vb_new(s, VB_OPEN, conn) : NULL;
	if (!b) {
		if (s >= 0)
			close(s);
		vs_refused++;
		return -ECONNREFUSED;
	}
	vs_accepted++;
	vb_update(b);
	return 0;
}

static void vs_on_connected(void *ctx, int conn, int result)
{
	struct vbridge *b = vb_of(conn);
	if (!b || b->state != VB_CONNECTING)
		return;
	uint32_t host_port, guest_port;
	char ok[32];
	int len = result == 0 && virtio_vsock_conn_ports(&vs, conn, &host_port, &guest_port) == 0 ?
		snprintf(ok, sizeof(ok), "OK %u\n", host_port) : 0;
	/* A fresh socket has room for one short line. */
	if (len <= 0 || write(b->sock, ok, (size_t)len) != len) {
		if (result == 0)
			virtio_vsock_reset(&vs, conn);
		else
			vs_refused++;
		vb_free(b);
		return;
	}
	vs_established++;
	b->state = VB_OPEN;
	vb_update(b);
}

static void vs_on_recv(void *ctx, int conn, const void *data, size_t len)
{
	struct vbridge *b = vb_of(conn);
	if (!b || b->state != VB_OPEN)
		return;
	if (!b->out && !(b->out = malloc(VSOCK_HOST_BUF_ALLOC))) {
		vb_fail(b);
		return;
	}
	/* The device's credit keeps unconsumed bytes (out) within its buf_alloc. */
	if (b->out_off + b->out_len + len > VSOCK_HOST_BUF_ALLOC) {
		memmove(b->out, b->out + b->out_off, b->out_len);
		b->out_off = 0;
	}
	if (b->out_len + len > VSOCK_HOST_BUF_ALLOC) {
		vb_fail(b);
		return;
	}
	memcpy(b->out + b->out_off + b->out_len, data, len);
	b->out_len += (uint32_t)len;
	vb_flush_out(b);
	if (b->state != VB_FREE)
		vb_update(b);
}

static void vs_on_shutdown(void *ctx, int conn, uint32_t flags)
{
	struct vbridge *b = vb_of(conn);
	if (!b || b->state != VB_OPEN)
		return;
	if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND) {
		b->guest_wr_done = true;
		if (!b->out_len)
			shutdown(b->sock, SHUT_WR);
	}
	if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
		b->guest_rd_done = true;
	vb_update(b);
}

static void vs_on_closed(void *ctx, int conn)
{
	struct vbridge *b = vb_of(conn);
	if (!b)
		return;
	b->conn = -1;
	if (b->state != VB_OPEN || !b->out_len) {
		vb_free(b);
		return;
	}
	vb_update(b); /* linger until the guest's last bytes are written */
}

static void vs_on_send_space(void *ctx, int conn)
{
	struct vbridge *b = vb_of(conn);
	if (!b || b->state != VB_OPEN || !b->send_blocked)
		return;
	b->send_blocked = false;
	vb_deliver(b);
	if (b->state != VB_FREE)
		vb_update(b);
}

/* PORT:PATH for --vsock-listen; false if malformed or too many. */
static bool vs_add_map(char *arg)
{
	char *colon = strchr(arg, ':'), *end;
	if (!colon || colon == arg || !colon[1] || vs_nmap == VSOCK_MAX_LISTEN || arg[0] == '-')
		return false;
	errno = 0;
	unsigned long port = strtoul(arg, &end, 10);
	if (errno || end != colon || port > UINT32_MAX)
		return false;
	for (unsigned i = 0; i < vs_nmap; i++)
		if (vs_map[i].port == port)
			return false;
	vs_map[vs_nmap].port = (uint32_t)port;
	vs_map[vs_nmap++].path = colon + 1;
	return true;
}

static int vs_listen_unix(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "vmm_device: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'vmm_device --help'.\n");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	enum { O_SOCKET = 256, O_DEVICE, O_IMAGE, O_MODE, O_ID, O_ONCE, O_TAP, O_PAGES, O_CID,
	       O_VLISTEN, O_VCONNECT, O_RECORD };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "device", required_argument, NULL, O_DEVICE },
		{ "image", required_argument, NULL, O_IMAGE },
		{ "mode", required_argument, NULL, O_MODE },
		{ "id", required_argument, NULL, O_ID },
		{ "once", no_argument, NULL, O_ONCE },
		{ "tap", required_argument, NULL, O_TAP },
		{ "balloon-pages", required_argument, NULL, O_PAGES },
		{ "record", required_argument, NULL, O_RECORD },
		{ "guest-cid", required_argument, NULL, O_CID },
		{ "vsock-listen", required_argument, NULL, O_VLISTEN },
		{ "vsock-connect-socket", required_argument, NULL, O_VCONNECT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *device = NULL, *image = NULL, *mode_s = NULL, *id = NULL;
	const char *record = NULL;
	const char *tap_name = NULL, *pages_s = NULL, *cid_s = NULL, *vconnect = NULL;
	bool once = false, vlisten = false;
	int verbose = 0, c;
	log_set_prefix("vmm_device");
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		switch (c) {
		case O_SOCKET: sock = optarg; break;
		case O_DEVICE: device = optarg; break;
		case O_IMAGE: image = optarg; break;
		case O_MODE: mode_s = optarg; break;
		case O_ID: id = optarg; break;
		case O_ONCE: once = true; break;
		case O_TAP: tap_name = optarg; break;
		case O_PAGES: pages_s = optarg; break;
		case O_RECORD: record = optarg; break;
		case O_CID: cid_s = optarg; break;
		case O_VLISTEN:
			if (!vs_add_map(optarg))
				return usage_error("--vsock-listen '%s' is not PORT:PATH (a new port, at most 16)",
				                   optarg);
			vlisten = true;
			break;
		case O_VCONNECT: vconnect = optarg; break;
		case 'v': verbose++; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		case ':': return usage_error("option '%s' needs a value", argv[optind - 1]);
		default: return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!sock)
		return usage_error("%s", "--socket PATH is required");
	if (!device)
		return usage_error("%s", "--device NAME is required (block or rng)");
	log_set_level(verbose >= 2 ? LOG_DEBUG : verbose ? LOG_INFO : LOG_WARN);

	bool is_block = strcmp(device, "block") == 0, is_rng = strcmp(device, "rng") == 0;
	bool is_con = strcmp(device, "console") == 0, is_net = strcmp(device, "net") == 0;
	bool is_balloon = strcmp(device, "balloon") == 0, is_vsock = strcmp(device, "vsock") == 0;
	if (!is_block && !is_rng && !is_con && !is_net && !is_balloon && !is_vsock)
		return usage_error("unknown device '%s' (block, rng, console, net, balloon or vsock)",
		                   device);
	if (!is_block && (image || mode_s || id))
		return usage_error("--image, --mode and --id are for --device block, not %s", device);
	if (!is_net && tap_name)
		return usage_error("--tap is for --device net, not %s", device);
	if (is_net && !tap_name)
		return usage_error("%s", "--device net needs --tap NAME");
	if (!is_balloon && pages_s)
		return usage_error("--balloon-pages is for --device balloon, not %s", device);
	if (!is_vsock && (cid_s || vlisten || vconnect))
		return usage_error("--guest-cid and --vsock-* are for --device vsock, not %s", device);
	unsigned long long cid = VSOCK_DEFAULT_GUEST_CID;
	if (cid_s) {
		char *end;
		errno = 0;
		cid = strtoull(cid_s, &end, 10);
		/* 0-2 are reserved (hypervisor, local, host); -1U is VMADDR_CID_ANY. */
		if (errno || *end || !*cid_s || cid_s[0] == '-' || cid < 3 || cid >= UINT32_MAX)
			return usage_error("--guest-cid '%s' is not a guest CID (3 to 4294967294)", cid_s);
	}
	unsigned long pages = 0;
	if (pages_s) {
		char *end;
		errno = 0;
		pages = strtoul(pages_s, &end, 10);
		if (errno || *end || !*pages_s || pages > UINT32_MAX || pages_s[0] == '-')
			return usage_error("--balloon-pages '%s' is not a page count", pages_s);
	}

	static struct virtio_block blk;
	static struct virtio_rng rng;
	struct virtio_device *dev;
	int img_fd = -1;
	enum block_dev_mode mode = BLOCK_DEV_READ_WRITE;
	if (is_block) {
		if (!image)
			return usage_error("%s", "--device block needs --image FILE");
		if (!mode_s || strcmp(mode_s, "rw") == 0)
			mode = BLOCK_DEV_READ_WRITE;
		else if (strcmp(mode_s, "ro") == 0)
			mode = BLOCK_DEV_READ_ONLY;
		else if (strcmp(mode_s, "volatile") == 0)
			mode = BLOCK_DEV_VOLATILE;
		else
			return usage_error("unknown --mode '%s' (rw, ro or volatile)", mode_s);
		/* Only rw needs write access: ro and volatile must not be able to
		 * change the image even by mistake. */
		img_fd = open(image, (mode == BLOCK_DEV_READ_WRITE ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (img_fd < 0) {
			fprintf(stderr, "vmm_device: cannot open image '%s': %s\n", image, strerror(errno));
			return EXIT_RUNTIME;
		}
		if (!id) {
			const char *slash = strrchr(image, '/');
			id = slash ? slash + 1 : image;
		}
		struct block_io io = host_block_io(&hev);
		int r = virtio_block_init(&blk, img_fd, mode, id, &io);
		if (r < 0) {
			fprintf(stderr, "vmm_device: image '%s': %s\n", image,
			        r == -EINVAL ? "not a regular file or block device" : strerror(-r));
			close(img_fd);
			return EXIT_RUNTIME;
		}
		dev = &blk.dev;
	} else if (is_con) {
		/* Guest output waits for stdout; stdin waits for the driver. */
		host_stream_init(&con_stream, &hev, EVN_CONSOLE, STDOUT_FILENO, STDIN_FILENO,
		                 HOST_STREAM_WAIT, HOST_STREAM_HOLD_MAX);
		con_stream.wake = rx_space;
		struct console_host h = host_stream_console(&con_stream);
		deferred = con_retry;
		virtio_console_init(&con, &h);
		dev = &con.dev;
	} else if (is_net) {
		char actual[64];
		int tap_fd = net_tap_open(tap_name, true, actual, sizeof(actual));
		if (tap_fd < 0) {
			fprintf(stderr, "vmm_device: cannot open TAP '%s': %s\n", tap_name,
			        strerror(-tap_fd));
			return EXIT_RUNTIME;
		}
		static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
		/* A device-level trace names its one net device "net". */
		host_tap_init(&tap, &hev, EVN_NET, tap_fd);
		tap.wake = rx_space;
		struct net_host h = host_tap_net(&tap);
		deferred = net_retry;
		virtio_net_init(&net, mac, &h);
		dev = &net.dev;
	} else if (is_vsock) {
		struct vsock_host h = { NULL, vs_on_accept, vs_on_connected, vs_on_recv, vs_on_shutdown,
		                        vs_on_closed, vs_on_send_space };
		virtio_vsock_init(&vs, cid, &h);
		for (unsigned i = 0; i < vs_nmap; i++)
			virtio_vsock_listen(&vs, vs_map[i].port);
		dev = &vs.dev;
		vs_ep = epoll_create1(EPOLL_CLOEXEC);
		if (vs_ep < 0) {
			fprintf(stderr, "vmm_device: epoll: %s\n", strerror(errno));
			return EXIT_RUNTIME;
		}
		if (vconnect) {
			vs_listen_fd = vs_listen_unix(vconnect);
			if (vs_listen_fd < 0) {
				fprintf(stderr, "vmm_device: cannot listen on '%s': %s\n", vconnect,
				        vs_listen_fd == -EEXIST ? "a file that is not a socket is in the way"
				                                : strerror(-vs_listen_fd));
				return EXIT_RUNTIME;
			}
			struct epoll_event e = { .events = EPOLLIN, .data.u32 = VB_LISTEN_TAG };
			epoll_ctl(vs_ep, EPOLL_CTL_ADD, vs_listen_fd, &e);
		}
	} else if (is_balloon) {
		/* Pages given up come out of the front end's memory table. */
		host_balloon_init(&balloon_host, &hev, &server.mem);
		struct balloon_host h = host_balloon_hooks(&balloon_host);
		virtio_balloon_init(&balloon, &h, false);
		dev = &balloon.dev;
	} else {
		struct rng_host h = host_entropy(&hev);
		virtio_rng_init(&rng, &h);
		dev = &rng.dev;
	}

	int r = vhu_init(&server, dev);
	if (r == 0)
		r = vhu_listen(&server, sock);
	if (r == 0 && (is_con || is_net) && pipe2(defer_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		r = -errno;
	if (r < 0) {
		fprintf(stderr, "vmm_device: cannot listen on '%s': %s\n", sock,
		        r == -EEXIST ? "a file that is not a socket is in the way" : strerror(-r));
		return EXIT_RUNTIME;
	}
	if (record) {
		char err[320], cfg[512];
		int n = snprintf(cfg, sizeof(cfg), "device=%s\n", device);
		if (is_block) {
			struct stat st;
			uint64_t bytes = fstat(img_fd, &st) == 0 ? (S_ISBLK(st.st_mode)
			                 ? (uint64_t)lseek(img_fd, 0, SEEK_END) : (uint64_t)st.st_size) : 0;
			snprintf(cfg + n, sizeof(cfg) - (size_t)n,
			         "block_mode=%s\nblock_id=%s\nblock_bytes=%llu\n",
			         mode == BLOCK_DEV_READ_WRITE ? "rw"
			         : mode == BLOCK_DEV_READ_ONLY ? "ro" : "volatile",
			         id, (unsigned long long)bytes);
		} else if (is_balloon) {
			snprintf(cfg + n, sizeof(cfg) - (size_t)n, "balloon_pages=%lu\n", pages);
		}
		recorder = trace_writer_open(record, err, sizeof(err));
		if (!recorder || trace_writer_set_meta(recorder, "config", cfg) < 0 ||
		    trace_writer_set_meta(recorder, "level", "device") < 0 ||
		    trace_writer_set_meta(recorder, "backend", "vhost-user") < 0 ||
		    trace_writer_set_meta(recorder, "vmm_version", "vmm_device 0.1.0") < 0) {
			fprintf(stderr, "vmm_device: --record %s: %s\n", record,
			        recorder ? "cannot write meta" : err);
			return EXIT_RUNTIME;
		}
		record_sink = trace_recorder_sink(recorder);
		vhu_set_sink(&server, &record_sink);
		hev.sink = &record_sink;
	}
	if (defer_pipe[0] >= 0)
		vhu_add_watch(&server, defer_pipe[0], POLLIN, run_deferred, NULL);
	if (is_con)
		in_watch = vhu_add_watch(&server, STDIN_FILENO, POLLIN, con_input, NULL);
	if (is_net)
		in_watch = vhu_add_watch(&server, tap.fd, POLLIN, net_input, NULL);
	if (is_vsock)
		vhu_add_watch(&server, vs_ep, POLLIN, vs_events, NULL);
	if (is_balloon)
		virtio_balloon_request_pages(&balloon, (uint32_t)pages);
	/* A front end that exits first leaves our call pipes without a reader. */
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	log_info("serving %s on %s", device, sock);

	r = vhu_run(&server, once);
	int status = EXIT_OK;
	if (r < 0) {
		fprintf(stderr, "vmm_device: accept on '%s': %s\n", sock, strerror(-r));
		status = EXIT_RUNTIME;
	}
	vhu_destroy(&server);
	unlink(sock);
	if (recorder) {
		char err[320];
		if (trace_writer_close(recorder, err, sizeof(err)) < 0) {
			fprintf(stderr, "vmm_device: writing %s: %s\n", record, err);
			status = EXIT_RUNTIME;
		}
	}
	if (is_balloon)
		host_balloon_summary(&balloon_host, &balloon);
	if (is_con)
		log_info("console: %llu bytes out, %llu bytes in", (unsigned long long)con.tx_bytes,
		         (unsigned long long)con.rx_bytes);
	if (is_vsock) {
		log_info("vsock: %llu guest connections accepted, %llu host connections established "
		         "(%llu tried), %llu refused; %llu bytes from the guest, %llu to it",
		         vs_accepted, vs_established, vs_connects, vs_refused, (unsigned long long)vs.rx_bytes,
		         (unsigned long long)vs.tx_bytes);
		for (int i = 0; i < VB_MAX; i++)
			if (vb[i].state != VB_FREE)
				vb_free(&vb[i]);
		virtio_vsock_destroy(&vs);
		if (vs_listen_fd >= 0) {
			close(vs_listen_fd);
			unlink(vconnect);
		}
		close(vs_ep);
	}
	if (is_net)
		log_info("net: %llu frames out, %llu frames in", (unsigned long long)net.tx_frames,
		         (unsigned long long)net.rx_frames);
	if (is_block) {
		/* Whatever the guest wrote reaches the disk before we say we are done. */
		if (mode == BLOCK_DEV_READ_WRITE && fsync(img_fd) < 0) {
			fprintf(stderr, "vmm_device: fsync '%s': %s\n", image, strerror(errno));
			status = EXIT_RUNTIME;
		}
		log_info("block: %llu reads, %llu writes, %llu flushes, %llu errors",
		         (unsigned long long)blk.reads, (unsigned long long)blk.writes,
		         (unsigned long long)blk.flushes, (unsigned long long)blk.errors);
		virtio_block_destroy(&blk);
		close(img_fd);
	}
	return status;
}
