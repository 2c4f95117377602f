/* traces/trace_reader_internal.h - the state the strict reader's two halves
 * share; private to traces/ (callers use trace_load in trace.h).
 *
 * Owns: struct trace_reader (one load in progress) and the reader's error
 * helpers. trace_reader.c opens the file and checks schema and meta;
 * trace_reader_events.c turns the event, memory-read and output rows into
 * struct script.
 */
#ifndef TRACES_TRACE_READER_INTERNAL_H
#define TRACES_TRACE_READER_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "traces/trace.h"

struct trace_reader {
	const char *path;
	sqlite3 *db;
	char *err;
	size_t errlen;
	struct script s; /* what is loaded so far; freed on any failure */
	size_t cap;      /* slots allocated in s.ev */
	uint64_t total;  /* decompressed bytes so far (TRACE_MAX_TOTAL) */
	struct trace_info *info;
	size_t host_pending; /* index of a host event awaiting its bytes, or SIZE_MAX */
};

/* "path: what" into r->err; returns rc. */
int trace_rerr(struct trace_reader *r, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The last SQLite error on r->db while doing `what`, as a refusal (a file
 * that is not SQLite or is corrupt: -EINVAL; anything else: -EIO). */
int trace_sql_fail(struct trace_reader *r, const char *what);

/* Load every event with its memory reads and outputs into r->s, checking
 * order, density, kinds, ranges and sizes (trace_reader_events.c). */
int trace_read_events(struct trace_reader *r);

#endif
