/* fuzz/virtio_devices.c - queue memory and a notification sequence through
 * the virtio-mmio transport into a device core (virtio-rng, or virtio-blk in
 * each BlockSpec mode over a small memfd disk), set up the way a driver does
 * (tests/lib/vdriver.h), against the model.
 *
 * Input: byte 0 = device (0 rng, 1 blk read-write, 2 blk read-only, 3 blk
 * volatile), byte 1 = features (bit 0 indirect, bit 1 event_idx), byte 2 = n
 * notification bytes, then those bytes (each: avail->idx += low 3 bits, then
 * QUEUE_NOTIFY), then guest RAM from the ring area of queue 0 (desc at
 * 0x10000, avail at 0x11000, used at 0x12000, size 16) onwards.
 * Oracle: no crash; every access goes through guest_mem's bounds checks;
 * the chains the device returns are, in order, the chains the model
 * consumes, each with no more bytes written than it has writable; a queue
 * the model stops leaves the device in DEVICE_NEEDS_RESET. Comparison stops
 * (the rest still runs) once a device writes where the model reads rings
 * from, since the model does not play the device's data writes. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/block.h"
#include "devices/rng.h"
#include "model/virtqueue_model.h"
#include "tests/lib/vdriver.h"
#include "base/log.h"

#define RAM 0x110000u /* 1 MiB + 64 KiB: rings low, heap from 1 MiB */
#define DESC 0x10000u
#define AVAIL 0x11000u
#define USED 0x12000u

static struct vdriver drv;
static struct virtio_rng rng;
static struct virtio_block blk;
static struct mv_chain mc;
static uint8_t *model_ram;
static int disk = -1;

static int entropy(void *ctx, void *buf, size_t len)
{
	memset(buf, 0xa5, len);
	return 0;
}

void fuzz_init(void)
{
	log_set_level(LOG_ERROR);
	model_ram = malloc(RAM);
	disk = memfd_create("disk", MFD_CLOEXEC);
	if (!model_ram || disk < 0 || ftruncate(disk, 64 * 512) != 0)
		abort();
}

static bool overlaps_rings(const struct mv_chain *c)
{
	for (unsigned i = 0; i < c->nbufs; i++)
		if (c->bufs[i].writable && c->bufs[i].gpa < 0x100000u)
			return true; /* rings and indirect tables live below the heap */
	return false;
}

void fuzz_one(const uint8_t *data, size_t len)
{
	if (len < 3)
		return;
	unsigned devsel = data[0] % 4;
	uint64_t feat = (data[1] & 1 ? 1ull << VIRTIO_F_INDIRECT_DESC : 0) |
	                (data[1] & 2 ? 1ull << VIRTIO_F_EVENT_IDX : 0);
	size_t nn = data[2];
	if (3 + nn > len)
		nn = len - 3;
	const uint8_t *notes = data + 3;
	const uint8_t *img = data + 3 + nn;
	size_t nimg = len - 3 - nn;
	if (nimg > RAM - DESC)
		nimg = RAM - DESC;

	struct virtio_device *dev;
	if (devsel == 0) {
		struct rng_host h = { .entropy = entropy };
		virtio_rng_init(&rng, &h);
		dev = &rng.dev;
	} else {
		if (ftruncate(disk, 0) != 0 || ftruncate(disk, 64 * 512) != 0)
			abort();
		if (virtio_block_init(&blk, disk, (enum block_dev_mode)(devsel - 1), "fuzz", NULL) != 0)
			abort();
		dev = &blk.dev;
	}
	uint32_t st = vd_start_mem(&drv, dev, feat, 1, RAM);
	if (!(st & VIRTIO_STATUS_DRIVER_OK))
		fuzz_fail("device %u did not reach DRIVER_OK (status 0x%x)", devsel, st);
	/* The driver's rings and data, as the input says; avail->idx starts at 0. */
	gm_write(&drv.mem, DESC, img, nimg);
	uint16_t zero = 0;
	gm_write(&drv.mem, AVAIL + 2, &zero, 2);
	gm_read(&drv.mem, 0, model_ram, RAM);

	struct mv_mem mm = { .n = 1, .r = { { 0, RAM, model_ram } } };
	struct mv_queue q;
	if (!mv_init(&q, &mm, VD_QSZ, DESC, AVAIL, USED, feat & (1ull << VIRTIO_F_INDIRECT_DESC),
	             feat & (1ull << VIRTIO_F_EVENT_IDX)))
		fuzz_fail("model refuses the driver's ring layout");
	bool comparing = true;
	uint16_t seen = 0;
	for (size_t i = 0; i < nn; i++) {
		uint16_t idx;
		gm_read(&drv.mem, AVAIL + 2, &idx, 2);
		idx = (uint16_t)(idx + (notes[i] & 7));
		gm_write(&drv.mem, AVAIL + 2, &idx, 2);
		if (comparing)
			memcpy(model_ram + AVAIL + 2, &idx, 2);
		vd_write32(&drv, 0x50, 0); /* QueueNotify */
		if (!comparing)
			continue;
		/* The model consumes what is available, returning each chain. */
		for (;;) {
			enum mv_pop r = mv_pop(&q, &mc);
			if (r != MV_POP_CHAIN)
				break;
			/* A chain whose writable buffers lie over the rings lets the device
			 * rewrite the rings while it serves it (legal for a hostile driver:
			 * the walker then stops the queue with a defined error). From there
			 * the model's rings are not the device's: stop comparing, keep
			 * fuzzing for crashes. */
			if (overlaps_rings(&mc)) {
				comparing = false;
				break;
			}
			uint16_t used_idx;
			gm_read(&drv.mem, USED + 2, &used_idx, 2);
			if (seen == used_idx)
				fuzz_fail("notification %zu: the model consumes head %u, the device returned "
				          "nothing more (its queue: %s)", i, mc.head,
				          dev->vq[0].broken ? dev->vq[0].error : "live");
			uint32_t elem[2];
			gm_read(&drv.mem, USED + 4 + 8ull * (seen % VD_QSZ), elem, 8);
			if (comparing && (elem[0] != mc.head || elem[1] > mc.writable_len))
				fuzz_fail("notification %zu: device returned head %u with %u bytes, model "
				          "consumed head %u with %llu writable", i, elem[0], elem[1], mc.head,
				          (unsigned long long)mc.writable_len);
			mv_push(&q, &mc, elem[1] <= mc.writable_len ? elem[1] : 0);
			seen++;
		}
		if (!comparing)
			continue;
		uint16_t used_idx;
		gm_read(&drv.mem, USED + 2, &used_idx, 2);
		if (used_idx != seen)
			fuzz_fail("notification %zu: device returned %u chains, model consumed %u", i,
			          used_idx, seen);
		uint32_t status = vd_read32(&drv, 0x70);
		if (q.stopped != !!(status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
			fuzz_fail("notification %zu: model queue %s (%s), device status 0x%x", i,
			          q.stopped ? "stopped" : "working", mv_error_name(q.why), status);
		/* The device's data writes are the model's from here on. */
		gm_read(&drv.mem, 0, model_ram, RAM);
	}
	vd_stop(&drv);
	if (devsel != 0)
		virtio_block_destroy(&blk);
}
