/* vmm/loader.h - putting a kernel into guest memory and saying how to enter it.
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

#include "guest_error.h"
#include "guest_mem.h"
#include "hv.h"

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
