/* tests/test_sim_lifecycle.c - end to end on the sim backend: a real VM
 * (memory, bus, UART, i8042, loader, vCPU threads) driven by a script. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/mini_kernel.h"
#include "sim-hypervisor/sim.h"
#include "vmm/lifecycle.h"

/* The guest polls LSR until THR is empty, writes a byte, and at the end asks
 * the i8042 to reset the machine. */
static const char HI[] =
	"vmm-script 1\n"
	"exit 0 io-in 3fd 1 0 = 60\n"
	"exit 0 io-out 3f8 1 68\n"
	"out serial 68\n"
	"exit 0 io-in 3fd 1 0 = 60\n"
	"exit 0 io-out 3f8 1 69\n"
	"out serial 69\n"
	"exit 0 io-in 3fd 1 0 = 60\n"
	"exit 0 io-out 3f8 1 a\n"
	"out serial 0a\n"
	"exit 0 io-out 64 1 fe\n";

struct run {
	struct script s;
	struct sim_config cfg;
	struct ev_sink sink;
	struct guest_lifecycle *lc;
	int serial[2];
	enum guest_error created, result;
	char out[64];
	ssize_t nout;
};

static void run_script(struct run *r, const char *text, unsigned cpus)
{
	char err[256];
	memset(r, 0, sizeof(*r));
	if (script_parse_string("t", text, strlen(text), &r->s, err, sizeof(err)))
		fail_msg("%s", err);
	sim_config_init(&r->cfg, &r->s);
	r->cfg.stall_ms = 5000;
	r->sink = sim_checker_sink(&r->cfg);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, r->serial), 0);
	struct lc_options o = { .hv = &hv_sim_ops, .hv_fd = -1, .backend_arg = &r->cfg,
	                        .sink = &r->sink, .serial_fd = r->serial[0] };
	r->lc = lc_new(&o);
	assert_non_null(r->lc);

	struct guest_config c;
	gc_init(&c);
	c.kernel_fd = mini_pvh_kernel();
	assert_true(c.kernel_fd >= 0);
	c.has_cpus = true;
	c.cpus = (uint8_t)cpus;
	c.has_guest_memory = true;
	c.guest_memory = 64ull << 20;
	r->created = lc_create(r->lc, &c, err, sizeof(err));
	if (r->created != GUEST_OK) {
		print_message("create: %s: %s\n", guest_error_name(r->created), err);
		return;
	}
	r->result = lc_run(r->lc);
	fcntl(r->serial[1], F_SETFL, O_NONBLOCK);
	r->nout = read(r->serial[1], r->out, sizeof(r->out) - 1);
	if (r->nout < 0)
		r->nout = 0;
	r->out[r->nout] = 0;
}

static void done(struct run *r)
{
	lc_free(r->lc);
	close(r->serial[0]);
	close(r->serial[1]);
	script_free(&r->s);
}

static void test_hi_then_reset(void **state)
{
	struct run r;
	run_script(&r, HI, 1);
	assert_int_equal(r.created, GUEST_OK);
	if (r.cfg.divergence[0])
		print_message("%s", r.cfg.divergence);
	assert_int_equal(r.result, GUEST_OK);
	assert_string_equal(r.out, "hi\n");
	assert_string_equal(r.cfg.divergence, "");
	assert_true(r.cfg.finished);
	done(&r);
}

static void test_mismatch_is_runtime_failure(void **state)
{
	/* The script claims LSR read 0x20 (THRE without TEMT); the UART says 0x60. */
	static const char BAD[] =
		"vmm-script 1\n"
		"exit 0 io-in 3fd 1 0 = 60\n"
		"exit 0 io-out 3f8 1 68\n"
		"out serial 68\n"
		"exit 0 io-in 3fd 1 0 = 20\n"
		"exit 0 io-out 64 1 fe\n";
	struct run r;
	run_script(&r, BAD, 1);
	assert_int_equal(r.created, GUEST_OK);
	assert_int_equal(r.result, GUEST_ERR_VCPU_RUNTIME_FAILURE);
	assert_non_null(strstr(r.cfg.divergence, "diverged at event 4 (script line 5)"));
	assert_non_null(strstr(r.cfg.divergence, "answered 0x60, the script says 0x20"));
	assert_false(r.cfg.finished);
	done(&r);
}

static void test_wrong_output_is_runtime_failure(void **state)
{
	static const char BAD[] =
		"vmm-script 1\n"
		"exit 0 io-out 3f8 1 68\n"
		"out serial 78\n"
		"exit 0 io-out 64 1 fe\n";
	struct run r;
	run_script(&r, BAD, 1);
	assert_int_equal(r.result, GUEST_ERR_VCPU_RUNTIME_FAILURE);
	assert_non_null(strstr(r.cfg.divergence, "the vmm sent 0x68, the script says 0x78"));
	done(&r);
}

static void test_script_ends_early(void **state)
{
	struct run r;
	run_script(&r, "vmm-script 1\nexit 0 io-out 3f8 1 68\nout serial 68\n", 1);
	assert_int_equal(r.result, GUEST_ERR_VCPU_RUNTIME_FAILURE);
	assert_string_equal(r.out, "h");
	assert_true(r.cfg.finished);
	done(&r);
}

static void test_two_vcpus(void **state)
{
	static const char TWO[] =
		"vmm-script 1\n"
		"exit 1 io-out 3f8 1 62\n"
		"out serial 62\n"
		"exit 0 io-out 3f8 1 61\n"
		"out serial 61\n"
		"exit 1 halt 0 0 0\n"
		"exit 0 io-out 64 1 fe\n";
	struct run r;
	run_script(&r, TWO, 2);
	assert_int_equal(r.result, GUEST_OK);
	assert_string_equal(r.out, "ba");
	assert_true(r.cfg.finished);
	done(&r);
}

static void test_vcpu_create_failure(void **state)
{
	struct run r;
	char err[256];
	memset(&r, 0, sizeof(r));
	sim_config_init(&r.cfg, &r.s);
	r.cfg.fail_vcpu_create_at = 1;
	struct lc_options o = { .hv = &hv_sim_ops, .hv_fd = -1, .backend_arg = &r.cfg,
	                        .sink = NULL, .serial_fd = -1 };
	r.lc = lc_new(&o);
	struct guest_config c;
	gc_init(&c);
	c.kernel_fd = mini_pvh_kernel();
	c.has_cpus = true;
	c.cpus = 2;
	c.has_guest_memory = true;
	c.guest_memory = 64ull << 20;
	assert_int_equal(lc_create(r.lc, &c, err, sizeof(err)), GUEST_ERR_VCPU_START_FAILURE);
	lc_free(r.lc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hi_then_reset),
		cmocka_unit_test(test_mismatch_is_runtime_failure),
		cmocka_unit_test(test_wrong_output_is_runtime_failure),
		cmocka_unit_test(test_script_ends_early),
		cmocka_unit_test(test_two_vcpus),
		cmocka_unit_test(test_vcpu_create_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
