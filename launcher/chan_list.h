/* launcher/chan_list.h - the fixed arrays of channel fds the launcher's
 * servers (vmm_launcher, guest_manager) poll.
 *
 * Owns: taking one channel out of such an array. The channel is closed, with
 * an epitaph when there is one so the peer learns why, and the last entry
 * takes its place so the array stays dense; a caller that drops while
 * walking the array walks it back to front.
 */
#ifndef LAUNCHER_CHAN_LIST_H
#define LAUNCHER_CHAN_LIST_H

#include <stdint.h>

/* Close fds[i] (with epitaph unless it is 0) and remove it; i < *n. */
void chan_list_drop(int *fds, unsigned *n, unsigned i, int32_t epitaph);

#endif
