/* vmm/bus.h - the I/O bus: MMIO and port-I/O ranges mapped to device handlers.
 *
 * Owns: the address map of emulated devices. Ranges never overlap: a
 * registration that would overlap an existing one is refused with -EEXIST
 * (the lifecycle turns that into DEVICE_MEMORY_OVERLAP). Handlers see the
 * offset inside their range. Lookups are binary searches over a sorted table.
 */
#ifndef VMM_BUS_H
#define VMM_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/bus_device.h"

#define BUS_MAX_RANGES 128

struct bus_range {
	uint64_t base, len;
	const char *name;
	const struct bus_device_ops *ops;
	void *ctx;
};

struct bus {
	unsigned n[2];
	struct bus_range r[2][BUS_MAX_RANGES];
};

void bus_init(struct bus *b);
/* 0, -EINVAL (len 0, base+len overflows, bad space), -EEXIST (overlap),
 * -ENOSPC (table full). */
int bus_register(struct bus *b, enum bus_space space, uint64_t base, uint64_t len,
                 const char *name, const struct bus_device_ops *ops, void *ctx);
/* The range holding [addr, addr+size), or NULL. */
const struct bus_range *bus_find(const struct bus *b, enum bus_space space,
                                 uint64_t addr, unsigned size);
/* -ENOENT when nothing is mapped there (reads then yield all ones). */
int bus_read(const struct bus *b, enum bus_space space, uint64_t addr, unsigned size,
             uint64_t *value);
int bus_write(const struct bus *b, enum bus_space space, uint64_t addr, unsigned size,
              uint64_t value);
/* For diagnostics: the device at addr and what it has there, "NAME register
 * REG", "NAME offset 0xOFF" where the device names nothing, or "port 0xADDR
 * (no device)" / "address 0xADDR (no device)". write: the access direction
 * (some registers differ by it). Always NUL-terminates buf (len > 0). */
void bus_describe(const struct bus *b, enum bus_space space, uint64_t addr, bool write,
                  char *buf, size_t len);

#endif
