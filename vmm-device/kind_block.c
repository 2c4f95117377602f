/* vmm-device/kind_block.c - virtio-blk served over vhost-user: the image
 * file (--image, --mode, --id) through host/block.c; an rw image is
 * fsync'd before the program says it is done. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "devices/block.h"
#include "host/block.h"
#include "kinds.h"
#include "usage.h"

static struct virtio_block blk;
static int img_fd = -1;
static const char *serial; /* --id, or the image's file name */

static int block_check(struct device_request *rq)
{
	if (!rq->image)
		return usage_error("%s", "--device block needs --image FILE");
	const char *m = rq->mode_arg;
	if (!m || strcmp(m, "rw") == 0)
		rq->mode = BLOCK_DEV_READ_WRITE;
	else if (strcmp(m, "ro") == 0)
		rq->mode = BLOCK_DEV_READ_ONLY;
	else if (strcmp(m, "volatile") == 0)
		rq->mode = BLOCK_DEV_VOLATILE;
	else
		return usage_error("unknown --mode '%s' (rw, ro or volatile)", m);
	return 0;
}

static int block_setup(struct device_server *ds, const struct device_request *rq,
                       struct virtio_device **dev)
{
	/* Only rw needs write access: ro and volatile must not be able to
	 * change the image even by mistake. */
	img_fd = open(rq->image, (rq->mode == BLOCK_DEV_READ_WRITE ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (img_fd < 0) {
		fprintf(stderr, "vmm_device: cannot open image '%s': %s\n", rq->image,
		        strerror(errno));
		return EXIT_RUNTIME;
	}
	serial = rq->id;
	if (!serial) {
		const char *slash = strrchr(rq->image, '/');
		serial = slash ? slash + 1 : rq->image;
	}
	struct block_io io = host_block_io(&ds->hev);
	int r = virtio_block_init(&blk, img_fd, rq->mode, serial, &io);
	if (r < 0) {
		fprintf(stderr, "vmm_device: image '%s': %s\n", rq->image,
		        r == -EINVAL ? "not a regular file or block device" : strerror(-r));
		close(img_fd);
		return EXIT_RUNTIME;
	}
	*dev = &blk.dev;
	return 0;
}

/* A device-level replay rebuilds the disk's geometry and serial from these. */
static void block_record_config(const struct device_request *rq, char *cfg, size_t len)
{
	struct stat st;
	uint64_t bytes = fstat(img_fd, &st) == 0 ? (S_ISBLK(st.st_mode)
	                 ? (uint64_t)lseek(img_fd, 0, SEEK_END) : (uint64_t)st.st_size) : 0;
	snprintf(cfg, len, "block_mode=%s\nblock_id=%s\nblock_bytes=%llu\n",
	         rq->mode == BLOCK_DEV_READ_WRITE ? "rw"
	         : rq->mode == BLOCK_DEV_READ_ONLY ? "ro" : "volatile",
	         serial, (unsigned long long)bytes);
}

static int block_finish(const struct device_request *rq)
{
	int status = 0;
	/* Whatever the guest wrote reaches the disk before we say we are done. */
	if (rq->mode == BLOCK_DEV_READ_WRITE && fsync(img_fd) < 0) {
		fprintf(stderr, "vmm_device: fsync '%s': %s\n", rq->image, strerror(errno));
		status = EXIT_RUNTIME;
	}
	log_info("block: %llu reads, %llu writes, %llu flushes, %llu errors",
	         (unsigned long long)blk.reads, (unsigned long long)blk.writes,
	         (unsigned long long)blk.flushes, (unsigned long long)blk.errors);
	virtio_block_destroy(&blk);
	close(img_fd);
	return status;
}

const struct device_kind kind_block = {
	.name = "block",
	.virtio_id = 2,
	.synopsis = "--image FILE [--mode MODE] [--id ID]",
	.help = "virtio-blk over --image FILE (a regular file or block device)",
	.takes = OPT_BIT(OPT_IMAGE) | OPT_BIT(OPT_MODE) | OPT_BIT(OPT_ID),
	.options_are = "--image, --mode and --id are",
	.check = block_check,
	.setup = block_setup,
	.record_config = block_record_config,
	.finish = block_finish,
};
