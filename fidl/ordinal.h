/* fidl/ordinal.h - FIDL method ordinals, computed the way fidlc computes them.
 *
 * Owns: the hashing rule (RFC-0020 as amended for 64-bit ordinals): the
 * ordinal of method M of protocol P in library L is the first 8 bytes of
 * SHA-256("L/P.M"), read little-endian, with the most significant bit
 * cleared (ordinals with that bit set are reserved for control messages such
 * as the epitaph). A composed method keeps the name of the protocol that
 * declares it.
 */
#ifndef FIDL_ORDINAL_H
#define FIDL_ORDINAL_H

#include <stdint.h>

/* selector: "fuchsia.virtualization/GuestLifecycle.Create". */
uint64_t fidl_method_ordinal(const char *selector);

#endif
