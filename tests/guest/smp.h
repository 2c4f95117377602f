/* tests/guest/smp.h - finding the other CPUs and starting them.
 *
 * Owns: the MP table scan (floating pointer in the last KiB below 640 KiB or
 * the BIOS area; no table means one CPU) and INIT-SIPI-SIPI through the local
 * APIC, with the real-mode trampoline copied to SMP_TRAMPOLINE.
 */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#define SMP_MAX_CPUS 64
/* Page the SIPI vector names (vector 0x08 -> 0x8000); the vmm's loaders keep
 * out of 0x8000-0x8fff for this. */
#define SMP_TRAMPOLINE 0x8000

/* APIC IDs of the enabled processors in the MP table, up to max. Returns the
 * count (1 with ids[0] = own ID when there is no valid table). *found tells
 * whether a table was found. */
unsigned smp_find_cpus(unsigned *ids, unsigned max, int *found);

/* Send INIT-SIPI-SIPI to the CPU with APIC ID id. */
void smp_start_ap(unsigned id);
/* Copy the trampoline to SMP_TRAMPOLINE and enable the local APIC. */
void smp_prepare(void);

#endif
