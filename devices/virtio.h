/* devices/virtio.h - the transport-agnostic virtio device core.
 *
 * Owns: what a virtio device is, independent of the front end that carries
 * it (the vmm's virtio-mmio transport, or the vhost-user server): its
 * identity, offered features, config space, queues over a guest-memory view,
 * and the callbacks by which it asks its front end to interrupt the driver.
 * A device never knows which front end or which hypervisor backend it runs on.
 */
#ifndef DEVICES_VIRTIO_H
#define DEVICES_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtqueue.h"
#include "base/guest_mem.h"

#define VIRTIO_MAX_QUEUES 8

/* Device status bits (virtio 1.x, "Device Status Field"). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* Device IDs. */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK 19

struct virtio_device;

struct virtio_device_ops {
	const char *name;
	uint32_t device_id;
	uint16_t num_queues;
	uint16_t queue_max;  /* largest queue size the device accepts */
	uint64_t features;   /* device-specific features offered (transport adds VERSION_1 etc.) */
	uint32_t config_size;
	/* Config space access; off + len <= config_size is guaranteed by the caller. */
	void (*config_read)(struct virtio_device *d, uint32_t off, void *buf, uint32_t len);
	void (*config_write)(struct virtio_device *d, uint32_t off, const void *buf, uint32_t len);
	/* The driver set DRIVER_OK: queues are initialised. Non-zero refuses. */
	int (*activate)(struct virtio_device *d);
	/* The driver made buffers available on queue q. */
	void (*queue_notify)(struct virtio_device *d, unsigned q);
	/* The driver reset the device: forget everything negotiated. */
	void (*reset)(struct virtio_device *d);
};

struct virtio_device {
	const struct virtio_device_ops *ops;
	void *priv;                  /* the device's own state */
	const struct guest_mem *mem; /* the front end's view of guest memory */
	uint64_t driver_features;    /* accepted by FEATURES_OK */
	struct virtqueue vq[VIRTIO_MAX_QUEUES];
	bool active;                 /* DRIVER_OK reached and activate succeeded */

	/* Set by the front end. */
	void *frontend;
	void (*signal_used)(struct virtio_device *d, unsigned q);
	void (*signal_config)(struct virtio_device *d);
	void (*signal_needs_reset)(struct virtio_device *d);
};

/* After a device pushed used buffers on queue q: interrupt the driver if the
 * queue's suppression rules allow; a broken queue asks for a reset instead. */
void virtio_queue_done(struct virtio_device *d, unsigned q);
bool virtio_has_feature(const struct virtio_device *d, unsigned bit);

#endif
