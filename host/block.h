/* host/block.h - virtio-blk's host side: file I/O on the disk image.
 *
 * Owns: the pread / pwrite / fdatasync a block device core does through its
 * block_io, for every front end. Live, they go to the image fd; in replay
 * (an ev_source with block hooks) the recorded completions stand in and no
 * file is touched. Either way the sink hears every completion: read data as
 * EVN_BLOCK_READ, write and flush results as EVN_BLOCK_WRITE / EVN_BLOCK_SYNC
 * (evn_result: a count or -errno).
 */
#ifndef HOST_BLOCK_H
#define HOST_BLOCK_H

#include "devices/block.h"
#include "host/host_events.h"

/* The block_io for virtio_block_init; ev is borrowed for the device's life. */
struct block_io host_block_io(struct host_events *ev);

#endif
