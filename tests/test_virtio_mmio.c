/* The virtio-mmio transport: identity, feature negotiation, status machine,
 * queue set-up and its lock once live, notify, interrupts, config space. */
#include "testutil.h"

#include <string.h>

#include "vmm/virtio_mmio.h"

#define RAM (1u << 20)
static struct guest_mem gm;
static struct virtio_mmio m;
static struct virtio_device dev;
static int line, line_changes, notified_q, notifies, activated, resets;
static uint8_t cfg[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static int fail_activate;

static void cfg_read(struct virtio_device *d, uint32_t off, void *buf, uint32_t len)
{
	memcpy(buf, cfg + off, len);
}
static void cfg_write(struct virtio_device *d, uint32_t off, const void *buf, uint32_t len)
{
	memcpy(cfg + off, buf, len);
}
static int act(struct virtio_device *d) { activated++; return fail_activate; }
static void notify(struct virtio_device *d, unsigned q) { notified_q = (int)q; notifies++; }
static void rst(struct virtio_device *d) { resets++; }

static const struct virtio_device_ops ops = {
	.name = "dummy", .device_id = 42, .num_queues = 2, .queue_max = 16,
	.features = 1ull << 5, .config_size = sizeof(cfg),
	.config_read = cfg_read, .config_write = cfg_write, .activate = act,
	.queue_notify = notify, .reset = rst,
};

static void set_irq(void *ctx, int level) { line = level; line_changes++; }

static uint32_t rd(uint64_t off) { return (uint32_t)virtio_mmio_bus_ops.read(&m, off, 4); }
static void wr(uint64_t off, uint32_t v) { virtio_mmio_bus_ops.write(&m, off, 4, v); }

static int setup(void **s)
{
	static int made;
	if (!made) {
		assert_int_equal(gm_create(&gm, RAM), 0);
		made = 1;
	}
	memset(&dev, 0, sizeof(dev));
	dev.ops = &ops;
	virtio_mmio_init(&m, &dev, &gm, set_irq, NULL);
	line = line_changes = notifies = activated = resets = fail_activate = 0;
	notified_q = -1;
	return 0;
}

/* Driver side of initialisation, as a Linux driver does it. */
static void negotiate(uint64_t features)
{
	wr(0x70, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(0x24, 0);
	wr(0x20, (uint32_t)features);
	wr(0x24, 1);
	wr(0x20, (uint32_t)(features >> 32));
	wr(0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
}

static void setup_queue(unsigned qi, uint16_t num, uint64_t desc, uint64_t drv, uint64_t devr)
{
	wr(0x30, qi);
	wr(0x38, num);
	wr(0x80, (uint32_t)desc);
	wr(0x84, (uint32_t)(desc >> 32));
	wr(0x90, (uint32_t)drv);
	wr(0x94, 0);
	wr(0xa0, (uint32_t)devr);
	wr(0xa4, 0);
	wr(0x44, 1);
}

static void test_identity(void **s)
{
	assert_int_equal(rd(0x000), 0x74726976);
	assert_int_equal(rd(0x004), 2);
	assert_int_equal(rd(0x008), 42);
	wr(0x14, 0);
	assert_int_equal(rd(0x010) & (1u << 5), 1u << 5);
	wr(0x14, 1);
	assert_int_equal(rd(0x010) & 1, 1); /* VERSION_1 is bit 32 */
	wr(0x14, 7);
	assert_int_equal(rd(0x010), 0);
	/* Narrow register access is refused, not half-applied. */
	assert_int_equal(virtio_mmio_bus_ops.read(&m, 0, 1), 0);
	virtio_mmio_bus_ops.write(&m, 0x70, 2, 1);
	assert_int_equal(rd(0x70), 0);
}

static void test_features_ok_requires_offered_and_version1(void **s)
{
	negotiate(1ull << 6); /* not offered, and no VERSION_1 */
	assert_int_equal(rd(0x70) & VIRTIO_STATUS_FEATURES_OK, 0);
	wr(0x70, 0);
	negotiate(1ull << 5); /* offered but no VERSION_1 */
	assert_int_equal(rd(0x70) & VIRTIO_STATUS_FEATURES_OK, 0);
	wr(0x70, 0);
	negotiate((1ull << 5) | (1ull << VIRTIO_F_VERSION_1));
	assert_int_equal(rd(0x70) & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
	assert_true(virtio_has_feature(&dev, 5));
	/* Features are frozen after FEATURES_OK. */
	wr(0x24, 0);
	wr(0x20, 0);
	assert_true(virtio_has_feature(&dev, 5));
}

static void test_queue_setup_and_notify(void **s)
{
	negotiate(1ull << VIRTIO_F_VERSION_1);
	assert_int_equal(rd(0x34), 16);
	setup_queue(1, 8, 0x1000, 0x2000, 0x3000);
	assert_int_equal(rd(0x44), 1);
	wr(0x70, rd(0x70) | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(activated, 1);
	assert_true(dev.active);
	assert_int_equal(dev.vq[1].size, 8);
	assert_int_equal(dev.vq[1].desc_gpa, 0x1000);
	wr(0x50, 1);
	assert_int_equal(notified_q, 1);
	/* Queue 0 was never made ready; queue 5 does not exist. */
	wr(0x50, 0);
	wr(0x50, 5);
	assert_int_equal(notifies, 1);
}

static void test_kick_before_driver_ok_is_delivered_at_activation(void **s)
{
	negotiate(1ull << VIRTIO_F_VERSION_1);
	setup_queue(1, 8, 0x1000, 0x2000, 0x3000);
	wr(0x50, 1); /* as Linux's balloon does with its stats queue */
	assert_int_equal(notifies, 0);
	wr(0x70, rd(0x70) | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(notifies, 1);
	assert_int_equal(notified_q, 1);
	/* Once: a later activation of nothing new does not repeat it. */
	wr(0x70, rd(0x70));
	assert_int_equal(notifies, 1);
}

static void test_live_queue_cannot_move(void **s)
{
	negotiate(1ull << VIRTIO_F_VERSION_1);
	setup_queue(0, 8, 0x1000, 0x2000, 0x3000);
	wr(0x70, rd(0x70) | VIRTIO_STATUS_DRIVER_OK);
	/* After DRIVER_OK: size, addresses and readiness are locked. */
	wr(0x30, 0);
	wr(0x38, 16);
	wr(0x80, 0x8000);
	wr(0x44, 0);
	assert_int_equal(m.q[0].num, 8);
	assert_int_equal(m.q[0].desc, 0x1000);
	assert_int_equal(dev.vq[0].size, 8);
	assert_int_equal(dev.vq[0].desc_gpa, 0x1000);
	assert_int_equal(rd(0x44), 1);
}

static void test_ready_queue_cannot_move_before_driver_ok(void **s)
{
	negotiate(1ull << VIRTIO_F_VERSION_1);
	setup_queue(0, 8, 0x1000, 0x2000, 0x3000);
	wr(0x80, 0x9000);
	assert_int_equal(dev.vq[0].desc_gpa, 0x1000);
	assert_int_equal(m.q[0].desc, 0x1000);
}

static void test_bad_queue_needs_reset(void **s)
{
	negotiate(1ull << VIRTIO_F_VERSION_1);
	setup_queue(0, 8, RAM - 16, 0x2000, 0x3000); /* descriptors off the end of RAM */
	assert_int_equal(rd(0x44), 0);
	assert_int_equal(rd(0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(rd(0x60) & VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(line, 1);
	setup(NULL);
	negotiate(1ull << VIRTIO_F_VERSION_1);
	setup_queue(0, 32, 0x1000, 0x2000, 0x3000); /* above QueueNumMax */
	assert_int_equal(rd(0x44), 0);
	setup(NULL);
	negotiate(1ull << VIRTIO_F_VERSION_1);
	setup_queue(0, 6, 0x1000, 0x2000, 0x3000); /* not a power of two */
	assert_int_equal(rd(0x44), 0);
}

static void test_activate_failure_needs_reset(void **s)
{
	fail_activate = -1;
	negotiate(1ull << VIRTIO_F_VERSION_1);
	wr(0x70, rd(0x70) | VIRTIO_STATUS_DRIVER_OK);
	assert_false(dev.active);
	assert_true(rd(0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_driver_ok_needs_features_ok(void **s)
{
	wr(0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(0x70) & VIRTIO_STATUS_DRIVER_OK, 0);
	assert_int_equal(activated, 0);
}

static void test_interrupts_and_ack(void **s)
{
	dev.signal_used(&dev, 0);
	assert_int_equal(line, 1);
	assert_int_equal(rd(0x60), VIRTIO_MMIO_INT_VRING);
	dev.signal_config(&dev);
	assert_int_equal(rd(0x60), VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(rd(0xfc), 1); /* config generation moved */
	wr(0x64, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(line, 1);
	wr(0x64, VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(line, 0);
	assert_int_equal(line_changes, 2); /* only edges are reported */
}

static void test_reset(void **s)
{
	negotiate(1ull << VIRTIO_F_VERSION_1);
	setup_queue(0, 8, 0x1000, 0x2000, 0x3000);
	wr(0x70, rd(0x70) | VIRTIO_STATUS_DRIVER_OK);
	dev.signal_used(&dev, 0);
	wr(0x70, 0);
	assert_int_equal(resets, 1);
	assert_int_equal(rd(0x70), 0);
	assert_int_equal(rd(0x44), 0);
	assert_int_equal(rd(0x60), 0);
	assert_int_equal(line, 0);
	assert_false(dev.active);
	assert_int_equal(dev.driver_features, 0);
	/* The queue can be set up afresh. */
	negotiate(1ull << VIRTIO_F_VERSION_1);
	setup_queue(0, 16, 0x4000, 0x5000, 0x6000);
	assert_int_equal(rd(0x44), 1);
}

static void test_status_bits_cannot_be_cleared(void **s)
{
	negotiate(1ull << VIRTIO_F_VERSION_1);
	wr(0x70, VIRTIO_STATUS_ACKNOWLEDGE);
	assert_int_equal(rd(0x70) & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
}

static void test_config_space(void **s)
{
	assert_int_equal(virtio_mmio_bus_ops.read(&m, 0x100, 1), 1);
	assert_int_equal(virtio_mmio_bus_ops.read(&m, 0x104, 4), 0x08070605);
	/* Beyond the 8-byte config: zero, no out-of-bounds read. */
	assert_int_equal(virtio_mmio_bus_ops.read(&m, 0x106, 4), 0);
	assert_int_equal(virtio_mmio_bus_ops.read(&m, 0x1f8, 8), 0);
	virtio_mmio_bus_ops.write(&m, 0x101, 1, 0xaa);
	assert_int_equal(cfg[1], 0xaa);
	virtio_mmio_bus_ops.write(&m, 0x107, 2, 0xbbbb);
	assert_int_equal(cfg[7], 8);
}

#define T(f) cmocka_unit_test_setup(f, setup)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_identity), T(test_features_ok_requires_offered_and_version1),
		T(test_queue_setup_and_notify), T(test_live_queue_cannot_move),
		T(test_kick_before_driver_ok_is_delivered_at_activation),
		T(test_ready_queue_cannot_move_before_driver_ok), T(test_bad_queue_needs_reset),
		T(test_activate_failure_needs_reset), T(test_driver_ok_needs_features_ok),
		T(test_interrupts_and_ack), T(test_reset), T(test_status_bits_cannot_be_cleared),
		T(test_config_space),
	};
	return cmocka_run_group_tests_name("virtio_mmio", tests, NULL, NULL);
}
