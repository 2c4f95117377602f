/* host/net_tap.c - see net_tap.h. */
#include "host/net_tap.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int net_tap_open(const char *name, bool nonblock, char *actual, size_t actual_size)
{
	if (!name || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
	if (fd < 0)
		return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	/* No IFF_VNET_HDR: frames cross the fd bare, the device adds its header. */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (actual && actual_size)
		snprintf(actual, actual_size, "%.*s", IFNAMSIZ, ifr.ifr_name);
	return fd;
}

void host_tap_init(struct host_tap *t, struct host_events *ev, const char *name, int fd)
{
	memset(t, 0, sizeof(*t));
	t->ev = ev;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->fd = fd;
}

static void tap_send(void *ctx, const void *frame, size_t len)
{
	struct host_tap *t = ctx;
	hev_output(t->ev, t->name, frame, len);
	if (t->fd < 0)
		return;
	/* A TAP takes whole frames or nothing; a full host queue drops, as a
	 * wire would. */
	ssize_t w;
	do
		w = write(t->fd, frame, len);
	while (w < 0 && errno == EINTR);
}

static void tap_rx_space(void *ctx)
{
	struct host_tap *t = ctx;
	t->wake(t->wake_ctx);
}

struct net_host host_tap_net(struct host_tap *t)
{
	return (struct net_host){ t, tap_send, t->wake ? tap_rx_space : NULL };
}

size_t host_tap_frame_in(struct virtio_net *dev, const void *frame, size_t len)
{
	return virtio_net_host_frame(dev, frame, len) == -EAGAIN ? 0 : len;
}

bool host_tap_room(const struct host_tap *t)
{
	return t->fd >= 0 && !t->held_len;
}

bool host_tap_retry(struct host_tap *t, host_deliver_fn *deliver, void *ctx)
{
	if (t->held_len && deliver(ctx, t->name, t->held, t->held_len) == t->held_len)
		t->held_len = 0;
	return !t->held_len;
}

int host_tap_receive(struct host_tap *t, host_deliver_fn *deliver, void *ctx)
{
	if (!host_tap_room(t))
		return t->held_len ? 0 : -1;
	ssize_t got = read(t->fd, t->held, sizeof(t->held));
	if (got <= 0)
		return -1;
	assert((size_t)got <= sizeof(t->held));
	if (deliver(ctx, t->name, t->held, (size_t)got) == (size_t)got)
		return 1;
	t->held_len = (size_t)got;
	return 0;
}
