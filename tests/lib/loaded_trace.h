/* tests/lib/loaded_trace.h - a recorded trace loaded for a replay test: its
 * event script and its meta, or the test fails with the reader's message.
 *
 * Header-only on purpose: it fails through cmocka, and every .c file of tests/lib is
 * also linked into the fuzz drivers, which have no cmocka. For the cmocka
 * tests that replay traces (test_replay_traces, tests/mutant/).
 */
#ifndef TESTS_LIB_LOADED_TRACE_H
#define TESTS_LIB_LOADED_TRACE_H

#include "tests/testutil.h"
#include "traces/trace.h"

struct loaded {
	struct script s;
	struct trace_info info;
};

static inline void load(struct loaded *l, const char *path)
{
	char err[512];
	if (trace_load(path, &l->s, &l->info, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

static inline void unload(struct loaded *l)
{
	script_free(&l->s);
	trace_info_free(&l->info);
}

#endif
