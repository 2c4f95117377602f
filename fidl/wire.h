/* fidl/wire.h - FIDL wire format v2: message buffer, encoder and decoder.
 *
 * Owns: the generic rules of the wire format (RFC-0113, RFC-0114 and the
 * "FIDL wire format specification"), not any library's types:
 *   - the 16-byte transactional header: txid, at-rest flags (flags[0] bit 1
 *     says "wire format v2"), dynamic flags (bit 7: flexible method), magic
 *     number 1, ordinal; the epitaph (ordinal 0xFFFFFFFFFFFFFFFF, txid 0);
 *   - objects 8-byte aligned and stored in depth-first traversal order, all
 *     padding zero, presence markers exactly 0 or all-ones (0xFFFFFFFF for
 *     handles), bools 0 or 1;
 *   - vectors and strings (UTF-8, counts against their maximum), tables and
 *     unions over 8-byte envelopes, inline when the payload is 4 bytes or
 *     less (flags bit 0), out-of-line otherwise, with num_bytes/num_handles
 *     matching what the payload consumed;
 *   - a recursion depth limit of 32 indirections;
 *   - every byte and every handle of a received message accounted for.
 *
 * The API is cursor style, written by hand per message type (no generated
 * code). Offsets are absolute byte offsets into the message. Both encoder and
 * decoder keep the first error and ignore every later call ("sticky"), so a
 * message codec can make all its calls and check the status once at the end;
 * values read after an error are zero.
 *
 * Handles are file descriptors. The encoder borrows them: it records them in
 * the message, and the caller still owns them. The decoder hands each handle
 * it takes to the caller (who then owns it); on any error it closes every
 * handle of the message not yet taken, so nothing received is ever leaked.
 */
#ifndef FIDL_WIRE_H
#define FIDL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/zx_status.h"

/* Zircon channel limits, kept here so a message that fits a socket would fit
 * a channel too. */
#define FIDL_MAX_MSG_BYTES 65536u
#define FIDL_MAX_MSG_HANDLES 64u
#define FIDL_MAX_DEPTH 32

#define FIDL_HEADER_SIZE 16u
#define FIDL_MAGIC 1u
#define FIDL_FLAG0_WIRE_V2 0x02u       /* at_rest_flags[0] */
#define FIDL_DYN_FLEXIBLE 0x80u        /* dynamic_flags */
#define FIDL_EPITAPH_ORDINAL UINT64_MAX

#define FIDL_ALLOC_PRESENT UINT64_MAX
#define FIDL_ALLOC_ABSENT 0ull
#define FIDL_HANDLE_PRESENT UINT32_MAX
#define FIDL_HANDLE_ABSENT 0u
#define FIDL_ENV_INLINE 0x0001u        /* envelope flags bit 0 */
#define FIDL_UNBOUNDED UINT32_MAX      /* vector<T>:MAX, string:MAX */

/* The union a method with `error` syntax answers with. */
#define FIDL_RESULT_RESPONSE 1u
#define FIDL_RESULT_ERR 2u
#define FIDL_RESULT_FRAMEWORK_ERR 3u   /* flexible methods only */

/* One message: bytes and the handles that travel with them. handles[i] is
 * -1 once the decoder has handed it on or closed it. */
struct fidl_msg {
	uint32_t num_bytes;
	uint32_t num_handles;
	int handles[FIDL_MAX_MSG_HANDLES];
	_Alignas(8) uint8_t bytes[FIDL_MAX_MSG_BYTES];
};

struct fidl_header {
	uint32_t txid;
	uint8_t at_rest_flags[2];
	uint8_t dynamic_flags;
	uint8_t magic;
	uint64_t ordinal;
};

/* An empty message, no handles. */
void fidl_msg_reset(struct fidl_msg *m);
/* Close every handle the message still holds (the receiver's cleanup for a
 * message it does not decode, e.g. an unknown ordinal). */
void fidl_msg_close_handles(struct fidl_msg *m);

/* ---- Encoder ---------------------------------------------------------- */

struct fidl_enc {
	struct fidl_msg *m;
	int status;          /* ZX_OK or the first error */
	const char *err;     /* what went wrong, for logs and tests */
	int depth;
};

/* Start a transactional message: writes the header (wire format v2, magic 1).
 * The body's primary object is then fidl_enc_alloc'd (at offset 16). */
void fidl_enc_init(struct fidl_enc *e, struct fidl_msg *m, uint32_t txid,
                   uint64_t ordinal, uint8_t dynamic_flags);
/* Start a header-less message (data at rest; the spec's examples). */
void fidl_enc_init_body(struct fidl_enc *e, struct fidl_msg *m);

/* Append a zeroed object of size bytes at the next 8-byte boundary; returns
 * its offset. The first call after init is the primary object. */
uint32_t fidl_enc_alloc(struct fidl_enc *e, uint32_t size);

void fidl_enc_u8(struct fidl_enc *e, uint32_t off, uint8_t v);
void fidl_enc_u16(struct fidl_enc *e, uint32_t off, uint16_t v);
void fidl_enc_u32(struct fidl_enc *e, uint32_t off, uint32_t v);
void fidl_enc_u64(struct fidl_enc *e, uint32_t off, uint64_t v);
void fidl_enc_bool(struct fidl_enc *e, uint32_t off, bool v);
void fidl_enc_bytes(struct fidl_enc *e, uint32_t off, const void *p, size_t n);
#define fidl_enc_i32(e, off, v) fidl_enc_u32((e), (off), (uint32_t)(int32_t)(v))
#define fidl_enc_i64(e, off, v) fidl_enc_u64((e), (off), (uint64_t)(int64_t)(v))

/* fd < 0 encodes an absent handle (for optional handles only). */
void fidl_enc_handle(struct fidl_enc *e, uint32_t off, int fd);
/* A handle that must be present: fd < 0 fails the message (ZX_ERR_INVALID_ARGS). */
void fidl_enc_required_handle(struct fidl_enc *e, uint32_t off, int fd);
/* s == NULL encodes an absent string. */
void fidl_enc_string(struct fidl_enc *e, uint32_t off, const char *s);
void fidl_enc_string_n(struct fidl_enc *e, uint32_t off, const char *s, size_t n);

/* Vector header at off and its body; returns the body's offset. Fill the
 * elements (and their own out-of-line objects, in element order), then end. */
uint32_t fidl_enc_vector_begin(struct fidl_enc *e, uint32_t off, uint32_t count,
                               uint32_t elem_size);
void fidl_enc_vector_end(struct fidl_enc *e);

/* Table header at off with envelopes 1..max_ordinal (max_ordinal is the
 * highest present field; 0 for an empty table). Returns the envelopes'
 * offset: field n's envelope is at envs + 8 * (n - 1). */
uint32_t fidl_enc_table_begin(struct fidl_enc *e, uint32_t off, uint32_t max_ordinal);
void fidl_enc_table_end(struct fidl_enc *e);

/* One envelope being filled. */
struct fidl_enc_env {
	uint32_t env_off;
	uint32_t content;       /* where the payload goes */
	uint32_t start_bytes;
	uint32_t start_handles;
	bool inl;
};
/* Open the envelope at env_off for a payload of inline size `size`: inline
 * (content == env_off) when size <= 4, else out-of-line. Returns content. */
uint32_t fidl_enc_env_begin(struct fidl_enc *e, struct fidl_enc_env *v,
                            uint32_t env_off, uint32_t size);
/* Write num_bytes / num_handles / flags from what the payload used. */
void fidl_enc_env_end(struct fidl_enc *e, struct fidl_enc_env *v);
/* Table field `ordinal` of the table whose envelopes are at envs. */
uint32_t fidl_enc_field_begin(struct fidl_enc *e, struct fidl_enc_env *v,
                              uint32_t envs, uint32_t ordinal, uint32_t size);
/* Union at off: writes the ordinal and opens its envelope. */
uint32_t fidl_enc_union_begin(struct fidl_enc *e, struct fidl_enc_env *v,
                              uint32_t off, uint64_t ordinal, uint32_t size);

/* Record an error found by a codec (e.g. a required fd that is -1). */
void fidl_enc_fail(struct fidl_enc *e, int status, const char *why);

/* Close the message: sets num_bytes. Returns ZX_OK or the first error. */
int fidl_enc_finish(struct fidl_enc *e);

/* ---- Decoder ---------------------------------------------------------- */

struct fidl_dec {
	struct fidl_msg *m;
	struct fidl_header hdr;
	uint32_t next;         /* where the next out-of-line object must start */
	uint32_t next_handle;  /* index of the next handle to consume */
	int depth;
	int status;
	const char *err;
};

/* Check the transactional header (size, magic 1, v2 flag) and position the
 * decoder at the body. On error the message's handles are closed. */
int fidl_dec_init(struct fidl_dec *d, struct fidl_msg *m);
/* A header-less message (data at rest). */
void fidl_dec_init_body(struct fidl_dec *d, struct fidl_msg *m);

/* Record the first error and close every handle not yet taken. Always
 * returns the (first) status. */
int fidl_dec_fail(struct fidl_dec *d, int status, const char *why);

/* Claim the primary object of `size` bytes (its padding to 8 must be zero).
 * size 0: the message has no body. */
uint32_t fidl_dec_primary(struct fidl_dec *d, uint32_t size);

uint8_t fidl_dec_u8(struct fidl_dec *d, uint32_t off);
uint16_t fidl_dec_u16(struct fidl_dec *d, uint32_t off);
uint32_t fidl_dec_u32(struct fidl_dec *d, uint32_t off);
uint64_t fidl_dec_u64(struct fidl_dec *d, uint32_t off);
bool fidl_dec_bool(struct fidl_dec *d, uint32_t off);
void fidl_dec_bytes(struct fidl_dec *d, uint32_t off, void *out, size_t n);
/* Padding inside an inline object: n bytes at off must be zero. */
void fidl_dec_padding(struct fidl_dec *d, uint32_t off, uint32_t n);
#define fidl_dec_i32(d, off) ((int32_t)fidl_dec_u32((d), (off)))
#define fidl_dec_i64(d, off) ((int64_t)fidl_dec_u64((d), (off)))

/* A handle: the next one of the message. Returns the fd, now the caller's,
 * or -1 when absent (an error unless optional). */
int fidl_dec_handle(struct fidl_dec *d, uint32_t off, bool optional);

/* A string of at most max bytes, valid UTF-8 without NUL bytes (every
 * string here becomes a C string, and an embedded NUL would silently cut
 * it). Returns a malloc'd NUL-terminated copy; NULL when absent (an error
 * unless optional) or on error. *len (may be NULL) gets the length. */
char *fidl_dec_string(struct fidl_dec *d, uint32_t off, uint32_t max,
                      bool optional, size_t *len);

/* Vector header at off: checks presence, count <= max; claims the body.
 * Returns the body offset (0 when absent or on error); *count gets the
 * element count. Decode elements in order, then end - but only for a
 * present vector (an absent optional one opened no level). *present may be
 * NULL. */
uint32_t fidl_dec_vector_begin(struct fidl_dec *d, uint32_t off, uint32_t elem_size,
                               uint32_t max, bool optional, uint32_t *count,
                               bool *present);
void fidl_dec_vector_end(struct fidl_dec *d);

/* Table header at off (tables are never absent). Returns the envelopes'
 * offset; *n gets the number of envelopes (highest ordinal sent). */
uint32_t fidl_dec_table_begin(struct fidl_dec *d, uint32_t off, uint32_t *n);
void fidl_dec_table_end(struct fidl_dec *d);

struct fidl_dec_env {
	uint32_t env_off;
	uint32_t content;
	uint32_t num_bytes;
	uint32_t num_handles;
	uint32_t start_bytes;
	uint32_t start_handles;
	uint32_t size;
	bool inl;
};
/* Open the envelope at env_off for a known payload of inline size `size`.
 * Returns true when present (decode it at v->content, then env_end); false
 * when absent or on error. Inline iff size <= 4 is enforced. */
bool fidl_dec_env_begin(struct fidl_dec *d, struct fidl_dec_env *v, uint32_t env_off,
                        uint32_t size);
/* Check the payload consumed exactly num_bytes and num_handles. */
void fidl_dec_env_end(struct fidl_dec *d, struct fidl_dec_env *v);
/* Table field `ordinal` (1-based) of a table with envelopes at envs. */
bool fidl_dec_field_begin(struct fidl_dec *d, struct fidl_dec_env *v, uint32_t envs,
                          uint32_t ordinal, uint32_t size);
/* An unknown field or union variant: skip its bytes and close its handles. */
void fidl_dec_env_skip(struct fidl_dec *d, uint32_t env_off);

/* A union's ordinal at off. 0 means absent, which is an error unless
 * optional (and then the envelope must be zero). */
uint64_t fidl_dec_union_tag(struct fidl_dec *d, uint32_t off, bool optional);
/* Open the envelope of a known variant (it must be present). */
bool fidl_dec_union_begin(struct fidl_dec *d, struct fidl_dec_env *v, uint32_t off,
                          uint32_t size);

/* Every byte and handle consumed? Returns ZX_OK or the first error. */
int fidl_dec_finish(struct fidl_dec *d);

/* Epitaph: decode its status from a message whose ordinal is the epitaph's. */
int fidl_dec_epitaph(struct fidl_msg *m, int32_t *status);

/* UTF-8 per RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF, no truncated sequences. */
bool fidl_utf8_valid(const uint8_t *s, size_t n);

#endif
