/* replay/trace_main.c - the `trace` tool: look into, replay, compare and draw
 * SQLite traces (traces/README.md).
 *
 *   trace info F                     meta, counts, sizes, bytes per exit, digest
 *   trace events F [filters]         the records, paged
 *   trace replay F [--kernel-less]   replay on the sim backend; first divergence
 *   trace diff A B                   first difference between two event streams
 *   trace timeline F -o out.svg      events per device over time (exit seq)
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cli_args.h"
#include "replay/replay.h"
#include "traces/script.h"
#include "traces/trace.h"
#include "base/log.h"

static const char usage[] =
	"usage: trace COMMAND FILE... [options]\n"
	"\n"
	"Inspect and replay vmm traces (SQLite databases written by `vmm run --record`).\n"
	"\n"
	"commands:\n"
	"  info FILE                 format version, meta (config, kernel digest, host...),\n"
	"                            counts, file size, bytes per exit, event-stream digest\n"
	"  events FILE [options]     list records in order (exits and what each produced)\n"
	"      --kind K              only records of kind K: an exit kind (io-in, io-out,\n"
	"                            mem-read, mem-write, bell, halt, shutdown, failure),\n"
	"                            or irq, out, in, memr, memw, host (input between exits)\n"
	"      --device D            only records whose device description contains D\n"
	"                            (serial, i8042, \"virtio-mmio slot 0\", rng, block...)\n"
	"      --from N              start at event (exit) N (default 1)\n"
	"      --limit N             print at most N records (default 50; 0: all)\n"
	"  replay FILE [--kernel-less] [-v]\n"
	"                            replay through the vmm on the sim backend (always\n"
	"                            kernel-less: no kernel, no disk image needed); exit 1\n"
	"                            with the first divergence: event, vCPU, device,\n"
	"                            register, expected vs actual, the records before it\n"
	"  diff A B                  first difference between two traces' event streams\n"
	"                            (exit 0: same stream, 1: different)\n"
	"  timeline FILE -o OUT.svg  SVG of events per device over time (time = event seq)\n"
	"\n"
	"Exit status: 0 success, 1 divergence/difference/failure, 2 bad command line.\n";

static int load(const char *path, struct script *s, struct trace_info *info)
{
	char err[512];
	if (trace_load(path, s, info, err, sizeof(err)) < 0) {
		fprintf(stderr, "trace: %s\n", err);
		return -1;
	}
	return 0;
}

/* ---- shared: what a record is about ---- */

static const char *rec_kind(const struct script_event *e)
{
	switch (e->type) {
	case SCRIPT_EXIT: return hv_exit_kind_name(e->exit.kind);
	case SCRIPT_IRQ: return "irq";
	case SCRIPT_OUT: return "out";
	case SCRIPT_IN: return "in";
	case SCRIPT_HOST: return "host";
	case SCRIPT_MEMR: return "memr";
	case SCRIPT_MEMW: return "memw";
	}
	return "?";
}

/* Device a record concerns, for filters and the timeline. */
static void rec_device(const struct script_event *e, char *buf, size_t len)
{
	switch (e->type) {
	case SCRIPT_EXIT:
		if (e->exit.kind <= HV_EXIT_BELL)
			trace_describe_addr(e->exit.kind, e->exit.addr, buf, len);
		else
			snprintf(buf, len, "vcpu %u", e->vcpu);
		return;
	case SCRIPT_IRQ:
		snprintf(buf, len, "irq %u", e->gsi);
		return;
	case SCRIPT_OUT:
	case SCRIPT_IN:
	case SCRIPT_HOST:
		snprintf(buf, len, "%s", e->device);
		return;
	default:
		snprintf(buf, len, "guest memory");
		return;
	}
}

/* Timeline rows group by device, without the register. */
static void row_name(const struct script_event *e, char *buf, size_t len)
{
	rec_device(e, buf, len);
	char *reg = strstr(buf, " register");
	if (!reg)
		reg = strstr(buf, " config space");
	if (!reg)
		reg = strstr(buf, " port");
	if (reg && reg != buf)
		*reg = 0;
	if (e->type == SCRIPT_OUT)
		snprintf(buf + strlen(buf), len - strlen(buf), " (to host)");
	if (e->type == SCRIPT_IN || e->type == SCRIPT_HOST)
		snprintf(buf + strlen(buf), len - strlen(buf), " (host input)");
	if (e->type == SCRIPT_MEMR)
		snprintf(buf, len, "guest memory read");
	if (e->type == SCRIPT_MEMW)
		snprintf(buf, len, "guest memory written");
}

static void print_record(const struct script_event *e, unsigned seq)
{
	char line[200], dev[128];
	if (script_format_event(e, line, sizeof(line)) < 0)
		snprintf(line, sizeof(line), "(unprintable)");
	if (strlen(line) > 100)
		strcpy(line + 97, "...");
	rec_device(e, dev, sizeof(dev));
	if (e->type == SCRIPT_EXIT || e->type == SCRIPT_HOST)
		printf("%7u  %-60s  %s\n", seq, line, dev);
	else
		printf("         %-60s%s%s\n", line, e->len ? "  " : "", "");
}

/* ---- info ---- */

static int cmd_info(int argc, char **argv)
{
	if (argc != 2)
		return cli_usage_error("trace", "%s", "info takes one FILE");
	struct script s;
	struct trace_info in;
	if (load(argv[1], &s, &in) < 0)
		return 1;
	printf("file            %s\n", argv[1]);
	printf("format_version  %d\n", in.format_version);
	for (size_t i = 0; i < in.nmeta; i++) {
		if (strcmp(in.meta[i].key, "format_version") == 0)
			continue;
		if (strcmp(in.meta[i].key, "config") == 0) {
			printf("config\n");
			char *c = strdup(in.meta[i].value), *save = NULL;
			for (char *l = c ? strtok_r(c, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
				printf("    %s\n", l);
			free(c);
			continue;
		}
		printf("%-15s %s\n", in.meta[i].key, in.meta[i].value);
	}
	uint64_t counts[8] = { 0 }, memw_bytes = 0, memr_bytes = 0;
	unsigned vcpus = 0;
	for (size_t i = 0; i < s.n; i++) {
		counts[s.ev[i].type & 7]++;
		if (s.ev[i].type == SCRIPT_MEMW)
			memw_bytes += s.ev[i].len;
		if (s.ev[i].type == SCRIPT_MEMR)
			memr_bytes += s.ev[i].len;
		if (s.ev[i].type == SCRIPT_EXIT && s.ev[i].vcpu + 1 > vcpus)
			vcpus = s.ev[i].vcpu + 1;
	}
	printf("events          %" PRIu64 ": %" PRIu64 " exits on %u vCPU%s, %" PRIu64
	       " host inputs between exits\n", in.exits, counts[SCRIPT_EXIT], vcpus,
	       vcpus == 1 ? "" : "s", counts[SCRIPT_HOST]);
	printf("records         %zu: %" PRIu64 " irqs, %" PRIu64 " host outputs, %" PRIu64
	       " host inputs, %" PRIu64 " memory reads (%" PRIu64 " bytes), %" PRIu64
	       " memory writes (%" PRIu64 " bytes)\n",
	       s.n, counts[SCRIPT_IRQ], counts[SCRIPT_OUT], counts[SCRIPT_IN], counts[SCRIPT_MEMR],
	       memr_bytes, counts[SCRIPT_MEMW], memw_bytes);
	printf("file size       %" PRIu64 " bytes (%.1f KiB)\n", in.file_bytes,
	       (double)in.file_bytes / 1024);
	printf("payload         %" PRIu64 " bytes decompressed\n", in.raw_bytes);
	if (in.exits)
		printf("bytes per exit  %.1f (whole file / exits)\n",
		       (double)in.file_bytes / (double)in.exits);
	uint8_t d[32];
	char hex[65];
	script_digest(&s, d);
	trace_hex_digest(d, hex);
	printf("stream digest   %s\n", hex);
	script_free(&s);
	trace_info_free(&in);
	return 0;
}

/* ---- events ---- */

static int kind_matches(const struct script_event *e, const char *k)
{
	return !k || strcmp(rec_kind(e), k) == 0;
}

static int cmd_events(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kind", required_argument, 0, 'k' }, { "device", required_argument, 0, 'd' },
		{ "from", required_argument, 0, 'f' }, { "limit", required_argument, 0, 'l' },
		{ 0, 0, 0, 0 },
	};
	const char *kind = NULL, *device = NULL;
	unsigned long from = 1, limit = 50;
	optind = 1;
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': kind = optarg; break;
		case 'd': device = optarg; break;
		case 'f':
		case 'l':
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-')
				return cli_usage_error("trace", "not a number: '%s'", optarg);
			if (c == 'f')
				from = v;
			else
				limit = v;
			break;
		default:
			return cli_usage_error("trace", "%s", "events: unknown option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("trace", "%s", "events takes one FILE");
	static const char *const kinds[] = { "mem-read", "mem-write", "io-in", "io-out", "bell",
		                             "halt", "shutdown", "failure", "irq", "out", "in",
		                             "memr", "memw", "host" };
	if (kind) {
		bool ok = false;
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			ok |= strcmp(kinds[i], kind) == 0;
		if (!ok)
			return cli_usage_error("trace", "unknown --kind '%s' (see trace --help)", kind);
	}
	struct script s;
	struct trace_info in;
	if (load(argv[optind], &s, &in) < 0)
		return 1;
	unsigned seq = 0, shown = 0;
	bool header = false, more = false;
	unsigned next_from = 0;
	for (size_t i = 0; i < s.n; i++) {
		const struct script_event *e = &s.ev[i];
		if (e->type == SCRIPT_EXIT || e->type == SCRIPT_HOST)
			seq = e->line;
		if (seq < from)
			continue;
		char dev[128];
		rec_device(e, dev, sizeof(dev));
		if (!kind_matches(e, kind) || (device && !strstr(dev, device)))
			continue;
		if (limit && shown == limit) {
			more = true;
			next_from = seq;
			break;
		}
		if (!header) {
			printf("  event  record                                                        device\n");
			header = true;
		}
		if (e->type != SCRIPT_EXIT && e->type != SCRIPT_HOST && (kind || device))
			printf("%7u", seq); /* filtered: say which exit it belongs to */
		print_record(e, seq);
		shown++;
	}
	if (more)
		printf("-- more: trace events %s --from %u%s%s%s%s --limit %lu\n", argv[optind], next_from,
		       kind ? " --kind " : "", kind ? kind : "", device ? " --device " : "",
		       device ? device : "", limit);
	else if (!shown)
		printf("(no records match)\n");
	script_free(&s);
	trace_info_free(&in);
	return 0;
}

/* ---- replay ---- */

static int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel-less", no_argument, 0, 'K' }, { "verbose", no_argument, 0, 'v' },
		{ 0, 0, 0, 0 },
	};
	optind = 1;
	int c, verbose = 0;
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'K': break; /* the only mode: replay never needs the kernel */
		case 'v': verbose++; break;
		default: return cli_usage_error("trace", "%s", "replay: unknown option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("trace", "%s", "replay takes one FILE");
	const char *path = argv[optind];
	log_set_level(verbose ? LOG_INFO : LOG_ERROR);
	struct script s;
	struct trace_info in;
	if (load(path, &s, &in) < 0)
		return 1;
	struct replay_opts o = { .serial_fd = verbose ? STDOUT_FILENO : -1 };
	struct replay_result r;
	char err[512];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = trace_replay_script(&s, trace_info_get(&in, "config"), &o, &r, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc < 0) {
		fprintf(stderr, "trace: %s: %s\n", path, err);
		script_free(&s);
		trace_info_free(&in);
		return 1;
	}
	double total = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	char hex[65];
	trace_hex_digest(r.digest, hex);
	int status = 0;
	if (r.matched && !r.result) {
		printf("replay matched: %" PRIu64 " events (%zu records) of %s\n", in.exits, s.n, path);
	} else {
		printf("replay FAILED: %s%s%s\n", guest_error_name(r.result), r.error[0] ? ": " : "",
		       r.error);
		printf("%s\n", r.divergence);
		status = 1;
	}
	const char *live = trace_info_get(&in, "live_ms");
	printf("replay time     %.2f ms (Create %.2f ms, Run %.2f ms)", total, r.create_ms, r.run_ms);
	if (live)
		printf("; the live recording took %s ms (%.1fx)", live,
		       atof(live) / (total > 0 ? total : 1));
	printf("\n");
	if (r.run_ms > 0)
		printf("replay speed    %.0f events/s (%.0f records/s)\n",
		       (double)in.exits / (r.run_ms / 1e3), (double)s.n / (r.run_ms / 1e3));
	printf("replay digest   %s\n", hex);
	script_free(&s);
	trace_info_free(&in);
	return status;
}

/* ---- diff ---- */

static int cmd_diff(int argc, char **argv)
{
	if (argc != 3)
		return cli_usage_error("trace", "%s", "diff takes two FILEs");
	struct script a, b;
	struct trace_info ia, ib;
	if (load(argv[1], &a, &ia) < 0)
		return 1;
	if (load(argv[2], &b, &ib) < 0) {
		script_free(&a);
		trace_info_free(&ia);
		return 1;
	}
	const char *ca = trace_info_get(&ia, "config"), *cb = trace_info_get(&ib, "config");
	if (!ca || !cb || strcmp(ca, cb) != 0)
		printf("configs differ:\n--- %s\n%s\n+++ %s\n%s\n", argv[1], ca ? ca : "(none)", argv[2],
		       cb ? cb : "(none)");
	size_t n = a.n < b.n ? a.n : b.n, i;
	unsigned seq = 0;
	char la[200], lb[200];
	for (i = 0; i < n; i++) {
		if (a.ev[i].type == SCRIPT_EXIT || a.ev[i].type == SCRIPT_HOST)
			seq = a.ev[i].line;
		struct script one_a = { &a.ev[i], 1, false }, one_b = { &b.ev[i], 1, false };
		uint8_t da[32], db[32];
		script_digest(&one_a, da);
		script_digest(&one_b, db);
		if (memcmp(da, db, 32) != 0)
			break;
	}
	int status = 0;
	if (i == n && a.n == b.n) {
		printf("same event stream: %zu records\n", a.n);
	} else {
		status = 1;
		printf("first difference at record %zu (event %u):\n", i + 1, seq);
		size_t from = i > 3 ? i - 3 : 0;
		for (size_t k = from; k < i; k++) {
			script_format_event(&a.ev[k], la, sizeof(la));
			printf("    %s\n", la);
		}
		if (i < a.n)
			script_format_event(&a.ev[i], la, sizeof(la));
		else
			snprintf(la, sizeof(la), "(end of trace)");
		if (i < b.n)
			script_format_event(&b.ev[i], lb, sizeof(lb));
		else
			snprintf(lb, sizeof(lb), "(end of trace)");
		printf("  - %s: %s\n  + %s: %s\n", argv[1], la, argv[2], lb);
	}
	script_free(&a);
	script_free(&b);
	trace_info_free(&ia);
	trace_info_free(&ib);
	return status;
}

/* ---- timeline ---- */

#define MAX_ROWS 32
#define COLS 400

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
	}
}

static int cmd_timeline(int argc, char **argv)
{
	const char *out = NULL;
	optind = 1;
	int c;
	while ((c = getopt(argc, argv, "o:")) != -1) {
		if (c == 'o')
			out = optarg;
		else
			return cli_usage_error("trace", "%s", "timeline: unknown option");
	}
	if (optind + 1 != argc || !out)
		return cli_usage_error("trace", "%s", "timeline takes FILE -o OUT.svg");
	struct script s;
	struct trace_info in;
	if (load(argv[optind], &s, &in) < 0)
		return 1;
	char rows[MAX_ROWS][96];
	unsigned nrows = 0;
	static unsigned cnt[MAX_ROWS][COLS];
	memset(cnt, 0, sizeof(cnt));
	uint64_t nexits = in.exits ? in.exits : 1;
	unsigned seq = 0, maxc = 1;
	for (size_t i = 0; i < s.n; i++) {
		const struct script_event *e = &s.ev[i];
		if (e->type == SCRIPT_EXIT || e->type == SCRIPT_HOST)
			seq = e->line;
		char name[96];
		row_name(e, name, sizeof(name));
		unsigned r;
		for (r = 0; r < nrows && strcmp(rows[r], name) != 0; r++)
			;
		if (r == nrows) {
			if (nrows == MAX_ROWS)
				r = MAX_ROWS - 1; /* the last row collects the rest */
			else
				snprintf(rows[nrows++], sizeof(rows[0]), "%s", name);
		}
		unsigned col = (unsigned)((uint64_t)(seq ? seq - 1 : 0) * COLS / nexits);
		if (col >= COLS)
			col = COLS - 1;
		if (++cnt[r][col] > maxc)
			maxc = cnt[r][col];
	}
	FILE *f = fopen(out, "w");
	if (!f) {
		fprintf(stderr, "trace: cannot write %s: %s\n", out, strerror(errno));
		script_free(&s);
		trace_info_free(&in);
		return 1;
	}
	const int left = 230, rowh = 22, top = 40, width = left + COLS * 2 + 20;
	int height = top + (int)nrows * rowh + 40;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	           "font-family=\"monospace\" font-size=\"11\">\n", width, height);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"8\" y=\"18\" "
	           "font-size=\"13\">");
	xml_text(f, argv[optind]);
	fprintf(f, ": %" PRIu64 " events, %zu records; x = event seq (%.1f per column), "
	           "darker = more</text>\n", in.exits, s.n, (double)nexits / COLS);
	for (unsigned r = 0; r < nrows; r++) {
		int y = top + (int)r * rowh;
		fprintf(f, "<text x=\"8\" y=\"%d\">", y + 14);
		xml_text(f, rows[r]);
		fprintf(f, "</text>\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n", left,
		        y + rowh - 2, left + COLS * 2, y + rowh - 2);
		for (unsigned col = 0; col < COLS; col++) {
			if (!cnt[r][col])
				continue;
			double a = 0.25 + 0.75 * (double)cnt[r][col] / maxc;
			fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"2\" height=\"%d\" fill=\"#1f4e9c\" "
			           "fill-opacity=\"%.2f\"><title>%u records</title></rect>\n",
			        left + (int)col * 2, y + 3, rowh - 6, a, cnt[r][col]);
		}
	}
	int ay = top + (int)nrows * rowh + 16;
	fprintf(f, "<text x=\"%d\" y=\"%d\">1</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">%" PRIu64
	           "</text>\n</svg>\n", left, ay, left + COLS * 2, ay, in.exits);
	int rc = fclose(f) == 0 ? 0 : 1;
	if (rc)
		fprintf(stderr, "trace: writing %s failed\n", out);
	else
		printf("wrote %s: %u rows, %" PRIu64 " events\n", out, nrows, in.exits);
	script_free(&s);
	trace_info_free(&in);
	return rc;
}

int main(int argc, char **argv)
{
	log_set_prefix("trace");
	if (argc < 2)
		return cli_usage_error("trace", "%s", "missing command");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		}
	if (!strcmp(cmd, "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(cmd, "events"))
		return cmd_events(argc - 1, argv + 1);
	if (!strcmp(cmd, "replay"))
		return cmd_replay(argc - 1, argv + 1);
	if (!strcmp(cmd, "diff"))
		return cmd_diff(argc - 1, argv + 1);
	if (!strcmp(cmd, "timeline"))
		return cmd_timeline(argc - 1, argv + 1);
	return cli_usage_error("trace", "unknown command '%s'", cmd);
}
