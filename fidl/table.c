/* fidl/table.c - the field-by-field walk of a FIDL table (see table.h). */
#include "table.h"

#include <assert.h>

void fidl_enc_table(struct fidl_enc *e, uint32_t off, const struct fidl_table_type *t,
                    const void *obj)
{
	uint32_t max = 0;
	for (uint32_t ord = 1; ord <= t->max_ordinal; ord++)
		if (t->present(obj, ord))
			max = ord;
	uint32_t envs = fidl_enc_table_begin(e, off, max);
	for (uint32_t ord = 1; ord <= max; ord++) {
		if (!t->present(obj, ord))
			continue;
		assert(t->field_size[ord] > 0);
		struct fidl_enc_env v;
		uint32_t p = fidl_enc_field_begin(e, &v, envs, ord, t->field_size[ord]);
		t->enc_field(e, p, ord, obj);
		fidl_enc_env_end(e, &v);
	}
	fidl_enc_table_end(e);
}

void fidl_dec_table(struct fidl_dec *d, uint32_t off, const struct fidl_table_type *t,
                    void *obj)
{
	uint32_t n;
	uint32_t envs = fidl_dec_table_begin(d, off, &n);
	for (uint32_t ord = 1; ord <= n && d->status == ZX_OK; ord++) {
		if (ord > t->max_ordinal) {
			fidl_dec_env_skip(d, envs + 8 * (ord - 1));
			continue;
		}
		/* Every known field has a size: an envelope needs one to be checked. */
		assert(t->field_size[ord] > 0);
		struct fidl_dec_env v;
		if (!fidl_dec_field_begin(d, &v, envs, ord, t->field_size[ord]))
			continue;
		t->dec_field(d, v.content, ord, obj);
		fidl_dec_env_end(d, &v);
	}
	fidl_dec_table_end(d);
}
