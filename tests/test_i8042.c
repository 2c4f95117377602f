/* tests/test_i8042.c - the i8042 subset: status, command byte, self-test,
 * port B, reset, and that bad accesses are harmless. */
#include "tests/testutil.h"

#include "devices/i8042.h"

static int resets;

static void on_reset(void *ctx)
{
	(*(int *)ctx)++;
}

static struct i8042 K;

static int setup(void **state)
{
	resets = 0;
	struct i8042_host h = { &resets, on_reset };
	i8042_init(&K, &h);
	return 0;
}

static uint8_t in(unsigned port)
{
	return (uint8_t)i8042_bus_ops.read(&K, port - I8042_BASE, 1);
}

static void out(unsigned port, uint8_t v)
{
	i8042_bus_ops.write(&K, port - I8042_BASE, 1, v);
}

static void test_status_idle(void **state)
{
	assert_int_equal(in(0x64), 0x04); /* no data, system flag */
}

static void test_reset_command(void **state)
{
	out(0x64, 0xfe);
	assert_int_equal(resets, 1);
	out(0x64, 0xff); /* pulses no line */
	assert_int_equal(resets, 1);
	out(0x60, 0xfe); /* a data byte is not a command */
	assert_int_equal(resets, 1);
}

static void test_reset_without_host(void **state)
{
	struct i8042 k;
	i8042_init(&k, NULL);
	i8042_bus_ops.write(&k, 4, 1, 0xfe);
	assert_int_equal(k.out_full, 0);
}

static void test_command_byte_read_write(void **state)
{
	out(0x64, 0x20);
	assert_int_equal(in(0x64) & 1, 1);
	assert_int_equal(in(0x60), 0x44);
	assert_int_equal(in(0x64) & 1, 0);
	out(0x64, 0x60);
	out(0x60, 0x03);
	out(0x64, 0x20);
	assert_int_equal(in(0x60), 0x03);
	assert_int_equal(in(0x64), 0x00); /* SYS now clear, buffer empty */
	out(0x64, 0x61); /* other RAM bytes */
	out(0x60, 0x99);
	out(0x64, 0x21);
	assert_int_equal(in(0x60), 0x99);
}

static void test_self_test(void **state)
{
	out(0x64, 0x60);
	out(0x60, 0x00);
	out(0x64, 0xaa);
	assert_int_equal(in(0x64), 0x05);
	assert_int_equal(in(0x60), 0x55);
	assert_int_equal(in(0x64), 0x04);
	out(0x64, 0xab);
	assert_int_equal(in(0x60), 0x00);
}

static void test_kbd_aux_enable_disable(void **state)
{
	out(0x64, 0xad);
	out(0x64, 0x20);
	assert_int_equal(in(0x60) & 0x10, 0x10);
	out(0x64, 0xae);
	out(0x64, 0x20);
	assert_int_equal(in(0x60) & 0x10, 0);
	out(0x64, 0xa7);
	out(0x64, 0x20);
	assert_int_equal(in(0x60) & 0x20, 0x20);
	out(0x64, 0xa8);
	out(0x64, 0x20);
	assert_int_equal(in(0x60) & 0x20, 0);
}

static void test_port_61_keeps_bits(void **state)
{
	out(0x61, 0x03);
	assert_int_equal(in(0x61), 0x03);
	out(0x61, 0xfc);
	assert_int_equal(in(0x61), 0xfc);
}

static void test_unknown_commands_ignored(void **state)
{
	out(0x64, 0x12);
	out(0x64, 0xc0);
	out(0x64, 0xd4);
	assert_int_equal(in(0x64), 0x04);
	assert_int_equal(resets, 0);
	out(0x60, 0xff); /* keyboard reset with no keyboard: dropped */
	assert_int_equal(in(0x64), 0x04);
}

static void test_data_without_pending_command(void **state)
{
	out(0x64, 0x60);
	out(0x64, 0xaa); /* a new command cancels the pending data byte */
	in(0x60);
	out(0x60, 0x00);
	out(0x64, 0x20);
	assert_int_equal(in(0x60), 0x44 | 0x04);
}

static void test_bad_accesses(void **state)
{
	assert_int_equal(i8042_bus_ops.read(&K, 2, 1), 0xff);
	assert_int_equal(i8042_bus_ops.read(&K, 3, 1), 0xff);
	assert_int_equal(i8042_bus_ops.read(&K, 5, 1), 0xff);
	assert_int_equal(i8042_bus_ops.read(&K, UINT64_MAX, 8), UINT64_MAX);
	assert_int_equal(i8042_bus_ops.read(&K, 4, 2), 0xff04);
	assert_int_equal(i8042_bus_ops.read(&K, 4, 0), 0);
	assert_int_equal(i8042_bus_ops.read(&K, 4, 9), 0);
	i8042_bus_ops.write(&K, 5, 1, 0xfe);
	i8042_bus_ops.write(&K, UINT64_MAX, 1, 0xfe);
	i8042_bus_ops.write(&K, 4, 0, 0xfe);
	i8042_bus_ops.write(&K, 4, 16, 0xfe);
	assert_int_equal(resets, 0);
	i8042_bus_ops.write(&K, 4, 2, 0x00fe); /* the low byte is the command */
	assert_int_equal(resets, 1);
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_status_idle),
		T(test_reset_command),
		T(test_reset_without_host),
		T(test_command_byte_read_write),
		T(test_self_test),
		T(test_kbd_aux_enable_disable),
		T(test_port_61_keeps_bits),
		T(test_unknown_commands_ignored),
		T(test_data_without_pending_command),
		T(test_bad_accesses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
