/* fidl/channel.c - see channel.h. */
#include "channel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int fidl_chan_send(int sock, const struct fidl_msg *m)
{
	if (m->num_bytes > FIDL_MAX_MSG_BYTES || m->num_handles > FIDL_MAX_MSG_HANDLES)
		return ZX_ERR_OUT_OF_RANGE;
	struct iovec iov = { .iov_base = (void *)m->bytes, .iov_len = m->num_bytes };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * FIDL_MAX_MSG_HANDLES)];
	} ctl;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (m->num_handles) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->num_handles);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * m->num_handles);
		memcpy(CMSG_DATA(c), m->handles, sizeof(int) * m->num_handles);
	}
	ssize_t n;
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
		               ? ZX_ERR_PEER_CLOSED
		               : ZX_ERR_IO;
	/* SOCK_SEQPACKET sends a record whole or not at all. */
	return (size_t)n == m->num_bytes ? ZX_OK : ZX_ERR_IO;
}

static void close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int fidl_chan_recv(int sock, struct fidl_msg *m)
{
	fidl_msg_reset(m);
	struct iovec iov = { .iov_base = m->bytes, .iov_len = FIDL_MAX_MSG_BYTES };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * FIDL_MAX_MSG_HANDLES)];
	} ctl;
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? ZX_ERR_PEER_CLOSED : ZX_ERR_IO;

	/* Collect every fd that arrived before judging the message, so that
	 * each one is either handed over or closed. */
	int fds[FIDL_MAX_MSG_HANDLES];
	size_t nfds = 0;
	int status = ZX_OK;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			/* Credentials would be harmless, but nothing here
			 * asks for them, so their presence means a confused
			 * peer. */
			status = ZX_ERR_INVALID_ARGS;
			continue;
		}
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const unsigned char *p = CMSG_DATA(c);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, p + i * sizeof(int), sizeof(int));
			if (nfds < FIDL_MAX_MSG_HANDLES)
				fds[nfds++] = fd;
			else {
				close(fd); /* cannot happen with our buffer size */
				status = ZX_ERR_BUFFER_TOO_SMALL;
			}
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		status = ZX_ERR_BUFFER_TOO_SMALL;
	else if (n == 0 && nfds == 0 && status == ZX_OK)
		return ZX_ERR_PEER_CLOSED; /* end of stream: no FIDL message is empty */
	if (status != ZX_OK) {
		close_fds(fds, nfds);
		return status;
	}
	m->num_bytes = (uint32_t)n;
	m->num_handles = (uint32_t)nfds;
	memcpy(m->handles, fds, nfds * sizeof(int));
	return ZX_OK;
}

int fidl_chan_send_epitaph(int sock, int32_t status)
{
	struct fidl_msg *m = malloc(sizeof(*m));
	if (!m)
		return ZX_ERR_NO_MEMORY;
	struct fidl_enc e;
	fidl_enc_init(&e, m, 0, FIDL_EPITAPH_ORDINAL, 0);
	uint32_t b = fidl_enc_alloc(&e, 4);
	fidl_enc_i32(&e, b, status);
	int r = fidl_enc_finish(&e);
	if (r == ZX_OK)
		r = fidl_chan_send(sock, m);
	free(m);
	return r;
}

void fidl_chan_close_with_epitaph(int sock, int32_t status)
{
	fidl_chan_send_epitaph(sock, status);
	close(sock);
}
