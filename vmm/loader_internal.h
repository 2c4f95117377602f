/* vmm/loader_internal.h - what the loader files share; not for other modules.
 *
 * Owns: the bounds-checked kernel-file reader (struct kfile), little-endian
 * field access, the error-message helper, and the per-format entry points
 * that vmm/loader.c dispatches to.
 */
#ifndef VMM_LOADER_INTERNAL_H
#define VMM_LOADER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/byteorder.h" /* the loaders read and write le fields */
#include "base/err.h"
#include "loader.h"

/* A kernel file: fd and its size, taken once so every read can be checked. */
struct kfile {
	int fd;
	uint64_t size;
};

/* fstat fd; it must be a regular file. 0, or -1 with err set. `what` names
 * the file in messages ("kernel", "ramdisk"). */
int kf_open(struct kfile *f, int fd, const char *what, char *err, size_t errlen);
/* Read exactly len bytes at off. false if [off, off+len) is not wholly inside
 * the file (overflow-safe) or the read comes up short. */
bool kf_read(const struct kfile *f, uint64_t off, void *buf, uint64_t len);
/* Read len file bytes at off straight into guest memory at gpa (through
 * gm_span, so never outside RAM). false on any bounds or read failure. */
bool kf_read_to_guest(const struct kfile *f, uint64_t off, const struct guest_mem *gm,
                      uint64_t gpa, uint64_t len);

/* Write the NUL-terminated command line at LOADER_CMDLINE_GPA. max_len is the
 * kernel's own limit in bytes excluding the NUL. */
enum guest_error loader_put_cmdline(const struct guest_mem *gm, const char *cmdline,
                                    uint64_t max_len, char *err, size_t errlen);

/* Read the ramdisk file into guest RAM, page-aligned, ending as high as
 * possible at or below max_end, starting at or above min_start. If it does not
 * fit and high_ok, try the RAM above 4 GiB. Sets *addr and *size. */
enum guest_error loader_put_ramdisk(const struct guest_mem *gm, int ramdisk_fd,
                                    uint64_t min_start, uint64_t max_end, bool high_ok,
                                    uint64_t *addr, uint64_t *size, char *err, size_t errlen);

/* ELF/PVH (loader_pvh.c). pvh_probe: 1 when the file is an ELF with a PVH
 * entry note, 0 when it is an ELF without one, -1 when malformed (err set). */
int pvh_probe(const struct kfile *f, uint32_t *entry, char *err, size_t errlen);

enum guest_error load_bzimage(struct guest_mem *gm, const struct kfile *kf, int ramdisk_fd,
                              const char *cmdline, struct boot_info *bi, char *err,
                              size_t errlen);
enum guest_error load_pvh(struct guest_mem *gm, const struct kfile *kf, int ramdisk_fd,
                          const char *cmdline, struct boot_info *bi, char *err,
                          size_t errlen);

#endif
