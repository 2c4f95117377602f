/* tests/test_script.c - the text exit script: round trip, every class of
 * malformed line rejected at the right line, limits, and the recorder. */
#include "tests/testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "traces/script.h"

static const char GOOD[] =
	"vmm-script 1\n"
	"# a comment\n"
	"\n"
	"exit 0 io-out 3f8 1 68\n"
	"out serial 68\n"
	"exit 1 io-in 3fd 1 0 = 60\n"
	"exit 0 mem-read fee00020 4 0 = 14000000\n"
	"exit 0 mem-write d0000050 4 1\n"
	"  irq 4 1\t\n"
	"exit 0 bell d0000000 8 ffffffffffffffff\n"
	"exit 1 halt 0 0 0\n"
	"exit 0 shutdown 0 0 3\n"
	"exit 0 failure 0 0 2a\r\n"
	"irq 4 0\n"
	"out serial 68690a";

static void test_parse_good(void **state)
{
	struct script s;
	char err[256];
	assert_int_equal(script_parse_string("t", GOOD, strlen(GOOD), &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 12);
	assert_int_equal(s.ev[0].type, SCRIPT_EXIT);
	assert_int_equal(s.ev[0].line, 4);
	assert_int_equal(s.ev[0].exit.kind, HV_EXIT_IO_OUT);
	assert_int_equal(s.ev[0].exit.addr, 0x3f8);
	assert_int_equal(s.ev[0].exit.data, 0x68);
	assert_int_equal(s.ev[1].type, SCRIPT_OUT);
	assert_string_equal(s.ev[1].device, "serial");
	assert_int_equal(s.ev[1].len, 1);
	assert_int_equal(s.ev[2].vcpu, 1);
	assert_int_equal(s.ev[2].read_value, 0x60);
	assert_int_equal(s.ev[3].exit.size, 4);
	assert_int_equal(s.ev[5].type, SCRIPT_IRQ);
	assert_int_equal(s.ev[5].gsi, 4);
	assert_int_equal(s.ev[5].level, 1);
	assert_int_equal(s.ev[6].exit.data, UINT64_MAX);
	assert_int_equal(s.ev[8].exit.reason, 3);
	assert_int_equal(s.ev[9].exit.reason, 0x2a);
	assert_int_equal(s.ev[11].len, 3);
	assert_memory_equal(s.ev[11].data, "hi\n", 3);
	script_free(&s);
	script_free(&s); /* idempotent */
	script_free(NULL);
}

static char *write_to_string(const struct script *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(script_write(f, s), 0);
	fclose(f);
	return buf;
}

static void assert_same(const struct script *a, const struct script *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct script_event *x = &a->ev[i], *y = &b->ev[i];
		assert_int_equal(x->type, y->type);
		assert_int_equal(x->vcpu, y->vcpu);
		assert_memory_equal(&x->exit, &y->exit, sizeof(x->exit));
		assert_int_equal(x->read_value, y->read_value);
		assert_int_equal(x->gsi, y->gsi);
		assert_int_equal(x->level, y->level);
		assert_string_equal(x->device, y->device);
		assert_int_equal(x->len, y->len);
		if (x->len)
			assert_memory_equal(x->data, y->data, x->len);
	}
}

static void test_round_trip(void **state)
{
	struct script a, b;
	char err[256];
	assert_int_equal(script_parse_string("t", GOOD, strlen(GOOD), &a, err, sizeof(err)), 0);
	char *text = write_to_string(&a);
	assert_int_equal(script_parse_string("w", text, strlen(text), &b, err, sizeof(err)), 0);
	assert_same(&a, &b);
	/* Written text is canonical: writing it again gives the same bytes. */
	char *again = write_to_string(&b);
	assert_string_equal(text, again);
	free(text);
	free(again);
	script_free(&a);
	script_free(&b);
}

static void test_file_round_trip(void **state)
{
	char path[] = "/tmp/test_script_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct script a, b;
	char err[256];
	assert_int_equal(script_parse_string("t", GOOD, strlen(GOOD), &a, err, sizeof(err)), 0);
	FILE *f = fopen(path, "w");
	assert_int_equal(script_write(f, &a), 0);
	fclose(f);
	assert_int_equal(script_parse_file(path, &b, err, sizeof(err)), 0);
	assert_same(&a, &b);
	script_free(&a);
	script_free(&b);
	unlink(path);
	assert_int_equal(script_parse_file(path, &b, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
}

/* Parse "vmm-script 1\n<body>" expecting failure at `line` with `what` in
 * the message. */
static void reject(const char *body, unsigned line, const char *what)
{
	char text[512];
	snprintf(text, sizeof(text), "vmm-script 1\n# c\n%s", body);
	struct script s = { (void *)1, 99, false };
	char err[256], want[64];
	int r = script_parse_string("bad.script", text, strlen(text), &s, err, sizeof(err));
	if (r == 0)
		fail_msg("accepted: %s", body);
	assert_null(s.ev);
	assert_int_equal(s.n, 0);
	snprintf(want, sizeof(want), "bad.script:%u: ", line);
	if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, what))
		fail_msg("for '%s' got '%s', want '%s...%s'", body, err, want, what);
}

static void test_malformed_lines(void **state)
{
	const char *ok = "exit 0 io-out 3f8 1 68\n";
	char body[256];
	static const struct {
		const char *line, *what;
	} cases[] = {
		{ "bogus 1 2", "unknown event" },
		{ "exit 0 io-out 3f8 1", "fields" },
		{ "exit 0 io-out 3f8 1 68 = 1", "must not have" },
		{ "exit 0 io-in 3f8 1 0", "needs" },
		{ "exit 0 io-in 3f8 1 0 : 1", "expected '='" },
		{ "exit 64 io-out 3f8 1 68", "bad vcpu" },
		{ "exit -1 io-out 3f8 1 68", "bad vcpu" },
		{ "exit x io-out 3f8 1 68", "bad vcpu" },
		{ "exit 0 kick 0 0 0", "unknown exit kind" },
		{ "exit 0 end 0 0 0", "unknown exit kind" },
		{ "exit 0 io-out 0x3f8 1 68", "bad address" },
		{ "exit 0 io-out 3g8 1 68", "bad address" },
		{ "exit 0 mem-write 12345678123456789 1 68", "bad address" },
		{ "exit 0 io-out 3f8 3 68", "not 1, 2, 4 or 8" },
		{ "exit 0 io-out 3f8 0 68", "not 1, 2, 4 or 8" },
		{ "exit 0 io-out 3f8 9 68", "bad size" },
		{ "exit 0 io-out 3f8 1 zz", "bad data" },
		{ "exit 0 io-out 3f8 1 168", "wider than" },
		{ "exit 0 io-in 3f8 1 0 = 100", "wider than" },
		{ "exit 0 io-in 3f8 1 0 = q", "bad read value" },
		{ "exit 0 io-in 3f8 1 5 = 1", "data field must be 0" },
		{ "exit 0 io-out 10000 1 68", "above ffff" },
		{ "exit 0 mem-write ffffffffffffffff 2 1", "wraps" },
		{ "exit 0 halt 1 0 0", "address 0 and size 0" },
		{ "exit 0 halt 0 0 1", "bad halt reason" },
		{ "exit 0 failure 0 0 100000000", "bad failure reason" },
		{ "irq 4", "irq needs" },
		{ "irq 1024 1", "bad gsi" },
		{ "irq 4 2", "bad level" },
		{ "out serial", "out needs" },
		{ "out Serial 68", "bad device name" },
		{ "out abcdefghijabcdefghijabcdefghijxy 68", "longer than" },
		{ "out serial 6", "odd number" },
		{ "out serial 6z", "bad hex digit" },
		{ "exit 0 io-out 3f8 1 68 = 1 2 3", "too many fields" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Put the bad line after two good ones: line 5 of the file. */
		snprintf(body, sizeof(body), "%s%s%s\n%s", ok, ok, cases[i].line, ok);
		reject(body, 5, cases[i].what);
	}
}

static void test_bad_header(void **state)
{
	struct script s;
	char err[256];
	const char *texts[] = { "", "vmm-script 2\n", "# comment first\nvmm-script 1\n",
		                "exit 0 halt 0 0 0\n", "vmm-script 1 \n" };
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		int r = script_parse_string("h", texts[i], strlen(texts[i]), &s, err, sizeof(err));
		assert_int_equal(r, -EINVAL);
		assert_non_null(strstr(err, "h:1: "));
	}
	/* NULL text is an empty script. */
	assert_int_equal(script_parse_string("h", NULL, 5, &s, err, sizeof(err)), -EINVAL);
	/* Header alone: a valid, empty script. */
	assert_int_equal(script_parse_string("h", "vmm-script 1", 12, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 0);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "vmm-script 1\nirq 4 1\nirq 4\0 1\n";
	struct script s;
	char err[256];
	assert_int_equal(script_parse_string("n", text, sizeof(text) - 1, &s, err, sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "n:3: NUL"));
}

static void test_line_too_long(void **state)
{
	size_t n = SCRIPT_MAX_LINE + 100;
	char *text = malloc(n + 32);
	strcpy(text, "vmm-script 1\nirq 4 1\nout serial ");
	size_t l = strlen(text);
	memset(text + l, 'a', n - l);
	struct script s;
	char err[256];
	assert_int_equal(script_parse_string("L", text, n, &s, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "L:3: line longer"));
	free(text);
}

static void test_event_limit(void **state)
{
	size_t n = 101;
	size_t len = 13 + n * 8;
	char *text = malloc(len + 1);
	memcpy(text, "vmm-script 1\n", 13);
	for (size_t i = 0; i < n; i++)
		memcpy(text + 13 + i * 8, "irq 4 1\n", 8);
	struct script s;
	char err[256], want[64];
	assert_int_equal(script_parse_string_max("E", text, len, 100, &s, err, sizeof(err)),
	                 -E2BIG);
	snprintf(want, sizeof(want), "E:%zu: more than 100 events", n + 1);
	assert_non_null(strstr(err, want));
	assert_int_equal(script_parse_string_max("E", text, len - 8, 100, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 100);
	script_free(&s);
	free(text);
}

static void test_tiny_err_buffer(void **state)
{
	struct script s;
	char err[4];
	const char *t = "vmm-script 1\nnope\n";
	assert_int_equal(script_parse_string(NULL, t, strlen(t), &s, err, sizeof(err)), -EINVAL);
	assert_int_equal(strlen(err), 3);
	assert_int_equal(script_parse_string(NULL, t, strlen(t), &s, NULL, 0), -EINVAL);
}

static void test_format_rejects_bad_events(void **state)
{
	char buf[64];
	struct script_event e = { .type = SCRIPT_EXIT, .exit = { .kind = HV_EXIT_KICK } };
	assert_int_equal(script_format_event(&e, buf, sizeof(buf)), -EINVAL);
	e.type = SCRIPT_OUT; /* no bytes */
	assert_int_equal(script_format_event(&e, buf, sizeof(buf)), -EINVAL);
	e.type = 0;
	assert_int_equal(script_format_event(&e, buf, sizeof(buf)), -EINVAL);
	/* Truncation behaves as snprintf: the needed length comes back. */
	struct script_event r = { .type = SCRIPT_EXIT,
		                  .exit = { .kind = HV_EXIT_IO_IN, .addr = 0x3fd, .size = 1 },
		                  .read_value = 0x60 };
	int n = script_format_event(&r, buf, 8);
	assert_int_equal(n, (int)strlen("exit 0 io-in 3fd 1 0 = 60"));
	assert_string_equal(buf, "exit 0 ");
}

static void test_long_output_split(void **state)
{
	uint8_t *data = malloc(SCRIPT_OUT_MAX_BYTES * 2 + 5);
	for (size_t i = 0; i < SCRIPT_OUT_MAX_BYTES * 2 + 5; i++)
		data[i] = (uint8_t)i;
	struct script_event e = { .type = SCRIPT_OUT, .device = "serial", .data = data,
		                  .len = SCRIPT_OUT_MAX_BYTES * 2 + 5 };
	struct script a = { &e, 1, false }, b;
	char *text = write_to_string(&a);
	char err[256];
	assert_int_equal(script_parse_string("s", text, strlen(text), &b, err, sizeof(err)), 0);
	assert_int_equal(b.n, 3);
	size_t off = 0;
	for (size_t i = 0; i < b.n; i++) {
		assert_memory_equal(b.ev[i].data, data + off, b.ev[i].len);
		off += b.ev[i].len;
	}
	assert_int_equal(off, e.len);
	script_free(&b);
	free(text);
	free(data);
}

static void test_recorder_orders_outputs_after_exit(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct script_writer *w = script_writer_stream(f);
	assert_non_null(w);
	struct ev_sink s = script_recorder_sink(w);
	/* What the vmm does for "out 3f8 'h'" with THRE interrupts enabled. */
	s.host_output(s.ctx, "serial", "h", 1);
	s.irq(s.ctx, 4, 1);
	struct hv_exit x = { .kind = HV_EXIT_IO_OUT, .addr = 0x3f8, .size = 1, .data = 'h' };
	s.exit_handled(s.ctx, 0, &x, 0);
	s.host_output(s.ctx, "serial", "i", 1);
	s.host_output(s.ctx, "serial", "\n", 1);
	s.host_output(s.ctx, "serial", NULL, 1); /* ignored */
	struct hv_exit k = { .kind = HV_EXIT_KICK };
	s.exit_handled(s.ctx, 1, &k, 0); /* not written; flushes held output */
	struct hv_exit rd = { .kind = HV_EXIT_IO_IN, .addr = 0x3fd, .size = 1 };
	s.exit_handled(s.ctx, 1, &rd, 0x60);
	s.irq(s.ctx, 4, 0); /* after the last exit: flushed at close */
	assert_int_equal(script_writer_close(w), 0);
	fclose(f);
	assert_string_equal(buf, "vmm-script 1\n"
	                         "exit 0 io-out 3f8 1 68\n"
	                         "out serial 68\n"
	                         "irq 4 1\n"
	                         "out serial 690a\n"
	                         "exit 1 io-in 3fd 1 0 = 60\n"
	                         "irq 4 0\n");
	struct script sc;
	char err[256];
	assert_int_equal(script_parse_string("r", buf, len, &sc, err, sizeof(err)), 0);
	assert_int_equal(sc.n, 6);
	script_free(&sc);
	free(buf);
}

static void test_recorder_file_and_errors(void **state)
{
	char err[256];
	assert_null(script_writer_open("/nonexistent-dir/x.script", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent-dir/x.script"));
	assert_null(script_writer_stream(NULL));
	assert_int_equal(script_writer_close(NULL), -EINVAL);

	char path[] = "/tmp/test_rec_XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	struct script_writer *w = script_writer_open(path, err, sizeof(err));
	assert_non_null(w);
	struct ev_sink s = script_recorder_sink(w);
	struct hv_exit h = { .kind = HV_EXIT_HALT };
	s.exit_handled(s.ctx, 0, &h, 0);
	assert_int_equal(script_writer_close(w), 0);
	struct script sc;
	assert_int_equal(script_parse_file(path, &sc, err, sizeof(err)), 0);
	assert_int_equal(sc.n, 1);
	assert_int_equal(sc.ev[0].exit.kind, HV_EXIT_HALT);
	script_free(&sc);
	unlink(path);
}

static void test_recorder_held_overflow(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct script_writer *w = script_writer_stream(f);
	struct ev_sink s = script_recorder_sink(w);
	for (int i = 0; i < 5000; i++)
		s.irq(s.ctx, 4, i & 1);
	assert_int_equal(script_writer_close(w), -E2BIG);
	fclose(f);
	free(buf);
}

struct rec_thread {
	struct ev_sink s;
	unsigned vcpu;
};

static void *rec_worker(void *arg)
{
	struct rec_thread *t = arg;
	for (int i = 0; i < 1000; i++) {
		struct hv_exit x = { .kind = HV_EXIT_IO_OUT, .addr = 0x80, .size = 1,
			             .data = (uint64_t)(i & 0xff) };
		t->s.host_output(t->s.ctx, "serial", "x", 1);
		t->s.exit_handled(t->s.ctx, t->vcpu, &x, 0);
	}
	return NULL;
}

static void test_recorder_thread_safe(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct script_writer *w = script_writer_stream(f);
	struct rec_thread t[4];
	pthread_t th[4];
	for (unsigned i = 0; i < 4; i++) {
		t[i].s = script_recorder_sink(w);
		t[i].vcpu = i;
		pthread_create(&th[i], NULL, rec_worker, &t[i]);
	}
	for (unsigned i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(script_writer_close(w), 0);
	fclose(f);
	struct script sc;
	char err[256];
	assert_int_equal(script_parse_string("mt", buf, len, &sc, err, sizeof(err)), 0);
	size_t exits = 0, bytes = 0;
	for (size_t i = 0; i < sc.n; i++) {
		if (sc.ev[i].type == SCRIPT_EXIT)
			exits++;
		else
			bytes += sc.ev[i].len;
	}
	assert_int_equal(exits, 4000);
	assert_int_equal(bytes, 4000);
	script_free(&sc);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_file_round_trip),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_event_limit),
		cmocka_unit_test(test_tiny_err_buffer),
		cmocka_unit_test(test_format_rejects_bad_events),
		cmocka_unit_test(test_long_output_split),
		cmocka_unit_test(test_recorder_orders_outputs_after_exit),
		cmocka_unit_test(test_recorder_file_and_errors),
		cmocka_unit_test(test_recorder_held_overflow),
		cmocka_unit_test(test_recorder_thread_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
