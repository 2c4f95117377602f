/* The I/O bus: registration rules (overlap) and dispatch. */
#include "testutil.h"

#include <errno.h>

#include "devices/i8042.h"
#include "devices/uart8250.h"
#include "vmm/bus.h"
#include "vmm/virtio_mmio.h"

struct rec {
	uint64_t last_off, last_val;
	unsigned last_size, reads, writes;
};

static uint64_t rd(void *ctx, uint64_t off, unsigned size)
{
	struct rec *r = ctx;
	r->reads++;
	r->last_off = off;
	r->last_size = size;
	return 0x1000 + off;
}

static void wr(void *ctx, uint64_t off, unsigned size, uint64_t v)
{
	struct rec *r = ctx;
	r->writes++;
	r->last_off = off;
	r->last_size = size;
	r->last_val = v;
}

static const struct bus_device_ops ops = { .read = rd, .write = wr };

static void test_overlap_rejected(void **s)
{
	static struct bus b;
	struct rec r = { 0 };
	bus_init(&b);
	assert_int_equal(bus_register(&b, BUS_MMIO, 0x1000, 0x100, "a", &ops, &r), 0);
	/* Same start, inside, straddling either end, enclosing. */
	assert_int_equal(bus_register(&b, BUS_MMIO, 0x1000, 1, "b", &ops, &r), -EEXIST);
	assert_int_equal(bus_register(&b, BUS_MMIO, 0x1080, 4, "b", &ops, &r), -EEXIST);
	assert_int_equal(bus_register(&b, BUS_MMIO, 0xff0, 0x20, "b", &ops, &r), -EEXIST);
	assert_int_equal(bus_register(&b, BUS_MMIO, 0x10ff, 2, "b", &ops, &r), -EEXIST);
	assert_int_equal(bus_register(&b, BUS_MMIO, 0x0, 0x10000, "b", &ops, &r), -EEXIST);
	/* Adjacent on both sides is fine: ranges are half-open. */
	assert_int_equal(bus_register(&b, BUS_MMIO, 0x1100, 0x10, "c", &ops, &r), 0);
	assert_int_equal(bus_register(&b, BUS_MMIO, 0xf00, 0x100, "d", &ops, &r), 0);
	/* The same numbers in the other space do not collide. */
	assert_int_equal(bus_register(&b, BUS_PIO, 0x1000, 0x100, "e", &ops, &r), 0);
}

static void test_bad_ranges(void **s)
{
	static struct bus b;
	struct rec r = { 0 };
	bus_init(&b);
	assert_int_equal(bus_register(&b, BUS_MMIO, 0x1000, 0, "z", &ops, &r), -EINVAL);
	assert_int_equal(bus_register(&b, BUS_MMIO, UINT64_MAX - 1, 4, "w", &ops, &r), -EINVAL);
	assert_int_equal(bus_register(&b, BUS_PIO, 0xfffe, 4, "p", &ops, &r), -EINVAL);
	assert_int_equal(bus_register(&b, (enum bus_space)7, 0, 4, "s", &ops, &r), -EINVAL);
	assert_int_equal(bus_register(&b, BUS_MMIO, 0, 4, "n", NULL, &r), -EINVAL);
}

static void test_table_full(void **s)
{
	static struct bus b;
	struct rec r = { 0 };
	bus_init(&b);
	for (unsigned i = 0; i < BUS_MAX_RANGES; i++)
		assert_int_equal(bus_register(&b, BUS_MMIO, i * 0x10, 0x10, "x", &ops, &r), 0);
	assert_int_equal(bus_register(&b, BUS_MMIO, 0x100000, 0x10, "x", &ops, &r), -ENOSPC);
}

static void test_dispatch(void **s)
{
	static struct bus b;
	struct rec a = { 0 }, c = { 0 };
	bus_init(&b);
	/* Registered out of order: lookups must still find each. */
	assert_int_equal(bus_register(&b, BUS_PIO, 0x3f8, 8, "uart", &ops, &a), 0);
	assert_int_equal(bus_register(&b, BUS_PIO, 0x60, 5, "kbd", &ops, &c), 0);
	uint64_t v = 0;
	assert_int_equal(bus_read(&b, BUS_PIO, 0x3fd, 1, &v), 0);
	assert_int_equal(v, 0x1005);
	assert_int_equal(a.last_off, 5);
	assert_int_equal(bus_write(&b, BUS_PIO, 0x64, 1, 0xfe), 0);
	assert_int_equal(c.last_off, 4);
	assert_int_equal(c.last_val, 0xfe);
	/* An access straddling the end of a range is not delivered. */
	assert_int_equal(bus_read(&b, BUS_PIO, 0x3ff, 2, &v), -ENOENT);
	assert_int_equal(v, 0xffff);
	/* Unmapped: reads float high, writes vanish, nobody is called. */
	unsigned before = a.reads + c.reads;
	assert_int_equal(bus_read(&b, BUS_PIO, 0x80, 4, &v), -ENOENT);
	assert_int_equal(v, 0xffffffff);
	assert_int_equal(bus_read(&b, BUS_MMIO, 0x80, 8, &v), -ENOENT);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(bus_write(&b, BUS_PIO, 0x10, 1, 1), -ENOENT);
	assert_int_equal(a.reads + c.reads, before);
	assert_null(bus_find(&b, BUS_PIO, 0x3f8, 0));
}

/* Diagnostics name the device from the bus and the register from the device. */
static void test_describe(void **s)
{
	static struct bus b;
	bus_init(&b);
	/* ctx NULL: names depend on the kind of device only. */
	assert_int_equal(bus_register(&b, BUS_PIO, 0x3f8, UART8250_PORTS, "serial (COM1)",
	                              &uart8250_bus_ops, NULL), 0);
	assert_int_equal(bus_register(&b, BUS_PIO, I8042_BASE, I8042_PORTS, "i8042", &i8042_bus_ops,
	                              NULL), 0);
	assert_int_equal(bus_register(&b, BUS_MMIO, 0xd0000000, VIRTIO_MMIO_SIZE, "virtio-mmio slot 0",
	                              &virtio_mmio_bus_ops, NULL), 0);
	assert_int_equal(bus_register(&b, BUS_MMIO, 0x1000, 0x10, "plain", &ops, NULL), 0);
	char d[96];
	bus_describe(&b, BUS_PIO, 0x3fd, false, d, sizeof(d));
	assert_string_equal(d, "serial (COM1) register LSR");
	bus_describe(&b, BUS_PIO, 0x3f8, false, d, sizeof(d));
	assert_string_equal(d, "serial (COM1) register RBR");
	bus_describe(&b, BUS_PIO, 0x3f8, true, d, sizeof(d));
	assert_string_equal(d, "serial (COM1) register THR");
	bus_describe(&b, BUS_PIO, 0x64, false, d, sizeof(d));
	assert_string_equal(d, "i8042 register status");
	bus_describe(&b, BUS_PIO, 0x64, true, d, sizeof(d));
	assert_string_equal(d, "i8042 register command");
	bus_describe(&b, BUS_PIO, 0x62, false, d, sizeof(d));
	assert_string_equal(d, "i8042 offset 0x2");
	bus_describe(&b, BUS_PIO, 0x70, false, d, sizeof(d));
	assert_string_equal(d, "port 0x70 (no device)");
	bus_describe(&b, BUS_MMIO, 0xd0000050, true, d, sizeof(d));
	assert_string_equal(d, "virtio-mmio slot 0 register QueueNotify");
	bus_describe(&b, BUS_MMIO, 0xd0000108, false, d, sizeof(d));
	assert_string_equal(d, "virtio-mmio slot 0 config space +0x8");
	bus_describe(&b, BUS_MMIO, 0xd0000008 + 0x40, false, d, sizeof(d));
	assert_string_equal(d, "virtio-mmio slot 0 offset 0x48");
	bus_describe(&b, BUS_MMIO, 0x1004, false, d, sizeof(d)); /* no describe_reg */
	assert_string_equal(d, "plain offset 0x4");
	bus_describe(&b, BUS_MMIO, 0xd0000200, false, d, sizeof(d));
	assert_string_equal(d, "address 0xd0000200 (no device)");
	/* Truncation still terminates. */
	bus_describe(&b, BUS_MMIO, 0xd0000050, true, d, 12);
	assert_string_equal(d, "virtio-mmio");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlap_rejected),
		cmocka_unit_test(test_bad_ranges),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_describe),
	};
	return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
