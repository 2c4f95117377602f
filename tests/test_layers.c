/* tests/test_layers.c - the layer check (scripts/check-layers.sh): this tree
 * passes it, and each kind of wrong include in a scratch tree fails it with
 * the offending file and line named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/testutil.h"

/* The test runs from the checkout's root (make check does). */
#define SCRIPT "scripts/check-layers.sh"

/* Run the check on root; its exit status, and its output in out. */
static int run_check(const char *root, char *out, size_t len)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", SCRIPT, root);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void put(const char *root, const char *rel, const char *text)
{
	char path[512], dir[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	mkdir(dir, 0755);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A scratch tree whose includes all point down. */
static char *good_tree(void)
{
	static char root[64];
	snprintf(root, sizeof(root), "/tmp/test_layers.XXXXXX");
	assert_non_null(mkdtemp(root));
	put(root, "base/log.h", "#include <stdio.h>\n");
	put(root, "api/guest_error.h", "#include \"base/log.h\"\n");
	put(root, "devices/rng.c", "#include \"rng.h\"\n#include \"base/log.h\"\n");
	put(root, "devices/rng.h", "#include \"api/guest_error.h\"\n");
	put(root, "vmm/vm.c", "#include \"devices/rng.h\"\n");
	put(root, "vmm/vmm_main.c", "#include \"replay/replay.h\"\n");
	return root;
}

static void cleanup(const char *root)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

static void test_project_tree_passes(void **state)
{
	char out[8192];
	int rc = run_check(".", out, sizeof(out));
	if (rc != 0)
		fail_msg("the project breaks its own layers:\n%s", out);
	assert_non_null(strstr(out, "layers: ok"));
}

static void test_scratch_tree_passes(void **state)
{
	char *root = good_tree(), out[4096];
	assert_int_equal(run_check(root, out, sizeof(out)), 0);
	cleanup(root);
}

static void expect_refused(const char *rel, const char *text, const char *needle)
{
	char *root = good_tree(), out[4096];
	put(root, rel, text);
	int rc = run_check(root, out, sizeof(out));
	cleanup(root);
	if (rc != 1 || !strstr(out, needle))
		fail_msg("%s with %s: exit %d, wanted 1 and \"%s\" in:\n%s", rel, text, rc, needle, out);
}

static void test_upward_include_refused(void **state)
{
	expect_refused("base/guest_mem.h", "#include <stdint.h>\n#include \"vmm/vm.h\"\n",
	               "base/guest_mem.h:2: base (rank 0) includes \"vmm/vm.h\"");
}

static void test_sideways_include_refused(void **state)
{
	expect_refused("devices/net.c", "#include \"fidl/wire.h\"\n",
	               "devices/net.c:1: devices (rank 2) includes \"fidl/wire.h\"");
}

static void test_unranked_folder_refused(void **state)
{
	expect_refused("gadgets/x.c", "#include \"base/log.h\"\n", "folder 'gadgets' has no rank");
	expect_refused("vmm/y.c", "#include \"gadgets/x.h\"\n", "which has no rank");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_project_tree_passes),
		cmocka_unit_test(test_scratch_tree_passes),
		cmocka_unit_test(test_upward_include_refused),
		cmocka_unit_test(test_sideways_include_refused),
		cmocka_unit_test(test_unranked_folder_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
