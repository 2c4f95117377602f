/* fidl/table.h - coding a FIDL table field by field.
 *
 * Owns: the walk every table codec shares. Encoding: the table's envelope
 * count is the highest present ordinal, and each present field is coded
 * inside its own envelope. Decoding: fields beyond the known ones are
 * skipped (their handles closed: fidl_dec_env_skip), absent fields are left
 * alone, each known field is decoded inside its envelope, and the walk stops
 * at the first error. A table type gives, by ordinal, each known field's
 * inline size, whether it is present, and how to code it; the callbacks
 * receive the object the walk was given.
 */
#ifndef FIDL_TABLE_H
#define FIDL_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

struct fidl_table_type {
	uint32_t max_ordinal;       /* known fields are 1..max_ordinal */
	const uint32_t *field_size; /* inline size of each known field, by ordinal */
	bool (*present)(const void *obj, uint32_t ord);
	/* Code field ord, whose payload is at p. */
	void (*enc_field)(struct fidl_enc *e, uint32_t p, uint32_t ord, const void *obj);
	void (*dec_field)(struct fidl_dec *d, uint32_t p, uint32_t ord, void *obj);
};

/* The table whose 16-byte header is at off. */
void fidl_enc_table(struct fidl_enc *e, uint32_t off, const struct fidl_table_type *t,
                    const void *obj);
void fidl_dec_table(struct fidl_dec *d, uint32_t off, const struct fidl_table_type *t,
                    void *obj);

#endif
