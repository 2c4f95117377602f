/* host/entropy.c - see entropy.h. */
#include "host/entropy.h"

#include <errno.h>
#include <sys/random.h>

#include "base/event_names.h"

static int entropy(void *ctx, void *buf, size_t len)
{
	const struct host_events *h = ctx;
	if (h->source && h->source->entropy) {
		/* Replay: the recorded bytes, not the host's. */
		int r = h->source->entropy(h->source->ctx, buf, len);
		if (r < 0)
			return r;
	} else {
		uint8_t *p = buf;
		size_t done = 0;
		while (done < len) {
			ssize_t n = getrandom(p + done, len - done, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			done += (size_t)n;
		}
	}
	hev_input(h, EVN_RNG, buf, len);
	return 0;
}

struct rng_host host_entropy(struct host_events *ev)
{
	return (struct rng_host){ ev, entropy };
}
