/* vmm/loader.h - putting a kernel into guest memory and saying how to enter it.
 *
 * Loaders. loader_detect sniffs the file: a bzImage (0xAA55 at 0x1fe and
 * "HdrS" at 0x202), an ELF with or without a PVH entry note (note name "Xen",
 * type XEN_ELFNOTE_PHYS32_ENTRY = 18), or a ZBI container. loader_load then:
 *  - bzImage (vmm/loader_bzimage.c): boot protocol >= 2.12 with XLF_KERNEL_64
 *    and LOADED_HIGH; the protected-mode kernel goes to pref_address (or the
 *    lowest suitably aligned address from 1 MiB if relocatable) with init_size
 *    bytes of RAM behind it; a zero page with the file's setup header, e820,
 *    command line and initrd; entered in 64-bit mode at load address + 0x200
 *    with rsi = zero page, on identity page tables for the first 4 GiB.
 *  - PVH ELF (vmm/loader_pvh.c): PT_LOAD segments at p_paddr, hvm_start_info
 *    version 1 (memory map, command line, ramdisk as module 0); entered in
 *    32-bit protected mode, paging off, ebx = start_info.
 *  - ZBI: recognised, not loaded: KERNEL_LOAD_FAILURE "ZBI (Zircon) kernels
 *    are not supported by this vmm yet".
 * The ramdisk goes as high as the kernel allows below 4 GiB (page-aligned,
 * above the kernel); the e820 map reserves the EBDA and the BIOS area the way
 * PC firmware does. Shared x86 plumbing (e820, page tables, GDT, register
 * state) is vmm/boot_x86.c.
 *
 * Owns: kernel format detection and the loaders: the Linux x86 boot protocol
 * (bzImage: setup header checks, zero page, e820, command line, initrd) and
 * PVH ELF (the XEN_ELFNOTE_PHYS32_ENTRY note; hvm_start_info, memory map,
 * command line, module for the ramdisk). A malformed or truncated file gives
 * KERNEL_LOAD_FAILURE with a precise message, never a crash: every read of the
 * file is bounds-checked against its size and every write goes through
 * guest_mem.
 */
#ifndef VMM_LOADER_H
#define VMM_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "api/guest_error.h"
#include "base/guest_mem.h"
#include "base/hv.h"

/* Fixed guest-physical addresses the loaders write, all in one place. They lie
 * below the EBDA (0x9fc00, where the MP table goes: left alone) and avoid
 * 0x8000-0x8fff (the test guest's AP trampoline). Kernels and ramdisks are
 * always placed at or above LOADER_KERNEL_MIN. */
#define LOADER_GDT_GPA        0x1000ull /* GDT: null, code32, code64, data, TSS */
#define LOADER_BOOT_INFO_GPA  0x2000ull /* zero page (bzImage) or hvm_start_info (PVH) */
#define LOADER_PVH_MEMMAP_GPA 0x3000ull /* PVH: hvm_memmap_table_entry[] */
#define LOADER_PVH_MODLIST_GPA 0x3800ull /* PVH: hvm_modlist_entry[] (the ramdisk) */
#define LOADER_CMDLINE_GPA    0x4000ull /* NUL-terminated command line ... */
#define LOADER_CMDLINE_MAX    0x2000ull /* ... up to 0x6000 (bytes incl. NUL) */
#define LOADER_PML4_GPA       0x9000ull /* identity page tables for 0-4 GiB: PML4, */
#define LOADER_PDPT_GPA       0xA000ull /* PDPT, */
#define LOADER_PD_GPA         0xB000ull /* four page directories of 2 MiB pages, to 0xEFFF */
#define LOADER_KERNEL_MIN     0x100000ull /* nothing is loaded below 1 MiB */

/* GDT selectors. 0x10/0x18 are what the Linux 64-bit boot protocol names
 * __BOOT_CS/__BOOT_DS; PVH leaves the selectors unspecified. */
#define LOADER_SEL_CODE32 0x08
#define LOADER_SEL_CODE64 0x10
#define LOADER_SEL_DATA   0x18
#define LOADER_SEL_TSS    0x20 /* 16-byte system descriptor: 0x20 and 0x28 */

enum kernel_format {
	KFMT_UNKNOWN = 0,
	KFMT_BZIMAGE = 1,  /* Linux x86 boot protocol */
	KFMT_ELF_PVH = 2,  /* ELF64/ELF32 with a PVH entry note */
	KFMT_ELF = 3,      /* ELF without a PVH entry note: not bootable */
	KFMT_ZBI = 4,      /* Zircon boot image container */
};

const char *kernel_format_name(enum kernel_format f);
/* Sniff the file's format from its first bytes (pread; offset untouched). */
enum kernel_format loader_detect(int fd);

struct boot_info {
	struct hv_regs bsp;      /* boot processor entry state */
	uint64_t kernel_start, kernel_end;
	uint64_t initrd_start, initrd_size;
	uint64_t cmdline_gpa;
};

/* Load kernel_fd (and ramdisk_fd unless -1) with the given command line into
 * gm. Fills *bi. Returns GUEST_OK or KERNEL_LOAD_FAILURE with err set. */
enum guest_error loader_load(struct guest_mem *gm, int kernel_fd, int ramdisk_fd,
                             const char *cmdline, unsigned cpus, struct boot_info *bi,
                             char *err, size_t errlen);

#endif
