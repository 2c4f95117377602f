/* base/bus_device.h - what a device on the I/O bus looks like to the bus.
 *
 * Owns: the address spaces (MMIO, port I/O) and the register-access
 * signature every bus device implements. Devices include only this; the bus
 * itself (vmm/bus.h) maps ranges to these handlers.
 */
#ifndef BASE_BUS_DEVICE_H
#define BASE_BUS_DEVICE_H

#include <stdint.h>

enum bus_space { BUS_MMIO = 0, BUS_PIO = 1 };

struct bus_device_ops {
	/* size is 1, 2, 4 or 8; off + size <= the registered length. */
	uint64_t (*read)(void *ctx, uint64_t off, unsigned size);
	void (*write)(void *ctx, uint64_t off, unsigned size, uint64_t value);
};

#endif
