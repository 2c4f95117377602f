/* vmm/vm_dev_virtio.c - the virtio devices as kinds of the device table:
 * block, rng, console, balloon, net and vsock.
 *
 * Owns: for each, how many a GuestConfig wants, which device core and which
 * host adapter (host/) make one, the host inputs it takes and the fds the
 * I/O thread polls for it. What the host does for a device is its adapter's
 * business; vsock's host side is vm_vsock.c's. Also the vm's balloon and
 * console accessors (vm.h), which reach these instances.
 */
#include "vm_internal.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/event_names.h"
#include "base/log.h"
#include "devices/block.h"
#include "devices/console.h"
#include "devices/net.h"
#include "devices/rng.h"
#include "host/balloon.h"
#include "host/block.h"
#include "host/entropy.h"
#include "host/net_tap.h"
#include "host/stream.h"

static void device_has_room(void *vm)
{
	vm_io_kick(vm);
}

/* ---- block ---- */

static unsigned block_wanted(const struct guest_config *c)
{
	return (unsigned)c->n_block_devices;
}

static enum guest_error block_create(struct vm *vm, unsigned index, struct vm_dev *d,
                                     char *err, size_t errlen)
{
	assert(index < vm->cfg.n_block_devices);
	const struct block_spec *bs = &vm->cfg.block_devices[index];
	struct virtio_block *b = calloc(1, sizeof(*b));
	if (!b)
		return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "out of memory");
	static const enum block_dev_mode modes[] = {
		[BLOCK_READ_WRITE] = BLOCK_DEV_READ_WRITE,
		[BLOCK_READ_ONLY] = BLOCK_DEV_READ_ONLY,
		[BLOCK_VOLATILE_WRITE] = BLOCK_DEV_VOLATILE,
	};
	d->inst = b;
	struct block_io io = host_block_io(&vm->hev);
	int r = virtio_block_init(b, bs->fd, modes[bs->mode], bs->id, &io);
	if (r < 0)
		return vm_fail(err, errlen, GUEST_ERR_DEVICE_INITIALIZATION_FAILURE,
		               "block device \"%s\": %s", bs->id,
		               r == -EINVAL ? "not a regular file or block device" : strerror(-r));
	return vm_add_virtio(vm, &b->dev, err, errlen);
}

static void block_destroy(struct vm *vm, void *inst)
{
	virtio_block_destroy(inst);
	free(inst);
}

const struct vm_device_kind vm_kind_block = {
	.name = "block",
	.virtio = true,
	.wanted = block_wanted,
	.create = block_create,
	.destroy = block_destroy,
};

/* ---- rng ---- */

static unsigned rng_wanted(const struct guest_config *c)
{
	return c->has_virtio_rng && c->virtio_rng;
}

static enum guest_error rng_create(struct vm *vm, unsigned index, struct vm_dev *d, char *err,
                                   size_t errlen)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));
	if (!r)
		return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "out of memory");
	d->inst = r;
	struct rng_host rh = host_entropy(&vm->hev);
	virtio_rng_init(r, &rh);
	return vm_add_virtio(vm, &r->dev, err, errlen);
}

static void free_inst(struct vm *vm, void *inst)
{
	free(inst);
}

const struct vm_device_kind vm_kind_rng = {
	.name = "rng",
	.virtio = true,
	.wanted = rng_wanted,
	.create = rng_create,
	.destroy = free_inst,
};

/* ---- console: a socketpair, our end and the one GetConsole hands out ---- */

struct vm_console {
	struct vm *vm;
	struct virtio_console dev;
	struct host_stream stream;
	int fd, peer_fd;
};

static unsigned console_wanted(const struct guest_config *c)
{
	return c->has_virtio_console && c->virtio_console;
}

static enum guest_error console_create(struct vm *vm, unsigned index, struct vm_dev *d,
                                       char *err, size_t errlen)
{
	struct vm_console *c = calloc(1, sizeof(*c));
	if (!c)
		return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "out of memory");
	c->fd = c->peer_fd = -1;
	d->inst = c;
	c->vm = vm;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "socketpair: %s",
		               strerror(errno));
	c->fd = sv[0];
	c->peer_fd = sv[1];
	vm->console = c;
	host_stream_init(&c->stream, &vm->hev, EVN_CONSOLE, c->fd, c->fd, HOST_STREAM_DROP,
	                 HOST_STREAM_HOLD_MAX);
	c->stream.wake = device_has_room;
	c->stream.wake_ctx = vm;
	struct console_host h = host_stream_console(&c->stream);
	virtio_console_init(&c->dev, &h);
	d->polled = true;
	return vm_add_virtio(vm, &c->dev.dev, err, errlen);
}

static bool console_input(void *inst, const char *device, const void *data, size_t len,
                          size_t *taken)
{
	struct vm_console *c = inst;
	if (strcmp(device, EVN_CONSOLE) != 0)
		return false;
	*taken = virtio_console_host_input(&c->dev, data, len);
	return true;
}

static unsigned console_poll_fill(void *inst, struct pollfd *p, unsigned max, int *timeout_ms)
{
	struct vm_console *c = inst;
	assert(max >= 1);
	p[0] = (struct pollfd){ .fd = host_stream_room(&c->stream) ? c->fd : -1, .events = POLLIN };
	return 1;
}

static void console_poll_done(void *inst, const struct pollfd *p, unsigned n, bool kicked)
{
	struct vm_console *c = inst;
	bool readable = n >= 1 && p[0].revents;
	/* Held bytes wait for the driver's rx_space kick. */
	if (!readable && !(kicked && c->stream.held_len))
		return;
	if (readable)
		host_stream_read(&c->stream);
	host_stream_offer(&c->stream, vm_io_deliver, c->vm);
}

static void console_destroy(struct vm *vm, void *inst)
{
	struct vm_console *c = inst;
	if (c->fd >= 0)
		close(c->fd);
	if (c->peer_fd >= 0)
		close(c->peer_fd);
	free(c);
}

const struct vm_device_kind vm_kind_console = {
	.name = "console",
	.virtio = true,
	.wanted = console_wanted,
	.create = console_create,
	.input = console_input,
	.max_poll = 1,
	.poll_fill = console_poll_fill,
	.poll_done = console_poll_done,
	.destroy = console_destroy,
};

int vm_console_peer(const struct vm *vm)
{
	return vm->console ? vm->console->peer_fd : -1;
}

/* ---- balloon ---- */

struct vm_balloon {
	struct virtio_balloon dev;
	struct host_balloon host;
};

static unsigned balloon_wanted(const struct guest_config *c)
{
	return c->has_virtio_balloon && c->virtio_balloon;
}

static enum guest_error balloon_create(struct vm *vm, unsigned index, struct vm_dev *d,
                                       char *err, size_t errlen)
{
	struct vm_balloon *b = calloc(1, sizeof(*b));
	if (!b)
		return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "out of memory");
	d->inst = b;
	vm->balloon = b;
	host_balloon_init(&b->host, &vm->hev, &vm->mem);
	struct balloon_host h = host_balloon_hooks(&b->host);
	virtio_balloon_init(&b->dev, &h, false);
	return vm_add_virtio(vm, &b->dev.dev, err, errlen);
}

static bool balloon_input(void *inst, const char *device, const void *data, size_t len,
                          size_t *taken)
{
	struct vm_balloon *b = inst;
	return host_balloon_input(&b->dev, device, data, len, taken);
}

static void balloon_destroy(struct vm *vm, void *inst)
{
	struct vm_balloon *b = inst;
	host_balloon_summary(&b->host, &b->dev);
	free(b);
}

const struct vm_device_kind vm_kind_balloon = {
	.name = "balloon",
	.virtio = true,
	.wanted = balloon_wanted,
	.create = balloon_create,
	.input = balloon_input,
	.destroy = balloon_destroy,
};

bool vm_has_balloon(const struct vm *vm)
{
	return vm->balloon != NULL;
}

int vm_balloon_request(struct vm *vm, uint32_t pages)
{
	if (!vm->balloon)
		return -ENODEV;
	/* A host input like any other: recorded, and replayable. */
	uint8_t b[EVN_BALLOON_TARGET_SIZE];
	le32_put(b, pages);
	vm_host_input(vm, EVN_BALLOON, b, sizeof(b));
	return 0;
}

int vm_balloon_size(struct vm *vm, uint32_t *actual, uint32_t *requested)
{
	if (!vm->balloon)
		return -ENODEV;
	/* Its driver runs on vCPU threads. */
	pthread_mutex_lock(&vm->event_lock);
	*actual = vm->balloon->dev.actual;
	*requested = vm->balloon->dev.num_pages;
	pthread_mutex_unlock(&vm->event_lock);
	return 0;
}

int vm_balloon_stats(struct vm *vm, struct balloon_stat *out, unsigned max)
{
	if (!vm->balloon)
		return -ENODEV;
	/* Ask for fresh numbers for next time (a recorded host input); answer
	 * with the latest. */
	uint8_t ask = 0;
	vm_host_input(vm, EVN_BALLOON_STATS, &ask, 1);
	pthread_mutex_lock(&vm->event_lock);
	int n = virtio_balloon_get_stats(&vm->balloon->dev, out, max);
	pthread_mutex_unlock(&vm->event_lock);
	return n;
}

/* ---- net: one TAP per device ("vmmtap%d"); replay has none ---- */

struct vm_net {
	struct vm *vm;
	struct virtio_net dev;
	struct host_tap tap;
	char tap_name[16];
};

static unsigned net_wanted(const struct guest_config *c)
{
	return (unsigned)c->n_net_devices + (c->has_default_net && c->default_net);
}

static enum guest_error net_create(struct vm *vm, unsigned index, struct vm_dev *d, char *err,
                                   size_t errlen)
{
	const struct guest_config *c = &vm->cfg;
	struct vm_net *n = calloc(1, sizeof(*n));
	if (!n)
		return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "out of memory");
	d->inst = n;
	n->vm = vm;
	char name[EVN_NET_NAME_MAX];
	evn_net_name(name, index);
	/* Replay feeds recorded frames and checks sent ones: no TAP. */
	int fd = vm->have_source ? -1
	         : net_tap_open("vmmtap%d", true, n->tap_name, sizeof(n->tap_name));
	host_tap_init(&n->tap, &vm->hev, name, fd);
	if (fd < 0 && !vm->have_source)
		return vm_fail(err, errlen, GUEST_ERR_DEVICE_INITIALIZATION_FAILURE,
		               "net device %u: cannot create a TAP interface: %s (needs "
		               "CAP_NET_ADMIN and /dev/net/tun)", index, strerror(-fd));
	/* The default network gets a fixed locally administered address;
	 * NetSpecs bring their own. */
	uint8_t mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, (uint8_t)(index + 1) };
	if (index < c->n_net_devices)
		memcpy(mac, c->net_devices[index].mac, 6);
	n->tap.wake = device_has_room;
	n->tap.wake_ctx = vm;
	struct net_host h = host_tap_net(&n->tap);
	virtio_net_init(&n->dev, mac, &h);
	d->polled = true;
	enum guest_error e = vm_add_virtio(vm, &n->dev.dev, err, errlen);
	if (e)
		return e;
	log_info("net device %u: TAP %s, MAC %02x:%02x:%02x:%02x:%02x:%02x", index, n->tap_name,
	         mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return GUEST_OK;
}

static bool net_input(void *inst, const char *device, const void *data, size_t len,
                      size_t *taken)
{
	struct vm_net *n = inst;
	if (strcmp(device, n->tap.name) != 0)
		return false;
	/* One whole frame: gone (delivered, or dropped for good) or held. */
	*taken = host_tap_frame_in(&n->dev, data, len);
	return true;
}

static unsigned net_poll_fill(void *inst, struct pollfd *p, unsigned max, int *timeout_ms)
{
	struct vm_net *n = inst;
	assert(max >= 1);
	p[0] = (struct pollfd){ .fd = host_tap_room(&n->tap) ? n->tap.fd : -1, .events = POLLIN };
	return 1;
}

static void net_poll_done(void *inst, const struct pollfd *p, unsigned n_answered, bool kicked)
{
	struct vm_net *n = inst;
	if (n->tap.held_len && kicked)
		host_tap_retry(&n->tap, vm_io_deliver, n->vm);
	if (n_answered >= 1 && p[0].revents)
		host_tap_receive(&n->tap, vm_io_deliver, n->vm);
}

static void net_destroy(struct vm *vm, void *inst)
{
	struct vm_net *n = inst;
	if (n->tap.fd >= 0)
		close(n->tap.fd);
	free(n);
}

const struct vm_device_kind vm_kind_net = {
	.name = "net",
	.virtio = true,
	.wanted = net_wanted,
	.create = net_create,
	.input = net_input,
	.max_poll = 1,
	.poll_fill = net_poll_fill,
	.poll_done = net_poll_done,
	.destroy = net_destroy,
};

/* ---- vsock: vm_vsock.c does it all; the instance is the vm ---- */

static unsigned vsock_wanted(const struct guest_config *c)
{
	return c->has_virtio_vsock && c->virtio_vsock;
}

static enum guest_error vsock_create(struct vm *vm, unsigned index, struct vm_dev *d,
                                     char *err, size_t errlen)
{
	d->inst = vm;
	d->polled = true;
	return vm_vsock_add(vm, err, errlen);
}

static unsigned vsock_poll_fill(void *inst, struct pollfd *p, unsigned max, int *timeout_ms)
{
	assert(max >= VM_VSOCK_MAX_POLL);
	return vm_vsock_poll_fill(inst, p, VM_VSOCK_MAX_POLL);
}

static void vsock_poll_done(void *inst, const struct pollfd *p, unsigned n, bool kicked)
{
	vm_vsock_poll_done(inst, p, n);
}

static void vsock_destroy(struct vm *vm, void *inst)
{
	vm_vsock_destroy(vm);
}

const struct vm_device_kind vm_kind_vsock = {
	.name = "vsock",
	.virtio = true,
	.wanted = vsock_wanted,
	.create = vsock_create,
	.max_poll = VM_VSOCK_MAX_POLL,
	.poll_fill = vsock_poll_fill,
	.poll_done = vsock_poll_done,
	.destroy = vsock_destroy,
};

bool vm_has_vsock(const struct vm *vm)
{
	return vm->vsock != NULL;
}
