/* fidl/encode.c - the FIDL v2 encoder (see wire.h). Objects are appended at
 * the end of the buffer at the moment they are visited, which is exactly the
 * depth-first traversal order the wire format requires, so callers need no
 * planning beyond visiting fields in declaration order. */
#include "wire.h"

#include <assert.h>
#include <string.h>
#include <unistd.h>

#include "base/byteorder.h"

void fidl_msg_reset(struct fidl_msg *m)
{
	m->num_bytes = 0;
	m->num_handles = 0;
	for (unsigned i = 0; i < FIDL_MAX_MSG_HANDLES; i++)
		m->handles[i] = -1;
}

void fidl_msg_close_handles(struct fidl_msg *m)
{
	for (uint32_t i = 0; i < m->num_handles && i < FIDL_MAX_MSG_HANDLES; i++) {
		if (m->handles[i] >= 0)
			close(m->handles[i]);
		m->handles[i] = -1;
	}
}

void fidl_enc_fail(struct fidl_enc *e, int status, const char *why)
{
	if (e->status == ZX_OK) {
		e->status = status;
		e->err = why;
	}
}

/* Is [off, off + n) inside the bytes written so far? Guards against a codec
 * bug writing outside the objects it allocated. */
static bool in_bounds(struct fidl_enc *e, uint32_t off, size_t n)
{
	if (e->status != ZX_OK)
		return false;
	if ((uint64_t)off + n > e->m->num_bytes) {
		fidl_enc_fail(e, ZX_ERR_INTERNAL, "encoder write outside allocated objects");
		return false;
	}
	return true;
}

static void init(struct fidl_enc *e, struct fidl_msg *m)
{
	e->m = m;
	e->status = ZX_OK;
	e->err = NULL;
	e->depth = 0;
	fidl_msg_reset(m);
}

void fidl_enc_init_body(struct fidl_enc *e, struct fidl_msg *m)
{
	init(e, m);
}

void fidl_enc_init(struct fidl_enc *e, struct fidl_msg *m, uint32_t txid,
                   uint64_t ordinal, uint8_t dynamic_flags)
{
	init(e, m);
	uint32_t h = fidl_enc_alloc(e, FIDL_HEADER_SIZE);
	fidl_enc_u32(e, h, txid);
	fidl_enc_u8(e, h + 4, FIDL_FLAG0_WIRE_V2);
	fidl_enc_u8(e, h + 5, 0);
	fidl_enc_u8(e, h + 6, dynamic_flags);
	fidl_enc_u8(e, h + 7, FIDL_MAGIC);
	fidl_enc_u64(e, h + 8, ordinal);
}

uint32_t fidl_enc_alloc(struct fidl_enc *e, uint32_t size)
{
	if (e->status != ZX_OK)
		return 0;
	uint64_t off = e->m->num_bytes;
	uint64_t end = (off + size + 7) & ~7ull;
	if (end > FIDL_MAX_MSG_BYTES) {
		fidl_enc_fail(e, ZX_ERR_BUFFER_TOO_SMALL, "message larger than 64 KiB");
		return 0;
	}
	memset(e->m->bytes + off, 0, end - off);
	e->m->num_bytes = (uint32_t)end;
	return (uint32_t)off;
}

void fidl_enc_bytes(struct fidl_enc *e, uint32_t off, const void *p, size_t n)
{
	if (n && in_bounds(e, off, n))
		memcpy(e->m->bytes + off, p, n);
}

/* Integers are little-endian on the wire, whatever the host. */
void fidl_enc_u8(struct fidl_enc *e, uint32_t off, uint8_t v) { fidl_enc_bytes(e, off, &v, 1); }

void fidl_enc_u16(struct fidl_enc *e, uint32_t off, uint16_t v)
{
	if (in_bounds(e, off, 2))
		le16_put(e->m->bytes + off, v);
}

void fidl_enc_u32(struct fidl_enc *e, uint32_t off, uint32_t v)
{
	if (in_bounds(e, off, 4))
		le32_put(e->m->bytes + off, v);
}

void fidl_enc_u64(struct fidl_enc *e, uint32_t off, uint64_t v)
{
	if (in_bounds(e, off, 8))
		le64_put(e->m->bytes + off, v);
}
void fidl_enc_bool(struct fidl_enc *e, uint32_t off, bool v) { fidl_enc_u8(e, off, v ? 1 : 0); }

void fidl_enc_required_handle(struct fidl_enc *e, uint32_t off, int fd)
{
	if (fd < 0)
		fidl_enc_fail(e, ZX_ERR_INVALID_ARGS, "required handle is -1");
	fidl_enc_handle(e, off, fd);
}

void fidl_enc_handle(struct fidl_enc *e, uint32_t off, int fd)
{
	if (e->status != ZX_OK)
		return;
	if (fd < 0) {
		fidl_enc_u32(e, off, FIDL_HANDLE_ABSENT);
		return;
	}
	if (e->m->num_handles >= FIDL_MAX_MSG_HANDLES) {
		fidl_enc_fail(e, ZX_ERR_OUT_OF_RANGE, "more than 64 handles");
		return;
	}
	fidl_enc_u32(e, off, FIDL_HANDLE_PRESENT);
	if (e->status == ZX_OK)
		e->m->handles[e->m->num_handles++] = fd;
}

/* Entering an out-of-line object: one more indirection. */
static bool deeper(struct fidl_enc *e)
{
	if (e->status != ZX_OK)
		return false;
	if (e->depth + 1 > FIDL_MAX_DEPTH) {
		fidl_enc_fail(e, ZX_ERR_INVALID_ARGS, "recursion depth over 32");
		return false;
	}
	e->depth++;
	return true;
}

void fidl_enc_string_n(struct fidl_enc *e, uint32_t off, const char *s, size_t n)
{
	if (s == NULL) {
		fidl_enc_u64(e, off, 0);
		fidl_enc_u64(e, off + 8, FIDL_ALLOC_ABSENT);
		return;
	}
	if (n > UINT32_MAX) {
		fidl_enc_fail(e, ZX_ERR_OUT_OF_RANGE, "string too long");
		return;
	}
	if (!fidl_utf8_valid((const uint8_t *)s, n)) {
		fidl_enc_fail(e, ZX_ERR_INVALID_ARGS, "string is not UTF-8");
		return;
	}
	fidl_enc_u64(e, off, n);
	fidl_enc_u64(e, off + 8, FIDL_ALLOC_PRESENT);
	if (!deeper(e))
		return;
	uint32_t body = fidl_enc_alloc(e, (uint32_t)n);
	fidl_enc_bytes(e, body, s, n);
	e->depth--;
}

void fidl_enc_string(struct fidl_enc *e, uint32_t off, const char *s)
{
	fidl_enc_string_n(e, off, s, s ? strlen(s) : 0);
}

uint32_t fidl_enc_vector_begin(struct fidl_enc *e, uint32_t off, uint32_t count,
                               uint32_t elem_size)
{
	fidl_enc_u64(e, off, count);
	fidl_enc_u64(e, off + 8, FIDL_ALLOC_PRESENT);
	if ((uint64_t)count * elem_size > FIDL_MAX_MSG_BYTES) {
		fidl_enc_fail(e, ZX_ERR_BUFFER_TOO_SMALL, "vector larger than a message");
		return 0;
	}
	if (!deeper(e))
		return 0;
	return fidl_enc_alloc(e, count * elem_size);
}

void fidl_enc_vector_end(struct fidl_enc *e)
{
	if (e->status == ZX_OK) {
		assert(e->depth > 0); /* vector_begin opened a level */
		e->depth--;
	}
}

uint32_t fidl_enc_table_begin(struct fidl_enc *e, uint32_t off, uint32_t max_ordinal)
{
	return fidl_enc_vector_begin(e, off, max_ordinal, 8);
}

void fidl_enc_table_end(struct fidl_enc *e)
{
	fidl_enc_vector_end(e);
}

uint32_t fidl_enc_env_begin(struct fidl_enc *e, struct fidl_enc_env *v,
                            uint32_t env_off, uint32_t size)
{
	v->env_off = env_off;
	v->start_handles = e->m->num_handles;
	v->inl = size <= 4;
	if (v->inl) {
		v->start_bytes = e->m->num_bytes;
		v->content = env_off;
		return env_off;
	}
	if (!deeper(e)) {
		v->content = 0;
		return 0;
	}
	v->start_bytes = e->m->num_bytes;
	v->content = fidl_enc_alloc(e, size);
	return v->content;
}

void fidl_enc_env_end(struct fidl_enc *e, struct fidl_enc_env *v)
{
	if (e->status != ZX_OK)
		return;
	uint32_t handles = e->m->num_handles - v->start_handles;
	if (v->inl) {
		/* An inline payload has no out-of-line objects of its own. */
		if (e->m->num_bytes != v->start_bytes) {
			fidl_enc_fail(e, ZX_ERR_INTERNAL, "inline envelope payload allocated objects");
			return;
		}
		fidl_enc_u16(e, v->env_off + 4, (uint16_t)handles);
		fidl_enc_u16(e, v->env_off + 6, FIDL_ENV_INLINE);
		return;
	}
	assert(e->depth > 0); /* env_begin opened a level for an out-of-line payload */
	e->depth--;
	fidl_enc_u32(e, v->env_off, e->m->num_bytes - v->start_bytes);
	fidl_enc_u16(e, v->env_off + 4, (uint16_t)handles);
	fidl_enc_u16(e, v->env_off + 6, 0);
}

uint32_t fidl_enc_field_begin(struct fidl_enc *e, struct fidl_enc_env *v,
                              uint32_t envs, uint32_t ordinal, uint32_t size)
{
	if (ordinal == 0) {
		fidl_enc_fail(e, ZX_ERR_INTERNAL, "table ordinals start at 1");
		return 0;
	}
	return fidl_enc_env_begin(e, v, envs + 8 * (ordinal - 1), size);
}

uint32_t fidl_enc_union_begin(struct fidl_enc *e, struct fidl_enc_env *v,
                              uint32_t off, uint64_t ordinal, uint32_t size)
{
	fidl_enc_u64(e, off, ordinal);
	return fidl_enc_env_begin(e, v, off + 8, size);
}

int fidl_enc_finish(struct fidl_enc *e)
{
	if (e->status == ZX_OK && e->depth != 0)
		fidl_enc_fail(e, ZX_ERR_INTERNAL, "unbalanced begin/end");
	return e->status;
}
