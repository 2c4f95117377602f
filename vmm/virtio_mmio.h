/* vmm/virtio_mmio.h - the virtio-mmio (version 2) transport on the vmm's bus.
 *
 * Owns: the register block of one virtio-mmio device (virtio 1.x, "Virtio Over
 * MMIO"): magic/version/IDs, feature negotiation in 32-bit halves, the device
 * status state machine (reset on 0, FEATURES_OK only for an acceptable
 * feature set, DRIVER_OK activates), per-queue set-up (refused once a queue is
 * ready or the driver is OK: the bug class of changing a live ring under the
 * device), queue notify, interrupt status and acknowledge (a level-triggered
 * line, high while any status bit is set), and config space with its
 * generation counter. The device behind it is a transport-agnostic core
 * (devices/virtio.h).
 */
#ifndef VMM_VIRTIO_MMIO_H
#define VMM_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio.h"
#include "vmm/bus.h"

#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */
#define VIRTIO_MMIO_VERSION 2
#define VIRTIO_MMIO_VENDOR 0x554d4551u /* "QEMU", as Linux and Firecracker expect nothing in particular */
#define VIRTIO_MMIO_SIZE 0x200
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_INT_VRING 1
#define VIRTIO_MMIO_INT_CONFIG 2

struct virtio_mmio_queue {
	uint16_t num;
	bool ready;
	bool notify_pending; /* kicked before DRIVER_OK: delivered at activation */
	uint64_t desc, driver, device;
};

struct virtio_mmio {
	struct virtio_device *dev;
	uint32_t status;
	uint32_t device_features_sel, driver_features_sel;
	uint64_t driver_features;
	uint32_t queue_sel;
	struct virtio_mmio_queue q[VIRTIO_MAX_QUEUES];
	uint32_t interrupt_status;
	uint32_t config_generation;
	int line; /* last level driven */
	void (*set_irq)(void *ctx, int level);
	void *irq_ctx;
	bool warned;
};

extern const struct bus_device_ops virtio_mmio_bus_ops;

/* Bind transport m to device dev over guest memory mem; set_irq drives the
 * device's interrupt line. */
void virtio_mmio_init(struct virtio_mmio *m, struct virtio_device *dev,
                      const struct guest_mem *mem, void (*set_irq)(void *ctx, int level),
                      void *irq_ctx);
/* Every feature bit the transport offers for dev (device's own + ring + VERSION_1). */
uint64_t virtio_mmio_offered_features(const struct virtio_mmio *m);

#endif
