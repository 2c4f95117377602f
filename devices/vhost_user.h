/* devices/vhost_user.h - a vhost-user back end ("slave") for any one virtio
 * device core.
 *
 * Owns: the vhost-user wire protocol (QEMU docs/interop/vhost-user.rst) on a
 * Unix stream socket, one front end at a time: feature and protocol-feature
 * negotiation, the memory table (each region's fd mapped into one reserved
 * host range, so the device sees it as one struct guest_mem), vring set-up
 * (ring addresses arrive as front-end *user* addresses and are translated to
 * guest-physical through the table), kick/call/err file descriptors, config
 * space, the back-end ("slave") channel for config-change notifications, and
 * the event loop that turns kicks into the core's queue_notify.
 *
 * Differences from the in-vmm virtio-mmio transport that a device may see:
 *  - vhost-user has no device status. activate() runs when the first ring
 *    starts (memory table, size, addresses, kick and, with
 *    VHOST_USER_F_PROTOCOL_FEATURES, SET_VRING_ENABLE 1); every ring that is
 *    configured by then is initialised first, so a device sees all of its
 *    queues, as at DRIVER_OK. A driver-side reset is not visible either: the
 *    core's reset() runs when the front end disconnects (or RESET_OWNER).
 *  - signal_config needs VHOST_USER_PROTOCOL_F_SLAVE_REQ and a
 *    SET_SLAVE_REQ_FD; without that channel the notification is dropped
 *    (counted in config_dropped) and the driver sees the change only when it
 *    next reads config space.
 *  - signal_needs_reset writes the error fd (SET_VRING_ERR) of each broken
 *    ring; vhost-user has no NEEDS_RESET status bit.
 *
 * Trust: every message is checked (header version and flags, payload size
 * against the request, attached fd count, region count and overlap, ring
 * addresses inside the table, message order). A bad message gets a non-zero
 * REPLY_ACK when the front end asked for one, otherwise the connection is
 * closed; the device is then reset and the server waits for the next front
 * end. Nothing the front end sends can make the server touch memory outside
 * the mapped table.
 *
 * Call fds and the slave channel may be pipes (virtio_uml uses pipes because
 * UML cannot take SIGIO on an eventfd): a program using this should ignore
 * SIGPIPE, or a front end that exits first would kill it.
 *
 * Single-threaded: the device core is only ever called from vhu_serve()'s
 * loop (and the watch callbacks it runs), never concurrently.
 */
#ifndef DEVICES_VHOST_USER_H
#define DEVICES_VHOST_USER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio.h"
#include "base/events.h"
#include "base/guest_mem.h"

/* Requests (front end -> back end). */
enum vhu_request {
	VHU_GET_FEATURES = 1,
	VHU_SET_FEATURES = 2,
	VHU_SET_OWNER = 3,
	VHU_RESET_OWNER = 4,
	VHU_SET_MEM_TABLE = 5,
	VHU_SET_LOG_BASE = 6,
	VHU_SET_LOG_FD = 7,
	VHU_SET_VRING_NUM = 8,
	VHU_SET_VRING_ADDR = 9,
	VHU_SET_VRING_BASE = 10,
	VHU_GET_VRING_BASE = 11,
	VHU_SET_VRING_KICK = 12,
	VHU_SET_VRING_CALL = 13,
	VHU_SET_VRING_ERR = 14,
	VHU_GET_PROTOCOL_FEATURES = 15,
	VHU_SET_PROTOCOL_FEATURES = 16,
	VHU_GET_QUEUE_NUM = 17,
	VHU_SET_VRING_ENABLE = 18,
	VHU_SET_SLAVE_REQ_FD = 21,
	VHU_GET_CONFIG = 24,
	VHU_SET_CONFIG = 25,
};

/* Back-end ("slave") channel requests. */
#define VHU_SLAVE_CONFIG_CHANGE_MSG 2

/* Header flags. */
#define VHU_VERSION 0x1u
#define VHU_VERSION_MASK 0x3u
#define VHU_FLAG_REPLY (1u << 2)
#define VHU_FLAG_NEED_REPLY (1u << 3)

#define VHU_F_PROTOCOL_FEATURES 30
#define VHU_PROTOCOL_F_MQ 0
#define VHU_PROTOCOL_F_REPLY_ACK 3
#define VHU_PROTOCOL_F_SLAVE_REQ 5
#define VHU_PROTOCOL_F_CONFIG 9

/* SET_VRING_KICK/CALL/ERR payload: ring index in bits 0-7, bit 8 "no fd". */
#define VHU_VRING_INDEX_MASK 0xffull
#define VHU_VRING_NOFD (1ull << 8)

/* Wire layouts (QEMU docs/interop/vhost-user.rst), byte offsets, all
 * little-endian. The header: request, flags, payload size (u32 each). */
#define VHU_HDR_REQUEST 0
#define VHU_HDR_FLAGS 4
#define VHU_HDR_PAYLOAD_SIZE 8
#define VHU_HDR_SIZE 12
/* A u64 payload (features, vring index + flags), and a vring state: u32
 * index, u32 number (size or base). */
#define VHU_U64_SIZE 8
#define VHU_STATE_INDEX 0
#define VHU_STATE_NUM 4
#define VHU_STATE_SIZE 8
/* A vring address: u32 index, u32 flags, then u64 user addresses. */
#define VHU_ADDR_INDEX 0
#define VHU_ADDR_FLAGS 4
#define VHU_ADDR_DESC 8
#define VHU_ADDR_USED 16
#define VHU_ADDR_AVAIL 24
#define VHU_ADDR_LOG 32
#define VHU_ADDR_SIZE 40
/* A memory table: u32 region count, u32 padding, then regions of u64 guest
 * address, size, front-end user address, offset into the region's fd. */
#define VHU_MEM_NREGIONS 0
#define VHU_MEM_REGIONS 8
#define VHU_REGION_GPA 0
#define VHU_REGION_SIZE 8
#define VHU_REGION_USER_ADDR 16
#define VHU_REGION_MMAP_OFFSET 24
#define VHU_REGION_LEN 32
/* A config access: u32 offset, u32 size, u32 flags, then the bytes. */
#define VHU_CONFIG_OFFSET 0
#define VHU_CONFIG_SIZE 4
#define VHU_CONFIG_FLAGS 8
#define VHU_CONFIG_DATA 12
#define VHU_MAX_REGIONS 8
#define VHU_MAX_CONFIG 256
/* Largest payload read; anything bigger cannot be a request we know and the
 * stream cannot be resynchronised, so the connection is closed. */
#define VHU_MAX_PAYLOAD 4096
#define VHU_MAX_WATCHES 16
/* Largest ring accepted (QEMU's own limit for vhost-user rings). */
#define VHU_MAX_QUEUE_SIZE 1024u
/* A front end that sent a header gets this long to send the rest. */
#define VHU_BODY_TIMEOUT_MS 5000

struct vhu_region {
	uint64_t gpa, size, user_addr, mmap_offset;
};

struct vhu_vring {
	uint16_t num;
	bool num_set;
	uint64_t desc_user, avail_user, used_user;
	bool addr_set;
	uint16_t base;   /* next available index to consume when the ring starts */
	int kick_fd, call_fd, err_fd;
	bool kick_set;   /* SET_VRING_KICK seen (with an fd, or polling) */
	bool enabled;    /* SET_VRING_ENABLE state */
	bool started;    /* the core's virtqueue is live */
};

/* An extra host fd polled by the loop while a front end is connected (a
 * device's host side: a tap, stdin, a listening socket). */
typedef void (*vhu_watch_fn)(void *ctx, int fd, short revents);

struct vhu_server {
	struct virtio_device *dev;
	int listen_fd;
	int conn_fd;
	int wake[2];                   /* self-pipe: vhu_stop() from a signal handler */
	volatile sig_atomic_t stopping;

	uint64_t features_offered;     /* device + ring + VERSION_1 + PROTOCOL_FEATURES */
	uint64_t features_acked;
	bool features_set;
	uint64_t proto_offered, proto_acked;

	/* The memory table: one reserved host range holding every region. */
	struct guest_mem mem;
	bool mem_set;
	uint8_t *map;
	size_t map_len;
	unsigned nregions;
	struct vhu_region regions[VHU_MAX_REGIONS];

	struct vhu_vring vring[VIRTIO_MAX_QUEUES];
	int slave_fd;

	struct {
		int fd;
		short events;
		bool enabled;
		vhu_watch_fn fn;
		void *ctx;
	} watch[VHU_MAX_WATCHES];
	unsigned nwatch;

	int body_timeout_ms;           /* VHU_BODY_TIMEOUT_MS unless a test shortens it */

	/* Device-level recording (vhu_set_sink) and replay (`replaying`: no
	 * front end; replies go only to the sink). */
	struct ev_sink sink;
	bool have_sink;
	struct gm_observer obs;        /* installed on every memory table */
	bool replaying;

	/* Counters and the last refusal, for logs and tests. */
	unsigned long long messages, refused, connections, kicks, calls, config_dropped;
	char last_error[160];
};

/* Bind s to device core dev (no socket yet). Returns 0 or -errno. */
int vhu_init(struct vhu_server *s, struct virtio_device *dev);
/* Listen on a Unix socket at path. A stale socket there is replaced; any
 * other kind of file is refused with -EEXIST. */
int vhu_listen(struct vhu_server *s, const char *path);
/* Serve one already-connected front end until it disconnects, breaks the
 * protocol, or vhu_stop() is called. Takes ownership of conn_fd. The device
 * is reset and the memory table dropped on return.
 * Returns 0 (front end gone or refused), 1 (stopped). */
int vhu_serve(struct vhu_server *s, int conn_fd);
/* Accept and serve front ends one at a time; with once, return after the
 * first. Returns 0 when done or stopped, -errno if accept fails. */
int vhu_run(struct vhu_server *s, bool once);
/* Ask vhu_serve/vhu_run to return soon. Async-signal-safe. */
void vhu_stop(struct vhu_server *s);
/* Close everything (the socket path is left for the caller to unlink). */
void vhu_destroy(struct vhu_server *s);

/* ---- device-level record and replay (traces/README.md, "Device level") ----
 * With a sink, each message is an event of its own (a host event "vhost-user"
 * whose bytes are the count of fds that came with it, then the header and
 * payload), each kick one ("kick", the ring index), and the end of a session
 * one ("disconnect"); replies are outputs ("vhost-user"), calls are irq q,
 * config-change notifications outputs ("vhost-user-slave"), and guest memory
 * the device reads and writes goes to the sink's observer. A device's host
 * side announces its own host events between vhu_event_begin and
 * vhu_event_end. A replayer feeds the same events back through
 * vhu_handle_message, vhu_kick and vhu_end_session. */
void vhu_set_sink(struct vhu_server *s, const struct ev_sink *sink);
void vhu_event_begin(struct vhu_server *s);
void vhu_event_end(struct vhu_server *s, const char *device, const void *data, uint64_t len,
                   uint64_t taken);
/* One message (header and payload, no fd count) with its fds (owned: closed
 * here). Returns 1 to go on, 0 where a connection would have been closed. */
int vhu_handle_message(struct vhu_server *s, const void *data, size_t len, int *fds,
                       unsigned nfds);
/* The driver kicked ring q (or a polled ring is looked at). */
void vhu_kick(struct vhu_server *s, unsigned q);
/* The front end went away: reset the device and forget the session. */
void vhu_end_session(struct vhu_server *s);

/* Poll fd for events while connected; returns a watch id or -ENOSPC. */
int vhu_add_watch(struct vhu_server *s, int fd, short events, vhu_watch_fn fn, void *ctx);
void vhu_watch_enable(struct vhu_server *s, int id, bool enabled);

#endif
