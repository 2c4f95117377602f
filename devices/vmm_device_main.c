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
#include <sys/eventfd.h>
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
#include "host/vsock_backend.h"
#include "host/vsock_connect_server.h"
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
 * The bridge is host/vsock_backend.c (the vmm's too): --vsock-listen
 * PORT:PATH are its path listeners, --vsock-connect-socket PATH its
 * CONNECT-line server (host/vsock_connect_server.c). Here only their fds
 * meet the vhost-user loop: every fd they want polled sits in one epoll set
 * (one vhu watch), rebuilt after each round, and the backend's wake is an
 * eventfd (a second watch) so a kick that changed what to poll is seen. */
static struct virtio_vsock vs;
static struct vsock_backend vs_be;
static struct vsock_connect_server vs_cs;
static int vs_ep = -1, vs_wake = -1;
static struct {
	uint32_t port;
	const char *path;
} vs_map[VSOCK_MAX_LISTEN];
static unsigned vs_nmap;

#define VS_MAX_POLL (VSOCK_BACKEND_MAX_POLL + VSOCK_CONNECT_MAX_POLL)
static int vs_watched[VS_MAX_POLL];
static unsigned vs_nwatched;

static void vs_wake_up(void *ctx)
{
	uint64_t one = 1;
	ssize_t w = write(vs_wake, &one, sizeof(one));
	(void)w;
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

/* PORT:PATH for --vsock-listen; false if malformed or too many. */
static bool vs_add_map(char *arg)
{
	char *colon = strchr(arg, ':'), *end;
	if (!colon || colon == arg || !colon[1] || vs_nmap == VSOCK_MAX_LISTEN || arg[0] == '-' ||
	    strlen(colon + 1) >= sizeof(((struct sockaddr_un *)0)->sun_path))
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

/* The device, its bridge and their two watches' fds. 0 or an exit status. */
static int vs_setup(unsigned long long cid, const char *vconnect)
{
	vsock_backend_init(&vs_be, &vs, vs_wake_up, NULL);
	struct vsock_host h = vsock_backend_device_host(&vs_be);
	virtio_vsock_init(&vs, cid, &h);
	for (unsigned i = 0; i < vs_nmap; i++)
		vsock_backend_listen_path(&vs_be, vs_map[i].port, vs_map[i].path);
	vs_ep = epoll_create1(EPOLL_CLOEXEC);
	vs_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vs_ep < 0 || vs_wake < 0) {
		fprintf(stderr, "vmm_device: epoll: %s\n", strerror(errno));
		return EXIT_RUNTIME;
	}
	int r = vsock_connect_server_open(&vs_cs, &vs_be, vconnect);
	if (r < 0) {
		fprintf(stderr, "vmm_device: cannot listen on '%s': %s\n", vconnect,
		        r == -EEXIST ? "a file that is not a socket is in the way" : strerror(-r));
		return EXIT_RUNTIME;
	}
	vs_wake_up(NULL); /* the first round fills the epoll set */
	return 0;
}

static void vs_teardown(const char *vconnect)
{
	log_info("vsock: %llu guest connections accepted, %llu host connections established "
	         "(%llu tried), %llu refused; %llu bytes from the guest, %llu to it",
	         vs_be.stats.accepted, vs_be.stats.established, vs_be.stats.connects,
	         vs_be.stats.refused, (unsigned long long)vs.rx_bytes,
	         (unsigned long long)vs.tx_bytes);
	vsock_backend_destroy(&vs_be);
	vsock_connect_server_close(&vs_cs, vconnect);
	virtio_vsock_destroy(&vs);
	close(vs_ep);
	close(vs_wake);
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
		int st = vs_setup(cid, vconnect);
		if (st)
			return st;
		dev = &vs.dev;
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
	if (is_vsock) {
		vhu_add_watch(&server, vs_ep, POLLIN, vs_events, NULL);
		vhu_add_watch(&server, vs_wake, POLLIN, vs_events, NULL);
	}
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
	if (is_vsock)
		vs_teardown(vconnect);
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
