/* model/virtqueue_model.h - executable specification of a device's side of a
 * split virtqueue (virtio 1.x, "Split Virtqueues").
 *
 * Owns: given guest memory (a few regions of bytes), the queue's size, ring
 * addresses and features, which descriptor chains the device consumes, in
 * which order and with which buffers; what returning a chain writes to the
 * used ring; when the driver wants an interrupt; and which class of driver
 * error stops the queue. The classes are those devices/virtqueue.h lists.
 *
 * Written to be obviously right rather than fast: one loop per chain with an
 * explicit visited set (a revisited descriptor is a loop, found where it
 * happens), no shared state but the struct below, every guest read bounds
 * checked against the regions. The model keeps its own copy of memory and
 * writes the used ring into it, so a test can compare whole memory images.
 *
 * Where the specification leaves a choice, the model takes the one
 * devices/virtqueue.h documents: zero-length buffers carry nothing and are
 * skipped (their address is not checked); a chain carrying no bytes at all is
 * an error; at most MV_MAX_CHAIN_BUFS buffers per chain.
 *
 * libc only.
 */
#ifndef MODEL_VIRTQUEUE_MODEL_H
#define MODEL_VIRTQUEUE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MV_MAX_QUEUE 32768u
#define MV_MAX_CHAIN_BUFS 1024u
/* Indirect-table entries one chain may walk, counting zero-length ones. The
 * specification lets a device refuse chains longer than the queue; the vmm
 * is more generous than that but does bound the walk (devices/virtqueue.c),
 * and the model states the same bound. */
#define MV_MAX_INDIRECT_WALK 2048u
#define MV_MAX_REGIONS 4

#define MV_F_NEXT 1
#define MV_F_WRITE 2
#define MV_F_INDIRECT 4

/* Why the queue stopped. */
enum mv_error {
	MV_E_NONE = 0,
	MV_E_AVAIL_AHEAD,        /* avail->idx more than the queue size ahead */
	MV_E_TOO_MANY_IN_FLIGHT, /* the used ring could not take them all back */
	MV_E_HEAD_RANGE,         /* avail ring names a descriptor >= size */
	MV_E_NEXT_RANGE,         /* a next index outside its table */
	MV_E_LOOP,               /* a chain revisits a descriptor */
	MV_E_INDIRECT_NO_FEATURE,
	MV_E_INDIRECT_WITH_NEXT,
	MV_E_INDIRECT_NESTED,
	MV_E_INDIRECT_BAD_LEN,   /* 0 or not a multiple of 16 */
	MV_E_BUF_OUTSIDE,        /* a buffer or indirect table leaves guest memory */
	MV_E_READ_AFTER_WRITE,   /* device-readable buffer after a writable one */
	MV_E_EMPTY_CHAIN,        /* no bytes at all */
	MV_E_TOO_MANY_BUFS,      /* more than MV_MAX_CHAIN_BUFS buffers */
	MV_E_CHAIN_TOO_LONG,     /* more than MV_MAX_INDIRECT_WALK indirect entries */
	MV_E_PUSH_NOTHING_IN_FLIGHT,
	MV_E_USED_LEN,           /* used length above the chain's writable bytes */
	MV_E_COUNT
};

struct mv_region {
	uint64_t gpa, len;
	uint8_t *bytes; /* the model's own copy; pushes write into it */
};

struct mv_mem {
	unsigned n;
	struct mv_region r[MV_MAX_REGIONS];
};

struct mv_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

struct mv_chain {
	uint16_t head;
	unsigned nbufs;
	uint64_t readable_len, writable_len;
	struct mv_buf bufs[MV_MAX_CHAIN_BUFS];
};

struct mv_queue {
	unsigned walked;       /* indirect entries walked by the chain being popped */
	struct mv_mem *mem;
	uint16_t size;
	uint64_t desc, avail, used;
	bool indirect, event_idx;
	uint16_t next_avail;   /* next avail ring slot the device reads */
	uint16_t used_idx;     /* entries the device has published */
	unsigned in_flight;
	bool stopped;
	enum mv_error why;
	bool signalled_valid;  /* an interrupt decision was made before */
	uint16_t signalled;    /* used_idx at that decision */
};

/* True if [gpa, gpa+len) lies wholly inside one region (len > 0). */
bool mv_mem_valid(const struct mv_mem *m, uint64_t gpa, uint64_t len);

/* Set up a queue: false if the layout is unusable (size not a power of two
 * in 1..MV_MAX_QUEUE, misaligned rings, rings outside memory). */
bool mv_init(struct mv_queue *q, struct mv_mem *mem, uint16_t size, uint64_t desc,
             uint64_t avail, uint64_t used, bool indirect, bool event_idx);

enum mv_pop { MV_POP_EMPTY, MV_POP_CHAIN, MV_POP_STOPPED };
/* The device takes the next available chain. */
enum mv_pop mv_pop(struct mv_queue *q, struct mv_chain *c);
/* The device returns chain c with `written` bytes written. false: stopped. */
bool mv_push(struct mv_queue *q, const struct mv_chain *c, uint32_t written);
/* After pushes: does the driver want an interrupt now? */
bool mv_should_notify(struct mv_queue *q);
/* The device asks for (or stops asking for) notifications. */
void mv_set_notification(struct mv_queue *q, bool enable);

const char *mv_error_name(enum mv_error e);

#endif
