/* traces/script.h - struct script, what the sim backend replays, and its text
 * form, the "exit script".
 *
 * Owns: the in-memory event array (struct script) that replay consumes, the
 * rules every recorded event obeys (exit kinds, access sizes, device names),
 * the strict parser of the text form, its writer, and a text recorder (an
 * ev_sink that appends what the vmm handled to a script file). The text form
 * is the hand-writable one, for tests that build small or broken recordings
 * (traces/README.md); recordings are SQLite traces (trace.h), whose reader
 * produces the same struct script, so the sim never knows which form a
 * recording came from.
 *
 * Text form (traces/README.md has the full grammar):
 *   vmm-script 1                              first line, exactly
 *   # comment                                 and blank lines: ignored
 *   exit <vcpu> <kind> <addr> <size> <data> [= <read-value>]
 *   irq <gsi> <level>
 *   out <device> <bytes>
 *   memr <gpa> <bytes> | memw <gpa> <bytes> | in <device> <bytes>
 *   host <device> <bytes> [= <taken>]
 * Numbers in hex without 0x except vcpu, size, gsi and level (decimal).
 *
 * Ordering rule: an exit line comes first, then the irq and out lines its
 * handling produced, in the order the vmm produced them. The vmm announces a
 * device's outputs before it announces the exit that caused them (it learns
 * the read value last), so the recorder holds outputs back until the exit.
 * memr lines of an exit come right after it (the replayer writes them into
 * guest memory before it hands the exit out), then the rest in order.
 */
#ifndef TRACES_SCRIPT_H
#define TRACES_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/events.h"
#include "base/hv.h"

#define SCRIPT_VERSION 1
#define SCRIPT_MAX_LINE 8192        /* bytes, newline excluded */
#define SCRIPT_MAX_EVENTS (1u << 20)
#define SCRIPT_MAX_DEVICE 31        /* device name length */
#define SCRIPT_MAX_GSI 1023
/* Output bytes per out line, so that a written line always parses back. */
#define SCRIPT_OUT_MAX_BYTES ((SCRIPT_MAX_LINE - 64) / 2)

enum script_event_type {
	SCRIPT_EXIT = 1, /* a vCPU exit, handed out by the replayer */
	SCRIPT_IRQ = 2,  /* an interrupt line the vmm drove: checked */
	SCRIPT_OUT = 3,  /* bytes the vmm sent to a host device: checked */
	SCRIPT_MEMR = 4, /* guest memory a device read: written back before its exit */
	SCRIPT_MEMW = 5, /* guest memory a device wrote: checked */
	SCRIPT_IN = 6,   /* host input (entropy, block read): fed back by the source */
	SCRIPT_HOST = 7, /* a host event (input offered between exits: serial, console,
	                  * net, balloon; at the device level vhost-user messages and
	                  * kicks): injected, an event like an exit; the records after
	                  * it are its own. read_value: bytes the device took */
};

struct script_event {
	enum script_event_type type;
	unsigned line; /* source line, for messages; 0 if not from text */
	/* SCRIPT_EXIT */
	unsigned vcpu;
	struct hv_exit exit;  /* key is 0: the replayer fills it from its traps */
	uint64_t read_value;  /* the answer, for MEM_READ / IO_IN; SCRIPT_HOST: bytes taken */
	/* SCRIPT_IRQ */
	uint32_t gsi;
	int level;
	/* SCRIPT_OUT, SCRIPT_IN, SCRIPT_HOST: device; SCRIPT_MEMR, SCRIPT_MEMW: gpa */
	char device[SCRIPT_MAX_DEVICE + 1];
	uint64_t gpa;
	uint8_t *data; /* owned */
	size_t len;    /* > 0 */
};

struct script {
	struct script_event *ev;
	size_t n;
	/* Loaded from a SQLite trace: exit events carry their trace seq in
	 * `line`, and reports name exits by it. */
	bool from_trace;
};

/* True for exit kinds that a script may hold (not kick or end). */
bool script_exit_kind_valid(enum hv_exit_kind k);
/* True for exit kinds answered with a read value. */
bool script_exit_is_read(enum hv_exit_kind k);
/* True for exit kinds that carry an access (address, size, data). */
bool script_exit_is_access(enum hv_exit_kind k);
/* The bits an access of `size` bytes (1, 2, 4 or 8) can carry. */
static inline uint64_t script_size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}
/* True for a device name a script or trace may hold: 1-SCRIPT_MAX_DEVICE of
 * [a-z0-9._-] (base/event_names.h defines the names devices use). */
bool script_device_name_ok(const char *name);

/* Parse text [text, text+len) (NUL bytes inside are rejected). name prefixes
 * messages as "name:line: what". On error *out is left empty and err says
 * what. Returns 0 or -EINVAL (malformed), -E2BIG (limits), -ENOMEM. */
int script_parse_string(const char *name, const char *text, size_t len,
                        struct script *out, char *err, size_t errlen);
/* The same with a lower event limit (max_events <= SCRIPT_MAX_EVENTS), for
 * callers that know how big a script may be. */
int script_parse_string_max(const char *name, const char *text, size_t len,
                            size_t max_events, struct script *out, char *err,
                            size_t errlen);
/* Read and parse a file (at most SCRIPT_MAX_EVENTS * SCRIPT_MAX_LINE bytes). */
int script_parse_file(const char *path, struct script *out, char *err, size_t errlen);
void script_free(struct script *s);

/* One event as a line without newline, e.g. "irq 4 1". Returns the length it
 * needed (as snprintf), or -EINVAL for an event that cannot be written. */
int script_format_event(const struct script_event *e, char *buf, size_t len);
/* Header and every event. 0 or -errno. */
int script_write(FILE *f, const struct script *s);
/* The pieces of script_write, for writers that stream (the recorder). */
int script_write_header(FILE *f);
/* One event and its newline; outputs longer than SCRIPT_OUT_MAX_BYTES are
 * split over several lines (replay matches output bytes as a stream). */
int script_write_event(FILE *f, const struct script_event *e);

/* ---- recorder ---- */

struct script_writer;

/* Create (truncate) path and write the header. NULL with err set on failure. */
struct script_writer *script_writer_open(const char *path, char *err, size_t errlen);
/* Write to an open stream the writer does not own (tests, pipes). */
struct script_writer *script_writer_stream(FILE *f);
/* Flush held-back outputs, close. Returns 0, or the first write error seen. */
int script_writer_close(struct script_writer *w);
/* The sink to give the vmm. Thread-safe; outputs are held back until the
 * next exit_handled (see the ordering rule) and written after that exit. */
struct ev_sink script_recorder_sink(struct script_writer *w);

#endif
