/* Stock Linux on the vmm, on real KVM: runs tests/nested/run.sh, which boots
 * a Debian kernel under QEMU TCG (L1), loads kvm-amd there, and has the
 * project's vmm boot the same kernel (L2) with every device; L2's init checks
 * each device and powers off (see tests/nested/README.md). Asserts on each
 * CHECK line and on the vmm's exit status 0 (Run returned success).
 *
 * NESTED_SCENARIO=check (default, `make check`): one run with all devices on
 * 1 vCPU, then the boot-time comparison with QEMU microvm. NESTED_SCENARIO=all
 * (`make check-nested`): also 2 vCPUs, each device alone, reboot, and Stop
 * from the host (SIGTERM to the vmm), plus a recorded trace of the boot.
 * Skips, saying why, only where QEMU or the Debian kernel cannot be had. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "lib/build_path.h"
#include "lib/script_run.h"

static char output[1 << 20];

static void expect(const char *run, const char *check)
{
	char name[160];
	snprintf(name, sizeof(name), "%s/%s", run, check);
	if (!script_check_passed(output, name))
		fail();
}

/* What a run with every device must have proven. */
static void expect_all_devices(const char *run)
{
	static const char *const checks[] = {
		"vmm-exit", "cpus", "acpi-tables", "acpi-virtio-mmio", "serial",
		"block-driver", "block-rw", "block-capacity", "block-ro",
		"block-rw-host", "block-ro-host",
		"rng-driver", "rng-hwrng",
		"net-driver", "net-link", "net-ping",
		"console-driver", "console-g2h", "console-h2g",
		"vsock-driver", "vsock-dev", "vsock-connect",
		"balloon-driver", "balloon-inflate", "balloon-host",
	};
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		expect(run, checks[i]);
}

static void test_nested_linux(void **state)
{
	const char *scenario = getenv("NESTED_SCENARIO");
	if (!scenario || !*scenario)
		scenario = "check";
	char build[2048], cmd[8192];
	build_path(build, sizeof(build), "");
	snprintf(cmd, sizeof(cmd), "bash '%s/../tests/nested/run.sh' '%s' '%s' 2>&1", build, build,
	         scenario);
	int st = script_run(cmd, output, sizeof(output));
	assert_int_not_equal(st, -1);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		const char *why = strstr(output, "SKIP-NESTED: ");
		char reason[512] = "see the output above";
		if (why)
			snprintf(reason, sizeof(reason), "%.*s", (int)strcspn(why + 13, "\n"), why + 13);
		SKIP_BECAUSE("nested Linux boot: %s", reason);
	}
	expect("l1", "kvm");
	expect("l1", "boot");
	expect_all_devices("full");
	/* The comparison with QEMU microvm ran and printed its figure. */
	expect("boot-vmm-1", "vmm-exit");
	expect("boot-qemu-1", "qemu-exit");
	assert_non_null(strstr(output, "FIGURE boot-to-init vmm "));
	if (strcmp(scenario, "all") == 0) {
		expect_all_devices("smp");
		expect("smp", "cpus");
		static const char *const alone[][4] = {
			{ "block", "block-rw", "block-rw-host", "block-ro" },
			{ "rng", "rng-driver", "rng-hwrng", NULL },
			{ "net", "net-link", "net-ping", NULL },
			{ "console", "console-g2h", "console-h2g", NULL },
			{ "vsock", "vsock-driver", "vsock-dev", "vsock-connect" },
			{ "balloon", "balloon-driver", "balloon-inflate", "balloon-host" },
		};
		for (size_t i = 0; i < sizeof(alone) / sizeof(alone[0]); i++) {
			expect(alone[i][0], "vmm-exit");
			for (size_t k = 1; k < 4 && alone[i][k]; k++)
				expect(alone[i][0], alone[i][k]);
		}
		/* reboot -f: the ACPI reset register ends Run with success too. */
		expect("reboot", "vmm-exit");
		expect("reboot", "cpus");
		/* SIGTERM from the host: Stop, Run returns CONTROLLER_FORCED_HALT. */
		expect("stop", "vmm-exit");
		expect("trace", "copied-out");
	}
	assert_null(strstr(output, " FAIL "));
	assert_non_null(strstr(output, "NESTED-SUMMARY: 0 failed"));
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nested_linux),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
