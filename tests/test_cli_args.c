/* Command-line numbers and sizes. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "base/cli_args.h"
#include "base/cli_table.h"

static void test_sizes(void **s)
{
	uint64_t v;
	char err[128];
	assert_int_equal(parse_size("256M", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 256ull << 20);
	assert_int_equal(parse_size("2g", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(parse_size("4KiB", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("1048576", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 1048576);
	assert_int_equal(parse_size("", &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse_size("-1M", &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse_size("12X", &v, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "suffix"));
	assert_int_equal(parse_size("12Mfoo", &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse_size("99999999999999999999", &v, err, sizeof(err)), -ERANGE);
	assert_int_equal(parse_size("17179869184T", &v, err, sizeof(err)), -ERANGE);
	assert_int_equal(parse_size(NULL, &v, err, sizeof(err)), -EINVAL);
}

static void test_uints(void **s)
{
	uint64_t v;
	char err[128];
	assert_int_equal(parse_uint("2", 0, 255, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 2);
	assert_int_equal(parse_uint("256", 0, 255, &v, err, sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(parse_uint("2x", 0, 255, &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse_uint(" 2", 0, 255, &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse_uint("0", 1, 255, &v, err, sizeof(err)), -ERANGE);
}

/* The --help layout both programs print from their tables: a short name is
 * padded to the field, a long one gets two spaces, further lines line up. */
static void test_help_entry(void **s)
{
	char buf[512];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	assert_non_null(f);
	cli_help_entry(f, 10, "--a N", "one");
	cli_help_entry(f, 10, "--longer-x", "two\nthree");
	fclose(f);
	assert_string_equal(buf, "  --a N     one\n"
	                         "  --longer-x  two\n"
	                         "            three\n");
}

/* A program's option entry: the cli_opt first, then its own fields. */
struct prog_opt {
	struct cli_opt cli;
	int id;
};

static const struct prog_opt prog_opts[] = {
	{ { "kernel", 0, "FILE", "the kernel" }, 10 },
	{ { "verbose", 'v', NULL, "say more" }, 11 },
	{ { "out", 'o', "PATH", "where" }, 12 },
	{ { "help", 'h', NULL, NULL }, 13 },
};
#define N_PROG_OPTS (sizeof(prog_opts) / sizeof(prog_opts[0]))

/* Walk argv; the indices (or CLI_* codes) and values seen, as text. */
static void walk(bool own_errors, char *out, size_t len, int argc, char **argv)
{
	struct cli_parser p;
	cli_parser_init(&p, prog_opts, N_PROG_OPTS, sizeof(prog_opts[0]), own_errors);
	size_t n = 0;
	int i;
	char *arg;
	out[0] = '\0';
	do {
		i = cli_parser_next(&p, argc, argv, &arg);
		n += (size_t)snprintf(out + n, len - n, "%d%s%s ", i >= 0 ? prog_opts[i].id : i,
		                      arg ? "=" : "", arg ? arg : "");
	} while (i >= 0 && n < len);
	snprintf(out + n, len - n, "rest=%d", argc - optind);
}

static void test_option_table(void **s)
{
	char out[256];
	char *a1[] = { "prog", "--kernel", "k.elf", "-v", "-o", "x", "--out=y", "operand", NULL };
	walk(true, out, sizeof(out), 8, a1);
	assert_string_equal(out, "10=k.elf 11 12=x 12=y -1 rest=1");
	char *a2[] = { "prog", "--kernel", NULL };
	walk(true, out, sizeof(out), 2, a2);
	assert_string_equal(out, "-2 rest=0");
	char *a3[] = { "prog", "-v", "--bogus", NULL };
	walk(true, out, sizeof(out), 3, a3);
	assert_string_equal(out, "11 -3 rest=0");
	char *a4[] = { "prog", "-q", NULL };
	walk(true, out, sizeof(out), 2, a4);
	assert_string_equal(out, "-3 rest=0");
	/* Without own errors a missing value is just unknown (getopt said why). */
	char *a5[] = { "prog", "-o", NULL };
	walk(false, out, sizeof(out), 2, a5);
	assert_string_equal(out, "-3 rest=0");
	/* A second walk starts again from argv[1]. */
	walk(true, out, sizeof(out), 8, a1);
	assert_string_equal(out, "10=k.elf 11 12=x 12=y -1 rest=1");
}

static void test_help_from_table(void **s)
{
	char buf[512];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	assert_non_null(f);
	for (size_t i = 0; i < N_PROG_OPTS; i++)
		cli_help_option(f, 14, &prog_opts[i].cli);
	fclose(f);
	assert_string_equal(buf, "  --kernel FILE the kernel\n"
	                         "  -v, --verbose say more\n"
	                         "  -o, --out PATH  where\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_uints),
		cmocka_unit_test(test_help_entry),
		cmocka_unit_test(test_option_table),
		cmocka_unit_test(test_help_from_table),
	};
	return cmocka_run_group_tests_name("cli_args", tests, NULL, NULL);
}
