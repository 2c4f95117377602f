/* vmm_launcher end to end: a real launcher process spawning real vmm
 * processes, driven over FIDL by the session-side client. */
#include "testutil.h"
#include "lib/build_path.h"
#include "lib/mini_kernel.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fidl/channel.h"
#include "fidl/ordinal.h"
#include "fidl/virtualization.h"
#include "launcher/lifecycle_client.h"

static char dir[64], sock_path[128], coll_path[128];
static pid_t launcher_pid = -1;

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void start_launcher(bool explicit_mode)
{
	strcpy(dir, "/tmp/vmm-launcher-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/launcher.sock", dir);
	snprintf(coll_path, sizeof(coll_path), "%s/collection", dir);
	char launcher[4096], vmm[4096];
	build_path(launcher, sizeof(launcher), "vmm_launcher");
	build_path(vmm, sizeof(vmm), "vmm");
	launcher_pid = fork();
	assert_true(launcher_pid >= 0);
	if (launcher_pid == 0) {
		char *argv[] = { launcher, "--socket", sock_path, "--vmm", vmm, "--collection",
		                 coll_path, explicit_mode ? "--explicit" : "-v", "-v", NULL };
		execv(launcher, argv);
		_exit(127);
	}
	/* Bounded wait for the socket to accept connections. */
	for (long long t0 = now_ms(); now_ms() - t0 < 5000;) {
		struct lc_client c;
		if (access(sock_path, F_OK) == 0 && !explicit_mode) {
			/* A connection would spawn a vmm; the file is enough. */
			return;
		}
		if (explicit_mode && lcc_connect(&c, sock_path) == 0) {
			lcc_close(&c);
			return;
		}
		usleep(10000);
	}
	fail_msg("vmm_launcher did not start listening within 5 s");
}

static int count_collection(void)
{
	FILE *f = fopen(coll_path, "r");
	if (!f)
		return -1;
	int n = 0, pid;
	while (fscanf(f, "%d", &pid) == 1)
		n++;
	fclose(f);
	return n;
}

static bool wait_collection(int n, int ms)
{
	for (long long t0 = now_ms(); now_ms() - t0 < ms;) {
		if (count_collection() == n)
			return true;
		usleep(10000);
	}
	return false;
}

static int stop_launcher(void **s)
{
	if (launcher_pid > 0) {
		kill(launcher_pid, SIGTERM);
		int status = -1;
		for (long long t0 = now_ms(); now_ms() - t0 < 10000;) {
			if (waitpid(launcher_pid, &status, WNOHANG) == launcher_pid)
				break;
			usleep(10000);
		}
		if (!WIFEXITED(status)) {
			kill(launcher_pid, SIGKILL);
			waitpid(launcher_pid, NULL, 0);
			fail_msg("vmm_launcher did not exit within 10 s of SIGTERM");
		}
		assert_int_equal(WEXITSTATUS(status), 0);
		launcher_pid = -1;
	}
	unlink(coll_path);
	rmdir(dir);
	return 0;
}

static bool have_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void config_with(struct guest_config *c, int kernel_fd, unsigned cpus)
{
	gc_init(c);
	c->kernel_fd = kernel_fd;
	c->has_cpus = true;
	c->cpus = (uint8_t)cpus;
	c->has_guest_memory = true;
	c->guest_memory = 32ull << 20;
	c->cmdline = strdup("launched");
}

static void test_lifecycle_rules_over_the_wire(void **s)
{
	start_launcher(false);
	struct lc_client c;
	assert_int_equal(lcc_connect(&c, sock_path), 0);
	assert_true(wait_collection(1, 5000));
	enum guest_error e;
	/* Run before Create. */
	assert_int_equal(lcc_run_start(&c), ZX_OK);
	assert_int_equal(lcc_run_wait(&c, 5000, &e), ZX_OK);
	assert_int_equal(e, GUEST_ERR_NOT_CREATED);
	/* Bind before Create: refused, the Guest channel closed. */
	int guest;
	assert_int_equal(lcc_bind(&c, &guest, &e), ZX_OK);
	assert_int_equal(e, GUEST_ERR_NOT_CREATED);
	assert_int_equal(guest, -1);
	/* A bad config. */
	struct guest_config cfg;
	config_with(&cfg, mini_pvh_kernel(), 0);
	assert_int_equal(lcc_create(&c, &cfg, &e), ZX_OK);
	assert_int_equal(e, GUEST_ERR_BAD_CONFIG);
	gc_free(&cfg);
	/* Stop on nothing answers. */
	assert_int_equal(lcc_stop(&c), ZX_OK);
	/* Closing the channel ends that vmm. */
	lcc_close(&c);
	assert_true(wait_collection(0, 5000));
}

static void test_hostile_client_gets_epitaph_launcher_survives(void **s)
{
	start_launcher(false);
	struct lc_client bad, good;
	assert_int_equal(lcc_connect(&bad, sock_path), 0);
	/* Garbage: too short to be a FIDL message. */
	assert_int_equal(send(bad.fd, "hello", 5, 0), 5);
	struct pollfd p = { .fd = bad.fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 5000), 1);
	struct fidl_msg *m = malloc(sizeof(*m));
	assert_int_equal(fidl_chan_recv(bad.fd, m), ZX_OK);
	struct fidl_dec d;
	assert_int_equal(fidl_dec_init(&d, m), ZX_OK);
	assert_true(d.hdr.ordinal == FIDL_EPITAPH_ORDINAL);
	/* Then the vmm is gone. */
	assert_int_equal(fidl_chan_recv(bad.fd, m), ZX_ERR_PEER_CLOSED);
	lcc_close(&bad);
	/* An unknown method: epitaph NOT_SUPPORTED. */
	assert_int_equal(lcc_connect(&bad, sock_path), 0);
	assert_int_equal(fv_enc_empty(m, 7, 0x1234567812345678ull), ZX_OK);
	assert_int_equal(fidl_chan_send(bad.fd, m), ZX_OK);
	assert_int_equal(fidl_chan_recv(bad.fd, m), ZX_OK);
	assert_int_equal(fidl_dec_init(&d, m), ZX_OK);
	assert_true(d.hdr.ordinal == FIDL_EPITAPH_ORDINAL);
	assert_int_equal((int32_t)fidl_dec_u32(&d, fidl_dec_primary(&d, 8)), ZX_ERR_NOT_SUPPORTED);
	lcc_close(&bad);
	/* The launcher still serves. */
	assert_int_equal(lcc_connect(&good, sock_path), 0);
	enum guest_error e;
	assert_int_equal(lcc_run_start(&good), ZX_OK);
	assert_int_equal(lcc_run_wait(&good, 5000, &e), ZX_OK);
	assert_int_equal(e, GUEST_ERR_NOT_CREATED);
	lcc_close(&good);
	free(m);
	assert_true(wait_collection(0, 5000));
}

static void test_explicit_mode_launch(void **s)
{
	start_launcher(true);
	struct lc_client l;
	assert_int_equal(lcc_connect(&l, sock_path), 0);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	struct fidl_msg *m = malloc(sizeof(*m));
	uint64_t ord = fidl_method_ordinal("fuchsia.virtualization/VmmLauncher.Launch");
	assert_int_equal(fv_enc_handle_body(m, 0, ord, sv[1]), ZX_OK);
	assert_int_equal(fidl_chan_send(l.fd, m), ZX_OK);
	close(sv[1]);
	struct lc_client c;
	lcc_attach(&c, sv[0]);
	enum guest_error e;
	assert_int_equal(lcc_run_start(&c), ZX_OK);
	assert_int_equal(lcc_run_wait(&c, 5000, &e), ZX_OK);
	assert_int_equal(e, GUEST_ERR_NOT_CREATED);
	assert_true(wait_collection(1, 5000));
	lcc_close(&c);
	assert_true(wait_collection(0, 5000));
	/* An unknown VmmLauncher method closes that client with an epitaph. */
	assert_int_equal(fv_enc_empty(m, 3, 42), ZX_OK);
	assert_int_equal(fidl_chan_send(l.fd, m), ZX_OK);
	assert_int_equal(fidl_chan_recv(l.fd, m), ZX_OK);
	struct fidl_dec d;
	assert_int_equal(fidl_dec_init(&d, m), ZX_OK);
	assert_true(d.hdr.ordinal == FIDL_EPITAPH_ORDINAL);
	lcc_close(&l);
	free(m);
}

/* Read the serial socket until `want` appears or ms pass. */
static bool serial_until(int sock, const char *want, char *buf, size_t len, int ms)
{
	size_t have = 0;
	buf[0] = '\0';
	for (long long t0 = now_ms(); now_ms() - t0 < ms;) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		if (poll(&p, 1, 100) == 1) {
			ssize_t n = read(sock, buf + have, len - 1 - have);
			if (n <= 0)
				break;
			have += (size_t)n;
			buf[have] = '\0';
			if (strstr(buf, want))
				return true;
		}
	}
	return strstr(buf, want) != NULL;
}

static void test_two_guests_on_kvm(void **s)
{
	if (!have_kvm())
		SKIP_BECAUSE("/dev/kvm cannot be opened here: guests cannot run");
	start_launcher(false);
	char guest_elf[4096];
	build_path(guest_elf, sizeof(guest_elf), "test-guest/hello.elf");
	struct lc_client c[2];
	int serial[2];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(lcc_connect(&c[i], sock_path), 0);
		struct guest_config cfg;
		int k = open(guest_elf, O_RDONLY | O_CLOEXEC);
		assert_true(k >= 0);
		config_with(&cfg, k, (unsigned)i + 1);
		enum guest_error e;
		assert_int_equal(lcc_create(&c[i], &cfg, &e), ZX_OK);
		gc_free(&cfg);
		assert_int_equal(e, GUEST_OK);
		int guest;
		assert_int_equal(lcc_bind(&c[i], &guest, &e), ZX_OK);
		assert_int_equal(e, GUEST_OK);
		assert_int_equal(guest_client_get_serial(guest, &serial[i]), ZX_OK);
		assert_true(serial[i] >= 0);
		int console;
		assert_int_equal(guest_client_get_console(guest, &console, &e), ZX_OK);
		assert_int_equal(e, GUEST_ERR_DEVICE_NOT_PRESENT);
		close(guest);
	}
	assert_true(wait_collection(2, 5000));
	for (int i = 0; i < 2; i++)
		assert_int_equal(lcc_run_start(&c[i]), ZX_OK);
	for (int i = 0; i < 2; i++) {
		char out[4096];
		if (!serial_until(serial[i], "shutdown", out, sizeof(out), 30000))
			fail_msg("guest %d serial:\n%s", i, out);
		char want[32];
		snprintf(want, sizeof(want), "all %d vcpus up", i + 1);
		assert_non_null(strstr(out, want));
		assert_non_null(strstr(out, "cmdline: launched"));
		enum guest_error e;
		assert_int_equal(lcc_run_wait(&c[i], 30000, &e), ZX_OK);
		assert_int_equal(e, GUEST_OK);
		close(serial[i]);
		lcc_close(&c[i]);
	}
	assert_true(wait_collection(0, 5000));
}

static void test_client_killed_leaves_no_guest(void **s)
{
	if (!have_kvm())
		SKIP_BECAUSE("/dev/kvm cannot be opened here: guests cannot run");
	start_launcher(false);
	/* A client process that creates a guest and runs it, then dies. The guest
	 * (a hlt loop: it never shuts down by itself) must go with it. */
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct lc_client c;
		if (lcc_connect(&c, sock_path) != 0)
			_exit(2);
		struct guest_config cfg;
		config_with(&cfg, mini_pvh_kernel(), 1);
		enum guest_error e;
		if (lcc_create(&c, &cfg, &e) != ZX_OK || e != GUEST_OK)
			_exit(3);
		lcc_run_start(&c);
		pause();
		_exit(0);
	}
	assert_true(wait_collection(1, 5000));
	usleep(200000);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (!wait_collection(0, 10000))
		fail_msg("the vmm outlived its killed client by 10 s");
}

#define T(f) cmocka_unit_test_teardown(f, stop_launcher)
int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		T(test_lifecycle_rules_over_the_wire),
		T(test_hostile_client_gets_epitaph_launcher_survives),
		T(test_explicit_mode_launch),
		T(test_two_guests_on_kvm),
		T(test_client_killed_leaves_no_guest),
	};
	return cmocka_run_group_tests_name("launcher", tests, NULL, NULL);
}
