/* The split-virtqueue walker against every hostile input class it names, with
 * guest RAM between two PROT_NONE guard areas: touching memory outside the
 * guest would kill the test. */
#include "testutil.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/virtqueue.h"

#define RAM (1u << 20)
#define QSZ 8
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define DATA 0x10000

static uint8_t *area, *ram;
static struct guest_mem gm;
static struct virtqueue vq;
static struct vq_chain chain;
static const uint64_t FEAT_ALL = (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_F_VERSION_1);

static int setup(void **s)
{
	size_t total = RAM + 2 * 65536;
	area = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_ptr_not_equal(area, MAP_FAILED);
	ram = area + 65536;
	assert_int_equal(mprotect(ram, RAM, PROT_READ | PROT_WRITE), 0);
	struct gm_region r = { .gpa = 0, .len = RAM, .offset = 0 };
	assert_int_equal(gm_init_external(&gm, ram, RAM, &r, 1), 0);
	assert_int_equal(vq_init(&vq, &gm, QSZ, DESC, AVAIL, USED, FEAT_ALL), 0);
	return 0;
}

static int teardown(void **s)
{
	munmap(area, RAM + 2 * 65536);
	return 0;
}

static void set_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
	uint8_t *d = ram + table + 16 * i;
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void offer(uint16_t head)
{
	uint16_t idx;
	memcpy(&idx, ram + AVAIL + 2, 2);
	memcpy(ram + AVAIL + 4 + 2 * (idx % QSZ), &head, 2);
	idx++;
	memcpy(ram + AVAIL + 2, &idx, 2);
}

static uint16_t used_idx(void)
{
	uint16_t v;
	memcpy(&v, ram + USED + 2, 2);
	return v;
}

static void expect_broken(const char *why)
{
	assert_int_equal(vq_pop(&vq, &chain), -EIO);
	assert_true(vq.broken);
	if (!strstr(vq.error, why))
		fail_msg("error '%s' does not mention '%s'", vq.error, why);
	/* Stays broken: no further chain is ever handed out. */
	assert_int_equal(vq_pop(&vq, &chain), -EIO);
	assert_int_equal(used_idx(), 0);
}

static void test_simple_chain_roundtrip(void **s)
{
	memcpy(ram + DATA, "request", 7);
	set_desc(DESC, 0, DATA, 7, VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, DATA + 0x100, 16, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(vq_pop(&vq, &chain), 0); /* nothing offered yet */
	offer(0);
	assert_int_equal(vq_pop(&vq, &chain), 1);
	assert_int_equal(chain.head, 0);
	assert_int_equal(chain.nbufs, 2);
	assert_int_equal(chain.readable_len, 7);
	assert_int_equal(chain.writable_len, 16);
	char buf[8] = { 0 };
	assert_int_equal(vq_chain_read(&vq, &chain, 0, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "request");
	assert_int_equal(vq_chain_write(&vq, &chain, 2, "ok", 2), 2);
	assert_memory_equal(ram + DATA + 0x102, "ok", 2);
	/* Writes never spill past the writable part. */
	char big[32];
	memset(big, 'x', sizeof(big));
	assert_int_equal(vq_chain_write(&vq, &chain, 0, big, sizeof(big)), 16);
	assert_int_equal(vq_push(&vq, &chain, 4), 0);
	assert_int_equal(used_idx(), 1);
	uint32_t elem[2];
	memcpy(elem, ram + USED + 4, 8);
	assert_int_equal(elem[0], 0);
	assert_int_equal(elem[1], 4);
	assert_int_equal(vq_pop(&vq, &chain), 0);
	assert_false(vq.broken);
}

static void test_indirect_chain(void **s)
{
	uint64_t table = 0x5000;
	set_desc(table, 0, DATA, 10, VIRTQ_DESC_F_NEXT, 2);
	set_desc(table, 2, DATA + 0x100, 20, VIRTQ_DESC_F_WRITE, 0);
	set_desc(DESC, 3, table, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(3);
	assert_int_equal(vq_pop(&vq, &chain), 1);
	assert_int_equal(chain.head, 3);
	assert_int_equal(chain.readable_len, 10);
	assert_int_equal(chain.writable_len, 20);
}

static void test_head_out_of_range(void **s)
{
	offer(QSZ);
	expect_broken("head 8");
}

static void test_next_out_of_range(void **s)
{
	set_desc(DESC, 0, DATA, 4, VIRTQ_DESC_F_NEXT, 200);
	offer(0);
	expect_broken("next index 200");
}

static void test_descriptor_loop(void **s)
{
	set_desc(DESC, 0, DATA, 4, VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, DATA, 4, VIRTQ_DESC_F_NEXT, 0);
	offer(0);
	expect_broken("loops");
}

static void test_self_loop(void **s)
{
	set_desc(DESC, 5, DATA, 4, VIRTQ_DESC_F_NEXT, 5);
	offer(5);
	expect_broken("loops");
}

static void test_indirect_without_feature(void **s)
{
	assert_int_equal(vq_init(&vq, &gm, QSZ, DESC, AVAIL, USED, 1ull << VIRTIO_F_VERSION_1), 0);
	set_desc(DESC, 0, 0x5000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken("without VIRTIO_F_INDIRECT_DESC");
}

static void test_nested_indirect(void **s)
{
	set_desc(0x5000, 0, 0x6000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(DESC, 0, 0x5000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken("nested");
}

static void test_indirect_bad_length(void **s)
{
	set_desc(DESC, 0, 0x5000, 24, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken("multiple of 16");
}

static void test_indirect_zero_length(void **s)
{
	set_desc(DESC, 0, 0x5000, 0, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken("multiple of 16");
}

static void test_indirect_with_next(void **s)
{
	set_desc(0x5000, 0, DATA, 4, 0, 0);
	set_desc(DESC, 0, 0x5000, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	offer(0);
	expect_broken("NEXT");
}

static void test_indirect_loop(void **s)
{
	set_desc(0x5000, 0, DATA, 4, VIRTQ_DESC_F_NEXT, 1);
	set_desc(0x5000, 1, DATA, 4, VIRTQ_DESC_F_NEXT, 0);
	set_desc(DESC, 0, 0x5000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken("loops");
}

static void test_indirect_next_out_of_table(void **s)
{
	set_desc(0x5000, 0, DATA, 4, VIRTQ_DESC_F_NEXT, 2);
	set_desc(DESC, 0, 0x5000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken("indirect next index 2");
}

static void test_indirect_table_outside_memory(void **s)
{
	set_desc(DESC, 0, RAM - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken("outside guest memory");
}

static void test_address_overflow(void **s)
{
	set_desc(DESC, 0, UINT64_MAX - 8, 64, 0, 0);
	offer(0);
	expect_broken("wraps");
}

static void test_buffer_outside_memory(void **s)
{
	set_desc(DESC, 0, RAM - 8, 64, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	expect_broken("outside guest memory");
}

static void test_buffer_far_outside_memory(void **s)
{
	set_desc(DESC, 0, 1ull << 40, 64, 0, 0);
	offer(0);
	expect_broken("outside guest memory");
}

static void test_readable_after_writable(void **s)
{
	set_desc(DESC, 0, DATA, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, DATA, 4, 0, 0);
	offer(0);
	expect_broken("readable buffer after a writable");
}

static void test_zero_length_chain(void **s)
{
	set_desc(DESC, 0, DATA, 0, VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, DATA, 0, 0, 0);
	offer(0);
	expect_broken("no bytes");
}

static void test_avail_index_runs_ahead(void **s)
{
	uint16_t idx = QSZ + 1;
	memcpy(ram + AVAIL + 2, &idx, 2);
	expect_broken("runs 9 ahead");
}

static void test_used_ring_overflow(void **s)
{
	/* The driver offers the same head over and over without the device ever
	 * returning it: after a queue's worth in flight, the walker refuses. */
	set_desc(DESC, 0, DATA, 4, 0, 0);
	for (int i = 0; i < QSZ; i++) {
		offer(0);
		assert_int_equal(vq_pop(&vq, &chain), 1);
	}
	/* idx now == QSZ; push the window forward by faking more offers. */
	offer(0);
	expect_broken("in flight");
}

static void test_used_len_beyond_writable(void **s)
{
	set_desc(DESC, 0, DATA, 4, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	assert_int_equal(vq_pop(&vq, &chain), 1);
	assert_int_equal(vq_push(&vq, &chain, 5), -EIO);
	assert_true(strstr(vq.error, "exceeds") != NULL);
	assert_int_equal(used_idx(), 0);
}

static void test_push_with_nothing_in_flight(void **s)
{
	memset(&chain, 0, sizeof(chain));
	assert_int_equal(vq_push(&vq, &chain, 0), -EIO);
	assert_true(vq.broken);
}

static void test_init_rejects_bad_layouts(void **s)
{
	struct virtqueue q;
	assert_int_equal(vq_init(&q, &gm, 0, DESC, AVAIL, USED, 0), -EINVAL);
	assert_int_equal(vq_init(&q, &gm, 3, DESC, AVAIL, USED, 0), -EINVAL);
	assert_int_equal(vq_init(&q, &gm, QSZ, DESC + 8, AVAIL, USED, 0), -EINVAL);
	assert_int_equal(vq_init(&q, &gm, QSZ, DESC, AVAIL + 1, USED, 0), -EINVAL);
	assert_int_equal(vq_init(&q, &gm, QSZ, DESC, AVAIL, USED + 2, 0), -EINVAL);
	assert_int_equal(vq_init(&q, &gm, QSZ, RAM - 16, AVAIL, USED, 0), -EINVAL);
	assert_int_equal(vq_init(&q, &gm, QSZ, DESC, RAM - 4, USED, 0), -EINVAL);
	assert_int_equal(vq_init(&q, &gm, QSZ, DESC, AVAIL, UINT64_MAX - 3, 0), -EINVAL);
	assert_int_equal(vq_init(&q, &gm, 32768, 0, 0x80000, 0x90000, 0), 0);
}

static void test_notification_suppression(void **s)
{
	set_desc(DESC, 0, DATA, 4, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	assert_int_equal(vq_pop(&vq, &chain), 1);
	assert_int_equal(vq_push(&vq, &chain, 4), 0);
	assert_true(vq_should_notify(&vq));
	uint16_t f = VIRTQ_AVAIL_F_NO_INTERRUPT;
	memcpy(ram + AVAIL, &f, 2);
	assert_false(vq_should_notify(&vq));
	vq_set_notification(&vq, false);
	uint16_t uf;
	memcpy(&uf, ram + USED, 2);
	assert_int_equal(uf, VIRTQ_USED_F_NO_NOTIFY);
}

static void test_event_idx(void **s)
{
	assert_int_equal(vq_init(&vq, &gm, QSZ, DESC, AVAIL, USED,
	                         FEAT_ALL | (1ull << VIRTIO_F_EVENT_IDX)),
	                 0);
	set_desc(DESC, 0, DATA, 4, VIRTQ_DESC_F_WRITE, 0);
	/* Driver wants an interrupt only once used idx passes 2 (used_event = 2). */
	uint16_t used_event = 2;
	memcpy(ram + AVAIL + 4 + 2 * QSZ, &used_event, 2);
	bool notified[4];
	for (int i = 0; i < 4; i++) {
		offer(0);
		assert_int_equal(vq_pop(&vq, &chain), 1);
		assert_int_equal(vq_push(&vq, &chain, 0), 0);
		notified[i] = vq_should_notify(&vq);
	}
	assert_true(notified[0]);  /* first ever */
	assert_false(notified[1]); /* used 2: event 2 not yet passed */
	assert_true(notified[2]);  /* used 3 passes used_event 2 */
	assert_false(notified[3]);
	/* avail_event tells the driver where we are. */
	uint16_t avail_event;
	memcpy(&avail_event, ram + USED + 4 + 8 * QSZ, 2);
	assert_int_equal(avail_event, 4);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_simple_chain_roundtrip), T(test_indirect_chain),
		T(test_head_out_of_range), T(test_next_out_of_range), T(test_descriptor_loop),
		T(test_self_loop), T(test_indirect_without_feature), T(test_nested_indirect),
		T(test_indirect_bad_length), T(test_indirect_zero_length), T(test_indirect_with_next),
		T(test_indirect_loop), T(test_indirect_next_out_of_table),
		T(test_indirect_table_outside_memory), T(test_address_overflow),
		T(test_buffer_outside_memory), T(test_buffer_far_outside_memory),
		T(test_readable_after_writable), T(test_zero_length_chain),
		T(test_avail_index_runs_ahead), T(test_used_ring_overflow),
		T(test_used_len_beyond_writable), T(test_push_with_nothing_in_flight),
		T(test_init_rejects_bad_layouts), T(test_notification_suppression), T(test_event_idx),
	};
	return cmocka_run_group_tests_name("virtqueue", tests, NULL, NULL);
}
