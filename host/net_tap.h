/* host/net_tap.h - virtio-net's host side: a Linux TAP interface.
 *
 * Owns: the /dev/net/tun open and TUNSETIFF (net_tap_open), and the adapter
 * every front end puts between a virtio-net core and its TAP: frames the
 * guest sends are announced to the sink (under the device's name: "net0"..
 * in the vmm, evn_net_name; "net" at the device level) and written whole;
 * a frame read from the TAP that the guest has no buffer for is held (one
 * frame, never dropped for lack of room) and the TAP is not read again until
 * the device says it has room (rx_space -> wake) and the frame is retried.
 * The interface is IFF_TAP | IFF_NO_PI without IFF_VNET_HDR: one read or
 * write is exactly one Ethernet frame.
 */
#ifndef HOST_NET_TAP_H
#define HOST_NET_TAP_H

#include <stdbool.h>
#include <stddef.h>

#include "base/event_names.h"
#include "devices/net.h"
#include "host/host_events.h"

/* Open (creating if needed, as the kernel does for a privileged caller) the
 * TAP interface `name` (shorter than IFNAMSIZ; "" lets the kernel pick, e.g.
 * tap0). The name the kernel used is copied to actual (if non-NULL, of
 * actual_size bytes). Returns the fd (close-on-exec, non-blocking if asked)
 * or -errno. */
int net_tap_open(const char *name, bool nonblock, char *actual, size_t actual_size);

struct host_tap {
	struct host_events *ev;
	char name[EVN_NET_NAME_MAX]; /* the sink's device name for this device */
	int fd;                      /* borrowed; -1 in replay: frames out are only announced */
	size_t held_len;             /* a frame the guest had no room for */
	uint8_t held[NET_MAX_FRAME];
	/* The device has room again (rx_space); NULL: nobody waits (replay). */
	void (*wake)(void *ctx);
	void *wake_ctx;
};

void host_tap_init(struct host_tap *t, struct host_events *ev, const char *name, int fd);
/* The net_host for virtio_net_init: send_frame, and rx_space -> wake. */
struct net_host host_tap_net(struct host_tap *t);
/* One whole frame into the device (what a deliver function calls): len when
 * it is gone (delivered, or dropped for a reason waiting cannot fix), 0 when
 * the guest has no buffer and it must be held. */
size_t host_tap_frame_in(struct virtio_net *dev, const void *frame, size_t len);
/* Is the TAP worth polling: open, and no frame held. */
bool host_tap_room(const struct host_tap *t);
/* Offer the held frame again; true when nothing is held any more. */
bool host_tap_retry(struct host_tap *t, host_deliver_fn *deliver, void *ctx);
/* Read one frame from the TAP and offer it: 1 gone, 0 held (stop reading
 * until a retry succeeds), -1 nothing to read. */
int host_tap_receive(struct host_tap *t, host_deliver_fn *deliver, void *ctx);

#endif
