/* vmm/virtio_mmio.c - see virtio_mmio.h. Register offsets from the virtio 1.x
 * specification, section "MMIO Device Register Layout". */
#include "virtio_mmio.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

enum {
	R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008, R_VENDOR_ID = 0x00c,
	R_DEVICE_FEATURES = 0x010, R_DEVICE_FEATURES_SEL = 0x014,
	R_DRIVER_FEATURES = 0x020, R_DRIVER_FEATURES_SEL = 0x024,
	R_QUEUE_SEL = 0x030, R_QUEUE_NUM_MAX = 0x034, R_QUEUE_NUM = 0x038,
	R_QUEUE_READY = 0x044, R_QUEUE_NOTIFY = 0x050,
	R_INTERRUPT_STATUS = 0x060, R_INTERRUPT_ACK = 0x064, R_STATUS = 0x070,
	R_QUEUE_DESC_LOW = 0x080, R_QUEUE_DESC_HIGH = 0x084,
	R_QUEUE_DRIVER_LOW = 0x090, R_QUEUE_DRIVER_HIGH = 0x094,
	R_QUEUE_DEVICE_LOW = 0x0a0, R_QUEUE_DEVICE_HIGH = 0x0a4,
	R_SHM_SEL = 0x0ac, R_SHM_LEN_LOW = 0x0b0, R_SHM_LEN_HIGH = 0x0b4,
	R_SHM_BASE_LOW = 0x0b8, R_SHM_BASE_HIGH = 0x0bc,
	R_CONFIG_GENERATION = 0x0fc,
};

static void warn_once(struct virtio_mmio *m, const char *what, uint64_t off)
{
	if (m->warned)
		return;
	m->warned = true;
	log_warn("virtio-mmio %s: %s (offset 0x%llx); further complaints suppressed",
	         m->dev->ops->name, what, (unsigned long long)off);
}

static void update_line(struct virtio_mmio *m)
{
	int level = m->interrupt_status != 0;
	if (level != m->line) {
		m->line = level;
		if (m->set_irq)
			m->set_irq(m->irq_ctx, level);
	}
}

static void raise(struct virtio_mmio *m, uint32_t bits)
{
	m->interrupt_status |= bits;
	update_line(m);
}

static void signal_used(struct virtio_device *d, unsigned q)
{
	raise(d->frontend, VIRTIO_MMIO_INT_VRING);
}

static void signal_config(struct virtio_device *d)
{
	struct virtio_mmio *m = d->frontend;
	m->config_generation++;
	raise(m, VIRTIO_MMIO_INT_CONFIG);
}

static void signal_needs_reset(struct virtio_device *d)
{
	struct virtio_mmio *m = d->frontend;
	if (m->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return;
	m->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	raise(m, VIRTIO_MMIO_INT_CONFIG);
}

uint64_t virtio_mmio_offered_features(const struct virtio_mmio *m)
{
	return m->dev->ops->features | (1ull << VIRTIO_F_VERSION_1) |
	       (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_F_EVENT_IDX);
}

void virtio_mmio_init(struct virtio_mmio *m, struct virtio_device *dev,
                      const struct guest_mem *mem, void (*set_irq)(void *ctx, int level),
                      void *irq_ctx)
{
	memset(m, 0, sizeof(*m));
	m->dev = dev;
	m->set_irq = set_irq;
	m->irq_ctx = irq_ctx;
	dev->mem = mem;
	dev->frontend = m;
	dev->signal_used = signal_used;
	dev->signal_config = signal_config;
	dev->signal_needs_reset = signal_needs_reset;
}

static void reset(struct virtio_mmio *m)
{
	struct virtio_device *d = m->dev;
	if (d->ops->reset)
		d->ops->reset(d);
	d->active = false;
	d->driver_features = 0;
	memset(d->vq, 0, sizeof(d->vq));
	m->status = 0;
	m->device_features_sel = m->driver_features_sel = 0;
	m->driver_features = 0;
	m->queue_sel = 0;
	memset(m->q, 0, sizeof(m->q));
	m->interrupt_status = 0;
	update_line(m);
}

static struct virtio_mmio_queue *selected(struct virtio_mmio *m)
{
	if (m->queue_sel >= m->dev->ops->num_queues)
		return NULL;
	return &m->q[m->queue_sel];
}

static void set_status(struct virtio_mmio *m, uint32_t v)
{
	struct virtio_device *d = m->dev;
	if (v == 0) {
		reset(m);
		return;
	}
	/* Bits only accumulate; clearing one without a reset is a driver bug. */
	uint32_t added = v & ~m->status;
	if ((m->status & ~v) & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
		warn_once(m, "driver cleared status bits without a reset", R_STATUS);
		return;
	}
	if (added & VIRTIO_STATUS_FEATURES_OK) {
		uint64_t offered = virtio_mmio_offered_features(m);
		if ((m->driver_features & ~offered) ||
		    !(m->driver_features & (1ull << VIRTIO_F_VERSION_1))) {
			/* Leave FEATURES_OK clear: the driver reads it back and gives up. */
			warn_once(m, "driver accepted features the device did not offer, or not VERSION_1",
			          R_STATUS);
			v &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
		} else {
			d->driver_features = m->driver_features;
		}
	}
	if ((added & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK)) {
		warn_once(m, "DRIVER_OK without FEATURES_OK", R_STATUS);
		v &= ~(uint32_t)VIRTIO_STATUS_DRIVER_OK;
	}
	m->status = v | (m->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !d->active) {
		if (d->ops->activate && d->ops->activate(d) != 0) {
			signal_needs_reset(d);
			return;
		}
		d->active = true;
		for (unsigned q = 0; q < d->ops->num_queues && q < VIRTIO_MAX_QUEUES; q++) {
			if (m->q[q].notify_pending && m->q[q].ready && d->ops->queue_notify) {
				m->q[q].notify_pending = false;
				d->ops->queue_notify(d, q);
			}
		}
	}
}

static void queue_ready(struct virtio_mmio *m, struct virtio_mmio_queue *q, uint32_t v)
{
	struct virtio_device *d = m->dev;
	if (v == 0) {
		q->ready = false;
		memset(&d->vq[m->queue_sel], 0, sizeof(d->vq[0]));
		return;
	}
	if (q->ready)
		return;
	if (!(m->status & VIRTIO_STATUS_FEATURES_OK)) {
		warn_once(m, "queue made ready before FEATURES_OK", R_QUEUE_READY);
		return;
	}
	struct virtqueue *vq = &d->vq[m->queue_sel];
	if (q->num > d->ops->queue_max ||
	    vq_init(vq, d->mem, q->num, q->desc, q->driver, q->device, m->driver_features) < 0) {
		log_warn("virtio-mmio %s: queue %u refused: %s", d->ops->name, m->queue_sel,
		         q->num > d->ops->queue_max ? "size above QueueNumMax" : vq->error);
		memset(vq, 0, sizeof(*vq));
		signal_needs_reset(d);
		return;
	}
	q->ready = true;
}

static bool queue_config_locked(struct virtio_mmio *m, struct virtio_mmio_queue *q, uint64_t off)
{
	if (!q) {
		warn_once(m, "queue register written with QueueSel out of range", off);
		return true;
	}
	if (q->ready || (m->status & VIRTIO_STATUS_DRIVER_OK)) {
		warn_once(m, "queue size or address changed on a live queue: refused", off);
		return true;
	}
	return false;
}

static void set_low(uint64_t *r, uint32_t v) { *r = (*r & ~0xffffffffull) | v; }
static void set_high(uint64_t *r, uint32_t v) { *r = (*r & 0xffffffffull) | ((uint64_t)v << 32); }

static uint64_t mmio_read(void *ctx, uint64_t off, unsigned size)
{
	struct virtio_mmio *m = ctx;
	struct virtio_device *d = m->dev;
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t coff = off - VIRTIO_MMIO_CONFIG, v = 0;
		if (coff + size > d->ops->config_size || !d->ops->config_read) {
			warn_once(m, "config read beyond the device's config space", off);
			return 0;
		}
		/* Exit sizes are 1, 2, 4 or 8 (the backends' contract): the read
		 * lands inside v. */
		assert(size <= sizeof(v));
		d->ops->config_read(d, (uint32_t)coff, &v, size);
		return v;
	}
	if (size != 4 || off % 4) {
		warn_once(m, "register read not 32 bits wide and aligned", off);
		return 0;
	}
	struct virtio_mmio_queue *q = selected(m);
	uint64_t features = virtio_mmio_offered_features(m);
	switch (off) {
	case R_MAGIC: return VIRTIO_MMIO_MAGIC;
	case R_VERSION: return VIRTIO_MMIO_VERSION;
	case R_DEVICE_ID: return d->ops->device_id;
	case R_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case R_DEVICE_FEATURES:
		return m->device_features_sel == 0 ? (uint32_t)features
		     : m->device_features_sel == 1 ? (uint32_t)(features >> 32) : 0;
	case R_QUEUE_NUM_MAX: return q ? d->ops->queue_max : 0;
	case R_QUEUE_READY: return q ? q->ready : 0;
	case R_INTERRUPT_STATUS: return m->interrupt_status;
	case R_STATUS: return m->status;
	case R_CONFIG_GENERATION: return m->config_generation;
	case R_SHM_LEN_LOW: case R_SHM_LEN_HIGH: case R_SHM_BASE_LOW: case R_SHM_BASE_HIGH:
		return 0xffffffff; /* no shared memory regions: length -1 says "none" */
	default:
		warn_once(m, "read of a write-only or unknown register", off);
		return 0;
	}
}

static void mmio_write(void *ctx, uint64_t off, unsigned size, uint64_t value)
{
	struct virtio_mmio *m = ctx;
	struct virtio_device *d = m->dev;
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t coff = off - VIRTIO_MMIO_CONFIG;
		if (coff + size > d->ops->config_size || !d->ops->config_write) {
			warn_once(m, "config write beyond the device's config space or read-only", off);
			return;
		}
		assert(size <= sizeof(value)); /* as for config reads */
		d->ops->config_write(d, (uint32_t)coff, &value, size);
		return;
	}
	if (size != 4 || off % 4) {
		warn_once(m, "register write not 32 bits wide and aligned", off);
		return;
	}
	uint32_t v = (uint32_t)value;
	struct virtio_mmio_queue *q = selected(m);
	switch (off) {
	case R_DEVICE_FEATURES_SEL: m->device_features_sel = v; break;
	case R_DRIVER_FEATURES_SEL: m->driver_features_sel = v; break;
	case R_DRIVER_FEATURES:
		if (m->status & VIRTIO_STATUS_FEATURES_OK) {
			warn_once(m, "features changed after FEATURES_OK: refused", off);
			break;
		}
		if (m->driver_features_sel == 0)
			set_low(&m->driver_features, v);
		else if (m->driver_features_sel == 1)
			set_high(&m->driver_features, v);
		break;
	case R_QUEUE_SEL: m->queue_sel = v; break;
	case R_QUEUE_NUM:
		if (!queue_config_locked(m, q, off))
			q->num = (uint16_t)(v > 0xffff ? 0 : v);
		break;
	case R_QUEUE_DESC_LOW: if (!queue_config_locked(m, q, off)) set_low(&q->desc, v); break;
	case R_QUEUE_DESC_HIGH: if (!queue_config_locked(m, q, off)) set_high(&q->desc, v); break;
	case R_QUEUE_DRIVER_LOW: if (!queue_config_locked(m, q, off)) set_low(&q->driver, v); break;
	case R_QUEUE_DRIVER_HIGH: if (!queue_config_locked(m, q, off)) set_high(&q->driver, v); break;
	case R_QUEUE_DEVICE_LOW: if (!queue_config_locked(m, q, off)) set_low(&q->device, v); break;
	case R_QUEUE_DEVICE_HIGH: if (!queue_config_locked(m, q, off)) set_high(&q->device, v); break;
	case R_QUEUE_READY:
		if (!q) {
			warn_once(m, "QueueReady with QueueSel out of range", off);
			break;
		}
		if (v == 0 && (m->status & VIRTIO_STATUS_DRIVER_OK)) {
			warn_once(m, "queue disabled while the driver is OK: refused", off);
			break;
		}
		queue_ready(m, q, v);
		break;
	case R_QUEUE_NOTIFY:
		if (v >= d->ops->num_queues || !m->q[v].ready) {
			warn_once(m, "notify of a queue that is not live", off);
			break;
		}
		if (!d->active) {
			/* Linux's balloon driver queues its first stats buffer and kicks
			 * before DRIVER_OK. Keep the kick and deliver it on activation
			 * rather than lose the buffer for good. */
			m->q[v].notify_pending = true;
			break;
		}
		if (d->ops->queue_notify)
			d->ops->queue_notify(d, v);
		break;
	case R_INTERRUPT_ACK:
		m->interrupt_status &= ~v;
		update_line(m);
		break;
	case R_STATUS: set_status(m, v); break;
	case R_SHM_SEL: break;
	default:
		warn_once(m, "write to a read-only or unknown register", off);
		break;
	}
}

/* The register names of the specification, for diagnostics. */
static const char *reg_name(uint64_t off)
{
	switch (off) {
	case R_MAGIC: return "MagicValue";
	case R_VERSION: return "Version";
	case R_DEVICE_ID: return "DeviceID";
	case R_VENDOR_ID: return "VendorID";
	case R_DEVICE_FEATURES: return "DeviceFeatures";
	case R_DEVICE_FEATURES_SEL: return "DeviceFeaturesSel";
	case R_DRIVER_FEATURES: return "DriverFeatures";
	case R_DRIVER_FEATURES_SEL: return "DriverFeaturesSel";
	case R_QUEUE_SEL: return "QueueSel";
	case R_QUEUE_NUM_MAX: return "QueueNumMax";
	case R_QUEUE_NUM: return "QueueNum";
	case R_QUEUE_READY: return "QueueReady";
	case R_QUEUE_NOTIFY: return "QueueNotify";
	case R_INTERRUPT_STATUS: return "InterruptStatus";
	case R_INTERRUPT_ACK: return "InterruptACK";
	case R_STATUS: return "Status";
	case R_QUEUE_DESC_LOW: return "QueueDescLow";
	case R_QUEUE_DESC_HIGH: return "QueueDescHigh";
	case R_QUEUE_DRIVER_LOW: return "QueueDriverLow";
	case R_QUEUE_DRIVER_HIGH: return "QueueDriverHigh";
	case R_QUEUE_DEVICE_LOW: return "QueueDeviceLow";
	case R_QUEUE_DEVICE_HIGH: return "QueueDeviceHigh";
	case R_SHM_SEL: return "SHMSel";
	case R_SHM_LEN_LOW: return "SHMLenLow";
	case R_SHM_LEN_HIGH: return "SHMLenHigh";
	case R_SHM_BASE_LOW: return "SHMBaseLow";
	case R_SHM_BASE_HIGH: return "SHMBaseHigh";
	case R_CONFIG_GENERATION: return "ConfigGeneration";
	default: return NULL;
	}
}

/* Every register is either read-only or write-only: one name per offset. */
static bool mmio_describe_reg(void *ctx, uint64_t off, bool write, char *buf, size_t len)
{
	if (off >= VIRTIO_MMIO_CONFIG) {
		snprintf(buf, len, "config space +0x%" PRIx64, off - VIRTIO_MMIO_CONFIG);
		return true;
	}
	const char *r = reg_name(off);
	if (r)
		snprintf(buf, len, "register %s", r);
	return r != NULL;
}

const struct bus_device_ops virtio_mmio_bus_ops = {
	.read = mmio_read,
	.write = mmio_write,
	.describe_reg = mmio_describe_reg,
};
