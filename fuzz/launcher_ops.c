/* fuzz/launcher_ops.c - operation sequences on the capability-routing model
 * (model/routing_model.c): spawn vmms, create, send (copy or move), close,
 * exit, by any process to any process with any object.
 *
 * Input: 4 bytes per operation {kind, actor, receiver, object}; the top bit
 * of kind says move rather than copy, bits 4-6 the kind of a created
 * object. Oracle: after every step the invariants hold (no mutable object
 * reachable from two vmms; only vmms and the launcher hold the hypervisor)
 * and every live vmm still holds its lifecycle channel (one that dropped it
 * has stopped). A vmm may drop its hypervisor handle: that is no breach.
 * The real spawner's side of that contract (only fds 3 and 4 cross exec) is
 * checked by tests/test_model_routing.c; exec per input would be too slow
 * for a fuzzer. */
#include "harness.h"

#include <stdio.h>

#include "model/routing_model.h"

void fuzz_init(void)
{
}

void fuzz_one(const uint8_t *data, size_t len)
{
	struct mr_state s;
	mr_init(&s, true);
	for (size_t i = 0; i + 4 <= len; i += 4) {
		struct mr_op op = {
			.kind = (enum mr_op_kind)(data[i] % 6),
			.proc = data[i + 1] % MR_MAX_PROCS,
			.to = data[i + 2] % MR_MAX_PROCS,
			.obj = data[i + 3] % MR_MAX_OBJS,
			.obj_kind = (enum mr_obj_kind)((data[i] >> 4) % (MR_CHANNEL + 1)),
			.move = data[i] & 0x80,
		};
		mr_apply(&s, &op, NULL);
		char why[160];
		if (mr_invariants(&s, why, sizeof(why)) != 0)
			fuzz_fail("after operation %zu: %s", i / 4, why);
		for (int p = 0; p < MR_MAX_PROCS; p++)
			if (s.procs[p].kind == MR_VMM && !s.holds[p][s.procs[p].channel])
				fuzz_fail("after operation %zu: vmm %d lives on without its channel", i / 4, p);
	}
}
