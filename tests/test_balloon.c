/* virtio-balloon: target and actual in config space, inflate gives pages back
 * (measured: the memfd's resident pages fall), PFNs outside guest RAM are
 * skipped, deflate, the stats protocol, DEFLATE_ON_OOM, hostile chains. */
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/balloon.h"
#include "lib/vdriver.h"

#define RAM (64u << 20)
static struct vdriver drv;
static struct virtio_balloon bal;
static uint64_t discarded_pages;
static int discards, stats_ready_calls, actual_calls, discard_outside;
static uint32_t last_actual;

/* What the vmm does: give the pages back to the kernel (shmem: MADV_REMOVE
 * frees the memfd's pages; MADV_DONTNEED would only unmap them). */
static void discard(void *ctx, uint64_t gpa, uint64_t len)
{
	discards++;
	void *p = gm_span(&drv.mem, gpa, len);
	if (!p || gpa % 4096 || len % 4096) {
		discard_outside++;
		return;
	}
	assert_int_equal(madvise(p, len, MADV_REMOVE), 0);
	discarded_pages += len / 4096;
}

static void stats_ready(void *ctx) { stats_ready_calls++; }
static void actual_changed(void *ctx, uint32_t a)
{
	actual_calls++;
	last_actual = a;
}

static int start(bool oom, uint64_t features)
{
	struct balloon_host h = { .discard = discard, .stats_ready = stats_ready,
	                          .actual_changed = actual_changed };
	virtio_balloon_init(&bal, &h, oom);
	discarded_pages = 0;
	discards = stats_ready_calls = actual_calls = discard_outside = 0;
	return (int)vd_start_mem(&drv, &bal.dev, features, 3, RAM);
}

static int setup(void **s)
{
	assert_int_equal(start(false, 1ull << VIRTIO_BALLOON_F_STATS_VQ), 15);
	return 0;
}

static int teardown(void **s)
{
	vd_stop(&drv);
	return 0;
}

/* Submit one chain of PFNs on queue q and wait for it. */
static void send_pfns(unsigned q, const uint32_t *pfn, unsigned n)
{
	uint64_t gpa = vd_alloc(&drv, n * 4);
	memcpy(vd_ptr(&drv, gpa, n * 4), pfn, n * 4);
	struct vd_seg seg = { gpa, n * 4, false };
	uint16_t head = vd_submit(&drv, q, &seg, 1);
	uint32_t id, len;
	assert_true(vd_used(&drv, q, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
}

/* Resident bytes of guest RAM: the mapping's Rss in /proc/self/smaps, and the
 * memfd's allocated blocks. */
static uint64_t mapping_rss_kb(void)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	assert_non_null(f);
	char line[512], want[32];
	snprintf(want, sizeof(want), "%" PRIxPTR "-", (uintptr_t)drv.mem.host);
	bool in = false;
	uint64_t kb = UINT64_MAX;
	while (fgets(line, sizeof(line), f)) {
		char *dash = strchr(line, '-'), *sp = strchr(line, ' ');
		if (dash && sp && dash < sp) /* a mapping's header line: start-end perms ... */
			in = strncmp(line, want, strlen(want)) == 0;
		else if (in && strncmp(line, "Rss:", 4) == 0) {
			kb = strtoull(line + 4, NULL, 10);
			break;
		}
	}
	fclose(f);
	assert_true(kb != UINT64_MAX);
	return kb;
}

static uint64_t memfd_kb(void)
{
	struct stat st;
	assert_int_equal(fstat(drv.mem.fd, &st), 0);
	return (uint64_t)st.st_blocks / 2;
}

static void test_config(void **s)
{
	vd_write32(&drv, 0x14, 0);
	uint32_t feat = vd_read32(&drv, 0x10);
	assert_true(feat & (1u << VIRTIO_BALLOON_F_STATS_VQ));
	assert_false(feat & (1u << VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	assert_false(feat & (1u << VIRTIO_BALLOON_F_MUST_TELL_HOST));
	assert_int_equal(vd_cfg_read(&drv, 0, 4), 0);
	uint32_t gen = vd_read32(&drv, 0xfc);
	virtio_balloon_request_pages(&bal, 1000);
	assert_int_equal(vd_cfg_read(&drv, 0, 4), 1000);
	assert_int_not_equal(vd_read32(&drv, 0xfc), gen);
	assert_int_equal(vd_ack(&drv), VIRTIO_MMIO_INT_CONFIG);
	/* The driver reports progress in actual; num_pages is not its to write. */
	vd_cfg_write(&drv, 4, 4, 640);
	assert_int_equal(bal.actual, 640);
	assert_int_equal(vd_cfg_read(&drv, 4, 4), 640);
	assert_int_equal(actual_calls, 1);
	assert_int_equal(last_actual, 640);
	vd_cfg_write(&drv, 0, 4, 7);
	assert_int_equal(vd_cfg_read(&drv, 0, 4), 1000);
	vd_cfg_write(&drv, 5, 1, 0x01); /* a byte-wide write into actual */
	assert_int_equal(bal.actual, 0x180); /* 0x280 with byte 1 replaced */
}

static void test_inflate_frees_memory(void **s)
{
	const uint64_t base = 16u << 20, bytes = 32u << 20, pages = bytes / 4096;
	assert_int_equal(gm_fill(&drv.mem, base, 0x5a, bytes), 0); /* the guest used it */
	uint64_t rss_before = mapping_rss_kb(), fd_before = memfd_kb();
	uint32_t pfn[256];
	for (uint64_t p = 0; p < pages; p += 256) {
		for (unsigned i = 0; i < 256; i++)
			pfn[i] = (uint32_t)((base >> 12) + p + i);
		send_pfns(BALLOON_INFLATEQ, pfn, 256);
	}
	uint64_t rss_after = mapping_rss_kb(), fd_after = memfd_kb();
	printf("balloon: inflating %" PRIu64 " pages: guest RAM Rss %" PRIu64 " -> %" PRIu64
	       " KiB, memfd %" PRIu64 " -> %" PRIu64 " KiB\n",
	       pages, rss_before, rss_after, fd_before, fd_after);
	assert_int_equal(bal.inflated_pages, pages);
	assert_int_equal(discarded_pages, pages);
	assert_int_equal(discards, (int)(pages / 256)); /* one run per chain */
	assert_true(rss_before >= rss_after + 30 * 1024);
	assert_true(fd_before >= fd_after + 30 * 1024);
	/* A discarded page reads back as zeros, as the guest must expect. */
	uint8_t b;
	gm_read(&drv.mem, base + 4096 * 17, &b, 1);
	assert_int_equal(b, 0);
	/* Deflate: the guest takes them back; nothing is discarded. */
	send_pfns(BALLOON_DEFLATEQ, pfn, 256);
	assert_int_equal(bal.deflated_pages, 256);
	assert_int_equal(discarded_pages, pages);
}

static void test_pfns_outside_ram_skipped(void **s)
{
	uint32_t pfn[6] = { RAM >> 12, (RAM >> 12) - 1, 0xffffffffu, 0x100000, 300, 301 };
	send_pfns(BALLOON_INFLATEQ, pfn, 6);
	assert_int_equal(bal.bad_pfns, 3);     /* 64 MiB, 0xffffffff<<12, 4 GiB */
	assert_int_equal(bal.inflated_pages, 3);
	assert_int_equal(discard_outside, 0);
	assert_int_equal(discards, 2);         /* the last page; then 300-301 as one run */
	send_pfns(BALLOON_DEFLATEQ, pfn, 3);
	assert_int_equal(bal.bad_pfns, 5);
	assert_int_equal(bal.deflated_pages, 1);
}

static void test_odd_lengths(void **s)
{
	/* 6 bytes: one PFN and two stray bytes; a writable-only chain: nothing. */
	uint64_t gpa = vd_alloc(&drv, 6);
	uint32_t p = 400;
	memcpy(vd_ptr(&drv, gpa, 4), &p, 4);
	struct vd_seg seg = { gpa, 6, false };
	vd_submit(&drv, BALLOON_INFLATEQ, &seg, 1);
	seg.writable = true;
	vd_submit(&drv, BALLOON_INFLATEQ, &seg, 1);
	uint32_t id, len;
	assert_true(vd_used(&drv, BALLOON_INFLATEQ, &id, &len));
	assert_true(vd_used(&drv, BALLOON_INFLATEQ, &id, &len));
	assert_int_equal(bal.inflated_pages, 1);
	assert_int_equal(discards, 1);
}

static uint64_t stats_buffer(const uint16_t *tags, const uint64_t *vals, unsigned n)
{
	uint64_t gpa = vd_alloc(&drv, 10 * n);
	uint8_t *p = vd_ptr(&drv, gpa, 10 * n);
	for (unsigned i = 0; i < n; i++) {
		memcpy(p + 10 * i, &tags[i], 2);
		memcpy(p + 10 * i + 2, &vals[i], 8);
	}
	return gpa;
}

static void test_stats_protocol(void **s)
{
	struct balloon_stat st[BALLOON_MAX_STATS];
	assert_int_equal(virtio_balloon_get_stats(&bal, st, BALLOON_MAX_STATS), -ENODATA);
	assert_int_equal(virtio_balloon_request_stats(&bal), -EAGAIN);
	/* The driver queues its first buffer at start-up, already filled. */
	uint16_t tags[3] = { VIRTIO_BALLOON_S_MEMFREE, VIRTIO_BALLOON_S_MEMTOT,
	                     VIRTIO_BALLOON_S_AVAIL };
	uint64_t vals[3] = { 100 << 20, 512 << 20, 200 << 20 };
	uint64_t buf = stats_buffer(tags, vals, 3);
	struct vd_seg seg = { buf, 30, false };
	uint16_t head = vd_submit(&drv, BALLOON_STATSQ, &seg, 1);
	uint32_t id, len;
	assert_false(vd_used(&drv, BALLOON_STATSQ, &id, &len)); /* held */
	assert_int_equal(drv.line, 0);
	assert_int_equal(stats_ready_calls, 1);
	assert_int_equal(virtio_balloon_get_stats(&bal, st, BALLOON_MAX_STATS), 3);
	assert_int_equal(st[1].tag, VIRTIO_BALLOON_S_MEMTOT);
	assert_int_equal(st[1].val, 512 << 20);
	/* The host asks: the buffer comes back, the driver refills and requeues. */
	assert_int_equal(virtio_balloon_request_stats(&bal), 0);
	assert_true(vd_used(&drv, BALLOON_STATSQ, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(drv.line, 1);
	assert_int_equal(virtio_balloon_request_stats(&bal), -EAGAIN); /* outstanding */
	vals[0] = 50 << 20;
	stats_buffer(tags, vals, 3);
	memcpy(vd_ptr(&drv, buf, 30), vd_ptr(&drv, drv.heap_next - 32, 30), 30);
	head = vd_submit(&drv, BALLOON_STATSQ, &seg, 1);
	assert_false(vd_used(&drv, BALLOON_STATSQ, &id, &len));
	assert_int_equal(stats_ready_calls, 2);
	assert_int_equal(virtio_balloon_get_stats(&bal, st, 1), 1);
	assert_int_equal(st[0].val, 50 << 20);
	/* A second buffer while one is held is read and returned at once. */
	uint64_t extra = stats_buffer(tags, vals, 2);
	struct vd_seg seg2 = { extra, 25, false }; /* 2 entries and 5 stray bytes */
	vd_submit(&drv, BALLOON_STATSQ, &seg2, 1);
	assert_true(vd_used(&drv, BALLOON_STATSQ, &id, &len));
	assert_int_equal(bal.stats_extra_buffers, 1);
	assert_int_equal(virtio_balloon_get_stats(&bal, st, BALLOON_MAX_STATS), 2);
	assert_int_equal(virtio_balloon_request_stats(&bal), 0);
	assert_true(vd_used(&drv, BALLOON_STATSQ, &id, &len));
	assert_int_equal(id, head);
}

static void test_stats_not_negotiated(void **s)
{
	vd_stop(&drv);
	assert_int_equal(start(false, 0), 15);
	assert_int_equal(virtio_balloon_request_stats(&bal), -ENOTSUP);
}

static void test_deflate_on_oom_offered(void **s)
{
	vd_stop(&drv);
	assert_int_equal(start(true, (1ull << VIRTIO_BALLOON_F_STATS_VQ) |
	                                 (1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM)), 15);
	vd_write32(&drv, 0x14, 0);
	assert_true(vd_read32(&drv, 0x10) & (1u << VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	uint32_t pfn[1] = { 500 };
	send_pfns(BALLOON_DEFLATEQ, pfn, 1);
	assert_int_equal(bal.deflated_pages, 1);
}

static void test_hostile_and_reset(void **s)
{
	uint16_t tag = 4;
	uint64_t val = 1;
	uint64_t buf = stats_buffer(&tag, &val, 1);
	struct vd_seg seg = { buf, 10, false };
	vd_submit(&drv, BALLOON_STATSQ, &seg, 1);
	assert_true(bal.stats_held);
	vd_cfg_write(&drv, 4, 4, 5);
	struct vd_seg bad = { RAM - 4, 8, false };
	vd_submit(&drv, BALLOON_INFLATEQ, &bad, 1);
	assert_true(vd_read32(&drv, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(discards, 0);
	vd_write32(&drv, 0x70, 0);
	assert_false(bal.stats_held);
	assert_int_equal(bal.actual, 0);
	assert_int_equal(virtio_balloon_request_stats(&bal), -ENOTSUP);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_config), T(test_inflate_frees_memory), T(test_pfns_outside_ram_skipped),
		T(test_odd_lengths), T(test_stats_protocol), T(test_stats_not_negotiated),
		T(test_deflate_on_oom_offered), T(test_hostile_and_reset),
	};
	return cmocka_run_group_tests_name("balloon", tests, NULL, NULL);
}
