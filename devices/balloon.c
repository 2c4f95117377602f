/* devices/balloon.c - see balloon.h. Config layout from the virtio 1.x spec,
 * "Traditional Memory Balloon Device": {le32 num_pages; le32 actual}. */
#include "balloon.h"

#include <errno.h>
#include <string.h>

/* PFNs read per copy; Linux sends at most 256 in one chain. */
#define PFN_BATCH 256

struct run {
	uint64_t start, pages;
};

static void flush_run(struct virtio_balloon *b, struct run *r)
{
	if (!r->pages)
		return;
	if (b->host.discard)
		b->host.discard(b->host.ctx, r->start << BALLOON_PAGE_SHIFT,
		                r->pages << BALLOON_PAGE_SHIFT);
	b->discard_calls++;
	r->pages = 0;
}

/* Walk the PFNs of one chain; inflate discards, deflate only counts. */
static void pfns(struct virtio_balloon *b, struct virtqueue *vq, struct vq_chain *c, bool inflate)
{
	uint32_t buf[PFN_BATCH];
	struct run r = { 0, 0 };
	uint64_t total = c->readable_len / 4;
	for (uint64_t done = 0; done < total;) {
		size_t want = total - done < PFN_BATCH ? (size_t)(total - done) : PFN_BATCH;
		size_t got = vq_chain_read(vq, c, done * 4, buf, want * 4) / 4;
		if (got == 0)
			break;
		for (size_t i = 0; i < got; i++) {
			uint64_t pfn = buf[i];
			if (!gm_valid(b->dev.mem, pfn << BALLOON_PAGE_SHIFT, BALLOON_PAGE_SIZE)) {
				b->bad_pfns++;
				continue;
			}
			if (!inflate) {
				b->deflated_pages++;
				continue;
			}
			b->inflated_pages++;
			/* gm_valid of each page and of the run's start keeps a run inside
			 * one region only if it does not cross a region end: check that too. */
			if (r.pages && pfn == r.start + r.pages &&
			    gm_valid(b->dev.mem, r.start << BALLOON_PAGE_SHIFT,
			             (r.pages + 1) << BALLOON_PAGE_SHIFT)) {
				r.pages++;
				continue;
			}
			flush_run(b, &r);
			r.start = pfn;
			r.pages = 1;
		}
		done += got;
	}
	flush_run(b, &r);
}

static void pfn_queue(struct virtio_balloon *b, unsigned q)
{
	struct virtqueue *vq = &b->dev.vq[q];
	while (vq_pop(vq, &b->chain) == 1) {
		pfns(b, vq, &b->chain, q == BALLOON_INFLATEQ);
		if (vq_push(vq, &b->chain, 0) < 0)
			break;
	}
	virtio_queue_done(&b->dev, q);
}

static void parse_stats(struct virtio_balloon *b, struct virtqueue *vq, const struct vq_chain *c)
{
	uint8_t e[10];
	unsigned n = 0;
	for (uint64_t off = 0; off + sizeof(e) <= c->readable_len && n < BALLOON_MAX_STATS;
	     off += sizeof(e)) {
		if (vq_chain_read(vq, c, off, e, sizeof(e)) != sizeof(e))
			break;
		memcpy(&b->stats[n].tag, e, 2);
		memcpy(&b->stats[n].val, e + 2, 8);
		n++;
	}
	b->nstats = n;
	b->stats_valid = true;
	b->stats_updates++;
}

static void stats_queue(struct virtio_balloon *b)
{
	struct virtqueue *vq = &b->dev.vq[BALLOON_STATSQ];
	bool fresh = false, pushed = false;
	for (;;) {
		struct vq_chain *c = b->stats_held ? &b->chain : &b->stats_chain;
		if (vq_pop(vq, c) != 1)
			break;
		parse_stats(b, vq, c);
		fresh = true;
		if (!b->stats_held) {
			b->stats_held = true; /* kept until the host asks for fresh stats */
			continue;
		}
		b->stats_extra_buffers++;
		pushed = true;
		if (vq_push(vq, c, 0) < 0)
			break;
	}
	if (pushed || vq->broken)
		virtio_queue_done(&b->dev, BALLOON_STATSQ);
	if (fresh && b->host.stats_ready)
		b->host.stats_ready(b->host.ctx);
}

static void balloon_notify(struct virtio_device *d, unsigned q)
{
	struct virtio_balloon *b = d->priv;
	if (q == BALLOON_INFLATEQ || q == BALLOON_DEFLATEQ)
		pfn_queue(b, q);
	else if (q == BALLOON_STATSQ && virtio_has_feature(d, VIRTIO_BALLOON_F_STATS_VQ))
		stats_queue(b);
}

int virtio_balloon_request_stats(struct virtio_balloon *b)
{
	if (!b->dev.active || !virtio_has_feature(&b->dev, VIRTIO_BALLOON_F_STATS_VQ))
		return -ENOTSUP;
	if (!b->stats_held)
		return -EAGAIN;
	struct virtqueue *vq = &b->dev.vq[BALLOON_STATSQ];
	b->stats_held = false;
	int r = vq_push(vq, &b->stats_chain, 0);
	virtio_queue_done(&b->dev, BALLOON_STATSQ);
	return r < 0 ? -EIO : 0;
}

int virtio_balloon_get_stats(const struct virtio_balloon *b, struct balloon_stat *out,
                             unsigned max)
{
	if (!b->stats_valid)
		return -ENODATA;
	unsigned n = b->nstats < max ? b->nstats : max;
	memcpy(out, b->stats, n * sizeof(*out));
	return (int)n;
}

static void balloon_reset(struct virtio_device *d)
{
	struct virtio_balloon *b = d->priv;
	/* The held buffer belonged to the old ring; the guest's balloon is gone. */
	b->stats_held = false;
	b->actual = 0;
}

struct balloon_config {
	uint32_t num_pages;
	uint32_t actual;
};

static void balloon_config_read(struct virtio_device *d, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_balloon *b = d->priv;
	struct balloon_config cfg = { b->num_pages, b->actual };
	uint8_t raw[sizeof(cfg)];
	memcpy(raw, &cfg, sizeof(cfg));
	memcpy(buf, raw + off, len);
}

static void balloon_config_write(struct virtio_device *d, uint32_t off, const void *buf,
                                 uint32_t len)
{
	struct virtio_balloon *b = d->priv;
	struct balloon_config cfg = { b->num_pages, b->actual };
	uint8_t raw[sizeof(cfg)];
	memcpy(raw, &cfg, sizeof(cfg));
	memcpy(raw + off, buf, len);
	/* Only `actual` is the driver's to write; num_pages stays the host's. */
	uint32_t actual;
	memcpy(&actual, raw + 4, 4);
	if (actual != b->actual) {
		b->actual = actual;
		if (b->host.actual_changed)
			b->host.actual_changed(b->host.ctx, actual);
	}
}

#define BALLOON_OPS(n, feat)                                                                 \
	{ .name = n, .device_id = VIRTIO_ID_BALLOON, .num_queues = 3,                         \
	  .queue_max = BALLOON_QUEUE_SIZE, .features = (feat),                                \
	  .config_size = sizeof(struct balloon_config), .config_read = balloon_config_read,    \
	  .config_write = balloon_config_write, .queue_notify = balloon_notify,               \
	  .reset = balloon_reset }

const struct virtio_device_ops virtio_balloon_ops =
	BALLOON_OPS("balloon", 1ull << VIRTIO_BALLOON_F_STATS_VQ);
const struct virtio_device_ops virtio_balloon_oom_ops =
	BALLOON_OPS("balloon", (1ull << VIRTIO_BALLOON_F_STATS_VQ) |
	                       (1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM));

void virtio_balloon_init(struct virtio_balloon *b, const struct balloon_host *host,
                         bool deflate_on_oom)
{
	memset(b, 0, sizeof(*b));
	if (host)
		b->host = *host;
	b->dev.ops = deflate_on_oom ? &virtio_balloon_oom_ops : &virtio_balloon_ops;
	b->dev.priv = b;
}

void virtio_balloon_request_pages(struct virtio_balloon *b, uint32_t n)
{
	b->num_pages = n;
	if (b->dev.active && b->dev.signal_config)
		b->dev.signal_config(&b->dev);
}
