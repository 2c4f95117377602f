/* host/balloon.h - virtio-balloon's host side: giving guest memory back.
 *
 * Owns: what the host does when the guest gives pages up (announce the
 * range as EVN_BALLOON, evn_range; then MADV_REMOVE on the memfd-backed
 * guest memory, which frees the pages: the guest reads zeros if it touches
 * them again), the host's requests as host events (EVN_BALLOON: le32 target
 * pages; EVN_BALLOON_STATS: one byte, ask for statistics), the counters and
 * the summary line at exit. Used by every front end; the guest memory is
 * the front end's (the vm's, or the vhost-user front end's table).
 */
#ifndef HOST_BALLOON_H
#define HOST_BALLOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/guest_mem.h"
#include "devices/balloon.h"
#include "host/host_events.h"

struct host_balloon {
	struct host_events *ev;
	const struct guest_mem *mem; /* borrowed: where discarded ranges live */
	uint64_t returned;           /* bytes given back to the host (MADV_REMOVE) */
	uint32_t actual_max;         /* the most pages the driver reported holding */
};

void host_balloon_init(struct host_balloon *hb, struct host_events *ev,
                       const struct guest_mem *mem);
/* The balloon_host for virtio_balloon_init: discard and actual_changed. */
struct balloon_host host_balloon_hooks(struct host_balloon *hb);
/* A host event for the balloon (what a deliver function calls): EVN_BALLOON
 * with EVN_BALLOON_TARGET_SIZE bytes, or EVN_BALLOON_STATS with one byte.
 * false when `device` and len are not a balloon request (nothing happened);
 * else true, with *taken the bytes the device accepted. */
bool host_balloon_input(struct virtio_balloon *b, const char *device, const void *data,
                        size_t len, size_t *taken);
/* The summary at exit (log_info): pages inflated and deflated, the driver's
 * actual (and its peak; a driver reset puts it back to 0) against the
 * target, and the bytes returned. */
void host_balloon_summary(const struct host_balloon *hb, const struct virtio_balloon *b);

#endif
