/* fuzz/vhost_user.c - a front end's byte stream into the vhost-user back end
 * (devices/vhost_user.c) serving the virtio-rng core.
 *
 * Input: the bytes the front end sends, written into a socket before the
 * back end serves it; the front end then just listens (no fds travel, so
 * memory tables and ring fds are refused, and the message parser, ordering
 * rules and replies are what get exercised). Oracle: no crash, vhu_serve
 * returns (a bounded body timeout), nothing leaks. */
#include "harness.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/rng.h"
#include "devices/vhost_user.h"
#include "base/log.h"

static int entropy(void *ctx, void *buf, size_t len)
{
	memset(buf, 0x5a, len); /* deterministic: a fuzzer needs repeatable runs */
	return 0;
}

void fuzz_init(void)
{
	log_set_level(LOG_ERROR);
	signal(SIGPIPE, SIG_IGN);
}

static int lowest_free_fd(void)
{
	int fd = dup(0);
	close(fd);
	return fd;
}

void fuzz_one(const uint8_t *data, size_t len)
{
	if (len > 60000)
		len = 60000; /* fits a socket buffer: the writer never blocks */
	int before = lowest_free_fd();
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	int big = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (len && write(sv[0], data, len) != (ssize_t)len)
		abort();
	shutdown(sv[0], SHUT_WR);
	static struct virtio_rng rng;
	struct rng_host host = { .entropy = entropy };
	virtio_rng_init(&rng, &host);
	static struct vhu_server s;
	if (vhu_init(&s, &rng.dev) != 0)
		abort();
	s.body_timeout_ms = 5;
	vhu_serve(&s, sv[1]); /* takes sv[1] */
	vhu_destroy(&s);
	close(sv[0]);
	int after = lowest_free_fd();
	if (after != before)
		fuzz_fail("fd leak: lowest free fd %d before, %d after", before, after);
}
