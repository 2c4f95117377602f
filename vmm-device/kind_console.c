/* vmm-device/kind_console.c - virtio-console served over vhost-user, one
 * port: guest output to stdout, stdin to the guest (host/stream.c).
 *
 * Input the guest has no buffer for yet waits in the adapter, and stdin is
 * not polled until the driver adds buffers (rx_retry.c): a full guest
 * throttles the host instead of losing bytes. Each offer of held input is a
 * host event of its own, taken or not; it is offered until the device takes
 * nothing.
 */
#include <unistd.h>
#include <poll.h>

#include "base/event_names.h"
#include "base/log.h"
#include "devices/console.h"
#include "host/stream.h"
#include "kinds.h"

static struct device_server *server;
static struct virtio_console con;
static struct host_stream con_stream;
static int in_watch = -1;

static size_t con_deliver(void *ctx, const char *device, const void *data, size_t len)
{
	vhu_event_begin(&server->vhu);
	size_t n = virtio_console_host_input(&con, data, len);
	vhu_event_end(&server->vhu, device, data, len, n);
	return n;
}

static void con_retry(void)
{
	if (host_stream_flush(&con_stream, con_deliver, NULL) && con_stream.in_open)
		vhu_watch_enable(&server->vhu, in_watch, true);
}

static void con_input(void *ctx, int fd, short revents)
{
	ssize_t n = host_stream_read(&con_stream);
	if (n < 0)
		return; /* nothing to read now */
	if (n == 0 || !host_stream_flush(&con_stream, con_deliver, NULL))
		vhu_watch_enable(&server->vhu, in_watch, false); /* at its end, or the guest is full */
}

static int console_setup(struct device_server *ds, const struct device_request *rq,
                         struct virtio_device **dev)
{
	server = ds;
	/* Guest output waits for stdout; stdin waits for the driver. */
	host_stream_init(&con_stream, &ds->hev, EVN_CONSOLE, STDOUT_FILENO, STDIN_FILENO,
	                 HOST_STREAM_WAIT, HOST_STREAM_HOLD_MAX);
	con_stream.wake = rx_space;
	struct console_host h = host_stream_console(&con_stream);
	ds->retry = con_retry;
	virtio_console_init(&con, &h);
	*dev = &con.dev;
	return 0;
}

static void console_start(struct device_server *ds, const struct device_request *rq)
{
	in_watch = vhu_add_watch(&ds->vhu, STDIN_FILENO, POLLIN, con_input, NULL);
}

static int console_finish(const struct device_request *rq)
{
	log_info("console: %llu bytes out, %llu bytes in", (unsigned long long)con.tx_bytes,
	         (unsigned long long)con.rx_bytes);
	return 0;
}

const struct device_kind kind_console = {
	.name = "console",
	.virtio_id = 3,
	.help = "virtio-console, one port: guest output to stdout, stdin to the\n"
	        "guest (input waits in this process until the driver has buffers)",
	.setup = console_setup,
	.start = console_start,
	.finish = console_finish,
};
