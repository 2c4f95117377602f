/* tests/lib/vsock_guest.h - a guest-side virtio-vsock driver for tests of
 * the vmm's real device: it finds the device among the VM's virtio-mmio
 * slots, sets up its queues in the VM's own guest memory, and moves raw vsock
 * packets. Every register access is a real exit handled by the vmm (through
 * fake_hv_exit), so the device runs under the event lock exactly as with a
 * guest; ring memory is written directly, as a guest's CPU would. */
#ifndef TESTS_LIB_VSOCK_GUEST_H
#define TESTS_LIB_VSOCK_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_hv.h"

#define VG_QSZ 64
#define VG_RXBUF 4096   /* payload room of each receive buffer */
#define VG_TXMAX 16384  /* largest payload vg_send takes */
/* Rings and buffers live from here (the VM needs at least 20 MiB of RAM). */
#define VG_BASE 0x1000000ull

struct vg_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

struct vguest {
	struct fake_hv_ctl *ctl;
	uint64_t base; /* the device's MMIO window */
	uint16_t avail[3], used_seen[3];
	uint16_t tx_next;
};

/* Find the vsock device (ID 19) and bring it to DRIVER_OK with receive
 * buffers posted. 0, or -1 (no device, or it refused). */
int vg_start(struct vguest *g, struct fake_hv_ctl *ctl);
/* The guest CID from config space. */
uint64_t vg_cid(struct vguest *g);
/* Send one packet: h (h->len payload bytes from data). */
void vg_send(struct vguest *g, const struct vg_hdr *h, const void *data);
/* Send a packet from guest (cid 3) port gport to host port hport. */
void vg_send_op(struct vguest *g, uint32_t gport, uint32_t hport, uint16_t op, uint32_t flags,
                uint32_t buf_alloc, uint32_t fwd_cnt, const void *data, uint32_t len);
/* Wait up to timeout_ms for the next packet from the device; its payload
 * (at most VG_RXBUF bytes) goes to data. */
bool vg_recv(struct vguest *g, struct vg_hdr *h, void *data, int timeout_ms);

#endif
