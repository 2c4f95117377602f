/* traces/trace.c - the SQLite trace: schema, recorder, strict reader; see trace.h.
 *
 * Size: an exit is one row of small integers in `events` (SQLite stores
 * small integers in 1-2 bytes); the memory its devices read is one zlib blob
 * per exit; outputs are one row each, with blobs over COMPRESS_MIN bytes
 * compressed. The database uses 1 KiB pages so that a short recording is a
 * few kilobytes.
 */
#include "trace.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/err.h"
#include "base/sha256.h"

#define COMPRESS_MIN 64
/* Held records between two exits: a device producing more while handling one
 * access is broken; the recorder says so instead of growing without bound. */
#define MAX_HELD 65536

/* The exact table definitions. The reader compares sqlite_master's text with
 * these: any other schema is refused rather than half-understood. */
static const char *const schema_tables[][2] = {
	{ "meta", "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)" },
	{ "events", "CREATE TABLE events(seq INTEGER PRIMARY KEY, vcpu INTEGER NOT NULL, "
	            "kind INTEGER NOT NULL, addr INTEGER NOT NULL, size INTEGER NOT NULL, "
	            "data INTEGER NOT NULL)" },
	{ "mem_reads", "CREATE TABLE mem_reads(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL, "
	               "raw INTEGER NOT NULL, data BLOB NOT NULL)" },
	{ "outputs", "CREATE TABLE outputs(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, "
	             "kind INTEGER NOT NULL, device TEXT, addr INTEGER, value INTEGER, data BLOB)" },
};
#define NTABLES (sizeof(schema_tables) / sizeof(schema_tables[0]))

/* For people with the sqlite3 shell: names instead of numbers. Not part of
 * what the reader checks. */
static const char schema_views[] =
	"CREATE VIEW exits AS SELECT seq, vcpu, CASE kind WHEN 1 THEN 'mem-read' "
	"WHEN 2 THEN 'mem-write' WHEN 3 THEN 'io-in' WHEN 4 THEN 'io-out' WHEN 5 THEN 'bell' "
	"WHEN 6 THEN 'halt' WHEN 7 THEN 'shutdown' WHEN 9 THEN 'failure' ELSE kind END AS kind, "
	"printf('0x%x', addr) AS addr, size, printf('0x%x', data) AS data FROM events;"
	"CREATE VIEW outputs_named AS SELECT id, seq, CASE kind WHEN 1 THEN 'irq' "
	"WHEN 2 THEN 'host' WHEN 3 THEN 'memw' WHEN 4 THEN 'input' ELSE kind END AS kind, "
	"device, printf('0x%x', addr) AS addr, value, length(data) AS bytes FROM outputs;";

int trace_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

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

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* zlib of [src, src+len) into *out (malloc'd). */
static int deflate_all(const uint8_t *src, size_t len, uint8_t **out, size_t *outlen)
{
	uLongf cap = compressBound((uLong)len);
	uint8_t *p = malloc(cap ? cap : 1);
	if (!p)
		return -ENOMEM;
	if (compress2(p, &cap, src, (uLong)len, 9) != Z_OK) {
		free(p);
		return -EIO;
	}
	*out = p;
	*outlen = cap;
	return 0;
}

/* Inflate exactly `raw` bytes; anything else is corruption. */
static int inflate_exact(const void *src, size_t len, size_t raw, uint8_t **out,
                         const char **why)
{
	uint8_t *p = malloc(raw ? raw : 1);
	if (!p) {
		*why = "out of memory";
		return -ENOMEM;
	}
	uLongf got = raw;
	int z = uncompress(p, &got, src, (uLong)len);
	if (z != Z_OK || got != raw) {
		free(p);
		*why = z == Z_OK ? "decompressed length differs from the recorded length"
		       : z == Z_BUF_ERROR ? "longer than the recorded length, or truncated"
		       : z == Z_DATA_ERROR ? "corrupt compressed data" : "zlib failure";
		return -EINVAL;
	}
	*out = p;
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
	struct held *held;
	size_t nheld;
	bool closing;
};

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
	for (size_t i = 0; i < NTABLES; i++)
		if (exec(w->db, schema_tables[i][1], e2, sizeof(e2)) < 0)
			goto fail_sql;
	if (exec(w->db, schema_views, e2, sizeof(e2)) < 0)
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
	if (len > COMPRESS_MIN && deflate_all(data, len, &z, &zl) == 0 && zl < len) {
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
	struct buf reads = { 0 };
	uint64_t nreads = 0;
	for (size_t i = 0; i < w->nheld; i++) {
		struct held *h = &w->held[i];
		if (h->type != SCRIPT_MEMR)
			continue;
		uint8_t hdr[12];
		put_le(hdr, h->addr, 8);
		put_le(hdr + 8, h->len, 4);
		if (buf_put(&reads, hdr, sizeof(hdr)) < 0 || buf_put(&reads, h->data, h->len) < 0)
			werr(w, -ENOMEM, "holding memory reads");
		nreads++;
	}
	if (nreads && !w->err) {
		uint8_t *z = NULL;
		size_t zl = 0;
		if (deflate_all(reads.p, reads.len, &z, &zl) < 0) {
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
		bool access = x->kind <= HV_EXIT_BELL;
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

/* ---- reader ---- */

struct reader {
	const char *path;
	sqlite3 *db;
	char *err;
	size_t errlen;
	struct script s;
	size_t cap;
	uint64_t total;
	struct trace_info *info;
	size_t host_pending; /* index of a host event awaiting its bytes, or SIZE_MAX */
};

static int rerr(struct reader *r, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int rerr(struct reader *r, int rc, const char *fmt, ...)
{
	if (r->err && r->errlen) {
		int n = snprintf(r->err, r->errlen, "%s: ", r->path);
		if (n >= 0 && (size_t)n < r->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return rc;
}

static struct script_event *add_event(struct reader *r)
{
	if (r->s.n >= TRACE_MAX_SCRIPT_EVENTS)
		return NULL;
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

static int sql_fail(struct reader *r, const char *what)
{
	int code = sqlite3_errcode(r->db);
	if (code == SQLITE_NOTADB)
		return rerr(r, -EINVAL, "not an SQLite database (or encrypted, or truncated in its header)");
	if (code == SQLITE_CORRUPT)
		return rerr(r, -EINVAL, "corrupt SQLite file (truncated?) while %s: %s", what,
		            sqlite3_errmsg(r->db));
	return rerr(r, -EIO, "%s: %s", what, sqlite3_errmsg(r->db));
}

static int check_schema(struct reader *r)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(r->db, "SELECT sql FROM sqlite_master WHERE type='table' AND name=?",
	                       -1, &st, NULL) != SQLITE_OK)
		return sql_fail(r, "reading the schema");
	int rc = 0;
	for (size_t i = 0; i < NTABLES && !rc; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, schema_tables[i][0], -1, SQLITE_STATIC);
		int s = sqlite3_step(st);
		if (s == SQLITE_ROW) {
			const char *sql = (const char *)sqlite3_column_text(st, 0);
			if (!sql || strcmp(sql, schema_tables[i][1]) != 0)
				rc = rerr(r, -EINVAL,
				          "wrong schema: table %s is not the format-%d table (found: %.200s)",
				          schema_tables[i][0], TRACE_FORMAT_VERSION, sql ? sql : "(null)");
		} else if (s == SQLITE_DONE) {
			rc = rerr(r, -EINVAL, "wrong schema: no table '%s' (not a vmm trace?)",
			          schema_tables[i][0]);
		} else {
			rc = sql_fail(r, "reading the schema");
		}
	}
	sqlite3_finalize(st);
	return rc;
}

static int read_meta(struct reader *r)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(r->db, "SELECT key, value FROM meta ORDER BY key", -1, &st, NULL) !=
	    SQLITE_OK)
		return sql_fail(r, "reading meta");
	int rc = 0, s;
	long version = -1;
	struct trace_info *in = r->info;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		const char *v = (const char *)sqlite3_column_text(st, 1);
		if (!k || !v || strlen(v) > TRACE_MAX_META_VALUE) {
			rc = rerr(r, -EINVAL, "meta: a NULL or over-long row (key %.40s)", k ? k : "NULL");
			break;
		}
		if (strcmp(k, "format_version") == 0) {
			char *end;
			errno = 0;
			version = strtol(v, &end, 10);
			if (errno || *end || end == v || version < 0)
				version = -2;
		}
		if (in->nmeta == TRACE_MAX_META) {
			rc = rerr(r, -E2BIG, "meta: more than %d rows", TRACE_MAX_META);
			break;
		}
		in->meta[in->nmeta].key = strdup(k);
		in->meta[in->nmeta].value = strdup(v);
		if (!in->meta[in->nmeta].key || !in->meta[in->nmeta].value) {
			free(in->meta[in->nmeta].key);
			free(in->meta[in->nmeta].value);
			rc = rerr(r, -ENOMEM, "out of memory");
			break;
		}
		in->nmeta++;
	}
	if (!rc && s != SQLITE_DONE && s != SQLITE_ROW)
		rc = sql_fail(r, "reading meta");
	sqlite3_finalize(st);
	if (rc)
		return rc;
	if (version == -1)
		return rerr(r, -EINVAL, "meta has no format_version (not a finished vmm trace?)");
	if (version == -2)
		return rerr(r, -EINVAL, "meta format_version is not a number");
	if (version != TRACE_FORMAT_VERSION)
		return rerr(r, -EPROTONOSUPPORT,
		            "unsupported trace format version %ld (this reader knows version %d)",
		            version, TRACE_FORMAT_VERSION);
	in->format_version = (int)version;
	return 0;
}

static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* The same rules as the text parser's, for exits that come from a file. */
static int check_exit(struct reader *r, uint64_t seq, sqlite3_int64 vcpu, sqlite3_int64 kind,
                      uint64_t addr, sqlite3_int64 size, uint64_t data)
{
	if (vcpu < 0 || vcpu >= HV_MAX_VCPUS)
		return rerr(r, -EINVAL, "event %" PRIu64 ": vcpu %lld out of range (0-%d)", seq,
		            (long long)vcpu, HV_MAX_VCPUS - 1);
	if (kind < 1 || kind > 20 || !script_exit_kind_valid((enum hv_exit_kind)kind))
		return rerr(r, -EINVAL, "event %" PRIu64 ": unknown exit kind %lld", seq,
		            (long long)kind);
	bool access = kind <= HV_EXIT_BELL;
	if (access) {
		if (size != 1 && size != 2 && size != 4 && size != 8)
			return rerr(r, -EINVAL, "event %" PRIu64 ": access size %lld is not 1, 2, 4 or 8",
			            seq, (long long)size);
		if (data & ~size_mask((unsigned)size))
			return rerr(r, -EINVAL, "event %" PRIu64 ": data 0x%" PRIx64 " wider than %lld bytes",
			            seq, data, (long long)size);
		if ((kind == HV_EXIT_IO_IN || kind == HV_EXIT_IO_OUT) && addr > 0xffff)
			return rerr(r, -EINVAL, "event %" PRIu64 ": port 0x%" PRIx64 " above 0xffff", seq,
			            addr);
		if (addr + (uint64_t)size - 1 < addr)
			return rerr(r, -EINVAL, "event %" PRIu64 ": access wraps the address space", seq);
	} else if (addr != 0 || size != 0 || data > UINT32_MAX ||
	           (kind == HV_EXIT_HALT && data != 0)) {
		return rerr(r, -EINVAL, "event %" PRIu64 ": %s with address, size or reason out of range",
		            seq, kind == HV_EXIT_HALT ? "halt" : "shutdown/failure");
	}
	return 0;
}

/* Bytes of a blob column, decompressed when `raw` (> 0) says it was. */
static int column_bytes(struct reader *r, sqlite3_stmt *st, int col, sqlite3_int64 raw,
                        const char *what, uint64_t seq, uint8_t **out, size_t *len)
{
	int t = sqlite3_column_type(st, col);
	if (t != SQLITE_BLOB && t != SQLITE_TEXT)
		return rerr(r, -EINVAL, "%s of event %" PRIu64 ": no data", what, seq);
	const void *p = sqlite3_column_blob(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	if (n > TRACE_MAX_RECORD || raw < 0 || (uint64_t)raw > TRACE_MAX_RECORD)
		return rerr(r, -E2BIG, "%s of event %" PRIu64 ": absurd size (%zu stored, %lld raw; limit %u)",
		            what, seq, n, (long long)raw, TRACE_MAX_RECORD);
	size_t want = raw > 0 ? (size_t)raw : n;
	if (want == 0)
		return rerr(r, -EINVAL, "%s of event %" PRIu64 ": empty", what, seq);
	r->total += want;
	if (r->total > TRACE_MAX_TOTAL)
		return rerr(r, -E2BIG, "more than %llu bytes of data in all", TRACE_MAX_TOTAL);
	if (raw > 0) {
		const char *why = NULL;
		int rc = inflate_exact(p, n, want, out, &why);
		if (rc)
			return rerr(r, rc, "%s of event %" PRIu64 ": %s", what, seq, why);
	} else {
		*out = malloc(n);
		if (!*out)
			return rerr(r, -ENOMEM, "out of memory");
		memcpy(*out, p, n);
	}
	*len = want;
	return 0;
}

/* Append the reads of one mem_reads row. */
static int load_reads(struct reader *r, sqlite3_stmt *st, uint64_t seq)
{
	sqlite3_int64 n = sqlite3_column_int64(st, 1), raw = sqlite3_column_int64(st, 2);
	if (raw <= 0 || n <= 0 || n > raw / 13 + 1)
		return rerr(r, -EINVAL, "memory reads of event %" PRIu64 ": bad count %lld / length %lld",
		            seq, (long long)n, (long long)raw);
	uint8_t *b;
	size_t len;
	int rc = column_bytes(r, st, 3, raw, "memory reads", seq, &b, &len);
	if (rc)
		return rc;
	size_t off = 0;
	for (sqlite3_int64 i = 0; i < n && !rc; i++) {
		if (len - off < 12) {
			rc = rerr(r, -EINVAL, "memory reads of event %" PRIu64 ": record %lld truncated", seq,
			          (long long)i);
			break;
		}
		uint64_t gpa = get_le(b + off, 8);
		uint64_t l = get_le(b + off + 8, 4);
		off += 12;
		if (l == 0 || l > len - off || gpa + l - 1 < gpa) {
			rc = rerr(r, -EINVAL, "memory reads of event %" PRIu64 ": record %lld has a bad length %"
			          PRIu64, seq, (long long)i, l);
			break;
		}
		struct script_event *e = add_event(r);
		if (!e || !(e->data = malloc(l))) {
			rc = rerr(r, -ENOMEM, "out of memory or more than %u events", TRACE_MAX_SCRIPT_EVENTS);
			break;
		}
		e->type = SCRIPT_MEMR;
		e->gpa = gpa;
		memcpy(e->data, b + off, l);
		e->len = l;
		off += l;
	}
	if (!rc && off != len)
		rc = rerr(r, -EINVAL, "memory reads of event %" PRIu64 ": %zu bytes after the last record",
		          seq, len - off);
	free(b);
	r->info->mem_reads += (uint64_t)n;
	return rc;
}

static bool device_ok(const char *d)
{
	size_t n = d ? strlen(d) : 0;
	if (n == 0 || n > SCRIPT_MAX_DEVICE)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= '0' && d[i] <= '9') || d[i] == '-' ||
		      d[i] == '_' || d[i] == '.'))
			return false;
	return true;
}

static int load_output(struct reader *r, sqlite3_stmt *st, uint64_t seq)
{
	sqlite3_int64 id = sqlite3_column_int64(st, 0), kind = sqlite3_column_int64(st, 2);
	const char *dev = (const char *)sqlite3_column_text(st, 3);
	sqlite3_int64 addr = sqlite3_column_int64(st, 4), value = sqlite3_column_int64(st, 5);
	struct script_event *e;
	if (kind == TRACE_OUT_HOST_EVENT) {
		/* The bytes of the host event just read: they fill it in. */
		if (r->host_pending == SIZE_MAX)
			return rerr(r, -EINVAL, "output %lld (event %" PRIu64 "): host-event bytes with no "
			            "host event before them", (long long)id, seq);
		e = &r->s.ev[r->host_pending];
		r->host_pending = SIZE_MAX;
		if (!device_ok(dev))
			return rerr(r, -EINVAL, "output %lld (event %" PRIu64 "): bad device name",
			            (long long)id, seq);
		snprintf(e->device, sizeof(e->device), "%s", dev);
		int rc = column_bytes(r, st, 6, value, "host event", seq, &e->data, &e->len);
		if (!rc && e->read_value > e->len)
			rc = rerr(r, -EINVAL, "event %" PRIu64 ": the device took %" PRIu64 " of %zu bytes",
			          seq, e->read_value, e->len);
		return rc;
	}
	if (r->host_pending != SIZE_MAX)
		return rerr(r, -EINVAL, "event %" PRIu64 ": a host event without its bytes", seq);
	e = add_event(r);
	if (!e)
		return rerr(r, -E2BIG, "out of memory or more than %u events", TRACE_MAX_SCRIPT_EVENTS);
	switch (kind) {
	case TRACE_OUT_IRQ:
		if (addr < 0 || addr > SCRIPT_MAX_GSI || (value != 0 && value != 1))
			return rerr(r, -EINVAL, "output %lld (event %" PRIu64 "): irq %lld level %lld out of range",
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
		if (!device_ok(dev))
			return rerr(r, -EINVAL, "output %lld (event %" PRIu64 "): bad device name",
			            (long long)id, seq);
		e->type = kind == TRACE_OUT_HOST ? SCRIPT_OUT : SCRIPT_IN;
		snprintf(e->device, sizeof(e->device), "%s", dev);
		break;
	default:
		return rerr(r, -EINVAL, "output %lld (event %" PRIu64 "): unknown output kind %lld",
		            (long long)id, seq, (long long)kind);
	}
	int rc = column_bytes(r, st, 6, value, "output", seq, &e->data, &e->len);
	if (rc)
		e->type = SCRIPT_IRQ; /* nothing owned: script_free stays safe */
	else if (e->type == SCRIPT_MEMW && e->gpa + e->len - 1 < e->gpa)
		return rerr(r, -EINVAL, "output %lld (event %" PRIu64 "): memory range wraps",
		            (long long)id, seq);
	return rc;
}

static int load_events(struct reader *r)
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
		rc = sql_fail(r, "reading events");
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
				rc = rerr(r, -EINVAL, "memory reads for event %lld out of order", (long long)s);
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
				rc = rerr(r, -EINVAL,
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
			rc = rerr(r, -EINVAL, "event %" PRIu64 ": a host event without its bytes", seq);
		if (rc)
			break;
		if ((sm != SQLITE_ROW && sm != SQLITE_DONE) || (so != SQLITE_ROW && so != SQLITE_DONE)) {
			rc = sql_fail(r, "reading events");
			break;
		}
		int se = sqlite3_step(ev);
		if (se == SQLITE_DONE)
			break;
		if (se != SQLITE_ROW) {
			rc = sql_fail(r, "reading events");
			break;
		}
		sqlite3_int64 s = sqlite3_column_int64(ev, 0);
		if (s != (sqlite3_int64)seq + 1) {
			rc = rerr(r, -EINVAL, "events out of order or with a gap: event %lld follows event %" PRIu64,
			          (long long)s, seq);
			break;
		}
		seq++;
		if (seq > TRACE_MAX_EXITS) {
			rc = rerr(r, -E2BIG, "more than %u exits", TRACE_MAX_EXITS);
			break;
		}
		for (int c = 1; c < 6 && !rc; c++)
			if (sqlite3_column_type(ev, c) != SQLITE_INTEGER)
				rc = rerr(r, -EINVAL, "event %" PRIu64 ": column %d is not an integer", seq, c);
		if (rc)
			break;
		sqlite3_int64 vcpu = sqlite3_column_int64(ev, 1), kind = sqlite3_column_int64(ev, 2);
		uint64_t addr = (uint64_t)sqlite3_column_int64(ev, 3);
		sqlite3_int64 size = sqlite3_column_int64(ev, 4);
		uint64_t data = (uint64_t)sqlite3_column_int64(ev, 5);
		if (kind == TRACE_EVENT_HOST) {
			if (vcpu || addr || size || data > TRACE_MAX_RECORD) {
				rc = rerr(r, -EINVAL, "event %" PRIu64 ": host event with vcpu, address or size "
				          "set, or an absurd byte count", seq);
				break;
			}
			struct script_event *e = add_event(r);
			if (!e) {
				rc = rerr(r, -E2BIG, "out of memory or more than %u events",
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
		struct script_event *e = add_event(r);
		if (!e) {
			rc = rerr(r, -E2BIG, "out of memory or more than %u events", TRACE_MAX_SCRIPT_EVENTS);
			break;
		}
		e->type = SCRIPT_EXIT;
		e->line = (unsigned)seq;
		e->vcpu = (unsigned)vcpu;
		e->exit.kind = (enum hv_exit_kind)kind;
		if (kind <= HV_EXIT_BELL) {
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
		rc = rerr(r, -EINVAL, "memory reads for event %lld, which does not exist (%" PRIu64 " events)",
		          (long long)sqlite3_column_int64(mr, 0), seq);
	if (!rc && so == SQLITE_ROW)
		rc = rerr(r, -EINVAL, "output %lld belongs to event %lld, which does not exist (%" PRIu64
		          " events)", (long long)sqlite3_column_int64(out, 0),
		          (long long)sqlite3_column_int64(out, 1), seq);
done:
	sqlite3_finalize(ev);
	sqlite3_finalize(mr);
	sqlite3_finalize(out);
	return rc;
}

int trace_load(const char *path, struct script *out, struct trace_info *info, char *err,
               size_t errlen)
{
	struct trace_info local;
	struct reader r = { .path = path, .err = err, .errlen = errlen, .info = info ? info : &local,
		            .host_pending = SIZE_MAX };
	memset(r.info, 0, sizeof(*r.info));
	out->ev = NULL;
	out->n = 0;
	if (err && errlen)
		err[0] = 0;
	struct stat st;
	if (stat(path, &st) < 0)
		return rerr(&r, -errno, "%s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return rerr(&r, -EINVAL, "not a regular file");
	r.info->file_bytes = (uint64_t)st.st_size;
	if (st.st_size == 0)
		return rerr(&r, -EINVAL, "empty file: not an SQLite database");
	int rc;
	if (sqlite3_open_v2(path, &r.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = rerr(&r, -EIO, "cannot open: %s", r.db ? sqlite3_errmsg(r.db) : "out of memory");
		goto out;
	}
	rc = check_schema(&r);
	if (!rc)
		rc = read_meta(&r);
	if (!rc)
		rc = load_events(&r);
	if (!rc) {
		/* A damaged page can hide from the queries above; ask SQLite too. */
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(r.db, "PRAGMA quick_check", -1, &q, NULL) == SQLITE_OK) {
			if (sqlite3_step(q) == SQLITE_ROW) {
				const char *v = (const char *)sqlite3_column_text(q, 0);
				if (!v || strcmp(v, "ok") != 0)
					rc = rerr(&r, -EINVAL, "corrupt SQLite file: %.200s", v ? v : "?");
			} else {
				rc = sql_fail(&r, "checking the file");
			}
			sqlite3_finalize(q);
		}
	}
	r.info->raw_bytes = r.total;
out:
	sqlite3_close(r.db);
	if (rc) {
		script_free(&r.s);
		trace_info_free(r.info);
		return rc;
	}
	if (!info)
		trace_info_free(&local);
	r.s.from_trace = true;
	*out = r.s;
	return 0;
}

void trace_info_free(struct trace_info *info)
{
	if (!info)
		return;
	for (size_t i = 0; i < info->nmeta; i++) {
		free(info->meta[i].key);
		free(info->meta[i].value);
	}
	info->nmeta = 0;
}

const char *trace_info_get(const struct trace_info *info, const char *key)
{
	for (size_t i = 0; info && i < info->nmeta; i++)
		if (strcmp(info->meta[i].key, key) == 0)
			return info->meta[i].value;
	return NULL;
}

/* ---- digest ---- */

static void hash_u64(struct sha256_ctx *c, uint64_t v)
{
	uint8_t b[8];
	put_le(b, v, 8);
	sha256_update(c, b, 8);
}

void script_digest(const struct script *s, uint8_t out[32])
{
	struct sha256_ctx c;
	sha256_init(&c);
	const struct script_event *prev = NULL;
	for (size_t i = 0; s && i < s->n; i++) {
		const struct script_event *e = &s->ev[i];
		/* Output is a stream per device: a run of out records hashes the
		 * same however a recording split it. */
		bool cont = e->type == SCRIPT_OUT && prev && prev->type == SCRIPT_OUT &&
		            strcmp(prev->device, e->device) == 0;
		prev = e;
		if (cont) {
			sha256_update(&c, e->data, e->len);
			continue;
		}
		uint8_t t = (uint8_t)e->type;
		sha256_update(&c, &t, 1);
		switch (e->type) {
		case SCRIPT_EXIT:
			hash_u64(&c, e->vcpu);
			hash_u64(&c, (uint64_t)e->exit.kind);
			hash_u64(&c, e->exit.addr);
			hash_u64(&c, e->exit.size);
			hash_u64(&c, e->exit.data);
			hash_u64(&c, e->exit.reason);
			hash_u64(&c, e->read_value);
			break;
		case SCRIPT_IRQ:
			hash_u64(&c, e->gsi);
			hash_u64(&c, (uint64_t)e->level);
			break;
		default:
			sha256_update(&c, e->device, strlen(e->device) + 1);
			hash_u64(&c, e->gpa);
			if (e->type == SCRIPT_HOST)
				hash_u64(&c, e->read_value);
			if (e->type != SCRIPT_OUT)
				hash_u64(&c, e->len);
			sha256_update(&c, e->data, e->len);
			break;
		}
	}
	sha256_final(&c, out);
}

void trace_hex_digest(const uint8_t d[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}
