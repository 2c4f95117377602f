/* tests/test_fidl_channel.c - fidl/channel.h over socketpair(AF_UNIX,
 * SOCK_SEQPACKET): messages with fds, the 64 KiB / 64 fd limits on both
 * sides (truncated data or control data closes whatever arrived), epitaphs,
 * and a vanished peer. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"
#include "lib/fds.h"
#include "fidl/channel.h"
#include "fidl/wire.h"

static struct fidl_msg M, R;

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static void test_send_recv_with_fds(void **state)
{
	int before = fds_open_count();
	int sv[2], p[2];
	pair(sv);
	assert_int_equal(pipe(p), 0);
	struct fidl_enc e;
	fidl_enc_init(&e, &M, 7, 0x1234, 0);
	uint32_t b = fidl_enc_alloc(&e, 8);
	fidl_enc_handle(&e, b, p[0]);
	fidl_enc_handle(&e, b + 4, p[1]);
	assert_int_equal(fidl_enc_finish(&e), ZX_OK);
	assert_int_equal(fidl_chan_send(sv[0], &M), ZX_OK);
	/* The sender still owns its fds: close them as a "move" would. */
	close(p[0]);
	close(p[1]);

	assert_int_equal(fidl_chan_recv(sv[1], &R), ZX_OK);
	assert_int_equal(R.num_bytes, M.num_bytes);
	assert_memory_equal(R.bytes, M.bytes, M.num_bytes);
	assert_int_equal(R.num_handles, 2);
	/* The received fds are the pipe's ends, close-on-exec. */
	assert_true(fcntl(R.handles[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(R.handles[1], "x", 1), 1);
	char c;
	assert_int_equal(read(R.handles[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	fidl_msg_close_handles(&R);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(fds_open_count(), before);
}

static void test_peer_closed(void **state)
{
	int sv[2];
	pair(sv);
	close(sv[0]);
	assert_int_equal(fidl_chan_recv(sv[1], &R), ZX_ERR_PEER_CLOSED);
	/* Sending to a closed peer reports it, without SIGPIPE. */
	fidl_msg_reset(&M);
	M.num_bytes = 16;
	memset(M.bytes, 0, 16);
	assert_int_equal(fidl_chan_send(sv[1], &M), ZX_ERR_PEER_CLOSED);
	close(sv[1]);
}

/* Send n fds (copies of one fd) with a 16-byte payload, bypassing the
 * library, as a hostile peer would. */
static void raw_send(int sock, size_t nbytes, int fd, size_t n)
{
	static uint8_t data[FIDL_MAX_MSG_BYTES + 64];
	struct iovec iov = { .iov_base = data, .iov_len = nbytes };
	size_t space = CMSG_SPACE(sizeof(int) * n);
	char *ctl = calloc(1, space ? space : 1);
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (n) {
		mh.msg_control = ctl;
		mh.msg_controllen = space;
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		for (size_t i = 0; i < n; i++)
			memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof(int));
	}
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)nbytes);
	free(ctl);
}

static void test_too_many_fds(void **state)
{
	int before = fds_open_count();
	int sv[2], p[2];
	pair(sv);
	assert_int_equal(pipe(p), 0);
	/* 64 fds is the limit and is fine ... */
	raw_send(sv[0], 16, p[0], 64);
	assert_int_equal(fidl_chan_recv(sv[1], &R), ZX_OK);
	assert_int_equal(R.num_handles, 64);
	fidl_msg_close_handles(&R);
	/* ... 65 truncates the control data: refused, every fd closed. */
	raw_send(sv[0], 16, p[0], 65);
	assert_int_equal(fidl_chan_recv(sv[1], &R), ZX_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(R.num_handles, 0);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(fds_open_count(), before);
}

static void test_too_many_bytes(void **state)
{
	int before = fds_open_count();
	int sv[2], p[2];
	pair(sv);
	int sz = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	assert_int_equal(pipe(p), 0);
	raw_send(sv[0], FIDL_MAX_MSG_BYTES, p[0], 1);
	assert_int_equal(fidl_chan_recv(sv[1], &R), ZX_OK);
	assert_int_equal(R.num_bytes, FIDL_MAX_MSG_BYTES);
	fidl_msg_close_handles(&R);
	raw_send(sv[0], FIDL_MAX_MSG_BYTES + 8, p[0], 1);
	assert_int_equal(fidl_chan_recv(sv[1], &R), ZX_ERR_BUFFER_TOO_SMALL);
	/* The channel stays usable for the next message. */
	raw_send(sv[0], 16, -1, 0);
	assert_int_equal(fidl_chan_recv(sv[1], &R), ZX_OK);
	assert_int_equal(R.num_bytes, 16);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(fds_open_count(), before);
}

static void test_send_limits(void **state)
{
	int sv[2];
	pair(sv);
	fidl_msg_reset(&M);
	M.num_bytes = 16;
	M.num_handles = FIDL_MAX_MSG_HANDLES + 1;
	assert_int_equal(fidl_chan_send(sv[0], &M), ZX_ERR_OUT_OF_RANGE);
	M.num_handles = 0;
	M.num_bytes = FIDL_MAX_MSG_BYTES + 1;
	assert_int_equal(fidl_chan_send(sv[0], &M), ZX_ERR_OUT_OF_RANGE);
	close(sv[0]);
	close(sv[1]);
}

static void test_epitaph(void **state)
{
	int sv[2];
	pair(sv);
	fidl_chan_close_with_epitaph(sv[0], ZX_ERR_NOT_SUPPORTED);
	assert_int_equal(fidl_chan_recv(sv[1], &R), ZX_OK);
	struct fidl_dec d;
	assert_int_equal(fidl_dec_init(&d, &R), ZX_OK);
	assert_true(d.hdr.ordinal == FIDL_EPITAPH_ORDINAL);
	assert_int_equal(d.hdr.txid, 0);
	int32_t st;
	assert_int_equal(fidl_dec_epitaph(&R, &st), ZX_OK);
	assert_int_equal(st, ZX_ERR_NOT_SUPPORTED);
	assert_int_equal(fidl_chan_recv(sv[1], &R), ZX_ERR_PEER_CLOSED);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_recv_with_fds),
		cmocka_unit_test(test_peer_closed),
		cmocka_unit_test(test_too_many_fds),
		cmocka_unit_test(test_too_many_bytes),
		cmocka_unit_test(test_send_limits),
		cmocka_unit_test(test_epitaph),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
