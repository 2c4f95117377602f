/* fidl/net_spec.c - vector<NetSpec> (see net_spec.h). */
#include "net_spec.h"

#include <stdlib.h>

#define NET_SPEC_SIZE 7
#define NET_SPEC_BRIDGE 6 /* enable_bridge, after the 6-byte MAC */

void fv_enc_net_specs(struct fidl_enc *e, uint32_t off, const struct net_spec *s, size_t n)
{
	uint32_t b = fidl_enc_vector_begin(e, off, (uint32_t)n, NET_SPEC_SIZE);
	for (size_t i = 0; i < n; i++) {
		uint32_t o = b + NET_SPEC_SIZE * (uint32_t)i;
		fidl_enc_bytes(e, o, s[i].mac, sizeof(s[i].mac));
		fidl_enc_bool(e, o + NET_SPEC_BRIDGE, s[i].enable_bridge);
	}
	fidl_enc_vector_end(e);
}

void fv_dec_net_specs(struct fidl_dec *d, uint32_t off, uint32_t max, struct net_spec **specs,
                      size_t *n)
{
	uint32_t count;
	*specs = NULL;
	*n = 0;
	uint32_t b = fidl_dec_vector_begin(d, off, NET_SPEC_SIZE, max, false, &count, NULL);
	if (count && d->status == ZX_OK) {
		*specs = calloc(count, sizeof(**specs));
		if (!*specs)
			fidl_dec_fail(d, ZX_ERR_NO_MEMORY, "out of memory");
		else
			*n = count;
	}
	for (uint32_t i = 0; i < count && d->status == ZX_OK; i++) {
		uint32_t o = b + NET_SPEC_SIZE * i;
		fidl_dec_bytes(d, o, (*specs)[i].mac, sizeof((*specs)[i].mac));
		(*specs)[i].enable_bridge = fidl_dec_bool(d, o + NET_SPEC_BRIDGE);
	}
	fidl_dec_vector_end(d);
}
