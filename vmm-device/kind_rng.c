/* vmm-device/kind_rng.c - virtio-rng served over vhost-user: entropy from
 * getrandom(2) through host/entropy.c. */
#include "devices/rng.h"
#include "host/entropy.h"
#include "kinds.h"

static struct virtio_rng rng;

static int rng_setup(struct device_server *ds, const struct device_request *rq,
                     struct virtio_device **dev)
{
	struct rng_host h = host_entropy(&ds->hev);
	virtio_rng_init(&rng, &h);
	*dev = &rng.dev;
	return 0;
}

const struct device_kind kind_rng = {
	.name = "rng",
	.virtio_id = 4,
	.help = "virtio-rng; entropy from getrandom(2)",
	.setup = rng_setup,
};
