/* vmm/guest_config_check.h - the rules a GuestConfig must meet.
 *
 * Owns: gc_validate, the vmm's judgement of a config before Create builds
 * anything (BAD_CONFIG with a precise message). The table itself is
 * api/guest_config.h.
 */
#ifndef VMM_GUEST_CONFIG_CHECK_H
#define VMM_GUEST_CONFIG_CHECK_H

#include <stddef.h>

#include "api/guest_config.h"

/* Check c against the rules. max_vcpus comes from the backend. Returns
 * GUEST_OK or GUEST_ERR_BAD_CONFIG with a precise message in err. The kernel
 * file's format is checked by the loader (KERNEL_LOAD_FAILURE) and against
 * kernel_type here (BAD_CONFIG) when the file can be read. */
enum guest_error gc_validate(const struct guest_config *c, int max_vcpus,
                             char *err, size_t errlen);

#endif
