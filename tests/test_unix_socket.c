/* tests/test_unix_socket.c - unix_listen (base/unix_socket.c): a stale socket
 * is replaced; a user's file, directory or link at the path is never touched. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/unix_socket.h"
#include "tests/testutil.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_unix_socket.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void path_in_dir(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static bool connects(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	bool ok = connect(c, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(c);
	return ok;
}

static void test_listens_and_accepts(void **state)
{
	char p[128];
	path_in_dir(p, sizeof(p), "a.sock");
	int fd = unix_listen(p, 4, SOCK_NONBLOCK);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(connects(p));
	close(fd);
}

static void test_stale_socket_replaced(void **state)
{
	char p[128];
	path_in_dir(p, sizeof(p), "stale.sock");
	int old = unix_listen(p, 1, 0);
	assert_true(old >= 0);
	close(old); /* the socket file stays: an earlier run's leftover */
	assert_false(connects(p));
	int fd = unix_listen(p, 1, 0);
	assert_true(fd >= 0);
	assert_true(connects(p));
	close(fd);
}

static void test_regular_file_untouched(void **state)
{
	char p[128];
	path_in_dir(p, sizeof(p), "notes.txt");
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("user data", f);
	fclose(f);
	assert_int_equal(unix_listen(p, 1, 0), -EEXIST);
	char buf[32] = { 0 };
	f = fopen(p, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "user data");
}

static void test_directory_and_link_untouched(void **state)
{
	char d[128], l[128];
	path_in_dir(d, sizeof(d), "sub");
	assert_int_equal(mkdir(d, 0700), 0);
	assert_int_equal(unix_listen(d, 1, 0), -EEXIST);
	struct stat st;
	assert_int_equal(stat(d, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	path_in_dir(l, sizeof(l), "link");
	assert_int_equal(symlink(d, l), 0);
	assert_int_equal(unix_listen(l, 1, 0), -EEXIST);
	assert_int_equal(lstat(l, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
}

static void test_path_too_long(void **state)
{
	char p[200];
	memset(p, 'x', sizeof(p) - 1);
	p[0] = '/';
	p[sizeof(p) - 1] = '\0';
	assert_int_equal(unix_listen(p, 1, 0), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listens_and_accepts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_regular_file_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_and_link_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_too_long, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
