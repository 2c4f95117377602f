/* tests/test_trace.c - the SQLite trace format: writer and reader round trip,
 * the recorder's ordering, and bad files (missing, empty, not SQLite,
 * truncated, wrong schema or version, corrupt blobs, events out of order or
 * with gaps, unknown kinds, absurd sizes): each refused with a clear message
 * and never a crash. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "traces/trace.h"

/* Every record type, a compressed (long) memory write and a long output. */
static const char text[] =
	"vmm-script 1\n"
	"exit 0 io-in 3fd 1 0 = 60\n"
	"exit 0 io-out 3f8 1 68\n"
	"out serial 68\n"
	"exit 1 mem-write d0000050 4 0\n"
	"memr 14c102 0100\n"
	"memr 14c100 0000\n"
	"in rng 00112233445566778899aabbccddeeff\n"
	"memw 154000 00112233445566778899aabbccddeeff\n"
	"memw 154100 "
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000\n"
	"irq 16 1\n"
	"exit 1 mem-read d0000060 4 0 = 1\n"
	"host serial 61\n"
	"irq 4 1\n"
	"exit 0 io-out 64 1 fe\n";

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_trace.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void parse(struct script *s)
{
	char err[256];
	if (script_parse_string("t", text, strlen(text), s, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

/* A good trace written from `text`. */
static void good_trace(const char *path)
{
	struct script s;
	char err[256];
	parse(&s);
	static const char *const meta[] = { "config", "cpus=2\nmemory=33554432\n", "backend", "test",
		                            NULL };
	if (trace_write_script(path, &s, meta, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	script_free(&s);
}

static void test_round_trip(void **state)
{
	char p[128], err[256];
	path_of(p, sizeof(p), "good.db");
	good_trace(p);
	struct script a, b;
	struct trace_info info;
	parse(&a);
	assert_int_equal(trace_load(p, &b, &info, err, sizeof(err)), 0);
	assert_true(b.from_trace);
	assert_int_equal(a.n, b.n);
	uint8_t da[32], db[32];
	script_digest(&a, da);
	script_digest(&b, db);
	assert_memory_equal(da, db, 32);
	/* Exits carry their seq; the long write was stored compressed. */
	assert_int_equal(b.ev[0].line, 1);
	assert_int_equal(b.ev[b.n - 1].line, 6);
	assert_int_equal(info.exits, 6); /* five exits and a host input between them */
	assert_int_equal(b.ev[b.n - 3].type, SCRIPT_HOST);
	assert_int_equal(b.ev[b.n - 3].line, 5);
	assert_int_equal(info.format_version, TRACE_FORMAT_VERSION);
	assert_string_equal(trace_info_get(&info, "backend"), "test");
	assert_null(trace_info_get(&info, "nope"));
	assert_int_equal(info.mem_reads, 2);
	assert_int_equal(info.mem_read_rows, 1);
	sqlite3 *db3;
	assert_int_equal(sqlite3_open(p, &db3), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db3, "SELECT value, length(data) FROM outputs WHERE kind=3 "
	                                          "AND addr=1392896", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 96); /* raw length: compressed */
	assert_true(sqlite3_column_int(st, 1) < 96);
	sqlite3_finalize(st);
	sqlite3_close(db3);
	script_free(&a);
	script_free(&b);
	trace_info_free(&info);
}

/* The vmm announces outputs before the exit that caused them; the trace
 * lists the exit first. */
static void test_recorder_orders_exit_first(void **state)
{
	char p[128], err[256];
	path_of(p, sizeof(p), "rec.db");
	struct trace_writer *w = trace_writer_open(p, err, sizeof(err));
	assert_non_null(w);
	struct ev_sink k = trace_recorder_sink(w);
	struct hv_exit x = { .kind = HV_EXIT_IO_OUT, .addr = 0x3f8, .size = 1, .data = 'h' };
	k.mem_read(k.ctx, 0x1000, "ab", 2);
	k.host_output(k.ctx, "serial", "h", 1);
	k.host_output(k.ctx, "serial", "i", 1); /* merged with the previous */
	k.irq(k.ctx, 4, 1);
	k.exit_handled(k.ctx, 0, &x, 0);
	struct hv_exit kick = { .kind = HV_EXIT_KICK };
	k.exit_handled(k.ctx, 0, &kick, 0); /* not the guest's: not recorded */
	assert_int_equal(trace_writer_close(w, err, sizeof(err)), 0);
	struct script s;
	assert_int_equal(trace_load(p, &s, NULL, err, sizeof(err)), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.ev[0].type, SCRIPT_EXIT);
	assert_int_equal(s.ev[1].type, SCRIPT_MEMR);
	assert_int_equal(s.ev[2].type, SCRIPT_OUT);
	assert_int_equal(s.ev[2].len, 2);
	assert_memory_equal(s.ev[2].data, "hi", 2);
	assert_int_equal(s.ev[3].type, SCRIPT_IRQ);
	script_free(&s);
}

/* ---- bad files ---- */

static void expect_refused(const char *path, const char *want)
{
	struct script s = { (void *)1, 7, true };
	char err[512];
	int rc = trace_load(path, &s, NULL, err, sizeof(err));
	if (rc >= 0)
		fail_msg("%s was accepted; expected an error with '%s'", path, want);
	assert_null(s.ev);
	assert_int_equal(s.n, 0);
	if (!strstr(err, want))
		fail_msg("error for %s lacks '%s': %s", path, want, err);
	assert_non_null(strstr(err, path)); /* says which file */
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* A copy of the good trace with `sql` applied. */
static void mutated(const char *name, const char *sql, char *out, size_t len)
{
	path_of(out, len, name);
	good_trace(out);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(out, &db), SQLITE_OK);
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

/* A file name, the change that breaks the good trace, and what the refusal
 * must say. */
struct mutation {
	const char *name, *sql, *want;
};

/* Each mutation of the good trace is refused with its message. */
static void expect_mutations_refused(const struct mutation *m, size_t n)
{
	char p[128];
	for (size_t i = 0; i < n; i++) {
		mutated(m[i].name, m[i].sql, p, sizeof(p));
		expect_refused(p, m[i].want);
	}
}

#define EXPECT_MUTATIONS_REFUSED(table) \
	expect_mutations_refused(table, sizeof(table) / sizeof(table[0]))

static void test_missing_empty_not_sqlite(void **state)
{
	char p[128];
	path_of(p, sizeof(p), "missing.db");
	expect_refused(p, "No such file");
	path_of(p, sizeof(p), "empty.db");
	write_file(p, "", 0);
	expect_refused(p, "empty file");
	path_of(p, sizeof(p), "text.db");
	write_file(p, text, sizeof(text));
	expect_refused(p, "not an SQLite database");
	expect_refused(dir, "not a regular file");
}

static void test_truncated(void **state)
{
	char good[128], p[128];
	path_of(good, sizeof(good), "full.db");
	good_trace(good);
	struct stat st;
	assert_int_equal(stat(good, &st), 0);
	FILE *f = fopen(good, "rb");
	char *buf = malloc((size_t)st.st_size);
	assert_int_equal(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	/* Cut at every page boundary and in the header: never accepted. */
	for (off_t cut = 50; cut < st.st_size; cut += cut < 1024 ? 974 : 1024) {
		path_of(p, sizeof(p), "cut.db");
		write_file(p, buf, (size_t)cut);
		struct script s;
		char err[512];
		int rc = trace_load(p, &s, NULL, err, sizeof(err));
		if (rc >= 0)
			fail_msg("a trace cut to %lld of %lld bytes was accepted", (long long)cut,
			         (long long)st.st_size);
		assert_true(strlen(err) > strlen(p));
	}
	free(buf);
}

static void test_wrong_schema(void **state)
{
	char p[128];
	path_of(p, sizeof(p), "other.db");
	sqlite3 *db;
	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE foo(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	expect_refused(p, "wrong schema: no table 'meta'");

	mutated("schema.db", "DROP VIEW exits; ALTER TABLE events ADD COLUMN extra INTEGER", p, sizeof(p));
	expect_refused(p, "wrong schema: table events");
}

static void test_wrong_version(void **state)
{
	static const struct mutation refused[] = {
		{ "v3.db", "UPDATE meta SET value='3' WHERE key='format_version'",
		  "unsupported trace format version 3" },
		/* Version 1 had no block write results and no refused host input. */
		{ "v1.db", "UPDATE meta SET value='1' WHERE key='format_version'",
		  "unsupported trace format version 1" },
		{ "vx.db", "UPDATE meta SET value='one' WHERE key='format_version'",
		  "format_version is not a number" },
		{ "v0.db", "DELETE FROM meta WHERE key='format_version'",
		  "no format_version" },
	};
	EXPECT_MUTATIONS_REFUSED(refused);
}

static void test_corrupt_blobs(void **state)
{
	static const struct mutation refused[] = {
		{ "zr.db", "UPDATE mem_reads SET data=x'789c00112233'",
		  "memory reads of event 3" },
		{ "zw.db", "UPDATE outputs SET data=x'789cffffffff' WHERE value=96",
		  "output of event 3" },
		{ "zl.db", "UPDATE mem_reads SET raw=raw+1",
		  "recorded length" },
		{ "zn.db", "UPDATE mem_reads SET n=3",
		  "truncated" },
	};
	EXPECT_MUTATIONS_REFUSED(refused);
}

static void test_out_of_order_and_gaps(void **state)
{
	static const struct mutation refused[] = {
		{ "gap.db", "DELETE FROM events WHERE seq=2",
		  "gap: event 3 follows event 1" },
		{ "first.db", "UPDATE events SET seq=10 WHERE seq=1",
		  "gap: event 2 follows event 0" },
		{ "ooo.db", "UPDATE outputs SET seq=1 WHERE id=(SELECT max(id) FROM outputs)",
		  "outputs out of order" },
		{ "orphan.db", "UPDATE outputs SET seq=99 WHERE id=(SELECT max(id) FROM outputs)",
		  "which does not exist" },
		{ "orphan2.db", "UPDATE mem_reads SET seq=99",
		  "memory reads for event 99, which does not exist" },
	};
	EXPECT_MUTATIONS_REFUSED(refused);
}

static void test_unknown_kinds_and_absurd_sizes(void **state)
{
	static const struct mutation refused[] = {
		{ "kind.db", "UPDATE events SET kind=42 WHERE seq=1",
		  "event 1: unknown exit kind 42" },
		{ "kick.db", "UPDATE events SET kind=8 WHERE seq=1",
		  "unknown exit kind 8" },
		{ "okind.db", "UPDATE outputs SET kind=9",
		  "unknown output kind 9" },
		{ "vcpu.db", "UPDATE events SET vcpu=1000 WHERE seq=2",
		  "vcpu 1000 out of range" },
		{ "size.db", "UPDATE events SET size=3 WHERE seq=2",
		  "access size 3" },
		{ "wide.db", "UPDATE events SET data=4096 WHERE seq=2",
		  "wider than 1 bytes" },
		{ "raw.db", "UPDATE mem_reads SET raw=1099511627776",
		  "absurd size" },
		{ "big.db", "UPDATE outputs SET value=1099511627776 WHERE value=96",
		  "absurd size" },
		{ "irq.db", "UPDATE outputs SET addr=5000 WHERE kind=1",
		  "irq 5000" },
		{ "dev.db", "UPDATE outputs SET device='Bad Name' WHERE kind=2",
		  "bad device name" },
		{ "text.db", "UPDATE events SET addr='x' WHERE seq=1",
		  "not an integer" },
		{ "nodata.db", "UPDATE outputs SET data=NULL WHERE kind=2",
		  "no data" },
		{ "host1.db", "DELETE FROM outputs WHERE kind=5",
		  "event 5: a host event without its bytes" },
		{ "host2.db", "UPDATE outputs SET seq=4 WHERE kind=5",
		  "host-event bytes with no host event" },
		{ "host3.db", "UPDATE events SET vcpu=3 WHERE kind=16",
		  "host event with vcpu" },
	};
	EXPECT_MUTATIONS_REFUSED(refused);
}

static void test_writer_errors(void **state)
{
	char err[256];
	assert_null(trace_writer_open("/nonexistent-dir/x.db", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent-dir/x.db"));
	assert_int_equal(trace_writer_close(NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(trace_writer_set_meta(NULL, "a", "b"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_recorder_orders_exit_first),
		cmocka_unit_test(test_missing_empty_not_sqlite),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_wrong_schema),
		cmocka_unit_test(test_wrong_version),
		cmocka_unit_test(test_corrupt_blobs),
		cmocka_unit_test(test_out_of_order_and_gaps),
		cmocka_unit_test(test_unknown_kinds_and_absurd_sizes),
		cmocka_unit_test(test_writer_errors),
	};
	return cmocka_run_group_tests_name("trace", tests, setup, teardown);
}
