/* devices/virtqueue.h - the one split-virtqueue walker every device uses.
 *
 * Owns: reading descriptor chains out of a split virtqueue (virtio 1.x,
 * section "Split Virtqueues"), returning used buffers, and the notification
 * suppression rules (VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTIO_F_EVENT_IDX).
 *
 * It trusts nothing the driver wrote. Any of these stops the queue for good
 * (vq->broken, with the reason in vq->error) until the device is reset: an
 * available index that runs more than the queue size ahead; a head or next
 * index out of range; a chain longer than the queue (a loop); an indirect
 * descriptor without the feature, with NEXT set, nested, empty, or whose length
 * is not a multiple of 16; a chain that walks more than 2 * VQ_MAX_CHAIN_BUFS
 * descriptors, direct and indirect together (loop-free but absurdly long; this
 * bound is what keeps a notify's work finite); a buffer whose address + length
 * overflows or leaves
 * guest memory; a device-readable buffer after a device-writable one; a chain
 * with no bytes at all; more chains in flight than the queue holds; a used
 * length larger than the chain's writable bytes. The transport turns a broken
 * queue into DEVICE_NEEDS_RESET. All guest memory goes through guest_mem's
 * accessor, so nothing outside guest RAM is ever touched.
 */
#ifndef DEVICES_VIRTQUEUE_H
#define DEVICES_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/guest_mem.h"

#define VQ_MAX_SIZE 32768u
/* Buffers one chain may have, direct and indirect together. */
#define VQ_MAX_CHAIN_BUFS 1024u

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

struct vq_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

struct vq_chain {
	uint16_t head;
	unsigned nbufs;
	unsigned nreadable;    /* bufs[0 .. nreadable) are device-readable */
	uint64_t readable_len; /* bytes in the readable buffers */
	uint64_t writable_len;
	struct vq_buf bufs[VQ_MAX_CHAIN_BUFS];
};

struct virtqueue {
	const struct guest_mem *mem;
	uint16_t size;       /* negotiated queue size, a power of two */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool indirect;       /* VIRTIO_F_INDIRECT_DESC negotiated */
	bool event_idx;      /* VIRTIO_F_EVENT_IDX negotiated */
	uint16_t last_avail; /* next available ring slot to consume */
	uint16_t used_idx;   /* our copy of used->idx */
	uint16_t signalled_used; /* used_idx at the last interrupt (event_idx) */
	bool signalled_valid;
	unsigned inflight;   /* chains popped and not yet pushed */
	bool broken;
	char error[128];
};

/* Check the ring layout against guest memory and reset the indices. Returns 0
 * or -EINVAL with vq->error set (size not a power of two or 0 or too large,
 * rings misaligned or outside guest memory). */
int vq_init(struct virtqueue *vq, const struct guest_mem *mem, uint16_t size,
            uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa, uint64_t features);

/* Next chain: 1 and *c filled; 0 when nothing is available; -EIO when the
 * queue is (or has just become) broken. */
int vq_pop(struct virtqueue *vq, struct vq_chain *c);
/* Return chain `head` with `written` bytes written into its writable part.
 * -EIO if the queue is broken or nothing is in flight. */
int vq_push(struct virtqueue *vq, const struct vq_chain *c, uint32_t written);
/* After pushes: should the device interrupt the driver now? */
bool vq_should_notify(struct virtqueue *vq);
/* Ask (or stop asking) the driver to notify: used->flags / avail_event. */
void vq_set_notification(struct virtqueue *vq, bool enable);

/* Copy out of the readable part at byte offset `off`; returns bytes copied. */
size_t vq_chain_read(const struct virtqueue *vq, const struct vq_chain *c, uint64_t off,
                     void *dst, size_t len);
/* Copy into the writable part at byte offset `off`; returns bytes copied. */
size_t vq_chain_write(const struct virtqueue *vq, const struct vq_chain *c, uint64_t off,
                      const void *src, size_t len);

#endif
