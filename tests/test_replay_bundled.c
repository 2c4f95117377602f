/* The test guest's exits, recorded on KVM (tests/guest/hello-2cpu.script),
 * replayed through the same vmm on the sim backend: what `make run` does
 * where there is no KVM. Also: a changed answer is caught at its event. */
#include "testutil.h"
#include "lib/build_path.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim-hypervisor/sim.h"
#include "vmm/lifecycle.h"

#define SCRIPT "tests/guest/hello-2cpu.script"
#define CMDLINE "console=ttyS0 hello=make-run"

static const char *guest_path(void)
{
	static char p[4096];
	build_path(p, sizeof(p), "test-guest/hello.elf");
	return p;
}

struct outcome {
	enum guest_error result;
	char serial[4096];
	struct sim_config cfg;
};

static void replay(struct script *s, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	sim_config_init(&o->cfg, s);
	struct ev_sink sink = sim_checker_sink(&o->cfg);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct lc_options opt = { .hv = &hv_sim_ops, .hv_fd = -1, .backend_arg = &o->cfg,
	                          .sink = &sink, .serial_fd = sv[0] };
	struct guest_lifecycle *lc = lc_new(&opt);
	struct guest_config c;
	gc_init(&c);
	c.kernel_fd = open(guest_path(), O_RDONLY | O_CLOEXEC);
	if (c.kernel_fd < 0)
		fail_msg("cannot open the test guest %s (make builds it)", guest_path());
	c.has_cpus = true;
	c.cpus = 2;
	c.has_guest_memory = true;
	c.guest_memory = 64ull << 20;
	c.cmdline = strdup(CMDLINE);
	char err[256];
	assert_int_equal(lc_create(lc, &c, err, sizeof(err)), GUEST_OK);
	o->result = lc_run(lc);
	lc_free(lc);
	close(sv[0]);
	ssize_t n = recv(sv[1], o->serial, sizeof(o->serial) - 1, MSG_DONTWAIT);
	o->serial[n > 0 ? n : 0] = '\0';
	close(sv[1]);
}

static void test_bundled_script_replays(void **st)
{
	struct script s;
	char err[256];
	if (script_parse_file(SCRIPT, &s, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	struct outcome o;
	replay(&s, &o);
	assert_int_equal(o.result, GUEST_OK);
	assert_string_equal(o.cfg.divergence, "");
	assert_true(o.cfg.finished);
	assert_int_equal(o.cfg.consumed, s.n);
	const char *want[] = { ("cmdline: " CMDLINE), "hello from vcpu 0", "hello from vcpu 1",
	                       "all 2 vcpus up", "shutdown" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(o.serial, want[i]))
			fail_msg("serial output lacks '%s':\n%s", want[i], o.serial);
	script_free(&s);
}

static void test_changed_answer_caught_at_its_event(void **st)
{
	struct script s;
	char err[256];
	if (script_parse_file(SCRIPT, &s, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	/* Pretend the recording saw a different LSR value at the 3rd read. */
	size_t target = 0, reads = 0;
	for (size_t i = 0; i < s.n; i++)
		if (s.ev[i].type == SCRIPT_EXIT && s.ev[i].exit.kind == HV_EXIT_IO_IN && ++reads == 3) {
			target = i;
			break;
		}
	assert_true(target > 0);
	s.ev[target].read_value ^= 0x20;
	struct outcome o;
	replay(&s, &o);
	assert_int_equal(o.result, GUEST_ERR_VCPU_RUNTIME_FAILURE);
	char where[64];
	/* The sim numbers events from 1, as the script lines after the header. */
	snprintf(where, sizeof(where), "diverged at event %zu ", target + 1);
	if (!strstr(o.cfg.divergence, where))
		fail_msg("expected '%s' in:\n%s", where, o.cfg.divergence);
	script_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundled_script_replays),
		cmocka_unit_test(test_changed_answer_caught_at_its_event),
	};
	return cmocka_run_group_tests_name("replay_bundled", tests, NULL, NULL);
}
