/* replay/replay.h - record and replay whole runs: the glue between a trace,
 * a GuestConfig and the vmm's GuestLifecycle on the sim backend.
 *
 * Owns: the `config` meta text (what a replay needs to rebuild the VM with
 * no kernel file and no disk image), the meta a recording carries, and
 * trace_replay: load or take a script, build the recorded VM, run it on
 * hv_sim_ops with the checker sink and the recorded inputs, and report.
 * Used by `vmm run --record/--trace`, the `trace` tool and the tests; it is
 * the top of the stack (it includes vmm/lifecycle.h and sim-hypervisor).
 *
 * Config text, one `key=value` per line (unknown keys are refused):
 *   cpus=N  memory=BYTES  kernel_type=linux|zircon  cmdline=TEXT  rng=0|1
 *   block=ID,rw|ro|volatile,BYTES      (one line per disk, in slot order)
 *   console=0|1  balloon=0|1  net=MAC  (one net line per device, in slot order)
 * Device-level traces (vmm-device --record) carry `device=...` instead; see
 * replay/replay_device.h.
 */
#ifndef TRACES_REPLAY_H
#define TRACES_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim-hypervisor/sim.h"
#include "traces/script.h"
#include "traces/trace.h"
#include "api/guest_config.h"
#include "api/guest_error.h"

#define REPLAY_MSG_MAX 2400

/* Walk a config meta: fn(ctx, key, value) for each "key=value" line, in
 * order, until one returns non-zero (its status is returned). A line with no
 * '=' is -EINVAL with a message. value may be modified by fn. */
typedef int trace_config_fn(void *ctx, const char *key, char *value, char *err,
                            size_t errlen);
int trace_config_each(const char *text, trace_config_fn *fn, void *ctx, char *err,
                      size_t errlen);
/* The config meta text of c (malloc'd), or NULL with err set. */
char *trace_config_encode(const struct guest_config *c, char *err, size_t errlen);
/* Build a GuestConfig from config text for a kernel-less replay: the kernel
 * is an empty memfd, each disk a sparse memfd of the recorded size. */
int trace_config_decode(const char *text, struct guest_config *out, char *err, size_t errlen);

/* Set the meta rows of a recording: vmm_version, config, kernel_sha256
 * (SHA-256 of the kernel file, read through its fd), backend, host, created. */
int trace_record_meta(struct trace_writer *w, const struct guest_config *c,
                      const char *vmm_version, const char *backend, char *err, size_t errlen);

/* Names the device and register behind an exit address in this vmm's
 * machine layout (COM1, i8042, virtio-mmio slots), through a bus of those
 * device kinds: "serial (COM1) register LSR", "virtio-mmio slot 0 register
 * QueueNotify", "port 0x80 (no device)". */
void trace_describe_addr(enum hv_exit_kind kind, uint64_t addr, char *buf, size_t len);

struct replay_opts {
	int serial_fd;       /* where the guest's serial bytes go; -1: discarded */
	unsigned stall_ms;   /* 0: the sim's default */
};

struct replay_result {
	enum guest_error result;  /* what Run returned */
	char error[REPLAY_MSG_MAX]; /* Run's message */
	bool matched;             /* no divergence and every record consumed */
	char divergence[SIM_REPORT_MAX];
	size_t div_index;         /* record index from 0 */
	unsigned div_exit;        /* event (exit seq) of the divergence; 0 if none */
	size_t consumed, records;
	uint8_t digest[32];
	double create_ms, run_ms;
};

/* Replay s with config text `config` (from the trace's meta). Returns 0 when
 * the replay ran (see res->matched), or -errno with err set when it could
 * not be set up. */
int trace_replay_script(const struct script *s, const char *config, const struct replay_opts *o,
                        struct replay_result *res, char *err, size_t errlen);
/* Load path and replay it. */
int trace_replay_file(const char *path, const struct replay_opts *o, struct replay_result *res,
                      char *err, size_t errlen);

#endif
