/* base/unix_socket.h - listening on a Unix stream socket path, safely.
 *
 * Owns: the rule every listener of the project follows for its path: a
 * socket left there by an earlier run is replaced, anything else (a regular
 * file, a directory, a link) is never touched and the call fails with
 * -EEXIST, so a daemon run as root cannot destroy a user's file by being
 * pointed at it.
 */
#ifndef BASE_UNIX_SOCKET_H
#define BASE_UNIX_SOCKET_H

/* Bind and listen on path with the given backlog; flags are extra socket(2)
 * type flags (SOCK_NONBLOCK); the fd is always close-on-exec. Returns the
 * fd, or -ENAMETOOLONG (path does not fit sun_path), -EEXIST (something
 * that is not a socket is there), or another negative errno. */
int unix_listen(const char *path, int backlog, int flags);

#endif
