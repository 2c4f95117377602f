/* tests/lib/fake_hv.h - a controllable hypervisor backend for lifecycle tests.
 *
 * Each vCPU either plays a short list of exits and then blocks until kicked,
 * or blocks from the start. Faults can be injected at guest creation, memory
 * mapping and vCPU creation, to reach the GuestErrors those steps produce.
 */
#ifndef TESTS_LIB_FAKE_HV_H
#define TESTS_LIB_FAKE_HV_H

#include <stdbool.h>

#include "vmm/hv.h"

#define FAKE_MAX_EXITS 16

struct fake_hv_ctl {
	int fail_guest_create;   /* -errno or 0 */
	int fail_map_memory;     /* -errno or 0 */
	int fail_vcpu_create_at; /* vCPU id to refuse, or -1 */
	int max_vcpus;           /* reported limit */
	/* Exits vCPU 0 plays, in order, before it blocks. */
	struct hv_exit exits[FAKE_MAX_EXITS];
	unsigned nexits;
	/* Observed. */
	unsigned read_completions;
	uint64_t last_read_value;
	unsigned guests_created, guests_destroyed;
	unsigned vcpus_entered; /* vCPU threads that have called enter at least once */
	unsigned irqs_raised;
};

extern const struct hv_ops hv_fake_ops;
void fake_hv_reset(struct fake_hv_ctl *c);

#endif
