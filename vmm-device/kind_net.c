/* vmm-device/kind_net.c - virtio-net served over vhost-user on a TAP
 * interface (--tap NAME, host/net_tap.c).
 *
 * A frame the guest has no buffer for waits in the adapter and the TAP is
 * not polled until the driver adds buffers (rx_retry.c), as for the console.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "base/event_names.h"
#include "base/log.h"
#include "devices/net.h"
#include "host/net_tap.h"
#include "kinds.h"
#include "usage.h"

static struct device_server *server;
static struct virtio_net net;
static struct host_tap tap;
static int in_watch = -1;

static size_t net_deliver(void *ctx, const char *device, const void *data, size_t len)
{
	vhu_event_begin(&server->vhu);
	size_t n = host_tap_frame_in(&net, data, len);
	vhu_event_end(&server->vhu, device, data, len, n);
	return n;
}

static void net_retry(void)
{
	if (host_tap_retry(&tap, net_deliver, NULL))
		vhu_watch_enable(&server->vhu, in_watch, true);
}

static void net_input(void *ctx, int fd, short revents)
{
	int r;
	while ((r = host_tap_receive(&tap, net_deliver, NULL)) == 1)
		;
	if (r == 0)
		vhu_watch_enable(&server->vhu, in_watch, false); /* a frame waits for buffers */
}

static int net_check(struct device_request *rq)
{
	if (!rq->tap)
		return usage_error("%s", "--device net needs --tap NAME");
	return 0;
}

static int net_setup(struct device_server *ds, const struct device_request *rq,
                     struct virtio_device **dev)
{
	server = ds;
	char actual[64];
	int tap_fd = net_tap_open(rq->tap, true, actual, sizeof(actual));
	if (tap_fd < 0) {
		fprintf(stderr, "vmm_device: cannot open TAP '%s': %s\n", rq->tap, strerror(-tap_fd));
		return EXIT_RUNTIME;
	}
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	/* A device-level trace names its one net device "net". */
	host_tap_init(&tap, &ds->hev, EVN_NET, tap_fd);
	tap.wake = rx_space;
	struct net_host h = host_tap_net(&tap);
	ds->retry = net_retry;
	virtio_net_init(&net, mac, &h);
	*dev = &net.dev;
	return 0;
}

static void net_start(struct device_server *ds, const struct device_request *rq)
{
	in_watch = vhu_add_watch(&ds->vhu, tap.fd, POLLIN, net_input, NULL);
}

static int net_finish(const struct device_request *rq)
{
	log_info("net: %llu frames out, %llu frames in", (unsigned long long)net.tx_frames,
	         (unsigned long long)net.rx_frames);
	return 0;
}

const struct device_kind kind_net = {
	.name = "net",
	.virtio_id = 1,
	.synopsis = "--tap NAME",
	.help = "virtio-net on the TAP interface --tap NAME (created if missing;\n"
	        "needs CAP_NET_ADMIN); MAC 52:54:00:12:34:56",
	.takes = OPT_BIT(OPT_TAP),
	.options_are = "--tap is",
	.check = net_check,
	.setup = net_setup,
	.start = net_start,
	.finish = net_finish,
};
