/* launcher/chan_list.c - taking a channel out of a polled array (chan_list.h). */
#include <assert.h>
#include <unistd.h>

#include "fidl/channel.h"
#include "launcher/chan_list.h"

void chan_list_drop(int *fds, unsigned *n, unsigned i, int32_t epitaph)
{
	assert(i < *n);
	if (epitaph)
		fidl_chan_close_with_epitaph(fds[i], epitaph);
	else
		close(fds[i]);
	fds[i] = fds[--*n];
}
