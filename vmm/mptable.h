/* vmm/mptable.h - the Intel MultiProcessor Specification 1.4 table.
 *
 * Owns: guest-agnostic CPU discovery for guests without ACPI (and for our own
 * test guest): an MP floating pointer structure plus an MP configuration table
 * listing one processor entry per vCPU (APIC ID = vCPU index, vCPU 0 the boot
 * processor), one ISA bus, the I/O APIC at 0xfec00000 with ID = cpus, ISA IRQs
 * 0-15 routed to I/O APIC pins 0-15 (KVM's default GSI routing is the
 * identity), and LINT0 = ExtINT / LINT1 = NMI on every local APIC.
 *
 * Where: the floating pointer sits at 0x9fc00, the first byte of the last KiB
 * below 640 KiB. That is one of the three places the spec tells an OS to scan
 * (EBDA's first KiB, last KiB of base memory, BIOS ROM 0xf0000-0xfffff), we
 * have no BIOS to publish an EBDA pointer at 0x40e, and the e820 map reports
 * [0x9fc00, 0xa0000) reserved (boot_x86.h) so the guest never reuses it. The
 * configuration table follows it in the same KiB when it fits (up to
 * MPTABLE_EBDA_MAX_CPUS); a bigger one goes to MPTABLE_HIGH_CONFIG_GPA, in the
 * BIOS area the e820 map also reserves.
 */
#ifndef VMM_MPTABLE_H
#define VMM_MPTABLE_H

#include <stddef.h>

#include "base/guest_mem.h"

#define MPTABLE_FLOAT_GPA 0x9fc00ull
#define MPTABLE_EBDA_END 0xa0000ull
#define MPTABLE_HIGH_CONFIG_GPA 0xf0000ull
#define MPTABLE_IOAPIC_GPA 0xfec00000u
#define MPTABLE_LAPIC_GPA 0xfee00000u
#define MPTABLE_ISA_IRQS 16

/* Structure sizes from the spec (bytes); mptable.c names the fields. */
#define MP_FLOAT_SIZE 16         /* floating pointer structure, 4.1 */
#define MP_CONFIG_HEADER_SIZE 44 /* configuration table header, 4.2 */
#define MP_PROC_ENTRY_SIZE 20    /* processor entry, 4.3.1 */
#define MP_SMALL_ENTRY_SIZE 8 /* bus, I/O APIC, I/O and local interrupt, 4.3.2-4.3.5 */
#define MP_NUM_LOCAL_INTS 2   /* LINT0 ExtINT, LINT1 NMI */

/* The largest cpu count whose configuration table fits in the EBDA KiB. */
#define MPTABLE_EBDA_MAX_CPUS 40

/* Bytes of the configuration table for `cpus` processors. */
size_t mptable_config_size(unsigned cpus);
/* Where the configuration table goes for `cpus` processors. */
unsigned long long mptable_config_gpa(unsigned cpus);

/* Write the floating pointer and the configuration table for `cpus` vCPUs
 * (1..HV_MAX_VCPUS). Returns 0, -EINVAL for a bad cpu count, or -ENOSPC when
 * guest RAM does not cover the table's addresses (nothing is written then). */
int mptable_write(const struct guest_mem *gm, unsigned cpus);

#endif
