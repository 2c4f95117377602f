/* vmm/vm_io.c - the host side of the devices that talk to the host: the
 * serial port's and the console's sockets, TAP interfaces for net, and the
 * balloon's hand-back of memory.
 *
 * Owns: creating those devices from the config, and the I/O thread that
 * feeds host input to them. Every byte a device receives from the host enters
 * through vm_host_input / net_frame_in under the event lock and is announced
 * to the sink, so a recording holds it at the point between two exits where
 * the guest could first see it. Input a device has no room for is held here
 * (never dropped) and retried when the device says it has room (io_kick_fd)
 * or, for the UART which cannot say so, a few milliseconds later. The
 * vsock device's sockets and acceptor channels are polled here too; what to
 * do with them is vm_vsock.c's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/net_tap.h"
#include "base/log.h"
#include "vm.h"

void vm_io_init(struct vm *vm)
{
	vm->io_wake_fd = vm->io_kick_fd = -1;
	vm->console_fd = vm->console_peer_fd = -1;
}

void vm_io_kick(struct vm *vm)
{
	if (vm->io_kick_fd >= 0) {
		uint64_t one = 1;
		ssize_t w = write(vm->io_kick_fd, &one, sizeof(one));
		(void)w;
	}
}

/* ---- console ---- */

static void console_write(void *ctx, const void *buf, size_t len)
{
	struct vm *vm = ctx;
	if (vm->have_sink && vm->sink.host_output)
		vm->sink.host_output(vm->sink.ctx, "console", buf, len);
	ssize_t n = send(vm->console_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n != (ssize_t)len && vm->console_dropped++ == 0)
		log_warn("console output dropped: nobody is reading the console socket");
}

static void device_has_room(void *ctx)
{
	vm_io_kick(ctx);
}

/* ---- balloon ---- */

static void balloon_discard(void *ctx, uint64_t gpa, uint64_t len)
{
	struct vm *vm = ctx;
	if (vm->have_sink && vm->sink.host_output) {
		/* What the host gave back is an output: gpa and length, LE. */
		uint8_t b[16];
		for (int i = 0; i < 8; i++) {
			b[i] = (uint8_t)(gpa >> (8 * i));
			b[8 + i] = (uint8_t)(len >> (8 * i));
		}
		vm->sink.host_output(vm->sink.ctx, "balloon", b, sizeof(b));
	}
	void *p = gm_span(&vm->mem, gpa, len);
	/* MADV_REMOVE frees the memfd's pages (DONTNEED would only unmap a
	 * shared mapping); the guest reads zeros if it touches them again. */
	if (p && madvise(p, len, MADV_REMOVE) != 0)
		log_warn("balloon: cannot give back 0x%llx+0x%llx: %s", (unsigned long long)gpa,
		         (unsigned long long)len, strerror(errno));
	else if (p)
		vm->balloon_returned += len;
}

/* The driver's `actual`: a reset (Linux's shutdown resets its devices) puts
 * it back to 0, so the summary at exit reports the highest value too. */
static void balloon_actual_changed(void *ctx, uint32_t actual)
{
	struct vm *vm = ctx;
	if (actual > vm->balloon_actual_max)
		vm->balloon_actual_max = actual;
}

/* ---- net ---- */

static void net_send(void *ctx, const void *frame, size_t len)
{
	struct vm_net *n = ctx;
	struct vm *vm = n->vm;
	if (vm->have_sink && vm->sink.host_output)
		vm->sink.host_output(vm->sink.ctx, n->name, frame, len);
	if (n->tap_fd < 0)
		return; /* replay: no TAP */
	/* A TAP takes whole frames or nothing; a full host queue drops, as a wire would. */
	ssize_t w = write(n->tap_fd, frame, len);
	(void)w;
}

static void net_has_room(void *ctx)
{
	struct vm_net *n = ctx;
	vm_io_kick(n->vm);
}

/* ---- creation ---- */

enum guest_error vm_io_add_devices(struct vm *vm, char *err, size_t errlen)
{
	struct guest_config *c = &vm->cfg;
	enum guest_error e;
	if (c->has_virtio_console && c->virtio_console) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "socketpair: %s",
			               strerror(errno));
		vm->console_fd = sv[0];
		vm->console_peer_fd = sv[1];
		vm->console = calloc(1, sizeof(*vm->console));
		if (!vm->console)
			return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "out of memory");
		struct console_host h = { .ctx = vm, .write = console_write, .rx_space = device_has_room };
		virtio_console_init(vm->console, &h);
		if ((e = vm_add_virtio(vm, &vm->console->dev, err, errlen)))
			return e;
	}
	if (c->has_virtio_balloon && c->virtio_balloon) {
		vm->balloon = calloc(1, sizeof(*vm->balloon));
		if (!vm->balloon)
			return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "out of memory");
		struct balloon_host h = { .ctx = vm, .discard = balloon_discard,
		                          .actual_changed = balloon_actual_changed };
		virtio_balloon_init(vm->balloon, &h, false);
		if ((e = vm_add_virtio(vm, &vm->balloon->dev, err, errlen)))
			return e;
	}
	size_t nnet = c->n_net_devices + (c->has_default_net && c->default_net);
	for (size_t i = 0; i < nnet; i++) {
		struct vm_net *n = calloc(1, sizeof(*n));
		if (!n)
			return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "out of memory");
		snprintf(n->name, sizeof(n->name), "net%u", vm->nnets);
		vm->nets[vm->nnets++] = n;
		/* Replay feeds recorded frames and checks sent ones: no TAP. */
		n->tap_fd = vm->have_source ? -1
		            : net_tap_open("vmmtap%d", true, n->tap_name, sizeof(n->tap_name));
		if (n->tap_fd < 0 && !vm->have_source)
			return vm_fail(err, errlen, GUEST_ERR_DEVICE_INITIALIZATION_FAILURE,
			               "net device %zu: cannot create a TAP interface: %s (needs "
			               "CAP_NET_ADMIN and /dev/net/tun)", i, strerror(-n->tap_fd));
		/* The default network gets a fixed locally administered address;
		 * NetSpecs bring their own. */
		uint8_t mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, (uint8_t)(i + 1) };
		if (i < c->n_net_devices)
			memcpy(mac, c->net_devices[i].mac, 6);
		n->vm = vm;
		struct net_host h = { .ctx = n, .send_frame = net_send, .rx_space = net_has_room };
		virtio_net_init(&n->dev, mac, &h);
		if ((e = vm_add_virtio(vm, &n->dev.dev, err, errlen)))
			return e;
		log_info("net device %zu: TAP %s, MAC %02x:%02x:%02x:%02x:%02x:%02x", i, n->tap_name,
		         mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	}
	if (c->has_virtio_vsock && c->virtio_vsock && (e = vm_vsock_add(vm, err, errlen)))
		return e;
	return GUEST_OK;
}

/* ---- input ---- */

/* Which net device a host-event name ("net0", "net1", ...) is, or NULL. */
static struct vm_net *net_by_name(struct vm *vm, const char *device)
{
	for (unsigned i = 0; i < vm->nnets; i++)
		if (strcmp(device, vm->nets[i]->name) == 0)
			return vm->nets[i];
	return NULL;
}

static uint32_t le32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

size_t vm_host_input(struct vm *vm, const char *device, const void *data, size_t len)
{
	size_t taken = 0;
	bool offered = true;
	struct vm_net *n;
	pthread_mutex_lock(&vm->event_lock);
	if (strcmp(device, "serial") == 0 && vm->uart) {
		taken = uart8250_rx(vm->uart, data, len);
	} else if (strcmp(device, "console") == 0 && vm->console) {
		taken = virtio_console_host_input(vm->console, data, len);
	} else if ((n = net_by_name(vm, device))) {
		/* One whole frame: gone (delivered, or dropped for good) or held. */
		taken = virtio_net_host_frame(&n->dev, data, len) == -EAGAIN ? 0 : len;
	} else if (strcmp(device, "balloon") == 0 && vm->balloon && len == 4) {
		virtio_balloon_request_pages(vm->balloon, le32(data));
		taken = len;
	} else if (strcmp(device, "balloon-stats") == 0 && vm->balloon && len == 1) {
		taken = virtio_balloon_request_stats(vm->balloon) == 0 ? 1 : 0;
	} else {
		offered = false; /* no such device: nothing happened */
	}
	if (offered && vm->have_sink && vm->sink.host_event)
		vm->sink.host_event(vm->sink.ctx, device, data, len, taken);
	pthread_mutex_unlock(&vm->event_lock);
	return taken;
}

/* One frame for net device n: true if it is gone (delivered or dropped),
 * false if the guest had no buffer and it must be held. */
static bool net_frame_in(struct vm *vm, struct vm_net *n, const void *frame, size_t len)
{
	return vm_host_input(vm, n->name, frame, len) == len;
}

/* Read what fd has into buf[*n..cap) and deliver it; false at end of input. */
static bool pump(struct vm *vm, const char *device, int fd, uint8_t *buf, size_t *n, size_t cap)
{
	bool open = true;
	if (fd >= 0 && *n < cap) {
		ssize_t r = read(fd, buf + *n, cap - *n);
		if (r > 0)
			*n += (size_t)r;
		else if (r == 0 || (errno != EAGAIN && errno != EINTR))
			open = false;
	}
	if (*n) {
		size_t t = vm_host_input(vm, device, buf, *n);
		memmove(buf, buf + t, *n - t);
		*n -= t;
	}
	return open;
}

enum { P_WAKE, P_KICK, P_SERIAL, P_CONSOLE, P_NET };

static void *io_main(void *arg)
{
	struct vm *vm = arg;
	bool serial_open = vm->serial_in_fd >= 0, console_open = vm->console_fd >= 0;
	for (;;) {
		struct pollfd p[P_NET + GC_MAX_NET_DEVICES + VM_VSOCK_MAX_POLL];
		p[P_WAKE] = (struct pollfd){ .fd = vm->io_wake_fd, .events = POLLIN };
		p[P_KICK] = (struct pollfd){ .fd = vm->io_kick_fd, .events = POLLIN };
		/* A source is read only while there is room to hold what it gives. */
		p[P_SERIAL] = (struct pollfd){
			.fd = serial_open && vm->serial_npending < sizeof(vm->serial_pending)
			          ? vm->serial_in_fd : -1, .events = POLLIN };
		p[P_CONSOLE] = (struct pollfd){
			.fd = console_open && vm->console_npending < sizeof(vm->console_pending)
			          ? vm->console_fd : -1, .events = POLLIN };
		for (unsigned i = 0; i < vm->nnets; i++)
			p[P_NET + i] = (struct pollfd){
				.fd = vm->nets[i]->held_len ? -1 : vm->nets[i]->tap_fd, .events = POLLIN };
		unsigned nfixed = P_NET + vm->nnets;
		unsigned nvsock = vm->vsock ? vm_vsock_poll_fill(vm, p + nfixed, VM_VSOCK_MAX_POLL) : 0;
		/* The UART cannot say when it has room again: with bytes held for
		 * it, look again soon. */
		int r = poll(p, nfixed + nvsock, vm->serial_npending ? 5 : -1);
		if (r < 0 && errno != EINTR)
			break;
		if (p[P_WAKE].revents)
			break;
		bool kicked = p[P_KICK].revents != 0;
		if (kicked) {
			uint64_t v;
			ssize_t rd = read(vm->io_kick_fd, &v, sizeof(v));
			(void)rd;
		}
		if (p[P_SERIAL].revents || vm->serial_npending)
			serial_open = pump(vm, "serial", p[P_SERIAL].revents ? vm->serial_in_fd : -1,
			                   vm->serial_pending, &vm->serial_npending,
			                   sizeof(vm->serial_pending)) && serial_open;
		if (p[P_CONSOLE].revents || (kicked && vm->console_npending))
			console_open = pump(vm, "console", p[P_CONSOLE].revents ? vm->console_fd : -1,
			                    vm->console_pending, &vm->console_npending,
			                    sizeof(vm->console_pending)) && console_open;
		for (unsigned i = 0; i < vm->nnets; i++) {
			struct vm_net *n = vm->nets[i];
			if (n->held_len && kicked && net_frame_in(vm, n, n->held, n->held_len))
				n->held_len = 0;
			if (!p[P_NET + i].revents)
				continue;
			ssize_t got = read(n->tap_fd, n->held, sizeof(n->held));
			if (got > 0 && !net_frame_in(vm, n, n->held, (size_t)got))
				n->held_len = (size_t)got;
		}
		if (vm->vsock)
			vm_vsock_poll_done(vm, p + nfixed, r > 0 ? nvsock : 0);
	}
	return NULL;
}

void vm_io_start(struct vm *vm)
{
	/* Replay feeds recorded input itself; only a live run reads the host. */
	if (vm->have_source)
		return;
	if (vm->serial_in_fd < 0 && vm->console_fd < 0 && vm->nnets == 0 && !vm->vsock)
		return;
	vm->io_wake_fd = eventfd(0, EFD_CLOEXEC);
	vm->io_kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->io_wake_fd < 0 || vm->io_kick_fd < 0) {
		log_warn("no host input for this guest: eventfd: %s", strerror(errno));
		return;
	}
	if (pthread_create(&vm->io_thread, NULL, io_main, vm) == 0)
		vm->io_thread_started = true;
}

void vm_io_stop(struct vm *vm)
{
	if (!vm->io_thread_started)
		return;
	uint64_t one = 1;
	ssize_t w = write(vm->io_wake_fd, &one, sizeof(one));
	(void)w;
	pthread_join(vm->io_thread, NULL);
	vm->io_thread_started = false;
}

void vm_io_destroy(struct vm *vm)
{
	vm_io_stop(vm);
	vm_vsock_destroy(vm);
	if (vm->io_wake_fd >= 0)
		close(vm->io_wake_fd);
	if (vm->io_kick_fd >= 0)
		close(vm->io_kick_fd);
	if (vm->console_fd >= 0)
		close(vm->console_fd);
	if (vm->console_peer_fd >= 0)
		close(vm->console_peer_fd);
	free(vm->console);
	if (vm->balloon)
		log_info("balloon: %llu pages inflated, %llu deflated, actual %u (at most %u) of %u "
		         "requested, %llu bytes returned to the host",
		         (unsigned long long)vm->balloon->inflated_pages,
		         (unsigned long long)vm->balloon->deflated_pages, vm->balloon->actual,
		         vm->balloon_actual_max, vm->balloon->num_pages,
		         (unsigned long long)vm->balloon_returned);
	free(vm->balloon);
	vm->balloon = NULL;
	for (unsigned i = 0; i < vm->nnets; i++) {
		if (vm->nets[i]->tap_fd >= 0)
			close(vm->nets[i]->tap_fd);
		free(vm->nets[i]);
	}
	vm_io_init(vm);
}
