/* tests/test_sim.c - the simulated hypervisor at the hv.h level: script
 * order across vCPU threads, checks of reads, irqs and output, kicks, the
 * end of the script, and the divergence report. */
#include "tests/testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim-hypervisor/sim.h"

static const struct hv_ops *H = &hv_sim_ops;

struct fixture {
	struct script s;
	struct sim_config c;
	struct hv_guest *g;
	struct hv_vcpu *v[4];
};

static void load(struct fixture *f, const char *text, unsigned nvcpus)
{
	char err[256];
	memset(f, 0, sizeof(*f));
	int r = script_parse_string("t", text, strlen(text), &f->s, err, sizeof(err));
	if (r)
		fail_msg("%s", err);
	sim_config_init(&f->c, &f->s);
	f->c.stall_ms = 5000;
	assert_int_equal(H->guest_create(-1, &f->c, &f->g), 0);
	for (unsigned i = 0; i < nvcpus; i++)
		assert_int_equal(H->vcpu_create(f->g, i, &f->v[i]), 0);
}

static void unload(struct fixture *f)
{
	for (unsigned i = 0; i < 4; i++)
		if (f->v[i])
			H->vcpu_destroy(f->v[i]);
	H->guest_destroy(f->g);
	assert_null(f->c.guest);
	script_free(&f->s);
}

static struct hv_exit enter(struct hv_vcpu *v)
{
	struct hv_exit x;
	assert_int_equal(H->vcpu_enter(v, &x), 0);
	return x;
}

/* ---- two vCPU threads, interleaved ---- */

struct order {
	pthread_mutex_t lock;
	uint64_t seen[16];
	unsigned n;
};

struct worker {
	struct hv_vcpu *v;
	struct order *o;
	enum hv_exit_kind last;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	for (;;) {
		struct hv_exit x;
		if (H->vcpu_enter(w->v, &x) < 0)
			break;
		w->last = x.kind;
		if (x.kind != HV_EXIT_IO_OUT)
			break;
		pthread_mutex_lock(&w->o->lock);
		if (w->o->n < 16)
			w->o->seen[w->o->n++] = x.data;
		pthread_mutex_unlock(&w->o->lock);
	}
	return NULL;
}

static void test_two_vcpus_follow_script_order(void **state)
{
	struct fixture f;
	load(&f, "vmm-script 1\n"
	         "exit 0 io-out 80 1 1\n"
	         "exit 1 io-out 80 1 2\n"
	         "exit 1 io-out 80 1 3\n"
	         "exit 0 io-out 80 1 4\n"
	         "exit 1 io-out 80 1 5\n"
	         "exit 0 halt 0 0 0\n"
	         "exit 1 halt 0 0 0\n",
	     2);
	struct order o = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct worker w[2] = { { f.v[0], &o, 0 }, { f.v[1], &o, 0 } };
	pthread_t t[2];
	/* Start vCPU 1 first: it must still wait for vCPU 0's turn. */
	pthread_create(&t[1], NULL, worker, &w[1]);
	usleep(10000);
	pthread_create(&t[0], NULL, worker, &w[0]);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	assert_null(sim_divergence(f.g));
	assert_int_equal(o.n, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(o.seen[i], i + 1);
	assert_int_equal(w[0].last, HV_EXIT_HALT);
	assert_int_equal(w[1].last, HV_EXIT_HALT);
	assert_true(sim_finished(f.g));
	assert_int_equal(sim_events_consumed(f.g), 7);
	unload(&f);
	assert_true(f.c.finished);
	assert_string_equal(f.c.divergence, "");
}

/* ---- checks ---- */

static void test_read_value_checked(void **state)
{
	struct fixture f;
	load(&f, "vmm-script 1\n"
	         "exit 0 io-out 3f8 1 68\n"
	         "exit 0 io-in 3fd 1 0 = 60\n"
	         "exit 0 io-in 3fd 1 0 = 60\n"
	         "exit 0 halt 0 0 0\n",
	     1);
	assert_int_equal(enter(f.v[0]).kind, HV_EXIT_IO_OUT);
	struct hv_exit x = enter(f.v[0]);
	assert_int_equal(x.kind, HV_EXIT_IO_IN);
	assert_int_equal(x.addr, 0x3fd);
	assert_int_equal(H->vcpu_complete_read(f.v[0], 0x60), 0);
	assert_null(sim_divergence(f.g));
	enter(f.v[0]);
	assert_int_equal(H->vcpu_complete_read(f.v[0], 0x20), 0);
	const char *d = sim_divergence(f.g);
	assert_non_null(d);
	assert_non_null(strstr(d, "event 3 (script line 4)"));
	assert_non_null(strstr(d, "answered 0x20, the script says 0x60"));
	assert_non_null(strstr(d, "vcpu 0 io-in at 0x3fd"));
	x = enter(f.v[0]);
	assert_int_equal(x.kind, HV_EXIT_FAILURE);
	assert_int_equal(x.reason, SIM_DIVERGED);
	x = enter(f.v[0]); /* and from then on */
	assert_int_equal(x.reason, SIM_DIVERGED);
	unload(&f);
	/* The report outlives the guest, in the config. */
	assert_non_null(strstr(f.c.divergence, "answered 0x20"));
	assert_int_equal(f.c.consumed, 3);
	assert_false(f.c.finished);
}

static void test_complete_read_without_read(void **state)
{
	struct fixture f;
	load(&f, "vmm-script 1\nexit 0 io-out 3f8 1 68\n", 1);
	assert_int_equal(H->vcpu_complete_read(f.v[0], 1), -EINVAL);
	enter(f.v[0]);
	assert_int_equal(H->vcpu_complete_read(f.v[0], 1), -EINVAL);
	assert_null(sim_divergence(f.g));
	unload(&f);
}

static void test_read_never_answered(void **state)
{
	struct fixture f;
	load(&f, "vmm-script 1\nexit 0 io-in 3fd 1 0 = 60\nexit 0 halt 0 0 0\n", 1);
	enter(f.v[0]);
	struct hv_exit x = enter(f.v[0]);
	assert_int_equal(x.kind, HV_EXIT_FAILURE);
	assert_non_null(strstr(sim_divergence(f.g), "never answered"));
	assert_non_null(strstr(sim_divergence(f.g), "event 1"));
	unload(&f);
}

static void test_missing_irq(void **state)
{
	struct fixture f;
	load(&f, "vmm-script 1\n"
	         "exit 0 io-out 3f9 1 2\n"
	         "irq 4 1\n"
	         "exit 0 halt 0 0 0\n",
	     1);
	enter(f.v[0]);
	/* The vmm "handled" the write without raising the line. */
	struct hv_exit x = enter(f.v[0]);
	assert_int_equal(x.kind, HV_EXIT_FAILURE);
	assert_int_equal(x.reason, SIM_DIVERGED);
	const char *d = sim_divergence(f.g);
	assert_non_null(strstr(d, "event 2 (script line 3)"));
	assert_non_null(strstr(d, "without producing this irq"));
	assert_non_null(strstr(d, "expected: irq 4 1"));
	assert_non_null(strstr(d, "1: exit 0 io-out 3f9 1 2"));
	unload(&f);
}

static void test_extra_irq(void **state)
{
	struct fixture f;
	load(&f, "vmm-script 1\n"
	         "exit 0 io-out 3f9 1 2\n"
	         "irq 4 1\n"
	         "exit 0 io-out 3f9 1 0\n"
	         "exit 0 halt 0 0 0\n",
	     1);
	enter(f.v[0]);
	assert_int_equal(H->set_irq(f.g, 4, 1), 0);
	enter(f.v[0]);
	assert_null(sim_divergence(f.g));
	H->set_irq(f.g, 4, 1); /* not in the script */
	const char *d = sim_divergence(f.g);
	assert_non_null(d);
	assert_non_null(strstr(d, "event 4"));
	assert_non_null(strstr(d, "drove irq 4 to 1"));
	assert_non_null(strstr(d, "expected: exit 0 halt 0 0 0"));
	assert_non_null(strstr(d, "while handling: vcpu 0 io-out at 0x3f9 (event 3)"));
	/* The three events before it. */
	assert_non_null(strstr(d, "1: exit 0 io-out 3f9 1 2"));
	assert_non_null(strstr(d, "2: irq 4 1"));
	assert_non_null(strstr(d, "3: exit 0 io-out 3f9 1 0"));
	unload(&f);
}

static void test_wrong_irq_level_and_after_end(void **state)
{
	struct fixture f;
	load(&f, "vmm-script 1\nexit 0 io-out 3f9 1 2\nirq 4 1\n", 1);
	enter(f.v[0]);
	H->set_irq(f.g, 4, 0);
	assert_non_null(strstr(sim_divergence(f.g), "drove irq 4 to 0"));
	unload(&f);

	load(&f, "vmm-script 1\n", 1);
	H->set_irq(f.g, 5, 1);
	assert_non_null(strstr(sim_divergence(f.g), "expected: (end of script)"));
	unload(&f);
}

static void test_output_checked_as_stream(void **state)
{
	struct fixture f;
	load(&f, "vmm-script 1\n"
	         "exit 0 io-out 3f8 1 68\n"
	         "out serial 6869\n"
	         "out serial 0a\n"
	         "exit 0 halt 0 0 0\n",
	     1);
	struct ev_sink s = sim_checker_sink(&f.c);
	assert_null(s.irq); /* set_irq checks irqs; nothing is checked twice */
	struct hv_exit x = enter(f.v[0]);
	s.host_output(s.ctx, "serial", "h", 1);
	s.host_output(s.ctx, "serial", "i\n", 2); /* chunking differs: fine */
	s.exit_handled(s.ctx, 0, &x, 0);
	assert_null(sim_divergence(f.g));
	assert_int_equal(enter(f.v[0]).kind, HV_EXIT_HALT);
	assert_true(sim_finished(f.g));
	unload(&f);
}

static void test_output_mismatch(void **state)
{
	struct fixture f;
	load(&f, "vmm-script 1\nexit 0 io-out 3f8 1 68\nout serial 6869\n", 1);
	struct ev_sink s = sim_checker_sink(&f.c);
	struct hv_exit x = enter(f.v[0]);
	s.host_output(s.ctx, "serial", "hX", 2);
	const char *d = sim_divergence(f.g);
	assert_non_null(strstr(d, "byte 1 of this output: the vmm sent 0x58, the script says 0x69"));
	assert_non_null(strstr(d, "first 1 bytes matched"));
	s.exit_handled(s.ctx, 0, &x, 0);
	unload(&f);

	load(&f, "vmm-script 1\nexit 0 io-out 3f8 1 68\nout serial 68\n", 1);
	s = sim_checker_sink(&f.c);
	x = enter(f.v[0]);
	s.host_output(s.ctx, "console", "h", 1); /* wrong device */
	assert_non_null(strstr(sim_divergence(f.g), "sent byte 0x68 to console"));
	unload(&f);

	load(&f, "vmm-script 1\nexit 0 io-out 3f8 1 68\nout serial 6869\n", 1);
	s = sim_checker_sink(&f.c);
	x = enter(f.v[0]);
	s.host_output(s.ctx, "serial", "h", 1);
	s.exit_handled(s.ctx, 0, &x, 0); /* one byte short */
	assert_non_null(strstr(sim_divergence(f.g), "without producing this output"));
	unload(&f);
}

static void test_outputs_skipped_without_checker(void **state)
{
	struct fixture f;
	load(&f, "vmm-script 1\nexit 0 io-out 3f8 1 68\nout serial 68\nexit 0 halt 0 0 0\n", 1);
	enter(f.v[0]);
	assert_int_equal(enter(f.v[0]).kind, HV_EXIT_HALT);
	assert_null(sim_divergence(f.g));
	unload(&f);
}

static void test_sink_without_guest_is_harmless(void **state)
{
	struct sim_config c;
	sim_config_init(&c, NULL);
	struct ev_sink s = sim_checker_sink(&c);
	struct hv_exit x = { .kind = HV_EXIT_IO_OUT };
	s.host_output(s.ctx, "serial", "h", 1);
	s.exit_handled(s.ctx, 0, &x, 0);
	assert_null(sim_divergence(NULL));
	assert_int_equal(sim_events_consumed(NULL), 0);
	assert_false(sim_finished(NULL));
}

/* ---- kick, end, stalls ---- */

struct blocked {
	struct hv_vcpu *v;
	struct hv_exit x;
};

static void *blocked_enter(void *arg)
{
	struct blocked *b = arg;
	H->vcpu_enter(b->v, &b->x);
	return NULL;
}

static void test_kick_wakes_blocked_vcpu(void **state)
{
	struct fixture f;
	/* vCPU 0 waits behind vCPU 1's event, which nobody takes. */
	load(&f, "vmm-script 1\nexit 1 io-out 80 1 1\n", 2);
	struct blocked b = { f.v[0], { 0 } };
	pthread_t t;
	pthread_create(&t, NULL, blocked_enter, &b);
	usleep(20000);
	H->vcpu_kick(f.v[0]);
	pthread_join(t, NULL);
	assert_int_equal(b.x.kind, HV_EXIT_KICK);
	assert_null(sim_divergence(f.g));
	/* A kick before enter makes the next enter return at once. */
	H->vcpu_kick(f.v[0]);
	assert_int_equal(enter(f.v[0]).kind, HV_EXIT_KICK);
	H->vcpu_kick(NULL);
	unload(&f);
}

static void test_end_of_script(void **state)
{
	struct fixture f;
	load(&f, "vmm-script 1\nexit 1 io-out 80 1 1\n", 2);
	assert_false(sim_finished(f.g));
	assert_int_equal(enter(f.v[1]).kind, HV_EXIT_IO_OUT);
	assert_true(sim_finished(f.g));
	assert_int_equal(enter(f.v[1]).kind, HV_EXIT_END);
	assert_int_equal(enter(f.v[0]).kind, HV_EXIT_END);
	assert_int_equal(enter(f.v[0]).kind, HV_EXIT_END);
	assert_null(sim_divergence(f.g));
	unload(&f);
}

static void test_stall_becomes_divergence(void **state)
{
	struct fixture f;
	load(&f, "vmm-script 1\nexit 1 io-out 80 1 1\n", 2);
	f.c.stall_ms = 50;
	struct hv_exit x = enter(f.v[0]);
	assert_int_equal(x.kind, HV_EXIT_FAILURE);
	assert_non_null(strstr(sim_divergence(f.g), "stalled: vcpu 0 waited 50 ms"));
	unload(&f);
}

static void test_script_names_missing_or_stopped_vcpu(void **state)
{
	struct fixture f;
	load(&f, "vmm-script 1\nexit 2 io-out 80 1 1\n", 1);
	assert_int_equal(enter(f.v[0]).kind, HV_EXIT_FAILURE);
	assert_non_null(strstr(sim_divergence(f.g), "wants vcpu 2, which the vmm did not create"));
	unload(&f);

	load(&f, "vmm-script 1\nexit 1 halt 0 0 0\nexit 1 io-out 80 1 1\n", 2);
	assert_int_equal(enter(f.v[1]).kind, HV_EXIT_HALT);
	assert_int_equal(enter(f.v[0]).kind, HV_EXIT_FAILURE);
	assert_non_null(strstr(sim_divergence(f.g), "wants vcpu 1, which has stopped"));
	unload(&f);
}

static void test_output_with_no_exit(void **state)
{
	struct fixture f;
	load(&f, "vmm-script 1\nirq 4 1\n", 1);
	assert_int_equal(enter(f.v[0]).kind, HV_EXIT_FAILURE);
	assert_non_null(strstr(sim_divergence(f.g), "no exit is being handled"));
	unload(&f);
}

static void test_malformed_in_memory_script(void **state)
{
	struct script_event e = { .type = SCRIPT_EXIT, .vcpu = 200,
		                  .exit = { .kind = HV_EXIT_IO_OUT } };
	struct script s = { &e, 1, false };
	struct sim_config c;
	sim_config_init(&c, &s);
	struct hv_guest *g;
	struct hv_vcpu *v;
	assert_int_equal(H->guest_create(-1, &c, &g), 0);
	assert_int_equal(H->vcpu_create(g, 0, &v), 0);
	assert_int_equal(enter(v).kind, HV_EXIT_FAILURE);
	assert_non_null(strstr(sim_divergence(g), "malformed"));
	/* An empty out line is skipped rather than read past. */
	H->vcpu_destroy(v);
	H->guest_destroy(g);

	struct script_event ev[2] = {
		{ .type = SCRIPT_EXIT, .exit = { .kind = HV_EXIT_IO_OUT, .addr = 0x3f8, .size = 1 } },
		{ .type = SCRIPT_OUT, .device = "serial" },
	};
	struct script s2 = { ev, 2, false };
	sim_config_init(&c, &s2);
	struct ev_sink sink = sim_checker_sink(&c);
	assert_int_equal(H->guest_create(-1, &c, &g), 0);
	assert_int_equal(H->vcpu_create(g, 0, &v), 0);
	enter(v);
	sink.host_output(sink.ctx, "serial", "h", 1);
	assert_non_null(strstr(sim_divergence(g), "(end of script)"));
	H->vcpu_destroy(v);
	H->guest_destroy(g);
}

static void test_no_script(void **state)
{
	struct sim_config c;
	sim_config_init(&c, NULL);
	struct hv_guest *g;
	struct hv_vcpu *v;
	assert_int_equal(H->guest_create(-1, &c, &g), 0);
	assert_int_equal(H->vcpu_create(g, 0, &v), 0);
	struct hv_exit x = enter(v);
	assert_int_equal(x.kind, HV_EXIT_FAILURE);
	assert_int_equal(x.reason, SIM_NO_SCRIPT);
	H->vcpu_destroy(v);
	H->guest_destroy(g);
}

/* ---- setup calls ---- */

static void test_setup_calls_validate(void **state)
{
	struct fixture f;
	load(&f, "vmm-script 1\n", 0);
	static uint8_t ram[4096];
	assert_int_equal(H->map_memory(f.g, 0, ram, sizeof(ram), -1, 0), 0);
	assert_int_equal(H->map_memory(f.g, 0x800, ram, sizeof(ram), -1, 0), -EEXIST);
	assert_int_equal(H->map_memory(f.g, 0x10000, NULL, 1, -1, 0), -EINVAL);
	assert_int_equal(H->map_memory(f.g, 0x10000, ram, 0, -1, 0), -EINVAL);
	assert_int_equal(H->map_memory(f.g, UINT64_MAX, ram, 2, -1, 0), -EINVAL);
	for (unsigned i = 1; i < 16; i++)
		assert_int_equal(H->map_memory(f.g, i * 0x100000ull, ram, 4096, -1, 0), 0);
	assert_int_equal(H->map_memory(f.g, 0x7000000, ram, 4096, -1, 0), -ENOSPC);

	assert_int_equal(H->set_trap(f.g, 7, 0, 1), -EINVAL);
	assert_int_equal(H->set_trap(f.g, HV_TRAP_IO, 0, 0), -EINVAL);
	assert_int_equal(H->set_trap(f.g, HV_TRAP_IO, 0xffff, 2), -EINVAL);
	assert_int_equal(H->set_trap(f.g, HV_TRAP_MEM, UINT64_MAX, 2), -EINVAL);
	for (unsigned i = 0; i < 256; i++)
		assert_int_equal(H->set_trap(f.g, HV_TRAP_MEM, i * 16ull, 16), 0);
	assert_int_equal(H->set_trap(f.g, HV_TRAP_MEM, 0x100000, 16), -ENOSPC);

	assert_int_equal(H->max_vcpus(), HV_MAX_VCPUS);
	struct hv_vcpu *v;
	assert_int_equal(H->vcpu_create(f.g, HV_MAX_VCPUS, &v), -EINVAL);
	assert_null(v);
	assert_int_equal(H->vcpu_create(f.g, 0, &f.v[0]), 0);
	assert_int_equal(H->vcpu_create(f.g, 0, &v), -EEXIST);

	struct hv_regs r = { .rip = 0x100000, .rsi = 0x7000 }, back;
	assert_int_equal(H->vcpu_read_state(f.v[0], &back), 0);
	assert_int_equal(back.rip, 0);
	assert_int_equal(H->vcpu_write_state(f.v[0], &r), 0);
	assert_int_equal(H->vcpu_read_state(f.v[0], &back), 0);
	assert_int_equal(back.rip, 0x100000);
	assert_int_equal(back.rsi, 0x7000);
	assert_int_equal(H->vcpu_write_state(f.v[0], NULL), -EINVAL);
	assert_int_equal(H->vcpu_read_state(f.v[0], NULL), -EINVAL);
	unload(&f);
}

static void test_config_knobs(void **state)
{
	struct script s = { NULL, 0, false };
	struct sim_config c;
	sim_config_init(&c, &s);
	assert_int_equal(c.fail_vcpu_create_at, -1);
	c.max_vcpus = 2;
	c.fail_vcpu_create_at = 1;
	struct hv_guest *g, *g2;
	struct hv_vcpu *v0, *v1;
	assert_int_equal(H->guest_create(-1, NULL, &g), -EINVAL);
	assert_int_equal(H->guest_create(-1, &c, &g), 0);
	assert_ptr_equal(c.guest, g);
	assert_int_equal(H->guest_create(-1, &c, &g2), -EBUSY);
	assert_int_equal(H->vcpu_create(g, 0, &v0), 0);
	assert_int_equal(H->vcpu_create(g, 1, &v1), -EIO);
	assert_int_equal(H->vcpu_create(g, 2, &v1), -EINVAL);
	H->vcpu_destroy(v0);
	H->vcpu_destroy(NULL);
	H->guest_destroy(g);
	H->guest_destroy(NULL);
	assert_null(c.guest);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_vcpus_follow_script_order),
		cmocka_unit_test(test_read_value_checked),
		cmocka_unit_test(test_complete_read_without_read),
		cmocka_unit_test(test_read_never_answered),
		cmocka_unit_test(test_missing_irq),
		cmocka_unit_test(test_extra_irq),
		cmocka_unit_test(test_wrong_irq_level_and_after_end),
		cmocka_unit_test(test_output_checked_as_stream),
		cmocka_unit_test(test_output_mismatch),
		cmocka_unit_test(test_outputs_skipped_without_checker),
		cmocka_unit_test(test_sink_without_guest_is_harmless),
		cmocka_unit_test(test_kick_wakes_blocked_vcpu),
		cmocka_unit_test(test_end_of_script),
		cmocka_unit_test(test_stall_becomes_divergence),
		cmocka_unit_test(test_script_names_missing_or_stopped_vcpu),
		cmocka_unit_test(test_output_with_no_exit),
		cmocka_unit_test(test_malformed_in_memory_script),
		cmocka_unit_test(test_no_script),
		cmocka_unit_test(test_setup_calls_validate),
		cmocka_unit_test(test_config_knobs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
