/* traces/trace_reader_events.c - the strict trace reader: the rows; see
 * trace.h and trace_reader_internal.h.
 *
 * Owns: turning `events`, `mem_reads` and `outputs` into struct script in the
 * order replay needs (an event, its memory reads, then its outputs), and every
 * check on them: seq dense from 1, records only for events that exist and in
 * order, known kinds, vCPUs, sizes, ports and GSIs in range, device names of
 * the script's alphabet, blobs that inflate to their recorded length, and the
 * limits of trace.h.
 */
#include "traces/trace_reader_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/byteorder.h"
#include "traces/trace_internal.h"


static struct script_event *add_event(struct trace_reader *r)
{
	if (r->s.n >= TRACE_MAX_SCRIPT_EVENTS)
		return NULL;
	assert(r->s.n <= r->cap);
	if (r->s.n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 256;
		struct script_event *ev = realloc(r->s.ev, nc * sizeof(*ev));
		if (!ev)
			return NULL;
		r->s.ev = ev;
		r->cap = nc;
	}
	struct script_event *e = &r->s.ev[r->s.n++];
	memset(e, 0, sizeof(*e));
	return e;
}

/* The same rules as the text parser's, for exits that come from a file. */
static int check_exit(struct trace_reader *r, uint64_t seq, sqlite3_int64 vcpu, sqlite3_int64 kind,
                      uint64_t addr, sqlite3_int64 size, uint64_t data)
{
	if (vcpu < 0 || vcpu >= HV_MAX_VCPUS)
		return trace_rerr(r, -EINVAL, "event %" PRIu64 ": vcpu %lld out of range (0-%d)", seq,
		            (long long)vcpu, HV_MAX_VCPUS - 1);
	if (kind < 1 || kind > 20 || !script_exit_kind_valid((enum hv_exit_kind)kind))
		return trace_rerr(r, -EINVAL, "event %" PRIu64 ": unknown exit kind %lld", seq,
		            (long long)kind);
	bool access = script_exit_is_access((enum hv_exit_kind)kind);
	if (access) {
		if (size != 1 && size != 2 && size != 4 && size != 8)
			return trace_rerr(r, -EINVAL, "event %" PRIu64 ": access size %lld is not 1, 2, 4 or 8",
			            seq, (long long)size);
		if (data & ~script_size_mask((unsigned)size))
			return trace_rerr(r, -EINVAL, "event %" PRIu64 ": data 0x%" PRIx64 " wider than %lld bytes",
			            seq, data, (long long)size);
		if ((kind == HV_EXIT_IO_IN || kind == HV_EXIT_IO_OUT) && addr > 0xffff)
			return trace_rerr(r, -EINVAL, "event %" PRIu64 ": port 0x%" PRIx64 " above 0xffff", seq,
			            addr);
		if (addr + (uint64_t)size - 1 < addr)
			return trace_rerr(r, -EINVAL, "event %" PRIu64 ": access wraps the address space", seq);
	} else if (addr != 0 || size != 0 || data > UINT32_MAX ||
	           (kind == HV_EXIT_HALT && data != 0)) {
		return trace_rerr(r, -EINVAL, "event %" PRIu64 ": %s with address, size or reason out of range",
		            seq, kind == HV_EXIT_HALT ? "halt" : "shutdown/failure");
	}
	return 0;
}

/* Bytes of a blob column, decompressed when `raw` (> 0) says it was. */
static int column_bytes(struct trace_reader *r, sqlite3_stmt *st, int col, sqlite3_int64 raw,
                        const char *what, uint64_t seq, uint8_t **out, size_t *len)
{
	int t = sqlite3_column_type(st, col);
	if (t != SQLITE_BLOB && t != SQLITE_TEXT)
		return trace_rerr(r, -EINVAL, "%s of event %" PRIu64 ": no data", what, seq);
	const void *p = sqlite3_column_blob(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	if (n > TRACE_MAX_RECORD || raw < 0 || (uint64_t)raw > TRACE_MAX_RECORD)
		return trace_rerr(r, -E2BIG, "%s of event %" PRIu64 ": absurd size (%zu stored, %lld raw; limit %u)",
		            what, seq, n, (long long)raw, TRACE_MAX_RECORD);
	size_t want = raw > 0 ? (size_t)raw : n;
	if (want == 0)
		return trace_rerr(r, -EINVAL, "%s of event %" PRIu64 ": empty", what, seq);
	r->total += want;
	if (r->total > TRACE_MAX_TOTAL)
		return trace_rerr(r, -E2BIG, "more than %llu bytes of data in all", TRACE_MAX_TOTAL);
	if (raw > 0) {
		const char *why = NULL;
		int rc = trace_inflate_exact(p, n, want, out, &why);
		if (rc)
			return trace_rerr(r, rc, "%s of event %" PRIu64 ": %s", what, seq, why);
	} else {
		*out = malloc(n);
		if (!*out)
			return trace_rerr(r, -ENOMEM, "out of memory");
		memcpy(*out, p, n);
	}
	/* Replay relies on it: every record holds at least one byte. */
	assert(want > 0 && want <= TRACE_MAX_RECORD);
	*len = want;
	return 0;
}

/* Append the reads of one mem_reads row. */
static int load_reads(struct trace_reader *r, sqlite3_stmt *st, uint64_t seq)
{
	sqlite3_int64 n = sqlite3_column_int64(st, 1), raw = sqlite3_column_int64(st, 2);
	if (raw <= 0 || n <= 0 || n > raw / 13 + 1)
		return trace_rerr(r, -EINVAL, "memory reads of event %" PRIu64 ": bad count %lld / length %lld",
		            seq, (long long)n, (long long)raw);
	uint8_t *b;
	size_t len;
	int rc = column_bytes(r, st, 3, raw, "memory reads", seq, &b, &len);
	if (rc)
		return rc;
	size_t off = 0;
	for (sqlite3_int64 i = 0; i < n && !rc; i++) {
		if (len - off < TRACE_MEMR_HDR) {
			rc = trace_rerr(r, -EINVAL, "memory reads of event %" PRIu64 ": record %lld truncated", seq,
			          (long long)i);
			break;
		}
		uint64_t gpa = le64_get(b + off);
		uint64_t l = le32_get(b + off + 8);
		off += TRACE_MEMR_HDR;
		if (l == 0 || l > len - off || gpa + l - 1 < gpa) {
			rc = trace_rerr(r, -EINVAL, "memory reads of event %" PRIu64 ": record %lld has a bad length %"
			          PRIu64, seq, (long long)i, l);
			break;
		}
		struct script_event *e = add_event(r);
		if (!e || !(e->data = malloc(l))) {
			rc = trace_rerr(r, -ENOMEM, "out of memory or more than %u events", TRACE_MAX_SCRIPT_EVENTS);
			break;
		}
		e->type = SCRIPT_MEMR;
		e->gpa = gpa;
		memcpy(e->data, b + off, l);
		e->len = l;
		off += l;
		assert(off <= len); /* l was checked against what is left */
	}
	if (!rc && off != len)
		rc = trace_rerr(r, -EINVAL, "memory reads of event %" PRIu64 ": %zu bytes after the last record",
		          seq, len - off);
	free(b);
	r->info->mem_reads += (uint64_t)n;
	return rc;
}

static int load_output(struct trace_reader *r, sqlite3_stmt *st, uint64_t seq)
{
	sqlite3_int64 id = sqlite3_column_int64(st, 0), kind = sqlite3_column_int64(st, 2);
	const char *dev = (const char *)sqlite3_column_text(st, 3);
	sqlite3_int64 addr = sqlite3_column_int64(st, 4), value = sqlite3_column_int64(st, 5);
	struct script_event *e;
	if (kind == TRACE_OUT_HOST_EVENT) {
		/* The bytes of the host event just read: they fill it in. */
		if (r->host_pending == SIZE_MAX)
			return trace_rerr(r, -EINVAL, "output %lld (event %" PRIu64 "): host-event bytes with no "
			            "host event before them", (long long)id, seq);
		assert(r->host_pending < r->s.n && r->s.ev[r->host_pending].type == SCRIPT_HOST);
		e = &r->s.ev[r->host_pending];
		r->host_pending = SIZE_MAX;
		if (!script_device_name_ok(dev))
			return trace_rerr(r, -EINVAL, "output %lld (event %" PRIu64 "): bad device name",
			            (long long)id, seq);
		snprintf(e->device, sizeof(e->device), "%s", dev);
		int rc = column_bytes(r, st, 6, value, "host event", seq, &e->data, &e->len);
		if (!rc && e->read_value > e->len)
			rc = trace_rerr(r, -EINVAL, "event %" PRIu64 ": the device took %" PRIu64 " of %zu bytes",
			          seq, e->read_value, e->len);
		return rc;
	}
	if (r->host_pending != SIZE_MAX)
		return trace_rerr(r, -EINVAL, "event %" PRIu64 ": a host event without its bytes", seq);
	e = add_event(r);
	if (!e)
		return trace_rerr(r, -E2BIG, "out of memory or more than %u events", TRACE_MAX_SCRIPT_EVENTS);
	switch (kind) {
	case TRACE_OUT_IRQ:
		if (addr < 0 || addr > SCRIPT_MAX_GSI || (value != 0 && value != 1))
			return trace_rerr(r, -EINVAL, "output %lld (event %" PRIu64 "): irq %lld level %lld out of range",
			            (long long)id, seq, (long long)addr, (long long)value);
		e->type = SCRIPT_IRQ;
		e->gsi = (uint32_t)addr;
		e->level = (int)value;
		return 0;
	case TRACE_OUT_MEMW:
		e->type = SCRIPT_MEMW;
		e->gpa = (uint64_t)addr;
		break;
	case TRACE_OUT_HOST:
	case TRACE_OUT_INPUT:
		if (!script_device_name_ok(dev))
			return trace_rerr(r, -EINVAL, "output %lld (event %" PRIu64 "): bad device name",
			            (long long)id, seq);
		e->type = kind == TRACE_OUT_HOST ? SCRIPT_OUT : SCRIPT_IN;
		snprintf(e->device, sizeof(e->device), "%s", dev);
		break;
	default:
		return trace_rerr(r, -EINVAL, "output %lld (event %" PRIu64 "): unknown output kind %lld",
		            (long long)id, seq, (long long)kind);
	}
	int rc = column_bytes(r, st, 6, value, "output", seq, &e->data, &e->len);
	if (rc)
		e->type = SCRIPT_IRQ; /* nothing owned: script_free stays safe */
	else if (e->type == SCRIPT_MEMW && e->gpa + e->len - 1 < e->gpa)
		return trace_rerr(r, -EINVAL, "output %lld (event %" PRIu64 "): memory range wraps",
		            (long long)id, seq);
	return rc;
}

int trace_read_events(struct trace_reader *r)
{
	sqlite3_stmt *ev = NULL, *mr = NULL, *out = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(r->db, "SELECT seq, vcpu, kind, addr, size, data FROM events ORDER BY seq",
	                       -1, &ev, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db, "SELECT seq, n, raw, data FROM mem_reads ORDER BY seq", -1, &mr,
	                       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db,
	                       "SELECT id, seq, kind, device, addr, value, data FROM outputs ORDER BY id",
	                       -1, &out, NULL) != SQLITE_OK) {
		rc = trace_sql_fail(r, "reading events");
		goto done;
	}
	/* Three cursors merged by seq: exit, its reads, then its outputs. */
	int sm = sqlite3_step(mr), so = sqlite3_step(out);
	sqlite3_int64 last_out_seq = 0, last_mr_seq = -1;
	uint64_t seq = 0;
	for (;;) {
		/* Records for `seq` (0: before the first exit). */
		while (sm == SQLITE_ROW && !rc) {
			sqlite3_int64 s = sqlite3_column_int64(mr, 0);
			if (s < (sqlite3_int64)seq || s == last_mr_seq) {
				rc = trace_rerr(r, -EINVAL, "memory reads for event %lld out of order", (long long)s);
				break;
			}
			if (s != (sqlite3_int64)seq)
				break;
			last_mr_seq = s;
			r->info->mem_read_rows++;
			rc = load_reads(r, mr, seq);
			sm = sqlite3_step(mr);
		}
		while (so == SQLITE_ROW && !rc) {
			sqlite3_int64 s = sqlite3_column_int64(out, 1);
			if (s < last_out_seq || s < (sqlite3_int64)seq) {
				rc = trace_rerr(r, -EINVAL,
				          "outputs out of order: output %lld belongs to event %lld, after event %lld's",
				          (long long)sqlite3_column_int64(out, 0), (long long)s,
				          (long long)last_out_seq);
				break;
			}
			if (s != (sqlite3_int64)seq)
				break;
			last_out_seq = s;
			r->info->outputs++;
			rc = load_output(r, out, seq);
			so = sqlite3_step(out);
		}
		if (!rc && r->host_pending != SIZE_MAX)
			rc = trace_rerr(r, -EINVAL, "event %" PRIu64 ": a host event without its bytes", seq);
		if (rc)
			break;
		if ((sm != SQLITE_ROW && sm != SQLITE_DONE) || (so != SQLITE_ROW && so != SQLITE_DONE)) {
			rc = trace_sql_fail(r, "reading events");
			break;
		}
		int se = sqlite3_step(ev);
		if (se == SQLITE_DONE)
			break;
		if (se != SQLITE_ROW) {
			rc = trace_sql_fail(r, "reading events");
			break;
		}
		sqlite3_int64 s = sqlite3_column_int64(ev, 0);
		if (s != (sqlite3_int64)seq + 1) {
			rc = trace_rerr(r, -EINVAL, "events out of order or with a gap: event %lld follows event %" PRIu64,
			          (long long)s, seq);
			break;
		}
		seq++;
		if (seq > TRACE_MAX_EXITS) {
			rc = trace_rerr(r, -E2BIG, "more than %u exits", TRACE_MAX_EXITS);
			break;
		}
		for (int c = 1; c < 6 && !rc; c++)
			if (sqlite3_column_type(ev, c) != SQLITE_INTEGER)
				rc = trace_rerr(r, -EINVAL, "event %" PRIu64 ": column %d is not an integer", seq, c);
		if (rc)
			break;
		sqlite3_int64 vcpu = sqlite3_column_int64(ev, 1), kind = sqlite3_column_int64(ev, 2);
		uint64_t addr = (uint64_t)sqlite3_column_int64(ev, 3);
		sqlite3_int64 size = sqlite3_column_int64(ev, 4);
		uint64_t data = (uint64_t)sqlite3_column_int64(ev, 5);
		if (kind == TRACE_EVENT_HOST) {
			if (vcpu || addr || size || data > TRACE_MAX_RECORD) {
				rc = trace_rerr(r, -EINVAL, "event %" PRIu64 ": host event with vcpu, address or size "
				          "set, or an absurd byte count", seq);
				break;
			}
			struct script_event *e = add_event(r);
			if (!e) {
				rc = trace_rerr(r, -E2BIG, "out of memory or more than %u events",
				          TRACE_MAX_SCRIPT_EVENTS);
				break;
			}
			e->type = SCRIPT_HOST;
			e->line = (unsigned)seq;
			e->read_value = data; /* checked against the bytes when they come */
			r->host_pending = r->s.n - 1;
			continue;
		}
		rc = check_exit(r, seq, vcpu, kind, addr, size, data);
		if (rc)
			break;
		assert(script_exit_kind_valid((enum hv_exit_kind)kind) && vcpu < HV_MAX_VCPUS);
		struct script_event *e = add_event(r);
		if (!e) {
			rc = trace_rerr(r, -E2BIG, "out of memory or more than %u events", TRACE_MAX_SCRIPT_EVENTS);
			break;
		}
		e->type = SCRIPT_EXIT;
		e->line = (unsigned)seq;
		e->vcpu = (unsigned)vcpu;
		e->exit.kind = (enum hv_exit_kind)kind;
		if (script_exit_is_access(e->exit.kind)) {
			e->exit.addr = addr;
			e->exit.size = (uint8_t)size;
			if (script_exit_is_read(e->exit.kind))
				e->read_value = data;
			else
				e->exit.data = data;
		} else {
			e->exit.reason = (uint32_t)data;
		}
	}
	r->info->exits = seq;
	if (!rc && sm == SQLITE_ROW)
		rc = trace_rerr(r, -EINVAL, "memory reads for event %lld, which does not exist (%" PRIu64 " events)",
		          (long long)sqlite3_column_int64(mr, 0), seq);
	if (!rc && so == SQLITE_ROW)
		rc = trace_rerr(r, -EINVAL, "output %lld belongs to event %lld, which does not exist (%" PRIu64
		          " events)", (long long)sqlite3_column_int64(out, 0),
		          (long long)sqlite3_column_int64(out, 1), seq);
done:
	sqlite3_finalize(ev);
	sqlite3_finalize(mr);
	sqlite3_finalize(out);
	return rc;
}
