/* devices/mutant.h - test-only deliberate bugs ("mutants") that replay must
 * catch.
 *
 * Owns: the MUTANT(n) switch. In normal builds it is the constant 0 and the
 * compiler removes every mutant. The mutant test binary is built from a
 * copy of the library compiled with -DVMM_TEST_HOOKS, where MUTANT(n) is true
 * while the global vmm_mutant equals n. Mutants (tests/mutant/ asserts the
 * event at which replay catches each):
 *   1 block status byte off      2 block used length one short
 *   3 virtio used-buffer interrupt not raised
 *   4 block config-space capacity changed
 *   5 rng bytes reordered        6 UART LSR TEMT bit flipped
 */
#ifndef DEVICES_MUTANT_H
#define DEVICES_MUTANT_H

#ifdef VMM_TEST_HOOKS
extern int vmm_mutant;
#define MUTANT(n) (vmm_mutant == (n))
#else
#define MUTANT(n) 0
#endif

#endif
