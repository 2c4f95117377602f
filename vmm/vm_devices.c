/* vmm/vm_devices.c - the table of device kinds, and the loops over it; see
 * vm_devices.h. */
#include "vm_internal.h"

#include <string.h>

/* In this order: slot numbers (and so guest addresses and GSIs) follow it. */
static const struct vm_device_kind *const kinds[] = {
	&vm_kind_serial,  &vm_kind_i8042,   &vm_kind_block, &vm_kind_rng,
	&vm_kind_console, &vm_kind_balloon, &vm_kind_net,   &vm_kind_vsock,
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

enum guest_error vm_devices_create(struct vm *vm, char *err, size_t errlen)
{
	unsigned nvirtio = 0;
	for (size_t k = 0; k < NKINDS; k++)
		if (kinds[k]->virtio)
			nvirtio += kinds[k]->wanted(&vm->cfg);
	if (nvirtio > VM_MAX_VIRTIO)
		return vm_fail(err, errlen, GUEST_ERR_BAD_CONFIG,
		               "%u virtio devices requested; this machine has %d virtio-mmio slots",
		               nvirtio, VM_MAX_VIRTIO);
	for (size_t k = 0; k < NKINDS; k++) {
		unsigned n = kinds[k]->wanted(&vm->cfg);
		for (unsigned i = 0; i < n; i++) {
			/* Counted above: the PC's devices plus at most one per slot. */
			assert(vm->ndevs < VM_MAX_DEVICES);
			struct vm_dev *d = &vm->devs[vm->ndevs++];
			*d = (struct vm_dev){ .kind = kinds[k] };
			enum guest_error e = kinds[k]->create(vm, i, d, err, errlen);
			if (e)
				return e;
		}
	}
	return GUEST_OK;
}

bool vm_devices_input(struct vm *vm, const char *device, const void *data, size_t len,
                      size_t *taken)
{
	assert(vm_event_lock_busy(vm));
	for (unsigned i = 0; i < vm->ndevs; i++) {
		const struct vm_dev *d = &vm->devs[i];
		if (d->inst && d->kind->input && d->kind->input(d->inst, device, data, len, taken))
			return true;
	}
	return false;
}

void vm_devices_destroy(struct vm *vm)
{
	assert(!vm->io_thread_started);
	for (unsigned i = 0; i < vm->ndevs; i++)
		if (vm->devs[i].inst)
			vm->devs[i].kind->destroy(vm, vm->devs[i].inst);
	vm->ndevs = 0;
	vm->console = NULL;
	vm->balloon = NULL;
}
