/* fidl/net_spec.h - vector<NetSpec> (guest_config.fidl), as GuestConfig's
 * net_devices and GuestDescriptor's networks both carry it.
 *
 * Owns: NetSpec's byte layout (struct { mac_address array<uint8,6>;
 * enable_bridge bool }: 7 bytes) and coding a vector of them at off.
 */
#ifndef FIDL_NET_SPEC_H
#define FIDL_NET_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "api/guest_config.h"
#include "wire.h"

void fv_enc_net_specs(struct fidl_enc *e, uint32_t off, const struct net_spec *s, size_t n);
/* At most max elements. *specs is calloc'd (NULL when empty) and attached
 * before the elements are decoded, so it is the caller's to free whatever
 * d's status; *n is its length. */
void fv_dec_net_specs(struct fidl_dec *d, uint32_t off, uint32_t max, struct net_spec **specs,
                      size_t *n);

#endif
