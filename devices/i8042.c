/* devices/i8042.c - the i8042 controller subset; see i8042.h.
 *
 * No keyboard or mouse sits behind it: data written to the devices is
 * dropped, so guests probing for a keyboard time out as on a bare board.
 * What guests do need is here: a status register that says "nothing to
 * read", the command byte, the self-test answer, port B at 0x61, and reset.
 */
#include "i8042.h"

#include <stdio.h>
#include <string.h>

/* Port offsets from I8042_BASE. */
#define OFF_DATA 0
#define OFF_PORT_B 1
#define OFF_CMD 4

#define ST_OBF 0x01     /* output buffer full */
#define ST_SYS 0x04     /* system flag: copy of command byte bit 2 */

#define CB_SYS 0x04
#define CB_KBD_OFF 0x10
#define CB_AUX_OFF 0x20
/* What firmware leaves: system flag, scancode translation, both ports on. */
#define CB_DEFAULT 0x44

#define CMD_READ_RAM 0x20 /* 0x20-0x3f: read RAM byte cmd & 0x1f */
#define CMD_WRITE_RAM 0x60 /* 0x60-0x7f: next data byte to RAM */
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_AUX_TEST 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_PULSE 0xf0 /* 0xf0-0xff: pulse output lines whose bit is 0 */
#define SELF_TEST_OK 0x55
#define PULSE_RESET 0x01 /* output line 0 is the CPU reset */

void i8042_init(struct i8042 *k, const struct i8042_host *host)
{
	memset(k, 0, sizeof(*k));
	if (host)
		k->host = *host;
	k->ram[0] = CB_DEFAULT;
}

static void put_out(struct i8042 *k, uint8_t v)
{
	k->out = v;
	k->out_full = 1;
}

static uint8_t status(const struct i8042 *k)
{
	/* The input buffer is never busy: commands complete during the write. */
	uint8_t s = 0;
	if (k->out_full)
		s |= ST_OBF;
	if (k->ram[0] & CB_SYS)
		s |= ST_SYS;
	return s;
}

static void command(struct i8042 *k, uint8_t cmd)
{
	k->command = 0;
	if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + 0x20) {
		put_out(k, k->ram[cmd & 0x1f]);
	} else if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) {
		k->command = cmd; /* waits for its data byte */
	} else if (cmd >= CMD_PULSE) {
		if (!(cmd & PULSE_RESET) && k->host.reset)
			k->host.reset(k->host.ctx);
	} else {
		switch (cmd) {
		case CMD_SELF_TEST:
			/* A passed self-test sets the system flag, as firmware expects. */
			k->ram[0] |= CB_SYS;
			put_out(k, SELF_TEST_OK);
			break;
		case CMD_KBD_TEST:
		case CMD_AUX_TEST:
			put_out(k, 0x00); /* interface OK */
			break;
		case CMD_KBD_DISABLE:
			k->ram[0] |= CB_KBD_OFF;
			break;
		case CMD_KBD_ENABLE:
			k->ram[0] &= ~CB_KBD_OFF;
			break;
		case CMD_AUX_DISABLE:
			k->ram[0] |= CB_AUX_OFF;
			break;
		case CMD_AUX_ENABLE:
			k->ram[0] &= ~CB_AUX_OFF;
			break;
		default:
			break; /* unknown: ignored, as a controller without it would */
		}
	}
}

static void data_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->command;
	k->command = 0;
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20)
		k->ram[cmd & 0x1f] = v;
	/* Otherwise it is for the keyboard, and there is none. */
}

static uint8_t read_port(struct i8042 *k, uint64_t off)
{
	switch (off) {
	case OFF_DATA:
		/* Reading empties the buffer; an empty one reads its last value. */
		k->out_full = 0;
		return k->out;
	case OFF_PORT_B:
		return k->control_b;
	case OFF_CMD:
		return status(k);
	}
	return 0xff;
}

static void write_port(struct i8042 *k, uint64_t off, uint8_t v)
{
	switch (off) {
	case OFF_DATA:
		data_write(k, v);
		break;
	case OFF_PORT_B:
		/* Kept as written: Linux toggles speaker/gate bits and reads them
		 * back; nothing behind them here. */
		k->control_b = v;
		break;
	case OFF_CMD:
		command(k, v);
		break;
	}
}

/* Ports are 8 bits; a wider access touches only the first byte, because
 * splitting it would turn one `inw 0x60` into a data read plus a port-B
 * read, which no guest means. */
static uint64_t i8042_read(void *ctx, uint64_t off, unsigned size)
{
	if (size == 0 || size > 8)
		return 0;
	uint64_t ones = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
	if (off >= I8042_PORTS)
		return ones;
	return (ones & ~0xffull) | read_port(ctx, off);
}

static void i8042_write(void *ctx, uint64_t off, unsigned size, uint64_t value)
{
	if (size == 0 || size > 8 || off >= I8042_PORTS)
		return;
	write_port(ctx, off, (uint8_t)value);
}

/* Port 0x64 is the status register to a read, the command register to a write. */
static bool i8042_describe_reg(void *ctx, uint64_t off, bool write, char *buf, size_t len)
{
	const char *r = off == OFF_DATA ? "data"
	              : off == OFF_PORT_B ? "port B"
	              : off == OFF_CMD ? (write ? "command" : "status") : NULL;
	if (r)
		snprintf(buf, len, "register %s", r);
	return r != NULL;
}

const struct bus_device_ops i8042_bus_ops = {
	.read = i8042_read,
	.write = i8042_write,
	.describe_reg = i8042_describe_reg,
};
