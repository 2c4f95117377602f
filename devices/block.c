/* devices/block.c - see block.h. Request layout from the virtio 1.x spec,
 * "Block Device": struct {le32 type; le32 reserved; le64 sector;} header in
 * the readable part, data, then one status byte as the last writable byte. */
#include "block.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "devices/mutant.h"

/* ---- VOLATILE_WRITE overlay: 64 KiB chunks, allocated on first write ---- */

#define CHUNK_SECTORS 128
#define CHUNK_BYTES (CHUNK_SECTORS * BLOCK_SECTOR)

struct overlay_chunk {
	uint8_t written[CHUNK_SECTORS / 8]; /* which sectors the overlay holds */
	uint8_t data[CHUNK_BYTES];
};

struct block_overlay {
	uint64_t nchunks;
	struct overlay_chunk **chunks;
};

static struct block_overlay *overlay_new(uint64_t sectors)
{
	struct block_overlay *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->nchunks = (sectors + CHUNK_SECTORS - 1) / CHUNK_SECTORS;
	o->chunks = calloc(o->nchunks ? o->nchunks : 1, sizeof(*o->chunks));
	if (!o->chunks) {
		free(o);
		return NULL;
	}
	return o;
}

static void overlay_free(struct block_overlay *o)
{
	if (!o)
		return;
	for (uint64_t i = 0; i < o->nchunks; i++)
		free(o->chunks[i]);
	free(o->chunks);
	free(o);
}

static int overlay_write(struct block_overlay *o, uint64_t sector, const uint8_t *buf,
                         uint64_t nsec)
{
	for (uint64_t s = 0; s < nsec; s++) {
		uint64_t abs = sector + s, ci = abs / CHUNK_SECTORS, si = abs % CHUNK_SECTORS;
		if (!o->chunks[ci] && !(o->chunks[ci] = calloc(1, sizeof(struct overlay_chunk))))
			return -ENOMEM;
		struct overlay_chunk *c = o->chunks[ci];
		memcpy(c->data + si * BLOCK_SECTOR, buf + s * BLOCK_SECTOR, BLOCK_SECTOR);
		c->written[si / 8] |= (uint8_t)(1u << (si % 8));
	}
	return 0;
}

/* Replace sectors of buf (already read from the file) that the overlay holds. */
static void overlay_apply(const struct block_overlay *o, uint64_t sector, uint8_t *buf,
                          uint64_t nsec)
{
	for (uint64_t s = 0; s < nsec; s++) {
		uint64_t abs = sector + s, ci = abs / CHUNK_SECTORS, si = abs % CHUNK_SECTORS;
		const struct overlay_chunk *c = o->chunks[ci];
		if (c && (c->written[si / 8] & (1u << (si % 8))))
			memcpy(buf + s * BLOCK_SECTOR, c->data + si * BLOCK_SECTOR, BLOCK_SECTOR);
	}
}

/* ---- direct file I/O ---- */

static ssize_t direct_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off);
}

static ssize_t direct_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off)
{
	return pwrite(fd, buf, len, off);
}

static int direct_fdatasync(void *ctx, int fd)
{
	return fdatasync(fd) == 0 ? 0 : -errno;
}

const struct block_io block_io_direct = { NULL, direct_pread, direct_pwrite, direct_fdatasync };

static int read_full(struct virtio_block *b, uint8_t *buf, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = b->io.pread(b->io.ctx, b->fd, buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			/* The file shrank under us: what is not there reads as zeros. */
			memset(buf + done, 0, len - done);
			return 0;
		}
		done += (size_t)n;
	}
	return 0;
}

static int write_full(struct virtio_block *b, const uint8_t *buf, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = b->io.pwrite(b->io.ctx, b->fd, buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* ---- requests ---- */

struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static uint8_t do_rw(struct virtio_block *b, struct vq_chain *c, const struct blk_req_hdr *h,
                     uint32_t *written)
{
	struct virtqueue *vq = &b->dev.vq[0];
	bool in = h->type == VIRTIO_BLK_T_IN;
	/* Data: the readable bytes after the header (OUT), or the writable bytes
	 * before the status byte (IN). */
	uint64_t len = in ? c->writable_len - 1 : c->readable_len - sizeof(*h);
	if (len % BLOCK_SECTOR || len > BLOCK_MAX_REQUEST)
		return VIRTIO_BLK_S_IOERR;
	uint64_t nsec = len / BLOCK_SECTOR;
	if (h->sector > b->capacity || nsec > b->capacity - h->sector)
		return VIRTIO_BLK_S_IOERR;
	off_t off = (off_t)(h->sector * BLOCK_SECTOR);
	if (in) {
		if (len && read_full(b, b->bounce, len, off) < 0)
			return VIRTIO_BLK_S_IOERR;
		if (b->overlay)
			overlay_apply(b->overlay, h->sector, b->bounce, nsec);
		*written = (uint32_t)vq_chain_write(vq, c, 0, b->bounce, len);
		b->reads++;
		return VIRTIO_BLK_S_OK;
	}
	if (b->mode == BLOCK_DEV_READ_ONLY)
		return VIRTIO_BLK_S_IOERR;
	if (vq_chain_read(vq, c, sizeof(*h), b->bounce, len) != len)
		return VIRTIO_BLK_S_IOERR;
	int r = b->mode == BLOCK_DEV_VOLATILE ? overlay_write(b->overlay, h->sector, b->bounce, nsec)
	                                      : write_full(b, b->bounce, len, off);
	b->writes++;
	return r < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

static uint8_t handle(struct virtio_block *b, struct vq_chain *c, uint32_t *written)
{
	struct virtqueue *vq = &b->dev.vq[0];
	struct blk_req_hdr h;
	if (c->readable_len < sizeof(h) || vq_chain_read(vq, c, 0, &h, sizeof(h)) != sizeof(h))
		return VIRTIO_BLK_S_IOERR;
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return do_rw(b, c, &h, written);
	case VIRTIO_BLK_T_FLUSH:
		b->flushes++;
		if (b->mode != BLOCK_DEV_READ_WRITE)
			return VIRTIO_BLK_S_OK; /* nothing of ours is on the file to make durable */
		return b->io.fdatasync(b->io.ctx, b->fd) == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_GET_ID: {
		char id[VIRTIO_BLK_ID_BYTES] = { 0 };
		memcpy(id, b->id, strnlen(b->id, VIRTIO_BLK_ID_BYTES));
		uint64_t n = c->writable_len - 1 < VIRTIO_BLK_ID_BYTES ? c->writable_len - 1
		                                                       : VIRTIO_BLK_ID_BYTES;
		*written = (uint32_t)vq_chain_write(vq, c, 0, id, n);
		return VIRTIO_BLK_S_OK;
	}
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

static void block_notify(struct virtio_device *d, unsigned q)
{
	struct virtio_block *b = d->priv;
	struct virtqueue *vq = &d->vq[0];
	struct vq_chain *c = &b->chain;
	while (vq_pop(vq, c) == 1) {
		uint32_t written = 0;
		uint8_t status;
		if (c->writable_len == 0) {
			/* No room for a status byte: the request cannot be answered. */
			b->errors++;
			if (vq_push(vq, c, 0) < 0)
				break;
			continue;
		}
		status = handle(b, c, &written);
		if (status != VIRTIO_BLK_S_OK) {
			b->errors++;
			written = 0;
		}
		status ^= (uint8_t)MUTANT(MUTANT_BLOCK_STATUS_FLIPPED);
		/* The status byte is the last writable byte of the chain. */
		vq_chain_write(vq, c, c->writable_len - 1, &status, 1);
		if (vq_push(vq, c, written + 1 - (uint32_t)MUTANT(MUTANT_BLOCK_USED_LEN_SHORT)) < 0)
			break;
	}
	virtio_queue_done(d, 0);
}

struct blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint32_t blk_size;
} __attribute__((packed));

static void block_config_read(struct virtio_device *d, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_block *b = d->priv;
	struct blk_config cfg = {
		.capacity = b->capacity + (uint64_t)MUTANT(MUTANT_BLOCK_CAPACITY_CHANGED),
		.seg_max = BLOCK_SEG_MAX,
		.blk_size = BLOCK_SECTOR,
	};
	uint8_t raw[sizeof(cfg)];
	memcpy(raw, &cfg, sizeof(cfg));
	memcpy(buf, raw + off, len);
}

#define BLOCK_FEATURES ((1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) | \
                        (1ull << VIRTIO_BLK_F_FLUSH))

const struct virtio_device_ops virtio_block_ops = {
	.name = "block", .device_id = VIRTIO_ID_BLOCK, .num_queues = 1,
	.queue_max = BLOCK_QUEUE_SIZE, .features = BLOCK_FEATURES,
	.config_size = sizeof(struct blk_config), .config_read = block_config_read,
	.queue_notify = block_notify,
};

const struct virtio_device_ops virtio_block_ro_ops = {
	.name = "block", .device_id = VIRTIO_ID_BLOCK, .num_queues = 1,
	.queue_max = BLOCK_QUEUE_SIZE, .features = BLOCK_FEATURES | (1ull << VIRTIO_BLK_F_RO),
	.config_size = sizeof(struct blk_config), .config_read = block_config_read,
	.queue_notify = block_notify,
};

int virtio_block_init(struct virtio_block *b, int fd, enum block_dev_mode mode,
                      const char *id, const struct block_io *io)
{
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	uint64_t bytes;
	if (S_ISREG(st.st_mode)) {
		bytes = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);
		if (end < 0)
			return -errno;
		bytes = (uint64_t)end;
	} else {
		return -EINVAL;
	}
	if (bytes % BLOCK_SECTOR)
		log_warn("block %s: image size %llu is not a multiple of 512; the tail is not visible",
		         id ? id : "", (unsigned long long)bytes);
	b->capacity = bytes / BLOCK_SECTOR;
	b->fd = fd;
	b->mode = mode;
	b->io = io ? *io : block_io_direct;
	snprintf(b->id, sizeof(b->id), "%s", id ? id : "");
	b->bounce = malloc(BLOCK_MAX_REQUEST);
	if (!b->bounce)
		return -ENOMEM;
	if (mode == BLOCK_DEV_VOLATILE && !(b->overlay = overlay_new(b->capacity))) {
		free(b->bounce);
		return -ENOMEM;
	}
	b->dev.ops = mode == BLOCK_DEV_READ_ONLY ? &virtio_block_ro_ops : &virtio_block_ops;
	b->dev.priv = b;
	return 0;
}

void virtio_block_destroy(struct virtio_block *b)
{
	overlay_free(b->overlay);
	free(b->bounce);
	b->overlay = NULL;
	b->bounce = NULL;
}
