/* host/stream.c - see stream.h. */
#include "host/stream.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"

void host_stream_init(struct host_stream *s, struct host_events *ev, const char *name,
                      int out_fd, int in_fd, enum host_stream_out mode, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->ev = ev;
	s->name = name;
	s->out_fd = out_fd;
	s->in_fd = in_fd;
	s->in_open = in_fd >= 0;
	s->out_mode = mode;
	s->cap = cap < HOST_STREAM_HOLD_MAX ? cap : HOST_STREAM_HOLD_MAX;
	assert(name && (in_fd < 0 || s->cap > 0)); /* input needs room to be held */
}

static void write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nowhere to put it: the guest's output is lost */
		p += n;
		len -= (size_t)n;
	}
}

void host_stream_write(struct host_stream *s, const void *buf, size_t len)
{
	hev_output(s->ev, s->name, buf, len);
	if (s->out_fd < 0)
		return;
	if (s->out_mode == HOST_STREAM_WAIT) {
		write_all(s->out_fd, buf, len);
		return;
	}
	ssize_t n = send(s->out_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && errno == ENOTSOCK)
		n = write(s->out_fd, buf, len);
	if (n != (ssize_t)len) {
		if (s->dropped == 0)
			log_warn("%s output dropped: reader not keeping up (%s)", s->name,
			         n < 0 ? strerror(errno) : "short write");
		s->dropped += len - (n > 0 ? (size_t)n : 0);
	}
}

static void console_write(void *ctx, const void *buf, size_t len)
{
	host_stream_write(ctx, buf, len);
}

static void console_rx_space(void *ctx)
{
	struct host_stream *s = ctx;
	s->wake(s->wake_ctx);
}

struct console_host host_stream_console(struct host_stream *s)
{
	return (struct console_host){ s, console_write, s->wake ? console_rx_space : NULL };
}

bool host_stream_room(const struct host_stream *s)
{
	return s->in_open && s->held_len < s->cap;
}

ssize_t host_stream_read(struct host_stream *s)
{
	if (!host_stream_room(s))
		return -1;
	ssize_t r = read(s->in_fd, s->held + s->held_len, s->cap - s->held_len);
	if (r > 0) {
		s->held_len += (size_t)r;
		return r;
	}
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return -1;
	s->in_open = false;
	return 0;
}

size_t host_stream_offer(struct host_stream *s, host_deliver_fn *deliver, void *ctx)
{
	if (!s->held_len)
		return 0;
	size_t t = deliver(ctx, s->name, s->held, s->held_len);
	assert(t <= s->held_len); /* a device takes at most what it was offered */
	memmove(s->held, s->held + t, s->held_len - t);
	s->held_len -= t;
	return t;
}

bool host_stream_flush(struct host_stream *s, host_deliver_fn *deliver, void *ctx)
{
	while (s->held_len)
		if (host_stream_offer(s, deliver, ctx) == 0)
			return false;
	return true;
}
