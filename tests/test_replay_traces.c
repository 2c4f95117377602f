/* tests/test_replay_traces.c - every bundled trace (every .db file in
 * traces/bundled/: full-stack ones recorded on KVM replay bit-exactly through
 * the vmm on the sim backend with no kernel, no disk image and no KVM;
 * device-level ones, dev-*.db, recorded under user-mode Linux, through the
 * device core with no front end and no socket); 100 replays of each give one
 * digest; a changed recording is caught at its event with a full report;
 * recording the same deterministic guest twice (1 vCPU, KVM only) gives the
 * same event stream. Prints the figures: replay events per second, replay
 * time against the live recording's, bytes per event, trace sizes. */
#include "testutil.h"
#include "lib/build_path.h"
#include "lib/loaded_trace.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "replay/replay.h"
#include "traces/trace.h"

#define BUNDLED "traces/bundled/*.db"
#define REPEATS 100

static glob_t traces;

static int setup(void **state)
{
	if (glob(BUNDLED, 0, NULL, &traces) != 0 || traces.gl_pathc == 0) {
		fprintf(stderr, "no bundled traces match %s (run from the source tree)\n", BUNDLED);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	globfree(&traces);
	return 0;
}

static void replay(struct loaded *l, struct replay_result *r)
{
	char err[512];
	if (trace_replay_script(&l->s, trace_info_get(&l->info, "config"), NULL, r, err,
	                        sizeof(err)) < 0)
		fail_msg("%s", err);
}

static void test_every_bundled_trace_replays(void **state)
{
	uint64_t total_bytes = 0, total_exits = 0, dev_bytes = 0, dev_events = 0;
	unsigned ndevice = 0;
	printf("%-26s %7s %8s %8s %9s %10s %9s %7s\n", "trace", "events", "records", "bytes",
	       "B/event", "replay ms", "live ms", "speedup");
	for (size_t i = 0; i < traces.gl_pathc; i++) {
		const char *p = traces.gl_pathv[i];
		struct loaded l;
		load(&l, p);
		struct replay_result r;
		replay(&l, &r);
		if (!r.matched || r.result != GUEST_OK)
			fail_msg("%s does not replay (%s: %s):\n%s", p, guest_error_name(r.result), r.error,
			         r.divergence);
		const char *live = trace_info_get(&l.info, "live_ms");
		double live_ms = live ? atof(live) : 0, replay_ms = r.create_ms + r.run_ms;
		printf("%-26s %7llu %8zu %8llu %9.1f %10.3f %9.2f %6.0fx  %.0f events/s\n",
		       strrchr(p, '/') + 1, (unsigned long long)l.info.exits, l.s.n,
		       (unsigned long long)l.info.file_bytes,
		       (double)l.info.file_bytes / (double)l.info.exits, replay_ms, live_ms,
		       live_ms / replay_ms, (double)l.info.exits / (r.run_ms / 1e3));
		const char *level = trace_info_get(&l.info, "level");
		bool device = level && strcmp(level, "device") == 0;
		(device ? &dev_bytes : &total_bytes)[0] += l.info.file_bytes;
		(device ? &dev_events : &total_exits)[0] += l.info.exits;
		ndevice += device;
		unload(&l);
	}
	printf("full-stack traces: %llu bytes, %llu events, %.1f bytes per event\n",
	       (unsigned long long)total_bytes, (unsigned long long)total_exits,
	       (double)total_bytes / (double)total_exits);
	printf("device-level traces: %u, %llu bytes, %llu events\n", ndevice,
	       (unsigned long long)dev_bytes, (unsigned long long)dev_events);
	assert_true(total_bytes + dev_bytes < (20u << 20));
	/* The budget of the issue: a full-stack exit well under 64 bytes. */
	assert_true(total_bytes < 64 * total_exits);
	/* Real Linux drivers, device level: block (3 modes), rng, console,
	 * balloon, net. */
	assert_true(ndevice >= 7);
}

static void test_hundred_replays_one_digest(void **state)
{
	for (size_t i = 0; i < traces.gl_pathc; i++) {
		struct loaded l;
		load(&l, traces.gl_pathv[i]);
		uint8_t first[32];
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int k = 0; k < REPEATS; k++) {
			struct replay_result r;
			replay(&l, &r);
			if (!r.matched)
				fail_msg("%s replay %d diverged:\n%s", traces.gl_pathv[i], k, r.divergence);
			if (k == 0)
				memcpy(first, r.digest, 32);
			else if (memcmp(first, r.digest, 32) != 0)
				fail_msg("%s: replay %d has a different digest", traces.gl_pathv[i], k);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		char hex[65];
		trace_hex_digest(first, hex);
		printf("%s: %d replays, one digest %.16s..., %.3f ms per replay, %.0f events/s\n",
		       traces.gl_pathv[i], REPEATS, hex, ms / REPEATS,
		       (double)l.info.exits * REPEATS / (ms / 1e3));
		unload(&l);
	}
}

static void test_changed_recording_caught_with_report(void **state)
{
	struct loaded l;
	load(&l, "traces/bundled/boot-2cpu.db");
	/* Pretend the recording saw another LSR value at the 5th LSR read. */
	unsigned seen = 0, seq = 0;
	for (size_t i = 0; i < l.s.n; i++) {
		struct script_event *e = &l.s.ev[i];
		if (e->type == SCRIPT_EXIT && e->exit.kind == HV_EXIT_IO_IN && e->exit.addr == 0x3fd &&
		    ++seen == 5) {
			e->read_value ^= 0x01;
			seq = e->line;
			break;
		}
	}
	assert_true(seq > 0);
	struct replay_result r;
	replay(&l, &r);
	assert_false(r.matched);
	assert_int_equal(r.result, GUEST_ERR_VCPU_RUNTIME_FAILURE);
	assert_int_equal(r.div_exit, seq);
	char at[64];
	snprintf(at, sizeof(at), "diverged at event %u ", seq);
	const char *d = r.divergence;
	if (!strstr(d, at) || !strstr(d, "device: serial (COM1) register LSR") ||
	    !strstr(d, "answered 0x60, the script says 0x61") || !strstr(d, "before it:"))
		fail_msg("report lacks event, device, values or context:\n%s", d);
	unload(&l);
}

/* Record the deterministic guest with the vmm binary; returns its digest. */
static int record(const char *out, uint8_t digest[32])
{
	char vmm[4096], guest[4096];
	build_path(vmm, sizeof(vmm), "vmm");
	build_path(guest, sizeof(guest), "test-guest/hello.elf");
	pid_t pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "r", stdin);
		freopen("/dev/null", "w", stdout);
		execl(vmm, vmm, "run", "--kernel", guest, "--cpus", "1", "--memory", "32M", "--serial",
		      "none", "--cmdline", "console=ttyS0 determinism", "--record", out, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	struct loaded l;
	load(&l, out);
	script_digest(&l.s, digest);
	unload(&l);
	return 0;
}

static void test_recording_twice_same_stream(void **state)
{
	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		printf("SKIP-REASON: /dev/kvm is not usable here; recording needs KVM\n");
		skip();
	}
	char a[] = "/tmp/test_replay_a.XXXXXX", b[] = "/tmp/test_replay_b.XXXXXX";
	int fa = mkstemp(a), fb = mkstemp(b);
	close(fa);
	close(fb);
	uint8_t da[32], db[32];
	if (record(a, da) < 0 || record(b, db) < 0) {
		unlink(a);
		unlink(b);
		fail_msg("recording the test guest on KVM failed");
	}
	unlink(a);
	unlink(b);
	assert_memory_equal(da, db, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_bundled_trace_replays),
		cmocka_unit_test(test_hundred_replays_one_digest),
		cmocka_unit_test(test_changed_recording_caught_with_report),
		cmocka_unit_test(test_recording_twice_same_stream),
	};
	return cmocka_run_group_tests_name("replay_traces", tests, setup, teardown);
}
