/* virtio-rng through the virtio-mmio transport, driven the way a driver does. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "devices/rng.h"
#include "vmm/virtio_mmio.h"

#define RAM (1u << 20)
static struct guest_mem gm;
static struct virtio_mmio m;
static struct virtio_rng rng;
static int line, entropy_calls, entropy_fail;
static uint8_t counter;

static int fake_entropy(void *ctx, void *buf, size_t len)
{
	entropy_calls++;
	if (entropy_fail)
		return -EIO;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = counter++;
	return 0;
}

static void set_irq(void *ctx, int level) { line = level; }
static void wr(uint64_t off, uint32_t v) { virtio_mmio_bus_ops.write(&m, off, 4, v); }
static uint32_t rd(uint64_t off) { return (uint32_t)virtio_mmio_bus_ops.read(&m, off, 4); }

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = gm_span(&gm, 0x1000 + 16 * i, 16);
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void offer(uint16_t head)
{
	uint16_t idx;
	gm_read(&gm, 0x2002, &idx, 2);
	gm_write(&gm, 0x2004 + 2 * (idx % 8), &head, 2);
	idx++;
	gm_write(&gm, 0x2002, &idx, 2);
}

static int setup(void **s)
{
	static int made;
	if (!made) {
		assert_int_equal(gm_create(&gm, RAM), 0);
		made = 1;
	}
	gm_fill(&gm, 0, 0, RAM);
	struct rng_host h = { .entropy = fake_entropy };
	virtio_rng_init(&rng, &h);
	virtio_mmio_init(&m, &rng.dev, &gm, set_irq, NULL);
	line = entropy_calls = entropy_fail = 0;
	counter = 0;
	wr(0x70, 3);
	wr(0x24, 1);
	wr(0x20, 1); /* VERSION_1 */
	wr(0x70, 3 | 8);
	wr(0x30, 0);
	wr(0x38, 8);
	wr(0x80, 0x1000);
	wr(0x90, 0x2000);
	wr(0xa0, 0x3000);
	wr(0x44, 1);
	wr(0x70, 3 | 8 | 4);
	assert_int_equal(rd(0x70), 15);
	return 0;
}

static void test_fills_buffers(void **s)
{
	set_desc(0, 0x10000, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, 0x20000, 4, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	wr(0x50, 0);
	uint8_t a[8], b[4];
	gm_read(&gm, 0x10000, a, 8);
	gm_read(&gm, 0x20000, b, 4);
	for (int i = 0; i < 8; i++)
		assert_int_equal(a[i], i);
	for (int i = 0; i < 4; i++)
		assert_int_equal(b[i], 8 + i);
	uint16_t used;
	uint32_t elem[2];
	gm_read(&gm, 0x3002, &used, 2);
	gm_read(&gm, 0x3004, elem, 8);
	assert_int_equal(used, 1);
	assert_int_equal(elem[0], 0);
	assert_int_equal(elem[1], 12);
	assert_int_equal(line, 1);
	assert_int_equal(rd(0x60), 1);
	wr(0x64, 1);
	assert_int_equal(line, 0);
	assert_int_equal(rng.bytes_given, 12);
}

static void test_readonly_buffer_gets_nothing(void **s)
{
	set_desc(0, 0x10000, 8, 0, 0);
	offer(0);
	wr(0x50, 0);
	uint16_t used;
	uint32_t elem[2];
	gm_read(&gm, 0x3002, &used, 2);
	gm_read(&gm, 0x3004, elem, 8);
	assert_int_equal(used, 1);
	assert_int_equal(elem[1], 0);
	assert_int_equal(entropy_calls, 0);
}

static void test_entropy_failure_returns_empty(void **s)
{
	entropy_fail = 1;
	set_desc(0, 0x10000, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	wr(0x50, 0);
	uint32_t elem[2];
	gm_read(&gm, 0x3004, elem, 8);
	assert_int_equal(elem[1], 0);
	uint8_t a[8], zero[8] = { 0 };
	gm_read(&gm, 0x10000, a, 8);
	assert_memory_equal(a, zero, 8);
}

static void test_large_request_is_capped(void **s)
{
	set_desc(0, 0x10000, 65536, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	wr(0x50, 0);
	uint32_t elem[2];
	gm_read(&gm, 0x3004, elem, 8);
	assert_int_equal(elem[1], RNG_MAX_PER_REQUEST);
}

static void test_hostile_chain_needs_reset(void **s)
{
	set_desc(0, 0x10000, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0); /* self loop */
	offer(0);
	wr(0x50, 0);
	assert_true(rd(0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(rd(0x60) & 2, 2);
	uint16_t used;
	gm_read(&gm, 0x3002, &used, 2);
	assert_int_equal(used, 0);
	/* A reset brings it back. */
	wr(0x70, 0);
	assert_int_equal(rd(0x70), 0);
}

#define T(f) cmocka_unit_test_setup(f, setup)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fills_buffers), T(test_readonly_buffer_gets_nothing),
		T(test_entropy_failure_returns_empty), T(test_large_request_is_capped),
		T(test_hostile_chain_needs_reset),
	};
	return cmocka_run_group_tests_name("rng", tests, NULL, NULL);
}
