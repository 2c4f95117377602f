/* host/stream.h - the host side of a byte-stream device: virtio-console (and
 * the vmm's serial port).
 *
 * Owns: guest bytes out to an fd, announced to the sink under the stream's
 * name (EVN_CONSOLE, EVN_SERIAL) first; host bytes in from an fd, held here
 * until the device takes them: input is never dropped, its source is just
 * not read while the hold is full. How held bytes are offered (once per
 * wake-up, or until the device refuses) is the front end's choice, because
 * each offer is an event of its own in a recording; both are here.
 *
 * Output policy: HOST_STREAM_DROP never lets a slow reader stall a vCPU (a
 * full socket drops bytes, said once; pipes and terminals get plain writes);
 * HOST_STREAM_WAIT writes everything (a program's stdout).
 */
#ifndef HOST_STREAM_H
#define HOST_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "devices/console.h"
#include "host/host_events.h"

#define HOST_STREAM_HOLD_MAX 4096

enum host_stream_out { HOST_STREAM_DROP, HOST_STREAM_WAIT };

struct host_stream {
	struct host_events *ev;
	const char *name;        /* the sink's device name: EVN_CONSOLE, EVN_SERIAL */
	int out_fd;              /* guest bytes go here; -1: announced only (replay) */
	int in_fd;               /* host bytes come from here; -1: none */
	enum host_stream_out out_mode;
	bool in_open;            /* in_fd has not reached its end */
	size_t cap;              /* how much may be held (at most HOST_STREAM_HOLD_MAX) */
	size_t held_len;
	uint8_t held[HOST_STREAM_HOLD_MAX];
	uint64_t dropped;        /* output bytes a full reader cost (HOST_STREAM_DROP) */
	/* The device has room again (a console's rx_space); NULL: nobody waits
	 * (replay, where held input comes back as recorded events). */
	void (*wake)(void *ctx);
	void *wake_ctx;
};

/* Fds are borrowed (the front end closes them); cap is clamped to
 * HOST_STREAM_HOLD_MAX. */
void host_stream_init(struct host_stream *s, struct host_events *ev, const char *name,
                      int out_fd, int in_fd, enum host_stream_out mode, size_t cap);
/* Guest bytes: announce, then write per the output policy. */
void host_stream_write(struct host_stream *s, const void *buf, size_t len);
/* The console_host for virtio_console_init: write, and rx_space -> wake. */
struct console_host host_stream_console(struct host_stream *s);
/* Is in_fd worth polling: open, with room to hold what it gives. */
bool host_stream_room(const struct host_stream *s);
/* Read what in_fd has into the hold: bytes read, 0 at its end (in_open
 * turns false, as on a read error), -1 nothing to read now. */
ssize_t host_stream_read(struct host_stream *s);
/* Offer everything held once; returns the bytes the device took. */
size_t host_stream_offer(struct host_stream *s, host_deliver_fn *deliver, void *ctx);
/* Offer until nothing is held (true) or the device takes nothing (false). */
bool host_stream_flush(struct host_stream *s, host_deliver_fn *deliver, void *ctx);

#endif
