/* devices/mutant.h - test-only deliberate bugs ("mutants") that replay must
 * catch.
 *
 * Owns: the MUTANT(m) switch and the names of the mutants. In normal builds
 * it is the constant 0 and the compiler removes every mutant. The mutant
 * test binary is built from a copy of the library compiled with
 * -DVMM_TEST_HOOKS, where MUTANT(m) is true while the global vmm_mutant
 * equals m. tests/mutant/ asserts the event at which replay catches each.
 */
#ifndef DEVICES_MUTANT_H
#define DEVICES_MUTANT_H

/* Each name says which bug it switches on. The numbers are what
 * vmm_mutant holds; keep them stable (test output quotes them). */
enum mutant {
	MUTANT_NONE = 0,
	MUTANT_BLOCK_STATUS_FLIPPED = 1,   /* block: status byte's low bit flipped */
	MUTANT_BLOCK_USED_LEN_SHORT = 2,   /* block: used length one byte short */
	MUTANT_USED_IRQ_MISSING = 3,       /* virtio: used-buffer interrupt not raised */
	MUTANT_BLOCK_CAPACITY_CHANGED = 4, /* block: config-space capacity one more */
	MUTANT_RNG_REORDERED = 5,          /* rng: first two entropy bytes swapped */
	MUTANT_UART_TEMT_FLIPPED = 6,      /* UART: LSR TEMT bit flipped */
};

#ifdef VMM_TEST_HOOKS
extern int vmm_mutant;
#define MUTANT(m) (vmm_mutant == (m))
#else
#define MUTANT(m) 0
#endif

#endif
