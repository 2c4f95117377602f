/* Isolation, proven: the audit on live vmm instances (clean, and with a
 * deliberately shared stateful image and a stray hypervisor handle), and
 * hostile GuestManager clients that must not disturb the manager, its guest
 * or the launcher. */
#include "test_guest_tool_env.h"

#include <sys/socket.h>
#include <sys/un.h>

#include "fidl/channel.h"
#include "fidl/virtualization.h"
#include "launcher/lifecycle_client.h"

static char out[32768];

static void test_three_instances_pass_audit(void **s)
{
	if (!env_have_kvm())
		SKIP_BECAUSE("/dev/kvm cannot be opened here: guests cannot run");
	env_start();
	env_hlt_kernel();
	static const char *const names[] = { "g1", "g2", "g3" };
	for (int i = 0; i < 3; i++)
		assert_int_equal(env_guest(out, sizeof(out), 30000, "launch", "--name", names[i],
		                           "hlt", NULL), 0);
	assert_true(env_wait_collection(3, 5000));
	int r = env_guest(out, sizeof(out), 20000, "audit", "-v", "--collection", E.coll, NULL);
	if (!env_audit_ok(r, out))
		fail_msg("audit of 3 instances failed (%d):\n%s", r, out);
	assert_non_null(strstr(out, "audit: 3 vmm instance(s)"));
	assert_non_null(strstr(out, "shared by design: the hypervisor device"));
	/* The package's kernel is opened read-only by each: allowed, listed. */
	assert_non_null(strstr(out, "shared read-only (allowed): regular file"));
	assert_null(strstr(out, "shared-writable"));
	/* Each instance got its own stateful image. */
	for (int i = 0; i < 3; i++) {
		char img[256];
		snprintf(img, sizeof(img), "%s/vmm/%s/stateful.img", E.data, names[i]);
		assert_int_equal(access(img, F_OK), 0);
	}
}

/* Two instances handed the same READ_WRITE file (bypassing the managers,
 * which would refuse: the image is locked) must be caught. */
static void test_shared_stateful_image_caught(void **s)
{
	if (!env_have_kvm())
		SKIP_BECAUSE("/dev/kvm cannot be opened here: guests cannot run");
	env_start();
	char shared[256];
	snprintf(shared, sizeof(shared), "%s/shared-stateful.img", E.dir);
	int f = open(shared, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(f >= 0);
	assert_int_equal(ftruncate(f, 1 << 20), 0);
	close(f);
	struct lc_client c[2];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(lcc_connect(&c[i], E.sock), 0);
		struct guest_config cfg;
		gc_init(&cfg);
		cfg.kernel_fd = mini_pvh_kernel();
		cfg.has_guest_memory = true;
		cfg.guest_memory = 16 << 20;
		cfg.block_devices = calloc(1, sizeof(*cfg.block_devices));
		cfg.n_block_devices = 1;
		cfg.has_block_devices = true;
		strcpy(cfg.block_devices[0].id, "stateful");
		cfg.block_devices[0].mode = BLOCK_READ_WRITE;
		cfg.block_devices[0].fd = open(shared, O_RDWR | O_CLOEXEC);
		enum guest_error e;
		assert_int_equal(lcc_create(&c[i], &cfg, &e), ZX_OK);
		gc_free(&cfg);
		assert_int_equal(e, GUEST_OK);
	}
	assert_true(env_wait_collection(2, 5000));
	int r = env_guest(out, sizeof(out), 20000, "audit", "--collection", E.coll, NULL);
	assert_int_equal(r, 1);
	char want[512];
	snprintf(want, sizeof(want), "VIOLATION shared-writable: regular file %s", shared);
	if (!strstr(out, want))
		fail_msg("the audit missed the shared image:\n%s", out);
	assert_non_null(strstr(out, "(read-write)"));
	for (int i = 0; i < 2; i++)
		lcc_close(&c[i]);
	assert_true(env_wait_collection(0, 10000));
}

static void test_hypervisor_outside_collection_caught(void **s)
{
	if (!env_have_kvm())
		SKIP_BECAUSE("/dev/kvm cannot be opened here");
	env_start();
	env_hlt_kernel();
	assert_int_equal(env_guest(out, sizeof(out), 30000, "launch", "hlt", NULL), 0);
	assert_true(env_wait_collection(1, 5000));
	/* This test process is outside the collection: holding the hypervisor
	 * device makes it a violation. */
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	assert_true(kvm >= 0);
	int r = env_guest(out, sizeof(out), 20000, "audit", "--collection", E.coll, NULL);
	close(kvm);
	assert_int_equal(r, 1);
	char want[128];
	snprintf(want, sizeof(want), "VIOLATION hypervisor-outside-collection: pid %d ",
	         (int)getpid());
	if (!strstr(out, want))
		fail_msg("the audit missed this process's /dev/kvm:\n%s", out);
	assert_null(strstr(out, "shared-writable"));
}

static void test_audit_without_collection_fails(void **s)
{
	env_start();
	assert_int_equal(env_guest(out, sizeof(out), 5000, "audit", "--collection",
	                           "/nonexistent/collection", NULL), 2);
	assert_non_null(strstr(out, "cannot read the collection"));
}

/* ---- hostile GuestManager clients ------------------------------------- */

static int manager_sock(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[300];
	snprintf(path, sizeof(path), "%s/vmm/%s.sock", E.run, name);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* The next message on fd must be an epitaph, then end of stream. */
static int32_t expect_epitaph(int fd, struct fidl_msg *m)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(fidl_chan_recv(fd, m), ZX_OK);
	struct fidl_dec d;
	assert_int_equal(fidl_dec_init(&d, m), ZX_OK);
	assert_true(d.hdr.ordinal == FIDL_EPITAPH_ORDINAL);
	int32_t st = (int32_t)fidl_dec_u32(&d, fidl_dec_primary(&d, 8));
	assert_int_equal(fidl_chan_recv(fd, m), ZX_ERR_PEER_CLOSED);
	close(fd);
	return st;
}

static void test_hostile_manager_clients(void **s)
{
	if (!env_have_kvm())
		SKIP_BECAUSE("/dev/kvm cannot be opened here: guests cannot run");
	env_start();
	env_hlt_kernel();
	assert_int_equal(env_guest(out, sizeof(out), 30000, "launch", "victim", "--name", "victim",
	                           NULL), 2); /* options after the package: usage */
	assert_int_equal(env_guest(out, sizeof(out), 30000, "launch", "--name", "victim", "hlt",
	                           NULL), 0);
	assert_true(env_wait_collection(1, 5000));
	pid_t vmm = env_collection_pid(0);
	struct fidl_msg *m = malloc(sizeof(*m));
	assert_non_null(m);

	/* Garbage. */
	int fd = manager_sock("victim");
	assert_int_equal(send(fd, "hello", 5, 0), 5);
	assert_true(expect_epitaph(fd, m) != ZX_OK);
	/* An unknown method. */
	fd = manager_sock("victim");
	assert_int_equal(fv_enc_empty(m, 9, 0x0123456789abcdefull), ZX_OK);
	assert_int_equal(fidl_chan_send(fd, m), ZX_OK);
	assert_int_equal(expect_epitaph(fd, m), ZX_ERR_NOT_SUPPORTED);
	/* Extra fds on a method that takes none. */
	fd = manager_sock("victim");
	assert_int_equal(fv_enc_empty(m, 10, FV_ORD_MANAGER_GET_INFO), ZX_OK);
	int extra = open("/dev/null", O_RDONLY | O_CLOEXEC);
	m->handles[0] = m->handles[1] = extra;
	m->num_handles = 2;
	assert_int_equal(fidl_chan_send(fd, m), ZX_OK);
	close(extra);
	assert_int_equal(expect_epitaph(fd, m), ZX_ERR_INVALID_ARGS);
	/* Oversized: more than a channel message may carry. */
	fd = manager_sock("victim");
	size_t big = 70000;
	char *junk = calloc(1, big);
	assert_int_equal(send(fd, junk, big, 0), (ssize_t)big);
	free(junk);
	assert_true(expect_epitaph(fd, m) != ZX_OK);
	/* A truncated Launch body. */
	fd = manager_sock("victim");
	assert_int_equal(fv_enc_empty(m, 11, FV_ORD_MANAGER_LAUNCH), ZX_OK);
	assert_int_equal(fidl_chan_send(fd, m), ZX_OK);
	assert_int_equal(expect_epitaph(fd, m), ZX_ERR_INVALID_ARGS);

	/* Out of order and overreaching calls get errors on a live channel. */
	struct lc_client c;
	char sock[256];
	snprintf(sock, sizeof(sock), "%s/vmm/victim.sock", E.run);
	assert_int_equal(lcc_connect(&c, sock), 0);
	c.call_timeout_ms = 10000;
	struct fidl_dec d;
	struct fv_result res;
	/* Launch while running: ALREADY_RUNNING. */
	struct guest_config u;
	gc_init(&u);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fv_enc_launch_req(m, lcc_txid(&c), &u, sv[1]), ZX_OK);
	assert_int_equal(lcc_call(&c, m, &d), ZX_OK);
	assert_int_equal(fv_dec_result(&d, FV_ERR_MANAGER_ERROR, false, &res), ZX_OK);
	assert_int_equal(res.which, FIDL_RESULT_ERR);
	assert_int_equal(res.err, FV_MANAGER_ALREADY_RUNNING);
	close(sv[0]);
	close(sv[1]);
	/* Connect works and gives a Guest channel to the vmm. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fv_enc_handle_body(m, lcc_txid(&c), FV_ORD_MANAGER_CONNECT, sv[1]), ZX_OK);
	assert_int_equal(lcc_call(&c, m, &d), ZX_OK);
	close(sv[1]);
	assert_int_equal(fv_dec_result(&d, FV_ERR_MANAGER_ERROR, false, &res), ZX_OK);
	assert_int_equal(res.which, FIDL_RESULT_RESPONSE);
	int serial;
	assert_int_equal(guest_client_get_serial(sv[0], &serial), ZX_OK);
	close(serial);
	close(sv[0]);
	lcc_close(&c);

	/* A second, never-launched guest: calls before Launch. */
	assert_int_equal(env_guest(out, sizeof(out), 30000, "launch", "--name", "fresh",
	                           "nosuchpkg", NULL), 1);
	env_package("nofile", "kernel = /nonexistent\n");
	assert_int_equal(env_guest(out, sizeof(out), 30000, "launch", "--name", "fresh", "nofile",
	                           NULL), 1);
	snprintf(sock, sizeof(sock), "%s/vmm/fresh.sock", E.run);
	assert_int_equal(lcc_connect(&c, sock), 0);
	c.call_timeout_ms = 10000;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fv_enc_handle_body(m, lcc_txid(&c), FV_ORD_MANAGER_CONNECT, sv[1]), ZX_OK);
	assert_int_equal(lcc_call(&c, m, &d), ZX_OK);
	close(sv[1]);
	close(sv[0]);
	assert_int_equal(fv_dec_result(&d, FV_ERR_MANAGER_ERROR, false, &res), ZX_OK);
	assert_int_equal(res.err, FV_MANAGER_NOT_RUNNING);
	/* ForceShutdown of nothing answers. */
	assert_int_equal(fv_enc_empty(m, lcc_txid(&c), FV_ORD_MANAGER_FORCE_SHUTDOWN), ZX_OK);
	assert_int_equal(lcc_call(&c, m, &d), ZX_OK);
	assert_int_equal(fv_dec_empty(&d), ZX_OK);
	/* A launch config smuggling a kernel: the manager owns the files. */
	gc_init(&u);
	u.kernel_fd = mini_pvh_kernel();
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fv_enc_launch_req(m, lcc_txid(&c), &u, sv[1]), ZX_OK);
	assert_int_equal(lcc_call(&c, m, &d), ZX_OK);
	close(sv[0]);
	close(sv[1]);
	gc_free(&u);
	assert_int_equal(fv_dec_result(&d, FV_ERR_MANAGER_ERROR, false, &res), ZX_OK);
	assert_int_equal(res.err, FV_MANAGER_BAD_CONFIG);
	lcc_close(&c);

	/* Everyone survived: the manager, its guest and vmm, the launcher. */
	assert_int_equal(env_guest(out, sizeof(out), 10000, "info", "victim", NULL), 0);
	assert_non_null(strstr(out, "status: RUNNING"));
	assert_int_equal(env_count_collection(), 1);
	assert_int_equal(env_collection_pid(0), vmm);
	assert_int_equal(kill(E.launcher, 0), 0);
	int r = env_guest(out, sizeof(out), 20000, "audit", "--collection", E.coll, NULL);
	if (!env_audit_ok(r, out))
		fail_msg("audit after the hostile clients (%d):\n%s", r, out);
	free(m);
}

#define T(f) cmocka_unit_test_teardown(f, env_stop)
int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		T(test_three_instances_pass_audit),
		T(test_shared_stateful_image_caught),
		T(test_hypervisor_outside_collection_caught),
		T(test_audit_without_collection_fails),
		T(test_hostile_manager_clients),
	};
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
