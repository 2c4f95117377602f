/* Differential test: vmm/lifecycle.c (on the fake hypervisor) against
 * model/lifecycle_model.c on seeded random call sequences. A disagreement
 * prints the seed and a shrunk sequence that still disagrees.
 *
 * MODEL_SEED=<n> in the environment replays one seed. */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/fake_hv.h"
#include "lib/mini_kernel.h"
#include "model/lifecycle_model.h"
#include "vmm/lifecycle.h"

enum op {
	OP_CREATE_GOOD, OP_CREATE_DEVICES, OP_CREATE_BAD, OP_CREATE_INIT_FAIL, OP_CREATE_VCPU_FAIL, OP_BIND,
	OP_RUN_BLOCKS, OP_RUN_SHUTDOWN, OP_RUN_VCPU_FAIL, OP_STOP, OP_GET_SERIAL, OP_GET_CONSOLE,
	OP_GET_VSOCK, OP_GET_BALLOON, OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
	"Create(good)", "Create(console+vsock+balloon)", "Create(bad config)", "Create(guest init fails)", "Create(vCPU start fails)",
	"Bind", "Run(guest keeps running)", "Run(guest shuts down)", "Run(vCPU fails)", "Stop",
	"GetSerial", "GetConsole", "GetHostVsockEndpoint", "GetBalloonController",
};

#define MAX_OPS 24

static struct fake_hv_ctl ctl;
static int kernel_fd = -1; /* one mini kernel, dup'd into every config */

static uint64_t rng_state;
static uint32_t rnd(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

struct runner {
	struct guest_lifecycle *lc;
	pthread_t t;
	volatile int done;
	enum guest_error result;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;
	r->result = lc_run(r->lc);
	__atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static unsigned entered(void) { return __atomic_load_n(&ctl.vcpus_entered, __ATOMIC_SEQ_CST); }

/* Wait (bounded) until the runner finished, or a new vCPU entered the guest. */
static void settle(struct runner *r, unsigned entered_before, int ms)
{
	for (int i = 0; i < ms * 10; i++) {
		if (__atomic_load_n(&r->done, __ATOMIC_SEQ_CST) || entered() > entered_before)
			return;
		usleep(100);
	}
}

static enum guest_error real_create(struct guest_lifecycle *lc, enum op op)
{
	struct guest_config c;
	char err[256];
	gc_init(&c);
	c.kernel_fd = dup(kernel_fd);
	c.has_cpus = true;
	c.cpus = op == OP_CREATE_VCPU_FAIL ? 2 : 1;
	c.has_guest_memory = true;
	c.guest_memory = 4ull << 20;
	if (op == OP_CREATE_BAD)
		c.cpus = 0;
	if (op == OP_CREATE_DEVICES) {
		c.has_virtio_console = c.virtio_console = true;
		c.has_virtio_vsock = c.virtio_vsock = true;
		c.has_virtio_balloon = c.virtio_balloon = true;
	}
	ctl.fail_guest_create = op == OP_CREATE_INIT_FAIL ? -ENODEV : 0;
	ctl.fail_vcpu_create_at = op == OP_CREATE_VCPU_FAIL ? 1 : -1;
	enum guest_error e = lc_create(lc, &c, err, sizeof(err));
	ctl.fail_guest_create = 0;
	ctl.fail_vcpu_create_at = -1;
	return e;
}

static struct ml_create_input model_create(enum op op)
{
	struct ml_create_input in = { .config_valid = op != OP_CREATE_BAD, .build = ML_OK };
	if (op == OP_CREATE_INIT_FAIL)
		in.build = ML_GUEST_INITIALIZATION_FAILURE;
	if (op == OP_CREATE_VCPU_FAIL)
		in.build = ML_VCPU_START_FAILURE;
	in.console = in.vsock = in.balloon = op == OP_CREATE_DEVICES;
	return in;
}

/* Run ops on a fresh lifecycle and a fresh model. Returns the index of the
 * first disagreement, or -1. With `explain`, prints each step. */
static int run_sequence(const enum op *ops, int n, bool explain)
{
	struct lc_options o = { .hv = &hv_fake_ops, .hv_fd = -1, .backend_arg = &ctl, .serial_fd = -1 };
	struct guest_lifecycle *lc = lc_new(&o);
	assert_non_null(lc);
	struct ml_guest m;
	ml_init(&m);
	struct runner *bg = NULL; /* the Run that blocks, if any */
	bool bg_active = false;
	int bad = -1;
	for (int i = 0; i < n && bad < 0; i++) {
		enum ml_error want = ML_OK, want_bg = ML_OK;
		int got = GUEST_OK, got_bg = GUEST_OK;
		bool check_bg = false;
		switch (ops[i]) {
		case OP_CREATE_GOOD: case OP_CREATE_DEVICES: case OP_CREATE_BAD: case OP_CREATE_INIT_FAIL: case OP_CREATE_VCPU_FAIL: {
			struct ml_create_input in = model_create(ops[i]);
			want = ml_create(&m, &in);
			got = real_create(lc, ops[i]);
			break;
		}
		case OP_BIND:
			want = ml_bind(&m);
			got = lc_bind(lc);
			break;
		case OP_RUN_BLOCKS: case OP_RUN_SHUTDOWN: case OP_RUN_VCPU_FAIL: {
			bool refused = ml_run_refused(&m, &want);
			bool keeps_running = !refused && ops[i] == OP_RUN_BLOCKS;
			if (!refused && !keeps_running)
				want = ml_guest_stopped(&m, ops[i] == OP_RUN_SHUTDOWN ? ML_GUEST_SHUTDOWN
				                                                      : ML_VCPU_FAILED);
			/* The guest's script is only set while no vCPU of ours runs. */
			if (!bg_active && ops[i] != OP_RUN_BLOCKS) {
				ctl.exits[0] = ops[i] == OP_RUN_SHUTDOWN
					? (struct hv_exit){ .kind = HV_EXIT_IO_OUT, .addr = 0x64, .size = 1, .data = 0xfe }
					: (struct hv_exit){ .kind = HV_EXIT_FAILURE, .reason = 3 };
				ctl.nexits = 1;
			}
			/* The thread writes into *r: it lives on the heap until joined. */
			struct runner *r = calloc(1, sizeof(*r));
			assert_non_null(r);
			r->lc = lc;
			unsigned before = entered();
			assert_int_equal(pthread_create(&r->t, NULL, run_thread, r), 0);
			settle(r, before, keeps_running ? 2000 : 0);
			if (keeps_running) {
				/* Expect it blocked inside the guest. */
				if (__atomic_load_n(&r->done, __ATOMIC_SEQ_CST)) {
					pthread_join(r->t, NULL);
					got = r->result;
					want = ML_OK; /* pending: any return now is a disagreement */
					got = got == GUEST_OK ? -2 : got;
					free(r);
				} else {
					bg = r;
					bg_active = true;
				}
			} else {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += 3;
				if (pthread_timedjoin_np(r->t, NULL, &ts) != 0) {
					got = -3; /* it blocked: stop it so the test can go on */
					lc_stop(lc);
					pthread_join(r->t, NULL);
				} else {
					got = r->result;
				}
				free(r);
			}
			ctl.nexits = 0;
			break;
		}
		case OP_STOP:
			check_bg = ml_stop(&m, &want_bg);
			lc_stop(lc);
			if (bg_active) {
				pthread_join(bg->t, NULL);
				got_bg = bg->result;
				free(bg);
				bg = NULL;
				bg_active = false;
				if (!check_bg) {
					check_bg = true;
					want_bg = ML_OK;
					got_bg = -4; /* a Run the model did not think was running */
				}
			} else if (check_bg) {
				got_bg = -5; /* no Run was blocked */
			}
			break;
		case OP_GET_SERIAL: case OP_GET_CONSOLE: case OP_GET_VSOCK: case OP_GET_BALLOON: {
			int fd = -1;
			static const enum ml_device dev[] = { ML_DEV_SERIAL, ML_DEV_CONSOLE, ML_DEV_VSOCK,
			                                      ML_DEV_BALLOON };
			want = ml_get_device(&m, dev[ops[i] - OP_GET_SERIAL]);
			switch (ops[i]) {
			case OP_GET_SERIAL: got = guest_get_serial(lc, &fd); break;
			case OP_GET_CONSOLE: got = guest_get_console(lc, &fd); break;
			case OP_GET_VSOCK: got = guest_get_host_vsock_endpoint(lc, &fd); break;
			default: got = guest_get_balloon_controller(lc, &fd); break;
			}
			if (fd >= 0)
				close(fd);
			break;
		}
		default:
			break;
		}
		bool agree = got == (int)want && (!check_bg || got_bg == (int)want_bg);
		if (explain)
			print_message("  %2d. %-28s real %-24s model %-24s%s%s%s\n", i, op_names[ops[i]],
			              got < 0 ? "(blocked/ran: wrong)" : guest_error_name(got),
			              ml_error_name(want), check_bg ? " | blocked Run: real " : "",
			              check_bg ? (got_bg < 0 ? "(none)" : guest_error_name(got_bg)) : "",
			              check_bg ? (got_bg == (int)want_bg ? " = model" : " != model") : "");
		if (!agree)
			bad = i;
	}
	lc_stop(lc);
	if (bg_active) {
		pthread_join(bg->t, NULL);
		free(bg);
	}
	lc_free(lc);
	return bad;
}

/* Greedy shrinking: drop any op whose removal keeps the disagreement. */
static int shrink(enum op *ops, int n)
{
	for (bool progress = true; progress;) {
		progress = false;
		for (int i = 0; i < n; i++) {
			enum op saved[MAX_OPS];
			memcpy(saved, ops, sizeof(saved[0]) * n);
			memmove(ops + i, ops + i + 1, sizeof(ops[0]) * (n - i - 1));
			if (run_sequence(ops, n - 1, false) >= 0) {
				n--;
				progress = true;
				break;
			}
			memcpy(ops, saved, sizeof(saved[0]) * n);
		}
	}
	return n;
}

static void random_ops(enum op *ops, int n)
{
	for (int i = 0; i < n; i++) {
		uint32_t r = rnd() % 100;
		/* Mostly the calls that move the state machine; failures are rarer. */
		if (r < 15) ops[i] = OP_CREATE_GOOD;
		else if (r < 22) ops[i] = OP_CREATE_DEVICES;
		else if (r < 27) ops[i] = OP_CREATE_BAD;
		else if (r < 30) ops[i] = OP_CREATE_INIT_FAIL;
		else if (r < 33) ops[i] = OP_CREATE_VCPU_FAIL;
		else if (r < 43) ops[i] = OP_BIND;
		else if (r < 58) ops[i] = OP_RUN_BLOCKS;
		else if (r < 64) ops[i] = OP_RUN_SHUTDOWN;
		else if (r < 68) ops[i] = OP_RUN_VCPU_FAIL;
		else if (r < 82) ops[i] = OP_STOP;
		else ops[i] = (enum op)(OP_GET_SERIAL + (r % 4));
	}
}

static void test_lifecycle_sequences(void **state)
{
	const char *env = getenv("MODEL_SEED");
	uint64_t seed0 = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	int nseq = env ? 1 : 1500;
	unsigned calls = 0;
	for (int k = 0; k < nseq; k++) {
		uint64_t seed = seed0 + (uint64_t)k;
		rng_state = seed;
		enum op ops[MAX_OPS];
		int n = 4 + (int)(rnd() % (MAX_OPS - 4));
		random_ops(ops, n);
		calls += (unsigned)n;
		if (run_sequence(ops, n, false) < 0)
			continue;
		print_message("lifecycle: real code and model disagree; seed %llu (MODEL_SEED=%llu "
		              "replays it)\n", (unsigned long long)seed, (unsigned long long)seed);
		n = shrink(ops, n);
		print_message("minimal sequence (%d calls):\n", n);
		run_sequence(ops, n, true);
		fail();
	}
	print_message("lifecycle: %d sequences, %u calls, real == model (seeds %llu..%llu)\n", nseq,
	              calls, (unsigned long long)seed0, (unsigned long long)(seed0 + nseq - 1));
}

static int setup(void **s)
{
	fake_hv_reset(&ctl);
	kernel_fd = mini_pvh_kernel();
	return kernel_fd >= 0 ? 0 : -1;
}

static int teardown(void **s)
{
	close(kernel_fd);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifecycle_sequences),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
