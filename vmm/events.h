/* vmm/events.h - the determinism choke point.
 *
 * Owns: the one place where every nondeterministic input the vmm consumes and
 * every output it produces is announced, in the order the vmm handled it. The
 * vCPU loop calls these under the vm's event lock, so the order seen by a sink
 * is a total order across vCPUs. A recorder is a sink; the sim backend replays
 * what a recorder saw. Devices never read time, randomness or host I/O except
 * through hooks that pass here.
 */
#ifndef VMM_EVENTS_H
#define VMM_EVENTS_H

#include <stdint.h>

#include "hv.h"

struct ev_sink {
	void *ctx;
	/* A vCPU exit the vmm has just handled. read_value is the answer given
	 * for MEM_READ / IO_IN exits, 0 otherwise. */
	void (*exit_handled)(void *ctx, unsigned vcpu, const struct hv_exit *e,
	                     uint64_t read_value);
	/* An interrupt line the vmm drove. */
	void (*irq)(void *ctx, uint32_t gsi, int level);
	/* Bytes the vmm sent to the host side of a device (serial, console...). */
	void (*host_output)(void *ctx, const char *device, const void *data, uint64_t len);
	/* Bytes that entered the vmm from the host for a device: entropy handed
	 * to virtio-rng, serial input, block reads. May be NULL. */
	void (*host_input)(void *ctx, const char *device, const void *data, uint64_t len);
};

#endif
