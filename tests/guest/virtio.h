/* tests/guest/virtio.h - a minimal virtio-mmio (version 2) driver.
 *
 * Owns: probing the vmm's virtio-mmio slots, the status handshake and feature
 * negotiation, small split virtqueues (up to VIRTIO_MAX_Q per device) in one
 * static page per slot, and synchronous requests: a descriptor chain is made available, the
 * queue notified, the used ring polled (no interrupts: the guest runs with
 * IF clear) and InterruptStatus acknowledged so the device's line drops.
 * Layouts and register offsets: virtio 1.x, "Virtio Over MMIO" and "Split
 * Virtqueues". Written from the specification for this guest only.
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <stdint.h>

#define VIRTIO_SLOT_BASE 0xd0000000ull
#define VIRTIO_SLOT_SIZE 0x200ull
#define VIRTIO_SLOTS 8

#define VIRTIO_DEV_BLOCK 2
#define VIRTIO_DEV_CONSOLE 3
#define VIRTIO_DEV_RNG 4

#define VIRTIO_FEATURE_VERSION_1 (1ull << 32)

#define VIRTIO_QSIZE 8
#define VIRTIO_MAX_Q 2

struct vqueue {
	uint16_t size;
	uint16_t avail_idx; /* next avail->idx to publish */
	uint16_t used_seen; /* used->idx consumed so far */
	uint8_t *ring;      /* descriptors, driver ring, device ring */
};

struct vdev {
	uint64_t base;
	unsigned slot;
	uint32_t id;
	uint64_t offered, features; /* device's offer, and what FEATURES_OK accepted */
	unsigned nq;
	struct vqueue q[VIRTIO_MAX_Q];
};

struct vbuf {
	void *addr;
	uint32_t len;
	int writable; /* device-writable (all of them after the readable ones) */
};

/* The device ID in slot i, or 0 when the slot holds no virtio-mmio version 2
 * device (bad magic, wrong version or ID 0). Fills d on success. */
uint32_t virtio_probe(unsigned slot, struct vdev *d);

/* Reset, ACKNOWLEDGE, DRIVER, accept (offered & want) | VERSION_1,
 * FEATURES_OK (read back), queues 0 .. nq-1 (nq <= VIRTIO_MAX_Q) of size
 * VIRTIO_QSIZE (smaller if QueueNumMax is), QueueReady, DRIVER_OK. 0, or a
 * negative step number on failure (the status is then set to FAILED). */
int virtio_setup(struct vdev *d, uint64_t want, unsigned nq);

/* Submit one chain of n (<= the queue size) buffers on queue q, notify, wait
 * for it on the used ring. Returns the used length, or -1 on timeout, a
 * foreign used id, or when the device asks for a reset. */
int64_t virtio_request(struct vdev *d, unsigned q, const struct vbuf *bufs, unsigned n);

/* Device-specific config space, read with the generation check. */
uint32_t virtio_config32(struct vdev *d, unsigned off);
uint64_t virtio_config64(struct vdev *d, unsigned off);

#endif
