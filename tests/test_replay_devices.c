/* Full-stack record and replay of the devices that talk to the host: a run on
 * the fake hypervisor (tests/lib/fake_hv) whose "guest" is this test driving
 * virtio-console, virtio-balloon and virtio-net through real exits, while the
 * host types into the console, asks the balloon for pages and (in a network
 * namespace of its own, where a TAP can be made) sends a frame through the
 * TAP. The recording must hold those host inputs as host events, the
 * balloon's discards and the frames sent as outputs, and replay on the sim
 * backend with no TAP and no host must match it record for record. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/fake_hv.h"
#include "lib/mini_kernel.h"
#include "replay/replay.h"
#include "traces/trace.h"
#include "vmm/lifecycle.h"
#include "vmm/vm.h"

#define R_MAGIC 0x00
#define R_DEVICE_ID 0x08
#define R_DRV_FEATURES 0x20
#define R_DRV_FEATURES_SEL 0x24
#define R_QUEUE_SEL 0x30
#define R_QUEUE_NUM 0x38
#define R_QUEUE_READY 0x44
#define R_QUEUE_NOTIFY 0x50
#define R_STATUS 0x70
#define R_DESC 0x80
#define R_AVAIL 0x90
#define R_USED 0xa0
#define R_CONFIG 0x100

#define QSZ 16
#define GBASE 0x1000000ull   /* rings: 64 KiB per device from here */
#define BUFS 0x1400000ull    /* buffers */

static struct fake_hv_ctl ctl;
static struct guest_lifecycle *lc;
static pthread_t run_t;

struct gdev {
	uint64_t base, rings;
	uint16_t avail[3], next_desc[3];
};

static void *gmem(uint64_t gpa, uint64_t len)
{
	void *p = fake_hv_gpa(&ctl, gpa, len);
	if (!p)
		fail_msg("guest address 0x%llx+%llu unmapped", (unsigned long long)gpa,
		         (unsigned long long)len);
	return p;
}

static uint32_t rd(struct gdev *d, uint32_t off)
{
	return fake_hv_mmio_read32(&ctl, d->base + off);
}

static void wr(struct gdev *d, uint32_t off, uint32_t v)
{
	fake_hv_mmio_write32(&ctl, d->base + off, v);
}

static uint64_t ring(struct gdev *d, unsigned q, unsigned part)
{
	return d->rings + q * 0x3000ull + part * 0x1000ull; /* desc, avail, used */
}

/* Find device `id` and bring it to DRIVER_OK with queues 0..nq-1. */
static void dev_start(struct gdev *d, uint32_t id, unsigned nq)
{
	memset(d, 0, sizeof(*d));
	for (unsigned i = 0; i < VM_MAX_VIRTIO && !d->base; i++) {
		uint64_t b = VM_VIRTIO_MMIO_BASE + i * VM_VIRTIO_MMIO_SIZE;
		if (fake_hv_mmio_read32(&ctl, b + R_MAGIC) == 0x74726976 &&
		    fake_hv_mmio_read32(&ctl, b + R_DEVICE_ID) == id) {
			d->base = b;
			d->rings = GBASE + i * 0x10000ull;
		}
	}
	if (!d->base)
		fail_msg("no virtio device %u", id);
	wr(d, R_STATUS, 0);
	wr(d, R_STATUS, 1 | 2);
	wr(d, R_DRV_FEATURES_SEL, 1);
	wr(d, R_DRV_FEATURES, 1); /* VERSION_1 */
	wr(d, R_DRV_FEATURES_SEL, 0);
	wr(d, R_DRV_FEATURES, 0);
	wr(d, R_STATUS, 1 | 2 | 8);
	assert_true(rd(d, R_STATUS) & 8);
	for (unsigned q = 0; q < nq; q++) {
		memset(gmem(ring(d, q, 0), 0x3000), 0, 0x3000);
		wr(d, R_QUEUE_SEL, q);
		wr(d, R_QUEUE_NUM, QSZ);
		wr(d, R_DESC, (uint32_t)ring(d, q, 0));
		wr(d, R_DESC + 4, 0);
		wr(d, R_AVAIL, (uint32_t)ring(d, q, 1));
		wr(d, R_AVAIL + 4, 0);
		wr(d, R_USED, (uint32_t)ring(d, q, 2));
		wr(d, R_USED + 4, 0);
		wr(d, R_QUEUE_READY, 1);
	}
	wr(d, R_STATUS, 1 | 2 | 8 | 4);
	assert_true(rd(d, R_STATUS) & 4);
}

/* One buffer on queue q, made available and notified. */
static void post(struct gdev *d, unsigned q, uint64_t gpa, uint32_t len, bool writable)
{
	uint16_t i = d->next_desc[q]++ % QSZ;
	uint8_t *desc = gmem(ring(d, q, 0) + 16ull * i, 16);
	uint16_t flags = writable ? 2 : 0, next = 0;
	memcpy(desc, &gpa, 8);
	memcpy(desc + 8, &len, 4);
	memcpy(desc + 12, &flags, 2);
	memcpy(desc + 14, &next, 2);
	uint8_t *a = gmem(ring(d, q, 1), 4 + 2 * QSZ);
	memcpy(a + 4 + 2 * (d->avail[q] % QSZ), &i, 2);
	d->avail[q]++;
	__atomic_store_n((uint16_t *)(a + 2), d->avail[q], __ATOMIC_RELEASE);
	wr(d, R_QUEUE_NOTIFY, q);
}

static uint16_t used_idx(struct gdev *d, unsigned q)
{
	return __atomic_load_n((uint16_t *)gmem(ring(d, q, 2) + 2, 2), __ATOMIC_ACQUIRE);
}

static bool wait_used(struct gdev *d, unsigned q, uint16_t want)
{
	for (int i = 0; i < 3000; i++) {
		if (used_idx(d, q) >= want)
			return true;
		usleep(1000);
	}
	return false;
}

static void *run_main(void *a)
{
	lc_run(lc);
	return NULL;
}

/* Bring the TAP up with 10.77.0.1/24 and send one UDP datagram to 10.77.0.2:
 * the kernel's ARP request for it leaves through the TAP, into the vmm. */
static bool tap_send_frame(const char *tap)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd),
	         "ip link set %s up && ip addr add 10.77.0.1/24 dev %s 2>/dev/null", tap, tap);
	if (system(cmd) != 0)
		return false;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	inet_pton(AF_INET, "10.77.0.2", &to.sin_addr);
	bool ok = s >= 0 && sendto(s, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)) == 1;
	if (s >= 0)
		close(s);
	return ok;
}

struct counts {
	unsigned host_events[4]; /* console, balloon, balloon-stats, net0 */
	unsigned balloon_out, net_out, console_out;
};

static void count(const struct script *s, struct counts *c)
{
	memset(c, 0, sizeof(*c));
	static const char *const names[] = { "console", "balloon", "balloon-stats", "net0" };
	for (size_t i = 0; i < s->n; i++) {
		const struct script_event *e = &s->ev[i];
		if (e->type == SCRIPT_HOST)
			for (int k = 0; k < 4; k++)
				c->host_events[k] += strcmp(e->device, names[k]) == 0;
		if (e->type == SCRIPT_OUT) {
			c->balloon_out += strcmp(e->device, "balloon") == 0;
			c->net_out += strcmp(e->device, "net0") == 0;
			c->console_out += strcmp(e->device, "console") == 0;
		}
	}
}

/* Record the scenario into path; with_net only where a TAP can be made. */
static void record(const char *path, bool with_net)
{
	char err[512];
	struct trace_writer *w = trace_writer_open(path, err, sizeof(err));
	if (!w)
		fail_msg("%s", err);
	struct ev_sink sink = trace_recorder_sink(w);
	fake_hv_reset(&ctl);
	struct lc_options o = { .hv = &hv_fake_ops, .hv_fd = -1, .backend_arg = &ctl,
		                .sink = &sink, .serial_fd = -1 };
	lc = lc_new(&o);
	assert_non_null(lc);
	struct guest_config c;
	gc_init(&c);
	c.kernel_fd = mini_pvh_kernel();
	c.has_guest_memory = true;
	c.guest_memory = 32ull << 20;
	c.has_virtio_console = c.virtio_console = true;
	c.has_virtio_balloon = c.virtio_balloon = true;
	if (with_net)
		c.has_default_net = c.default_net = true;
	if (trace_record_meta(w, &c, "test", "fake", err, sizeof(err)) < 0)
		fail_msg("meta: %s", err);
	enum guest_error e = lc_create(lc, &c, err, sizeof(err));
	if (e)
		fail_msg("create: %s: %s", guest_error_name(e), err);
	assert_int_equal(pthread_create(&run_t, NULL, run_main, NULL), 0);
	for (int i = 0; i < 5000 && !__atomic_load_n(&ctl.vcpus_entered, __ATOMIC_SEQ_CST); i++)
		usleep(1000);

	/* Console: the guest posts a receive buffer and says hello; the host
	 * types "abc", which must land in the buffer. */
	struct gdev con;
	dev_start(&con, 3, 2);
	post(&con, 0, BUFS, 64, true);
	memcpy(gmem(BUFS + 0x1000, 6), "hello\n", 6);
	post(&con, 1, BUFS + 0x1000, 6, false);
	assert_true(wait_used(&con, 1, 1));
	int cfd = -1;
	assert_int_equal(guest_get_console(lc, &cfd), GUEST_OK);
	assert_int_equal(write(cfd, "abc", 3), 3);
	assert_true(wait_used(&con, 0, 1));
	assert_memory_equal(gmem(BUFS, 3), "abc", 3);

	/* Balloon: the host asks for 2 pages; the guest reads the target,
	 * inflates two pages and reports them; the host asks for stats. */
	struct gdev bal;
	dev_start(&bal, 5, 2);
	assert_int_equal(lc_balloon_request_pages(lc, 2), GUEST_OK);
	assert_int_equal(rd(&bal, R_CONFIG), 2);
	uint32_t pfns[2] = { (BUFS + 0x10000) >> 12, (BUFS + 0x11000) >> 12 };
	memcpy(gmem(BUFS + 0x2000, 8), pfns, 8);
	post(&bal, 0, BUFS + 0x2000, 8, false);
	assert_true(wait_used(&bal, 0, 1));
	wr(&bal, R_CONFIG + 4, 2);
	struct balloon_stat st[4];
	lc_balloon_stats(lc, st, 4);

	if (with_net) {
		/* Net: a receive buffer, one frame out, one frame in from the TAP. */
		struct gdev net;
		dev_start(&net, 1, 2);
		post(&net, 0, BUFS + 0x3000, 2048, true);
		uint8_t *f = gmem(BUFS + 0x4000, 12 + 60);
		memset(f, 0, 12 + 60);
		memset(f + 12, 0xff, 6); /* broadcast */
		f[12 + 6] = 0x02;
		f[12 + 11] = 0x01;
		f[12 + 12] = 0x88;
		f[12 + 13] = 0xb5; /* local experimental ethertype */
		post(&net, 1, BUFS + 0x4000, 12 + 60, false);
		assert_true(wait_used(&net, 1, 1));
		assert_true(tap_send_frame("vmmtap0"));
		assert_true(wait_used(&net, 0, 1));
	}
	lc_stop(lc);
	pthread_join(run_t, NULL);
	lc_free(lc);
	lc = NULL;
	close(cfd);
	if (trace_writer_close(w, err, sizeof(err)) < 0)
		fail_msg("close: %s", err);
}

static void check_replays(const char *path, bool with_net)
{
	char err[512];
	struct script s;
	struct trace_info info;
	if (trace_load(path, &s, &info, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	struct counts c;
	count(&s, &c);
	assert_true(c.host_events[0] >= 1);          /* "abc" (maybe in pieces) */
	assert_int_equal(c.host_events[1], 1);       /* the balloon request */
	assert_int_equal(c.host_events[2], 1);       /* the stats request */
	assert_int_equal(c.balloon_out, 1);          /* one discard row: 2 pages */
	assert_true(c.console_out >= 1);
	if (with_net) {
		assert_true(c.host_events[3] >= 1);
		assert_true(c.net_out >= 1);
	}
	assert_non_null(strstr(trace_info_get(&info, "config"), "balloon=1"));
	struct replay_opts o = { .serial_fd = -1 };
	struct replay_result r;
	assert_int_equal(trace_replay_script(&s, trace_info_get(&info, "config"), &o, &r, err,
	                                     sizeof(err)), 0);
	if (!r.matched)
		fail_msg("replay of %s diverged: %s", path, r.divergence);
	printf("full-stack devices trace: %zu records, %llu events, %llu bytes, net %s\n", s.n,
	       (unsigned long long)info.exits, (unsigned long long)info.file_bytes,
	       with_net ? "yes" : "no (no TAP here)");

	/* A different balloon request must be caught at its event. */
	for (size_t i = 0; i < s.n; i++)
		if (s.ev[i].type == SCRIPT_HOST && strcmp(s.ev[i].device, "balloon") == 0) {
			s.ev[i].data[0] = 3;
			break;
		}
	assert_int_equal(trace_replay_script(&s, trace_info_get(&info, "config"), &o, &r, err,
	                                     sizeof(err)), 0);
	assert_false(r.matched);
	assert_non_null(strstr(r.divergence, "diverged"));
	script_free(&s);
	trace_info_free(&info);
}

static void test_console_balloon(void **state)
{
	char dir[] = "/tmp/test_replay_devices.XXXXXX", path[96];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.db", dir);
	record(path, false);
	check_replays(path, false);
	unlink(path);
	rmdir(dir);
}

/* In a child with its own network namespace: exit 0 pass, 77 skip. */
static void test_with_net(void **state)
{
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		if (unshare(CLONE_NEWNET) != 0 || access("/dev/net/tun", R_OK | W_OK) != 0 ||
		    system("ip link set lo up 2>/dev/null") != 0)
			_exit(77);
		char dir[] = "/tmp/test_replay_devices.XXXXXX", path[96];
		if (!mkdtemp(dir))
			_exit(1);
		snprintf(path, sizeof(path), "%s/n.db", dir);
		record(path, true);
		check_replays(path, true);
		unlink(path);
		rmdir(dir);
		fflush(stdout);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(p, &status, 0), p);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		SKIP_BECAUSE("no network namespace, /dev/net/tun or ip here (needs root)");
	}
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_console_balloon),
		cmocka_unit_test(test_with_net),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
