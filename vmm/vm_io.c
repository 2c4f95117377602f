/* vmm/vm_io.c - host input into the vm: routing and the I/O thread.
 *
 * Owns: vm_host_input (every byte a device receives from the host enters
 * here, under the event lock, and is announced to the sink, so a recording
 * holds it at the point between two exits where the guest could first see
 * it), routed by the device table (vm_devices.c), and the I/O thread of a
 * live run, which polls what each device kind asks it to and hands the
 * answers back. Input a device has no room for is held by its host adapter
 * (never dropped) and retried when a device says it has room (io_kick_fd).
 */
#include "vm_internal.h"

#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"

/* The wake and kick eventfds, then every polled device's share. */
#define VM_IO_FIXED 2
#define VM_IO_MAX_POLL (VM_IO_FIXED + VM_MAX_DEVICES + VM_VSOCK_MAX_POLL)

void vm_io_init(struct vm *vm)
{
	vm->io_wake_fd = vm->io_kick_fd = -1;
}

void vm_io_kick(struct vm *vm)
{
	if (vm->io_kick_fd >= 0) {
		uint64_t one = 1;
		ssize_t w = write(vm->io_kick_fd, &one, sizeof(one));
		(void)w;
	}
}

size_t vm_host_input(struct vm *vm, const char *device, const void *data, size_t len)
{
	size_t taken = 0;
	pthread_mutex_lock(&vm->event_lock);
	/* No such device: nothing happened, nothing to announce. */
	bool offered = vm_devices_input(vm, device, data, len, &taken);
	assert(taken <= len);
	if (offered && vm->have_sink && vm->sink.host_event)
		vm->sink.host_event(vm->sink.ctx, device, data, len, taken);
	pthread_mutex_unlock(&vm->event_lock);
	return taken;
}

size_t vm_io_deliver(void *vm, const char *device, const void *data, size_t len)
{
	return vm_host_input(vm, device, data, len);
}

static void *io_main(void *arg)
{
	struct vm *vm = arg;
	for (;;) {
		struct pollfd p[VM_IO_MAX_POLL];
		unsigned first[VM_MAX_DEVICES], count[VM_MAX_DEVICES];
		p[0] = (struct pollfd){ .fd = vm->io_wake_fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = vm->io_kick_fd, .events = POLLIN };
		unsigned n = VM_IO_FIXED;
		int timeout = -1;
		for (unsigned i = 0; i < vm->ndevs; i++) {
			const struct vm_dev *d = &vm->devs[i];
			first[i] = n;
			count[i] = d->polled ? d->kind->poll_fill(d->inst, p + n, VM_IO_MAX_POLL - n,
			                                          &timeout)
			                     : 0;
			assert(count[i] <= d->kind->max_poll);
			n += count[i];
		}
		int r = poll(p, n, timeout);
		if (r < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		bool kicked = p[1].revents != 0;
		if (kicked) {
			uint64_t v;
			ssize_t rd = read(vm->io_kick_fd, &v, sizeof(v));
			(void)rd;
		}
		for (unsigned i = 0; i < vm->ndevs; i++) {
			const struct vm_dev *d = &vm->devs[i];
			if (d->polled)
				d->kind->poll_done(d->inst, p + first[i], r > 0 ? count[i] : 0, kicked);
		}
	}
	return NULL;
}

void vm_io_start(struct vm *vm)
{
	/* Replay feeds recorded input itself; only a live run reads the host. */
	if (vm->have_source)
		return;
	bool polled = false;
	unsigned need = VM_IO_FIXED;
	for (unsigned i = 0; i < vm->ndevs; i++)
		if (vm->devs[i].polled) {
			polled = true;
			need += vm->devs[i].kind->max_poll;
		}
	if (!polled)
		return;
	assert(need <= VM_IO_MAX_POLL);
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
	if (vm->io_wake_fd >= 0)
		close(vm->io_wake_fd);
	if (vm->io_kick_fd >= 0)
		close(vm->io_kick_fd);
	vm_io_init(vm);
}
