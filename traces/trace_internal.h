/* traces/trace_internal.h - what the trace writer and reader share; private
 * to traces/ (callers use trace.h).
 *
 * Owns: the declarations of the one schema table both sides use (the writer
 * creates exactly these tables, the reader refuses any other text), the
 * blob compression both sides must agree on (zlib, inflated to an exact
 * recorded length), and the "where: what" refusal the reader and the text
 * parser share.
 */
#ifndef TRACES_TRACE_INTERNAL_H
#define TRACES_TRACE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- schema (trace_schema.c) ---- */

struct trace_table {
	const char *name;
	const char *create; /* the exact CREATE TABLE text of format TRACE_FORMAT_VERSION */
};

extern const struct trace_table trace_schema_tables[];
extern const size_t trace_schema_ntables;
/* Views for people with the sqlite3 shell (names instead of numbers): the
 * writer creates them, the reader does not check them. */
extern const char trace_schema_views[];

/* ---- blobs (trace_blob.c) ---- */

/* A mem_reads blob, once inflated, is `n` records of: le64 gpa, le32 length
 * (this header), then the bytes read. */
#define TRACE_MEMR_HDR 12

/* Blobs longer than this are stored compressed when that is shorter (and the
 * row's value column then holds the raw length). */
#define TRACE_COMPRESS_MIN 64

/* zlib of [src, src+len) into *out (malloc'd, *outlen bytes). 0, -ENOMEM or
 * -EIO. */
int trace_deflate(const uint8_t *src, size_t len, uint8_t **out, size_t *outlen);
/* Inflate [src, src+len) to exactly `raw` bytes into *out (malloc'd); any
 * other length is corruption. 0, or -ENOMEM / -EINVAL with *why saying what. */
int trace_inflate_exact(const void *src, size_t len, size_t raw, uint8_t **out,
                        const char **why);

/* ---- refusals (trace_err.c) ---- */

/* "where: " and the message into err (if any); returns rc. The trace reader
 * passes the path, the script parser "name:line". */
int trace_verrf_at(char *err, size_t errlen, int rc, const char *where, const char *fmt,
                   va_list ap) __attribute__((format(printf, 5, 0)));

#endif
