/* vmm serve over a real channel (a socketpair) with the fake backend: the
 * lifecycle over FIDL, and the limit on channels bound through it. */
#include "testutil.h"
#include "lib/fake_hv.h"
#include "lib/mini_kernel.h"

#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/zx_status.h"
#include "launcher/lifecycle_client.h"
#include "vmm/serve.h"

static struct fake_hv_ctl ctl;
static int chan[2];
static pthread_t server;

static void *serve_main(void *arg)
{
	vmm_serve(chan[1], &hv_fake_ops, -1);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_binds_beyond_the_limit_are_duplicate_services, setup),
	};
	return cmocka_run_group_tests_name("serve", tests, NULL, NULL);
}
