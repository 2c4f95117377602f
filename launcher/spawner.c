/* launcher/spawner.c - see spawner.h. */
#include "spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* In the child, after fork: only async-signal-safe calls until execve. */
static void child(const char *path, int channel_fd, int hv_fd)
{
	/* Its own process group: the launcher can stop the vmm and anything it
	 * starts with one kill(-pgid). */
	setpgid(0, 0);
	/* Default signal dispositions and an empty mask for the new program. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	/* Move the two handles out of the way of their target numbers first, so
	 * that dup2 cannot clobber one with the other. */
	int ch = fcntl(channel_fd, F_DUPFD, 10);
	int hv = hv_fd >= 0 ? fcntl(hv_fd, F_DUPFD, 10) : -1;
	if (ch < 0 || (hv_fd >= 0 && hv < 0))
		_exit(126);
	if (dup2(ch, SPAWN_CHANNEL_FD) < 0)
		_exit(126);
	if (hv >= 0) {
		if (dup2(hv, SPAWN_HV_FD) < 0)
			_exit(126);
	} else {
		close(SPAWN_HV_FD);
	}
	/* Everything above fd 4 goes: the vmm holds only what it was given. */
	if (syscall(SYS_close_range, SPAWN_HV_FD + 1, ~0u, 0) < 0) {
		for (int fd = SPAWN_HV_FD + 1; fd < 65536; fd++)
			close(fd);
	}
	char *const argv[] = { "vmm", "serve", "--channel-fd", "3", "--hv-fd",
	                       hv_fd >= 0 ? "4" : "-1", NULL };
	char *const envp[] = { NULL };
	execve(path, argv, envp);
	_exit(127);
}

static int do_spawn(void *ctx, int channel_fd, int hv_fd, pid_t *pid)
{
	struct posix_spawner *ps = ctx;
	pid_t p = fork();
	if (p < 0)
		return -errno;
	if (p == 0)
		child(ps->vmm_path, channel_fd, hv_fd);
	/* Also from the parent, so the group exists before anyone signals it. */
	setpgid(p, p);
	*pid = p;
	return 0;
}

static int do_kill(void *ctx, pid_t pid, int sig)
{
	if (kill(-pid, sig) == 0)
		return 0;
	/* The group may not exist yet (child not scheduled): the pid does. */
	return kill(pid, sig) == 0 ? 0 : -errno;
}

struct spawner posix_spawner(struct posix_spawner *ps, const char *vmm_path)
{
	snprintf(ps->vmm_path, sizeof(ps->vmm_path), "%s", vmm_path);
	return (struct spawner){ .ctx = ps, .spawn = do_spawn, .kill = do_kill };
}
