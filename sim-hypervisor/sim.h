/* sim-hypervisor/sim.h - the simulated hypervisor backend (hv_sim_ops).
 *
 * Owns: replay of a struct script (traces/script.h) through the hv.h calls,
 * with no CPU, and the feeding of recorded host inputs and guest memory. vcpu_enter hands out the script's exits in script order across
 * vCPUs (a vCPU blocks until the next event is its exit); read answers, irqs
 * (set_irq) and host output (via sim_checker_sink) are checked against the
 * events that follow each exit. The first mismatch becomes a divergence
 * report and every vcpu_enter from then on fails with SIM_DIVERGED.
 *
 * Protocol: an exit is "in flight" from the enter that returns it until the
 * vmm's exit_handled reaches the checker sink (or, without the sink, until
 * that vCPU enters again). No other vCPU gets an exit meanwhile, so the
 * outputs checked belong to exactly that exit.
 */
#ifndef SIM_HYPERVISOR_SIM_H
#define SIM_HYPERVISOR_SIM_H

#include <stdbool.h>
#include <stddef.h>

#include "traces/script.h"
#include "base/events.h"
#include "base/hv.h"

extern const struct hv_ops hv_sim_ops;

/* hv_exit.reason of the FAILURE every vcpu_enter returns after a divergence. */
#define SIM_DIVERGED 0x51d1u
/* hv_exit.reason when the config has no script. */
#define SIM_NO_SCRIPT 0x51d2u

#define SIM_DEFAULT_STALL_MS 10000u
#define SIM_REPORT_MAX 2048

/* hv_ops.guest_create's backend_arg. Fill it with sim_config_init. */
struct sim_config {
	const struct script *script; /* must outlive the guest */
	unsigned max_vcpus;          /* vCPU ids below this may be created; 0: HV_MAX_VCPUS */
	int fail_vcpu_create_at;     /* vcpu_create of this id fails (-EIO); -1: none */
	/* A vCPU waiting this long with no event consumed by anyone declares a
	 * divergence (a script that names a vCPU the vmm never runs would
	 * otherwise hang the test). 0: SIM_DEFAULT_STALL_MS. */
	unsigned stall_ms;

	/* Optional: names the device and register behind an exit address, for
	 * divergence reports (the sim itself knows only traps). */
	void (*describe_addr)(enum hv_exit_kind kind, uint64_t addr, char *buf, size_t len);

	/* Set by the backend, not by callers: */
	bool feed_inputs;            /* a source (sim_source) consumes `in` records */
	/* The vmm's way in for `host` records (ev_source.bind_injector). */
	void *inject_vm;
	size_t (*inject)(void *vm, const char *device, const void *data, size_t len);
	struct hv_guest *guest;      /* the live guest made from this config */
	bool check_outputs;          /* a checker sink exists: check `out` lines */
	/* The last guest's outcome, kept after guest_destroy because the vmm
	 * tears its guest down before Run returns: */
	char divergence[SIM_REPORT_MAX]; /* "" while none */
	size_t consumed;                 /* events consumed, as at destroy */
	bool finished;                   /* every event consumed, as at destroy */
	size_t div_index;                /* record index (from 0) of the divergence */
	unsigned div_exit;               /* the exit it belongs to: trace seq or script line */
	/* SHA-256 of everything the vmm produced and consumed in this replay
	 * (read answers, irqs, host bytes, memory writes, inputs), as at destroy:
	 * the determinism check compares it across runs. */
	uint8_t digest[32];
};

/* Defaults: no fault injection, HV_MAX_VCPUS, default stall bound. */
void sim_config_init(struct sim_config *c, const struct script *s);

/* The sink to install in the vmm when replaying. It is made from the config
 * (the vmm takes its sink before the guest exists) and finds the guest
 * through it. It checks host output bytes as a stream per device (chunking
 * is free) and ends exits that were in flight; irqs are checked by set_irq,
 * so its irq hook is empty and nothing is checked twice. Without this sink,
 * `out` lines are skipped. */
struct ev_sink sim_checker_sink(struct sim_config *c);

/* The source to install in the vmm (lc_options.source) when replaying a
 * recording with host inputs: entropy, block reads and block write and
 * flush results come from its `in` records, memory reads from its `memr` records (written into guest memory
 * before each exit is handed out), and Create loads no kernel. */
struct ev_source sim_source(struct sim_config *c);

/* Forget every mapped region (a device-level replay whose front end sent a
 * new memory table maps the new one with hv_sim_ops.map_memory). */
void sim_unmap_all(struct hv_guest *g);

/* The divergence report, or NULL while replay agrees with the script. */
const char *sim_divergence(struct hv_guest *g);
/* Events (exits, irqs, outputs) consumed so far. */
size_t sim_events_consumed(struct hv_guest *g);
/* Every event consumed. */
bool sim_finished(struct hv_guest *g);

#endif
