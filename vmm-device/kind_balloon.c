/* vmm-device/kind_balloon.c - virtio-balloon served over vhost-user: pages
 * the guest gives up come out of the front end's memory table
 * (host/balloon.c, MADV_REMOVE); --balloon-pages is asked for at start. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "devices/balloon.h"
#include "host/balloon.h"
#include "kinds.h"
#include "usage.h"

static struct virtio_balloon balloon;
static struct host_balloon balloon_host;

static int balloon_check(struct device_request *rq)
{
	const char *s = rq->pages_arg;
	if (!s)
		return 0;
	char *end;
	errno = 0;
	unsigned long pages = strtoul(s, &end, 10);
	if (errno || *end || !*s || pages > UINT32_MAX || s[0] == '-')
		return usage_error("--balloon-pages '%s' is not a page count", s);
	rq->pages = (uint32_t)pages;
	return 0;
}

static int balloon_setup(struct device_server *ds, const struct device_request *rq,
                         struct virtio_device **dev)
{
	host_balloon_init(&balloon_host, &ds->hev, &ds->vhu.mem);
	struct balloon_host h = host_balloon_hooks(&balloon_host);
	virtio_balloon_init(&balloon, &h, false);
	*dev = &balloon.dev;
	return 0;
}

static void balloon_record_config(const struct device_request *rq, char *cfg, size_t len)
{
	snprintf(cfg, len, "balloon_pages=%lu\n", (unsigned long)rq->pages);
}

static void balloon_start(struct device_server *ds, const struct device_request *rq)
{
	virtio_balloon_request_pages(&balloon, rq->pages);
}

static int balloon_finish(const struct device_request *rq)
{
	host_balloon_summary(&balloon_host, &balloon);
	return 0;
}

const struct device_kind kind_balloon = {
	.name = "balloon",
	.virtio_id = 5,
	.synopsis = "[--balloon-pages N]",
	.help = "virtio-balloon; inflated pages are returned to the host with\n"
	        "MADV_REMOVE on the front end's memory",
	.takes = OPT_BIT(OPT_BALLOON_PAGES),
	.options_are = "--balloon-pages is",
	.check = balloon_check,
	.setup = balloon_setup,
	.record_config = balloon_record_config,
	.start = balloon_start,
	.finish = balloon_finish,
};
