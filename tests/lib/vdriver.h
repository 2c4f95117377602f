/* tests/lib/vdriver.h - a minimal virtio driver for device tests: drives a
 * device through the virtio-mmio transport with rings in a test guest_mem, the
 * way a Linux driver does (status handshake, features, queue set-up, chains). */
#ifndef TESTS_LIB_VDRIVER_H
#define TESTS_LIB_VDRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/virtio_mmio.h"

#define VD_QSZ 16
#define VD_RAM (4u << 20)
/* Per-queue ring areas and a data heap in guest memory. */
#define VD_RING_BASE 0x10000
#define VD_RING_STRIDE 0x4000
#define VD_HEAP 0x100000

struct vd_seg {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

struct vdriver {
	struct guest_mem mem;
	struct virtio_mmio mmio;
	int line;
	uint16_t avail_idx[VIRTIO_MAX_QUEUES];
	uint16_t used_seen[VIRTIO_MAX_QUEUES];
	uint16_t next_desc[VIRTIO_MAX_QUEUES];
	uint64_t heap_next;
};

/* Bind dev, negotiate `features` (VERSION_1 is added), set up `nqueues`
 * queues of VD_QSZ, reach DRIVER_OK. Returns the final status register. */
uint32_t vd_start(struct vdriver *d, struct virtio_device *dev, uint64_t features,
                  unsigned nqueues);
/* vd_start with `ram` bytes of guest memory instead of VD_RAM. */
uint32_t vd_start_mem(struct vdriver *d, struct virtio_device *dev, uint64_t features,
                      unsigned nqueues, uint64_t ram);
void vd_stop(struct vdriver *d);
/* Config space access of 1, 2, 4 or 8 bytes at config offset `off`. */
uint64_t vd_cfg_read(struct vdriver *d, uint32_t off, unsigned size);
void vd_cfg_write(struct vdriver *d, uint32_t off, unsigned size, uint64_t v);
/* Driver-side interrupt handling: read InterruptStatus, acknowledge it all. */
uint32_t vd_ack(struct vdriver *d);
uint32_t vd_read32(struct vdriver *d, uint64_t off);
void vd_write32(struct vdriver *d, uint64_t off, uint32_t v);
/* Carve len bytes (zeroed) from the heap; returns the gpa. */
uint64_t vd_alloc(struct vdriver *d, uint32_t len);
/* Put a chain of segments on queue q and notify. Returns the head index. */
uint16_t vd_submit(struct vdriver *d, unsigned q, const struct vd_seg *segs, unsigned n);
/* Post one device-writable buffer of len bytes (zeroed, from the heap) on
 * receive queue q and notify. Returns its gpa. */
uint64_t vd_rx_buffer(struct vdriver *d, unsigned q, uint32_t len);
/* Write descriptor idx of queue q as is (flags: VIRTQ_DESC_F_*), for tests
 * that build the chains no well-behaved driver would. */
void vd_put_desc(struct vdriver *d, unsigned q, uint16_t idx, uint64_t gpa, uint32_t len,
                 uint16_t flags, uint16_t next);
/* Next used element of queue q: returns true and fills id/len if there is one. */
bool vd_used(struct vdriver *d, unsigned q, uint32_t *id, uint32_t *len);
void *vd_ptr(struct vdriver *d, uint64_t gpa, uint32_t len);

#endif
