/* vmm/vm_dev_pc.c - the PC's own devices as kinds of the device table: the
 * 16550A on COM1 and the i8042 (whose reset line stops the guest).
 *
 * Owns: wiring the UART to its host stream (host/stream.h: bytes out to the
 * serial fd, never stalling a vCPU; bytes in held until the UART takes
 * them) and both devices to the bus. The UART cannot say when it has room
 * again, so with bytes held for it the I/O thread looks again every few
 * milliseconds.
 */
#include "vm_internal.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "base/event_names.h"
#include "base/log.h"
#include "devices/i8042.h"
#include "devices/uart8250.h"
#include "host/stream.h"

/* What the UART holds for the guest beyond its FIFO. */
#define SERIAL_HOLD 256
/* How soon to offer held bytes to the UART again. */
#define SERIAL_RETRY_MS 5

static unsigned one(const struct guest_config *c)
{
	(void)c;
	return 1;
}

/* ---- serial ---- */

struct vm_serial {
	struct vm *vm;
	struct uart8250 *uart;
	struct host_stream stream;
};

static void serial_tx(void *ctx, uint8_t byte)
{
	struct vm_serial *s = ctx;
	host_stream_write(&s->stream, &byte, 1);
}

static void serial_irq(void *ctx, int level)
{
	struct vm_serial *s = ctx;
	vm_irq_line(s->vm, VM_COM1_IRQ, level);
}

static enum guest_error serial_create(struct vm *vm, unsigned index, struct vm_dev *d,
                                      char *err, size_t errlen)
{
	struct vm_serial *s = calloc(1, sizeof(*s));
	if (!s)
		return vm_fail(err, errlen, GUEST_ERR_DEVICE_INITIALIZATION_FAILURE,
		               "serial port: out of memory");
	d->inst = s;
	s->vm = vm;
	host_stream_init(&s->stream, &vm->hev, EVN_SERIAL, vm->serial_fd, vm->serial_in_fd,
	                 HOST_STREAM_DROP, SERIAL_HOLD);
	struct uart_host uh = { .ctx = s, .tx = serial_tx, .set_irq = serial_irq };
	s->uart = uart8250_create(&uh);
	if (!s->uart)
		return vm_fail(err, errlen, GUEST_ERR_DEVICE_INITIALIZATION_FAILURE,
		               "serial port: out of memory");
	d->polled = vm->serial_in_fd >= 0;
	return vm_add_device(vm, BUS_PIO, VM_COM1_BASE, UART8250_PORTS, "serial",
	                     &uart8250_bus_ops, s->uart, err, errlen);
}

static bool serial_input(void *inst, const char *device, const void *data, size_t len,
                         size_t *taken)
{
	struct vm_serial *s = inst;
	if (strcmp(device, EVN_SERIAL) != 0)
		return false;
	*taken = uart8250_rx(s->uart, data, len);
	return true;
}

static unsigned serial_poll_fill(void *inst, struct pollfd *p, unsigned max, int *timeout_ms)
{
	struct vm_serial *s = inst;
	assert(max >= 1);
	/* Read only while there is room to hold what it gives. */
	p[0] = (struct pollfd){ .fd = host_stream_room(&s->stream) ? s->stream.in_fd : -1,
	                        .events = POLLIN };
	if (s->stream.held_len && (*timeout_ms < 0 || *timeout_ms > SERIAL_RETRY_MS))
		*timeout_ms = SERIAL_RETRY_MS;
	return 1;
}

static void serial_poll_done(void *inst, const struct pollfd *p, unsigned n, bool kicked)
{
	struct vm_serial *s = inst;
	(void)kicked; /* the UART never kicks: it is retried on a timer */
	bool readable = n >= 1 && p[0].revents;
	if (!readable && !s->stream.held_len)
		return;
	if (readable)
		host_stream_read(&s->stream);
	host_stream_offer(&s->stream, vm_io_deliver, s->vm);
}

static void serial_destroy(struct vm *vm, void *inst)
{
	struct vm_serial *s = inst;
	if (s->uart)
		uart8250_destroy(s->uart);
	free(s);
}

const struct vm_device_kind vm_kind_serial = {
	.name = "serial",
	.wanted = one,
	.create = serial_create,
	.input = serial_input,
	.max_poll = 1,
	.poll_fill = serial_poll_fill,
	.poll_done = serial_poll_done,
	.destroy = serial_destroy,
};

/* ---- i8042 ---- */

struct vm_i8042 {
	struct vm *vm;
	struct i8042 kbd;
};

static void guest_reset(void *ctx)
{
	struct vm_i8042 *k = ctx;
	log_info("guest requested reset (i8042): stopping cleanly");
	vm_request_stop(k->vm, GUEST_OK, "guest shut down");
}

static enum guest_error i8042_create(struct vm *vm, unsigned index, struct vm_dev *d,
                                     char *err, size_t errlen)
{
	struct vm_i8042 *k = calloc(1, sizeof(*k));
	if (!k)
		return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "out of memory");
	d->inst = k;
	k->vm = vm;
	struct i8042_host kh = { .ctx = k, .reset = guest_reset };
	i8042_init(&k->kbd, &kh);
	return vm_add_device(vm, BUS_PIO, I8042_BASE, I8042_PORTS, "i8042", &i8042_bus_ops,
	                     &k->kbd, err, errlen);
}

static void i8042_destroy(struct vm *vm, void *inst)
{
	free(inst);
}

const struct vm_device_kind vm_kind_i8042 = {
	.name = "i8042",
	.wanted = one,
	.create = i8042_create,
	.destroy = i8042_destroy,
};
