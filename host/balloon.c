/* host/balloon.c - see balloon.h. */
#include "host/balloon.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "base/byteorder.h"
#include "base/event_names.h"
#include "base/log.h"

void host_balloon_init(struct host_balloon *hb, struct host_events *ev,
                       const struct guest_mem *mem)
{
	memset(hb, 0, sizeof(*hb));
	hb->ev = ev;
	hb->mem = mem;
}

static void discard(void *ctx, uint64_t gpa, uint64_t len)
{
	struct host_balloon *hb = ctx;
	/* What the host gave back is an output. */
	uint8_t b[EVN_RANGE_SIZE];
	evn_range_put(b, gpa, len);
	hev_output(hb->ev, EVN_BALLOON, b, sizeof(b));
	void *p = gm_span(hb->mem, gpa, len);
	/* MADV_REMOVE frees the memfd's pages (DONTNEED would only unmap a
	 * shared mapping). */
	if (p && madvise(p, len, MADV_REMOVE) != 0)
		log_warn("balloon: cannot give back 0x%llx+0x%llx: %s", (unsigned long long)gpa,
		         (unsigned long long)len, strerror(errno));
	else if (p)
		hb->returned += len;
}

/* A reset (Linux's shutdown resets its devices) puts `actual` back to 0, so
 * the summary reports the highest value too. */
static void actual_changed(void *ctx, uint32_t actual)
{
	struct host_balloon *hb = ctx;
	if (actual > hb->actual_max)
		hb->actual_max = actual;
}

struct balloon_host host_balloon_hooks(struct host_balloon *hb)
{
	return (struct balloon_host){ .ctx = hb, .discard = discard,
	                              .actual_changed = actual_changed };
}

bool host_balloon_input(struct virtio_balloon *b, const char *device, const void *data,
                        size_t len, size_t *taken)
{
	if (strcmp(device, EVN_BALLOON) == 0 && len == EVN_BALLOON_TARGET_SIZE) {
		virtio_balloon_request_pages(b, le32_get(data));
		*taken = len;
		return true;
	}
	if (strcmp(device, EVN_BALLOON_STATS) == 0 && len == 1) {
		*taken = virtio_balloon_request_stats(b) == 0 ? 1 : 0;
		return true;
	}
	return false;
}

void host_balloon_summary(const struct host_balloon *hb, const struct virtio_balloon *b)
{
	log_info("balloon: %llu pages inflated, %llu deflated, actual %u (at most %u) of %u "
	         "requested, %llu bytes returned to the host",
	         (unsigned long long)b->inflated_pages, (unsigned long long)b->deflated_pages,
	         b->actual, hb->actual_max, b->num_pages, (unsigned long long)hb->returned);
}
