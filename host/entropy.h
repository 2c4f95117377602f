/* host/entropy.h - virtio-rng's host side: where the guest's entropy comes from.
 *
 * Owns: the one source of randomness a guest gets, for every front end:
 * getrandom(2) live, the recorded bytes in replay (an ev_source with an
 * entropy hook). Every byte handed out is announced as EVN_RNG, so a
 * recording holds it.
 */
#ifndef HOST_ENTROPY_H
#define HOST_ENTROPY_H

#include "devices/rng.h"
#include "host/host_events.h"

/* The rng_host for virtio_rng_init; ev is borrowed for the device's life. */
struct rng_host host_entropy(struct host_events *ev);

#endif
