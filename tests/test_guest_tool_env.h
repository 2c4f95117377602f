/* tests/test_guest_tool_env.h - a private session for tests of the guest
 * tool, guest managers and the audit (included by test_guest_tool.c and
 * test_audit.c only).
 *
 * Owns: a temporary directory standing in for one user's session
 * (XDG_RUNTIME_DIR, XDG_DATA_HOME, a package folder), a vmm_launcher
 * serving it, running the `guest` tool with its output captured, and
 * tearing all of it down: every process started here is bounded in time
 * and stopped (managers by their pid files, the launcher by SIGTERM, then
 * SIGKILL).
 */
#ifndef TESTS_TEST_GUEST_TOOL_ENV_H
#define TESTS_TEST_GUEST_TOOL_ENV_H

#include "testutil.h"
#include "lib/build_path.h"
#include "lib/mini_kernel.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct env {
	char dir[64];
	char run[128], data[128], pkgs[128], sock[128], coll[128];
	pid_t launcher;
};
static struct env E;

static inline long long env_now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static inline bool env_have_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static inline int env_count_collection(void)
{
	FILE *f = fopen(E.coll, "r");
	if (!f)
		return -1;
	int n = 0, pid;
	while (fscanf(f, "%d", &pid) == 1)
		n++;
	fclose(f);
	return n;
}

static inline pid_t env_collection_pid(int i)
{
	FILE *f = fopen(E.coll, "r");
	int pid = -1, k = 0;
	while (f && fscanf(f, "%d", &pid) == 1 && k++ < i)
		;
	if (f)
		fclose(f);
	return k > i ? pid : -1;
}

static inline bool env_wait_collection(int n, int ms)
{
	for (long long t0 = env_now_ms(); env_now_ms() - t0 < ms; usleep(10000))
		if (env_count_collection() == n)
			return true;
	return false;
}

/* A package file pkgs/NAME.pkg with `body` (its kernel etc.). */
static inline void env_package(const char *name, const char *body)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s.pkg", E.pkgs, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
}

/* pkgs/hlt.elf: a PVH kernel that loops on hlt (never stops by itself). */
static inline void env_hlt_kernel(void)
{
	int k = mini_pvh_kernel();
	assert_true(k >= 0);
	char path[256], buf[65536];
	snprintf(path, sizeof(path), "%s/hlt.elf", E.pkgs);
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(out >= 0);
	ssize_t n;
	lseek(k, 0, SEEK_SET);
	while ((n = read(k, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(out);
	close(k);
	env_package("hlt", "description = hlt loop\n"
	                   "kernel = ${PKGDIR}/hlt.elf\n"
	                   "memory = 16M\n"
	                   "stateful = 1M\n");
}

static inline void env_start(void)
{
	memset(&E, 0, sizeof(E));
	E.launcher = -1;
	strcpy(E.dir, "/tmp/vmm-guest-test-XXXXXX");
	assert_non_null(mkdtemp(E.dir));
	snprintf(E.run, sizeof(E.run), "%s/run", E.dir);
	snprintf(E.data, sizeof(E.data), "%s/data", E.dir);
	snprintf(E.pkgs, sizeof(E.pkgs), "%s/pkgs", E.dir);
	snprintf(E.sock, sizeof(E.sock), "%s/launcher.sock", E.dir);
	snprintf(E.coll, sizeof(E.coll), "%s/collection", E.dir);
	assert_int_equal(mkdir(E.run, 0700), 0);
	assert_int_equal(mkdir(E.pkgs, 0755), 0);
	setenv("XDG_RUNTIME_DIR", E.run, 1);
	setenv("XDG_DATA_HOME", E.data, 1);
	setenv("VMM_GUEST_PACKAGES", E.pkgs, 1);
	setenv("VMM_LAUNCHER_SOCKET", E.sock, 1);
	/* Managers left idle go away on their own soon; teardown kills them anyway. */
	setenv("VMM_MANAGER_LINGER_MS", "5000", 1);
	char launcher[4096], vmm[4096];
	build_path(launcher, sizeof(launcher), "vmm_launcher");
	build_path(vmm, sizeof(vmm), "vmm");
	fflush(NULL);
	E.launcher = fork();
	assert_true(E.launcher >= 0);
	if (E.launcher == 0) {
		char *argv[] = { launcher, "--socket", E.sock, "--vmm", vmm, "--collection", E.coll,
			         "-v", NULL };
		execv(launcher, argv);
		_exit(127);
	}
	for (long long t0 = env_now_ms(); env_now_ms() - t0 < 5000; usleep(10000))
		if (access(E.sock, F_OK) == 0 && access(E.coll, F_OK) == 0)
			return;
	fail_msg("vmm_launcher did not start listening within 5 s");
}

/* Run build/guest with args (NULL-terminated), at most ms; out gets stdout
 * and stderr. Returns the exit status (-1: killed at the deadline). */
static inline int env_guest(char *out, size_t len, int ms, ...)
{
	char prog[4096];
	build_path(prog, sizeof(prog), "guest");
	char *argv[32] = { prog };
	int n = 1;
	va_list ap;
	va_start(ap, ms);
	for (char *a; n < 31 && (a = va_arg(ap, char *));)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		dup2(nul, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv(prog, argv);
		_exit(127);
	}
	close(p[1]);
	size_t have = 0;
	long long deadline = env_now_ms() + ms;
	bool timed_out = false;
	for (;;) {
		long long left = deadline - env_now_ms();
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		if (left <= 0 || poll(&pf, 1, (int)left) <= 0) {
			timed_out = true;
			break;
		}
		char tmp[4096];
		ssize_t r = read(p[0], tmp, sizeof(tmp));
		if (r <= 0)
			break;
		size_t take = (size_t)r < len - 1 - have ? (size_t)r : len - 1 - have;
		memcpy(out + have, tmp, take);
		have += take;
	}
	out[have] = '\0';
	close(p[0]);
	/* A manager the tool started holds no copy of the pipe (it closes every
	 * fd but its own), so EOF means the tool is done or about to be. */
	int status = 0;
	for (long long t0 = env_now_ms(); env_now_ms() - t0 < 5000 && !timed_out; usleep(2000))
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static inline pid_t env_ppid(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	int pp = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "PPid: %d", &pp) == 1)
			break;
	if (f)
		fclose(f);
	return (pid_t)pp;
}

/* Is pid this test process or one of its descendants? (Managers are
 * reparented away by setsid+exit of the tool, but they never hold the
 * hypervisor; the launcher and its vmms are our descendants.) */
static inline bool env_ours(pid_t pid)
{
	for (int depth = 0; pid > 1 && depth < 64; depth++, pid = env_ppid(pid))
		if (pid == getpid())
			return true;
	return false;
}

/* The audit passed for this session: exit 0, or exit 1 where every
 * violation is a hypervisor holder that is not ours (another test run or
 * VMM on this shared machine: the audit is right to name it, but it says
 * nothing about the instances under test). */
static inline bool env_audit_ok(int rc, const char *text)
{
	if (rc == 0)
		return true;
	if (rc != 1)
		return false;
	int foreign = 0;
	for (const char *l = strstr(text, "VIOLATION"); l; l = strstr(l + 1, "VIOLATION")) {
		int pid;
		if (sscanf(l, "VIOLATION hypervisor-outside-collection: pid %d", &pid) != 1 ||
		    env_ours((pid_t)pid))
			return false;
		foreign++;
	}
	printf("note: the audit named %d hypervisor holder(s) outside this test\n", foreign);
	return foreign > 0;
}

static inline pid_t env_manager_pid(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/vmm/%s.pid", E.run, name);
	FILE *f = fopen(path, "r");
	int pid = -1;
	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return pid;
}

static inline bool env_wait_gone(pid_t pid, int ms)
{
	for (long long t0 = env_now_ms(); env_now_ms() - t0 < ms; usleep(5000)) {
		/* Our own child (the launcher) must be reaped to be gone. */
		waitpid(pid, NULL, WNOHANG);
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return true;
	}
	return false;
}

static inline void env_kill(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	if (!env_wait_gone(pid, 5000)) {
		kill(pid, SIGKILL);
		env_wait_gone(pid, 5000);
	}
}

static inline int env_stop(void **state)
{
	(void)state;
	/* Managers first (they close their vmm channels), then the launcher. */
	char vdir[256];
	snprintf(vdir, sizeof(vdir), "%s/vmm", E.run);
	DIR *d = opendir(vdir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l > 4 && !strcmp(de->d_name + l - 4, ".pid")) {
			char name[64];
			snprintf(name, sizeof(name), "%.*s", (int)(l - 4), de->d_name);
			env_kill(env_manager_pid(name));
		}
	}
	if (d)
		closedir(d);
	if (E.launcher > 0) {
		kill(E.launcher, SIGTERM);
		int status = -1;
		for (long long t0 = env_now_ms(); env_now_ms() - t0 < 10000; usleep(10000))
			if (waitpid(E.launcher, &status, WNOHANG) == E.launcher)
				break;
		if (status == -1) {
			kill(E.launcher, SIGKILL);
			waitpid(E.launcher, NULL, 0);
		}
		E.launcher = -1;
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", E.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", E.dir);
	return 0;
}

#endif
