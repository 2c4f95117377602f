/* traces/trace.h - the SQLite trace: one database per recording.
 *
 * Owns: the public API of the trace format (version TRACE_FORMAT_VERSION,
 * documented in traces/README.md): the recorder (an ev_sink that writes a
 * trace as the vmm runs; trace_writer.c), the strict reader that loads a
 * trace into the sim's in-memory event array (struct script, traces/script.h;
 * trace_reader.c, trace_reader_events.c), metadata access, and the digest of
 * an event stream (trace_digest.c). The schema both sides use is one table in
 * trace_schema.c. The reader trusts nothing in the file: a file that is not SQLite,
 * has another schema or version, holds a corrupt compressed blob, events out
 * of order or with gaps, unknown kinds or absurd sizes is refused with a
 * precise message, and nothing is returned.
 *
 * Tables (see README.md for every column):
 *   meta(key, value)                              format_version, vmm_version, ...
 *   events(seq, vcpu, kind, addr, size, data)     the vCPU exits, seq 1..n dense
 *   mem_reads(seq, n, raw, data)                  per exit: what devices read, zlib
 *   outputs(id, seq, kind, device, addr, value, data)  per exit, in order:
 *                                                 irqs, host bytes, memory
 *                                                 writes, host inputs
 */
#ifndef TRACES_TRACE_H
#define TRACES_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "traces/script.h"
#include "base/events.h"

#define TRACE_FORMAT_VERSION 2
/* Limits the reader enforces (a trace beyond them is refused as absurd). */
#define TRACE_MAX_EXITS (1u << 22)
#define TRACE_MAX_SCRIPT_EVENTS (1u << 24)
#define TRACE_MAX_RECORD (16u << 20)   /* bytes of one output, input or read batch */
#define TRACE_MAX_TOTAL (1ull << 30)   /* decompressed bytes in one trace */
#define TRACE_MAX_META 64              /* meta rows */
#define TRACE_MAX_META_VALUE 4096

/* Output kinds in outputs.kind. */
enum trace_out_kind {
	TRACE_OUT_IRQ = 1,   /* addr = gsi, value = level */
	TRACE_OUT_HOST = 2,  /* device, data: bytes sent to the host */
	TRACE_OUT_MEMW = 3,  /* addr = gpa, data: bytes a device wrote to guest memory */
	TRACE_OUT_INPUT = 4, /* device, data: a host input (entropy, block read) */
	TRACE_OUT_HOST_EVENT = 5, /* device, data: the input of a host event (below) */
};

/* events.kind of a host event (input offered between exits; at the device
 * level every vhost-user message and kick): not an hv_exit_kind. events.data
 * is how many of its bytes the device took; the bytes offered are its first
 * outputs row (kind TRACE_OUT_HOST_EVENT); the rows after are what it caused. */
#define TRACE_EVENT_HOST 16

/* ---- recording ---- */

struct trace_writer;

/* Create path (replacing any file there) with the schema, in one open
 * transaction. NULL with err set on failure. */
struct trace_writer *trace_writer_open(const char *path, char *err, size_t errlen);
/* Set a meta row (before close). format_version is set by the writer. */
int trace_writer_set_meta(struct trace_writer *w, const char *key, const char *value);
/* The sink to give the vmm. Thread-safe. Outputs, memory accesses and
 * inputs are held until the exit they belong to is announced, then written
 * after it. */
struct ev_sink trace_recorder_sink(struct trace_writer *w);
/* Flush, commit, close. 0, or the first error (err says what). */
int trace_writer_close(struct trace_writer *w, char *err, size_t errlen);

/* Write an in-memory script as a trace (converting a text script, tests
 * that build bad or mutated traces). meta may be NULL; it is a NULL-ended
 * list of key, value pairs. */
int trace_write_script(const char *path, const struct script *s, const char *const *meta,
                       char *err, size_t errlen);

/* ---- reading ---- */

struct trace_meta_kv {
	char *key, *value;
};

struct trace_info {
	int format_version;
	struct trace_meta_kv meta[TRACE_MAX_META];
	size_t nmeta;
	uint64_t exits;         /* rows in events */
	uint64_t mem_read_rows; /* rows in mem_reads */
	uint64_t mem_reads;     /* individual reads */
	uint64_t outputs;       /* rows in outputs */
	uint64_t file_bytes;
	uint64_t raw_bytes;     /* decompressed bytes of every blob */
};

/* Load path into *out (and *info, if not NULL). Returns 0, or -errno with err
 * saying what is wrong and where; *out is then empty. */
int trace_load(const char *path, struct script *out, struct trace_info *info, char *err,
               size_t errlen);
void trace_info_free(struct trace_info *info);
/* The value of a meta key, or NULL. */
const char *trace_info_get(const struct trace_info *info, const char *key);

/* SHA-256 of an event stream in a canonical encoding (independent of how a
 * recording split output bytes): equal digests mean equal streams. */
void script_digest(const struct script *s, uint8_t out[32]);
/* Lowercase hex of a 32-byte digest into out[65]. */
void trace_hex_digest(const uint8_t d[32], char out[65]);

/* Format a message into err (if any) and return rc: the traces/ modules'
 * one way of failing with a precise message. */
int trace_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
