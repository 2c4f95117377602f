/* traces/trace_schema.c - the SQLite schema of format TRACE_FORMAT_VERSION;
 * see trace_internal.h, and traces/README.md for every column.
 *
 * One table for the writer (which executes these texts) and the reader (which
 * compares sqlite_master's text with them): a schema change made here is made
 * for both, and any file with another schema is refused rather than
 * half-understood.
 */
#include "traces/trace_internal.h"

const struct trace_table trace_schema_tables[] = {
	{ "meta", "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)" },
	{ "events", "CREATE TABLE events(seq INTEGER PRIMARY KEY, vcpu INTEGER NOT NULL, "
	            "kind INTEGER NOT NULL, addr INTEGER NOT NULL, size INTEGER NOT NULL, "
	            "data INTEGER NOT NULL)" },
	{ "mem_reads", "CREATE TABLE mem_reads(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL, "
	               "raw INTEGER NOT NULL, data BLOB NOT NULL)" },
	{ "outputs", "CREATE TABLE outputs(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, "
	             "kind INTEGER NOT NULL, device TEXT, addr INTEGER, value INTEGER, data BLOB)" },
};
const size_t trace_schema_ntables = sizeof(trace_schema_tables) / sizeof(trace_schema_tables[0]);

/* Not part of what the reader checks: a trace written without them would
 * still load. The kind numbers are hv_exit_kind and trace_out_kind. */
const char trace_schema_views[] =
	"CREATE VIEW exits AS SELECT seq, vcpu, CASE kind WHEN 1 THEN 'mem-read' "
	"WHEN 2 THEN 'mem-write' WHEN 3 THEN 'io-in' WHEN 4 THEN 'io-out' WHEN 5 THEN 'bell' "
	"WHEN 6 THEN 'halt' WHEN 7 THEN 'shutdown' WHEN 9 THEN 'failure' ELSE kind END AS kind, "
	"printf('0x%x', addr) AS addr, size, printf('0x%x', data) AS data FROM events;"
	"CREATE VIEW outputs_named AS SELECT id, seq, CASE kind WHEN 1 THEN 'irq' "
	"WHEN 2 THEN 'host' WHEN 3 THEN 'memw' WHEN 4 THEN 'input' ELSE kind END AS kind, "
	"device, printf('0x%x', addr) AS addr, value, length(data) AS bytes FROM outputs;";
