/* tests/mutant/test_replay_mutants.c - proof that replay catches regressions.
 *
 * Built against the library compiled with -DVMM_TEST_HOOKS (devices/mutant.h;
 * see the Makefile). For each mutant, a bundled KVM trace that exercises the
 * mutated code is replayed with the mutant switched on; replay must diverge,
 * and at exactly the first event the mutant can affect, which the test finds
 * in the trace itself (the first block request, the first config-space read,
 * and so on). With no mutant the same trace replays clean. */
#include "tests/testutil.h"

#include <stdio.h>
#include <string.h>

#include "devices/mutant.h"
#include "replay/replay.h"
#include "tests/lib/loaded_trace.h"
#include "traces/trace.h"

#define TRACE_RNG_BLOCK "traces/bundled/rng-block-1cpu.db"

/* virtio-mmio slot of the first device of a kind, from the config meta:
 * blocks come first, then rng (vm.c's order). */
static unsigned slot_of(const struct loaded *l, const char *dev)
{
	const char *cfg = trace_info_get(&l->info, "config");
	unsigned blocks = 0;
	for (const char *p = cfg; (p = strstr(p, "block=")); p++)
		blocks++;
	return strcmp(dev, "block") == 0 ? 0 : blocks;
}

static bool is_slot_access(const struct script_event *e, unsigned slot, uint64_t off_lo,
                           uint64_t off_hi, enum hv_exit_kind kind)
{
	uint64_t base = 0xd0000000ull + 0x200ull * slot;
	return e->type == SCRIPT_EXIT && e->exit.kind == kind && e->exit.addr >= base + off_lo &&
	       e->exit.addr < base + off_hi;
}

/* The exit (trace seq) a mutant first affects, found from the recording. */
static unsigned first_affected(const struct loaded *l, enum mutant mutant)
{
	unsigned seq = 0, blk = slot_of(l, "block");
	for (size_t i = 0; i < l->s.n; i++) {
		const struct script_event *e = &l->s.ev[i];
		if (e->type == SCRIPT_EXIT)
			seq = e->line;
		switch (mutant) {
		case MUTANT_NONE:
			break;
		/* status byte and used length: the first block request */
		case MUTANT_BLOCK_STATUS_FLIPPED:
		case MUTANT_BLOCK_USED_LEN_SHORT:
			if (is_slot_access(e, blk, 0x50, 0x54, HV_EXIT_MEM_WRITE))
				return seq;
			break;
		case MUTANT_USED_IRQ_MISSING: /* the first used-buffer interrupt */
			if (e->type == SCRIPT_IRQ && e->gsi >= 16 && e->level == 1)
				return seq;
			break;
		case MUTANT_BLOCK_CAPACITY_CHANGED: /* the first read of the block config space */
			if (is_slot_access(e, blk, 0x100, 0x200, HV_EXIT_MEM_READ))
				return seq;
			break;
		case MUTANT_RNG_REORDERED: /* the first entropy handed out */
			if (e->type == SCRIPT_IN && strcmp(e->device, "rng") == 0)
				return seq;
			break;
		case MUTANT_UART_TEMT_FLIPPED: /* the first LSR read */
			if (e->type == SCRIPT_EXIT && e->exit.kind == HV_EXIT_IO_IN && e->exit.addr == 0x3fd)
				return seq;
			break;
		}
	}
	fail_msg("trace has nothing mutant %d could affect", (int)mutant);
	return 0;
}

static void replay_with(struct loaded *l, enum mutant mutant, struct replay_result *r)
{
	char err[512];
	vmm_mutant = (int)mutant;
	int rc = trace_replay_script(&l->s, trace_info_get(&l->info, "config"), NULL, r, err,
	                             sizeof(err));
	vmm_mutant = MUTANT_NONE;
	if (rc < 0)
		fail_msg("%s", err);
}

static void test_no_mutant_replays_clean(void **state)
{
	struct loaded l;
	load(&l, TRACE_RNG_BLOCK);
	struct replay_result r;
	replay_with(&l, MUTANT_NONE, &r);
	if (!r.matched)
		fail_msg("%s", r.divergence);
	assert_int_equal(r.result, GUEST_OK);
	unload(&l);
}

static void check_mutant(enum mutant mutant, const char *what)
{
	struct loaded l;
	load(&l, TRACE_RNG_BLOCK);
	unsigned want = first_affected(&l, mutant);
	struct replay_result r;
	replay_with(&l, mutant, &r);
	assert_false(r.matched);
	assert_int_not_equal(r.result, GUEST_OK);
	printf("mutant %d (%s): caught at event %u (expected %u)\n%s", (int)mutant, what, r.div_exit,
	       want, r.divergence);
	if (r.div_exit != want)
		fail_msg("mutant %d (%s) caught at event %u, not at event %u, the first it affects",
		         (int)mutant, what, r.div_exit, want);
	char at[48];
	snprintf(at, sizeof(at), "diverged at event %u ", want);
	assert_non_null(strstr(r.divergence, at));
	unload(&l);
}

static void test_block_status_off(void **state)
{
	check_mutant(MUTANT_BLOCK_STATUS_FLIPPED, "block status off");
}
static void test_used_len_off_by_one(void **state)
{
	check_mutant(MUTANT_BLOCK_USED_LEN_SHORT, "used length one short");
}
static void test_irq_not_raised(void **state)
{
	check_mutant(MUTANT_USED_IRQ_MISSING, "interrupt not raised");
}
static void test_config_field_changed(void **state)
{
	check_mutant(MUTANT_BLOCK_CAPACITY_CHANGED, "config capacity changed");
}
static void test_rng_reordered(void **state)
{
	check_mutant(MUTANT_RNG_REORDERED, "rng bytes reordered");
}
static void test_lsr_bit_changed(void **state)
{
	check_mutant(MUTANT_UART_TEMT_FLIPPED, "UART LSR bit changed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_mutant_replays_clean),
		cmocka_unit_test(test_block_status_off),
		cmocka_unit_test(test_used_len_off_by_one),
		cmocka_unit_test(test_irq_not_raised),
		cmocka_unit_test(test_config_field_changed),
		cmocka_unit_test(test_rng_reordered),
		cmocka_unit_test(test_lsr_bit_changed),
	};
	return cmocka_run_group_tests_name("replay_mutants", tests, NULL, NULL);
}
