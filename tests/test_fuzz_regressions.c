/* Every fuzz harness's seed corpus (fuzz/corpus/<h>/) and every crash or hang
 * ever found (fuzz/regressions/<h>/), replayed through the harness's plain
 * driver (<build>/fuzz/<h>, no AFL): the oracle must hold on all of them. */
#include "testutil.h"

#include <dirent.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/build_path.h"

static const char *const harnesses[] = {
	"guestconfig", "virtqueue", "virtio_devices", "fidl_wire", "trace_reader", "launcher_ops",
	"vhost_user",
};
#define NH (sizeof(harnesses) / sizeof(harnesses[0]))

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void replay(const char *h)
{
	char driver[4096], corpus[4096], regress[4096];
	build_path(driver, sizeof(driver), "fuzz/");
	strncat(driver, h, sizeof(driver) - strlen(driver) - 1);
	build_path(corpus, sizeof(corpus), "../fuzz/corpus/");
	strncat(corpus, h, sizeof(corpus) - strlen(corpus) - 1);
	build_path(regress, sizeof(regress), "../fuzz/regressions/");
	strncat(regress, h, sizeof(regress) - strlen(regress) - 1);
	assert_true(access(driver, X_OK) == 0);
	assert_true(is_dir(corpus)); /* every harness has seeds */
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		char *argv[] = { driver, corpus, is_dir(regress) ? regress : NULL, NULL };
		execv(driver, argv);
		_exit(127);
	}
	int st;
	assert_int_equal(waitpid(p, &st, 0), p);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		print_message("%s: replay failed (%s %d)\n", h, WIFEXITED(st) ? "exit" : "signal",
		              WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_replay(void **state)
{
	replay(*(const char *const *)*state);
}

/* A corpus or regression folder nobody replays would be dead weight. */
static void test_no_orphan_folders(void **state)
{
	static const char *const roots[] = { "../fuzz/corpus", "../fuzz/regressions" };
	for (int r = 0; r < 2; r++) {
		char root[4096];
		build_path(root, sizeof(root), roots[r]);
		DIR *d = opendir(root);
		if (!d)
			continue;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.' || e->d_type != DT_DIR)
				continue;
			bool known = false;
			for (size_t i = 0; i < NH; i++)
				known = known || strcmp(e->d_name, harnesses[i]) == 0;
			if (!known)
				print_message("%s/%s has no harness\n", roots[r], e->d_name);
			assert_true(known);
		}
		closedir(d);
	}
}

static int set_harness(void **state)
{
	return 0;
}

int main(void)
{
	static const char *names[NH];
	struct CMUnitTest tests[NH + 1];
	for (size_t i = 0; i < NH; i++) {
		names[i] = harnesses[i];
		tests[i] = (struct CMUnitTest){ harnesses[i], test_replay, set_harness, NULL,
		                                (void *)&names[i] };
	}
	tests[NH] = (struct CMUnitTest){ "no_orphan_folders", test_no_orphan_folders, NULL, NULL, NULL };
	return _cmocka_run_group_tests("fuzz_regressions", tests, NH + 1, NULL, NULL);
}
