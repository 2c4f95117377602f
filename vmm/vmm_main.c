/* vmm/vmm_main.c - the `vmm` command: run one VM from the command line.
 *
 * Owns: the command line of `vmm run` and `vmm serve`. Direct local use of the
 * same GuestLifecycle code the launcher drives: builds a GuestConfig from
 * flags, Create, Run, and exits 0 only when the guest shut itself down
 * cleanly.
 *
 * `vmm run` goes in three steps, each its own function:
 *   parse (run_parse): the option table below -> the options given, in order;
 *   build (run_build): each given option's value checked and applied to a
 *     struct run_request (the GuestConfig plus how to run it), in command-line
 *     order, every bad value a usage error that names its option;
 *   run (run_live / run_replay): KVM with an optional --record, or a --trace
 *     replay on the sim.
 * The option lines of --help are printed from the same table, so they cannot
 * drift from what the parser accepts.
 */
#include <assert.h>
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
#include "base/cli_table.h"
#include "api/guest_config.h"
#include "vmm/lifecycle.h"
#include "base/log.h"
#include "vmm/serve.h"
#include "vmm/hv/kvm.h"

#define VMM_VERSION "0.1.0"

/* ---- usage -------------------------------------------------------------- */

/* --help is usage_head, the option lines of run_options, usage_tail. */
static const char usage_head[] =
	"usage: vmm run --kernel FILE [options]\n"
	"       vmm serve --channel-fd N [--hv-fd M]\n"
	"       vmm --help | --version\n"
	"\n"
	"Run one virtual machine until it shuts down. Exit status: 0 when the guest\n"
	"shut itself down cleanly, 1 when Create or Run failed (the GuestError is\n"
	"printed), 2 for a bad command line, 3 when the hypervisor is unavailable\n"
	"(cannot open it or it refuses to create a VM).\n"
	"\n"
	"options for run:\n";

static const char usage_tail[] =
	"\n"
	"serve: answer fuchsia.virtualization/GuestLifecycle on the inherited channel\n"
	"(a SOCK_SEQPACKET socket, fd N), as vmm_launcher starts it; --hv-fd M is the\n"
	"hypervisor handle (/dev/kvm) it was given, -1 for none. Exits when the channel\n"
	"closes, after stopping the guest.\n";

/* ---- vmm run: what the command line asks for --------------------------- */

/* Everything `vmm run` needs, built from the command line by run_build. */
struct run_request {
	struct guest_config cfg;  /* what Create gets (owns the fds it holds) */
	const char *backend;      /* --backend: kvm or sim */
	const char *hv_device;    /* --hv-device */
	const char *record_path;  /* --record; NULL: no recording */
	const char *trace_path;   /* --trace; NULL: a live run */
	const char *serial;       /* --serial: "stdout" or "none" */
	const char *console;      /* --console; NULL: chosen from --serial */
	const char *vsock_path;   /* --vsock-listen PORT:PATH; NULL: none */
	uint32_t vsock_port;
	bool balloon_request;     /* --balloon-pages given */
	uint32_t balloon_pages;
	int verbosity;            /* enum log_level, raised by each -v */
};

static void run_request_init(struct run_request *r)
{
	*r = (struct run_request){ .backend = "kvm", .hv_device = "/dev/kvm", .serial = "stdout",
		                   .verbosity = LOG_WARN };
	gc_init(&r->cfg);
}

/* Each option's apply function checks its value and records it in r. They
 * return 0, or the exit status after printing why (2: a bad command line). */

static int open_ro(const char *what, const char *path, int *fd)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		fprintf(stderr, "vmm: cannot open %s '%s': %s\n", what, path, strerror(errno));
		return 2;
	}
	return 0;
}

/* The last --kernel wins: an earlier one's fd is closed. */
static int apply_kernel(struct run_request *r, const char *arg)
{
	if (r->cfg.kernel_fd >= 0)
		close(r->cfg.kernel_fd);
	return open_ro("kernel", arg, &r->cfg.kernel_fd);
}

static int apply_kernel_type(struct run_request *r, const char *arg)
{
	r->cfg.has_kernel_type = true;
	if (strcmp(arg, "linux") == 0)
		r->cfg.kernel_type = KERNEL_LINUX;
	else if (strcmp(arg, "zircon") == 0)
		r->cfg.kernel_type = KERNEL_ZIRCON;
	else
		return cli_usage_error("vmm", "--kernel-type must be linux or zircon, not '%s'", arg);
	return 0;
}

static int apply_ramdisk(struct run_request *r, const char *arg)
{
	if (r->cfg.ramdisk_fd >= 0)
		close(r->cfg.ramdisk_fd);
	return open_ro("ramdisk", arg, &r->cfg.ramdisk_fd);
}

static int apply_cmdline(struct run_request *r, const char *arg)
{
	free(r->cfg.cmdline);
	r->cfg.cmdline = strdup(arg);
	return 0;
}

static int apply_cmdline_add(struct run_request *r, const char *arg)
{
	struct guest_config *c = &r->cfg;
	char **n = realloc(c->cmdline_add, (c->n_cmdline_add + 1) * sizeof(char *));
	if (!n)
		return 2;
	c->cmdline_add = n;
	c->cmdline_add[c->n_cmdline_add++] = strdup(arg);
	c->has_cmdline_add = true;
	return 0;
}

static int apply_cpus(struct run_request *r, const char *arg)
{
	char err[512];
	uint64_t v;
	if (parse_uint(arg, 0, 255, &v, err, sizeof(err)) < 0)
		return cli_usage_error("vmm", "--cpus: %s", err);
	r->cfg.has_cpus = true;
	r->cfg.cpus = (uint8_t)v;
	return 0;
}

static int apply_memory(struct run_request *r, const char *arg)
{
	char err[512];
	uint64_t v;
	if (parse_size(arg, &v, err, sizeof(err)) < 0)
		return cli_usage_error("vmm", "--memory: %s", err);
	r->cfg.has_guest_memory = true;
	r->cfg.guest_memory = v;
	return 0;
}

/* --block FILE[,rw|ro|volatile][,id=NAME] -> one more BlockSpec. */
static int apply_block(struct run_request *r, const char *arg)
{
	struct guest_config *cfg = &r->cfg;
	char *spec = strdup(arg), *save = NULL;
	if (!spec)
		return 2;
	char *path = strtok_r(spec, ",", &save);
	struct block_spec b = { .mode = BLOCK_READ_WRITE, .format = BLOCK_FORMAT_FILE, .fd = -1 };
	snprintf(b.id, sizeof(b.id), "disk%zu", cfg->n_block_devices);
	int rc = 2;
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

static int apply_virtio_rng(struct run_request *r, const char *arg)
{
	r->cfg.has_virtio_rng = r->cfg.virtio_rng = true;
	return 0;
}

static int apply_virtio_console(struct run_request *r, const char *arg)
{
	r->cfg.has_virtio_console = r->cfg.virtio_console = true;
	return 0;
}

static int apply_console(struct run_request *r, const char *arg)
{
	if (strcmp(arg, "stdio") && strcmp(arg, "none") && (strncmp(arg, "unix:", 5) || !arg[5]))
		return cli_usage_error("vmm", "--console must be stdio, none or unix:PATH, not '%s'", arg);
	r->console = arg;
	return 0;
}

static int apply_virtio_balloon(struct run_request *r, const char *arg)
{
	r->cfg.has_virtio_balloon = r->cfg.virtio_balloon = true;
	return 0;
}

static int apply_balloon_pages(struct run_request *r, const char *arg)
{
	char err[512];
	uint64_t v;
	if (parse_uint(arg, 0, UINT32_MAX, &v, err, sizeof(err)) < 0)
		return cli_usage_error("vmm", "--balloon-pages: %s", err);
	r->balloon_request = true;
	r->balloon_pages = (uint32_t)v;
	return 0;
}

static int apply_virtio_vsock(struct run_request *r, const char *arg)
{
	r->cfg.has_virtio_vsock = r->cfg.virtio_vsock = true;
	return 0;
}

static int apply_vsock_listen(struct run_request *r, const char *arg)
{
	const char *colon = strchr(arg, ':');
	char port[16], err[512];
	uint64_t v;
	snprintf(port, sizeof(port), "%.*s", colon ? (int)(colon - arg) : 0, arg);
	if (!colon || !colon[1] || parse_uint(port, 0, UINT32_MAX, &v, err, sizeof(err)) < 0)
		return cli_usage_error("vmm", "--vsock-listen wants PORT:PATH, not '%s'", arg);
	r->vsock_port = (uint32_t)v;
	r->vsock_path = colon + 1;
	return 0;
}

static int apply_default_net(struct run_request *r, const char *arg)
{
	r->cfg.has_default_net = r->cfg.default_net = true;
	return 0;
}

/* The backend name is checked when the run starts (backend_by_name). */
static int apply_backend(struct run_request *r, const char *arg)
{
	r->backend = arg;
	return 0;
}

static int apply_hv_device(struct run_request *r, const char *arg)
{
	r->hv_device = arg;
	return 0;
}

static int apply_trace(struct run_request *r, const char *arg)
{
	r->trace_path = arg;
	return 0;
}

static int apply_record(struct run_request *r, const char *arg)
{
	r->record_path = arg;
	return 0;
}

static int apply_serial(struct run_request *r, const char *arg)
{
	if (strcmp(arg, "stdout") && strcmp(arg, "none"))
		return cli_usage_error("vmm", "--serial must be stdout or none, not '%s'", arg);
	r->serial = arg;
	return 0;
}

static int apply_verbose(struct run_request *r, const char *arg)
{
	r->verbosity++;
	return 0;
}

static int apply_quiet(struct run_request *r, const char *arg)
{
	r->verbosity = LOG_ERROR;
	return 0;
}

/* ---- vmm run: the option table ------------------------------------------ */

struct run_option {
	struct cli_opt cli;
	int (*apply)(struct run_request *r, const char *arg); /* NULL: --help itself */
};

static const struct run_option run_options[] = {
	{ { "kernel", 0, "FILE",
	    "kernel: a bzImage or a PVH ELF (kernel_type linux)" },
	  apply_kernel },
	{ { "kernel-type", 0, "TYPE", "linux (default) or zircon" }, apply_kernel_type },
	{ { "ramdisk", 0, "FILE", "initial RAM disk" }, apply_ramdisk },
	{ { "cmdline", 0, "STRING", "kernel command line" }, apply_cmdline },
	{ { "cmdline-add", 0, "STRING",
	    "append to the command line (repeatable)" },
	  apply_cmdline_add },
	{ { "cpus", 0, "N", "number of vCPUs (default 1)" }, apply_cpus },
	{ { "memory", 0, "SIZE", "guest memory, e.g. 256M or 1G (default 256M)" }, apply_memory },
	{ { "block", 0, "FILE[,OPT...]",
	    "a virtio-blk disk (repeatable); OPT: rw (default),\n"
	    "ro, volatile (writes kept in memory), id=NAME" },
	  apply_block },
	{ { "virtio-rng", 0, NULL, "a virtio-rng device" }, apply_virtio_rng },
	{ { "virtio-console", 0, NULL,
	    "a virtio-console device; its host side is --console" },
	  apply_virtio_console },
	{ { "console", 0, "WHERE",
	    "stdio (default with --serial none), none, or\n"
	    "unix:PATH (connect to a Unix stream socket there)" },
	  apply_console },
	{ { "virtio-balloon", 0, NULL, "a virtio-balloon device" }, apply_virtio_balloon },
	{ { "balloon-pages", 0, "N",
	    "ask the guest's balloon driver for N 4 KiB pages (it\n"
	    "inflates when it probes); -v logs the outcome at exit" },
	  apply_balloon_pages },
	{ { "virtio-vsock", 0, NULL, "a virtio-vsock device (guest CID 3)" }, apply_virtio_vsock },
	{ { "vsock-listen", 0, "PORT:PATH",
	    "guest connections to host port PORT are\n"
	    "bridged to new connections to the Unix socket PATH" },
	  apply_vsock_listen },
	{ { "default-net", 0, NULL,
	    "a virtio-net device on a new TAP interface (vmmtapN;\n"
	    "needs CAP_NET_ADMIN)" },
	  apply_default_net },
	{ { "backend", 0, "NAME", "kvm (default) or sim (only with --trace)" }, apply_backend },
	{ { "hv-device", 0, "PATH",
	    "hypervisor device for kvm (default /dev/kvm)" },
	  apply_hv_device },
	{ { "trace", 0, "FILE.db",
	    "sim: replay a SQLite trace; the guest config, host\n"
	    "inputs and device memory come from the trace (no\n"
	    "--kernel, no disk images); exit 1 on divergence" },
	  apply_trace },
	{ { "record", 0, "FILE.db",
	    "record the run as a SQLite trace (traces/README.md):\n"
	    "exits, host inputs, device memory reads, outputs" },
	  apply_record },
	{ { "serial", 0, "WHERE", "stdout (default) or none" }, apply_serial },
	{ { "verbose", 'v', NULL, "say more (repeat for debug)" }, apply_verbose },
	{ { "quiet", 'q', NULL, "only errors" }, apply_quiet },
	{ { "help", 'h', NULL, NULL }, NULL },
};
#define N_RUN_OPTIONS (sizeof(run_options) / sizeof(run_options[0]))

/* The help text's layout (cli_help_entry): option names in a 22-column
 * field after two spaces, the text from column 24. */
#define HELP_NAME_WIDTH 22

static void print_usage(FILE *f)
{
	fputs(usage_head, f);
	for (size_t i = 0; i < N_RUN_OPTIONS; i++)
		cli_help_option(f, HELP_NAME_WIDTH, &run_options[i].cli);
	fputs(usage_tail, f);
}

/* ---- vmm run: parse -> build -------------------------------------------- */

/* One option as given: its table entry and its argument (NULL if none). */
struct given_option {
	const struct run_option *opt;
	const char *arg;
};

enum parse_result { PARSE_OK, PARSE_HELP, PARSE_BAD };

/* Parse: match argv against run_options, without judging any value. On
 * PARSE_OK, given[0..*n) are the options in command-line order (argc bounds
 * how many there can be). PARSE_BAD has printed the usage error. */
static enum parse_result run_parse(int argc, char **argv, struct given_option *given, size_t *n)
{
	struct cli_parser p;
	cli_parser_init(&p, run_options, N_RUN_OPTIONS, sizeof(run_options[0]), false);
	*n = 0;
	int i;
	char *arg;
	while ((i = cli_parser_next(&p, argc, argv, &arg)) != CLI_DONE) {
		if (i < 0) {
			cli_usage_error("vmm", "%s", "unknown or incomplete option");
			return PARSE_BAD;
		}
		if (!run_options[i].apply)
			return PARSE_HELP;
		/* Each option consumes at least one argv slot after argv[0]. */
		assert(*n < (size_t)argc);
		given[(*n)++] = (struct given_option){ &run_options[i], arg };
	}
	if (optind < argc) {
		cli_usage_error("vmm", "unexpected argument '%s'", argv[optind]);
		return PARSE_BAD;
	}
	return PARSE_OK;
}

/* Build: apply each given option to r, in command-line order, so repeated
 * options keep their meaning (the last --kernel wins, --cmdline-add and
 * --block add up, -q after -v wins). Returns 0 or the exit status. */
static int run_build(const struct given_option *given, size_t n, struct run_request *r)
{
	for (size_t i = 0; i < n; i++) {
		int rc = given[i].opt->apply(r, given[i].arg);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- vmm run: run ------------------------------------------------------- */

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
	int fd, in, out;   /* the guest's console; where its input comes from, output goes */
	pthread_t thread;
	bool running;
};

static void *console_copy(void *arg)
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

/* Connect the guest's virtio console where --console says (without it: this
 * terminal when --serial none leaves it free, else nowhere). A unix: socket
 * that cannot be reached only drops the console's output. */
static void console_start(struct console_bridge *b, struct guest_lifecycle *lc,
                          const char *console, const char *serial)
{
	*b = (struct console_bridge){ .fd = -1, .in = STDIN_FILENO, .out = STDOUT_FILENO };
	if (!console)
		console = strcmp(serial, "none") == 0 ? "stdio" : "none";
	if (strncmp(console, "unix:", 5) == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", console + 5);
		b->in = b->out = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (b->in < 0 || connect(b->in, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			log_warn("--console %s: %s (console output dropped)", console, strerror(errno));
	}
	int fd = -1;
	if ((strcmp(console, "stdio") == 0 || b->in != STDIN_FILENO) &&
	    guest_get_console(lc, &fd) == GUEST_OK) {
		b->fd = fd;
		b->running = pthread_create(&b->thread, NULL, console_copy, b) == 0;
	}
}

static void console_stop(struct console_bridge *b)
{
	if (b->running) {
		pthread_cancel(b->thread);
		pthread_join(b->thread, NULL);
	}
	if (b->fd >= 0)
		close(b->fd);
	if (b->in != STDIN_FILENO && b->in >= 0)
		close(b->in);
}

/* What the vmm does after Create and before Run: the host ends of
 * --vsock-listen and --balloon-pages. Returns 0, or 1 after saying why. */
static int run_host_setup(struct guest_lifecycle *lc, const struct run_request *r)
{
	int zs;
	if (r->vsock_path && (zs = lc_vsock_listen_unix(lc, r->vsock_port, r->vsock_path)) != 0) {
		fprintf(stderr, "vmm: --vsock-listen %u:%s: status %d (needs --virtio-vsock)\n",
		        r->vsock_port, r->vsock_path, zs);
		return 1;
	}
	/* The target is the device's config from the start: the driver reads
	 * it when it probes and inflates. */
	enum guest_error e;
	if (r->balloon_request && (e = lc_balloon_request_pages(lc, r->balloon_pages)) != GUEST_OK) {
		fprintf(stderr, "vmm: --balloon-pages %u: %s (needs --virtio-balloon)\n",
		        r->balloon_pages, guest_error_name(e));
		return 1;
	}
	return 0;
}

/* Create and Run the guest on hv (opened as hv_fd), recording into recorder
 * when there is one. Returns the exit status. */
static int run_guest(struct run_request *r, const struct hv_ops *hv, int hv_fd,
                     struct trace_writer *recorder)
{
	struct ev_sink sink;
	if (recorder)
		sink = trace_recorder_sink(recorder);
	/* --serial none: the guest's serial bytes go nowhere, on purpose. */
	static int devnull = -1;
	bool serial_stdout = strcmp(r->serial, "stdout") == 0;
	if (!serial_stdout && devnull < 0)
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct lc_options o = {
		.hv = hv,
		.hv_fd = hv_fd,
		.backend_arg = NULL,
		.sink = recorder ? &sink : NULL,
		.serial_fd = serial_stdout ? STDOUT_FILENO : devnull,
		/* The terminal types into the guest's serial port. */
		.has_serial_in = serial_stdout,
		.serial_in_fd = STDIN_FILENO,
	};
	struct guest_lifecycle *lc = lc_new(&o);
	if (!lc) {
		fprintf(stderr, "vmm: out of memory\n");
		return 1;
	}
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char err[512];
	enum guest_error e = lc_create(lc, &r->cfg, err, sizeof(err));
	if (e) {
		fprintf(stderr, "vmm: Create failed: %s: %s\n", guest_error_name(e), err);
		lc_free(lc);
		return e == GUEST_ERR_GUEST_INITIALIZATION_FAILURE ? 3 : 1;
	}
	if (run_host_setup(lc, r)) {
		lc_free(lc);
		return 1;
	}
	pthread_t sig_thread;
	bool have_sig_thread = pthread_create(&sig_thread, NULL, signal_thread, lc) == 0;
	struct console_bridge con;
	console_start(&con, lc, r->console, r->serial);
	e = lc_run(lc);
	console_stop(&con);
	if (have_sig_thread) {
		pthread_cancel(sig_thread);
		pthread_join(sig_thread, NULL);
	}
	if (e)
		fprintf(stderr, "vmm: Run failed: %s: %s\n", guest_error_name(e), lc_last_error(lc));
	lc_free(lc);
	if (recorder) {
		/* How long the live run took, for replay-speed comparisons. */
		struct timespec t1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		char ms[32];
		snprintf(ms, sizeof(ms), "%.3f", (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		                                     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
		trace_writer_set_meta(recorder, "live_ms", ms);
		trace_writer_set_meta(recorder, "result", guest_error_name(e));
	}
	return e ? 1 : 0;
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

/* vmm run without --trace: a live run on the hardware backend, recorded
 * when --record asks. Returns the exit status. */
static int run_live(struct run_request *r)
{
	if (r->cfg.kernel_fd < 0)
		return cli_usage_error("vmm", "%s", "run needs --kernel FILE");
	log_set_level(r->verbosity > LOG_DEBUG ? LOG_DEBUG : (enum log_level)r->verbosity);
	const struct hv_ops *hv = backend_by_name(r->backend);
	if (!hv)
		return cli_usage_error("vmm", "unknown --backend '%s' (kvm or sim)", r->backend);
	/* The sim replays recordings: they carry their own config. */
	if (hv == &hv_sim_ops)
		return cli_usage_error("vmm", "%s", "--backend sim replays a recording: use --trace FILE.db");
	int hv_fd = open(r->hv_device, O_RDWR | O_CLOEXEC);
	if (hv_fd < 0) {
		fprintf(stderr, "vmm: cannot open hypervisor %s: %s\n", r->hv_device,
		        strerror(errno));
		return 3;
	}
	int rc = 1;
	char err[512];
	struct trace_writer *recorder = NULL;
	if (r->record_path) {
		recorder = trace_writer_open(r->record_path, err, sizeof(err));
		if (!recorder || trace_record_meta(recorder, &r->cfg, VMM_VERSION, r->backend, err,
		                                   sizeof(err)) < 0) {
			fprintf(stderr, "vmm: %s\n", err);
			goto out;
		}
	}
	rc = run_guest(r, hv, hv_fd, recorder);
out:
	if (recorder && trace_writer_close(recorder, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmm: writing %s failed: %s\n", r->record_path, err);
		rc = 1;
	}
	close(hv_fd);
	return rc;
}

/* vmm run --trace F.db: the VM, its inputs and its device memory all come
 * from the trace, so no option may describe them. Returns the exit status. */
static int run_replay(const struct run_request *r)
{
	const struct guest_config *cfg = &r->cfg;
	log_set_level(r->verbosity > LOG_DEBUG ? LOG_DEBUG : (enum log_level)r->verbosity);
	if (cfg->kernel_fd >= 0 || cfg->ramdisk_fd >= 0 || cfg->has_cpus || cfg->has_guest_memory ||
	    cfg->n_block_devices || cfg->cmdline || cfg->n_cmdline_add || cfg->has_virtio_rng ||
	    cfg->has_virtio_console || cfg->has_virtio_balloon || cfg->has_virtio_vsock ||
	    cfg->has_default_net)
		return cli_usage_error("vmm", "%s", "--trace takes the guest config from the trace: drop --kernel, "
		                       "--cpus, --memory, --block, --cmdline and the device flags");
	if (strcmp(r->backend, "sim") != 0)
		return cli_usage_error("vmm", "%s", "--trace replays on the sim backend: use --backend sim");
	if (r->record_path)
		return cli_usage_error("vmm", "%s", "--trace cannot be combined with --record");
	const char *path = r->trace_path;
	struct replay_opts o = { .serial_fd = strcmp(r->serial, "stdout") == 0 ? STDOUT_FILENO : -1 };
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

static int cmd_run(int argc, char **argv)
{
	struct given_option *given = calloc((size_t)argc, sizeof(*given));
	if (!given)
		return 2;
	size_t n = 0;
	int rc;
	switch (run_parse(argc, argv, given, &n)) {
	case PARSE_HELP:
		print_usage(stdout);
		free(given);
		return 0;
	case PARSE_BAD:
		free(given);
		return 2;
	case PARSE_OK:
		break;
	}
	struct run_request r;
	run_request_init(&r);
	rc = run_build(given, n, &r);
	free(given);
	if (rc == 0)
		rc = r.trace_path ? run_replay(&r) : run_live(&r);
	gc_free(&r.cfg);
	return rc;
}

/* ---- vmm serve ---------------------------------------------------------- */

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

/* --channel-fd N / --hv-fd M: a descriptor number, or -1 for none. */
static int parse_fd_arg(const char *val, int *fd)
{
	char err[128];
	uint64_t v;
	if (strcmp(val, "-1") == 0) {
		*fd = -1;
		return 0;
	}
	if (parse_uint(val, 0, 1 << 20, &v, err, sizeof(err)) < 0)
		return cli_usage_error("vmm", "serve: %s", err);
	*fd = (int)v;
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	int channel_fd = -1, hv_fd = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--channel-fd") == 0 && i + 1 < argc) {
			if (parse_fd_arg(argv[++i], &channel_fd))
				return 2;
		} else if (strcmp(a, "--hv-fd") == 0 && i + 1 < argc) {
			if (parse_fd_arg(argv[++i], &hv_fd))
				return 2;
		} else if (strcmp(a, "-v") == 0) {
			log_set_level(LOG_INFO);
		} else {
			return cli_usage_error("vmm", "serve: unexpected argument '%s'", a);
		}
	}
	if (channel_fd < 0 || fcntl(channel_fd, F_GETFD) < 0)
		return cli_usage_error("vmm", "%s", "serve needs --channel-fd N, an open channel");
	if (hv_fd >= 0 && fcntl(hv_fd, F_GETFD) < 0)
		return cli_usage_error("vmm", "%s", "serve: --hv-fd is not an open file descriptor");
	/* Neither handle may leak into anything this process starts. */
	fcntl(channel_fd, F_SETFD, FD_CLOEXEC);
	if (hv_fd >= 0)
		fcntl(hv_fd, F_SETFD, FD_CLOEXEC);
	pthread_t t;
	pthread_create(&t, NULL, serve_signal_thread, (void *)(intptr_t)channel_fd);
	pthread_detach(t);
	return vmm_serve(channel_fd, &hv_kvm_ops, hv_fd);
}

/* ---- main --------------------------------------------------------------- */

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the command's name */
} commands[] = {
	{ "run", cmd_run },
	{ "serve", cmd_serve },
};

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
		return cli_usage_error("vmm", "%s", "missing command");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		print_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("vmm %s\n", VMM_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	return cli_usage_error("vmm", "unknown command '%s'", argv[1]);
}
