/* tests/lib/fake_hv.h - a controllable hypervisor backend for lifecycle tests.
 *
 * Each vCPU either plays a short list of exits and then blocks until kicked,
 * or blocks from the start. Faults can be injected at guest creation, memory
 * mapping and vCPU creation, to reach the GuestErrors those steps produce.
 */
#ifndef TESTS_LIB_FAKE_HV_H
#define TESTS_LIB_FAKE_HV_H

#include <stdbool.h>
#include <stdint.h>

#include "base/hv.h"

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
	/* Recorded: guest memory as mapped (a test guest reads and writes it). */
	struct { uint64_t gpa, len; uint8_t *hva; } mem[4];
	unsigned nmem;
	/* fake_hv_exit's hand-over to vCPU 0 (internal). */
	struct hv_guest *guest;
	bool inj_pending, inj_taken, inj_done;
	struct hv_exit inj;
};

extern const struct hv_ops hv_fake_ops;
void fake_hv_reset(struct fake_hv_ctl *c);

/* A test guest: vCPU 0 of the running guest takes `x` as its next exit and
 * this returns once the vmm has handled it (under its event lock, as a real
 * exit), with a read's answer in *value. 0, or -ETIMEDOUT if vCPU 0 did not
 * take it within 5 s (not running, or stopping). */
int fake_hv_exit(struct fake_hv_ctl *c, const struct hv_exit *x, uint64_t *value);
/* MMIO through fake_hv_exit. */
uint32_t fake_hv_mmio_read32(struct fake_hv_ctl *c, uint64_t addr);
void fake_hv_mmio_write32(struct fake_hv_ctl *c, uint64_t addr, uint32_t v);
/* Host address of guest-physical [gpa, gpa + len), or NULL. */
void *fake_hv_gpa(struct fake_hv_ctl *c, uint64_t gpa, uint64_t len);

#endif
