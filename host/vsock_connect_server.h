/* host/vsock_connect_server.h - host-initiated vsock connections over a
 * Unix socket, as vmm-device's --vsock-connect-socket PATH offers them.
 *
 * Owns: the listening socket at PATH and the CONNECT line. A client writes
 * "CONNECT <guest port>\n"; once the guest accepted it reads
 * "OK <host port>\n" and the socket is the connection from then on (bridged
 * by host/vsock_backend.c); if the guest refuses, or the line is malformed or
 * longer than VSOCK_CONNECT_LINE_MAX, the socket is closed unanswered.
 * Nothing after the line is taken from the socket before the bridge has it.
 *
 * Same rules as the backend: no lock of its own (serialise with the
 * device), its fds are polled through poll_fill/poll_done and closed only
 * there or in close. Returns 0 or -errno.
 */
#ifndef HOST_VSOCK_CONNECT_SERVER_H
#define HOST_VSOCK_CONNECT_SERVER_H

#include <poll.h>

#include "host/vsock_backend.h"

#define VSOCK_CONNECT_LINE_MAX 32
/* Clients still writing their line. */
#define VSOCK_CONNECT_MAX_HELLO VSOCK_MAX_CONNS
#define VSOCK_CONNECT_MAX_POLL (VSOCK_CONNECT_MAX_HELLO + 1)

struct vsock_connect_server {
	struct vsock_backend *be;
	int listen_fd;
	struct {
		int sock; /* -1: free */
		unsigned len;
		char line[VSOCK_CONNECT_LINE_MAX];
	} hello[VSOCK_CONNECT_MAX_HELLO];
	/* What the last poll_fill put where: -1 the listening socket. */
	struct { int idx; int fd; } pm[VSOCK_CONNECT_MAX_POLL];
	unsigned npm;
};

/* Listen on path for be's device (NULL: a server that takes no client). A
 * stale socket there is replaced; any other kind of file is refused with
 * -EEXIST. */
int vsock_connect_server_open(struct vsock_connect_server *cs, struct vsock_backend *be,
                              const char *path);
/* Close every socket still writing its line, and the listening one (path is
 * unlinked). Safe on a server that never opened. */
void vsock_connect_server_close(struct vsock_connect_server *cs, const char *path);
unsigned vsock_connect_server_poll_fill(struct vsock_connect_server *cs, struct pollfd *p,
                                        unsigned max);
void vsock_connect_server_poll_done(struct vsock_connect_server *cs, const struct pollfd *p,
                                    unsigned n);

#endif
