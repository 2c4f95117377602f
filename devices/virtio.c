/* devices/virtio.c - see virtio.h. */
#include "virtio.h"
#include "devices/mutant.h"

void virtio_queue_done(struct virtio_device *d, unsigned q)
{
	if (q >= VIRTIO_MAX_QUEUES)
		return;
	struct virtqueue *vq = &d->vq[q];
	if (vq->broken) {
		if (d->signal_needs_reset)
			d->signal_needs_reset(d);
		return;
	}
	if (vq_should_notify(vq) && d->signal_used && !MUTANT(MUTANT_USED_IRQ_MISSING))
		d->signal_used(d, q);
}

bool virtio_has_feature(const struct virtio_device *d, unsigned bit)
{
	return bit < 64 && (d->driver_features & (1ull << bit));
}
