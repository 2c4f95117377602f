/* virtio-rng through the virtio-mmio transport, driven the way a driver does. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "devices/rng.h"
#include "lib/vdriver.h"

static struct vdriver drv;
static struct virtio_rng rng;
static int entropy_calls, entropy_fail;
static uint8_t counter;

/* Deterministic "entropy": a counter, so tests can check every byte. */
static int fake_entropy(void *ctx, void *buf, size_t len)
{
	entropy_calls++;
	if (entropy_fail)
		return -EIO;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = counter++;
	return 0;
}

static int setup(void **s)
{
	struct rng_host h = { .entropy = fake_entropy };
	virtio_rng_init(&rng, &h);
	entropy_calls = entropy_fail = 0;
	counter = 0;
	assert_int_equal(vd_start(&drv, &rng.dev, 0, 1), 15);
	return 0;
}

static int teardown(void **s)
{
	vd_stop(&drv);
	return 0;
}

/* Submit segs, expect one used element for it; returns the used length. */
static uint32_t roundtrip(const struct vd_seg *segs, unsigned n)
{
	uint16_t head = vd_submit(&drv, 0, segs, n);
	uint32_t id, len;
	assert_true(vd_used(&drv, 0, &id, &len));
	assert_int_equal(id, head);
	return len;
}

static void test_fills_buffers(void **s)
{
	uint64_t a = vd_alloc(&drv, 8), b = vd_alloc(&drv, 4);
	struct vd_seg segs[2] = { { a, 8, true }, { b, 4, true } };
	assert_int_equal(roundtrip(segs, 2), 12);
	uint8_t *pa = vd_ptr(&drv, a, 8), *pb = vd_ptr(&drv, b, 4);
	for (int i = 0; i < 8; i++)
		assert_int_equal(pa[i], i);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pb[i], 8 + i);
	assert_int_equal(drv.line, 1);
	assert_int_equal(vd_read32(&drv, 0x60), 1);
	vd_write32(&drv, 0x64, 1);
	assert_int_equal(drv.line, 0);
	assert_int_equal(rng.bytes_given, 12);
}

static void test_readonly_buffer_gets_nothing(void **s)
{
	struct vd_seg seg = { vd_alloc(&drv, 8), 8, false };
	assert_int_equal(roundtrip(&seg, 1), 0);
	assert_int_equal(entropy_calls, 0);
}

static void test_entropy_failure_returns_empty(void **s)
{
	entropy_fail = 1;
	uint64_t a = vd_alloc(&drv, 8);
	struct vd_seg seg = { a, 8, true };
	assert_int_equal(roundtrip(&seg, 1), 0);
	uint8_t zero[8] = { 0 };
	assert_memory_equal(vd_ptr(&drv, a, 8), zero, 8);
}

static void test_large_request_is_capped(void **s)
{
	struct vd_seg seg = { vd_alloc(&drv, 65536), 65536, true };
	assert_int_equal(roundtrip(&seg, 1), RNG_MAX_PER_REQUEST);
}

static void test_hostile_chain_needs_reset(void **s)
{
	/* A descriptor whose buffer runs off the end of guest memory. */
	struct vd_seg seg = { VD_RAM - 4, 8, true };
	vd_submit(&drv, 0, &seg, 1);
	assert_true(vd_read32(&drv, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(vd_read32(&drv, 0x60) & 2, 2);
	uint32_t id, len;
	assert_false(vd_used(&drv, 0, &id, &len));
	assert_int_equal(entropy_calls, 0);
	/* A reset brings it back. */
	vd_write32(&drv, 0x70, 0);
	assert_int_equal(vd_read32(&drv, 0x70), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fills_buffers), T(test_readonly_buffer_gets_nothing),
		T(test_entropy_failure_returns_empty), T(test_large_request_is_capped),
		T(test_hostile_chain_needs_reset),
	};
	return cmocka_run_group_tests_name("rng", tests, NULL, NULL);
}
