/* devices/block.h - virtio-blk (ID 2) over a raw image file.
 *
 * Owns: request parsing (header, data, status byte), the three BlockSpec
 * modes and what durability means:
 *   READ_WRITE      reads and writes go to the file; FLUSH is fdatasync, and
 *                   the request completes only after it returned.
 *   READ_ONLY       VIRTIO_BLK_F_RO is offered; writes fail VIRTIO_BLK_S_IOERR.
 *   VOLATILE_WRITE  writes go to a private in-memory overlay, never to the
 *                   file; reads see the overlay over the file.
 * GET_ID returns the BlockSpec id. Config space: capacity, seg_max, blk_size.
 * A malformed request (short header, no status byte, data not a multiple of
 * 512, range beyond the disk) completes with IOERR or UNSUPP and never
 * touches the file outside the disk.
 * All file I/O goes through struct block_io so the determinism layer sees it.
 */
#ifndef DEVICES_BLOCK_H
#define DEVICES_BLOCK_H

#include <stdint.h>
#include <sys/types.h>

#include "devices/virtio.h"

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_ID_BYTES 20
#define BLOCK_SECTOR 512
#define BLOCK_QUEUE_SIZE 256
#define BLOCK_SEG_MAX 126
/* Largest single request we serve (bounds the bounce buffer). */
#define BLOCK_MAX_REQUEST (4u << 20)

enum block_dev_mode { BLOCK_DEV_READ_WRITE = 0, BLOCK_DEV_READ_ONLY = 1, BLOCK_DEV_VOLATILE = 2 };

struct block_io {
	void *ctx;
	ssize_t (*pread)(void *ctx, int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t len, off_t off);
	int (*fdatasync)(void *ctx, int fd);
};

struct block_overlay; /* VOLATILE_WRITE's private copy of written sectors */

struct virtio_block {
	struct virtio_device dev;
	int fd;
	enum block_dev_mode mode;
	uint64_t capacity; /* sectors */
	char id[VIRTIO_BLK_ID_BYTES + 1];
	struct block_io io;
	struct block_overlay *overlay;
	uint8_t *bounce;
	uint64_t reads, writes, flushes, errors;
	struct vq_chain chain;
};

/* Plain pread/pwrite/fdatasync on the fd. */
extern const struct block_io block_io_direct;

/* fd stays owned by the caller. Returns 0 or -errno (fd not a regular file or
 * block device, or unreadable). */
int virtio_block_init(struct virtio_block *b, int fd, enum block_dev_mode mode,
                      const char *id, const struct block_io *io);
void virtio_block_destroy(struct virtio_block *b);
extern const struct virtio_device_ops virtio_block_ops;
extern const struct virtio_device_ops virtio_block_ro_ops;

#endif
