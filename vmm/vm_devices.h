/* vmm/vm_devices.h - the table of device kinds the vm is built from.
 *
 * Owns: what a kind of device tells the vm, so that building, feeding,
 * polling and tearing down devices is one loop over one table
 * (vm_devices.c) instead of code per device in every stage. A kind says how
 * many instances a GuestConfig wants, how to create one (device core, its
 * host adapter from host/, its bus range or virtio-mmio slot), which host
 * inputs it takes, which fds the I/O thread polls for it, and how it goes.
 * A new device joins by adding one kind to the table; the table's order is
 * the order of virtio-mmio slots, which recordings depend on.
 */
#ifndef VMM_VM_DEVICES_H
#define VMM_VM_DEVICES_H

#include <stdbool.h>
#include <stddef.h>

#include "api/guest_config.h"
#include "api/guest_error.h"
#include "machine.h"

struct vm;
struct pollfd;

/* The PC's own devices (serial, i8042) plus one per virtio-mmio slot. */
#define VM_MAX_DEVICES (2 + VM_MAX_VIRTIO)

struct vm_dev {
	const struct vm_device_kind *kind;
	void *inst;  /* the kind's own state */
	bool polled; /* the I/O thread has fds to watch for it (a live run) */
};

struct vm_device_kind {
	const char *name;
	/* Takes one virtio-mmio slot per instance (counted against VM_MAX_VIRTIO
	 * before anything is built). */
	bool virtio;
	/* How many instances cfg asks for. */
	unsigned (*wanted)(const struct guest_config *cfg);
	/* Build instance `index` into d (d->inst set as soon as there is
	 * something for destroy to free, even on failure). */
	enum guest_error (*create)(struct vm *vm, unsigned index, struct vm_dev *d, char *err,
	                           size_t errlen);
	/* Host input named `device`, with the event lock held: false when it is
	 * not this instance's (nothing happened); else true and *taken, the
	 * bytes accepted. NULL: takes none. */
	bool (*input)(void *inst, const char *device, const void *data, size_t len,
	              size_t *taken);
	/* The I/O thread, for a polled instance: fill at most max pollfds and
	 * return how many; lower *timeout_ms to be looked at again soon. Then
	 * what they said: n of them answered (0 after a timeout or EINTR);
	 * kicked: some device said it has room again. NULL: polls nothing. */
	unsigned max_poll;
	unsigned (*poll_fill)(void *inst, struct pollfd *p, unsigned max, int *timeout_ms);
	void (*poll_done)(void *inst, const struct pollfd *p, unsigned n, bool kicked);
	/* Free the instance, after the I/O thread and the vCPUs have stopped. */
	void (*destroy)(struct vm *vm, void *inst);
};

/* The kinds, in table order (vm_dev_pc.c, vm_dev_virtio.c). */
extern const struct vm_device_kind vm_kind_serial, vm_kind_i8042, vm_kind_block, vm_kind_rng,
	vm_kind_console, vm_kind_balloon, vm_kind_net, vm_kind_vsock;

/* Every instance every kind wants, in table order; BAD_CONFIG when the
 * config wants more virtio devices than there are slots. */
enum guest_error vm_devices_create(struct vm *vm, char *err, size_t errlen);
/* Route a host input (the event lock held): false when no device takes it. */
bool vm_devices_input(struct vm *vm, const char *device, const void *data, size_t len,
                      size_t *taken);
void vm_devices_destroy(struct vm *vm);

#endif
