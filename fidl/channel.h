/* fidl/channel.h - a Zircon channel stand-in: one FIDL message per datagram
 * on a SOCK_SEQPACKET Unix socket, handles as fds in SCM_RIGHTS.
 *
 * Owns: moving one struct fidl_msg across a socket, with the channel limits
 * (64 KiB, 64 handles) enforced on both sides, and the epitaph that ends a
 * connection. Received fds are close-on-exec, so a received capability never
 * leaks into a spawned process by accident. Sending does not close the
 * caller's fds: a caller that means "move" closes them after a successful
 * send.
 */
#ifndef FIDL_CHANNEL_H
#define FIDL_CHANNEL_H

#include <stdint.h>

#include "wire.h"

/* ZX_OK; ZX_ERR_PEER_CLOSED if the peer is gone; ZX_ERR_OUT_OF_RANGE if m is
 * over the limits; ZX_ERR_IO otherwise. */
int fidl_chan_send(int sock, const struct fidl_msg *m);

/* Block for one message. ZX_OK with m filled (the caller owns m->handles);
 * ZX_ERR_PEER_CLOSED on end of stream; ZX_ERR_BUFFER_TOO_SMALL if the bytes
 * or the fds did not fit (MSG_TRUNC / MSG_CTRUNC: over 64 KiB or 64 fds);
 * ZX_ERR_INVALID_ARGS for control data other than SCM_RIGHTS; ZX_ERR_IO
 * otherwise. On every error each fd that arrived has been closed and m holds
 * no handles. */
int fidl_chan_recv(int sock, struct fidl_msg *m);

/* Send an epitaph (txid 0, ordinal 0xFFFFFFFFFFFFFFFF, int32 status). */
int fidl_chan_send_epitaph(int sock, int32_t status);
/* Send an epitaph, then close sock (whatever the send returned). */
void fidl_chan_close_with_epitaph(int sock, int32_t status);

#endif
