/* tests/lib/vq_diff.h - run one split-virtqueue scenario through the real
 * walker (devices/virtqueue.c, guest RAM between PROT_NONE guard areas) and
 * through the model (model/virtqueue_model.c), step by step, and say where
 * they first differ. Shared by tests/test_model_virtqueue.c and the
 * virtqueue fuzz harness.
 *
 * A scenario is a guest RAM image at gpa 0, a queue layout and a list of
 * device/driver steps, one byte each (low 3 bits the kind):
 *   0, 1  pop the next chain
 *   2     push the oldest chain in flight; bits 3-7 say how much of its
 *         writable part was written (31: one byte too many); nothing in
 *         flight pushes a dummy chain
 *   3     push the newest chain in flight, all of its writable part
 *   4     ask whether to interrupt the driver
 *   5, 6  ask the driver for notifications (5) or not (6)
 *   7     the driver publishes more: avail->idx += 1 + (bits 3-4)
 */
#ifndef TESTS_LIB_VQ_DIFF_H
#define TESTS_LIB_VQ_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/virtqueue_model.h"

struct vq_scenario {
	const uint8_t *image; /* guest RAM contents */
	size_t ram;           /* bytes of guest RAM (page multiple) */
	uint16_t size;
	uint64_t desc, avail, used;
	bool indirect, event_idx;
	const uint8_t *steps;
	size_t nsteps;
};

struct vq_diff_stats {
	unsigned pops, chains, pushes, notifies, stops;
	unsigned by_error[MV_E_COUNT];
};

/* Classify a devices/virtqueue.c error message into the model's classes. */
enum mv_error vq_diff_classify(const char *msg);

/* Run s on both. Returns true when they agree at every step and on the final
 * RAM image; else false with a description of the first difference in why
 * (step index, what each side did). stats (optional) is added to. */
bool vq_diff_run(const struct vq_scenario *s, char *why, size_t whylen, struct vq_diff_stats *stats);

#endif
