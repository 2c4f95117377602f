/* vmm-device/kinds.c - the table of device kinds (kinds.h), in --help order:
 * a new device joins here and in a kind file of its own. */
#include <stddef.h>

#include "kinds.h"

const struct device_kind *const device_kinds[] = {
	&kind_block, &kind_rng, &kind_console, &kind_net, &kind_balloon, &kind_vsock, NULL,
};
