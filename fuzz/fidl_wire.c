/* fuzz/fidl_wire.c - any message through the generic FIDL decoder
 * (fidl/decode.c) and one of every fuchsia.virtualization body decoder.
 *
 * Input: byte 0 picks the decoder, byte 1's low 2 bits the number of
 * handles (read-only fds), then the message. Oracle: no crash, no fd leaked
 * (the decoder closes what it does not hand over), outputs freed cleanly. */
#include "harness.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fidl/virtualization.h"
#include "base/log.h"

static struct fidl_msg msg;

void fuzz_init(void)
{
	log_set_level(LOG_ERROR);
}

static int lowest_free_fd(void)
{
	int fd = dup(0);
	close(fd);
	return fd;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void decode(struct fidl_dec *d, unsigned which)
{
	struct guest_config c;
	struct fv_result r = { .fd = -1 };
	struct fv_guest_info gi;
	int fd = -1;
	uint32_t a, b, x;
	int32_t st;
	bool present;
	struct fv_mem_stat *stats = NULL;
	size_t n = 0;
	switch (which % 13) {
	case 0: fv_dec_empty(d); break;
	case 1: fv_dec_handle_body(d, &fd); break;
	case 2: fv_dec_u32_body(d, &a); break;
	case 3: fv_dec_result(d, FV_ERR_GUEST_ERROR, false, &r); break;
	case 4: fv_dec_result(d, FV_ERR_ZX_STATUS, true, &r); break;
	case 5: fv_dec_result(d, FV_ERR_MANAGER_ERROR, false, &r); break;
	case 6: gc_init(&c); fv_dec_create_req(d, &c); gc_free(&c); break;
	case 7: gc_init(&c); fv_dec_launch_req(d, &c, &fd); gc_free(&c); break;
	case 8: fv_dec_listen_req(d, &a, &fd); break;
	case 9: fv_dec_accept_req(d, &a, &b, &x); break;
	case 10: fv_dec_balloon_size_resp(d, &a, &b); break;
	case 11: fv_dec_mem_stats_resp(d, &st, &present, &stats, &n); free(stats); break;
	case 12: fv_guest_info_init(&gi); fv_dec_guest_info_resp(d, &gi); fv_guest_info_free(&gi); break;
	}
	close_fd(fd);
	close_fd(r.fd);
}

void fuzz_one(const uint8_t *data, size_t len)
{
	if (len < 2)
		return;
	unsigned nh = data[1] & 3;
	size_t blen = len - 2 > FIDL_MAX_MSG_BYTES ? FIDL_MAX_MSG_BYTES : len - 2;
	int before = lowest_free_fd();
	fidl_msg_reset(&msg);
	memcpy(msg.bytes, data + 2, blen);
	msg.num_bytes = (uint32_t)blen;
	msg.num_handles = nh;
	for (unsigned i = 0; i < nh; i++)
		msg.handles[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct fidl_dec d;
	if (fidl_dec_init(&d, &msg) == ZX_OK)
		decode(&d, data[0]);
	fidl_msg_close_handles(&msg);
	int after = lowest_free_fd();
	if (after != before)
		fuzz_fail("fd leak: lowest free fd %d before, %d after", before, after);
}
