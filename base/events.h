/* base/events.h - the determinism choke point.
 *
 * Owns: the one place where every nondeterministic input the vmm consumes and
 * every output it produces is announced, in the order the vmm handled it. The
 * vCPU loop calls these under the vm's event lock, so the order seen by a sink
 * is a total order across vCPUs. A recorder is a sink; the sim backend replays
 * what a recorder saw. Devices never read time, randomness or host I/O except
 * through hooks that pass here. A replayer stands in for the host's inputs
 * through an ev_source.
 */
#ifndef BASE_EVENTS_H
#define BASE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/hv.h"

struct ev_sink {
	void *ctx;
	/* A vCPU's exit is about to be handled (the event lock is held). Until
	 * its exit_handled, what the sink hears belongs to that exit; host input
	 * announced outside such a span arrived between exits and is an event
	 * of its own. May be NULL. */
	void (*exit_begin)(void *ctx, unsigned vcpu);
	/* A vCPU exit the vmm has just handled. read_value is the answer given
	 * for MEM_READ / IO_IN exits, 0 otherwise. */
	void (*exit_handled)(void *ctx, unsigned vcpu, const struct hv_exit *e,
	                     uint64_t read_value);
	/* An interrupt line the vmm drove. */
	void (*irq)(void *ctx, uint32_t gsi, int level);
	/* Bytes the vmm sent to the host side of a device (serial, console...). */
	void (*host_output)(void *ctx, const char *device, const void *data, uint64_t len);
	/* Bytes that entered the vmm from the host for a device while an event
	 * was handled: entropy handed to virtio-rng, block read data, block
	 * write and flush results. Outside an exit it is a host event that the
	 * device took whole (host_event with taken = len). May be NULL. */
	void (*host_input)(void *ctx, const char *device, const void *data, uint64_t len);
	/* A host event: input offered to a device outside any exit (serial or
	 * console bytes, a frame from the TAP, a balloon request; at the device
	 * level, each vhost-user message and kick). `len` bytes offered,
	 * `taken` of them accepted (0: the device had no room). An attempt is
	 * an event even when refused: the device may have read or written
	 * guest memory. What the sink heard since the previous event (or since
	 * exit_begin) belongs to it. May be NULL. */
	void (*host_event)(void *ctx, const char *device, const void *data, uint64_t len,
	                   uint64_t taken);
	/* Guest memory a device read / wrote while the vmm handled an exit, in
	 * the order it happened (guest_mem's observer). Reads are inputs (replay
	 * writes them back before handing the exit out, and may rewrite `data`,
	 * the reader's own buffer, with the recorded bytes when memory changed
	 * under a concurrent driver); writes are outputs.
	 * May be NULL. */
	void (*mem_read)(void *ctx, uint64_t gpa, const void *data, uint64_t len);
	void (*mem_write)(void *ctx, uint64_t gpa, const void *data, uint64_t len);
};

/* Where host inputs come from when they are not the host's: a replayer feeds
 * the recorded bytes back through these, so replay needs no entropy pool,
 * no disk image and no kernel. Any hook may be NULL (the host's own source
 * is used). The vmm still announces what it got to the sink. */
struct ev_source {
	void *ctx;
	/* Exactly len bytes for virtio-rng. 0 or -errno. */
	int (*entropy)(void *ctx, void *buf, size_t len);
	/* A block read completion: as pread(2) on the disk (returns bytes or
	 * -1 with errno set). */
	ssize_t (*block_read)(void *ctx, void *buf, size_t len, off_t off);
	/* Block write and flush completions: as pwrite(2) and fdatasync(2)
	 * (bytes or -1 with errno set; 0 or -1 with errno set). */
	ssize_t (*block_write)(void *ctx, const void *buf, size_t len, off_t off);
	int (*block_sync)(void *ctx);
	/* Create loads no kernel: no vCPU executes guest code on this backend,
	 * and every byte a device reads comes from the recording. */
	bool kernel_less;
	/* Called once at Create: how the replayer hands the vmm a recorded host
	 * input that arrived between exits (a host_event). inject behaves as
	 * vm_host_input: it takes the event lock and returns the bytes the
	 * device accepted. May be NULL. */
	void (*bind_injector)(void *ctx, void *vm,
	                      size_t (*inject)(void *vm, const char *device, const void *data,
	                                       size_t len));
};

#endif
