/* base/bus_device.h - what a device on the I/O bus looks like to the bus.
 *
 * Owns: the address spaces (MMIO, port I/O) and the register-access
 * signature every bus device implements, and the hook by which a device
 * names its own registers (so diagnostics walk the bus instead of keeping
 * copies of register maps). Devices include only this; the bus itself
 * (vmm/bus.h) maps ranges to these handlers.
 */
#ifndef BASE_BUS_DEVICE_H
#define BASE_BUS_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bus_space { BUS_MMIO = 0, BUS_PIO = 1 };

struct bus_device_ops {
	/* size is 1, 2, 4 or 8; off + size <= the registered length. */
	uint64_t (*read)(void *ctx, uint64_t off, unsigned size);
	void (*write)(void *ctx, uint64_t off, unsigned size, uint64_t value);
	/* Optional, for diagnostics (divergence reports, the trace tool): what
	 * the device has at off for a read or a write, as "register LSR" or
	 * "config space +0x8", into buf (NUL-terminated, truncated to len).
	 * false when nothing is named there. The answer depends on the kind of
	 * device only, never on its state, so ctx may be NULL. */
	bool (*describe_reg)(void *ctx, uint64_t off, bool write, char *buf, size_t len);
};

#endif
