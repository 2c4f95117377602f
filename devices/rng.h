/* devices/rng.h - virtio-rng (virtio entropy device, ID 4).
 *
 * Owns: filling every device-writable buffer the driver offers on its one
 * request queue with entropy. The bytes come from host->entropy and nowhere
 * else, so the vmm's determinism layer sees (and a replay can supply) every
 * byte the guest receives.
 */
#ifndef DEVICES_RNG_H
#define DEVICES_RNG_H

#include <stddef.h>

#include "devices/virtio.h"

#define RNG_QUEUE_SIZE 256
/* Entropy handed out per request at most: bounds what one chain can ask for. */
#define RNG_MAX_PER_REQUEST 4096

struct rng_host {
	void *ctx;
	/* Fill buf with len random bytes; 0 or -errno. */
	int (*entropy)(void *ctx, void *buf, size_t len);
};

struct virtio_rng {
	struct virtio_device dev;
	struct rng_host host;
	unsigned long long bytes_given;
	struct vq_chain chain; /* scratch for the chain being served */
};

void virtio_rng_init(struct virtio_rng *r, const struct rng_host *host);
extern const struct virtio_device_ops virtio_rng_ops;

#endif
