/* vmm-device/vmm_device_main.c - the `vmm_device` program (build/vmm_device):
 * one virtio device core served over vhost-user, as its own process.
 *
 * The same device code the vmm runs in-process behind virtio-mmio, here
 * behind devices/vhost_user.c, so any vhost-user front end (our vmm, QEMU,
 * user-mode Linux's virtio_uml) can drive it. One front end at a time.
 *
 * Owns: the command line (the option table, from which --help's option
 * lines come), parse -> build -> run, and the server loop's set-up and
 * teardown. What each device needs is its kind's (kinds.h, kind_*.c).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/cli_args.h"
#include "base/cli_table.h"
#include "base/log.h"
#include "traces/trace.h"
#include "vmm-device/kinds.h"
#include "vmm-device/usage.h"

static const char usage_intro[] =
	"\n"
	"Serve one virtio device to a vhost-user front end (QEMU, user-mode Linux with\n"
	"virtio_uml.device=PATH:ID, or the vmm) on the Unix socket PATH. A stale socket\n"
	"at PATH is replaced; any other file there is an error. Front ends are served\n"
	"one at a time; when one disconnects the device is reset and the next is\n"
	"awaited (with --once, the program exits instead).\n"
	"\n"
	"devices (virtio device id for virtio_uml in brackets):\n";

static const char usage_tail[] =
	"\n"
	"SIGTERM and SIGINT stop the server cleanly (an rw image is fsync'd first).\n"
	"Exit status: 0 stopped or (--once) the front end left; 1 runtime failure\n"
	"(cannot open the image or listen on the socket); 2 bad command line.\n";

/* ---- parse: what each option sets -------------------------------------- */

static int set_socket(struct device_request *rq, char *arg)
{
	rq->socket = arg;
	return 0;
}

static int set_device(struct device_request *rq, char *arg)
{
	rq->device = arg;
	return 0;
}

static int set_image(struct device_request *rq, char *arg)
{
	rq->image = arg;
	return 0;
}

static int set_mode(struct device_request *rq, char *arg)
{
	rq->mode_arg = arg;
	return 0;
}

static int set_id(struct device_request *rq, char *arg)
{
	rq->id = arg;
	return 0;
}

static int set_tap(struct device_request *rq, char *arg)
{
	rq->tap = arg;
	return 0;
}

static int set_balloon_pages(struct device_request *rq, char *arg)
{
	rq->pages_arg = arg;
	return 0;
}

static int set_guest_cid(struct device_request *rq, char *arg)
{
	rq->cid_arg = arg;
	return 0;
}

/* PORT:PATH, checked as it is met (a new port, a path that fits a Unix
 * socket address, at most VSOCK_MAX_LISTEN of them). */
static int add_vsock_listen(struct device_request *rq, char *arg)
{
	char *colon = strchr(arg, ':'), *end;
	if (!colon || colon == arg || !colon[1] || rq->nlisten == VSOCK_MAX_LISTEN ||
	    arg[0] == '-' || strlen(colon + 1) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		goto bad;
	errno = 0;
	unsigned long port = strtoul(arg, &end, 10);
	if (errno || end != colon || port > UINT32_MAX)
		goto bad;
	for (unsigned i = 0; i < rq->nlisten; i++)
		if (rq->listen[i].port == port)
			goto bad;
	rq->listen[rq->nlisten].port = (uint32_t)port;
	rq->listen[rq->nlisten++].path = colon + 1;
	return 0;
bad:
	return usage_error("--vsock-listen '%s' is not PORT:PATH (a new port, at most %u)", arg,
	                   (unsigned)VSOCK_MAX_LISTEN);
}

static int set_vsock_connect(struct device_request *rq, char *arg)
{
	rq->vsock_connect = arg;
	return 0;
}

static int set_once(struct device_request *rq, char *arg)
{
	rq->once = true;
	return 0;
}

static int set_record(struct device_request *rq, char *arg)
{
	rq->record = arg;
	return 0;
}

static int more_verbose(struct device_request *rq, char *arg)
{
	rq->verbose++;
	return 0;
}

/* ---- parse: the option table -------------------------------------------- */

struct server_option {
	struct cli_opt cli;
	int (*apply)(struct device_request *rq, char *arg); /* NULL: --help itself */
};

static const struct server_option options[N_OPTIONS] = {
	[OPT_SOCKET] = { { "socket", 0, "PATH", "where to listen (required)" }, set_socket },
	[OPT_DEVICE] = { { "device", 0, "NAME", "which device (required)" }, set_device },
	[OPT_IMAGE] = { { "image", 0, "FILE", "block: the disk image" }, set_image },
	[OPT_MODE] = { { "mode", 0, "MODE",
	    "block: rw (default; FLUSH is fdatasync), ro (the driver sees\n"
	    "a read-only disk), volatile (writes stay in this process's\n"
	    "memory; FILE is opened read-only and never changes)" },
	  set_mode },
	[OPT_ID] = { { "id", 0, "ID",
	    "block: the serial GET_ID returns (default: FILE's name; at\n"
	    "most 20 bytes are visible)" },
	  set_id },
	[OPT_TAP] = { { "tap", 0, "NAME", "net: the TAP interface" }, set_tap },
	[OPT_BALLOON_PAGES] = { { "balloon-pages", 0, "N",
	    "balloon: ask the guest for N 4-KiB pages from the start" },
	  set_balloon_pages },
	[OPT_GUEST_CID] = { { "guest-cid", 0, "N",
	    "vsock: the guest's CID (default 3)" },
	  set_guest_cid },
	[OPT_VSOCK_LISTEN] = { { "vsock-listen", 0, "PORT:PATH",
	    "vsock: bridge guest connections to host port PORT\n"
	    "to the Unix socket PATH (repeatable, up to 16 ports)" },
	  add_vsock_listen },
	[OPT_VSOCK_CONNECT] = { { "vsock-connect-socket", 0, "PATH",
	    "vsock: listen on PATH for host connections\n"
	    "to the guest (the CONNECT line above)" },
	  set_vsock_connect },
	[OPT_ONCE] = { { "once", 0, NULL,
	    "exit after the first front end disconnects" },
	  set_once },
	[OPT_RECORD] = { { "record", 0, "FILE.db",
	    "record a device-level trace (traces/README.md): every\n"
	    "vhost-user message, kick and host input, the guest memory\n"
	    "the device read, and what it answered, wrote and sent;\n"
	    "`trace replay FILE.db` replays it with no front end" },
	  set_record },
	[OPT_VERBOSE] = { { "verbose", 'v', NULL, "say more (repeat for debug)" }, more_verbose },
	[OPT_HELP] = { { "help", 'h', NULL, "this text" }, NULL },
};

/* The help text's layout (cli_help_entry): device names with their virtio
 * id in a 12-column field, option names in a 16-column one, after two
 * spaces; a name that fills its field is followed by two spaces. */
#define HELP_DEVICE_WIDTH 12
#define HELP_OPTION_WIDTH 16

static void print_usage(FILE *f)
{
	for (size_t k = 0; device_kinds[k]; k++) {
		const struct device_kind *d = device_kinds[k];
		fprintf(f, "%s vmm_device --socket PATH --device %s%s%s\n", k ? "      " : "usage:",
		        d->name, d->synopsis ? " " : "", d->synopsis ? d->synopsis : "");
	}
	fputs("       vmm_device ... --record FILE.db\n"
	      "       vmm_device --help\n", f);
	fputs(usage_intro, f);
	for (size_t k = 0; device_kinds[k]; k++) {
		char left[32];
		snprintf(left, sizeof(left), "%-5s [%u]", device_kinds[k]->name,
		         device_kinds[k]->virtio_id);
		cli_help_entry(f, HELP_DEVICE_WIDTH, left, device_kinds[k]->help);
	}
	fputs("\noptions:\n", f);
	for (size_t i = 0; i < N_OPTIONS; i++)
		cli_help_option(f, HELP_OPTION_WIDTH, &options[i].cli);
	fputs(usage_tail, f);
}

enum parse_result { PARSE_OK, PARSE_HELP, PARSE_BAD };

/* Parse: match argv against the option table and apply each option in
 * command-line order. PARSE_BAD has printed the usage error. */
static enum parse_result parse(int argc, char **argv, struct device_request *rq)
{
	struct cli_parser p;
	cli_parser_init(&p, options, N_OPTIONS, sizeof(options[0]), true);
	int i;
	char *arg;
	while ((i = cli_parser_next(&p, argc, argv, &arg)) != CLI_DONE) {
		if (i == CLI_NEEDS_VALUE) {
			usage_error("option '%s' needs a value", argv[optind - 1]);
			return PARSE_BAD;
		}
		if (i < 0) {
			usage_error("unknown option '%s'", argv[optind - 1]);
			return PARSE_BAD;
		}
		if (!options[i].apply)
			return PARSE_HELP;
		rq->given |= OPT_BIT(i);
		if (options[i].apply(rq, arg))
			return PARSE_BAD;
	}
	if (optind < argc) {
		usage_error("unexpected argument '%s'", argv[optind]);
		return PARSE_BAD;
	}
	return PARSE_OK;
}

/* ---- build: does the combination make sense ----------------------------- */

/* "block, rng, ... or vsock": the table's names, as an error lists them. */
static void kind_names(char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t k = 0; device_kinds[k] && n < len; k++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", !k ? "" : device_kinds[k + 1] ? ", " : " or ",
		                      device_kinds[k]->name);
}

/* The kind and its values; 0 or EXIT_USAGE (printed). Options of another
 * kind are refused by that kind's name, in table order, before the chosen
 * kind checks what it needs. */
static int build(struct device_request *rq)
{
	if (!rq->socket)
		return usage_error("%s", "--socket PATH is required");
	if (!rq->device) {
		char names[128];
		kind_names(names, sizeof(names));
		return usage_error("--device NAME is required (%s)", names);
	}
	for (size_t k = 0; device_kinds[k] && !rq->kind; k++)
		if (strcmp(rq->device, device_kinds[k]->name) == 0)
			rq->kind = device_kinds[k];
	if (!rq->kind) {
		char names[128];
		kind_names(names, sizeof(names));
		return usage_error("unknown device '%s' (%s)", rq->device, names);
	}
	for (size_t k = 0; device_kinds[k]; k++) {
		const struct device_kind *other = device_kinds[k];
		if (other != rq->kind && (rq->given & other->takes & ~rq->kind->takes))
			return usage_error("%s for --device %s, not %s", other->options_are,
			                   other->name, rq->device);
	}
	return rq->kind->check ? rq->kind->check(rq) : 0;
}

/* ---- run: serve until stopped ------------------------------------------- */

static struct device_server server;
static struct trace_writer *recorder;
/* Who the host adapters and the server announce to with --record. */
static struct ev_sink record_sink;

static void on_signal(int sig)
{
	(void)sig;
	vhu_stop(&server.vhu);
}

/* The recording's meta: the device's configuration, as a device-level
 * replay rebuilds it. 0 or EXIT_RUNTIME (printed). */
static int record_open(const struct device_request *rq)
{
	char err[320], cfg[512];
	int n = snprintf(cfg, sizeof(cfg), "device=%s\n", rq->kind->name);
	if (rq->kind->record_config)
		rq->kind->record_config(rq, cfg + n, sizeof(cfg) - (size_t)n);
	recorder = trace_writer_open(rq->record, err, sizeof(err));
	if (!recorder || trace_writer_set_meta(recorder, "config", cfg) < 0 ||
	    trace_writer_set_meta(recorder, "level", "device") < 0 ||
	    trace_writer_set_meta(recorder, "backend", "vhost-user") < 0 ||
	    trace_writer_set_meta(recorder, "vmm_version", "vmm_device 0.1.0") < 0) {
		fprintf(stderr, "vmm_device: --record %s: %s\n", rq->record,
		        recorder ? "cannot write meta" : err);
		return EXIT_RUNTIME;
	}
	record_sink = trace_recorder_sink(recorder);
	vhu_set_sink(&server.vhu, &record_sink);
	server.hev.sink = &record_sink;
	return 0;
}

/* Set the device up, listen, serve until stopped (or, with --once, until
 * the front end leaves), tear down. An exit status. */
static int run(const struct device_request *rq)
{
	log_set_level(rq->verbose >= 2 ? LOG_DEBUG : rq->verbose ? LOG_INFO : LOG_WARN);
	server.retry_pipe[0] = server.retry_pipe[1] = -1;
	struct virtio_device *dev;
	int st = rq->kind->setup(&server, rq, &dev);
	if (st)
		return st;
	int r = vhu_init(&server.vhu, dev);
	if (r == 0)
		r = vhu_listen(&server.vhu, rq->socket);
	if (r == 0 && server.retry)
		r = rx_retry_open(&server);
	if (r < 0) {
		fprintf(stderr, "vmm_device: cannot listen on '%s': %s\n", rq->socket,
		        r == -EEXIST ? "a file that is not a socket is in the way" : strerror(-r));
		return EXIT_RUNTIME;
	}
	if (rq->record && (st = record_open(rq)))
		return st;
	if (server.retry)
		rx_retry_watch(&server);
	if (rq->kind->start)
		rq->kind->start(&server, rq);
	/* A front end that exits first leaves our call pipes without a reader. */
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	log_info("serving %s on %s", rq->device, rq->socket);

	r = vhu_run(&server.vhu, rq->once);
	int status = EXIT_OK;
	if (r < 0) {
		fprintf(stderr, "vmm_device: accept on '%s': %s\n", rq->socket, strerror(-r));
		status = EXIT_RUNTIME;
	}
	vhu_destroy(&server.vhu);
	unlink(rq->socket);
	if (recorder) {
		char err[320];
		if (trace_writer_close(recorder, err, sizeof(err)) < 0) {
			fprintf(stderr, "vmm_device: writing %s: %s\n", rq->record, err);
			status = EXIT_RUNTIME;
		}
	}
	if (rq->kind->finish && rq->kind->finish(rq))
		status = EXIT_RUNTIME;
	return status;
}

int main(int argc, char **argv)
{
	static struct device_request rq;
	log_set_prefix("vmm_device");
	switch (parse(argc, argv, &rq)) {
	case PARSE_HELP: print_usage(stdout); return EXIT_OK;
	case PARSE_BAD: return EXIT_USAGE;
	case PARSE_OK: break;
	}
	int st = build(&rq);
	return st ? st : run(&rq);
}
