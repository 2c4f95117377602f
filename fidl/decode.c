/* fidl/decode.c - the validating FIDL v2 decoder (see wire.h). Everything a
 * peer sends is checked before it is used: each out-of-line object must start
 * exactly where the previous one ended (traversal order), lie inside the
 * message, and have zero padding; handles are consumed strictly in order. */
#include "wire.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/byteorder.h"

int fidl_dec_fail(struct fidl_dec *d, int status, const char *why)
{
	if (d->status != ZX_OK)
		return d->status;
	d->status = status;
	d->err = why;
	/* Handles taken so far belong to the caller's partial result (which
	 * the caller frees); the rest are ours to close. */
	fidl_msg_close_handles(d->m);
	return status;
}

static void init(struct fidl_dec *d, struct fidl_msg *m)
{
	memset(d, 0, sizeof(*d));
	d->m = m;
	d->status = ZX_OK;
	if (m->num_bytes > FIDL_MAX_MSG_BYTES || m->num_handles > FIDL_MAX_MSG_HANDLES) {
		/* Cannot come from channel.c; guards hand-made messages. */
		if (m->num_handles > FIDL_MAX_MSG_HANDLES)
			m->num_handles = FIDL_MAX_MSG_HANDLES;
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "message over channel limits");
	}
}

void fidl_dec_init_body(struct fidl_dec *d, struct fidl_msg *m)
{
	init(d, m);
}

int fidl_dec_init(struct fidl_dec *d, struct fidl_msg *m)
{
	init(d, m);
	if (d->status != ZX_OK)
		return d->status;
	if (m->num_bytes < FIDL_HEADER_SIZE)
		return fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "message shorter than its header");
	const uint8_t *b = m->bytes;
	d->hdr.txid = le32_get(b);
	d->hdr.at_rest_flags[0] = b[4];
	d->hdr.at_rest_flags[1] = b[5];
	d->hdr.dynamic_flags = b[6];
	d->hdr.magic = b[7];
	d->hdr.ordinal = le64_get(b + 8);
	if (d->hdr.magic != FIDL_MAGIC)
		return fidl_dec_fail(d, ZX_ERR_PROTOCOL_NOT_SUPPORTED, "bad magic number");
	/* The other flag bits are for future soft transitions and are not
	 * checked; the v2 bit is, since v2 is the only format we can read. */
	if (!(d->hdr.at_rest_flags[0] & FIDL_FLAG0_WIRE_V2))
		return fidl_dec_fail(d, ZX_ERR_PROTOCOL_NOT_SUPPORTED, "not wire format v2");
	d->next = FIDL_HEADER_SIZE;
	return ZX_OK;
}

/* Can the caller read [off, off + n)? Only bytes of objects already claimed
 * are readable, which keeps every read inside the message. */
static bool readable(struct fidl_dec *d, uint32_t off, size_t n)
{
	if (d->status != ZX_OK)
		return false;
	if ((uint64_t)off + n > d->next) {
		fidl_dec_fail(d, ZX_ERR_INTERNAL, "decoder read outside claimed objects");
		return false;
	}
	return true;
}

static bool zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Claim the next out-of-line object of size bytes (padding to 8 zero). */
static uint32_t claim(struct fidl_dec *d, uint64_t size)
{
	if (d->status != ZX_OK)
		return 0;
	uint64_t padded = (size + 7) & ~7ull;
	if (padded > (uint64_t)d->m->num_bytes - d->next) {
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "object out of bounds");
		return 0;
	}
	uint32_t off = d->next;
	if (!zero(d->m->bytes + off + size, padded - size)) {
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "non-zero padding");
		return 0;
	}
	d->next = off + (uint32_t)padded;
	return off;
}

static bool deeper(struct fidl_dec *d)
{
	if (d->status != ZX_OK)
		return false;
	if (d->depth + 1 > FIDL_MAX_DEPTH) {
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "recursion depth over 32");
		return false;
	}
	d->depth++;
	return true;
}

uint32_t fidl_dec_primary(struct fidl_dec *d, uint32_t size)
{
	return claim(d, size);
}

void fidl_dec_bytes(struct fidl_dec *d, uint32_t off, void *out, size_t n)
{
	if (readable(d, off, n))
		memcpy(out, d->m->bytes + off, n);
	else
		memset(out, 0, n);
}

/* The n bytes at off, or NULL when they may not be read (d has failed). */
static const uint8_t *at(struct fidl_dec *d, uint32_t off, size_t n)
{
	return readable(d, off, n) ? d->m->bytes + off : NULL;
}

/* Integers are little-endian on the wire, whatever the host; 0 once d has failed. */
uint8_t fidl_dec_u8(struct fidl_dec *d, uint32_t off)
{
	const uint8_t *p = at(d, off, 1);
	return p ? *p : 0;
}

uint16_t fidl_dec_u16(struct fidl_dec *d, uint32_t off)
{
	const uint8_t *p = at(d, off, 2);
	return p ? le16_get(p) : 0;
}

uint32_t fidl_dec_u32(struct fidl_dec *d, uint32_t off)
{
	const uint8_t *p = at(d, off, 4);
	return p ? le32_get(p) : 0;
}

uint64_t fidl_dec_u64(struct fidl_dec *d, uint32_t off)
{
	const uint8_t *p = at(d, off, 8);
	return p ? le64_get(p) : 0;
}

bool fidl_dec_bool(struct fidl_dec *d, uint32_t off)
{
	uint8_t v = fidl_dec_u8(d, off);
	if (v > 1) {
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "bool is neither 0 nor 1");
		return false;
	}
	return v == 1;
}

void fidl_dec_padding(struct fidl_dec *d, uint32_t off, uint32_t n)
{
	if (readable(d, off, n) && !zero(d->m->bytes + off, n))
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "non-zero padding");
}

int fidl_dec_handle(struct fidl_dec *d, uint32_t off, bool optional)
{
	uint32_t p = fidl_dec_u32(d, off);
	if (d->status != ZX_OK)
		return -1;
	if (p == FIDL_HANDLE_ABSENT) {
		if (!optional)
			fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "required handle absent");
		return -1;
	}
	if (p != FIDL_HANDLE_PRESENT) {
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "bad handle presence marker");
		return -1;
	}
	if (d->next_handle >= d->m->num_handles) {
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "handle missing");
		return -1;
	}
	int fd = d->m->handles[d->next_handle];
	d->m->handles[d->next_handle++] = -1;
	return fd;
}

/* Shared by vectors, strings and tables: count and presence at off. Returns
 * true when present; false when absent or on error. */
static bool vector_header(struct fidl_dec *d, uint32_t off, uint32_t max, bool optional,
                          uint32_t *count)
{
	uint64_t n = fidl_dec_u64(d, off);
	uint64_t p = fidl_dec_u64(d, off + 8);
	*count = 0;
	if (d->status != ZX_OK)
		return false;
	if (p == FIDL_ALLOC_ABSENT) {
		if (!optional)
			fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "required vector or string absent");
		else if (n != 0)
			fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "absent vector with a count");
		return false;
	}
	if (p != FIDL_ALLOC_PRESENT) {
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "bad presence marker");
		return false;
	}
	if (n > max) {
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "count over maximum");
		return false;
	}
	*count = (uint32_t)n;
	return true;
}

char *fidl_dec_string(struct fidl_dec *d, uint32_t off, uint32_t max, bool optional,
                      size_t *len)
{
	uint32_t n;
	if (len)
		*len = 0;
	if (!vector_header(d, off, max, optional, &n))
		return NULL;
	if (!deeper(d))
		return NULL;
	uint32_t body = claim(d, n);
	d->depth--;
	if (d->status != ZX_OK)
		return NULL;
	const uint8_t *s = d->m->bytes + body;
	if (memchr(s, 0, n)) {
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "string contains NUL");
		return NULL;
	}
	if (!fidl_utf8_valid(s, n)) {
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "string is not UTF-8");
		return NULL;
	}
	char *r = malloc((size_t)n + 1);
	if (!r) {
		fidl_dec_fail(d, ZX_ERR_NO_MEMORY, "out of memory");
		return NULL;
	}
	memcpy(r, s, n);
	r[n] = 0;
	if (len)
		*len = n;
	return r;
}

uint32_t fidl_dec_vector_begin(struct fidl_dec *d, uint32_t off, uint32_t elem_size,
                               uint32_t max, bool optional, uint32_t *count,
                               bool *present)
{
	bool p = vector_header(d, off, max, optional, count);
	if (present)
		*present = p;
	if (!p || !deeper(d)) {
		*count = 0;
		if (present)
			*present = false;
		return 0;
	}
	uint32_t body = claim(d, (uint64_t)*count * elem_size);
	if (d->status != ZX_OK) {
		*count = 0;
		if (present)
			*present = false;
	}
	return body;
}

void fidl_dec_vector_end(struct fidl_dec *d)
{
	if (d->status == ZX_OK) {
		/* Only a present vector is ended (wire.h): it opened a level. */
		assert(d->depth > 0);
		d->depth--;
	}
}

uint32_t fidl_dec_table_begin(struct fidl_dec *d, uint32_t off, uint32_t *n)
{
	return fidl_dec_vector_begin(d, off, 8, FIDL_UNBOUNDED, false, n, NULL);
}

void fidl_dec_table_end(struct fidl_dec *d)
{
	fidl_dec_vector_end(d);
}

/* The envelope header at env_off: num_bytes (or the inline value),
 * num_handles, flags. Returns false for the zero envelope (field absent) or
 * on error (d failed: unknown flags). */
static bool envelope_header(struct fidl_dec *d, uint32_t env_off, uint32_t *nb, uint16_t *nh,
                            uint16_t *flags)
{
	*nb = fidl_dec_u32(d, env_off);
	*nh = fidl_dec_u16(d, env_off + 4);
	*flags = fidl_dec_u16(d, env_off + 6);
	if (d->status != ZX_OK)
		return false;
	if (*nb == 0 && *nh == 0 && *flags == 0)
		return false;
	if (*flags & ~FIDL_ENV_INLINE) {
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "unknown envelope flags");
		return false;
	}
	return true;
}

bool fidl_dec_env_begin(struct fidl_dec *d, struct fidl_dec_env *v, uint32_t env_off,
                        uint32_t size)
{
	memset(v, 0, sizeof(*v));
	v->env_off = env_off;
	v->size = size;
	uint32_t nb;
	uint16_t nh, flags;
	if (!envelope_header(d, env_off, &nb, &nh, &flags))
		return false;
	v->inl = flags & FIDL_ENV_INLINE;
	v->num_handles = nh;
	v->start_handles = d->next_handle;
	if (v->inl != (size <= 4)) {
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS,
		              v->inl ? "inline envelope for a payload over 4 bytes"
		                     : "out-of-line envelope for a payload of 4 bytes or less");
		return false;
	}
	if (v->inl) {
		/* The inline value is left-aligned; the rest of the 4 bytes is
		 * padding. */
		if (!zero(d->m->bytes + env_off + size, 4 - size)) {
			fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "non-zero padding in inline envelope");
			return false;
		}
		v->content = env_off;
		return true;
	}
	v->num_bytes = nb;
	if (nb % 8) {
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "envelope num_bytes not a multiple of 8");
		return false;
	}
	if (!deeper(d))
		return false;
	v->start_bytes = d->next;
	v->content = claim(d, size);
	return d->status == ZX_OK;
}

void fidl_dec_env_end(struct fidl_dec *d, struct fidl_dec_env *v)
{
	if (d->status != ZX_OK)
		return;
	if (d->next_handle - v->start_handles != v->num_handles) {
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "envelope num_handles mismatch");
		return;
	}
	if (v->inl)
		return;
	assert(d->depth > 0); /* env_begin opened a level for an out-of-line payload */
	d->depth--;
	if (d->next - v->start_bytes != v->num_bytes)
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "envelope num_bytes mismatch");
}

bool fidl_dec_field_begin(struct fidl_dec *d, struct fidl_dec_env *v, uint32_t envs,
                          uint32_t ordinal, uint32_t size)
{
	return fidl_dec_env_begin(d, v, envs + 8 * (ordinal - 1), size);
}

void fidl_dec_env_skip(struct fidl_dec *d, uint32_t env_off)
{
	uint32_t nb;
	uint16_t nh, flags;
	if (!envelope_header(d, env_off, &nb, &nh, &flags))
		return;
	if (!(flags & FIDL_ENV_INLINE)) {
		/* An out-of-line payload is over 4 bytes, so at least 8. */
		if (nb == 0 || nb % 8) {
			fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "bad envelope num_bytes");
			return;
		}
		if (!deeper(d))
			return;
		claim(d, nb);
		d->depth--;
	}
	if (nh > d->m->num_handles - d->next_handle) {
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "handle missing");
		return;
	}
	/* Nobody knows what these handles are for: close them now rather
	 * than keep capabilities nobody asked for. */
	for (uint16_t i = 0; i < nh && d->status == ZX_OK; i++) {
		int fd = d->m->handles[d->next_handle];
		d->m->handles[d->next_handle++] = -1;
		if (fd >= 0)
			close(fd);
	}
}

uint64_t fidl_dec_union_tag(struct fidl_dec *d, uint32_t off, bool optional)
{
	uint64_t ord = fidl_dec_u64(d, off);
	if (d->status != ZX_OK)
		return 0;
	if (ord == 0) {
		if (!optional)
			fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "required union absent");
		else if (fidl_dec_u64(d, off + 8) != 0)
			fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "absent union with an envelope");
	}
	return ord;
}

bool fidl_dec_union_begin(struct fidl_dec *d, struct fidl_dec_env *v, uint32_t off,
                          uint32_t size)
{
	if (fidl_dec_env_begin(d, v, off + 8, size))
		return true;
	if (d->status == ZX_OK)
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "union variant with a zero envelope");
	return false;
}

int fidl_dec_finish(struct fidl_dec *d)
{
	if (d->status != ZX_OK)
		return d->status;
	if (d->depth != 0)
		return fidl_dec_fail(d, ZX_ERR_INTERNAL, "unbalanced begin/end");
	if (d->next != d->m->num_bytes)
		return fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "trailing bytes");
	if (d->next_handle != d->m->num_handles)
		return fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "extra handles");
	return ZX_OK;
}

int fidl_dec_epitaph(struct fidl_msg *m, int32_t *status)
{
	struct fidl_dec d;
	*status = 0;
	if (fidl_dec_init(&d, m) != ZX_OK)
		return d.status;
	if (d.hdr.ordinal != FIDL_EPITAPH_ORDINAL)
		return fidl_dec_fail(&d, ZX_ERR_INVALID_ARGS, "not an epitaph");
	if (d.hdr.txid != 0)
		return fidl_dec_fail(&d, ZX_ERR_INVALID_ARGS, "epitaph with a txid");
	uint32_t b = fidl_dec_primary(&d, 4);
	int32_t s = fidl_dec_i32(&d, b);
	if (fidl_dec_finish(&d) == ZX_OK)
		*status = s;
	return d.status;
}
