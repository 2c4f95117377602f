/* host/host_events.h - who hears a device's host side, and who stands in for it.
 *
 * Owns: the pair every host adapter announces through: the ev_sink (the
 * recorder, or replay's checker) and the optional ev_source (replay's
 * recorded inputs). A front end fills one struct host_events and hands it to
 * each adapter, so the "is anyone listening?" test exists here only. Both
 * pointers are borrowed: the front end keeps them alive (and may swap them,
 * e.g. once recording starts) for as long as its adapters run.
 *
 * Names and payload encodings come from base/event_names.h.
 */
#ifndef HOST_HOST_EVENTS_H
#define HOST_HOST_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "base/events.h"

struct host_events {
	const struct ev_sink *sink;     /* NULL: nobody listens */
	const struct ev_source *source; /* NULL: the host's own inputs */
};

/* Bytes the device handed the host (console output, a frame, a range). */
void hev_output(const struct host_events *h, const char *device, const void *data, size_t len);
/* Bytes the host handed the device while an event was handled (entropy,
 * block data). */
void hev_input(const struct host_events *h, const char *device, const void *data, size_t len);
/* A write or flush result as a host input (base/event_names.h evn_result). */
void hev_result(const struct host_events *h, const char *device, int64_t r);

/* How a front end offers host input to a device between events: under its
 * own event discipline (the vm's event lock, vhost-user's event span, or a
 * recorded event), announced as a host event even when refused. Returns the
 * bytes the device took. vm_host_input has this shape. */
typedef size_t host_deliver_fn(void *ctx, const char *device, const void *data, size_t len);

#endif
