/* vmm-device/rx_retry.c - held host input offered again from the server loop.
 *
 * Owns: the pipe between "the driver added receive buffers" (called while a
 * kick is handled) and the kind's retry, run from the loop. Held input is
 * not offered inside the kick because host input arrives between events:
 * each offer is a host event of its own, which a recording must show as one.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "kinds.h"

static int wake_fd = -1;

void rx_space(void *ctx)
{
	ssize_t n = write(wake_fd, "x", 1);
	(void)n; /* a full pipe already holds a wake-up */
}

static void run_retry(void *ctx, int fd, short revents)
{
	struct device_server *ds = ctx;
	char b[64];
	while (read(fd, b, sizeof(b)) > 0)
		;
	ds->retry();
}

int rx_retry_open(struct device_server *ds)
{
	if (pipe2(ds->retry_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	wake_fd = ds->retry_pipe[1];
	return 0;
}

void rx_retry_watch(struct device_server *ds)
{
	vhu_add_watch(&ds->vhu, ds->retry_pipe[0], POLLIN, run_retry, ds);
}
