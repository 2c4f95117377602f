/* Command-line numbers and sizes. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "base/cli_args.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_uints),
		cmocka_unit_test(test_help_entry),
	};
	return cmocka_run_group_tests_name("cli_args", tests, NULL, NULL);
}
