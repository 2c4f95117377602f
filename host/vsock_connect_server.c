/* host/vsock_connect_server.c - the CONNECT-line server for host-initiated
 * vsock connections. See vsock_connect_server.h.
 */
#include "host/vsock_connect_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/unix_socket.h"
#include "base/log.h"

int vsock_connect_server_open(struct vsock_connect_server *cs, struct vsock_backend *be,
                              const char *path)
{
	memset(cs, 0, sizeof(*cs));
	cs->be = be;
	cs->listen_fd = -1;
	for (int i = 0; i < VSOCK_CONNECT_MAX_HELLO; i++)
		cs->hello[i].sock = -1;
	if (!path)
		return 0;
	int fd = unix_listen(path, 16, SOCK_NONBLOCK);
	if (fd < 0)
		return fd;
	cs->listen_fd = fd;
	return 0;
}

void vsock_connect_server_close(struct vsock_connect_server *cs, const char *path)
{
	for (int i = 0; i < VSOCK_CONNECT_MAX_HELLO; i++)
		if (cs->hello[i].sock >= 0)
			close(cs->hello[i].sock);
	if (cs->listen_fd >= 0) {
		close(cs->listen_fd);
		unlink(path);
	}
	cs->listen_fd = -1;
}

static void accept_clients(struct vsock_connect_server *cs)
{
	for (;;) {
		int s = accept4(cs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s < 0)
			return;
		int i = 0;
		while (i < VSOCK_CONNECT_MAX_HELLO && cs->hello[i].sock >= 0)
			i++;
		if (i == VSOCK_CONNECT_MAX_HELLO) {
			close(s); /* too many clients still writing their line */
			continue;
		}
		cs->hello[i].sock = s;
		cs->hello[i].len = 0;
	}
}

/* The guest accepted: the client hears its host port before any byte. A
 * fresh socket has room for one short line. */
static bool say_ok(void *ctx, int sock, uint32_t host_port)
{
	char ok[32];
	int len = snprintf(ok, sizeof(ok), "OK %u\n", host_port);
	return write(sock, ok, (size_t)len) == len;
}

static void drop_hello(struct vsock_connect_server *cs, int i)
{
	close(cs->hello[i].sock);
	cs->hello[i].sock = -1;
}

/* Read the line a byte at a time (nothing after it may be taken from the
 * socket), then connect to the guest. */
static void read_line(struct vsock_connect_server *cs, int i)
{
	__typeof__(cs->hello[0]) *h = &cs->hello[i];
	for (;;) {
		char ch;
		ssize_t n = read(h->sock, &ch, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0 || h->len == VSOCK_CONNECT_LINE_MAX - 1) {
			drop_hello(cs, i);
			return;
		}
		if (ch != '\n') {
			h->line[h->len++] = ch;
			continue;
		}
		h->line[h->len] = 0;
		char *end;
		errno = 0;
		unsigned long port = strncmp(h->line, "CONNECT ", 8) == 0 ?
			strtoul(h->line + 8, &end, 10) : 0;
		int conn = -EINVAL;
		if (port && !errno && *end == 0 && port <= UINT32_MAX && h->line[8] != '-') {
			struct vsock_connect_req req = { .sock = h->sock, .opened = say_ok };
			conn = vsock_backend_connect(cs->be, (uint32_t)port, &req);
		}
		if (conn < 0) {
			log_info("vsock: host connect '%s' failed: %s", h->line, strerror(-conn));
			cs->be->stats.refused++;
			drop_hello(cs, i);
			return;
		}
		h->sock = -1; /* the backend's now, until the guest answers */
		return;
	}
}

unsigned vsock_connect_server_poll_fill(struct vsock_connect_server *cs, struct pollfd *p,
                                        unsigned max)
{
	unsigned n = 0;
	if (cs->listen_fd >= 0 && n < max) {
		p[n] = (struct pollfd){ .fd = cs->listen_fd, .events = POLLIN };
		cs->pm[n].idx = -1;
		cs->pm[n++].fd = cs->listen_fd;
	}
	for (int i = 0; i < VSOCK_CONNECT_MAX_HELLO && n < max; i++) {
		if (cs->hello[i].sock < 0)
			continue;
		p[n] = (struct pollfd){ .fd = cs->hello[i].sock, .events = POLLIN };
		cs->pm[n].idx = i;
		cs->pm[n++].fd = cs->hello[i].sock;
	}
	cs->npm = n;
	return n;
}

void vsock_connect_server_poll_done(struct vsock_connect_server *cs, const struct pollfd *p,
                                    unsigned n)
{
	for (unsigned k = 0; k < n && k < cs->npm; k++) {
		if (!p[k].revents)
			continue;
		int i = cs->pm[k].idx;
		if (i < 0)
			accept_clients(cs);
		else if (cs->hello[i].sock == cs->pm[k].fd)
			read_line(cs, i);
	}
}
