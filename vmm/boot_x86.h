/* vmm/boot_x86.h - x86 boot plumbing shared by the loaders.
 *
 * Owns: the guest's e820 memory map as PC firmware would report it, the
 * identity page tables and the GDT the loaders write at the fixed addresses
 * of loader.h, and the vCPU register state for the two entry modes (64-bit
 * long mode for the Linux 64-bit boot protocol; 32-bit flat protected mode,
 * paging off, for PVH).
 */
#ifndef VMM_BOOT_X86_H
#define VMM_BOOT_X86_H

#include <stdint.h>

#include "base/guest_mem.h"
#include "base/hv.h"

#define E820_RAM 1
#define E820_RESERVED 2

/* Legacy PC areas firmware reports reserved: the EBDA (MP table here) and the
 * option-ROM/BIOS area, which also holds the ACPI RSDP search range. */
#define X86_EBDA_START 0x9fc00ull
#define X86_EBDA_END 0xa0000ull
#define X86_BIOS_START 0xe0000ull
#define X86_BIOS_END 0x100000ull

struct x86_e820 {
	uint64_t addr, size;
	uint32_t type;
};
#define X86_E820_MAX 8 /* 2 RAM regions split around the legacy holes, + 2 reserved */

/* Fill out[] (sorted by address) from gm's regions; returns the count. */
unsigned x86_e820_build(const struct guest_mem *gm, struct x86_e820 *out);

/* Write the GDT at LOADER_GDT_GPA. -EFAULT if that is not RAM. */
int x86_write_gdt(const struct guest_mem *gm);
/* Identity-map 0-4 GiB with 2 MiB pages at LOADER_PML4_GPA etc. */
int x86_write_page_tables(const struct guest_mem *gm);

/* 64-bit entry: CR0.PE|PG, CR4.PAE, EFER.LME|LMA, CR3 = the tables above,
 * CS = LOADER_SEL_CODE64, data segments LOADER_SEL_DATA, IF clear. */
void x86_regs_long_mode(struct hv_regs *r, uint64_t rip, uint64_t rsi);
/* 32-bit entry: CR0.PE only, CR4 0, EFER 0, flat 4 GiB code/data, TR a
 * 32-bit busy TSS with base 0 and limit 0x67 (the PVH ABI), IF clear. */
void x86_regs_protected32(struct hv_regs *r, uint32_t eip, uint32_t ebx);

#endif
