/* devices/balloon.h - virtio-balloon (ID 5): inflateq 0, deflateq 1, statsq 2.
 *
 * Owns: the host's memory target (config num_pages, set by the vmm through
 * virtio_balloon_request_pages), the guest's answer (config actual, written by
 * the driver), giving inflated pages back to the host, and the guest's memory
 * statistics (VIRTIO_BALLOON_F_STATS_VQ). VIRTIO_BALLOON_F_DEFLATE_ON_OOM is
 * offered when asked for at init; MUST_TELL_HOST is not, so the guest may
 * reuse deflated pages at once and the device has nothing to do on deflate but
 * count them.
 *
 * Inflate: every le32 PFN (4 KiB pages, whatever the guest's page size) is
 * checked to be wholly in guest RAM; runs of consecutive valid PFNs go to
 * host->discard(ctx, gpa, len) (the vmm: MADV_REMOVE / fallocate punch on the
 * memfd). A PFN outside guest RAM is skipped and counted in bad_pfns: the
 * device never asks to discard anything that is not guest RAM. Trailing bytes
 * that do not make a whole PFN are ignored.
 *
 * Stats (virtio 1.x "Memory Statistics"): the driver keeps one buffer of
 * {le16 tag; le64 val} entries on statsq. The device parses it and HOLDS it;
 * virtio_balloon_request_stats() hands it back (used, length 0), which is the
 * driver's cue to refresh the values and queue the buffer again, whereupon the
 * device parses it, holds it again and calls host->stats_ready. A second
 * buffer queued while one is held is parsed and returned at once (counted in
 * stats_extra_buffers): only one is ever held.
 *
 * No clock, no file, no madvise of its own: the vmm does the discarding.
 */
#ifndef DEVICES_BALLOON_H
#define DEVICES_BALLOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio.h"

#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2

#define BALLOON_INFLATEQ 0
#define BALLOON_DEFLATEQ 1
#define BALLOON_STATSQ 2
#define BALLOON_QUEUE_SIZE 256
#define BALLOON_PAGE_SHIFT 12
#define BALLOON_PAGE_SIZE (1u << BALLOON_PAGE_SHIFT)

/* Statistic tags (the spec's VIRTIO_BALLOON_S_*). */
#define VIRTIO_BALLOON_S_SWAP_IN 0
#define VIRTIO_BALLOON_S_SWAP_OUT 1
#define VIRTIO_BALLOON_S_MAJFLT 2
#define VIRTIO_BALLOON_S_MINFLT 3
#define VIRTIO_BALLOON_S_MEMFREE 4
#define VIRTIO_BALLOON_S_MEMTOT 5
#define VIRTIO_BALLOON_S_AVAIL 6
#define VIRTIO_BALLOON_S_CACHES 7
#define VIRTIO_BALLOON_S_HTLB_PGALLOC 8
#define VIRTIO_BALLOON_S_HTLB_PGFAIL 9
/* Entries kept from one stats buffer; Linux 6.x sends 10 to 16. */
#define BALLOON_MAX_STATS 32

struct balloon_host {
	void *ctx;
	/* Give [gpa, gpa+len) back to the host; always whole 4 KiB pages of guest RAM. */
	void (*discard)(void *ctx, uint64_t gpa, uint64_t len);
	/* Optional: fresh stats arrived (after virtio_balloon_request_stats). */
	void (*stats_ready)(void *ctx);
	/* Optional: the driver wrote config `actual` (pages now in the balloon). */
	void (*actual_changed)(void *ctx, uint32_t actual);
};

struct balloon_stat {
	uint16_t tag;
	uint64_t val;
};

struct virtio_balloon {
	struct virtio_device dev;
	struct balloon_host host;
	uint32_t num_pages; /* the host's target */
	uint32_t actual;    /* the driver's report */
	uint64_t inflated_pages, deflated_pages, bad_pfns, discard_calls;
	struct balloon_stat stats[BALLOON_MAX_STATS];
	unsigned nstats;
	bool stats_valid;
	uint64_t stats_updates, stats_extra_buffers;
	bool stats_held;
	struct vq_chain stats_chain; /* the held stats buffer */
	struct vq_chain chain;       /* scratch */
};

void virtio_balloon_init(struct virtio_balloon *b, const struct balloon_host *host,
                         bool deflate_on_oom);
/* Ask the guest to hold n pages in the balloon (config change interrupt). */
void virtio_balloon_request_pages(struct virtio_balloon *b, uint32_t n);
/* Ask for fresh stats: returns the held buffer to the driver. 0 done;
 * -EAGAIN no buffer held (a request is already outstanding, or the driver has
 * not queued one yet); -ENOTSUP the driver did not negotiate STATS_VQ. */
int virtio_balloon_request_stats(struct virtio_balloon *b);
/* Copy the latest stats (at most max entries); returns how many, or
 * -ENODATA if the guest never sent any. */
int virtio_balloon_get_stats(const struct virtio_balloon *b, struct balloon_stat *out,
                             unsigned max);
extern const struct virtio_device_ops virtio_balloon_ops;
extern const struct virtio_device_ops virtio_balloon_oom_ops;

#endif
