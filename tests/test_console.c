/* virtio-console: guest -> host bytes, host -> guest input (whole, partial
 * when buffers are scarce, retried on rx_space), config size, hostile chains. */
#include "testutil.h"

#include <string.h>

#include "devices/console.h"
#include "lib/vdriver.h"

static struct vdriver drv;
static struct virtio_console con;
static uint8_t out[1 << 18];
static size_t out_len;
static int writes, rx_space_calls;
/* What the "vmm" still holds back for the guest, retried on rx_space. */
static const char *pending;
static size_t pending_len;

static void host_write(void *ctx, const void *buf, size_t len)
{
	writes++;
	assert_true(out_len + len <= sizeof(out));
	memcpy(out + out_len, buf, len);
	out_len += len;
}

static void host_rx_space(void *ctx)
{
	rx_space_calls++;
	if (pending_len) {
		size_t n = virtio_console_host_input(&con, pending, pending_len);
		pending += n;
		pending_len -= n;
	}
}

static int setup(void **s)
{
	struct console_host h = { .write = host_write, .rx_space = host_rx_space };
	virtio_console_init(&con, &h);
	out_len = 0;
	writes = rx_space_calls = 0;
	pending = NULL;
	pending_len = 0;
	assert_int_equal(vd_start(&drv, &con.dev, 1ull << VIRTIO_CONSOLE_F_SIZE, 2), 15);
	return 0;
}

static int teardown(void **s)
{
	vd_stop(&drv);
	return 0;
}

static void test_config_size(void **s)
{
	vd_write32(&drv, 0x14, 0);
	assert_true(vd_read32(&drv, 0x10) & (1u << VIRTIO_CONSOLE_F_SIZE));
	assert_false(vd_read32(&drv, 0x10) & (1u << VIRTIO_CONSOLE_F_MULTIPORT));
	assert_int_equal(vd_cfg_read(&drv, 0, 2), 80);
	assert_int_equal(vd_cfg_read(&drv, 2, 2), 25);
	assert_int_equal(vd_cfg_read(&drv, 4, 4), 1);
	uint32_t gen = vd_read32(&drv, 0xfc);
	virtio_console_set_size(&con, 132, 43);
	assert_int_equal(vd_cfg_read(&drv, 0, 4), 132 | (43u << 16));
	assert_int_not_equal(vd_read32(&drv, 0xfc), gen);
	assert_int_equal(vd_ack(&drv) & VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_CONFIG);
	/* Config space is read-only: a write changes nothing. */
	vd_cfg_write(&drv, 0, 2, 1);
	assert_int_equal(vd_cfg_read(&drv, 0, 2), 132);
}

static void test_guest_to_host(void **s)
{
	uint64_t a = vd_alloc(&drv, 6), b = vd_alloc(&drv, 7);
	memcpy(vd_ptr(&drv, a, 6), "hello ", 6);
	memcpy(vd_ptr(&drv, b, 7), "world\r\n", 7);
	struct vd_seg segs[2] = { { a, 6, false }, { b, 7, false } };
	uint16_t head = vd_submit(&drv, CONSOLE_TXQ, segs, 2);
	uint32_t id, len;
	assert_true(vd_used(&drv, CONSOLE_TXQ, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(out_len, 13);
	assert_memory_equal(out, "hello world\r\n", 13);
	assert_int_equal(drv.line, 1);
	/* Several chains in one notify keep their order. */
	memcpy(vd_ptr(&drv, a, 6), "first ", 6);
	struct vd_seg one = { a, 6, false }, two = { b, 7, false };
	vd_submit(&drv, CONSOLE_TXQ, &one, 1);
	vd_submit(&drv, CONSOLE_TXQ, &two, 1);
	assert_int_equal(out_len, 26);
	assert_memory_equal(out + 13, "first world\r\n", 13);
	assert_int_equal(con.tx_bytes, 26);
}

static void test_large_chain_in_chunks(void **s)
{
	uint32_t n = 20000;
	uint64_t a = vd_alloc(&drv, n);
	uint8_t *p = vd_ptr(&drv, a, n);
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7);
	struct vd_seg seg = { a, n, false };
	vd_submit(&drv, CONSOLE_TXQ, &seg, 1);
	assert_int_equal(out_len, n);
	assert_memory_equal(out, p, n);
	assert_true(writes > 1);
}

static void test_oversized_chain_is_bounded(void **s)
{
	uint32_t n = 40000;
	uint64_t a = vd_alloc(&drv, n);
	struct vd_seg segs[2] = { { a, n, false }, { a, n, false } };
	vd_submit(&drv, CONSOLE_TXQ, segs, 2);
	assert_int_equal(out_len, CONSOLE_MAX_TX_CHAIN);
	assert_int_equal(con.tx_truncated, 2 * n - CONSOLE_MAX_TX_CHAIN);
}

static void test_host_to_guest(void **s)
{
	uint64_t buf = vd_rx_buffer(&drv, CONSOLE_RXQ, 64);
	assert_int_equal(rx_space_calls, 1);
	vd_ack(&drv);
	assert_int_equal(virtio_console_host_input(&con, "ls -l\n", 6), 6);
	uint32_t id, len;
	assert_true(vd_used(&drv, CONSOLE_RXQ, &id, &len));
	assert_int_equal(len, 6);
	assert_memory_equal(vd_ptr(&drv, buf, 6), "ls -l\n", 6);
	assert_int_equal(drv.line, 1);
	assert_int_equal(con.rx_bytes, 6);
}

static void test_partial_input_and_retry(void **s)
{
	/* No buffers at all: nothing placed, no interrupt. */
	assert_int_equal(virtio_console_host_input(&con, "abc", 3), 0);
	assert_int_equal(drv.line, 0);
	uint64_t b1 = vd_rx_buffer(&drv, CONSOLE_RXQ, 4), b2 = vd_rx_buffer(&drv, CONSOLE_RXQ, 3);
	const char *msg = "0123456789abcdef";
	size_t n = virtio_console_host_input(&con, msg, 16);
	assert_int_equal(n, 7);
	uint32_t id, len;
	assert_true(vd_used(&drv, CONSOLE_RXQ, &id, &len));
	assert_int_equal(len, 4);
	assert_true(vd_used(&drv, CONSOLE_RXQ, &id, &len));
	assert_int_equal(len, 3);
	assert_memory_equal(vd_ptr(&drv, b1, 4), "0123", 4);
	assert_memory_equal(vd_ptr(&drv, b2, 3), "456", 3);
	/* The vmm keeps the rest; the next buffer triggers rx_space and the retry. */
	pending = msg + n;
	pending_len = 16 - n;
	uint64_t b3 = vd_rx_buffer(&drv, CONSOLE_RXQ, 5);
	assert_int_equal(pending_len, 4);
	assert_true(vd_used(&drv, CONSOLE_RXQ, &id, &len));
	assert_int_equal(len, 5);
	assert_memory_equal(vd_ptr(&drv, b3, 5), "789ab", 5);
	uint64_t b4 = vd_rx_buffer(&drv, CONSOLE_RXQ, 100);
	assert_int_equal(pending_len, 0);
	assert_true(vd_used(&drv, CONSOLE_RXQ, &id, &len));
	assert_int_equal(len, 4);
	assert_memory_equal(vd_ptr(&drv, b4, 4), "cdef", 4);
	assert_false(vd_used(&drv, CONSOLE_RXQ, &id, &len));
}

static void test_readonly_rx_buffer(void **s)
{
	/* A receive buffer the device may not write is returned empty and counted. */
	uint64_t a = vd_alloc(&drv, 8);
	struct vd_seg seg = { a, 8, false };
	vd_submit(&drv, CONSOLE_RXQ, &seg, 1);
	uint64_t b = vd_rx_buffer(&drv, CONSOLE_RXQ, 8);
	assert_int_equal(virtio_console_host_input(&con, "xy", 2), 2);
	uint32_t id, len;
	assert_true(vd_used(&drv, CONSOLE_RXQ, &id, &len));
	assert_int_equal(len, 0);
	assert_true(vd_used(&drv, CONSOLE_RXQ, &id, &len));
	assert_int_equal(len, 2);
	assert_memory_equal(vd_ptr(&drv, b, 2), "xy", 2);
	assert_int_equal(con.rx_bad_chains, 1);
}

static void test_tx_writable_part_ignored(void **s)
{
	uint64_t a = vd_alloc(&drv, 4), w = vd_alloc(&drv, 4);
	memcpy(vd_ptr(&drv, a, 4), "data", 4);
	struct vd_seg segs[2] = { { a, 4, false }, { w, 4, true } };
	vd_submit(&drv, CONSOLE_TXQ, segs, 2);
	uint32_t id, len;
	assert_true(vd_used(&drv, CONSOLE_TXQ, &id, &len));
	assert_int_equal(len, 0);
	assert_int_equal(out_len, 4);
}

static void test_hostile_chain_needs_reset(void **s)
{
	uint64_t a = vd_alloc(&drv, 8);
	/* A buffer that runs past the end of guest memory. */
	struct vd_seg seg = { VD_RAM - 4, 8, false };
	vd_submit(&drv, CONSOLE_TXQ, &seg, 1);
	assert_true(vd_read32(&drv, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(out_len, 0);
	/* The receive side with a looping chain: nothing placed, no crash. */
	seg = (struct vd_seg){ a, 8, true };
	vd_submit(&drv, CONSOLE_RXQ, &seg, 1);
	/* desc 0 of queue 0 points at itself */
	vd_put_desc(&drv, CONSOLE_RXQ, 0, a, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	assert_int_equal(virtio_console_host_input(&con, "zz", 2), 0);
	assert_true(con.dev.vq[CONSOLE_RXQ].broken);
	/* Reset, and the device works again. */
	vd_write32(&drv, 0x70, 0);
	assert_int_equal(vd_read32(&drv, 0x70), 0);
	assert_int_equal(virtio_console_host_input(&con, "zz", 2), 0);
}

static void test_input_before_driver_ok(void **s)
{
	vd_write32(&drv, 0x70, 0);
	assert_int_equal(virtio_console_host_input(&con, "early", 5), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_config_size), T(test_guest_to_host), T(test_large_chain_in_chunks),
		T(test_oversized_chain_is_bounded), T(test_host_to_guest),
		T(test_partial_input_and_retry), T(test_readonly_rx_buffer),
		T(test_tx_writable_part_ignored), T(test_hostile_chain_needs_reset),
		T(test_input_before_driver_ok),
	};
	return cmocka_run_group_tests_name("console", tests, NULL, NULL);
}
