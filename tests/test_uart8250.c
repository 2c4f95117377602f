/* tests/test_uart8250.c - register-level tests of the 16550A model. */
#include "tests/testutil.h"

#include <string.h>

#include "devices/uart8250.h"

struct host {
	uint8_t tx[64];
	size_t ntx;
	int level;
	int irq_calls;
};

static void h_tx(void *ctx, uint8_t b)
{
	struct host *h = ctx;
	if (h->ntx < sizeof(h->tx))
		h->tx[h->ntx++] = b;
}

static void h_irq(void *ctx, int level)
{
	struct host *h = ctx;
	h->level = level;
	h->irq_calls++;
}

static struct host H;
static struct uart8250 *U;

static int setup(void **state)
{
	memset(&H, 0, sizeof(H));
	struct uart_host uh = { &H, h_tx, h_irq };
	U = uart8250_create(&uh);
	return U ? 0 : -1;
}

static int teardown(void **state)
{
	uart8250_destroy(U);
	U = NULL;
	return 0;
}

static uint8_t rd(unsigned off)
{
	return (uint8_t)uart8250_bus_ops.read(U, off, 1);
}

static void wr(unsigned off, uint8_t v)
{
	uart8250_bus_ops.write(U, off, 1, v);
}

static void test_reset_state(void **state)
{
	assert_int_equal(rd(5), 0x60);       /* THRE | TEMT */
	assert_int_equal(rd(2), 0x01);       /* nothing pending, FIFOs off */
	assert_int_equal(rd(1), 0);
	assert_int_equal(rd(6) & 0xf0, 0xb0); /* DCD DSR CTS from the host */
	assert_int_equal(H.irq_calls, 0);
}

static void test_thr_goes_to_host(void **state)
{
	wr(0, 'h');
	wr(0, 'i');
	assert_int_equal(H.ntx, 2);
	assert_memory_equal(H.tx, "hi", 2);
	assert_int_equal(rd(5) & 0x60, 0x60);
}

static void test_dlab_divisor_latch(void **state)
{
	wr(3, 0x83); /* DLAB, 8N1 */
	wr(0, 0x0c);
	wr(1, 0x00);
	assert_int_equal(rd(0), 0x0c);
	assert_int_equal(rd(1), 0x00);
	assert_int_equal(H.ntx, 0); /* DLL write is not a transmit */
	wr(3, 0x03);
	assert_int_equal(rd(3), 0x03);
	assert_int_equal(rd(1), 0); /* IER untouched by the DLM write */
	wr(3, 0x80);
	assert_int_equal(rd(0), 0x0c); /* divisor kept across DLAB toggles */
}

static void test_ier_masks_upper_bits(void **state)
{
	wr(1, 0xf5);
	assert_int_equal(rd(1), 0x05);
}

static void test_scr(void **state)
{
	wr(7, 0xa5);
	assert_int_equal(rd(7), 0xa5);
	wr(7, 0x5a);
	assert_int_equal(rd(7), 0x5a);
}

static void test_lcr_mcr(void **state)
{
	wr(3, 0x1b);
	assert_int_equal(rd(3), 0x1b);
	wr(4, 0xff);
	assert_int_equal(rd(4), 0x1f); /* bits 5-7 read 0 */
}

static void test_rx_and_lsr_dr(void **state)
{
	const uint8_t in[] = "ab";
	assert_int_equal(uart8250_rx(U, in, 2), 1); /* 16450 mode: one byte */
	assert_int_equal(rd(5) & 1, 1);
	assert_int_equal(rd(0), 'a');
	assert_int_equal(rd(5) & 1, 0);
	assert_int_equal(rd(0), 0); /* empty RBR reads 0, no crash */
}

static void test_fifo_enable_and_iir_bits(void **state)
{
	wr(2, 0x01);
	assert_int_equal(rd(2), 0xc1);
	const uint8_t in[20] = "0123456789abcdefghi";
	assert_int_equal(uart8250_rx(U, in, 20), 16);
	assert_int_equal(uart8250_rx(U, in, 1), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(rd(0), in[i]);
	assert_int_equal(rd(5) & 1, 0);
	wr(2, 0x00);
	assert_int_equal(rd(2), 0x01);
}

static void test_fifo_clear(void **state)
{
	wr(2, 0x01);
	const uint8_t in[] = "xyz";
	uart8250_rx(U, in, 3);
	wr(2, 0x03); /* enable + clear RX */
	assert_int_equal(rd(5) & 1, 0);
	assert_int_equal(rd(2), 0xc1);
	uart8250_rx(U, in, 3);
	wr(2, 0x00); /* disabling the FIFOs empties them too */
	assert_int_equal(rd(5) & 1, 0);
	wr(2, 0x05); /* clear TX: nothing queued, nothing breaks */
	assert_int_equal(rd(5) & 0x60, 0x60);
}

static void test_rx_data_interrupt(void **state)
{
	wr(1, 0x01);
	assert_int_equal(H.level, 0);
	const uint8_t in[] = "q";
	uart8250_rx(U, in, 1);
	assert_int_equal(H.level, 1);
	assert_int_equal(rd(2), 0x04);
	assert_int_equal(rd(2), 0x04); /* reading IIR does not ack rx data */
	assert_int_equal(rd(0), 'q');
	assert_int_equal(H.level, 0);
	assert_int_equal(rd(2), 0x01);
}

static void test_fifo_trigger_and_timeout(void **state)
{
	wr(2, 0x41); /* FIFO on, trigger 4 */
	wr(1, 0x01);
	const uint8_t in[] = "abcd";
	uart8250_rx(U, in, 2);
	assert_int_equal(rd(2), 0xcc); /* below trigger: character timeout */
	uart8250_rx(U, in + 2, 2);
	assert_int_equal(rd(2), 0xc4); /* at trigger: rx data available */
}

static void test_thre_interrupt_rules(void **state)
{
	wr(1, 0x02); /* ETBEI with THR empty raises it */
	assert_int_equal(H.level, 1);
	assert_int_equal(H.irq_calls, 1);
	assert_int_equal(rd(2), 0x02); /* reading IIR as the source clears it */
	assert_int_equal(H.level, 0);
	assert_int_equal(rd(2), 0x01);
	wr(0, 'x'); /* THR empties again after the write: raised anew */
	assert_int_equal(H.level, 1);
	assert_int_equal(H.irq_calls, 3);
	wr(0, 'y'); /* level unchanged: no call */
	assert_int_equal(H.irq_calls, 3);
	wr(1, 0x00);
	assert_int_equal(H.level, 0);
	wr(1, 0x02); /* re-enabling with THR empty raises it again */
	assert_int_equal(H.level, 1);
}

static void test_iir_read_does_not_ack_thre_when_not_source(void **state)
{
	wr(1, 0x03);
	const uint8_t in[] = "z";
	uart8250_rx(U, in, 1);
	assert_int_equal(rd(2), 0x04); /* rx outranks THR empty */
	assert_int_equal(rd(0), 'z');
	assert_int_equal(rd(2), 0x02); /* THRE was not acknowledged above */
	assert_int_equal(rd(2), 0x01);
}

static void test_priority_line_status_first(void **state)
{
	wr(4, 0x10); /* loopback */
	wr(0, 'a');
	wr(0, 'b'); /* overrun in 16450 mode */
	wr(1, 0x0f);
	assert_int_equal(rd(2), 0x06); /* line status outranks everything */
	assert_int_equal(rd(5) & 0x03, 0x03);
	assert_int_equal(rd(5) & 0x02, 0); /* OE clears on read */
	assert_int_equal(rd(2), 0x04);
	assert_int_equal(rd(0), 'a');
	assert_int_equal(rd(2), 0x02);
	/* Modem status is last: the loopback entry changed the lines. */
	assert_int_equal(rd(2), 0x00);
	assert_int_not_equal(rd(6) & 0x0f, 0); /* deltas, cleared by the read */
	assert_int_equal(rd(2), 0x01);
	assert_int_equal(H.level, 0);
}

static void test_loopback(void **state)
{
	wr(2, 0x01);
	wr(4, 0x10);
	wr(0, 'L');
	assert_int_equal(H.ntx, 0); /* not to the host */
	assert_int_equal(rd(5) & 1, 1);
	assert_int_equal(rd(0), 'L');
	/* Linux's probe: loop alone shows no modem lines, all outputs all lines. */
	assert_int_equal(rd(6) & 0xf0, 0x00);
	wr(4, 0x1f);
	assert_int_equal(rd(6) & 0xf0, 0xf0);
	wr(4, 0x1a); /* RI drops: trailing edge */
	assert_int_equal(rd(6) & 0x04, 0x04);
	wr(4, 0x00);
	assert_int_equal(rd(6) & 0xf0, 0xb0); /* back to the host's lines */
	wr(0, '!');
	assert_int_equal(H.ntx, 1);
}

static void test_overrun_fifo(void **state)
{
	wr(2, 0x01);
	wr(4, 0x10);
	for (int i = 0; i < 17; i++)
		wr(0, (uint8_t)('a' + i));
	uint8_t lsr = rd(5);
	assert_int_equal(lsr & 0x03, 0x03);
	for (int i = 0; i < 16; i++)
		assert_int_equal(rd(0), 'a' + i); /* the 17th was lost */
	assert_int_equal(rd(5) & 0x03, 0);
}

static void test_modem_status_interrupt(void **state)
{
	wr(1, 0x08);
	wr(4, 0x10);
	assert_int_equal(H.level, 1);
	assert_int_equal(rd(2), 0x00);
	rd(6);
	assert_int_equal(H.level, 0);
}

static void test_wide_access_split(void **state)
{
	wr(7, 0x11);
	/* A 16-bit write at 6 is MSR (read-only) then SCR. */
	uart8250_bus_ops.write(U, 6, 2, 0x2200);
	assert_int_equal(rd(7), 0x22);
	uint64_t v = uart8250_bus_ops.read(U, 3, 2);
	assert_int_equal(v & 0xff, 0x00);       /* LCR */
	assert_int_equal((v >> 8) & 0xff, 0x00); /* MCR */
}

static void test_out_of_range_safe(void **state)
{
	assert_int_equal(uart8250_bus_ops.read(U, 8, 1), 0xff);
	assert_int_equal(uart8250_bus_ops.read(U, 7, 2), 0xff00 | rd(7));
	assert_int_equal(uart8250_bus_ops.read(U, UINT64_MAX, 8), UINT64_MAX);
	assert_int_equal(uart8250_bus_ops.read(U, 0, 0), 0);
	assert_int_equal(uart8250_bus_ops.read(U, 0, 9), 0);
	uart8250_bus_ops.write(U, 8, 1, 'x');
	uart8250_bus_ops.write(U, UINT64_MAX, 8, ~0ull);
	uart8250_bus_ops.write(U, 0, 0, 'x');
	uart8250_bus_ops.write(U, 0, 200, 'x');
	assert_int_equal(H.ntx, 0);
	wr(5, 0x00); /* LSR is read-only */
	assert_int_equal(rd(5), 0x60);
	assert_int_equal(uart8250_rx(U, NULL, 5), 0);
	assert_int_equal(uart8250_rx(NULL, (const uint8_t *)"a", 1), 0);
}

static void test_no_host_callbacks(void **state)
{
	struct uart_host none = { 0 };
	struct uart8250 *u = uart8250_create(&none);
	assert_non_null(u);
	uart8250_bus_ops.write(u, 1, 1, 0x02);
	uart8250_bus_ops.write(u, 0, 1, 'a');
	uart8250_destroy(u);
	u = uart8250_create(NULL);
	assert_non_null(u);
	uart8250_bus_ops.write(u, 0, 1, 'a');
	uart8250_destroy(u);
	uart8250_destroy(NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reset_state),
		T(test_thr_goes_to_host),
		T(test_dlab_divisor_latch),
		T(test_ier_masks_upper_bits),
		T(test_scr),
		T(test_lcr_mcr),
		T(test_rx_and_lsr_dr),
		T(test_fifo_enable_and_iir_bits),
		T(test_fifo_clear),
		T(test_rx_data_interrupt),
		T(test_fifo_trigger_and_timeout),
		T(test_thre_interrupt_rules),
		T(test_iir_read_does_not_ack_thre_when_not_source),
		T(test_priority_line_status_first),
		T(test_loopback),
		T(test_overrun_fifo),
		T(test_modem_status_interrupt),
		T(test_wide_access_split),
		T(test_out_of_range_safe),
		T(test_no_host_callbacks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
