/* tests/test_vmm_device_cli.c - the vmm-device command line: --help lists
 * every device kind and option from the tables; each bad command line exits
 * 2 (usage) or 1 (runtime) with a message naming the culprit, and a file in
 * the way of --socket is never touched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/build_path.h"
#include "tests/testutil.h"

static char dir[64];
static char out[16384];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_vmm_device_cli.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char p[128];
	snprintf(p, sizeof(p), "%s/img", dir);
	FILE *f = fopen(p, "w");
	if (!f)
		return -1;
	fclose(f);
	snprintf(p, sizeof(p), "%s/notsock", dir);
	f = fopen(p, "w");
	if (!f)
		return -1;
	fputs("keep me", f);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* Run vmm_device with args (a shell word list; @ stands for the scratch
 * folder), bounded in time; its exit status, and stdout+stderr in out. */
static int run(const char *args)
{
	char bin[512], cmd[2048], expanded[1024];
	build_path(bin, sizeof(bin), "vmm_device");
	size_t n = 0;
	for (const char *a = args; *a && n + sizeof(dir) < sizeof(expanded); a++)
		if (*a == '@')
			n += (size_t)snprintf(expanded + n, sizeof(expanded) - n, "%s", dir);
		else
			expanded[n++] = *a;
	expanded[n] = '\0';
	snprintf(cmd, sizeof(cmd), "timeout -k 2 10 %s %s </dev/null 2>&1", bin, expanded);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t got = fread(out, 1, sizeof(out) - 1, p);
	out[got] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_help_lists_every_kind_and_option(void **state)
{
	assert_int_equal(run("--help"), 0);
	static const char *const want[] = { "block [2]", "rng   [4]", "console [3]", "net   [1]",
		                            "balloon [5]", "vsock [19]", "--socket PATH",
		                            "--vsock-listen PORT:PATH", "--record FILE.db", "Exit status" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(out, want[i]))
			fail_msg("--help lacks \"%s\":\n%s", want[i], out);
}

static const struct {
	const char *args;
	int status;
	const char *says;
} bad[] = {
	{ "", 2, "--socket PATH is required" },
	{ "--socket @/s", 2, "--device NAME is required (block, rng, console, net, balloon or vsock)" },
	{ "--socket @/s --device floppy", 2, "unknown device 'floppy' (block, rng" },
	{ "--socket @/s --device rng --image @/img", 2, "are for --device block, not rng" },
	{ "--socket @/s --device block", 2, "--device block needs --image FILE" },
	{ "--socket @/s --device block --image @/img --mode rx", 2, "unknown --mode 'rx'" },
	{ "--socket @/s --device block --image @/nonexist", 1, "cannot open image" },
	{ "--socket @/s --device block --image /dev/null", 1, "not a regular file or block device" },
	{ "--socket @/s --device balloon --balloon-pages abc", 2, "'abc' is not a page count" },
	{ "--socket @/s --device balloon --balloon-pages 4294967296", 2, "is not a page count" },
	{ "--socket @/s --device rng --balloon-pages 3", 2, "--balloon-pages is for --device balloon, not rng" },
	{ "--socket @/s --device vsock --vsock-listen 5", 2, "'5' is not PORT:PATH" },
	{ "--socket @/s --device vsock --vsock-listen 5:a --vsock-listen 5:b", 2, "'5:b' is not PORT:PATH" },
	{ "--socket @/s --device vsock --guest-cid 2", 2, "'2' is not a guest CID" },
	{ "--socket @/s --device rng --tap tap0", 2, "--tap is for --device net, not rng" },
	{ "--socket @/s --device rng extra", 2, "unexpected argument 'extra'" },
	{ "--socket @/s --device rng --bogus", 2, "unknown option '--bogus'" },
	{ "--socket @/notsock --device rng", 1, "a file that is not a socket is in the way" },
};

static void test_bad_command_lines(void **state)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int st = run(bad[i].args);
		if (st != bad[i].status || !strstr(out, bad[i].says))
			fail_msg("vmm_device %s: exit %d, wanted %d and \"%s\" in:\n%s", bad[i].args, st,
			         bad[i].status, bad[i].says, out);
		if (bad[i].status == 2 && !strstr(out, "Try 'vmm_device --help'."))
			fail_msg("vmm_device %s: no pointer to --help:\n%s", bad[i].args, out);
	}
	/* The file in the way is still the user's. */
	char p[128], buf[16] = { 0 };
	snprintf(p, sizeof(p), "%s/notsock", dir);
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "keep me");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_lists_every_kind_and_option),
		cmocka_unit_test(test_bad_command_lines),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
