/* The `guest` tool and guest managers end to end: a real vmm_launcher, real
 * guest_manager daemons started by the tool, real vmm processes. */
#include "test_guest_tool_env.h"

static char out[16384];

static void setup_test_package(void)
{
	char elf[4096], body[4300];
	build_path(elf, sizeof(elf), "test-guest/hello.elf");
	snprintf(body, sizeof(body), "kernel = %s\ncmdline = launched-by-guest-tool\n"
	                             "memory = 32M\n", elf);
	env_package("hello", body);
}

static void test_help_and_usage_errors(void **s)
{
	env_start();
	assert_int_equal(env_guest(out, sizeof(out), 5000, "--help", NULL), 0);
	assert_non_null(strstr(out, "socat-listen"));
	assert_int_equal(env_guest(out, sizeof(out), 5000, "launch", "--help", NULL), 0);
	assert_non_null(strstr(out, "--virtio-vsock"));
	assert_non_null(strstr(out, "--cmdline-add"));
	static const char *const each[] = { "list", "info", "stop", "serial", "console", "socat",
		                            "socat-listen", "balloon", "balloon-stats", "audit" };
	for (size_t i = 0; i < sizeof(each) / sizeof(each[0]); i++) {
		assert_int_equal(env_guest(out, sizeof(out), 5000, each[i], "--help", NULL), 0);
		char want[64];
		snprintf(want, sizeof(want), "usage: guest %s", each[i]);
		if (!strstr(out, want))
			fail_msg("'guest %s --help' printed:\n%s", each[i], out);
	}
	assert_int_equal(env_guest(out, sizeof(out), 5000, "frobnicate", NULL), 2);
	assert_non_null(strstr(out, "unknown verb 'frobnicate'"));
	assert_int_equal(env_guest(out, sizeof(out), 5000, "launch", "--cpus", "0", "x", NULL), 2);
	assert_non_null(strstr(out, "--cpus"));
	assert_int_equal(env_guest(out, sizeof(out), 5000, "stop", NULL), 2);
	assert_int_equal(env_guest(out, sizeof(out), 5000, "socat", "x", "notaport", NULL), 2);
	assert_int_equal(env_guest(out, sizeof(out), 5000, "info", "nosuch", NULL), 1);
	assert_non_null(strstr(out, "no guest named 'nosuch'"));
	assert_int_equal(env_guest(out, sizeof(out), 5000, "launch", "nosuchpkg", NULL), 1);
	assert_non_null(strstr(out, "no package 'nosuchpkg'"));
	assert_int_equal(env_guest(out, sizeof(out), 5000, "launch", "--name", "../x", "nosuchpkg",
	                           NULL), 1);
	assert_int_equal(env_guest(out, sizeof(out), 5000, "list", NULL), 0);
	assert_non_null(strstr(out, "no guests"));
	assert_int_equal(env_guest(out, sizeof(out), 5000, "audit", NULL), 2);
	assert_non_null(strstr(out, "--collection"));
}

static void test_bad_package_is_bad_config(void **s)
{
	env_start();
	env_package("broken", "kernel = /nonexistent/kernel\n");
	assert_int_equal(env_guest(out, sizeof(out), 10000, "launch", "broken", NULL), 1);
	assert_non_null(strstr(out, "BAD_CONFIG"));
	assert_non_null(strstr(out, "/nonexistent/kernel"));
	env_package("typo", "kernel = x\ncpu = 2\n");
	assert_int_equal(env_guest(out, sizeof(out), 10000, "launch", "typo", NULL), 1);
	assert_non_null(strstr(out, "unknown key 'cpu'"));
	assert_int_equal(env_count_collection(), 0);
}

/* The "done when": two guests through vmm_launcher with the tool,
 * serial read, audit passed, stopped, collection empty. */
static void test_two_guests_end_to_end(void **s)
{
	if (!env_have_kvm())
		SKIP_BECAUSE("/dev/kvm cannot be opened here: guests cannot run");
	env_start();
	setup_test_package();
	assert_int_equal(env_guest(out, sizeof(out), 30000, "launch", "--name", "one", "hello",
	                           NULL), 0);
	assert_non_null(strstr(out, "one: launched"));
	assert_int_equal(env_guest(out, sizeof(out), 30000, "launch", "--name", "two", "--cpus",
	                           "2", "--cmdline-add", "extra=1", "hello", NULL), 0);
	assert_true(env_wait_collection(2, 5000));

	/* Serial: output the guest wrote (it shuts down in milliseconds) is
	 * still there to read. */
	assert_int_equal(env_guest(out, sizeof(out), 30000, "serial", "--read-only", "--timeout",
	                           "20", "--until", "shutdown", "one", NULL), 0);
	assert_non_null(strstr(out, "all 1 vcpus up"));
	assert_non_null(strstr(out, "cmdline: launched-by-guest-tool"));
	int rc = env_guest(out, sizeof(out), 30000, "serial", "--read-only", "--timeout", "20",
	                   "--until", "shutdown", "two", NULL);
	if (rc != 0)
		fail_msg("guest serial two: exit %d:\n%s", rc, out);
	assert_non_null(strstr(out, "all 2 vcpus up"));
	assert_non_null(strstr(out, "cmdline: launched-by-guest-tool extra=1"));

	assert_int_equal(env_guest(out, sizeof(out), 10000, "list", NULL), 0);
	assert_non_null(strstr(out, "one"));
	assert_non_null(strstr(out, "two"));
	/* It shut down by itself; "shutdown" on serial comes just before Run's
	 * answer reaches the manager. */
	bool stopped = false;
	for (long long t0 = env_now_ms(); !stopped && env_now_ms() - t0 < 5000; usleep(20000)) {
		assert_int_equal(env_guest(out, sizeof(out), 10000, "info", "two", NULL), 0);
		stopped = strstr(out, "status: STOPPED") != NULL;
	}
	if (!stopped)
		fail_msg("guest two never reported STOPPED:\n%s", out);
	assert_non_null(strstr(out, "cpus: 2"));

	/* Both vmm instances are live (kept for their serial) and isolated. */
	assert_int_equal(env_count_collection(), 2);
	int r = env_guest(out, sizeof(out), 20000, "audit", "--collection", E.coll, NULL);
	if (!env_audit_ok(r, out))
		fail_msg("audit failed (%d):\n%s", r, out);
	assert_non_null(strstr(out, "audit: 2 vmm instance(s)"));

	assert_int_equal(env_guest(out, sizeof(out), 10000, "stop", "one", NULL), 0);
	assert_int_equal(env_guest(out, sizeof(out), 10000, "stop", "two", NULL), 0);
	if (!env_wait_collection(0, 10000))
		fail_msg("the collection still lists %d vmm(s) after both stops",
		         env_count_collection());
	assert_int_equal(env_guest(out, sizeof(out), 10000, "info", "one", NULL), 0);
	assert_non_null(strstr(out, "status: STOPPED"));
}

/* The start of every running-guest test: the environment up, the hlt
 * guest launched and its vmm in the collection (skipped without KVM). */
static void launch_running_hlt(void)
{
	if (!env_have_kvm())
		SKIP_BECAUSE("/dev/kvm cannot be opened here: guests cannot run");
	env_start();
	env_hlt_kernel();
	assert_int_equal(env_guest(out, sizeof(out), 30000, "launch", "hlt", NULL), 0);
	assert_true(env_wait_collection(1, 5000));
}

static void test_running_guest_status_and_stop(void **s)
{
	launch_running_hlt();
	assert_int_equal(env_guest(out, sizeof(out), 10000, "info", "hlt", NULL), 0);
	assert_non_null(strstr(out, "status: RUNNING"));
	/* A second launch of a running guest. */
	assert_int_equal(env_guest(out, sizeof(out), 10000, "launch", "hlt", NULL), 1);
	assert_non_null(strstr(out, "ALREADY_RUNNING"));
	/* Its stateful image: in this user's data dir, private, sparse. */
	char img[256];
	snprintf(img, sizeof(img), "%s/vmm/hlt/stateful.img", E.data);
	struct stat st;
	assert_int_equal(stat(img, &st), 0);
	assert_int_equal(st.st_size, 1 << 20);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Devices this vmm does not have yet: precise errors. */
	assert_int_equal(env_guest(out, sizeof(out), 10000, "socat", "hlt", "5000", NULL), 1);
	assert_non_null(strstr(out, "DEVICE_NOT_PRESENT"));
	assert_non_null(strstr(out, "virtio-vsock"));
	assert_int_equal(env_guest(out, sizeof(out), 10000, "balloon-stats", "hlt", NULL), 1);
	assert_non_null(strstr(out, "DEVICE_NOT_PRESENT"));
	assert_int_equal(env_guest(out, sizeof(out), 10000, "console", "hlt", NULL), 1);
	assert_non_null(strstr(out, "virtio-console"));
	/* Stop without -f refuses a running guest; -f stops it. */
	assert_int_equal(env_guest(out, sizeof(out), 10000, "stop", "hlt", NULL), 1);
	assert_non_null(strstr(out, "guest stop -f hlt"));
	assert_int_equal(env_count_collection(), 1);
	assert_int_equal(env_guest(out, sizeof(out), 10000, "stop", "-f", "hlt", NULL), 0);
	assert_true(env_wait_collection(0, 10000));
	assert_int_equal(env_guest(out, sizeof(out), 10000, "info", "hlt", NULL), 0);
	assert_non_null(strstr(out, "status: STOPPED"));
	assert_non_null(strstr(out, "CONTROLLER_FORCED_HALT"));
}

static void test_vmm_death_is_unexpected_termination(void **s)
{
	launch_running_hlt();
	pid_t vmm = env_collection_pid(0);
	assert_true(vmm > 0);
	kill(vmm, SIGKILL);
	assert_true(env_wait_collection(0, 5000));
	bool seen = false;
	for (long long t0 = env_now_ms(); !seen && env_now_ms() - t0 < 5000; usleep(20000)) {
		assert_int_equal(env_guest(out, sizeof(out), 10000, "info", "hlt", NULL), 0);
		seen = strstr(out, "status: VMM_UNEXPECTED_TERMINATION") != NULL;
	}
	if (!seen)
		fail_msg("info after the vmm was killed:\n%s", out);
	assert_non_null(strstr(out, "without a Stop"));
	/* It can be launched again. */
	assert_int_equal(env_guest(out, sizeof(out), 30000, "launch", "hlt", NULL), 0);
	assert_true(env_wait_collection(1, 5000));
}

static void test_killed_manager_leaves_no_guest(void **s)
{
	launch_running_hlt();
	pid_t mgr = env_manager_pid("hlt");
	assert_true(mgr > 0);
	kill(mgr, SIGKILL);
	assert_true(env_wait_gone(mgr, 5000));
	/* Its GuestLifecycle channel closed with it: the vmm must go. */
	if (!env_wait_collection(0, 10000))
		fail_msg("the vmm outlived its killed manager by 10 s");
	/* The stale socket is no obstacle to a new manager. */
	assert_int_equal(env_guest(out, sizeof(out), 30000, "launch", "hlt", NULL), 0);
	assert_true(env_wait_collection(1, 5000));
}

static void test_zircon_surfaces_kernel_load_failure(void **s)
{
	if (!env_have_kvm())
		SKIP_BECAUSE("/dev/kvm cannot be opened here: the vmm cannot Create");
	env_start();
	/* The packaged zircon guest, found in the source tree. */
	unsetenv("VMM_GUEST_PACKAGES");
	assert_int_equal(env_guest(out, sizeof(out), 30000, "launch", "zircon", NULL), 1);
	assert_non_null(strstr(out, "START_FAILURE"));
	assert_non_null(strstr(out, "KERNEL_LOAD_FAILURE"));
	assert_non_null(strstr(out, "ZBI"));
	assert_true(env_wait_collection(0, 5000));
	assert_int_equal(env_guest(out, sizeof(out), 10000, "info", "zircon", NULL), 0);
	assert_non_null(strstr(out, "stop error: KERNEL_LOAD_FAILURE"));
}

static void test_debian_create_succeeds(void **s)
{
	if (!env_have_kvm())
		SKIP_BECAUSE("/dev/kvm cannot be opened here: the vmm cannot Create");
	char kernel[4096];
	build_path(kernel, sizeof(kernel), "cache/vmlinuz");
	if (access(kernel, R_OK) != 0)
		SKIP_BECAUSE("no Debian kernel at %s (scripts/fetch-kernel.sh found none)", kernel);
	env_start();
	unsetenv("VMM_GUEST_PACKAGES");
	/* Create loads the bzImage; whether Linux then boots depends on the
	 * machine (not under nested PVM): only Launch is checked. */
	int r = env_guest(out, sizeof(out), 60000, "launch", "--memory", "256M", "debian", NULL);
	if (r != 0)
		fail_msg("launch debian (%d):\n%s", r, out);
	char img[256];
	snprintf(img, sizeof(img), "%s/vmm/debian/stateful.img", E.data);
	struct stat st;
	assert_int_equal(stat(img, &st), 0);
	assert_true(st.st_size == 2LL << 30);
	assert_true(st.st_blocks * 512LL < (64LL << 20)); /* sparse */
	assert_int_equal(env_guest(out, sizeof(out), 20000, "stop", "-f", "debian", NULL), 0);
	assert_true(env_wait_collection(0, 10000));
}

#define T(f) cmocka_unit_test_teardown(f, env_stop)
int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		T(test_help_and_usage_errors),
		T(test_bad_package_is_bad_config),
		T(test_two_guests_end_to_end),
		T(test_running_guest_status_and_stop),
		T(test_vmm_death_is_unexpected_termination),
		T(test_killed_manager_leaves_no_guest),
		T(test_zircon_surfaces_kernel_load_failure),
		T(test_debian_create_succeeds),
	};
	return cmocka_run_group_tests_name("guest tool", tests, NULL, NULL);
}
