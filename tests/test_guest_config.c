/* tests/test_guest_config.c - gc_validate, one test per rule, plus defaults,
 * gc_full_cmdline and gc_free. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"
#include "api/guest_config.h"
#include "vmm/guest_config_check.h"

#define MAXV 8

/* Smallest file loader_detect calls a bzImage; or a ZBI container header. */
static int kernel_fd(bool zbi)
{
	uint8_t b[0x300];
	memset(b, 0, sizeof(b));
	if (zbi) {
		const uint32_t h[8] = { 0x544f4f42u, 0, 0x868cf7e6u, 0x00010000u, 0, 0,
		                        0xb5781729u, 0 };
		memcpy(b, h, sizeof(h));
	} else {
		b[0x1fe] = 0x55;
		b[0x1ff] = 0xaa;
		memcpy(b + 0x202, "HdrS", 4);
	}
	int fd = memfd_create("k", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, sizeof(b)), (ssize_t)sizeof(b));
	return fd;
}

static int rw_fd(void)
{
	int fd = memfd_create("blk", MFD_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static char **strv(size_t n, const char *s)
{
	char **v = calloc(n, sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		v[i] = strdup(s);
	return v;
}

/* A config that uses every supported field. */
static void good(struct guest_config *c)
{
	gc_init(c);
	c->kernel_fd = kernel_fd(false);
	c->has_kernel_type = true;
	c->kernel_type = KERNEL_LINUX;
	c->cmdline = strdup("console=ttyS0");
	c->cmdline_add = strv(2, "quiet");
	c->n_cmdline_add = 2;
	c->has_cmdline_add = true;
	c->has_cpus = true;
	c->cpus = 2;
	c->has_guest_memory = true;
	c->guest_memory = 256ull << 20;
	c->block_devices = calloc(2, sizeof(*c->block_devices));
	c->n_block_devices = 2;
	c->has_block_devices = true;
	for (int i = 0; i < 2; i++) {
		snprintf(c->block_devices[i].id, sizeof(c->block_devices[i].id), "disk%d", i);
		c->block_devices[i].fd = rw_fd();
	}
	c->net_devices = calloc(2, sizeof(*c->net_devices));
	c->n_net_devices = 2;
	c->has_net_devices = true;
	for (int i = 0; i < 2; i++) {
		const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, (uint8_t)(i + 1) };
		memcpy(c->net_devices[i].mac, mac, 6);
	}
	c->has_virtio_vsock = c->virtio_vsock = true;
	c->vsock_listeners = calloc(1, sizeof(*c->vsock_listeners));
	c->n_vsock_listeners = 1;
	c->has_vsock_listeners = true;
	c->vsock_listeners[0].port = 1234;
	c->vsock_listeners[0].acceptor_fd = rw_fd();
	c->has_virtio_console = c->virtio_console = true;
	c->has_virtio_rng = c->virtio_rng = true;
	c->has_virtio_balloon = c->virtio_balloon = true;
}

static void expect_bad(struct guest_config *c, const char *want)
{
	char err[512] = "";
	enum guest_error e = gc_validate(c, MAXV, err, sizeof(err));
	if (e != GUEST_ERR_BAD_CONFIG || !strstr(err, want))
		fail_msg("want BAD_CONFIG with \"%s\", got %s: \"%s\"", want, guest_error_name(e),
		         err);
	gc_free(c);
}

static void test_good_config(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	char err[256] = "x";
	assert_int_equal(gc_validate(&c, MAXV, err, sizeof(err)), GUEST_OK);
	assert_string_equal(err, "");
	/* Minimal: only a kernel. */
	gc_free(&c);
	c.kernel_fd = kernel_fd(false);
	assert_int_equal(gc_validate(&c, MAXV, err, sizeof(err)), GUEST_OK);
	gc_free(&c);
	/* ZIRCON with a ZBI passes the format check. */
	c.kernel_fd = kernel_fd(true);
	c.has_kernel_type = true;
	c.kernel_type = KERNEL_ZIRCON;
	assert_int_equal(gc_validate(&c, MAXV, err, sizeof(err)), GUEST_OK);
	gc_free(&c);
}

static void test_defaults(void **state)
{
	(void)state;
	struct guest_config c;
	gc_init(&c);
	assert_int_equal(c.kernel_fd, -1);
	assert_int_equal(c.ramdisk_fd, -1);
	assert_int_equal(c.dtb_overlay_fd, -1);
	assert_int_equal(gc_cpus(&c), GC_DEFAULT_CPUS);
	assert_int_equal(gc_memory(&c), GC_DEFAULT_GUEST_MEMORY);
	c.has_cpus = true;
	c.cpus = 3;
	c.has_guest_memory = true;
	c.guest_memory = (64ull << 20) + 1;
	assert_int_equal(gc_cpus(&c), 3);
	assert_int_equal(gc_memory(&c), (64ull << 20) + 4096); /* rounded up to 4 KiB */
	c.guest_memory = UINT64_MAX;
	assert_int_equal(gc_memory(&c), UINT64_MAX); /* no wrap; validate refuses it */
}

static void test_kernel_missing(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	close(c.kernel_fd);
	c.kernel_fd = -1;
	expect_bad(&c, "kernel: missing");
}

static void test_kernel_not_open(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	close(c.kernel_fd);
	c.kernel_fd = 1000;
	expect_bad(&c, "kernel: fd 1000 is not open");
}

static void test_kernel_type(void **state)
{
	(void)state;
	struct guest_config c;
	/* Absent means LINUX: a ZBI is then a mismatch. */
	good(&c);
	close(c.kernel_fd);
	c.kernel_fd = kernel_fd(true);
	c.has_kernel_type = false;
	expect_bad(&c, "kernel_type LINUX needs a bzImage or PVH ELF kernel, but the kernel "
	               "file is a ZBI");
	good(&c);
	c.kernel_type = KERNEL_ZIRCON;
	expect_bad(&c, "kernel_type ZIRCON needs a ZBI kernel, but the kernel file is a bzImage");
	good(&c);
	c.kernel_type = (enum kernel_type)7;
	expect_bad(&c, "kernel_type: 7");
}

static void test_ramdisk_and_dtb(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	c.ramdisk_fd = 1001;
	expect_bad(&c, "ramdisk: fd 1001 is not open");
	good(&c);
	c.dtb_overlay_fd = rw_fd();
	expect_bad(&c, "dtb_overlay: not supported by this vmm");
}

static void test_cpus(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	c.cpus = 0;
	expect_bad(&c, "cpus: 0");
	good(&c);
	c.cpus = MAXV + 1;
	expect_bad(&c, "cpus: 9 is above this hypervisor's maximum of 8");
	good(&c);
	c.cpus = MAXV;
	char err[128];
	assert_int_equal(gc_validate(&c, MAXV, err, sizeof(err)), GUEST_OK);
	gc_free(&c);
}

static void test_guest_memory(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	c.guest_memory = 0;
	expect_bad(&c, "guest_memory: 0 bytes");
	good(&c);
	c.guest_memory = GC_MIN_GUEST_MEMORY - 1;
	expect_bad(&c, "below the minimum");
	good(&c);
	c.guest_memory = GC_MAX_GUEST_MEMORY + 1;
	expect_bad(&c, "above the maximum");
	good(&c);
	c.guest_memory = UINT64_MAX; /* would wrap when rounded */
	expect_bad(&c, "above the maximum");
	good(&c);
	c.guest_memory = GC_MIN_GUEST_MEMORY + 1; /* unaligned is fine: rounded up */
	char err[128];
	assert_int_equal(gc_validate(&c, MAXV, err, sizeof(err)), GUEST_OK);
	gc_free(&c);
}

static void test_cmdline_too_long(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	free(c.cmdline);
	c.cmdline = malloc(GC_MAX_CMDLINE + 2);
	memset(c.cmdline, 'a', GC_MAX_CMDLINE + 1);
	c.cmdline[GC_MAX_CMDLINE + 1] = '\0';
	expect_bad(&c, "more than 4096");
	/* The base fits alone; the additions push it over. */
	good(&c);
	free(c.cmdline);
	c.cmdline = malloc(GC_MAX_CMDLINE - 5);
	memset(c.cmdline, 'a', GC_MAX_CMDLINE - 6);
	c.cmdline[GC_MAX_CMDLINE - 6] = '\0';
	expect_bad(&c, "with every cmdline_add joined");
}

static void test_cmdline_control_chars(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	c.cmdline[3] = '\n';
	expect_bad(&c, "cmdline: control character 0x0a at byte 3");
	good(&c);
	c.cmdline_add[1][0] = 0x7f;
	expect_bad(&c, "cmdline_add[1]: control character 0x7f");
	good(&c);
	free(c.cmdline_add[0]);
	c.cmdline_add[0] = NULL;
	expect_bad(&c, "cmdline_add[0]: missing string");
}

static void test_cmdline_add_too_many(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	for (size_t i = 0; i < c.n_cmdline_add; i++)
		free(c.cmdline_add[i]);
	free(c.cmdline_add);
	c.cmdline_add = strv(GC_MAX_CMDLINE_ADD + 1, "x");
	c.n_cmdline_add = GC_MAX_CMDLINE_ADD + 1;
	expect_bad(&c, "cmdline_add: 65 entries, at most 64");
}

static void test_full_cmdline(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	char *s = gc_full_cmdline(&c);
	assert_string_equal(s, "console=ttyS0 quiet quiet");
	free(s);
	c.cmdline_add[0][0] = '\0'; /* empty additions add no spaces */
	s = gc_full_cmdline(&c);
	assert_string_equal(s, "console=ttyS0 quiet");
	free(s);
	free(c.cmdline);
	c.cmdline = NULL;
	s = gc_full_cmdline(&c);
	assert_string_equal(s, "quiet");
	free(s);
	gc_free(&c);
	s = gc_full_cmdline(&c);
	assert_string_equal(s, "");
	free(s);
}

static void test_block_count(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	c.n_block_devices = GC_MAX_BLOCK_DEVICES + 1; /* checked before any entry */
	char err[256];
	assert_int_equal(gc_validate(&c, MAXV, err, sizeof(err)), GUEST_ERR_BAD_CONFIG);
	assert_non_null(strstr(err, "block_devices: 33 devices, at most 32"));
	c.n_block_devices = 2;
	gc_free(&c);
}

static void test_block_id(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	memset(c.block_devices[0].id, 'x', sizeof(c.block_devices[0].id)); /* no NUL */
	expect_bad(&c, "block_devices[0]: id longer than 20");
	good(&c);
	c.block_devices[1].id[0] = '\0';
	expect_bad(&c, "block_devices[1]: id is empty");
	good(&c);
	strcpy(c.block_devices[1].id, "disk0");
	expect_bad(&c, "block_devices[1]: id \"disk0\" duplicates block_devices[0]");
	good(&c);
	c.block_devices[0].id[2] = '\t';
	expect_bad(&c, "non-printable byte 0x09");
	good(&c);
	c.block_devices[0].id[2] = (char)0xc3;
	expect_bad(&c, "non-printable byte 0xc3");
}

static void test_block_mode_format(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	c.block_devices[0].mode = (enum block_mode)9;
	expect_bad(&c, "block_devices[0]: mode 9 is invalid");
	good(&c);
	c.block_devices[0].format = (enum block_format)5;
	expect_bad(&c, "block_devices[0]: format 5 is invalid");
	good(&c);
	c.block_devices[0].format = BLOCK_FORMAT_QCOW;
	expect_bad(&c, "format QCOW is not supported by this vmm");
	good(&c);
	c.block_devices[1].format = BLOCK_FORMAT_BLOCK;
	expect_bad(&c, "format BLOCK is not supported by this vmm");
}

static void test_block_fd(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	close(c.block_devices[0].fd);
	c.block_devices[0].fd = -1;
	expect_bad(&c, "block_devices[0]: no fd");
	good(&c);
	close(c.block_devices[1].fd);
	c.block_devices[1].fd = 1002;
	expect_bad(&c, "block_devices[1]: fd 1002 is not open");
	/* READ_WRITE needs a writable fd; READ_ONLY and VOLATILE_WRITE do not. */
	good(&c);
	close(c.block_devices[0].fd);
	c.block_devices[0].fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	expect_bad(&c, "mode READ_WRITE but fd");
	good(&c);
	close(c.block_devices[0].fd);
	c.block_devices[0].fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	c.block_devices[0].mode = BLOCK_VOLATILE_WRITE;
	char err[128];
	assert_int_equal(gc_validate(&c, MAXV, err, sizeof(err)), GUEST_OK);
	gc_free(&c);
	/* Every mode reads the file: a write-only fd is refused, whatever the mode. */
	good(&c);
	close(c.block_devices[0].fd);
	c.block_devices[0].fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	c.block_devices[0].mode = BLOCK_READ_ONLY;
	expect_bad(&c, "block_devices[0]: fd");
	good(&c);
	close(c.block_devices[0].fd);
	c.block_devices[0].fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	expect_bad(&c, "write-only");
}

static void test_net(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	c.net_devices[1].mac[0] = 0x03;
	expect_bad(&c, "net_devices[1]: MAC 03:00:00:00:00:02 is multicast");
	good(&c);
	c.net_devices[1].mac[5] = 1;
	expect_bad(&c, "net_devices[1]: MAC 02:00:00:00:00:01 duplicates net_devices[0]");
	good(&c);
	free(c.net_devices);
	c.net_devices = calloc(GC_MAX_NET_DEVICES + 1, sizeof(*c.net_devices));
	c.n_net_devices = GC_MAX_NET_DEVICES + 1;
	expect_bad(&c, "net_devices: 33 devices, at most 32");
	good(&c);
	free(c.net_devices);
	c.net_devices = calloc(GC_MAX_NET_DEVICES, sizeof(*c.net_devices));
	c.n_net_devices = GC_MAX_NET_DEVICES;
	for (size_t i = 0; i < GC_MAX_NET_DEVICES; i++)
		c.net_devices[i].mac[5] = (uint8_t)i;
	c.has_default_net = c.default_net = true;
	expect_bad(&c, "plus default_net, at most 32");
}

static void test_vsock(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	c.virtio_vsock = false;
	expect_bad(&c, "vsock_listeners: given but virtio_vsock is not enabled");
	good(&c);
	free(c.vsock_listeners);
	c.vsock_listeners = calloc(2, sizeof(*c.vsock_listeners));
	c.n_vsock_listeners = 2;
	c.vsock_listeners[0] = (struct vsock_listener){ .port = 5, .acceptor_fd = rw_fd() };
	c.vsock_listeners[1] = (struct vsock_listener){ .port = 5, .acceptor_fd = rw_fd() };
	expect_bad(&c, "vsock_listeners[1]: port 5 duplicates vsock_listeners[0]");
	good(&c);
	free(c.vsock_listeners);
	c.vsock_listeners = calloc(GC_MAX_VSOCK_LISTENERS + 1, sizeof(*c.vsock_listeners));
	c.n_vsock_listeners = GC_MAX_VSOCK_LISTENERS + 1;
	for (size_t i = 0; i < c.n_vsock_listeners; i++)
		c.vsock_listeners[i].acceptor_fd = -1;
	expect_bad(&c, "vsock_listeners: 65 listeners, at most 64");
	good(&c);
	close(c.vsock_listeners[0].acceptor_fd);
	c.vsock_listeners[0].acceptor_fd = -1;
	expect_bad(&c, "vsock_listeners[0]: no acceptor");
	good(&c);
	close(c.vsock_listeners[0].acceptor_fd);
	c.vsock_listeners[0].acceptor_fd = 1003;
	expect_bad(&c, "vsock_listeners[0]: acceptor fd 1003 is not open");
}

static void test_unsupported_devices(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	c.has_virtio_sound_input = c.virtio_sound_input = true;
	expect_bad(&c, "virtio_sound_input: set but virtio_sound is not enabled");
	good(&c);
	c.has_virtio_sound = c.virtio_sound = true;
	expect_bad(&c, "virtio_sound: not supported by this vmm");
	good(&c);
	c.has_virtio_gpu = c.virtio_gpu = true;
	expect_bad(&c, "virtio_gpu: not supported by this vmm");
	good(&c);
	c.has_wayland_device = true;
	expect_bad(&c, "wayland_device: not supported by this vmm");
	good(&c);
	c.has_magma_device = true;
	expect_bad(&c, "magma_device: not supported by this vmm");
	/* Present but false is not a request for the device. */
	good(&c);
	c.has_virtio_gpu = true;
	c.has_virtio_sound = true;
	char err[128];
	assert_int_equal(gc_validate(&c, MAXV, err, sizeof(err)), GUEST_OK);
	gc_free(&c);
}

static void test_free_closes_fds(void **state)
{
	(void)state;
	struct guest_config c;
	good(&c);
	c.ramdisk_fd = rw_fd();
	int fds[] = { c.kernel_fd, c.ramdisk_fd, c.block_devices[0].fd, c.block_devices[1].fd,
	              c.vsock_listeners[0].acceptor_fd };
	gc_free(&c);
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		assert_int_equal(fcntl(fds[i], F_GETFD), -1);
	assert_int_equal(c.kernel_fd, -1);
	assert_null(c.cmdline);
	assert_int_equal(c.n_block_devices, 0);
	gc_free(&c); /* twice is harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_config),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_kernel_missing),
		cmocka_unit_test(test_kernel_not_open),
		cmocka_unit_test(test_kernel_type),
		cmocka_unit_test(test_ramdisk_and_dtb),
		cmocka_unit_test(test_cpus),
		cmocka_unit_test(test_guest_memory),
		cmocka_unit_test(test_cmdline_too_long),
		cmocka_unit_test(test_cmdline_control_chars),
		cmocka_unit_test(test_cmdline_add_too_many),
		cmocka_unit_test(test_full_cmdline),
		cmocka_unit_test(test_block_count),
		cmocka_unit_test(test_block_id),
		cmocka_unit_test(test_block_mode_format),
		cmocka_unit_test(test_block_fd),
		cmocka_unit_test(test_net),
		cmocka_unit_test(test_vsock),
		cmocka_unit_test(test_unsupported_devices),
		cmocka_unit_test(test_free_closes_fds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
