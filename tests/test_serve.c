/* vmm serve over a real channel (a socketpair) with the fake backend: the
 * lifecycle over FIDL, the limit on channels bound through it, and what bad
 * FIDL bytes do on each protocol served (the epitaph, the channel closed, the
 * message's handles closed). */
#include "testutil.h"
#include "lib/fake_hv.h"
#include "lib/mini_kernel.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/zx_status.h"
#include "fidl/channel.h"
#include "fidl/virtualization.h"
#include "launcher/lifecycle_client.h"
#include "vmm/serve.h"

static struct fake_hv_ctl ctl;
static int chan[2];
static pthread_t server;

static int serve_rc;

static void *serve_main(void *arg)
{
	serve_rc = vmm_serve(chan[1], &hv_fake_ops, -1);
	return NULL;
}

static int setup(void **s)
{
	fake_hv_reset(&ctl);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan), 0);
	assert_int_equal(pthread_create(&server, NULL, serve_main, NULL), 0);
	return 0;
}

static void test_binds_beyond_the_limit_are_duplicate_services(void **s)
{
	struct lc_client c;
	lcc_attach(&c, chan[0]);
	struct guest_config cfg;
	gc_init(&cfg);
	cfg.kernel_fd = mini_pvh_kernel();
	cfg.has_guest_memory = true;
	cfg.guest_memory = 16 << 20;
	enum guest_error e;
	assert_int_equal(lcc_create(&c, &cfg, &e), ZX_OK);
	gc_free(&cfg);
	assert_int_equal(e, GUEST_OK);
	int guests[17];
	unsigned ok = 0;
	for (unsigned i = 0; i < 17; i++) {
		assert_int_equal(lcc_bind(&c, &guests[i], &e), ZX_OK);
		if (e == GUEST_OK)
			ok++;
		else
			assert_int_equal(e, GUEST_ERR_DUPLICATE_PUBLIC_SERVICES);
	}
	/* The vmm serves 16 bound channels; the 17th is refused, not dropped silently. */
	assert_int_equal(ok, 16);
	assert_int_equal(guests[16], -1);
	/* Closing the lifecycle channel ends the server. */
	lcc_close(&c);
	pthread_join(server, NULL);
	for (unsigned i = 0; i < 16; i++)
		close(guests[i]);
}

/* Create a guest with a balloon and vsock, so that every protocol the vmm
 * serves can be reached. */
static void create_guest(struct lc_client *c)
{
	lcc_attach(c, chan[0]);
	struct guest_config cfg;
	gc_init(&cfg);
	cfg.kernel_fd = mini_pvh_kernel();
	cfg.has_guest_memory = true;
	cfg.guest_memory = 16 << 20;
	cfg.has_virtio_balloon = cfg.virtio_balloon = true;
	cfg.has_virtio_vsock = cfg.virtio_vsock = true;
	enum guest_error e;
	assert_int_equal(lcc_create(c, &cfg, &e), ZX_OK);
	gc_free(&cfg);
	assert_int_equal(e, GUEST_OK);
}

/* A fresh channel of the protocol that ordinal get hands over (0: a Guest
 * channel itself). */
static int open_channel(struct lc_client *c, uint64_t get)
{
	int guest;
	enum guest_error e;
	assert_int_equal(lcc_bind(c, &guest, &e), ZX_OK);
	assert_int_equal(e, GUEST_OK);
	if (get == 0)
		return guest;
	int ends[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends), 0);
	int r = get == FV_ORD_GUEST_GET_BALLOON_CONTROLLER ? guest_client_get_balloon(guest, ends[1], &e)
	                                                   : guest_client_get_vsock(guest, ends[1], &e);
	assert_int_equal(r, ZX_OK);
	assert_int_equal(e, GUEST_OK);
	close(guest);
	return ends[0];
}

/* The next thing on fd is the epitaph want, and then the end of the channel. */
static void expect_epitaph(int fd, int32_t want)
{
	struct fidl_msg m;
	int32_t status;
	assert_int_equal(fidl_chan_recv(fd, &m), ZX_OK);
	assert_int_equal(fidl_dec_epitaph(&m, &status), ZX_OK);
	assert_int_equal(status, want);
	assert_int_equal(fidl_chan_recv(fd, &m), ZX_ERR_PEER_CLOSED);
}

/* The bad messages every protocol gets, and the epitaph each earns. */
enum bad { BAD_SHORT, BAD_MAGIC, BAD_ORDINAL, BAD_BODY, BAD_COUNT };
static const int32_t bad_epitaph[BAD_COUNT] = {
	[BAD_SHORT] = ZX_ERR_INVALID_ARGS,
	[BAD_MAGIC] = ZX_ERR_PROTOCOL_NOT_SUPPORTED,
	[BAD_ORDINAL] = ZX_ERR_NOT_SUPPORTED,
	[BAD_BODY] = ZX_ERR_INVALID_ARGS,
};

/* Send bad message kind k on fd, carrying the write end of a pipe whose
 * read end is returned: it reads end-of-file once the vmm has closed the
 * handle. method is one of the protocol's methods whose body is not a
 * single handle, so that a handle makes its body malformed. */
static int send_bad(int fd, enum bad k, uint64_t method)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	struct fidl_msg m;
	uint64_t ordinal = k == BAD_ORDINAL ? 0x1234567812345678ull : method;
	assert_int_equal(fv_enc_handle_body(&m, 1, ordinal, p[1]), ZX_OK);
	if (k == BAD_SHORT)
		m.num_bytes = 8;
	if (k == BAD_MAGIC)
		m.bytes[7] = 0;
	assert_int_equal(fidl_chan_send(fd, &m), ZX_OK);
	close(p[1]);
	return p[0];
}

static void expect_closed_handle(int rd)
{
	char b;
	assert_int_equal(read(rd, &b, 1), 0);
	close(rd);
}

static void test_bad_messages_close_each_served_channel_with_its_epitaph(void **s)
{
	struct lc_client c;
	create_guest(&c);
	static const struct {
		uint64_t get; /* how the channel is obtained (0: Bind) */
		uint64_t method;
	} protocols[] = {
		{ 0, FV_ORD_GUEST_GET_SERIAL },
		{ FV_ORD_GUEST_GET_BALLOON_CONTROLLER, FV_ORD_BALLOON_GET_BALLOON_SIZE },
		{ FV_ORD_GUEST_GET_HOST_VSOCK_ENDPOINT, FV_ORD_VSOCK_CONNECT },
	};
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++) {
		for (enum bad k = 0; k < BAD_COUNT; k++) {
			int fd = open_channel(&c, protocols[i].get);
			int rd = send_bad(fd, k, protocols[i].method);
			expect_epitaph(fd, bad_epitaph[k]);
			expect_closed_handle(rd);
			close(fd);
		}
	}
	/* The lifecycle channel still works: nothing above touched it. */
	close(open_channel(&c, 0));
	lcc_close(&c);
	pthread_join(server, NULL);
	assert_int_equal(serve_rc, 0);
}

/* On the lifecycle channel a bad message ends the vmm: epitaph, then the
 * server returns 1. */
static void test_bad_lifecycle_message_ends_the_server(void **s)
{
	for (enum bad k = 0; k < BAD_COUNT; k++) {
		setup(s);
		int rd = send_bad(chan[0], k, FV_ORD_LIFECYCLE_RUN);
		expect_epitaph(chan[0], bad_epitaph[k]);
		expect_closed_handle(rd);
		pthread_join(server, NULL);
		assert_int_equal(serve_rc, 1);
		close(chan[0]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_binds_beyond_the_limit_are_duplicate_services, setup),
		cmocka_unit_test_setup(test_bad_messages_close_each_served_channel_with_its_epitaph, setup),
		cmocka_unit_test(test_bad_lifecycle_message_ends_the_server),
	};
	return cmocka_run_group_tests_name("serve", tests, NULL, NULL);
}
