/* Real Linux virtio drivers against our devices: runs tests/uml/run.sh, which
 * boots user-mode Linux with virtio_uml front ends on vmm_device back ends
 * (see tests/uml/README.md), and asserts on its CHECK lines. Needs no KVM. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "lib/build_path.h"
#include "lib/script_run.h"

/* Every check the harness must report as PASS. A check that is missing
 * counts as a failure: silence must not look like success. */
static const char *const required[] = {
	"uml-boot",
	"block-get-id", "block-rw", "block-capacity", "block-rw-host",
	"block-volatile", "block-volatile-host",
	"block-ro", "block-ro-host",
	"rng-enumerated",
	"console-g2h", "console-h2g",
	"balloon-inflate", "balloon-host",
	"vsock-g2h", "vsock-refused", "vsock-guest-listen", "vsock-h2g", "vsock-host",
	"rw-vhost-user", "vol-vhost-user", "ro-vhost-user", "rng-vhost-user",
	"con-vhost-user", "balloon-vhost-user", "vsock-vhost-user",
};
/* Needs a network namespace and /dev/net/tun (root): the harness says SKIP
 * where it cannot have them, and these are then not required. */
static const char *const required_net[] = { "net-mac", "net-ping", "net-tcp", "net-vhost-user" };

static char output[256 * 1024];

static void test_uml_devices(void **state)
{
	char build[2048], cmd[8192];
	build_path(build, sizeof(build), "");
	/* The whole suite runs in about 3 s here; the bound is for a stuck UML. */
	snprintf(cmd, sizeof(cmd), "timeout -k 5 120 bash '%s/../tests/uml/run.sh' '%s' 2>&1",
	         build, build);
	int st = script_run(cmd, output, sizeof(output));
	assert_int_not_equal(st, -1);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		SKIP_BECAUSE("user-mode Linux is not installed (scripts/deps.sh installs it)");
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!script_check_passed(output, required[i]))
			fail();
	if (strstr(output, "CHECK net-ping SKIP")) {
		printf("net checks skipped: see the SKIP line above\n");
	} else {
		for (size_t i = 0; i < sizeof(required_net) / sizeof(required_net[0]); i++)
			if (!script_check_passed(output, required_net[i]))
				fail();
	}
	assert_null(strstr(output, " FAIL"));
	assert_non_null(strstr(output, "UML-SUMMARY: 0 failed"));
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uml_devices),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
