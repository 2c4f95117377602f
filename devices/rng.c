/* devices/rng.c - see rng.h. */
#include "rng.h"

#include <string.h>

#include "base/log.h"
#include "devices/mutant.h"

static void rng_notify(struct virtio_device *d, unsigned q)
{
	struct virtio_rng *r = d->priv;
	struct virtqueue *vq = &d->vq[0];
	int n;
	while ((n = vq_pop(vq, &r->chain)) == 1) {
		uint8_t buf[RNG_MAX_PER_REQUEST];
		size_t want = r->chain.writable_len < sizeof(buf) ? (size_t)r->chain.writable_len : sizeof(buf);
		uint32_t written = 0;
		if (want && r->host.entropy(r->host.ctx, buf, want) == 0) {
			if (MUTANT(MUTANT_RNG_REORDERED) && want >= 2) {
				uint8_t t = buf[0];
				buf[0] = buf[1];
				buf[1] = t;
			}
			written = (uint32_t)vq_chain_write(vq, &r->chain, 0, buf, want);
		}
		r->bytes_given += written;
		if (vq_push(vq, &r->chain, written) < 0)
			break;
	}
	virtio_queue_done(d, 0);
}

const struct virtio_device_ops virtio_rng_ops = {
	.name = "rng",
	.device_id = VIRTIO_ID_RNG,
	.num_queues = 1,
	.queue_max = RNG_QUEUE_SIZE,
	.features = 0,
	.config_size = 0,
	.queue_notify = rng_notify,
};

void virtio_rng_init(struct virtio_rng *r, const struct rng_host *host)
{
	memset(r, 0, sizeof(*r));
	r->host = *host;
	r->dev.ops = &virtio_rng_ops;
	r->dev.priv = r;
}
