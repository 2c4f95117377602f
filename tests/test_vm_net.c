/* The vmm's net plumbing: a virtio-net device gets a TAP interface, created
 * inside this test's own network namespace so nothing outside is touched. */
#include "testutil.h"
#include "lib/fake_hv.h"
#include "lib/mini_kernel.h"

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/lifecycle.h"

static struct fake_hv_ctl ctl;

/* In a child with a fresh network namespace: exit 0 pass, 77 skip, else fail. */
static int child(void)
{
	if (unshare(CLONE_NEWNET) != 0)
		return 77;
	if (access("/dev/net/tun", R_OK | W_OK) != 0)
		return 77;
	fake_hv_reset(&ctl);
	struct lc_options o = { .hv = &hv_fake_ops, .hv_fd = -1, .backend_arg = &ctl, .serial_fd = -1 };
	struct guest_lifecycle *lc = lc_new(&o);
	struct guest_config c;
	gc_init(&c);
	c.kernel_fd = mini_pvh_kernel();
	c.has_guest_memory = true;
	c.guest_memory = 32 << 20;
	c.has_default_net = c.default_net = true;
	char err[256];
	enum guest_error e = lc_create(lc, &c, err, sizeof(err));
	if (e) {
		fprintf(stderr, "create: %s: %s\n", guest_error_name(e), err);
		return 1;
	}
	if (if_nametoindex("vmmtap0") == 0) {
		fprintf(stderr, "no vmmtap0 in the namespace\n");
		return 2;
	}
	lc_free(lc);
	/* The TAP goes with the VM (it was not made persistent). */
	if (if_nametoindex("vmmtap0") != 0) {
		fprintf(stderr, "vmmtap0 outlived its VM\n");
		return 3;
	}
	return 0;
}

static void test_default_net_gets_a_tap(void **s)
{
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0)
		_exit(child());
	int status;
	assert_int_equal(waitpid(p, &status, 0), p);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		SKIP_BECAUSE("no own network namespace or /dev/net/tun here (needs root)");
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_net_gets_a_tap),
	};
	return cmocka_run_group_tests_name("vm_net", tests, NULL, NULL);
}
