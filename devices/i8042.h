/* devices/i8042.h - the part of the i8042 keyboard controller a VMM needs.
 *
 * Owns: ports 0x60-0x64 (data, system control port B at 0x61, status/command).
 * The guest's reset command (0xFE written to port 0x64) is how guests ask to
 * stop: it calls host->reset, which the vm turns into a clean shutdown.
 */
#ifndef DEVICES_I8042_H
#define DEVICES_I8042_H

#include <stdint.h>

#include "base/bus_device.h"

#define I8042_BASE 0x60
#define I8042_PORTS 5

struct i8042_host {
	void *ctx;
	void (*reset)(void *ctx);
};

struct i8042 {
	struct i8042_host host;
	uint8_t command;      /* last command byte awaiting a data byte, or 0 */
	uint8_t control_b;    /* port 0x61 */
	uint8_t ram[32];      /* controller RAM; byte 0 is the command byte */
	uint8_t out;          /* output buffer */
	int out_full;
};

void i8042_init(struct i8042 *k, const struct i8042_host *host);
extern const struct bus_device_ops i8042_bus_ops;

#endif
