/* fuzz/trace_reader.c - the two ways a recording is read: the SQLite trace
 * loader (traces/trace_reader.c, trace_load from a file) and the text script parser
 * (traces/script.c, script_parse_string).
 *
 * Input: byte 0 even -> the rest is written to a file and loaded as a
 * trace; odd -> the rest is parsed as a text script. Oracle: no crash, and
 * a loaded script is well formed (every exit kind valid, counts sane). */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "traces/script.h"
#include "traces/trace.h"
#include "base/log.h"

static char path[64];

void fuzz_init(void)
{
	log_set_level(LOG_ERROR);
	/* tmpfs: a trace per input must not cost a disk write. */
	snprintf(path, sizeof(path), "/dev/shm/vmm-fuzz-trace-%d.db", (int)getpid());
}

static void check(const struct script *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ev[i].type == SCRIPT_EXIT && !script_exit_kind_valid(s->ev[i].exit.kind))
			fuzz_fail("loaded script has an exit of invalid kind %d at event %zu",
			          (int)s->ev[i].exit.kind, i);
}

void fuzz_one(const uint8_t *data, size_t len)
{
	if (len < 1)
		return;
	struct script s;
	char err[256];
	memset(&s, 0, sizeof(s));
	if (data[0] & 1) {
		if (script_parse_string("fuzz", (const char *)data + 1, len - 1, &s, err, sizeof(err)) == 0) {
			check(&s);
			script_free(&s);
		}
		return;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data + 1, len - 1) != (ssize_t)(len - 1))
		abort();
	close(fd);
	struct trace_info info;
	memset(&info, 0, sizeof(info));
	if (trace_load(path, &s, &info, err, sizeof(err)) == 0) {
		check(&s);
		script_free(&s);
		trace_info_free(&info);
	}
	unlink(path);
}
