/* tests/test_kvm_guest.c - boot the freestanding test guest on real KVM.
 *
 * The hardware-in-the-loop check of the KVM backend and the vmm core together:
 * hello.elf (tests/guest/) is booted through GuestLifecycle with 1 and 2 vCPUs,
 * its UART output is captured from a socketpair, and the expected lines (every
 * vCPU's hello, the command line echoed, port and MMIO checks, "all N vcpus
 * up") and a clean Run result (GUEST_OK via the i8042 reset) are asserted.
 * Then with virtio devices: virtio-rng and a virtio-blk disk on a temporary
 * image file, in each BlockSpec mode; the guest's driver (tests/guest/virtio.c)
 * reports on its serial line, and the image file is checked after Run: the
 * guest's pattern at sector 1 for READ_WRITE, untouched for READ_ONLY and
 * VOLATILE_WRITE. And with a virtio console: the host side
 * (guest_get_console) must read "hello console", answer a line once it has,
 * and read that line echoed back. Exits are counted through an ev_sink.
 * Skips, saying why, when /dev/kvm cannot be opened or a VM cannot be created.
 */
#include "vmm/hv/kvm.h"
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

#include "base/hv.h"
#include "vmm/lifecycle.h"

#define CMDLINE "kvm-test greeting=hello"
#define GUEST_MEMORY (32ull << 20)
#define WATCHDOG_SECONDS 60
#define OUT_MAX 8192

static void guest_path(char *out, size_t len)
{
	build_path(out, len, "test-guest/hello.elf");
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

/* Counted through the ev_sink: every exit the vmm handled, and interrupt
 * line changes it drove. */
struct counts {
	unsigned long exits, mmio, pio, other, irq_edges;
};

static void count_exit(void *ctx, unsigned vcpu, const struct hv_exit *e, uint64_t v)
{
	struct counts *n = ctx;
	n->exits++;
	if (e->kind == HV_EXIT_MEM_READ || e->kind == HV_EXIT_MEM_WRITE)
		n->mmio++;
	else if (e->kind == HV_EXIT_IO_IN || e->kind == HV_EXIT_IO_OUT)
		n->pio++;
	else
		n->other++;
}

static void count_irq(void *ctx, uint32_t gsi, int level)
{
	((struct counts *)ctx)->irq_edges++;
}

/* The virtio console's host side (GetConsole): everything read, and one
 * line typed once the guest has said hello. */
#define CONSOLE_LINE "ping-kvm-console\n"
struct console_capture {
	int fd;
	pthread_t thread;
	bool answered;
	char buf[1024];
	size_t len;
};

static void *console_thread(void *arg)
{
	struct console_capture *c = arg;
	for (;;) {
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (n <= 0)
			break;
		c->len += (size_t)n;
		c->buf[c->len] = 0;
		if (!c->answered && strstr(c->buf, "hello console\n")) {
			c->answered = true;
			if (write(c->fd, CONSOLE_LINE, strlen(CONSOLE_LINE)) != (ssize_t)strlen(CONSOLE_LINE))
				break;
		}
		if (c->len == sizeof(c->buf) - 1)
			break;
	}
	return NULL;
}

struct run_opts {
	unsigned cpus;
	bool rng, console;
	const char *block_path; /* NULL: no disk */
	enum block_mode block_mode;
	const char *block_id;
};

struct run_result {
	enum guest_error e;
	bool fired;
	double create_ms, total_ms;
	struct counts n;
	struct capture cap;
	struct console_capture con;
};

/* Boot the guest with o's devices. false when skipped (no usable KVM). */
static bool run_guest(const struct run_opts *o, struct run_result *r)
{
	int kvm = kvm_or_skip();
	if (kvm < 0)
		return false;
	char path[PATH_MAX];
	guest_path(path, sizeof(path));
	int kfd = open(path, O_RDONLY | O_CLOEXEC);
	if (kfd < 0)
		fail_msg("%s: %s (make guests builds it)", path, strerror(errno));

	memset(r, 0, sizeof(*r));
	struct ev_sink sink = { .ctx = &r->n, .exit_handled = count_exit, .irq = count_irq };
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct lc_options lo = { .hv = &hv_kvm_ops, .hv_fd = kvm, .backend_arg = NULL,
	                         .sink = &sink, .serial_fd = sv[1] };
	struct guest_lifecycle *lc = lc_new(&lo);
	assert_non_null(lc);

	struct guest_config cfg;
	gc_init(&cfg);
	cfg.kernel_fd = kfd;
	cfg.cmdline = strdup(CMDLINE);
	cfg.has_cpus = true;
	cfg.cpus = (uint8_t)o->cpus;
	cfg.has_guest_memory = true;
	cfg.guest_memory = GUEST_MEMORY;
	if (o->rng) {
		cfg.has_virtio_rng = true;
		cfg.virtio_rng = true;
	}
	if (o->console) {
		cfg.has_virtio_console = true;
		cfg.virtio_console = true;
	}
	if (o->block_path) {
		struct block_spec *b = calloc(1, sizeof(*b));
		assert_non_null(b);
		snprintf(b->id, sizeof(b->id), "%s", o->block_id);
		b->mode = o->block_mode;
		b->format = BLOCK_FORMAT_FILE;
		/* As vmm run opens it: writable only for READ_WRITE. */
		b->fd = open(o->block_path,
		             (o->block_mode == BLOCK_READ_WRITE ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (b->fd < 0)
			fail_msg("%s: %s", o->block_path, strerror(errno));
		cfg.block_devices = b;
		cfg.n_block_devices = 1;
		cfg.has_block_devices = true;
	}

	struct capture *cap = &r->cap;
	cap->fd = sv[0];
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cap->t0 = t0;
	assert_int_equal(pthread_create(&cap->thread, NULL, capture_thread, cap), 0);
	struct watchdog w = { .lc = lc, .lock = PTHREAD_MUTEX_INITIALIZER,
	                      .cond = PTHREAD_COND_INITIALIZER };

	char err[256] = "";
	enum guest_error e = lc_create(lc, &cfg, err, sizeof(err));
	if (e != GUEST_OK)
		fail_msg("create: %s: %s", guest_error_name(e), err);
	r->create_ms = ms_since(&t0);
	r->con.fd = -1;
	if (o->console) {
		e = guest_get_console(lc, &r->con.fd);
		if (e != GUEST_OK)
			fail_msg("GetConsole: %s", guest_error_name(e));
		assert_int_equal(pthread_create(&r->con.thread, NULL, console_thread, &r->con), 0);
	}
	assert_int_equal(pthread_create(&w.thread, NULL, watchdog_thread, &w), 0);
	r->e = lc_run(lc);
	r->total_ms = ms_since(&t0);
	pthread_mutex_lock(&w.lock);
	w.done = true;
	pthread_cond_signal(&w.cond);
	pthread_mutex_unlock(&w.lock);
	pthread_join(w.thread, NULL);
	r->fired = w.fired;

	lc_free(lc);
	gc_free(&cfg);
	/* The vmm has stopped writing; closing our end of its socket ends the
	 * capture once everything sent has been read. */
	shutdown(sv[1], SHUT_RDWR);
	pthread_join(cap->thread, NULL);
	if (r->con.fd >= 0) {
		/* lc_free closed the vmm's end: the console reader sees EOF. */
		pthread_join(r->con.thread, NULL);
		close(r->con.fd);
	}
	close(sv[0]);
	close(sv[1]);
	close(kvm);
	return true;
}

static void expect_clean(const struct run_result *r)
{
	if (r->fired)
		fail_msg("guest still running after %d s; output:\n%s", WATCHDOG_SECONDS, r->cap.buf);
	if (r->e != GUEST_OK)
		fail_msg("run: %s; output:\n%s", guest_error_name(r->e), r->cap.buf);
}

static void print_times(const char *what, const struct run_result *r)
{
	/* Times from just before Create: the figures in tests/guest/README.md. */
	print_message("%s: create %.1f ms, first serial byte %.1f ms, \"shutdown\" %.1f ms, "
	              "Run returned %.1f ms; %lu exits (%lu mmio, %lu pio, %lu other), "
	              "%lu irq line changes\n",
	              what, r->create_ms, r->cap.first_ms, r->cap.shutdown_ms, r->total_ms,
	              r->n.exits, r->n.mmio, r->n.pio, r->n.other, r->n.irq_edges);
}

static void boot(unsigned cpus)
{
	static struct run_result r;
	struct run_opts o = { .cpus = cpus };
	if (!run_guest(&o, &r))
		return;
	char line[64];
	snprintf(line, sizeof(line), "%u vcpu boot", cpus);
	print_times(line, &r);
	expect_clean(&r);
	const char *out = r.cap.buf;
	expect_line(out, "test guest: PVH boot, long mode");
	expect_line(out, "cmdline: " CMDLINE);
	expect_line(out, "uart scratch OK");
	expect_line(out, "mmio read 0xd0001000 = 0xffffffff");
	snprintf(line, sizeof(line), "mp table: %u cpus", cpus);
	expect_line(out, line);
	for (unsigned i = 0; i < cpus; i++) {
		snprintf(line, sizeof(line), "hello from vcpu %u", i);
		expect_line(out, line);
	}
	snprintf(line, sizeof(line), "all %u vcpus up", cpus);
	expect_line(out, line);
	expect_line(out, "no virtio devices");
	expect_line(out, "shutdown");
}

static void test_boot_1_vcpu(void **state)
{
	boot(1);
}

static void test_boot_2_vcpus(void **state)
{
	boot(2);
}

/* ---- virtio ---- */

#define SECTOR 512
#define IMAGE_SECTORS 128
#define IMAGE_FILL 0xc3 /* not zero, so a stray write of zeros shows */
#define TEST_SECTOR 1

/* The guest's pattern for a sector (tests/guest/vtest.h), built here
 * independently. */
static void guest_pattern(uint8_t *buf, unsigned sector)
{
	for (unsigned i = 0; i < SECTOR; i++)
		buf[i] = (uint8_t)(i * 7 + sector);
	char tag[64];
	int n = snprintf(tag, sizeof(tag), "VMM-GUEST-BLOCK-TEST sector %u\n", sector);
	memcpy(buf, tag, (size_t)n);
}

struct image {
	char path[PATH_MAX];
	uint8_t before[IMAGE_SECTORS * SECTOR];
};

static void image_create(struct image *im)
{
	const char *dir = getenv("TMPDIR");
	snprintf(im->path, sizeof(im->path), "%s/vmm-kvm-guest-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(im->path);
	if (fd < 0)
		fail_msg("mkstemp: %s", strerror(errno));
	memset(im->before, IMAGE_FILL, sizeof(im->before));
	assert_int_equal(write(fd, im->before, sizeof(im->before)), (ssize_t)sizeof(im->before));
	close(fd);
}

static void image_read(const struct image *im, uint8_t *buf)
{
	int fd = open(im->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, IMAGE_SECTORS * SECTOR), IMAGE_SECTORS * SECTOR);
	close(fd);
}

static void image_expect_unchanged(const struct image *im)
{
	static uint8_t now[IMAGE_SECTORS * SECTOR];
	image_read(im, now);
	for (size_t i = 0; i < sizeof(now); i++)
		if (now[i] != im->before[i])
			fail_msg("image byte %zu changed: 0x%02x, was 0x%02x", i, now[i], im->before[i]);
}

/* The image of the running test; the teardown removes it even when the
 * test failed. */
static struct image image;

static int remove_image(void **state)
{
	if (image.path[0])
		unlink(image.path);
	image.path[0] = 0;
	return 0;
}

/* Boot 2 vCPUs with a fresh disk in `mode` (and rng if asked); false when
 * skipped. The lines every such run prints are checked here. */
static bool virtio_boot(const char *what, enum block_mode mode, bool rng, struct run_result *r)
{
	image_create(&image);
	struct run_opts o = { .cpus = 2, .rng = rng, .block_path = image.path, .block_mode = mode,
	                      .block_id = "guest-disk" };
	if (!run_guest(&o, r))
		return false;
	print_times(what, r);
	expect_clean(r);
	const char *out = r->cap.buf;
	expect_line(out, "all 2 vcpus up");
	/* Block devices take the first slots, then rng (vmm/vm.c). */
	expect_line(out, "virtio slot 0: device 2");
	char line[64];
	snprintf(line, sizeof(line), "block capacity: %d sectors%s", IMAGE_SECTORS,
	         mode == BLOCK_READ_ONLY ? ", read-only" : "");
	expect_line(out, line);
	expect_line(out, "block id: guest-disk");
	if (rng) {
		expect_line(out, "virtio slot 1: device 4");
		if (!strstr(out, "rng bytes: "))
			fail_msg("no rng bytes line:\n%s", out);
		expect_line(out, "rng OK");
	}
	if (strstr(out, "FAIL"))
		fail_msg("the guest reports a failure:\n%s", out);
	expect_line(out, "shutdown");
	return true;
}

static void test_virtio_rng_and_block_read_write(void **state)
{
	static struct run_result r;
	if (!virtio_boot("virtio rng + block READ_WRITE", BLOCK_READ_WRITE, true, &r))
		return;
	expect_line(r.cap.buf, "block OK");
	/* The guest's write reached the file, and nothing else changed. */
	static uint8_t want[IMAGE_SECTORS * SECTOR], now[IMAGE_SECTORS * SECTOR];
	memcpy(want, image.before, sizeof(want));
	guest_pattern(want + TEST_SECTOR * SECTOR, TEST_SECTOR);
	image_read(&image, now);
	if (memcmp(now + TEST_SECTOR * SECTOR, want + TEST_SECTOR * SECTOR, SECTOR) != 0)
		fail_msg("sector %d of the image does not hold the guest's pattern", TEST_SECTOR);
	if (memcmp(now, want, sizeof(want)) != 0)
		fail_msg("the image changed outside sector %d", TEST_SECTOR);
}

static void test_virtio_block_read_only(void **state)
{
	static struct run_result r;
	if (!virtio_boot("virtio block READ_ONLY", BLOCK_READ_ONLY, false, &r))
		return;
	expect_line(r.cap.buf, "block ro OK");
	image_expect_unchanged(&image);
}

static void test_virtio_block_volatile_write(void **state)
{
	static struct run_result r;
	if (!virtio_boot("virtio block VOLATILE_WRITE", BLOCK_VOLATILE_WRITE, false, &r))
		return;
	/* The guest read its own write back (from the overlay)... */
	expect_line(r.cap.buf, "block OK");
	/* ...and the file never saw it. */
	image_expect_unchanged(&image);
}

/* The virtio console both ways through GetConsole: the guest's hello
 * arrives, and the line typed after it comes back echoed. */
static void test_virtio_console(void **state)
{
	static struct run_result r;
	struct run_opts o = { .cpus = 1, .console = true };
	if (!run_guest(&o, &r))
		return;
	print_times("virtio console", &r);
	expect_clean(&r);
	const char *out = r.cap.buf;
	expect_line(out, "virtio slot 0: device 3");
	expect_line(out, "console OK");
	char line[64];
	snprintf(line, sizeof(line), "console rx %zu bytes", strlen(CONSOLE_LINE));
	expect_line(out, line);
	expect_line(out, "console echo OK");
	expect_line(out, "shutdown");
	if (!strstr(r.con.buf, "hello console\n"))
		fail_msg("the console socket lacks \"hello console\"; got: \"%s\"", r.con.buf);
	if (!strstr(r.con.buf, "echo: " CONSOLE_LINE))
		fail_msg("the console socket lacks the echo of our line; got: \"%s\"", r.con.buf);
	print_message("virtio console: %zu bytes from the guest on the console socket\n", r.con.len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_1_vcpu),
		cmocka_unit_test(test_boot_2_vcpus),
		cmocka_unit_test_teardown(test_virtio_rng_and_block_read_write, remove_image),
		cmocka_unit_test_teardown(test_virtio_block_read_only, remove_image),
		cmocka_unit_test_teardown(test_virtio_block_volatile_write, remove_image),
		cmocka_unit_test(test_virtio_console),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
