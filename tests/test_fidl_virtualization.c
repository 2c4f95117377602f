/* tests/test_fidl_virtualization.c - fuchsia.virtualization messages
 * (fidl/virtualization.h): ordinals, a round trip of every message, a
 * GuestConfig with all 21 fields and real fds carried over a
 * SOCK_SEQPACKET socket, unknown fields, and that no fd leaks on success or
 * on any failure. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "lib/fds.h"
#include "fidl/channel.h"
#include "fidl/ordinal.h"
#include "fidl/virtualization.h"

static struct fidl_msg M, R;

/* A memfd holding `tag`, so the far side can tell which file it got. */
static int tagged_fd(const char *tag)
{
	int fd = memfd_create(tag, MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, tag, strlen(tag)), (ssize_t)strlen(tag));
	return fd;
}

static void assert_tag(int fd, const char *tag)
{
	char b[64] = { 0 };
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, b, sizeof(b) - 1, 0), (ssize_t)strlen(tag));
	assert_string_equal(b, tag);
}

/* Send M over a fresh socketpair and receive into R: the decoder then sees
 * fds as a server would. The sender keeps its fds (tests close them). */
static void transfer(void)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fidl_chan_send(sv[0], &M), ZX_OK);
	assert_int_equal(fidl_chan_recv(sv[1], &R), ZX_OK);
	close(sv[0]);
	close(sv[1]);
}

static void dec_init(struct fidl_dec *d, uint64_t ordinal)
{
	assert_int_equal(fidl_dec_init(d, &R), ZX_OK);
	assert_true(d->hdr.ordinal == ordinal);
}

static void test_ordinals(void **state)
{
	static const struct { const char *name; uint64_t ord; } o[] = {
		{ "GuestLifecycle.Create", FV_ORD_LIFECYCLE_CREATE },
		{ "GuestLifecycle.Bind", FV_ORD_LIFECYCLE_BIND },
		{ "GuestLifecycle.Run", FV_ORD_LIFECYCLE_RUN },
		{ "GuestLifecycle.Stop", FV_ORD_LIFECYCLE_STOP },
		{ "Guest.GetConsole", FV_ORD_GUEST_GET_CONSOLE },
		{ "Guest.GetSerial", FV_ORD_GUEST_GET_SERIAL },
		{ "Guest.GetHostVsockEndpoint", FV_ORD_GUEST_GET_HOST_VSOCK_ENDPOINT },
		{ "Guest.GetBalloonController", FV_ORD_GUEST_GET_BALLOON_CONTROLLER },
		{ "HostVsockEndpoint.Listen", FV_ORD_VSOCK_LISTEN },
		{ "HostVsockEndpoint.Connect", FV_ORD_VSOCK_CONNECT },
		{ "HostVsockAcceptor.Accept", FV_ORD_ACCEPTOR_ACCEPT },
		{ "BalloonController.GetBalloonSize", FV_ORD_BALLOON_GET_BALLOON_SIZE },
		{ "BalloonController.RequestNumPages", FV_ORD_BALLOON_REQUEST_NUM_PAGES },
		{ "BalloonController.GetMemStats", FV_ORD_BALLOON_GET_MEM_STATS },
		{ "GuestManager.Launch", FV_ORD_MANAGER_LAUNCH },
		{ "GuestManager.ForceShutdown", FV_ORD_MANAGER_FORCE_SHUTDOWN },
		{ "GuestManager.Connect", FV_ORD_MANAGER_CONNECT },
		{ "GuestManager.GetInfo", FV_ORD_MANAGER_GET_INFO },
	};
	for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++) {
		char sel[128];
		snprintf(sel, sizeof(sel), "fuchsia.virtualization/%s", o[i].name);
		if (fidl_method_ordinal(sel) != o[i].ord)
			fail_msg("%s", sel);
	}
}

/* Every field of GuestConfig, with 8 fds. */
static void full_config(struct guest_config *c)
{
	gc_init(c);
	c->has_kernel_type = true;
	c->kernel_type = KERNEL_LINUX;
	c->kernel_fd = tagged_fd("kernel");
	c->ramdisk_fd = tagged_fd("ramdisk");
	c->dtb_overlay_fd = tagged_fd("dtb");
	c->cmdline = strdup("console=hvc0 root=/dev/vda");
	c->has_cmdline_add = true;
	c->n_cmdline_add = 3;
	c->cmdline_add = calloc(3, sizeof(char *));
	c->cmdline_add[0] = strdup("quiet");
	c->cmdline_add[1] = strdup("");
	c->cmdline_add[2] = strdup("lang=\xc3\xa9t\xc3\xa9");
	c->has_cpus = true;
	c->cpus = 4;
	c->has_guest_memory = true;
	c->guest_memory = 3ull << 30;
	c->has_block_devices = true;
	c->n_block_devices = 2;
	c->block_devices = calloc(2, sizeof(struct block_spec));
	strcpy(c->block_devices[0].id, "rootfs");
	c->block_devices[0].mode = BLOCK_READ_ONLY;
	c->block_devices[0].format = BLOCK_FORMAT_QCOW;
	c->block_devices[0].fd = tagged_fd("blk0");
	strcpy(c->block_devices[1].id, "01234567890123456789"); /* 20: the max */
	c->block_devices[1].mode = BLOCK_VOLATILE_WRITE;
	c->block_devices[1].format = BLOCK_FORMAT_BLOCK;
	c->block_devices[1].fd = tagged_fd("blk1");
	c->has_net_devices = true;
	c->n_net_devices = 3; /* 3 x 7 bytes: exercises padding of an odd stride */
	c->net_devices = calloc(3, sizeof(struct net_spec));
	for (int i = 0; i < 3; i++) {
		for (int k = 0; k < 6; k++)
			c->net_devices[i].mac[k] = (uint8_t)(0x10 * i + k);
		c->net_devices[i].enable_bridge = i == 1;
	}
	c->has_wayland_device = true;
	c->wayland_device.has_memory = true;
	c->wayland_device.memory = 1ull << 29;
	c->wayland_device.dispatcher_fd = tagged_fd("wayland");
	c->has_magma_device = true;
	c->magma_device.has_memory = true;
	c->magma_device.memory = 1ull << 33;
	c->has_default_net = true;       c->default_net = true;
	c->has_virtio_balloon = true;    c->virtio_balloon = false;
	c->has_virtio_console = true;    c->virtio_console = true;
	c->has_virtio_gpu = true;        c->virtio_gpu = false;
	c->has_virtio_rng = true;        c->virtio_rng = true;
	c->has_virtio_vsock = true;      c->virtio_vsock = true;
	c->has_virtio_sound = true;      c->virtio_sound = false;
	c->has_virtio_sound_input = true; c->virtio_sound_input = true;
	c->has_vsock_listeners = true;
	c->n_vsock_listeners = 2;
	c->vsock_listeners = calloc(2, sizeof(struct vsock_listener));
	c->vsock_listeners[0].port = 5000;
	c->vsock_listeners[0].acceptor_fd = tagged_fd("acc0");
	c->vsock_listeners[1].port = 0xffffffff;
	c->vsock_listeners[1].acceptor_fd = tagged_fd("acc1");
}

static void check_full_config(const struct guest_config *c)
{
	assert_true(c->has_kernel_type);
	assert_int_equal(c->kernel_type, KERNEL_LINUX);
	assert_tag(c->kernel_fd, "kernel");
	assert_tag(c->ramdisk_fd, "ramdisk");
	assert_tag(c->dtb_overlay_fd, "dtb");
	assert_string_equal(c->cmdline, "console=hvc0 root=/dev/vda");
	assert_true(c->has_cmdline_add);
	assert_int_equal(c->n_cmdline_add, 3);
	assert_string_equal(c->cmdline_add[0], "quiet");
	assert_string_equal(c->cmdline_add[1], "");
	assert_string_equal(c->cmdline_add[2], "lang=\xc3\xa9t\xc3\xa9");
	assert_true(c->has_cpus);
	assert_int_equal(c->cpus, 4);
	assert_true(c->has_guest_memory);
	assert_true(c->guest_memory == 3ull << 30);
	assert_int_equal(c->n_block_devices, 2);
	assert_string_equal(c->block_devices[0].id, "rootfs");
	assert_int_equal(c->block_devices[0].mode, BLOCK_READ_ONLY);
	assert_int_equal(c->block_devices[0].format, BLOCK_FORMAT_QCOW);
	assert_tag(c->block_devices[0].fd, "blk0");
	assert_string_equal(c->block_devices[1].id, "01234567890123456789");
	assert_int_equal(c->block_devices[1].mode, BLOCK_VOLATILE_WRITE);
	assert_int_equal(c->block_devices[1].format, BLOCK_FORMAT_BLOCK);
	assert_tag(c->block_devices[1].fd, "blk1");
	assert_int_equal(c->n_net_devices, 3);
	for (int i = 0; i < 3; i++) {
		for (int k = 0; k < 6; k++)
			assert_int_equal(c->net_devices[i].mac[k], 0x10 * i + k);
		assert_int_equal(c->net_devices[i].enable_bridge, i == 1);
	}
	assert_true(c->has_wayland_device && c->wayland_device.has_memory);
	assert_true(c->wayland_device.memory == 1ull << 29);
	assert_tag(c->wayland_device.dispatcher_fd, "wayland");
	assert_true(c->has_magma_device && c->magma_device.memory == 1ull << 33);
	assert_true(c->has_default_net && c->default_net);
	assert_true(c->has_virtio_balloon && !c->virtio_balloon);
	assert_true(c->has_virtio_console && c->virtio_console);
	assert_true(c->has_virtio_gpu && !c->virtio_gpu);
	assert_true(c->has_virtio_rng && c->virtio_rng);
	assert_true(c->has_virtio_vsock && c->virtio_vsock);
	assert_true(c->has_virtio_sound && !c->virtio_sound);
	assert_true(c->has_virtio_sound_input && c->virtio_sound_input);
	assert_int_equal(c->n_vsock_listeners, 2);
	assert_int_equal(c->vsock_listeners[0].port, 5000);
	assert_tag(c->vsock_listeners[0].acceptor_fd, "acc0");
	assert_int_equal(c->vsock_listeners[1].port, 0xffffffff);
	assert_tag(c->vsock_listeners[1].acceptor_fd, "acc1");
}

static void test_create_full_config(void **state)
{
	int before = fds_open_count();
	struct guest_config c, out;
	full_config(&c);
	assert_int_equal(fv_enc_create_req(&M, 1, &c), ZX_OK);
	assert_int_equal(M.num_handles, 8);
	transfer();
	gc_free(&c); /* the sender's copies; the receiver has its own */
	struct fidl_dec d;
	dec_init(&d, FV_ORD_LIFECYCLE_CREATE);
	assert_int_equal(fv_dec_create_req(&d, &out), ZX_OK);
	check_full_config(&out);
	gc_free(&out);
	assert_int_equal(fds_open_count(), before);
}

static void test_launch(void **state)
{
	int before = fds_open_count();
	struct guest_config c, out;
	full_config(&c);
	int ctl = tagged_fd("controller");
	assert_int_equal(fv_enc_launch_req(&M, 3, &c, ctl), ZX_OK);
	transfer();
	gc_free(&c);
	close(ctl);
	struct fidl_dec d;
	int got;
	dec_init(&d, FV_ORD_MANAGER_LAUNCH);
	assert_int_equal(fv_dec_launch_req(&d, &out, &got), ZX_OK);
	check_full_config(&out);
	assert_tag(got, "controller");
	close(got);
	gc_free(&out);
	assert_int_equal(fds_open_count(), before);
}

static void test_empty_config(void **state)
{
	struct guest_config c, out;
	gc_init(&c);
	assert_int_equal(fv_enc_create_req(&M, 1, &c), ZX_OK);
	/* header + table header with 0 envelopes, present */
	assert_int_equal(M.num_bytes, 32);
	memcpy(&R, &M, sizeof(M));
	struct fidl_dec d;
	dec_init(&d, FV_ORD_LIFECYCLE_CREATE);
	assert_int_equal(fv_dec_create_req(&d, &out), ZX_OK);
	assert_false(out.has_kernel_type || out.has_cpus || out.cmdline);
	assert_int_equal(out.kernel_fd, -1);
	gc_free(&out);
}

/* A GuestConfig from a newer peer: field 1, then unknown fields 22 (a
 * handle, inline) and 23 (a uint64, out-of-line). */
static void test_unknown_config_field(void **state)
{
	int before = fds_open_count();
	int extra = tagged_fd("unknown");
	struct fidl_enc e;
	struct fidl_enc_env v;
	fidl_enc_init(&e, &M, 1, FV_ORD_LIFECYCLE_CREATE, 0);
	uint32_t envs = fidl_enc_table_begin(&e, fidl_enc_alloc(&e, 16), 23);
	fidl_enc_u32(&e, fidl_enc_field_begin(&e, &v, envs, 1, 4), KERNEL_ZIRCON);
	fidl_enc_env_end(&e, &v);
	fidl_enc_handle(&e, fidl_enc_field_begin(&e, &v, envs, 22, 4), extra);
	fidl_enc_env_end(&e, &v);
	fidl_enc_u64(&e, fidl_enc_field_begin(&e, &v, envs, 23, 8), 42);
	fidl_enc_env_end(&e, &v);
	fidl_enc_table_end(&e);
	assert_int_equal(fidl_enc_finish(&e), ZX_OK);
	transfer();
	close(extra);
	int received = R.handles[0];
	assert_true(fds_is_open(received));
	struct guest_config out;
	struct fidl_dec d;
	dec_init(&d, FV_ORD_LIFECYCLE_CREATE);
	assert_int_equal(fv_dec_create_req(&d, &out), ZX_OK);
	assert_true(out.has_kernel_type);
	assert_int_equal(out.kernel_type, KERNEL_ZIRCON);
	assert_false(fds_is_open(received)); /* skipped and closed */
	gc_free(&out);
	assert_int_equal(fds_open_count(), before);
}

/* Corrupt one byte of an encoded full config: whatever the decoder makes of
 * it, it returns either success or an error with nothing leaked. A few
 * offsets are known-fatal and must fail. */
static void test_config_errors_leak_nothing(void **state)
{
	int before = fds_open_count();
	struct guest_config c, out;
	full_config(&c);
	assert_int_equal(fv_enc_create_req(&M, 1, &c), ZX_OK);
	static struct fidl_msg good;
	memcpy(&good, &M, sizeof(M));
	int fails = 0;
	for (uint32_t i = 16; i < good.num_bytes; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			memcpy(&R, &good, sizeof(good));
			R.bytes[i] ^= (uint8_t)(1u << bit);
			/* Fresh fds for the receiver each time. */
			for (uint32_t h = 0; h < R.num_handles; h++)
				R.handles[h] = dup(good.handles[h]);
			struct fidl_dec d;
			if (fidl_dec_init(&d, &R) != ZX_OK) {
				fails++;
				continue;
			}
			if (fv_dec_create_req(&d, &out) != ZX_OK) {
				fails++;
				assert_int_equal(out.kernel_fd, -1);
				assert_null(out.block_devices);
			} else {
				gc_free(&out);
			}
			for (uint32_t h = 0; h < R.num_handles; h++)
				assert_int_equal(R.handles[h], -1);
		}
	}
	assert_true(fails > 0);
	/* A config whose last field is bad: everything decoded before it
	 * (fds of fields 2-4, 9, 11) must be released. */
	memcpy(&R, &good, sizeof(good));
	for (uint32_t h = 0; h < R.num_handles; h++)
		R.handles[h] = dup(good.handles[h]);
	R.num_handles--; /* the last acceptor's handle goes missing */
	close(R.handles[R.num_handles]);
	struct fidl_dec d;
	dec_init(&d, FV_ORD_LIFECYCLE_CREATE);
	assert_int_equal(fv_dec_create_req(&d, &out), ZX_ERR_INVALID_ARGS);
	/* An extra handle after a valid config. */
	memcpy(&R, &good, sizeof(good));
	for (uint32_t h = 0; h < R.num_handles; h++)
		R.handles[h] = dup(good.handles[h]);
	R.handles[R.num_handles++] = dup(good.handles[0]);
	dec_init(&d, FV_ORD_LIFECYCLE_CREATE);
	assert_int_equal(fv_dec_create_req(&d, &out), ZX_ERR_INVALID_ARGS);
	gc_free(&c);
	assert_int_equal(fds_open_count(), before);
}

static void test_config_encode_refuses(void **state)
{
	struct guest_config c;
	gc_init(&c);
	c.has_block_devices = true;
	c.n_block_devices = 1;
	c.block_devices = calloc(1, sizeof(struct block_spec));
	c.block_devices[0].fd = -1; /* required handle */
	assert_int_equal(fv_enc_create_req(&M, 1, &c), ZX_ERR_INVALID_ARGS);
	gc_free(&c);
}

static void test_empty_and_u32_bodies(void **state)
{
	static const uint64_t empties[] = {
		FV_ORD_LIFECYCLE_RUN, FV_ORD_LIFECYCLE_STOP, FV_ORD_GUEST_GET_CONSOLE,
		FV_ORD_GUEST_GET_SERIAL, FV_ORD_BALLOON_GET_BALLOON_SIZE,
		FV_ORD_BALLOON_GET_MEM_STATS, FV_ORD_MANAGER_FORCE_SHUTDOWN,
		FV_ORD_MANAGER_GET_INFO,
	};
	struct fidl_dec d;
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		assert_int_equal(fv_enc_empty(&M, 5, empties[i]), ZX_OK);
		assert_int_equal(M.num_bytes, 16);
		transfer();
		dec_init(&d, empties[i]);
		assert_int_equal(d.hdr.txid, 5);
		assert_int_equal(fv_dec_empty(&d), ZX_OK);
	}
	/* A body where none belongs is refused. */
	assert_int_equal(fv_enc_u32_body(&M, 5, FV_ORD_LIFECYCLE_RUN, 1), ZX_OK);
	transfer();
	dec_init(&d, FV_ORD_LIFECYCLE_RUN);
	assert_int_equal(fv_dec_empty(&d), ZX_ERR_INVALID_ARGS);

	uint32_t v;
	assert_int_equal(fv_enc_u32_body(&M, 0, FV_ORD_BALLOON_REQUEST_NUM_PAGES, 1234), ZX_OK);
	transfer();
	dec_init(&d, FV_ORD_BALLOON_REQUEST_NUM_PAGES);
	assert_int_equal(fv_dec_u32_body(&d, &v), ZX_OK);
	assert_int_equal(v, 1234);
	assert_int_equal(fv_enc_u32_body(&M, 9, FV_ORD_VSOCK_CONNECT, 22), ZX_OK);
	transfer();
	dec_init(&d, FV_ORD_VSOCK_CONNECT);
	assert_int_equal(fv_dec_u32_body(&d, &v), ZX_OK);
	assert_int_equal(v, 22);
}

static void test_handle_bodies(void **state)
{
	int before = fds_open_count();
	static const uint64_t ords[] = {
		FV_ORD_LIFECYCLE_BIND, FV_ORD_GUEST_GET_HOST_VSOCK_ENDPOINT,
		FV_ORD_GUEST_GET_BALLOON_CONTROLLER, FV_ORD_MANAGER_CONNECT,
		FV_ORD_GUEST_GET_SERIAL, /* its response */
	};
	for (size_t i = 0; i < sizeof(ords) / sizeof(ords[0]); i++) {
		int fd = tagged_fd("end"), got;
		assert_int_equal(fv_enc_handle_body(&M, 2, ords[i], fd), ZX_OK);
		transfer();
		close(fd);
		struct fidl_dec d;
		dec_init(&d, ords[i]);
		assert_int_equal(fv_dec_handle_body(&d, &got), ZX_OK);
		assert_tag(got, "end");
		close(got);
	}
	assert_int_equal(fv_enc_handle_body(&M, 2, FV_ORD_LIFECYCLE_BIND, -1), ZX_ERR_INVALID_ARGS);
	assert_int_equal(fds_open_count(), before);
}

static void test_results(void **state)
{
	int before = fds_open_count();
	struct fidl_dec d;
	struct fv_result r;
	/* Create succeeded: the exact bytes of an empty-struct response. */
	struct fv_result ok = { .which = FIDL_RESULT_RESPONSE, .fd = -1 };
	assert_int_equal(fv_enc_result(&M, 7, FV_ORD_LIFECYCLE_CREATE, FV_ERR_GUEST_ERROR, false,
	                               &ok), ZX_OK);
	const uint8_t body[] = { 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	assert_int_equal(M.num_bytes, 32);
	assert_memory_equal(M.bytes + 16, body, 16);
	transfer();
	dec_init(&d, FV_ORD_LIFECYCLE_CREATE);
	assert_int_equal(fv_dec_result(&d, FV_ERR_GUEST_ERROR, false, &r), ZX_OK);
	assert_int_equal(r.which, FIDL_RESULT_RESPONSE);

	/* Every GuestError round-trips; 0 and 16 are not GuestErrors. */
	for (int32_t err = 1; err <= GUEST_ERR_MAX; err++) {
		struct fv_result e = { .which = FIDL_RESULT_ERR, .err = err, .fd = -1 };
		assert_int_equal(fv_enc_result(&M, 7, FV_ORD_LIFECYCLE_RUN, FV_ERR_GUEST_ERROR,
		                               false, &e), ZX_OK);
		transfer();
		dec_init(&d, FV_ORD_LIFECYCLE_RUN);
		assert_int_equal(fv_dec_result(&d, FV_ERR_GUEST_ERROR, false, &r), ZX_OK);
		assert_int_equal(r.which, FIDL_RESULT_ERR);
		assert_int_equal(r.err, err);
	}
	struct fv_result bad = { .which = FIDL_RESULT_ERR, .err = 16, .fd = -1 };
	assert_int_equal(fv_enc_result(&M, 7, FV_ORD_LIFECYCLE_RUN, FV_ERR_GUEST_ERROR, false,
	                               &bad), ZX_ERR_INVALID_ARGS);
	bad.err = 3;
	assert_int_equal(fv_enc_result(&M, 7, FV_ORD_LIFECYCLE_RUN, FV_ERR_GUEST_ERROR, false,
	                               &bad), ZX_OK);
	M.bytes[24] = 16; /* patch the error to 16 on the wire */
	transfer();
	dec_init(&d, FV_ORD_LIFECYCLE_RUN);
	assert_int_equal(fv_dec_result(&d, FV_ERR_GUEST_ERROR, false, &r), ZX_ERR_INVALID_ARGS);

	/* GuestManagerError and zx.Status results. */
	struct fv_result me = { .which = FIDL_RESULT_ERR, .err = FV_MANAGER_NOT_RUNNING, .fd = -1 };
	assert_int_equal(fv_enc_result(&M, 7, FV_ORD_MANAGER_CONNECT, FV_ERR_MANAGER_ERROR, false,
	                               &me), ZX_OK);
	transfer();
	dec_init(&d, FV_ORD_MANAGER_CONNECT);
	assert_int_equal(fv_dec_result(&d, FV_ERR_MANAGER_ERROR, false, &r), ZX_OK);
	assert_int_equal(r.err, FV_MANAGER_NOT_RUNNING);
	me.err = 6;
	assert_int_equal(fv_enc_result(&M, 7, FV_ORD_MANAGER_LAUNCH, FV_ERR_MANAGER_ERROR, false,
	                               &me), ZX_ERR_INVALID_ARGS);

	/* A result carrying a socket (GetConsole, Connect, Accept). */
	int fd = tagged_fd("socket");
	struct fv_result hs = { .which = FIDL_RESULT_RESPONSE, .fd = fd };
	assert_int_equal(fv_enc_result(&M, 8, FV_ORD_VSOCK_CONNECT, FV_ERR_ZX_STATUS, true, &hs),
	                 ZX_OK);
	const uint8_t hbody[] = { 1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 1, 0 };
	assert_memory_equal(M.bytes + 16, hbody, 16);
	transfer();
	close(fd);
	dec_init(&d, FV_ORD_VSOCK_CONNECT);
	assert_int_equal(fv_dec_result(&d, FV_ERR_ZX_STATUS, true, &r), ZX_OK);
	assert_tag(r.fd, "socket");
	close(r.fd);
	struct fv_result zs = { .which = FIDL_RESULT_ERR, .err = ZX_ERR_CONNECTION_REFUSED, .fd = -1 };
	assert_int_equal(fv_enc_result(&M, 8, FV_ORD_ACCEPTOR_ACCEPT, FV_ERR_ZX_STATUS, true, &zs),
	                 ZX_OK);
	transfer();
	dec_init(&d, FV_ORD_ACCEPTOR_ACCEPT);
	assert_int_equal(fv_dec_result(&d, FV_ERR_ZX_STATUS, true, &r), ZX_OK);
	assert_int_equal(r.which, FIDL_RESULT_ERR);
	assert_int_equal(r.err, ZX_ERR_CONNECTION_REFUSED);
	assert_int_equal(r.fd, -1);

	/* framework_err: only in a flexible method's reply. */
	struct fv_result fw = { .which = FIDL_RESULT_FRAMEWORK_ERR, .err = -2, .fd = -1 };
	assert_int_equal(fv_enc_result(&M, 8, FV_ORD_LIFECYCLE_RUN, FV_ERR_GUEST_ERROR, false, &fw),
	                 ZX_OK);
	assert_int_equal(M.bytes[6], FIDL_DYN_FLEXIBLE);
	transfer();
	dec_init(&d, FV_ORD_LIFECYCLE_RUN);
	assert_int_equal(fv_dec_result(&d, FV_ERR_GUEST_ERROR, false, &r), ZX_OK);
	assert_int_equal(r.which, FIDL_RESULT_FRAMEWORK_ERR);
	assert_int_equal(r.err, -2);
	assert_int_equal(fv_enc_result(&M, 8, FV_ORD_LIFECYCLE_RUN, FV_ERR_GUEST_ERROR, false, &fw),
	                 ZX_OK);
	M.bytes[6] = 0; /* now claims to be strict */
	transfer();
	dec_init(&d, FV_ORD_LIFECYCLE_RUN);
	assert_int_equal(fv_dec_result(&d, FV_ERR_GUEST_ERROR, false, &r), ZX_ERR_INVALID_ARGS);

	/* Unknown variant 4, and a response whose empty struct byte is 1. */
	assert_int_equal(fv_enc_result(&M, 7, FV_ORD_LIFECYCLE_RUN, FV_ERR_GUEST_ERROR, false, &ok),
	                 ZX_OK);
	M.bytes[16] = 4;
	transfer();
	dec_init(&d, FV_ORD_LIFECYCLE_RUN);
	assert_int_equal(fv_dec_result(&d, FV_ERR_GUEST_ERROR, false, &r), ZX_ERR_INVALID_ARGS);
	assert_int_equal(fv_enc_result(&M, 7, FV_ORD_LIFECYCLE_RUN, FV_ERR_GUEST_ERROR, false, &ok),
	                 ZX_OK);
	M.bytes[24] = 1;
	transfer();
	dec_init(&d, FV_ORD_LIFECYCLE_RUN);
	assert_int_equal(fv_dec_result(&d, FV_ERR_GUEST_ERROR, false, &r), ZX_ERR_INVALID_ARGS);
	assert_int_equal(fds_open_count(), before);
}

static void test_vsock_requests(void **state)
{
	int before = fds_open_count();
	struct fidl_dec d;
	int acc = tagged_fd("acceptor"), got;
	uint32_t port, a, b, c;
	assert_int_equal(fv_enc_listen_req(&M, 4, 8080, acc), ZX_OK);
	transfer();
	close(acc);
	dec_init(&d, FV_ORD_VSOCK_LISTEN);
	assert_int_equal(fv_dec_listen_req(&d, &port, &got), ZX_OK);
	assert_int_equal(port, 8080);
	assert_tag(got, "acceptor");
	close(got);
	assert_int_equal(fv_enc_accept_req(&M, 4, 3, 49152, 22), ZX_OK);
	assert_int_equal(M.num_bytes, 32); /* 12 bytes padded to 16 */
	transfer();
	dec_init(&d, FV_ORD_ACCEPTOR_ACCEPT);
	assert_int_equal(fv_dec_accept_req(&d, &a, &b, &c), ZX_OK);
	assert_int_equal(a, 3);
	assert_int_equal(b, 49152);
	assert_int_equal(c, 22);
	assert_int_equal(fds_open_count(), before);
}

static void test_balloon(void **state)
{
	struct fidl_dec d;
	uint32_t cur, req;
	assert_int_equal(fv_enc_balloon_size_resp(&M, 6, 100, 200), ZX_OK);
	transfer();
	dec_init(&d, FV_ORD_BALLOON_GET_BALLOON_SIZE);
	assert_int_equal(fv_dec_balloon_size_resp(&d, &cur, &req), ZX_OK);
	assert_int_equal(cur, 100);
	assert_int_equal(req, 200);

	const struct fv_mem_stat st[3] = { { 0, 1 }, { 4, 1ull << 40 }, { 9, 7 } };
	int32_t status;
	bool present;
	struct fv_mem_stat *out;
	size_t n;
	assert_int_equal(fv_enc_mem_stats_resp(&M, 6, ZX_OK, true, st, 3), ZX_OK);
	transfer();
	dec_init(&d, FV_ORD_BALLOON_GET_MEM_STATS);
	assert_int_equal(fv_dec_mem_stats_resp(&d, &status, &present, &out, &n), ZX_OK);
	assert_true(present);
	assert_int_equal(n, 3);
	assert_int_equal(out[1].tag, 4);
	assert_true(out[1].val == 1ull << 40);
	free(out);
	assert_int_equal(fv_enc_mem_stats_resp(&M, 6, ZX_ERR_UNAVAILABLE, false, NULL, 0), ZX_OK);
	transfer();
	dec_init(&d, FV_ORD_BALLOON_GET_MEM_STATS);
	assert_int_equal(fv_dec_mem_stats_resp(&d, &status, &present, &out, &n), ZX_OK);
	assert_false(present);
	assert_null(out);
	assert_int_equal(status, ZX_ERR_UNAVAILABLE);
	/* Non-zero padding inside a MemStat. */
	assert_int_equal(fv_enc_mem_stats_resp(&M, 6, ZX_OK, true, st, 1), ZX_OK);
	M.bytes[16 + 24 + 3] = 1;
	transfer();
	dec_init(&d, FV_ORD_BALLOON_GET_MEM_STATS);
	assert_int_equal(fv_dec_mem_stats_resp(&d, &status, &present, &out, &n),
	                 ZX_ERR_INVALID_ARGS);
	assert_null(out);
}

static void test_guest_info(void **state)
{
	struct fv_guest_info g, out;
	fv_guest_info_init(&g);
	g.has_guest_status = true;
	g.guest_status = FV_GUEST_STOPPED;
	g.has_uptime = true;
	g.uptime = 123456789012ll;
	g.has_guest_descriptor = true;
	g.guest_descriptor.has_num_cpus = true;
	g.guest_descriptor.num_cpus = 2;
	g.guest_descriptor.has_guest_memory = true;
	g.guest_descriptor.guest_memory = 1ull << 30;
	g.guest_descriptor.has_device[FV_DESC_CONSOLE] = true;
	g.guest_descriptor.device[FV_DESC_CONSOLE] = true;
	g.guest_descriptor.has_device[FV_DESC_GPU] = true;
	g.guest_descriptor.has_device[FV_DESC_MEM] = true;
	g.guest_descriptor.device[FV_DESC_MEM] = true;
	struct net_spec net = { .mac = { 2, 0, 0, 0, 0, 1 }, .enable_bridge = true };
	g.guest_descriptor.has_networks = true;
	g.guest_descriptor.networks = &net;
	g.guest_descriptor.n_networks = 1;
	g.has_stop_error = true;
	g.stop_error = GUEST_ERR_VCPU_RUNTIME_FAILURE;
	char *probs[2] = { "low memory", "no network" };
	g.has_detected_problems = true;
	g.detected_problems = probs;
	g.n_detected_problems = 2;
	assert_int_equal(fv_enc_guest_info_resp(&M, 11, &g), ZX_OK);
	transfer();
	struct fidl_dec d;
	dec_init(&d, FV_ORD_MANAGER_GET_INFO);
	assert_int_equal(fv_dec_guest_info_resp(&d, &out), ZX_OK);
	assert_true(out.has_guest_status);
	assert_int_equal(out.guest_status, FV_GUEST_STOPPED);
	assert_true(out.uptime == 123456789012ll);
	assert_true(out.has_guest_descriptor);
	assert_int_equal(out.guest_descriptor.num_cpus, 2);
	assert_true(out.guest_descriptor.guest_memory == 1ull << 30);
	assert_true(out.guest_descriptor.has_device[FV_DESC_CONSOLE]);
	assert_true(out.guest_descriptor.device[FV_DESC_CONSOLE]);
	assert_true(out.guest_descriptor.has_device[FV_DESC_GPU]);
	assert_false(out.guest_descriptor.device[FV_DESC_GPU]);
	assert_false(out.guest_descriptor.has_device[FV_DESC_RNG]);
	assert_true(out.guest_descriptor.device[FV_DESC_MEM]);
	assert_int_equal(out.guest_descriptor.n_networks, 1);
	assert_memory_equal(out.guest_descriptor.networks[0].mac, net.mac, 6);
	assert_true(out.guest_descriptor.networks[0].enable_bridge);
	assert_int_equal(out.stop_error, GUEST_ERR_VCPU_RUNTIME_FAILURE);
	assert_int_equal(out.n_detected_problems, 2);
	assert_string_equal(out.detected_problems[1], "no network");
	fv_guest_info_free(&out);

	/* Status 7 is not a GuestStatus. */
	M.bytes[16 + 16] = 7;
	memcpy(&R, &M, sizeof(M));
	dec_init(&d, FV_ORD_MANAGER_GET_INFO);
	assert_int_equal(fv_dec_guest_info_resp(&d, &out), ZX_ERR_INVALID_ARGS);
	/* More than 8 detected problems cannot be sent. */
	char *many[9] = { "a", "b", "c", "d", "e", "f", "g", "h", "i" };
	g.detected_problems = many;
	g.n_detected_problems = 9;
	assert_int_equal(fv_enc_guest_info_resp(&M, 11, &g), ZX_ERR_OUT_OF_RANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ordinals),
		cmocka_unit_test(test_create_full_config),
		cmocka_unit_test(test_launch),
		cmocka_unit_test(test_empty_config),
		cmocka_unit_test(test_unknown_config_field),
		cmocka_unit_test(test_config_errors_leak_nothing),
		cmocka_unit_test(test_config_encode_refuses),
		cmocka_unit_test(test_empty_and_u32_bodies),
		cmocka_unit_test(test_handle_bodies),
		cmocka_unit_test(test_results),
		cmocka_unit_test(test_vsock_requests),
		cmocka_unit_test(test_balloon),
		cmocka_unit_test(test_guest_info),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
