/* devices/net_tap.h - open a Linux TAP interface for virtio-net's host side.
 *
 * Owns: only the host plumbing the vmm uses to give a virtio-net device a
 * network: the /dev/net/tun open and TUNSETIFF. It is not part of the device
 * core (devices/net.c never calls it): the vmm reads frames from the fd and
 * hands them to virtio_net_host_frame, and writes what host->send_frame gives
 * it, through the determinism layer. The interface is IFF_TAP | IFF_NO_PI
 * without IFF_VNET_HDR: one read or write is exactly one Ethernet frame.
 */
#ifndef DEVICES_NET_TAP_H
#define DEVICES_NET_TAP_H

#include <stdbool.h>
#include <stddef.h>

/* Open (creating if needed, as the kernel does for a privileged caller) the
 * TAP interface `name` (shorter than IFNAMSIZ; "" lets the kernel pick, e.g.
 * tap0). The name the kernel used is copied to actual (if non-NULL, of
 * actual_size bytes). Returns the fd (close-on-exec, non-blocking if asked)
 * or -errno. */
int net_tap_open(const char *name, bool nonblock, char *actual, size_t actual_size);

#endif
