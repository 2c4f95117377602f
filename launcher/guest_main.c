/* launcher/guest_main.c - the `guest` tool: the user's front end to guest
 * managers (fuchsia.virtualization/GuestManager) and, through them, to each
 * guest's vmm (Guest, HostVsockEndpoint, BalloonController), plus the
 * isolation audit.
 *
 * A guest is named (by default after its package); its manager listens on
 * RUNTIME/<name>.sock and is started here on first launch. Exit codes: 0
 * success, 1 the operation failed (precise message on stderr), 2 usage.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "fidl/channel.h"
#include "fidl/virtualization.h"
#include "launcher/audit.h"
#include "launcher/guest_package.h"
#include "launcher/lifecycle_client.h"
#include "base/cli_args.h"

#define DEFAULT_LAUNCHER "/run/vmm/launcher.sock"
#define CALL_TIMEOUT_MS 40000 /* Launch waits for the vmm's Create */
#define MANAGER_START_MS 10000

static const char *const status_names[] = {
	[FV_GUEST_NOT_STARTED] = "NOT_STARTED",
	[FV_GUEST_STARTING] = "STARTING",
	[FV_GUEST_RUNNING] = "RUNNING",
	[FV_GUEST_STOPPING] = "STOPPING",
	[FV_GUEST_STOPPED] = "STOPPED",
	[FV_GUEST_VMM_UNEXPECTED_TERMINATION] = "VMM_UNEXPECTED_TERMINATION",
};

static const char *status_name(enum fv_guest_status s)
{
	return s >= FV_GUEST_NOT_STARTED && s <= FV_GUEST_VMM_UNEXPECTED_TERMINATION
	               ? status_names[s]
	               : "UNKNOWN";
}

static const char *manager_error_name(int e)
{
	switch (e) {
	case FV_MANAGER_BAD_CONFIG: return "BAD_CONFIG";
	case FV_MANAGER_ALREADY_RUNNING: return "ALREADY_RUNNING";
	case FV_MANAGER_NOT_RUNNING: return "NOT_RUNNING";
	case FV_MANAGER_START_FAILURE: return "START_FAILURE";
	case FV_MANAGER_NO_STORAGE: return "NO_STORAGE";
	default: return "UNKNOWN";
	}
}

static const char *zx_name(int s)
{
	switch (s) {
	case ZX_ERR_PEER_CLOSED: return "PEER_CLOSED";
	case ZX_ERR_TIMED_OUT: return "TIMED_OUT";
	case ZX_ERR_NOT_SUPPORTED: return "NOT_SUPPORTED";
	case ZX_ERR_INVALID_ARGS: return "INVALID_ARGS";
	case ZX_ERR_CONNECTION_REFUSED: return "CONNECTION_REFUSED";
	case ZX_ERR_NO_RESOURCES: return "NO_RESOURCES";
	case ZX_ERR_ACCESS_DENIED: return "ACCESS_DENIED";
	case ZX_ERR_UNAVAILABLE: return "UNAVAILABLE";
	default: return "error";
	}
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* ---- help ------------------------------------------------------------- */

/* One verb: its name, what runs it, its line in 'guest --help' and its own
 * --help text. */
struct verb {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the verb */
	const char *synopsis;             /* 'guest --help': the verb and its arguments */
	const char *summary;              /* 'guest --help': what it does, lines split by '\n' */
	const char *usage;                /* 'guest VERB --help' */
};
static const struct verb verbs[];

/* 'guest --help' is usage_head, one entry per verb, usage_tail. */
static const char usage_head[] =
	"usage: guest VERB [options] [args]\n"
	"\n"
	"Run and inspect virtual machines through per-user guest managers and the\n"
	"vmm_launcher. Verbs:\n";
static const char usage_tail[] =
	"\n"
	"'guest VERB --help' describes each verb. Exit status: 0 success, 1 failure,\n"
	"2 usage error.\n";

/* The verb list's layout (cli_help_entry): synopses in a 20-column field
 * after two spaces, summaries from column 22. */
#define SYNOPSIS_WIDTH 20

static void print_main_usage(FILE *f)
{
	fputs(usage_head, f);
	for (const struct verb *x = verbs; x->name; x++)
		cli_help_entry(f, SYNOPSIS_WIDTH, x->synopsis, x->summary);
	fputs(usage_tail, f);
}

static int usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "guest %s: ", verb);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'guest %s --help'.\n", verb);
	return 2;
}

static int failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int failf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("guest: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

/* ---- talking to a manager --------------------------------------------- */

/* Connect to NAME's manager. Returns 0, or 1 with the reason printed. */
static int manager_connect(const char *name, struct lc_client *c, bool quiet)
{
	char sock[PATH_MAX], err[512];
	if (manager_file(sock, sizeof(sock), name, ".sock", err, sizeof(err)) < 0)
		return quiet ? 1 : failf("%s", err);
	int r = lcc_connect(c, sock);
	if (r == -ENOENT || r == -ECONNREFUSED)
		return quiet ? 1
		             : failf("no guest named '%s': no manager is listening on %s (start it "
		                     "with 'guest launch')", name, sock);
	if (r < 0)
		return quiet ? 1 : failf("%s: %s", sock, strerror(-r));
	c->call_timeout_ms = CALL_TIMEOUT_MS;
	return 0;
}

static int call_failed(const char *what, const char *name, struct lc_client *c, int r)
{
	if (r == ZX_ERR_PEER_CLOSED && c->epitaph)
		return failf("%s %s: the manager closed the channel (epitaph %s, %d)", what, name,
		             zx_name(c->epitaph), c->epitaph);
	if (r == ZX_ERR_PEER_CLOSED)
		return failf("%s %s: the manager went away", what, name);
	return failf("%s %s: %s (%d)", what, name, zx_name(r), r);
}

/* A failed call on a manager channel: say why (call_failed) and close it. */
static int manager_failed(const char *what, const char *name, struct lc_client *c, int r)
{
	int rc = call_failed(what, name, c, r);
	lcc_close(c);
	return rc;
}

/* Encode status of a request in m, then the call: the first failure wins. */
static int call(struct lc_client *c, struct fidl_msg *m, int enc_status, struct fidl_dec *d)
{
	return enc_status == ZX_OK ? lcc_call(c, m, d) : enc_status;
}

static int get_info(struct lc_client *c, struct fv_guest_info *g)
{
	static struct fidl_msg m;
	struct fidl_dec d;
	fv_guest_info_init(g);
	int r = call(c, &m, fv_enc_empty(&m, lcc_txid(c), FV_ORD_MANAGER_GET_INFO), &d);
	if (r == ZX_OK)
		r = fv_dec_guest_info_resp(&d, g);
	return r;
}

/* The manager verbs' first step: connect to NAME's manager and fetch its
 * GuestInfo. Returns 0 with *c open and *g filled (the caller closes and
 * frees them), or 1 with the reason printed and nothing left open. */
static int manager_info(const char *verb, const char *name, struct lc_client *c,
                        struct fv_guest_info *g)
{
	if (manager_connect(name, c, false))
		return 1;
	int r = get_info(c, g);
	return r == ZX_OK ? 0 : manager_failed(verb, name, c, r);
}

/* A GuestManager call answered by a GuestManagerError result. */
static int manager_result_call(struct lc_client *c, struct fidl_msg *m, struct fv_result *res)
{
	struct fidl_dec d;
	int r = lcc_call(c, m, &d);
	if (r == ZX_OK)
		r = fv_dec_result(&d, FV_ERR_MANAGER_ERROR, false, res);
	return r;
}

static void print_problems(const struct fv_guest_info *g, const char *indent)
{
	if (g->has_stop_error)
		fprintf(stderr, "%sstop error: %s\n", indent, guest_error_name(g->stop_error));
	for (size_t i = 0; i < g->n_detected_problems; i++)
		fprintf(stderr, "%sproblem: %s\n", indent, g->detected_problems[i]);
}

/* GuestManager.Connect: *guest is a Guest channel to NAME's vmm. */
static int connect_guest(const char *name, int *guest)
{
	struct lc_client c;
	if (manager_connect(name, &c, false))
		return 1;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return failf("socketpair: %s", strerror(errno));
	static struct fidl_msg m;
	struct fv_result res;
	int r = fv_enc_handle_body(&m, lcc_txid(&c), FV_ORD_MANAGER_CONNECT, sv[1]);
	if (r == ZX_OK)
		r = manager_result_call(&c, &m, &res);
	close(sv[1]);
	lcc_close(&c);
	if (r != ZX_OK) {
		close(sv[0]);
		return call_failed("connect to", name, &c, r);
	}
	if (res.which != FIDL_RESULT_RESPONSE) {
		close(sv[0]);
		return failf("connect to %s: %s: the guest has no running vmm (see 'guest info %s')",
		             name, manager_error_name(res.err), name);
	}
	*guest = sv[0];
	return 0;
}

/* ---- streaming -------------------------------------------------------- */

static volatile sig_atomic_t interrupted;
static void on_int(int s)
{
	(void)s;
	interrupted = 1;
}

/* Copy sock to stdout (and stdin to sock unless read_only) until EOF, the
 * deadline (timeout_ms > 0), `until` seen, or SIGINT. Reads are bounded
 * (one buffer per wakeup). Returns 0, or 1 if `until` was wanted and not seen. */
static int bridge(int sock, int timeout_ms, const char *until, bool read_only)
{
	struct sigaction sa = { .sa_handler = on_int };
	sigaction(SIGINT, &sa, NULL);
	char buf[4096];
	char tail[512] = ""; /* the last bytes seen, to find `until` across reads */
	size_t ulen = until ? strlen(until) : 0;
	bool in_open = !read_only;
	long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	while (!interrupted) {
		struct pollfd p[2] = { { .fd = sock, .events = POLLIN },
		                       { .fd = in_open ? 0 : -1, .events = POLLIN } };
		int wait = -1;
		if (deadline) {
			long long left = deadline - now_ms();
			if (left <= 0)
				break;
			wait = (int)left;
		}
		int pr = poll(p, 2, wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		if (p[0].revents) {
			ssize_t n = read(sock, buf, sizeof(buf));
			if (n <= 0)
				break;
			if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
				break;
			fflush(stdout);
			if (ulen) {
				size_t tl = strlen(tail);
				size_t take = (size_t)n < sizeof(tail) - 1 ? (size_t)n : sizeof(tail) - 1;
				if (tl + take >= sizeof(tail)) {
					size_t drop = tl + take - (sizeof(tail) - 1);
					memmove(tail, tail + drop, tl - drop + 1);
					tl -= drop;
				}
				/* NULs from the guest would cut the window short: skip them. */
				for (size_t i = (size_t)n - take; i < (size_t)n; i++)
					if (buf[i])
						tail[tl++] = buf[i];
				tail[tl] = '\0';
				if (strstr(tail, until))
					return 0;
			}
		}
		if (in_open && p[1].revents) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n <= 0)
				in_open = false;
			else if (write(sock, buf, (size_t)n) != n)
				break;
		}
	}
	return ulen ? 1 : 0;
}

/* ---- verbs ------------------------------------------------------------ */

static int spawn_manager(const char *name, const char *pkg_file, const char *launcher)
{
	char dir[PATH_MAX], prog[PATH_MAX + 32], logp[PATH_MAX], err[512];
	if (self_dir(dir, sizeof(dir)) < 0)
		return failf("cannot find my own program folder");
	snprintf(prog, sizeof(prog), "%s/guest_manager", dir);
	if (access(prog, X_OK) < 0)
		return failf("the guest manager %s is not executable: %s", prog, strerror(errno));
	if (manager_file(logp, sizeof(logp), name, ".log", err, sizeof(err)) < 0)
		return failf("%s", err);
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return failf("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		return failf("fork: %s", strerror(errno));
	if (pid == 0) {
		/* A daemon of this user's session: no terminal, its own session, its
		 * log in the runtime dir, and no fd of ours but the ready pipe. */
		setsid();
		int nul = open("/dev/null", O_RDWR);
		int log = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (nul < 0 || log < 0)
			_exit(126);
		dup2(nul, 0);
		dup2(log, 1);
		dup2(log, 2);
		int ready = fcntl(pfd[1], F_DUPFD, 3); /* without CLOEXEC */
		if (ready != 3) {
			dup2(ready, 3);
			ready = 3;
		}
		syscall(SYS_close_range, 4, ~0u, 0);
		char *argv[] = { prog, "--name", (char *)name, "--package", (char *)pkg_file,
			         "--launcher", (char *)launcher, "--ready-fd", "3", "-v", NULL };
		execv(prog, argv);
		_exit(127);
	}
	close(pfd[1]);
	char msg[600] = "";
	size_t have = 0;
	long long t0 = now_ms();
	while (have < sizeof(msg) - 1) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		long long left = t0 + MANAGER_START_MS - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t n = read(pfd[0], msg + have, sizeof(msg) - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	msg[have] = '\0';
	close(pfd[0]);
	if (strcmp(msg, "ok\n")) {
		if (!have)
			return failf("the guest manager for '%s' did not start within %d ms (see %s)",
			             name, MANAGER_START_MS, logp);
		msg[strcspn(msg, "\n")] = '\0';
		return failf("the guest manager for '%s' could not start: %s", name, msg);
	}
	return 0;
}

static int set_flag(struct guest_config *c, const char *f)
{
#define FLAG(s, field) \
	if (!strcmp(f, s)) { c->has_##field = true; c->field = true; return 0; }
	FLAG("virtio-balloon", virtio_balloon)
	FLAG("virtio-console", virtio_console)
	FLAG("virtio-gpu", virtio_gpu)
	FLAG("virtio-rng", virtio_rng)
	FLAG("virtio-sound", virtio_sound)
	FLAG("virtio-vsock", virtio_vsock)
	FLAG("default-net", default_net)
#undef FLAG
	return -1;
}

static int cmd_launch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, 0, 'n' },
		{ "cpus", required_argument, 0, 'c' },
		{ "memory", required_argument, 0, 'm' },
		{ "cmdline-add", required_argument, 0, 'a' },
		{ "launcher", required_argument, 0, 'l' },
		{ "default-net", no_argument, 0, 'F' },
		{ "virtio-balloon", no_argument, 0, 'F' },
		{ "virtio-console", no_argument, 0, 'F' },
		{ "virtio-gpu", no_argument, 0, 'F' },
		{ "virtio-rng", no_argument, 0, 'F' },
		{ "virtio-sound", no_argument, 0, 'F' },
		{ "virtio-vsock", no_argument, 0, 'F' },
		{ 0, 0, 0, 0 },
	};
	struct guest_config u;
	gc_init(&u);
	const char *name = NULL, *launcher = getenv("VMM_LAUNCHER_SOCKET");
	if (!launcher || !*launcher)
		launcher = DEFAULT_LAUNCHER;
	char err[512];
	int c, idx, rc = 2;
	uint64_t v;
	while ((c = getopt_long(argc, argv, "+", opts, &idx)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 'l': launcher = optarg; break;
		case 'c':
			if (parse_uint(optarg, 1, 255, &v, err, sizeof(err)) < 0) {
				rc = usage_error("launch", "--cpus: %s", err);
				goto out;
			}
			u.has_cpus = true;
			u.cpus = (uint8_t)v;
			break;
		case 'm':
			if (parse_size(optarg, &v, err, sizeof(err)) < 0) {
				rc = usage_error("launch", "--memory: %s", err);
				goto out;
			}
			u.has_guest_memory = true;
			u.guest_memory = v;
			break;
		case 'a': {
			if (u.n_cmdline_add == GC_MAX_CMDLINE_ADD) {
				rc = usage_error("launch", "at most %d --cmdline-add", GC_MAX_CMDLINE_ADD);
				goto out;
			}
			char **a = realloc(u.cmdline_add, (u.n_cmdline_add + 1) * sizeof(*a));
			if (!a || !(a[u.n_cmdline_add] = strdup(optarg))) {
				if (a)
					u.cmdline_add = a;
				rc = failf("out of memory");
				goto out;
			}
			u.cmdline_add = a;
			u.n_cmdline_add++;
			u.has_cmdline_add = true;
			break;
		}
		case 'F': set_flag(&u, opts[idx].name); break;
		default: rc = usage_error("launch", "bad option"); goto out;
		}
	}
	if (optind != argc - 1) {
		rc = usage_error("launch", "expected one PACKAGE");
		goto out;
	}
	const char *package = argv[optind];
	char dir[PATH_MAX], file[PATH_MAX];
	if (self_dir(dir, sizeof(dir)) < 0)
		snprintf(dir, sizeof(dir), ".");
	if (pkg_find(file, sizeof(file), package, dir, err, sizeof(err)) < 0) {
		rc = failf("launch: %s", err);
		goto out;
	}
	char defname[GUEST_NAME_MAX + 8];
	if (!name) {
		const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
		snprintf(defname, sizeof(defname), "%.*s", (int)strcspn(base, "."), base);
		name = defname;
	}
	if (!guest_name_ok(name)) {
		rc = usage_error("launch", "'%s' is not a guest name ([A-Za-z0-9_-], 1-%d bytes)",
		                 name, GUEST_NAME_MAX);
		goto out;
	}
	struct lc_client mc;
	if (manager_connect(name, &mc, true)) {
		if ((rc = spawn_manager(name, file, launcher)))
			goto out;
		if ((rc = manager_connect(name, &mc, false)))
			goto out;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = failf("socketpair: %s", strerror(errno));
		lcc_close(&mc);
		goto out;
	}
	static struct fidl_msg m;
	struct fv_result res;
	int r = fv_enc_launch_req(&m, lcc_txid(&mc), &u, sv[1]);
	if (r == ZX_OK)
		r = manager_result_call(&mc, &m, &res);
	close(sv[1]);
	close(sv[0]); /* this tool does not keep a Guest channel: 'serial' etc. connect */
	if (r != ZX_OK) {
		rc = manager_failed("launch", name, &mc, r);
		goto out;
	}
	struct fv_guest_info g;
	int ir = get_info(&mc, &g);
	lcc_close(&mc);
	if (res.which != FIDL_RESULT_RESPONSE) {
		fprintf(stderr, "guest: launch %s: %s\n", name, manager_error_name(res.err));
		if (ir == ZX_OK)
			print_problems(&g, "  ");
		if (res.err == FV_MANAGER_ALREADY_RUNNING)
			fprintf(stderr, "  (stop it first with 'guest stop -f %s')\n", name);
		rc = 1;
	} else {
		printf("%s: launched from %s (status %s)\n", name, file,
		       ir == ZX_OK && g.has_guest_status ? status_name(g.guest_status) : "?");
		rc = 0;
	}
	if (ir == ZX_OK)
		fv_guest_info_free(&g);
out:
	gc_free(&u);
	return rc;
}

static void print_uptime(int64_t ns, char *out, size_t len)
{
	long long ms = ns / 1000000;
	if (ms < 10000)
		snprintf(out, len, "%lld ms", ms);
	else
		snprintf(out, len, "%lld s", ms / 1000);
}

static int cmd_list(int argc, char **argv)
{
	if (argc != 1)
		return usage_error("list", "takes no arguments");
	char dir[PATH_MAX], err[512];
	if (runtime_dir(dir, sizeof(dir), err, sizeof(err)) < 0)
		return failf("%s", err);
	DIR *d = opendir(dir);
	if (!d)
		return failf("%s: %s", dir, strerror(errno));
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l <= 5 || strcmp(de->d_name + l - 5, ".sock"))
			continue;
		char name[GUEST_NAME_MAX + 1];
		if (l - 5 > GUEST_NAME_MAX)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(l - 5), de->d_name);
		struct lc_client c;
		if (!guest_name_ok(name) || manager_connect(name, &c, true))
			continue; /* a stale socket of a manager that died */
		struct fv_guest_info g;
		int r = get_info(&c, &g);
		lcc_close(&c);
		if (!n++)
			printf("%-20s %-28s %s\n", "NAME", "STATUS", "UPTIME");
		char up[32] = "-";
		if (r == ZX_OK && g.has_uptime)
			print_uptime(g.uptime, up, sizeof(up));
		printf("%-20s %-28s %s\n", name,
		       r != ZX_OK ? "(manager not answering)"
		                  : g.has_guest_status ? status_name(g.guest_status) : "?",
		       up);
		if (r == ZX_OK)
			fv_guest_info_free(&g);
	}
	closedir(d);
	if (!n)
		printf("no guests\n");
	return 0;
}

static int cmd_info(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("info", "expected one NAME");
	const char *name = argv[1];
	struct lc_client c;
	struct fv_guest_info g;
	if (manager_info("info", name, &c, &g))
		return 1;
	lcc_close(&c);
	printf("name: %s\n", name);
	printf("status: %s\n", g.has_guest_status ? status_name(g.guest_status) : "?");
	if (g.has_uptime) {
		char up[32];
		print_uptime(g.uptime, up, sizeof(up));
		printf("uptime: %s\n", up);
	}
	if (g.has_guest_descriptor) {
		const struct fv_guest_descriptor *s = &g.guest_descriptor;
		if (s->has_num_cpus)
			printf("cpus: %u\n", s->num_cpus);
		if (s->has_guest_memory)
			printf("memory: %llu MiB\n", (unsigned long long)(s->guest_memory >> 20));
		static const struct { int ord; const char *n; } devs[] = {
			{ FV_DESC_BALLOON, "balloon" }, { FV_DESC_CONSOLE, "console" },
			{ FV_DESC_GPU, "gpu" },         { FV_DESC_RNG, "rng" },
			{ FV_DESC_VSOCK, "vsock" },     { FV_DESC_SOUND, "sound" },
			{ FV_DESC_WAYLAND, "wayland" }, { FV_DESC_MAGMA, "magma" },
		};
		printf("devices:");
		for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
			if (s->has_device[devs[i].ord] && s->device[devs[i].ord])
				printf(" virtio-%s", devs[i].n);
		printf("\n");
	}
	if (g.has_stop_error)
		printf("stop error: %s\n", guest_error_name(g.stop_error));
	for (size_t i = 0; i < g.n_detected_problems; i++)
		printf("problem: %s\n", g.detected_problems[i]);
	fv_guest_info_free(&g);
	return 0;
}

static int cmd_stop(int argc, char **argv)
{
	bool force = false;
	int c;
	while ((c = getopt(argc, argv, "+f")) != -1) {
		if (c != 'f')
			return usage_error("stop", "bad option");
		force = true;
	}
	if (optind != argc - 1)
		return usage_error("stop", "expected one NAME");
	const char *name = argv[optind];
	struct lc_client mc;
	struct fv_guest_info g;
	if (manager_info("stop", name, &mc, &g))
		return 1;
	enum fv_guest_status st = g.has_guest_status ? g.guest_status : FV_GUEST_NOT_STARTED;
	fv_guest_info_free(&g);
	if (!force && (st == FV_GUEST_RUNNING || st == FV_GUEST_STARTING)) {
		lcc_close(&mc);
		return failf("stop %s: the guest is running and has no graceful shutdown channel "
		             "(that needs a guest agent over virtio-vsock); 'guest stop -f %s' "
		             "forces it off", name, name);
	}
	static struct fidl_msg m;
	struct fidl_dec d;
	int r = call(&mc, &m, fv_enc_empty(&m, lcc_txid(&mc), FV_ORD_MANAGER_FORCE_SHUTDOWN), &d);
	if (r == ZX_OK)
		r = fv_dec_empty(&d);
	if (r != ZX_OK)
		return manager_failed("stop", name, &mc, r);
	lcc_close(&mc);
	printf("%s: stopped (was %s)\n", name, status_name(st));
	return 0;
}

/* serial and console share their options. */
static int stream_verb(const char *verb, int argc, char **argv, bool console)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, 0, 't' },
		{ "until", required_argument, 0, 'u' },
		{ "read-only", no_argument, 0, 'r' },
		{ 0, 0, 0, 0 },
	};
	int timeout_ms = 0, c;
	const char *until = NULL;
	bool read_only = false;
	uint64_t v;
	char err[256];
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_uint(optarg, 1, 86400, &v, err, sizeof(err)) < 0)
				return usage_error(verb, "--timeout: %s", err);
			timeout_ms = (int)v * 1000;
			break;
		case 'u': until = optarg; break;
		case 'r': read_only = true; break;
		default: return usage_error(verb, "bad option");
		}
	}
	if (optind != argc - 1)
		return usage_error(verb, "expected one NAME");
	const char *name = argv[optind];
	int guest, sock = -1;
	if (connect_guest(name, &guest))
		return 1;
	int r;
	if (console) {
		enum guest_error e;
		r = guest_client_get_console(guest, &sock, &e);
		if (r == ZX_OK && e != GUEST_OK) {
			close(guest);
			return failf("console %s: %s: %s", name, guest_error_name(e),
			             e == GUEST_ERR_DEVICE_NOT_PRESENT
			                     ? "the guest has no virtio-console (launch it with "
			                       "--virtio-console)"
			                     : "the vmm refused");
		}
	} else {
		r = guest_client_get_serial(guest, &sock);
	}
	close(guest);
	if (r != ZX_OK)
		return failf("%s %s: the vmm did not hand out the socket (%s, %d)", verb, name,
		             zx_name(r), r);
	int rc = bridge(sock, timeout_ms, until, read_only);
	close(sock);
	if (rc && until)
		fprintf(stderr, "guest: %s %s: '%s' did not appear%s\n", verb, name, until,
		        timeout_ms ? " before the timeout" : "");
	return rc;
}

static int cmd_serial(int argc, char **argv)
{
	return stream_verb("serial", argc, argv, false);
}

static int cmd_console(int argc, char **argv)
{
	return stream_verb("console", argc, argv, true);
}

/* Guest.GetHostVsockEndpoint / GetBalloonController: *chan is our end. */
static int guest_service(const char *verb, const char *name, bool vsock, int *chan)
{
	int guest;
	if (connect_guest(name, &guest))
		return 1;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		close(guest);
		return failf("socketpair: %s", strerror(errno));
	}
	enum guest_error e = GUEST_OK;
	int r = vsock ? guest_client_get_vsock(guest, sv[1], &e)
	              : guest_client_get_balloon(guest, sv[1], &e);
	close(guest);
	if (r != ZX_OK || e != GUEST_OK) {
		close(sv[0]);
		if (r != ZX_OK)
			return failf("%s %s: the vmm did not answer (%s, %d)", verb, name, zx_name(r), r);
		if (e == GUEST_ERR_DEVICE_NOT_PRESENT)
			return failf("%s %s: DEVICE_NOT_PRESENT: the guest has no virtio-%s device "
			             "(launch it with --virtio-%s; this vmm may not provide the "
			             "device yet)", verb, name, vsock ? "vsock" : "balloon",
			             vsock ? "vsock" : "balloon");
		return failf("%s %s: %s", verb, name, guest_error_name(e));
	}
	*chan = sv[0];
	return 0;
}

/* The service verbs' first step: NAME's vsock endpoint (vsock) or balloon
 * controller as a client ready for calls. Returns 0 with *c open (the
 * caller closes it), or 1 with the reason printed. */
static int service_open(const char *verb, const char *name, bool vsock, struct lc_client *c)
{
	int chan;
	if (guest_service(verb, name, vsock, &chan))
		return 1;
	lcc_attach(c, chan);
	c->call_timeout_ms = CALL_TIMEOUT_MS;
	return 0;
}

static int parse_port(const char *verb, const char *s, uint32_t *port)
{
	uint64_t v;
	char err[128];
	if (parse_uint(s, 1, UINT32_MAX, &v, err, sizeof(err)) < 0)
		return usage_error(verb, "PORT: %s", err);
	*port = (uint32_t)v;
	return 0;
}

static int cmd_socat(int argc, char **argv)
{
	uint32_t port = 0;
	if (argc != 3)
		return usage_error("socat", "expected NAME PORT");
	if (parse_port("socat", argv[2], &port))
		return 2;
	struct lc_client c;
	if (service_open("socat", argv[1], true, &c))
		return 1;
	static struct fidl_msg m;
	struct fidl_dec d;
	struct fv_result res;
	int r = call(&c, &m, fv_enc_u32_body(&m, lcc_txid(&c), FV_ORD_VSOCK_CONNECT, port), &d);
	if (r == ZX_OK)
		r = fv_dec_result(&d, FV_ERR_ZX_STATUS, true, &res);
	lcc_close(&c);
	if (r != ZX_OK)
		return failf("socat %s: HostVsockEndpoint.Connect: %s (%d)", argv[1], zx_name(r), r);
	if (res.which != FIDL_RESULT_RESPONSE)
		return failf("socat %s: port %u: %s (%d)", argv[1], port, zx_name(res.err), res.err);
	int rc = bridge(res.fd, 0, NULL, false);
	close(res.fd);
	return rc;
}

static int cmd_socat_listen(int argc, char **argv)
{
	uint32_t port = 0;
	if (argc != 3)
		return usage_error("socat-listen", "expected NAME PORT");
	if (parse_port("socat-listen", argv[2], &port))
		return 2;
	struct lc_client c;
	if (service_open("socat-listen", argv[1], true, &c))
		return 1;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		lcc_close(&c);
		return failf("socketpair: %s", strerror(errno));
	}
	static struct fidl_msg m;
	struct fidl_dec d;
	struct fv_result res;
	int r = call(&c, &m, fv_enc_listen_req(&m, lcc_txid(&c), port, sv[1]), &d);
	close(sv[1]);
	if (r == ZX_OK)
		r = fv_dec_result(&d, FV_ERR_ZX_STATUS, false, &res);
	if (r != ZX_OK || res.which != FIDL_RESULT_RESPONSE) {
		close(sv[0]);
		lcc_close(&c);
		return r != ZX_OK ? failf("socat-listen %s: Listen: %s (%d)", argv[1], zx_name(r), r)
		                  : failf("socat-listen %s: port %u: %s (%d)", argv[1], port,
		                          zx_name(res.err), res.err);
	}
	fprintf(stderr, "guest: listening on vsock port %u of %s\n", port, argv[1]);
	/* Serve HostVsockAcceptor.Accept once: the first connection is bridged. */
	r = fidl_chan_recv(sv[0], &m);
	uint32_t cid, sport, dport;
	if (r != ZX_OK || fidl_dec_init(&d, &m) != ZX_OK || d.hdr.ordinal != FV_ORD_ACCEPTOR_ACCEPT ||
	    fv_dec_accept_req(&d, &cid, &sport, &dport) != ZX_OK) {
		close(sv[0]);
		lcc_close(&c);
		return failf("socat-listen %s: the vmm ended the listener (%d)", argv[1], r);
	}
	int pair[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
		close(sv[0]);
		lcc_close(&c);
		return failf("socketpair: %s", strerror(errno));
	}
	res = (struct fv_result){ .which = FIDL_RESULT_RESPONSE, .fd = pair[1] };
	uint32_t txid = d.hdr.txid;
	if (fv_enc_result(&m, txid, FV_ORD_ACCEPTOR_ACCEPT, FV_ERR_ZX_STATUS, true, &res) == ZX_OK)
		fidl_chan_send(sv[0], &m);
	close(pair[1]);
	fprintf(stderr, "guest: connection from %u:%u\n", cid, sport);
	int rc = bridge(pair[0], 0, NULL, false);
	close(pair[0]);
	close(sv[0]);
	lcc_close(&c);
	return rc;
}

static int cmd_balloon(int argc, char **argv)
{
	if (argc != 3)
		return usage_error("balloon", "expected NAME PAGES");
	uint64_t pages;
	char err[128];
	if (parse_uint(argv[2], 0, UINT32_MAX, &pages, err, sizeof(err)) < 0)
		return usage_error("balloon", "PAGES: %s", err);
	struct lc_client c;
	if (service_open("balloon", argv[1], false, &c))
		return 1;
	static struct fidl_msg m;
	struct fidl_dec d;
	int r = fv_enc_u32_body(&m, 0, FV_ORD_BALLOON_REQUEST_NUM_PAGES, (uint32_t)pages);
	if (r == ZX_OK)
		r = fidl_chan_send(c.fd, &m);
	uint32_t cur = 0, req = 0;
	if (r == ZX_OK)
		r = call(&c, &m, fv_enc_empty(&m, lcc_txid(&c), FV_ORD_BALLOON_GET_BALLOON_SIZE), &d);
	if (r == ZX_OK)
		r = fv_dec_balloon_size_resp(&d, &cur, &req);
	lcc_close(&c);
	if (r != ZX_OK)
		return failf("balloon %s: BalloonController: %s (%d)", argv[1], zx_name(r), r);
	printf("%s: balloon holds %u pages, %u requested\n", argv[1], cur, req);
	return 0;
}

static int cmd_balloon_stats(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("balloon-stats", "expected one NAME");
	struct lc_client c;
	if (service_open("balloon-stats", argv[1], false, &c))
		return 1;
	static struct fidl_msg m;
	struct fidl_dec d;
	int32_t status = 0;
	bool present = false;
	struct fv_mem_stat *stats = NULL;
	size_t n = 0;
	int r = call(&c, &m, fv_enc_empty(&m, lcc_txid(&c), FV_ORD_BALLOON_GET_MEM_STATS), &d);
	if (r == ZX_OK)
		r = fv_dec_mem_stats_resp(&d, &status, &present, &stats, &n);
	lcc_close(&c);
	if (r != ZX_OK)
		return failf("balloon-stats %s: %s (%d)", argv[1], zx_name(r), r);
	if (status != ZX_OK) {
		free(stats);
		return failf("balloon-stats %s: the guest gave no statistics (%s, %d)", argv[1],
		             zx_name(status), status);
	}
	/* virtio-balloon statistic tags (VIRTIO_BALLOON_S_*). */
	static const char *const tags[] = { "swap-in", "swap-out", "major-faults", "minor-faults",
		                            "free-memory", "total-memory", "available-memory",
		                            "disk-caches", "hugetlb-allocations", "hugetlb-failures" };
	for (size_t i = 0; i < n; i++) {
		if (stats[i].tag < sizeof(tags) / sizeof(tags[0]))
			printf("%s: %llu\n", tags[stats[i].tag], (unsigned long long)stats[i].val);
		else
			printf("tag %u: %llu\n", stats[i].tag, (unsigned long long)stats[i].val);
	}
	if (!present || n == 0)
		printf("no statistics reported\n");
	free(stats);
	return 0;
}

static int cmd_audit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "collection", required_argument, 0, 'c' },
		{ "launcher-pid", required_argument, 0, 'p' },
		{ "hv-device", required_argument, 0, 'd' },
		{ "verbose", no_argument, 0, 'v' },
		{ 0, 0, 0, 0 },
	};
	struct audit_options o = { .collection_path = getenv("VMM_LAUNCHER_COLLECTION"),
		                   .out = stdout };
	int c;
	uint64_t v;
	char err[128];
	while ((c = getopt_long(argc, argv, "+v", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o.collection_path = optarg; break;
		case 'd': o.hv_device = optarg; break;
		case 'v': o.verbose = true; break;
		case 'p':
			if (parse_uint(optarg, 1, INT32_MAX, &v, err, sizeof(err)) < 0)
				return usage_error("audit", "--launcher-pid: %s", err);
			o.launcher_pid = (pid_t)v;
			break;
		default: return usage_error("audit", "bad option");
		}
	}
	if (optind != argc)
		return usage_error("audit", "unexpected argument '%s'", argv[optind]);
	if (!o.collection_path || !*o.collection_path)
		return usage_error("audit", "--collection FILE is required (the file vmm_launcher "
		                            "--collection keeps)");
	int r = audit_run(&o);
	return r < 0 ? 2 : r > 0 ? 1 : 0;
}

static const struct verb verbs[] = {
	{ "launch", cmd_launch, "launch PACKAGE",
	  "start a guest from a package (debian, zircon, termina, test, ...)",
	  "usage: guest launch [options] PACKAGE\n"
	  "\n"
	  "Start a guest from PACKAGE (a name looked up as NAME.pkg in $VMM_GUEST_PACKAGES,\n"
	  "$XDG_DATA_HOME/vmm/packages and the source tree's launcher/packages/, or a path\n"
	  "to a .pkg file). The guest's manager (started if needed) keeps its state in\n"
	  "$XDG_DATA_HOME/vmm/NAME/ and gets a fresh vmm from vmm_launcher.\n"
	  "\n"
	  "options:\n"
	  "  --name NAME          the guest's name (default: the package's name)\n"
	  "  --cpus N             virtual CPUs (overrides the package)\n"
	  "  --memory SIZE        guest memory, e.g. 512M (overrides the package)\n"
	  "  --cmdline-add ARG    append ARG to the kernel command line (repeatable)\n"
	  "  --default-net        add the default network device\n"
	  "  --virtio-balloon, --virtio-console, --virtio-gpu, --virtio-rng,\n"
	  "  --virtio-sound, --virtio-vsock\n"
	  "                       enable that virtio device\n"
	  "  --launcher SOCKET    the vmm_launcher socket (default $VMM_LAUNCHER_SOCKET or\n"
	  "                       " DEFAULT_LAUNCHER ")\n"
	  "\n"
	  "Fails with the manager's GuestManagerError (BAD_CONFIG, ALREADY_RUNNING,\n"
	  "START_FAILURE, NO_STORAGE) and the problems it detected.\n" },
	{ "list", cmd_list, "list", "the guests of this user and their status",
	  "usage: guest list\n\nEvery guest with a live manager for this user, with its GuestStatus\n"
	  "and uptime.\n" },
	{ "info", cmd_info, "info NAME", "one guest's status, uptime, devices and problems",
	  "usage: guest info NAME\n\nNAME's GuestInfo: status (NOT_STARTED, STARTING, RUNNING,\n"
	  "STOPPING, STOPPED, VMM_UNEXPECTED_TERMINATION), uptime, CPUs, memory, devices,\n"
	  "the error the guest stopped with and the problems its manager detected.\n" },
	{ "stop", cmd_stop, "stop [-f] NAME", "stop a guest and release its vmm",
	  "usage: guest stop [-f] NAME\n\n"
	  "Release a stopped guest's vmm. A running guest needs -f (ForceShutdown: the\n"
	  "vmm is stopped and exits); graceful shutdown needs a guest agent over vsock.\n"
	  "\n  -f    force: stop a running guest\n" },
	{ "serial", cmd_serial, "serial NAME", "stream the guest's serial port to this terminal",
	  "usage: guest serial [options] NAME\n\n"
	  "Copy NAME's serial port to stdout and stdin to it, until the vmm closes it,\n"
	  "Ctrl-C, or an option below. Output the guest wrote before is buffered by the\n"
	  "vmm and shown first.\n\n"
	  "options:\n"
	  "  --timeout SEC    stop after SEC seconds\n"
	  "  --until TEXT     stop once TEXT has been seen (exit 1 if it never is)\n"
	  "  --read-only      do not forward stdin\n" },
	{ "console", cmd_console, "console NAME", "the guest's virtio-console",
	  "usage: guest console [options] NAME\n\n"
	  "Like serial, on NAME's virtio-console (launch with --virtio-console).\n"
	  "Options as for serial.\n" },
	{ "socat", cmd_socat, "socat NAME PORT",
	  "connect this terminal to a vsock port in the guest",
	  "usage: guest socat NAME PORT\n\n"
	  "Connect stdin/stdout to vsock PORT in guest NAME (HostVsockEndpoint.Connect).\n"
	  "Needs a guest launched with --virtio-vsock; DEVICE_NOT_PRESENT otherwise.\n" },
	{ "socat-listen", cmd_socat_listen, "socat-listen NAME PORT",
	  "accept one vsock connection from the guest on PORT",
	  "usage: guest socat-listen NAME PORT\n\n"
	  "Listen on host vsock PORT for guest NAME (HostVsockEndpoint.Listen) and\n"
	  "connect the first connection to stdin/stdout.\n" },
	{ "balloon", cmd_balloon, "balloon NAME PAGES",
	  "ask the guest's balloon to hold PAGES pages",
	  "usage: guest balloon NAME PAGES\n\n"
	  "Ask NAME's virtio-balloon to hold PAGES 4 KiB pages\n"
	  "(BalloonController.RequestNumPages), then print its size.\n" },
	{ "balloon-stats", cmd_balloon_stats, "balloon-stats NAME",
	  "the guest's memory statistics from its balloon",
	  "usage: guest balloon-stats NAME\n\nThe memory statistics NAME's balloon driver reports.\n" },
	{ "audit", cmd_audit, "audit",
	  "check that no two vmm instances share writable state and\n"
	  "no one else holds the hypervisor",
	  "usage: guest audit --collection FILE [options]\n\n"
	  "For every vmm in the launcher's collection FILE, read /proc/PID/fd and fdinfo and\n"
	  "report each writable file, directory or socket held by two instances, and any\n"
	  "process other than the launcher and its instances holding the hypervisor.\n"
	  "The hypervisor device and the launcher's inherited stdio are shared by design\n"
	  "and reported separately. Exit 0: the rules hold; 1: violations (one\n"
	  "'VIOLATION ...' line each); 2: the audit could not be made.\n\n"
	  "options:\n"
	  "  --collection FILE   vmm_launcher's --collection file ($VMM_LAUNCHER_COLLECTION)\n"
	  "  --launcher-pid PID  the launcher (default: the instances' parent)\n"
	  "  --hv-device PATH    the hypervisor device (default /dev/kvm)\n"
	  "  -v, --verbose       also list shared read-only files and hypervisor handles\n" },
	{ NULL, NULL, NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		print_main_usage(stderr);
		return 2;
	}
	const char *v = argv[1];
	if (!strcmp(v, "--help") || !strcmp(v, "-h") || !strcmp(v, "help")) {
		if (argc > 2)
			for (const struct verb *x = verbs; x->name; x++)
				if (!strcmp(x->name, argv[2])) {
					fputs(x->usage, stdout);
					return 0;
				}
		print_main_usage(stdout);
		return 0;
	}
	for (const struct verb *x = verbs; x->name; x++) {
		if (strcmp(x->name, v))
			continue;
		if (wants_help(argc - 1, argv + 1)) {
			fputs(x->usage, stdout);
			return 0;
		}
		optind = 0; /* glibc: a fresh getopt scan of the verb's own arguments */
		return x->fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "guest: unknown verb '%s'\nTry 'guest --help'.\n", v);
	return 2;
}
