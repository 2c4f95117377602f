/* tests/lib/mini_kernel.h - tiny kernels made on the fly for tests. */
#ifndef TESTS_LIB_MINI_KERNEL_H
#define TESTS_LIB_MINI_KERNEL_H

#include <stddef.h>

/* A memfd holding a minimal valid PVH ELF64 (one PT_LOAD at 1 MiB running a
 * hlt loop, one Xen PHYS32_ENTRY note). Returns the fd or -1. */
int mini_pvh_kernel(void);
/* A memfd holding `len` bytes of `data` (for malformed kernels). */
int memfd_with(const void *data, size_t len);

#endif
