/* tests/test_qemu_microvm.c - boot the test guest under QEMU microvm (TCG).
 *
 * An independent check of the guest itself: a PVH loader and 8250 that are
 * not ours. QEMU's microvm machine has no i8042, so the guest's last act is
 * its deliberate triple fault, which -no-reboot turns into a clean QEMU exit.
 * Skips, saying why, when qemu-system-x86_64 is not installed.
 */
#include "tests/testutil.h"
#include "tests/lib/build_path.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QEMU "qemu-system-x86_64"
#define CMDLINE "qemu-test greeting=hello"
#define TIMEOUT_MS 30000
#define OUT_MAX 16384

static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/bin:/bin";
	char dir[PATH_MAX];
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(dir, sizeof(dir), "%.*s/%s", (int)n, path, prog);
		if (access(dir, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

static void guest_path(char *out, size_t len)
{
	build_path(out, len, "test-guest/hello.elf");
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void expect_line(const char *out, const char *line)
{
	char want[128];
	snprintf(want, sizeof(want), "%s\r\n", line);
	if (!strstr(out, want))
		fail_msg("QEMU output lacks \"%s\"; got:\n%s", line, out);
}

static void test_microvm_boot(void **state)
{
	if (!in_path(QEMU)) {
		SKIP_BECAUSE(QEMU " is not installed (Debian package qemu-system-x86)");
		return;
	}
	char kernel[PATH_MAX];
	guest_path(kernel, sizeof(kernel));
	if (access(kernel, R_OK) != 0)
		fail_msg("%s: %s (make guests builds it)", kernel, strerror(errno));

	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(126);
		execlp(QEMU, QEMU, "-M", "microvm", "-accel", "tcg", "-nographic",
		       "-no-reboot", "-nodefaults", "-serial", "stdio", "-m", "64",
		       "-kernel", kernel, "-append", CMDLINE, (char *)NULL);
		_exit(127);
	}
	close(p[1]);

	static char out[OUT_MAX];
	size_t len = 0;
	long long deadline = now_ms() + TIMEOUT_MS;
	bool timed_out = false;
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		int r = poll(&pf, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		ssize_t n = read(p[0], out + len, sizeof(out) - 1 - len);
		if (n <= 0)
			break; /* EOF: QEMU exited */
		len += (size_t)n;
		if (len == sizeof(out) - 1)
			break;
	}
	out[len] = 0;
	close(p[0]);
	if (timed_out)
		kill(pid, SIGKILL); /* only the QEMU this test started */
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (timed_out)
		fail_msg("QEMU still running after %d ms; output:\n%s", TIMEOUT_MS, out);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("QEMU failed (status %#x); output:\n%s", status, out);

	expect_line(out, "test guest: PVH boot, long mode");
	expect_line(out, "cmdline: " CMDLINE);
	expect_line(out, "uart scratch OK");
	expect_line(out, "hello from vcpu 0");
	expect_line(out, "all 1 vcpus up");
	expect_line(out, "shutdown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_microvm_boot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
