/* tests/test_kvm_guest.c - boot the freestanding test guest on real KVM.
 *
 * The hardware-in-the-loop check of the KVM backend and the vmm core together:
 * hello.elf (tests/guest/) is booted through GuestLifecycle with 1 and 2 vCPUs,
 * its UART output is captured from a socketpair, and the expected lines (every
 * vCPU's hello, the command line echoed, port and MMIO checks, "all N vcpus
 * up") and a clean Run result (GUEST_OK via the i8042 reset) are asserted.
 * Skips, saying why, when /dev/kvm cannot be opened or a VM cannot be created.
 */
#include "tests/testutil.h"
#include "tests/lib/build_path.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vmm/hv.h"
#include "vmm/lifecycle.h"

#define CMDLINE "kvm-test greeting=hello"
#define GUEST_MEMORY (32ull << 20)
#define WATCHDOG_SECONDS 60
#define OUT_MAX 8192

static void guest_path(char *out, size_t len)
{
	build_path(out, len, "guest/hello.elf");
}

/* Skip unless a KVM VM can be created here; returns the /dev/kvm fd. */
static int kvm_or_skip(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		SKIP_BECAUSE("cannot open /dev/kvm: %s", strerror(errno));
		return -1;
	}
	struct hv_guest *g;
	int r = hv_kvm_ops.guest_create(fd, NULL, &g);
	if (r < 0) {
		close(fd);
		SKIP_BECAUSE("cannot create a KVM VM: %s", strerror(-r));
		return -1;
	}
	hv_kvm_ops.guest_destroy(g);
	return fd;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

struct capture {
	int fd;
	pthread_t thread;
	struct timespec t0;            /* just before Create */
	double first_ms, shutdown_ms;  /* first byte, and the "shutdown" line */
	char buf[OUT_MAX];
	size_t len;
};

static void *capture_thread(void *arg)
{
	struct capture *c = arg;
	for (;;) {
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (n <= 0)
			break;
		if (c->len == 0)
			c->first_ms = ms_since(&c->t0);
		c->len += (size_t)n;
		c->buf[c->len] = 0;
		if (c->shutdown_ms == 0 && strstr(c->buf, "shutdown\r\n"))
			c->shutdown_ms = ms_since(&c->t0);
		if (c->len == sizeof(c->buf) - 1)
			break;
	}
	c->buf[c->len] = 0;
	return NULL;
}

struct watchdog {
	struct guest_lifecycle *lc;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, fired;
	pthread_t thread;
};

/* Stops a guest that hangs, so a broken guest fails the test instead of
 * stalling the suite. */
static void *watchdog_thread(void *arg)
{
	struct watchdog *w = arg;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WATCHDOG_SECONDS;
	pthread_mutex_lock(&w->lock);
	while (!w->done)
		if (pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT)
			break;
	bool fire = !w->done;
	pthread_mutex_unlock(&w->lock);
	if (fire) {
		w->fired = true;
		lc_stop(w->lc);
	}
	return NULL;
}

static void expect_line(const char *out, const char *line)
{
	char want[128];
	snprintf(want, sizeof(want), "%s\r\n", line);
	if (!strstr(out, want))
		fail_msg("serial output lacks \"%s\"; got:\n%s", line, out);
}

static void boot(unsigned cpus)
{
	int kvm = kvm_or_skip();
	if (kvm < 0)
		return;
	char path[PATH_MAX];
	guest_path(path, sizeof(path));
	int kfd = open(path, O_RDONLY | O_CLOEXEC);
	if (kfd < 0)
		fail_msg("%s: %s (make guests builds it)", path, strerror(errno));

	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct lc_options o = { .hv = &hv_kvm_ops, .hv_fd = kvm, .backend_arg = NULL,
	                        .sink = NULL, .serial_fd = sv[1] };
	struct guest_lifecycle *lc = lc_new(&o);
	assert_non_null(lc);

	struct guest_config cfg;
	gc_init(&cfg);
	cfg.kernel_fd = kfd;
	cfg.cmdline = strdup(CMDLINE);
	cfg.has_cpus = true;
	cfg.cpus = (uint8_t)cpus;
	cfg.has_guest_memory = true;
	cfg.guest_memory = GUEST_MEMORY;

	static struct capture cap;
	memset(&cap, 0, sizeof(cap));
	cap.fd = sv[0];
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cap.t0 = t0;
	assert_int_equal(pthread_create(&cap.thread, NULL, capture_thread, &cap), 0);
	struct watchdog w = { .lc = lc, .lock = PTHREAD_MUTEX_INITIALIZER,
	                      .cond = PTHREAD_COND_INITIALIZER };

	char err[256] = "";
	enum guest_error e = lc_create(lc, &cfg, err, sizeof(err));
	if (e != GUEST_OK)
		fail_msg("create: %s: %s", guest_error_name(e), err);
	double create_ms = ms_since(&t0);
	assert_int_equal(pthread_create(&w.thread, NULL, watchdog_thread, &w), 0);
	e = lc_run(lc);
	double total_ms = ms_since(&t0);
	pthread_mutex_lock(&w.lock);
	w.done = true;
	pthread_cond_signal(&w.cond);
	pthread_mutex_unlock(&w.lock);
	pthread_join(w.thread, NULL);

	lc_free(lc);
	/* The vmm has stopped writing; closing our end of its socket ends the
	 * capture once everything sent has been read. */
	shutdown(sv[1], SHUT_RDWR);
	pthread_join(cap.thread, NULL);
	close(sv[0]);
	close(sv[1]);
	close(kvm);
	/* Times from just before Create: the figures in tests/guest/README.md. */
	print_message("%u vcpu boot: create %.1f ms, first serial byte %.1f ms, \"shutdown\" "
	              "%.1f ms, Run returned %.1f ms\n",
	              cpus, create_ms, cap.first_ms, cap.shutdown_ms, total_ms);

	if (w.fired)
		fail_msg("guest still running after %d s; output:\n%s", WATCHDOG_SECONDS, cap.buf);
	if (e != GUEST_OK)
		fail_msg("run: %s; output:\n%s", guest_error_name(e), cap.buf);
	expect_line(cap.buf, "test guest: PVH boot, long mode");
	expect_line(cap.buf, "cmdline: " CMDLINE);
	expect_line(cap.buf, "uart scratch OK");
	expect_line(cap.buf, "mmio read 0xd0000000 = 0xffffffff");
	char line[64];
	snprintf(line, sizeof(line), "mp table: %u cpus", cpus);
	expect_line(cap.buf, line);
	for (unsigned i = 0; i < cpus; i++) {
		snprintf(line, sizeof(line), "hello from vcpu %u", i);
		expect_line(cap.buf, line);
	}
	snprintf(line, sizeof(line), "all %u vcpus up", cpus);
	expect_line(cap.buf, line);
	expect_line(cap.buf, "shutdown");
}

static void test_boot_1_vcpu(void **state)
{
	boot(1);
}

static void test_boot_2_vcpus(void **state)
{
	boot(2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_1_vcpu),
		cmocka_unit_test(test_boot_2_vcpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
