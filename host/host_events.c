/* host/host_events.c - see host_events.h. */
#include "host/host_events.h"

#include "base/event_names.h"

void hev_output(const struct host_events *h, const char *device, const void *data, size_t len)
{
	if (h->sink && h->sink->host_output)
		h->sink->host_output(h->sink->ctx, device, data, len);
}

void hev_input(const struct host_events *h, const char *device, const void *data, size_t len)
{
	if (h->sink && h->sink->host_input)
		h->sink->host_input(h->sink->ctx, device, data, len);
}

void hev_result(const struct host_events *h, const char *device, int64_t r)
{
	uint8_t b[EVN_RESULT_SIZE];
	evn_result_put(b, r);
	hev_input(h, device, b, sizeof(b));
}
