/* vmm/vmm_main.c - the `vmm` command: run one VM from the command line.
 *
 * Direct local use of the same GuestLifecycle code the launcher drives:
 * builds a GuestConfig from flags, Create, Run, and exits 0 only when the
 * guest shut itself down cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sim-hypervisor/sim.h"
#include "replay/replay.h"
#include "traces/trace.h"
#include "base/cli_args.h"
#include "api/guest_config.h"
#include "vmm/lifecycle.h"
#include "base/log.h"
#include "vmm/serve.h"
#include "vmm/hv/kvm.h"

#define VMM_VERSION "0.1.0"

static const char usage[] =
	"usage: vmm run --kernel FILE [options]\n"
	"       vmm serve --channel-fd N [--hv-fd M]\n"
	"       vmm --help | --version\n"
	"\n"
	"Run one virtual machine until it shuts down. Exit status: 0 when the guest\n"
	"shut itself down cleanly, 1 when Create or Run failed (the GuestError is\n"
	"printed), 2 for a bad command line, 3 when the hypervisor is unavailable\n"
	"(cannot open it or it refuses to create a VM).\n"
	"\n"
	"options for run:\n"
	"  --kernel FILE         kernel: a bzImage or a PVH ELF (kernel_type linux)\n"
	"  --kernel-type TYPE    linux (default) or zircon\n"
	"  --ramdisk FILE        initial RAM disk\n"
	"  --cmdline STRING      kernel command line\n"
	"  --cmdline-add STRING  append to the command line (repeatable)\n"
	"  --cpus N              number of vCPUs (default 1)\n"
	"  --memory SIZE         guest memory, e.g. 256M or 1G (default 256M)\n"
	"  --block FILE[,OPT...] a virtio-blk disk (repeatable); OPT: rw (default),\n"
	"                        ro, volatile (writes kept in memory), id=NAME\n"
	"  --virtio-rng          a virtio-rng device\n"
	"  --virtio-console      a virtio-console device; its host side is --console\n"
	"  --console WHERE       stdio (default with --serial none), none, or\n"
	"                        unix:PATH (connect to a Unix stream socket there)\n"
	"  --virtio-balloon      a virtio-balloon device\n"
	"  --balloon-pages N     ask the guest's balloon driver for N 4 KiB pages (it\n"
	"                        inflates when it probes); -v logs the outcome at exit\n"
	"  --virtio-vsock        a virtio-vsock device (guest CID 3)\n"
	"  --vsock-listen PORT:PATH  guest connections to host port PORT are\n"
	"                        bridged to new connections to the Unix socket PATH\n"
	"  --default-net         a virtio-net device on a new TAP interface (vmmtapN;\n"
	"                        needs CAP_NET_ADMIN)\n"
	"  --backend NAME        kvm (default) or sim (only with --trace)\n"
	"  --hv-device PATH      hypervisor device for kvm (default /dev/kvm)\n"
	"  --trace FILE.db       sim: replay a SQLite trace; the guest config, host\n"
	"                        inputs and device memory come from the trace (no\n"
	"                        --kernel, no disk images); exit 1 on divergence\n"
	"  --record FILE.db      record the run as a SQLite trace (traces/README.md):\n"
	"                        exits, host inputs, device memory reads, outputs\n"
	"  --serial WHERE        stdout (default) or none\n"
	"  -v, --verbose         say more (repeat for debug)\n"
	"  -q, --quiet           only errors\n"
	"\n"
	"serve: answer fuchsia.virtualization/GuestLifecycle on the inherited channel\n"
	"(a SOCK_SEQPACKET socket, fd N), as vmm_launcher starts it; --hv-fd M is the\n"
	"hypervisor handle (/dev/kvm) it was given, -1 for none. Exits when the channel\n"
	"closes, after stopping the guest.\n";

enum {
	OPT_KERNEL = 256, OPT_KERNEL_TYPE, OPT_RAMDISK, OPT_CMDLINE, OPT_CMDLINE_ADD, OPT_CPUS,
	OPT_MEMORY, OPT_BLOCK, OPT_VIRTIO_RNG, OPT_VIRTIO_CONSOLE, OPT_CONSOLE, OPT_VIRTIO_BALLOON,
	OPT_VIRTIO_VSOCK, OPT_VSOCK_LISTEN, OPT_DEFAULT_NET, OPT_BACKEND, OPT_HV_DEVICE, OPT_RECORD, OPT_SERIAL,
	OPT_TRACE, OPT_BALLOON_PAGES,
};

static const struct option run_opts[] = {
	{ "kernel", required_argument, 0, OPT_KERNEL },
	{ "kernel-type", required_argument, 0, OPT_KERNEL_TYPE },
	{ "ramdisk", required_argument, 0, OPT_RAMDISK },
	{ "cmdline", required_argument, 0, OPT_CMDLINE },
	{ "cmdline-add", required_argument, 0, OPT_CMDLINE_ADD },
	{ "cpus", required_argument, 0, OPT_CPUS },
	{ "memory", required_argument, 0, OPT_MEMORY },
	{ "block", required_argument, 0, OPT_BLOCK },
	{ "virtio-rng", no_argument, 0, OPT_VIRTIO_RNG },
	{ "virtio-console", no_argument, 0, OPT_VIRTIO_CONSOLE },
	{ "console", required_argument, 0, OPT_CONSOLE },
	{ "virtio-balloon", no_argument, 0, OPT_VIRTIO_BALLOON },
	{ "balloon-pages", required_argument, 0, OPT_BALLOON_PAGES },
	{ "virtio-vsock", no_argument, 0, OPT_VIRTIO_VSOCK },
	{ "vsock-listen", required_argument, 0, OPT_VSOCK_LISTEN },
	{ "default-net", no_argument, 0, OPT_DEFAULT_NET },
	{ "backend", required_argument, 0, OPT_BACKEND },
	{ "hv-device", required_argument, 0, OPT_HV_DEVICE },
	{ "record", required_argument, 0, OPT_RECORD },
	{ "trace", required_argument, 0, OPT_TRACE },
	{ "serial", required_argument, 0, OPT_SERIAL },
	{ "verbose", no_argument, 0, 'v' },
	{ "quiet", no_argument, 0, 'q' },
	{ "help", no_argument, 0, 'h' },
	{ 0, 0, 0, 0 },
};

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "vmm: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'vmm --help'.\n");
	return 2;
}

static int open_ro(const char *what, const char *path, int *fd)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		fprintf(stderr, "vmm: cannot open %s '%s': %s\n", what, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* --block FILE[,rw|ro|volatile][,id=NAME] -> one more BlockSpec. */
static int add_block(struct guest_config *cfg, const char *arg)
{
	char *spec = strdup(arg), *save = NULL;
	if (!spec)
		return -1;
	char *path = strtok_r(spec, ",", &save);
	struct block_spec b = { .mode = BLOCK_READ_WRITE, .format = BLOCK_FORMAT_FILE, .fd = -1 };
	snprintf(b.id, sizeof(b.id), "disk%zu", cfg->n_block_devices);
	int rc = -1;
	if (!path || !*path) {
		fprintf(stderr, "vmm: --block needs a file\n");
		goto out;
	}
	for (char *o; (o = strtok_r(NULL, ",", &save));) {
		if (strcmp(o, "rw") == 0)
			b.mode = BLOCK_READ_WRITE;
		else if (strcmp(o, "ro") == 0)
			b.mode = BLOCK_READ_ONLY;
		else if (strcmp(o, "volatile") == 0)
			b.mode = BLOCK_VOLATILE_WRITE;
		else if (strncmp(o, "id=", 3) == 0) {
			if (strlen(o + 3) > GC_MAX_BLOCK_DEVICE_ID) {
				fprintf(stderr, "vmm: --block %s: id longer than %d bytes\n", arg,
				        GC_MAX_BLOCK_DEVICE_ID);
				goto out;
			}
			snprintf(b.id, sizeof(b.id), "%s", o + 3);
		} else {
			fprintf(stderr, "vmm: --block %s: unknown option '%s' (rw, ro, volatile, id=)\n",
			        arg, o);
			goto out;
		}
	}
	b.fd = open(path, (b.mode == BLOCK_READ_WRITE ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (b.fd < 0) {
		fprintf(stderr, "vmm: cannot open block image '%s': %s\n", path, strerror(errno));
		goto out;
	}
	struct block_spec *n = realloc(cfg->block_devices,
	                               (cfg->n_block_devices + 1) * sizeof(*n));
	if (!n) {
		close(b.fd);
		goto out;
	}
	cfg->block_devices = n;
	cfg->block_devices[cfg->n_block_devices++] = b;
	cfg->has_block_devices = true;
	rc = 0;
out:
	free(spec);
	return rc;
}

/* Wait for SIGINT or SIGTERM (blocked in every thread by main); returns it. */
static int wait_stop_signal(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	int sig = 0;
	return sigwait(&set, &sig) == 0 ? sig : 0;
}

/* SIGINT/SIGTERM become GuestLifecycle.Stop: a thread waits for them (Stop is
 * not async-signal-safe), so Ctrl-C stops the guest and Run returns
 * CONTROLLER_FORCED_HALT. */
static void *signal_thread(void *arg)
{
	int sig = wait_stop_signal();
	if (sig) {
		log_warn("%s: stopping the guest", strsignal(sig));
		lc_stop(arg);
	}
	return NULL;
}

/* --console stdio: the guest's virtio console on this terminal; unix:PATH:
 * on a socket connected there (its input and output are that socket). */
struct console_bridge {
	int fd, in, out;
};

static void *console_stdio(void *arg)
{
	const struct console_bridge *b = arg;
	int fd = b->fd;
	bool in_open = true;
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
		                       { .fd = in_open ? b->in : -1, .events = POLLIN } };
		if (poll(p, 2, -1) < 0)
			continue;
		char buf[4096];
		if (p[0].revents) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				return NULL;
			if (write(b->out, buf, (size_t)n) < 0)
				return NULL;
		}
		if (p[1].revents) {
			ssize_t n = read(b->in, buf, sizeof(buf));
			if (n <= 0)
				in_open = false;
			else if (write(fd, buf, (size_t)n) < 0)
				return NULL;
		}
	}
}

/* vmm run --trace F.db: the VM, its inputs and its device memory all come
 * from the trace. */
static int replay_trace(const char *path, const struct guest_config *cfg, const char *backend,
                        const char *record_path, const char *serial)
{
	if (cfg->kernel_fd >= 0 || cfg->ramdisk_fd >= 0 || cfg->has_cpus || cfg->has_guest_memory ||
	    cfg->n_block_devices || cfg->cmdline || cfg->n_cmdline_add || cfg->has_virtio_rng ||
	    cfg->has_virtio_console || cfg->has_virtio_balloon || cfg->has_virtio_vsock ||
	    cfg->has_default_net)
		return bad_usage("%s", "--trace takes the guest config from the trace: drop --kernel, "
		                       "--cpus, --memory, --block, --cmdline and the device flags");
	if (strcmp(backend, "sim") != 0)
		return bad_usage("%s", "--trace replays on the sim backend: use --backend sim");
	if (record_path)
		return bad_usage("%s", "--trace cannot be combined with --record");
	struct replay_opts o = { .serial_fd = strcmp(serial, "stdout") == 0 ? STDOUT_FILENO : -1 };
	struct replay_result res;
	char err[512];
	if (trace_replay_file(path, &o, &res, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmm: %s\n", err);
		return 1;
	}
	if (res.matched && res.result == GUEST_OK) {
		fprintf(stderr, "vmm: replay matched all %zu records of %s\n", res.records, path);
		return 0;
	}
	fprintf(stderr, "vmm: replay of %s failed: %s%s%s\n%s\n", path, guest_error_name(res.result),
	        res.error[0] ? ": " : "", res.error, res.divergence);
	return 1;
}

/* The backends this program offers, by --backend name. */
static const struct hv_ops *backend_by_name(const char *name)
{
	if (strcmp(name, "kvm") == 0)
		return &hv_kvm_ops;
	if (strcmp(name, "sim") == 0)
		return &hv_sim_ops;
	return NULL;
}

static int cmd_run(int argc, char **argv)
{
	struct guest_config cfg;
	gc_init(&cfg);
	const char *backend = "kvm", *hv_device = "/dev/kvm";
	const char *record_path = NULL, *serial = "stdout", *trace_path = NULL, *console = NULL;
	const char *vsock_path = NULL;
	uint32_t vsock_port = 0;
	bool balloon_request = false;
	uint32_t balloon_pages = 0;
	int verbosity = LOG_WARN;
	char err[512];
	int rc = 2;
	uint64_t v;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "vqh", run_opts, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL:
			if (cfg.kernel_fd >= 0)
				close(cfg.kernel_fd);
			if (open_ro("kernel", optarg, &cfg.kernel_fd) < 0)
				goto out;
			break;
		case OPT_KERNEL_TYPE:
			cfg.has_kernel_type = true;
			if (strcmp(optarg, "linux") == 0)
				cfg.kernel_type = KERNEL_LINUX;
			else if (strcmp(optarg, "zircon") == 0)
				cfg.kernel_type = KERNEL_ZIRCON;
			else {
				rc = bad_usage("--kernel-type must be linux or zircon, not '%s'", optarg);
				goto out;
			}
			break;
		case OPT_RAMDISK:
			if (cfg.ramdisk_fd >= 0)
				close(cfg.ramdisk_fd);
			if (open_ro("ramdisk", optarg, &cfg.ramdisk_fd) < 0)
				goto out;
			break;
		case OPT_CMDLINE:
			free(cfg.cmdline);
			cfg.cmdline = strdup(optarg);
			break;
		case OPT_CMDLINE_ADD: {
			char **n = realloc(cfg.cmdline_add, (cfg.n_cmdline_add + 1) * sizeof(char *));
			if (!n)
				goto out;
			cfg.cmdline_add = n;
			cfg.cmdline_add[cfg.n_cmdline_add++] = strdup(optarg);
			cfg.has_cmdline_add = true;
			break;
		}
		case OPT_CPUS:
			if (parse_uint(optarg, 0, 255, &v, err, sizeof(err)) < 0) {
				rc = bad_usage("--cpus: %s", err);
				goto out;
			}
			cfg.has_cpus = true;
			cfg.cpus = (uint8_t)v;
			break;
		case OPT_MEMORY:
			if (parse_size(optarg, &v, err, sizeof(err)) < 0) {
				rc = bad_usage("--memory: %s", err);
				goto out;
			}
			cfg.has_guest_memory = true;
			cfg.guest_memory = v;
			break;
		case OPT_BLOCK:
			if (add_block(&cfg, optarg) < 0)
				goto out;
			break;
		case OPT_VIRTIO_CONSOLE:
			cfg.has_virtio_console = cfg.virtio_console = true;
			break;
		case OPT_CONSOLE:
			if (strcmp(optarg, "stdio") && strcmp(optarg, "none") &&
			    (strncmp(optarg, "unix:", 5) || !optarg[5])) {
				rc = bad_usage("--console must be stdio, none or unix:PATH, not '%s'", optarg);
				goto out;
			}
			console = optarg;
			break;
		case OPT_VIRTIO_BALLOON:
			cfg.has_virtio_balloon = cfg.virtio_balloon = true;
			break;
		case OPT_BALLOON_PAGES:
			if (parse_uint(optarg, 0, UINT32_MAX, &v, err, sizeof(err)) < 0) {
				rc = bad_usage("--balloon-pages: %s", err);
				goto out;
			}
			balloon_request = true;
			balloon_pages = (uint32_t)v;
			break;
		case OPT_VIRTIO_VSOCK:
			cfg.has_virtio_vsock = cfg.virtio_vsock = true;
			break;
		case OPT_DEFAULT_NET:
			cfg.has_default_net = cfg.default_net = true;
			break;
		case OPT_VSOCK_LISTEN: {
			const char *colon = strchr(optarg, ':');
			char port[16];
			snprintf(port, sizeof(port), "%.*s", colon ? (int)(colon - optarg) : 0, optarg);
			if (!colon || !colon[1] ||
			    parse_uint(port, 0, UINT32_MAX, &v, err, sizeof(err)) < 0) {
				rc = bad_usage("--vsock-listen wants PORT:PATH, not '%s'", optarg);
				goto out;
			}
			vsock_port = (uint32_t)v;
			vsock_path = colon + 1;
			break;
		}
		case OPT_VIRTIO_RNG:
			cfg.has_virtio_rng = true;
			cfg.virtio_rng = true;
			break;
		case OPT_BACKEND: backend = optarg; break;
		case OPT_HV_DEVICE: hv_device = optarg; break;
		case OPT_RECORD: record_path = optarg; break;
		case OPT_TRACE: trace_path = optarg; break;
		case OPT_SERIAL:
			if (strcmp(optarg, "stdout") && strcmp(optarg, "none")) {
				rc = bad_usage("--serial must be stdout or none, not '%s'", optarg);
				goto out;
			}
			serial = optarg;
			break;
		case 'v': verbosity++; break;
		case 'q': verbosity = LOG_ERROR; break;
		case 'h':
			fputs(usage, stdout);
			rc = 0;
			goto out;
		default:
			rc = bad_usage("%s", "unknown or incomplete option");
			goto out;
		}
	}
	if (optind < argc) {
		rc = bad_usage("unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (trace_path) {
		log_set_level(verbosity > LOG_DEBUG ? LOG_DEBUG : (enum log_level)verbosity);
		rc = replay_trace(trace_path, &cfg, backend, record_path, serial);
		goto out;
	}
	if (cfg.kernel_fd < 0) {
		rc = bad_usage("%s", "run needs --kernel FILE");
		goto out;
	}
	log_set_level(verbosity > LOG_DEBUG ? LOG_DEBUG : (enum log_level)verbosity);

	const struct hv_ops *hv = backend_by_name(backend);
	if (!hv) {
		rc = bad_usage("unknown --backend '%s' (kvm or sim)", backend);
		goto out;
	}
	struct trace_writer *recorder = NULL;
	struct timespec t_run0 = { 0, 0 };
	struct ev_sink sink;
	const struct ev_sink *sinkp = NULL;
	int hv_fd = -1;
	rc = 1;
	if (hv == &hv_sim_ops) {
		/* The sim replays recordings: they carry their own config. */
		rc = bad_usage("%s", "--backend sim replays a recording: use --trace FILE.db");
		goto out;
	}
	hv_fd = open(hv_device, O_RDWR | O_CLOEXEC);
	if (hv_fd < 0) {
		fprintf(stderr, "vmm: cannot open hypervisor %s: %s\n", hv_device, strerror(errno));
		rc = 3;
		goto out;
	}
	if (record_path) {
		recorder = trace_writer_open(record_path, err, sizeof(err));
		if (!recorder || trace_record_meta(recorder, &cfg, VMM_VERSION, backend, err,
		                                   sizeof(err)) < 0) {
			fprintf(stderr, "vmm: %s\n", err);
			goto out_rec;
		}
		sink = trace_recorder_sink(recorder);
		sinkp = &sink;
	}

	/* --serial none: the guest's serial bytes go nowhere, on purpose. */
	static int devnull = -1;
	if (strcmp(serial, "none") == 0 && devnull < 0)
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct lc_options o = {
		.hv = hv,
		.hv_fd = hv_fd,
		.backend_arg = NULL,
		.sink = sinkp,
		.serial_fd = strcmp(serial, "stdout") == 0 ? STDOUT_FILENO : devnull,
		/* The terminal types into the guest's serial port. */
		.has_serial_in = strcmp(serial, "stdout") == 0,
		.serial_in_fd = STDIN_FILENO,
	};
	struct guest_lifecycle *lc = lc_new(&o);
	if (!lc) {
		fprintf(stderr, "vmm: out of memory\n");
		goto out_rec;
	}
	clock_gettime(CLOCK_MONOTONIC, &t_run0);
	enum guest_error e = lc_create(lc, &cfg, err, sizeof(err));
	if (e) {
		fprintf(stderr, "vmm: Create failed: %s: %s\n", guest_error_name(e), err);
		if (e == GUEST_ERR_GUEST_INITIALIZATION_FAILURE)
			rc = 3;
		lc_free(lc);
		goto out_rec;
	}
	pthread_t sig_thread, con_thread;
	int zs;
	if (vsock_path && (zs = lc_vsock_listen_unix(lc, vsock_port, vsock_path)) != 0) {
		fprintf(stderr, "vmm: --vsock-listen %u:%s: status %d (needs --virtio-vsock)\n",
		        vsock_port, vsock_path, zs);
		lc_free(lc);
		goto out_rec;
	}
	/* The target is the device's config from the start: the driver reads
	 * it when it probes and inflates. */
	if (balloon_request && (e = lc_balloon_request_pages(lc, balloon_pages)) != GUEST_OK) {
		fprintf(stderr, "vmm: --balloon-pages %u: %s (needs --virtio-balloon)\n",
		        balloon_pages, guest_error_name(e));
		lc_free(lc);
		goto out_rec;
	}
	bool have_sig_thread = pthread_create(&sig_thread, NULL, signal_thread, lc) == 0;
	bool have_con_thread = false;
	int console_fd = -1;
	if (!console)
		console = strcmp(serial, "none") == 0 ? "stdio" : "none";
	static struct console_bridge con = { -1, STDIN_FILENO, STDOUT_FILENO };
	if (strncmp(console, "unix:", 5) == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", console + 5);
		con.in = con.out = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (con.in < 0 || connect(con.in, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			log_warn("--console %s: %s (console output dropped)", console, strerror(errno));
	}
	if ((strcmp(console, "stdio") == 0 || con.in != STDIN_FILENO) &&
	    guest_get_console(lc, &console_fd) == GUEST_OK) {
		con.fd = console_fd;
		have_con_thread = pthread_create(&con_thread, NULL, console_stdio, &con) == 0;
	}
	e = lc_run(lc);
	if (have_con_thread) {
		pthread_cancel(con_thread);
		pthread_join(con_thread, NULL);
	}
	if (console_fd >= 0)
		close(console_fd);
	if (con.in != STDIN_FILENO && con.in >= 0)
		close(con.in);
	if (have_sig_thread) {
		pthread_cancel(sig_thread);
		pthread_join(sig_thread, NULL);
	}
	if (e) {
		fprintf(stderr, "vmm: Run failed: %s: %s\n", guest_error_name(e), lc_last_error(lc));
		rc = 1;
	} else {
		rc = 0;
	}
	lc_free(lc);
	if (recorder) {
		/* How long the live run took, for replay-speed comparisons. */
		struct timespec t1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		char ms[32];
		snprintf(ms, sizeof(ms), "%.3f", (double)(t1.tv_sec - t_run0.tv_sec) * 1e3 +
		                                     (double)(t1.tv_nsec - t_run0.tv_nsec) / 1e6);
		trace_writer_set_meta(recorder, "live_ms", ms);
		trace_writer_set_meta(recorder, "result", guest_error_name(e));
	}
out_rec:
	if (recorder && trace_writer_close(recorder, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmm: writing %s failed: %s\n", record_path, err);
		rc = 1;
	}
	if (hv_fd >= 0)
		close(hv_fd);
out:
	gc_free(&cfg);
	return rc;
}

/* In serve mode SIGTERM/SIGINT (the launcher stopping its collection) end the
 * channel's read side: the serve loop then stops the guest as if the client
 * had closed it, and the vmm exits in order. */
static void *serve_signal_thread(void *arg)
{
	int sig = wait_stop_signal();
	if (sig) {
		log_info("%s: stopping", strsignal(sig));
		shutdown((int)(intptr_t)arg, SHUT_RD);
	}
	return NULL;
}

static int cmd_serve(int argc, char **argv)
{
	int channel_fd = -1, hv_fd = -1;
	char err[128];
	uint64_t v;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if ((strcmp(a, "--channel-fd") == 0 || strcmp(a, "--hv-fd") == 0) && i + 1 < argc) {
			const char *val = argv[++i];
			int fdv = -1;
			if (strcmp(val, "-1") != 0) {
				if (parse_uint(val, 0, 1 << 20, &v, err, sizeof(err)) < 0)
					return bad_usage("serve: %s", err);
				fdv = (int)v;
			}
			if (a[2] == 'c')
				channel_fd = fdv;
			else
				hv_fd = fdv;
		} else if (strcmp(a, "-v") == 0) {
			log_set_level(LOG_INFO);
		} else {
			return bad_usage("serve: unexpected argument '%s'", a);
		}
	}
	if (channel_fd < 0 || fcntl(channel_fd, F_GETFD) < 0)
		return bad_usage("%s", "serve needs --channel-fd N, an open channel");
	if (hv_fd >= 0 && fcntl(hv_fd, F_GETFD) < 0)
		return bad_usage("%s", "serve: --hv-fd is not an open file descriptor");
	/* Neither handle may leak into anything this process starts. */
	fcntl(channel_fd, F_SETFD, FD_CLOEXEC);
	if (hv_fd >= 0)
		fcntl(hv_fd, F_SETFD, FD_CLOEXEC);
	pthread_t t;
	pthread_create(&t, NULL, serve_signal_thread, (void *)(intptr_t)channel_fd);
	pthread_detach(t);
	return vmm_serve(channel_fd, &hv_kvm_ops, hv_fd);
}

int main(int argc, char **argv)
{
	/* Blocked in every thread (vCPU threads inherit the mask); only the
	 * signal thread takes them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	log_set_prefix("vmm");
	if (argc < 2)
		return bad_usage("%s", "missing command");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("vmm %s\n", VMM_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	return bad_usage("unknown command '%s'", argv[1]);
}
