/* launcher/spawner.h - starting a vmm process for one GuestLifecycle channel.
 *
 * Owns: the one way a vmm is started: from a path fixed when the launcher
 * started (a client cannot choose what runs), holding exactly stdin/stdout/
 * stderr, the channel as fd 3 and the hypervisor handle as fd 4, with an empty
 * environment, every other fd closed and its own process group. Behind an ops
 * table so a simulated spawner can stand in during replay.
 */
#ifndef LAUNCHER_SPAWNER_H
#define LAUNCHER_SPAWNER_H

#include <sys/types.h>

#define SPAWN_CHANNEL_FD 3
#define SPAWN_HV_FD 4

struct spawner {
	void *ctx;
	/* Start a vmm serving channel_fd, with hv_fd (or -1). The caller keeps
	 * its copies of both fds. Returns 0 and *pid, or -errno. */
	int (*spawn)(void *ctx, int channel_fd, int hv_fd, pid_t *pid);
	/* Signal the vmm's whole process group. */
	int (*kill)(void *ctx, pid_t pid, int sig);
};

struct posix_spawner {
	char vmm_path[4096];
};

/* The real spawner: fork + execve(vmm_path, {"vmm", "serve", "--channel-fd",
 * "3", "--hv-fd", "4"}, {}). */
struct spawner posix_spawner(struct posix_spawner *ps, const char *vmm_path);

#endif
