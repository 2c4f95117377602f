/* traces/trace_writer.c - the trace writer and recorder; see trace.h.
 *
 * Owns: creating a trace file with the schema (trace_schema.c), meta rows,
 * the recorder sink (an ev_sink that holds what a device produced until the
 * exit it belongs to is announced, then writes the exit and its records), and
 * trace_write_script, which feeds an in-memory script through that same sink.
 *
 * Size: an exit is one row of small integers in `events` (SQLite stores
 * small integers in 1-2 bytes); the memory its devices read is one zlib blob
 * per exit; outputs are one row each, with blobs over TRACE_COMPRESS_MIN
 * bytes compressed. The database uses 1 KiB pages so that a short recording
 * is a few kilobytes.
 */
#include "traces/trace.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/byteorder.h"
#include "traces/trace_internal.h"

/* Held records between two exits: a device producing more while handling one
 * access is broken; the recorder says so instead of growing without bound. */
#define MAX_HELD 65536

/* ---- a growable byte buffer ---- */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static int buf_put(struct buf *b, const void *data, size_t len)
{
	if (len > SIZE_MAX / 2 - b->len)
		return -E2BIG;
	if (b->len + len > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		while (nc < b->len + len)
			nc *= 2;
		uint8_t *np = realloc(b->p, nc);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

/* ---- writer ---- */

struct held {
	enum script_event_type type;
	char device[SCRIPT_MAX_DEVICE + 1];
	uint64_t addr; /* gsi or gpa */
	int level;
	uint8_t *data;
	size_t len;
};

struct trace_writer {
	sqlite3 *db;
	sqlite3_stmt *ins_event, *ins_memr, *ins_out, *ins_meta;
	pthread_mutex_t lock;
	int err;
	char errmsg[320];
	uint64_t seq;        /* last event (exit or host event) written */
	bool in_exit;        /* between exit_begin and exit_handled */
	struct held *held;   /* MAX_HELD slots, allocated on first use */
	size_t nheld;
};

/* Everything that touches held records or the statements runs under w->lock
 * (the vmm announces from every vCPU thread). A default mutex cannot say who
 * holds it; that someone does is what can be checked. */
static void assert_locked(struct trace_writer *w)
{
#ifndef NDEBUG
	int r = pthread_mutex_trylock(&w->lock);
	if (r == 0)
		pthread_mutex_unlock(&w->lock);
	assert(r == EBUSY);
#else
	(void)w;
#endif
}

static void werr(struct trace_writer *w, int rc, const char *what)
{
	if (w->err)
		return;
	w->err = rc;
	snprintf(w->errmsg, sizeof(w->errmsg), "%s: %s", what,
	         w->db ? sqlite3_errmsg(w->db) : "no database");
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		trace_errf(err, errlen, -EIO, "%s", msg ? msg : "sqlite error");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

struct trace_writer *trace_writer_open(const char *path, char *err, size_t errlen)
{
	if (unlink(path) < 0 && errno != ENOENT) {
		trace_errf(err, errlen, -errno, "%s: cannot replace: %s", path, strerror(errno));
		return NULL;
	}
	struct trace_writer *w = calloc(1, sizeof(*w));
	if (!w) {
		trace_errf(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	char e2[256];
	if (sqlite3_open_v2(path, &w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		trace_errf(err, errlen, -EIO, "%s: cannot create: %s", path,
		     w->db ? sqlite3_errmsg(w->db) : "out of memory");
		goto fail;
	}
	/* A recording is written once and then only read: no journal, and a
	 * crash mid-recording leaves a file the reader refuses (no meta). */
	if (exec(w->db, "PRAGMA page_size=1024; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
	                "BEGIN", e2, sizeof(e2)) < 0)
		goto fail_sql;
	for (size_t i = 0; i < trace_schema_ntables; i++)
		if (exec(w->db, trace_schema_tables[i].create, e2, sizeof(e2)) < 0)
			goto fail_sql;
	if (exec(w->db, trace_schema_views, e2, sizeof(e2)) < 0)
		goto fail_sql;
	if (sqlite3_prepare_v2(w->db, "INSERT INTO events VALUES(?,?,?,?,?,?)", -1, &w->ins_event,
	                       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(w->db, "INSERT INTO mem_reads VALUES(?,?,?,?)", -1, &w->ins_memr,
	                       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(w->db,
	                       "INSERT INTO outputs(seq,kind,device,addr,value,data) "
	                       "VALUES(?,?,?,?,?,?)",
	                       -1, &w->ins_out, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(w->db, "INSERT OR REPLACE INTO meta VALUES(?,?)", -1, &w->ins_meta,
	                       NULL) != SQLITE_OK) {
		snprintf(e2, sizeof(e2), "%s", sqlite3_errmsg(w->db));
		goto fail_sql;
	}
	char v[16];
	snprintf(v, sizeof(v), "%d", TRACE_FORMAT_VERSION);
	if (trace_writer_set_meta(w, "format_version", v) < 0) {
		snprintf(e2, sizeof(e2), "%.200s", w->errmsg);
		goto fail_sql;
	}
	return w;
fail_sql:
	trace_errf(err, errlen, -EIO, "%s: %s", path, e2);
fail:
	sqlite3_finalize(w->ins_event);
	sqlite3_finalize(w->ins_memr);
	sqlite3_finalize(w->ins_out);
	sqlite3_finalize(w->ins_meta);
	sqlite3_close(w->db);
	pthread_mutex_destroy(&w->lock);
	free(w);
	unlink(path);
	return NULL;
}

int trace_writer_set_meta(struct trace_writer *w, const char *key, const char *value)
{
	if (!w || !key || !value)
		return -EINVAL;
	pthread_mutex_lock(&w->lock);
	sqlite3_reset(w->ins_meta);
	sqlite3_bind_text(w->ins_meta, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(w->ins_meta, 2, value, -1, SQLITE_TRANSIENT);
	int r = 0;
	if (sqlite3_step(w->ins_meta) != SQLITE_DONE) {
		werr(w, -EIO, "writing meta");
		r = -EIO;
	}
	pthread_mutex_unlock(&w->lock);
	return r;
}

static void step(struct trace_writer *w, sqlite3_stmt *st, const char *what)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		werr(w, -EIO, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Bind data, compressed when that is shorter; value = raw length if so. */
static void bind_blob(struct trace_writer *w, sqlite3_stmt *st, int col, int value_col,
                      const uint8_t *data, size_t len)
{
	uint8_t *z = NULL;
	size_t zl = 0;
	if (len > TRACE_COMPRESS_MIN && trace_deflate(data, len, &z, &zl) == 0 && zl < len) {
		sqlite3_bind_blob(st, col, z, (int)zl, free);
		sqlite3_bind_int64(st, value_col, (sqlite3_int64)len);
		return;
	}
	free(z);
	sqlite3_bind_blob(st, col, data ? (const void *)data : (const void *)"", (int)len,
	                  SQLITE_TRANSIENT);
}

/* Write what was held, as belonging to exit `seq` (0: before the first). */
static void flush_held(struct trace_writer *w, uint64_t seq)
{
	assert_locked(w);
	assert(w->nheld <= MAX_HELD);
	struct buf reads = { 0 };
	uint64_t nreads = 0;
	for (size_t i = 0; i < w->nheld; i++) {
		struct held *h = &w->held[i];
		if (h->type != SCRIPT_MEMR)
			continue;
		/* hold_bytes took nothing longer: the length fits its le32. */
		assert(h->len > 0 && h->len <= TRACE_MAX_RECORD);
		uint8_t hdr[TRACE_MEMR_HDR];
		le64_put(hdr, h->addr);
		le32_put(hdr + 8, (uint32_t)h->len);
		if (buf_put(&reads, hdr, sizeof(hdr)) < 0 || buf_put(&reads, h->data, h->len) < 0)
			werr(w, -ENOMEM, "holding memory reads");
		nreads++;
	}
	if (nreads && !w->err) {
		uint8_t *z = NULL;
		size_t zl = 0;
		if (trace_deflate(reads.p, reads.len, &z, &zl) < 0) {
			werr(w, -EIO, "compressing memory reads");
		} else {
			sqlite3_bind_int64(w->ins_memr, 1, (sqlite3_int64)seq);
			sqlite3_bind_int64(w->ins_memr, 2, (sqlite3_int64)nreads);
			sqlite3_bind_int64(w->ins_memr, 3, (sqlite3_int64)reads.len);
			sqlite3_bind_blob(w->ins_memr, 4, z, (int)zl, free);
			step(w, w->ins_memr, "writing memory reads");
		}
	}
	free(reads.p);
	for (size_t i = 0; i < w->nheld; i++) {
		struct held *h = &w->held[i];
		if (h->type != SCRIPT_MEMR && !w->err) {
			sqlite3_stmt *st = w->ins_out;
			sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
			switch (h->type) {
			case SCRIPT_IRQ:
				sqlite3_bind_int(st, 2, TRACE_OUT_IRQ);
				sqlite3_bind_int64(st, 4, (sqlite3_int64)h->addr);
				sqlite3_bind_int(st, 5, h->level);
				break;
			case SCRIPT_MEMW:
				sqlite3_bind_int(st, 2, TRACE_OUT_MEMW);
				sqlite3_bind_int64(st, 4, (sqlite3_int64)h->addr);
				bind_blob(w, st, 6, 5, h->data, h->len);
				break;
			default:
				sqlite3_bind_int(st, 2, h->type == SCRIPT_OUT ? TRACE_OUT_HOST
				                                              : TRACE_OUT_INPUT);
				sqlite3_bind_text(st, 3, h->device, -1, SQLITE_TRANSIENT);
				bind_blob(w, st, 6, 5, h->data, h->len);
				break;
			}
			step(w, st, "writing an output");
		}
		free(h->data);
	}
	w->nheld = 0;
}

static struct held *hold(struct trace_writer *w, enum script_event_type type)
{
	assert_locked(w);
	if (!w->held) {
		w->held = calloc(MAX_HELD, sizeof(*w->held));
		if (!w->held) {
			werr(w, -ENOMEM, "holding outputs");
			return NULL;
		}
	}
	if (w->nheld == MAX_HELD) {
		if (!w->err) {
			w->err = -E2BIG;
			snprintf(w->errmsg, sizeof(w->errmsg),
			         "more than %d outputs while handling one exit", MAX_HELD);
		}
		return NULL;
	}
	struct held *h = &w->held[w->nheld++];
	memset(h, 0, sizeof(*h));
	h->type = type;
	return h;
}

static void hold_bytes(struct trace_writer *w, enum script_event_type type, const char *device,
                       uint64_t addr, const void *data, uint64_t len)
{
	if (!len || !data || len > TRACE_MAX_RECORD)
		return;
	pthread_mutex_lock(&w->lock);
	struct held *last = w->nheld ? &w->held[w->nheld - 1] : NULL;
	/* Consecutive bytes to one host device are one stream: one row. */
	if (type == SCRIPT_OUT && last && last->type == SCRIPT_OUT &&
	    strcmp(last->device, device) == 0 && last->len + len <= TRACE_MAX_RECORD) {
		uint8_t *nd = realloc(last->data, last->len + len);
		if (nd) {
			memcpy(nd + last->len, data, len);
			last->data = nd;
			last->len += len;
		} else {
			werr(w, -ENOMEM, "holding output");
		}
		pthread_mutex_unlock(&w->lock);
		return;
	}
	struct held *h = hold(w, type);
	if (h) {
		if (device)
			snprintf(h->device, sizeof(h->device), "%s", device);
		h->addr = addr;
		h->data = malloc(len);
		if (h->data) {
			memcpy(h->data, data, len);
			h->len = len;
		} else {
			w->nheld--;
			werr(w, -ENOMEM, "holding output");
		}
	}
	pthread_mutex_unlock(&w->lock);
}

static void rec_exit_begin(void *ctx, unsigned vcpu)
{
	struct trace_writer *w = ctx;
	pthread_mutex_lock(&w->lock);
	w->in_exit = true;
	pthread_mutex_unlock(&w->lock);
}

static void rec_exit(void *ctx, unsigned vcpu, const struct hv_exit *x, uint64_t read_value)
{
	struct trace_writer *w = ctx;
	pthread_mutex_lock(&w->lock);
	w->in_exit = false;
	/* A kick or an end is the backend's business, not the guest's. */
	if (script_exit_kind_valid(x->kind) && !w->err) {
		/* The vmm runs at most HV_MAX_VCPUS; the reader refuses any other. */
		assert(vcpu < HV_MAX_VCPUS);
		bool access = script_exit_is_access(x->kind);
		uint64_t data = script_exit_is_read(x->kind) ? read_value
		                : access ? x->data : x->reason;
		w->seq++;
		sqlite3_bind_int64(w->ins_event, 1, (sqlite3_int64)w->seq);
		sqlite3_bind_int(w->ins_event, 2, (int)vcpu);
		sqlite3_bind_int(w->ins_event, 3, (int)x->kind);
		sqlite3_bind_int64(w->ins_event, 4, (sqlite3_int64)(access ? x->addr : 0));
		sqlite3_bind_int(w->ins_event, 5, access ? x->size : 0);
		sqlite3_bind_int64(w->ins_event, 6, (sqlite3_int64)data);
		step(w, w->ins_event, "writing an exit");
		flush_held(w, w->seq);
	}
	pthread_mutex_unlock(&w->lock);
}

static void rec_irq(void *ctx, uint32_t gsi, int level)
{
	struct trace_writer *w = ctx;
	pthread_mutex_lock(&w->lock);
	struct held *h = hold(w, SCRIPT_IRQ);
	if (h) {
		h->addr = gsi;
		h->level = level ? 1 : 0;
	}
	pthread_mutex_unlock(&w->lock);
}

static void rec_output(void *ctx, const char *device, const void *data, uint64_t len)
{
	if (device)
		hold_bytes(ctx, SCRIPT_OUT, device, 0, data, len);
}

/* Input that arrived between exits: an event of its own, written at once
 * with what it caused (the vmm announces input after the device took it). */
static void rec_host_event(struct trace_writer *w, const char *device, const void *data,
                           uint64_t len, uint64_t taken)
{
	assert_locked(w);
	if (w->err || !len || len > TRACE_MAX_RECORD || taken > len)
		return;
	w->seq++;
	sqlite3_bind_int64(w->ins_event, 1, (sqlite3_int64)w->seq);
	sqlite3_bind_int(w->ins_event, 2, 0);
	sqlite3_bind_int(w->ins_event, 3, TRACE_EVENT_HOST);
	sqlite3_bind_int(w->ins_event, 4, 0);
	sqlite3_bind_int(w->ins_event, 5, 0);
	sqlite3_bind_int64(w->ins_event, 6, (sqlite3_int64)taken);
	step(w, w->ins_event, "writing a host event");
	sqlite3_bind_int64(w->ins_out, 1, (sqlite3_int64)w->seq);
	sqlite3_bind_int(w->ins_out, 2, TRACE_OUT_HOST_EVENT);
	sqlite3_bind_text(w->ins_out, 3, device, -1, SQLITE_TRANSIENT);
	bind_blob(w, w->ins_out, 6, 5, data, len);
	step(w, w->ins_out, "writing a host event");
	flush_held(w, w->seq);
}

static void rec_input(void *ctx, const char *device, const void *data, uint64_t len)
{
	struct trace_writer *w = ctx;
	if (!device || !data)
		return;
	pthread_mutex_lock(&w->lock);
	bool between = !w->in_exit;
	if (between)
		rec_host_event(w, device, data, len, len);
	pthread_mutex_unlock(&w->lock);
	if (!between)
		hold_bytes(ctx, SCRIPT_IN, device, 0, data, len);
}

static void rec_event(void *ctx, const char *device, const void *data, uint64_t len,
                      uint64_t taken)
{
	struct trace_writer *w = ctx;
	if (!device || !data)
		return;
	pthread_mutex_lock(&w->lock);
	w->in_exit = false;
	rec_host_event(w, device, data, len, taken);
	pthread_mutex_unlock(&w->lock);
}

static void rec_mem_read(void *ctx, uint64_t gpa, const void *data, uint64_t len)
{
	hold_bytes(ctx, SCRIPT_MEMR, NULL, gpa, data, len);
}

static void rec_mem_write(void *ctx, uint64_t gpa, const void *data, uint64_t len)
{
	hold_bytes(ctx, SCRIPT_MEMW, NULL, gpa, data, len);
}

struct ev_sink trace_recorder_sink(struct trace_writer *w)
{
	struct ev_sink s = { .ctx = w, .exit_begin = rec_exit_begin, .exit_handled = rec_exit,
	                     .irq = rec_irq,
	                     .host_output = rec_output, .host_input = rec_input,
	                     .host_event = rec_event,
	                     .mem_read = rec_mem_read, .mem_write = rec_mem_write };
	return s;
}

int trace_writer_close(struct trace_writer *w, char *err, size_t errlen)
{
	if (!w)
		return trace_errf(err, errlen, -EINVAL, "no writer");
	pthread_mutex_lock(&w->lock);
	/* Outputs after the last exit still belong to it. */
	flush_held(w, w->seq);
	free(w->held);
	w->held = NULL;
	sqlite3_finalize(w->ins_event);
	sqlite3_finalize(w->ins_memr);
	sqlite3_finalize(w->ins_out);
	sqlite3_finalize(w->ins_meta);
	char e2[256];
	if (!w->err && exec(w->db, "COMMIT", e2, sizeof(e2)) < 0) {
		w->err = -EIO;
		snprintf(w->errmsg, sizeof(w->errmsg), "commit: %.250s", e2);
	}
	if (sqlite3_close(w->db) != SQLITE_OK && !w->err) {
		w->err = -EIO;
		snprintf(w->errmsg, sizeof(w->errmsg), "close failed");
	}
	int r = w->err;
	if (r)
		trace_errf(err, errlen, r, "%s", w->errmsg);
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return r;
}

int trace_write_script(const char *path, const struct script *s, const char *const *meta,
                       char *err, size_t errlen)
{
	struct trace_writer *w = trace_writer_open(path, err, errlen);
	if (!w)
		return -EIO;
	for (size_t i = 0; meta && meta[i] && meta[i + 1]; i += 2)
		trace_writer_set_meta(w, meta[i], meta[i + 1]);
	struct ev_sink k = trace_recorder_sink(w);
	/* Replay the script into the sink in the vmm's order: a record's
	 * consequences are announced before its exit. */
	size_t i = 0;
	while (i < s->n) {
		const struct script_event *x = NULL, *h = NULL;
		size_t j = i;
		if (s->ev[i].type == SCRIPT_EXIT) {
			x = &s->ev[j++];
			k.exit_begin(w, x->vcpu);
		} else if (s->ev[i].type == SCRIPT_HOST) {
			h = &s->ev[j++];
		}
		for (; j < s->n && s->ev[j].type != SCRIPT_EXIT && s->ev[j].type != SCRIPT_HOST; j++) {
			const struct script_event *e = &s->ev[j];
			switch (e->type) {
			case SCRIPT_IRQ: k.irq(w, e->gsi, e->level); break;
			case SCRIPT_OUT: k.host_output(w, e->device, e->data, e->len); break;
			case SCRIPT_IN: k.host_input(w, e->device, e->data, e->len); break;
			case SCRIPT_MEMR: k.mem_read(w, e->gpa, e->data, e->len); break;
			case SCRIPT_MEMW: k.mem_write(w, e->gpa, e->data, e->len); break;
			default: break;
			}
		}
		if (x) {
			struct hv_exit hx = x->exit;
			k.exit_handled(w, x->vcpu, &hx, x->read_value);
		} else if (h) {
			k.host_event(w, h->device, h->data, h->len, h->read_value);
		} else {
			/* Records before the first exit: written as seq 0. */
			pthread_mutex_lock(&w->lock);
			flush_held(w, 0);
			pthread_mutex_unlock(&w->lock);
		}
		i = j;
	}
	return trace_writer_close(w, err, errlen);
}
