/* host/block.c - see block.h. */
#include "host/block.h"

#include <errno.h>
#include <unistd.h>

#include "base/event_names.h"

static ssize_t block_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	const struct host_events *h = ctx;
	ssize_t n = h->source && h->source->block_read
	                    ? h->source->block_read(h->source->ctx, buf, len, off)
	                    : pread(fd, buf, len, off);
	if (n > 0)
		hev_input(h, EVN_BLOCK_READ, buf, (size_t)n);
	return n;
}

static ssize_t block_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off)
{
	const struct host_events *h = ctx;
	ssize_t n = h->source && h->source->block_write
	                    ? h->source->block_write(h->source->ctx, buf, len, off)
	                    : pwrite(fd, buf, len, off);
	/* The announcement must not clobber the errno the core reports. */
	int e = errno;
	hev_result(h, EVN_BLOCK_WRITE, n < 0 ? -(int64_t)e : (int64_t)n);
	errno = e;
	return n;
}

static int block_fdatasync(void *ctx, int fd)
{
	const struct host_events *h = ctx;
	int r = h->source && h->source->block_sync ? h->source->block_sync(h->source->ctx)
	                                           : fdatasync(fd);
	r = r == 0 ? 0 : -errno;
	hev_result(h, EVN_BLOCK_SYNC, r);
	return r;
}

struct block_io host_block_io(struct host_events *ev)
{
	return (struct block_io){ ev, block_pread, block_pwrite, block_fdatasync };
}
