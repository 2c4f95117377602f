/* traces/trace_reader.c - the strict trace reader: the file; see trace.h.
 *
 * Owns: trace_load (a regular, non-empty SQLite file with exactly the schema
 * of trace_schema.c, a meta table with this reader's format_version, then the
 * rows via trace_reader_events.c, then SQLite's own quick_check), the meta
 * access of struct trace_info, and the reader's error helpers. Nothing is
 * returned from a file that fails any check.
 */
#include "traces/trace_reader_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "traces/trace_internal.h"

int trace_rerr(struct trace_reader *r, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	trace_verrf_at(r->err, r->errlen, rc, r->path, fmt, ap);
	va_end(ap);
	return rc;
}

int trace_sql_fail(struct trace_reader *r, const char *what)
{
	int code = sqlite3_errcode(r->db);
	if (code == SQLITE_NOTADB)
		return trace_rerr(r, -EINVAL, "not an SQLite database (or encrypted, or truncated in its header)");
	if (code == SQLITE_CORRUPT)
		return trace_rerr(r, -EINVAL, "corrupt SQLite file (truncated?) while %s: %s", what,
		                  sqlite3_errmsg(r->db));
	return trace_rerr(r, -EIO, "%s: %s", what, sqlite3_errmsg(r->db));
}

static int check_schema(struct trace_reader *r)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(r->db, "SELECT sql FROM sqlite_master WHERE type='table' AND name=?",
	                       -1, &st, NULL) != SQLITE_OK)
		return trace_sql_fail(r, "reading the schema");
	int rc = 0;
	for (size_t i = 0; i < trace_schema_ntables && !rc; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, trace_schema_tables[i].name, -1, SQLITE_STATIC);
		int s = sqlite3_step(st);
		if (s == SQLITE_ROW) {
			const char *sql = (const char *)sqlite3_column_text(st, 0);
			if (!sql || strcmp(sql, trace_schema_tables[i].create) != 0)
				rc = trace_rerr(r, -EINVAL,
				          "wrong schema: table %s is not the format-%d table (found: %.200s)",
				          trace_schema_tables[i].name, TRACE_FORMAT_VERSION, sql ? sql : "(null)");
		} else if (s == SQLITE_DONE) {
			rc = trace_rerr(r, -EINVAL, "wrong schema: no table '%s' (not a vmm trace?)",
			          trace_schema_tables[i].name);
		} else {
			rc = trace_sql_fail(r, "reading the schema");
		}
	}
	sqlite3_finalize(st);
	return rc;
}

static int read_meta(struct trace_reader *r)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(r->db, "SELECT key, value FROM meta ORDER BY key", -1, &st, NULL) !=
	    SQLITE_OK)
		return trace_sql_fail(r, "reading meta");
	int rc = 0, s;
	long version = -1;
	struct trace_info *in = r->info;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		const char *v = (const char *)sqlite3_column_text(st, 1);
		if (!k || !v || strlen(v) > TRACE_MAX_META_VALUE) {
			rc = trace_rerr(r, -EINVAL, "meta: a NULL or over-long row (key %.40s)", k ? k : "NULL");
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
			rc = trace_rerr(r, -E2BIG, "meta: more than %d rows", TRACE_MAX_META);
			break;
		}
		in->meta[in->nmeta].key = strdup(k);
		in->meta[in->nmeta].value = strdup(v);
		if (!in->meta[in->nmeta].key || !in->meta[in->nmeta].value) {
			free(in->meta[in->nmeta].key);
			free(in->meta[in->nmeta].value);
			rc = trace_rerr(r, -ENOMEM, "out of memory");
			break;
		}
		in->nmeta++;
	}
	if (!rc && s != SQLITE_DONE && s != SQLITE_ROW)
		rc = trace_sql_fail(r, "reading meta");
	sqlite3_finalize(st);
	if (rc)
		return rc;
	if (version == -1)
		return trace_rerr(r, -EINVAL, "meta has no format_version (not a finished vmm trace?)");
	if (version == -2)
		return trace_rerr(r, -EINVAL, "meta format_version is not a number");
	if (version != TRACE_FORMAT_VERSION)
		return trace_rerr(r, -EPROTONOSUPPORT,
		            "unsupported trace format version %ld (this reader knows version %d)",
		            version, TRACE_FORMAT_VERSION);
	in->format_version = (int)version;
	return 0;
}
int trace_load(const char *path, struct script *out, struct trace_info *info, char *err,
               size_t errlen)
{
	struct trace_info local;
	struct trace_reader r = { .path = path, .err = err, .errlen = errlen, .info = info ? info : &local,
		            .host_pending = SIZE_MAX };
	memset(r.info, 0, sizeof(*r.info));
	out->ev = NULL;
	out->n = 0;
	if (err && errlen)
		err[0] = 0;
	struct stat st;
	if (stat(path, &st) < 0)
		return trace_rerr(&r, -errno, "%s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return trace_rerr(&r, -EINVAL, "not a regular file");
	r.info->file_bytes = (uint64_t)st.st_size;
	if (st.st_size == 0)
		return trace_rerr(&r, -EINVAL, "empty file: not an SQLite database");
	int rc;
	if (sqlite3_open_v2(path, &r.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = trace_rerr(&r, -EIO, "cannot open: %s", r.db ? sqlite3_errmsg(r.db) : "out of memory");
		goto out;
	}
	rc = check_schema(&r);
	if (!rc)
		rc = read_meta(&r);
	if (!rc)
		rc = trace_read_events(&r);
	if (!rc) {
		/* A damaged page can hide from the queries above; ask SQLite too. */
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(r.db, "PRAGMA quick_check", -1, &q, NULL) == SQLITE_OK) {
			if (sqlite3_step(q) == SQLITE_ROW) {
				const char *v = (const char *)sqlite3_column_text(q, 0);
				if (!v || strcmp(v, "ok") != 0)
					rc = trace_rerr(&r, -EINVAL, "corrupt SQLite file: %.200s", v ? v : "?");
			} else {
				rc = trace_sql_fail(&r, "checking the file");
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
	/* trace_read_events refuses a host event left without its bytes. */
	assert(r.host_pending == SIZE_MAX);
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
