/* vmm/vm_internal.h - struct vm, for vmm/vm*.c only.
 *
 * Owns: the VM's state and who owns which part of it: vm.c the hypervisor,
 * memory, bus, virtio-mmio slots, vCPUs and the stop result; vm_devices.c
 * and the kinds it lists (vm_dev_*.c) the devices and their host adapters;
 * vm_io.c the I/O thread and host-input routing; vm_vsock.c its vsock
 * state. Nothing outside vmm/vm*.c includes this: vm.h is the contract.
 */
#ifndef VMM_VM_INTERNAL_H
#define VMM_VM_INTERNAL_H

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/host_events.h"
#include "loader.h"
#include "virtio_mmio.h"
#include "vm.h"
#include "vm_devices.h"

struct pollfd;
struct vm_vsock;
struct vm_console;
struct vm_balloon;

struct vm_virtio_slot {
	struct vm *vm;
	unsigned index;
	uint32_t gsi;
	struct virtio_mmio mmio;
};

struct vm_vcpu {
	struct vm *vm;
	unsigned id;
	struct hv_vcpu *hv;
	pthread_t thread;
	bool thread_started;
};

struct vm {
	const struct hv_ops *hv;
	struct hv_guest *guest;
	struct guest_mem mem;
	struct bus bus;
	struct ev_sink sink;
	bool have_sink;
	struct ev_source source; /* replay's stand-in for host inputs */
	bool have_source;
	struct host_events hev;  /* &sink and &source (when present), for the host adapters */

	struct vm_virtio_slot virtio[VM_MAX_VIRTIO];
	unsigned nvirtio;

	/* vm_devices.c: every device, in the kinds table's order. */
	struct vm_dev devs[VM_MAX_DEVICES];
	unsigned ndevs;
	/* Devices the VM's services reach (set by their kinds' create). */
	struct vm_console *console;
	struct vm_balloon *balloon;
	struct vm_vsock *vsock; /* vm_vsock.c: virtio-vsock and its host side, or NULL */

	int serial_fd;       /* where UART bytes go */
	int serial_in_fd;    /* where UART input comes from, or -1 */
	int serial_peer_fd;  /* the end Guest.GetSerial hands out, or -1 */

	/* vm_io.c: the thread that feeds host input to devices. */
	pthread_t io_thread;
	bool io_thread_started;
	int io_wake_fd;      /* eventfd: tells the I/O thread to finish */
	int io_kick_fd;      /* eventfd: a device has room again: retry held input */

	struct guest_config cfg; /* owned: fds stay open for the VM's life */
	struct boot_info boot;
	unsigned ncpus;
	struct vm_vcpu vcpus[HV_MAX_VCPUS];

	pthread_mutex_t event_lock; /* the choke point: one exit handled at a time */
	pthread_mutex_t state_lock;
	bool stop_requested;
	enum guest_error result;    /* first reason the VM stopped */
	char result_msg[VM_MSG_MAX];
	bool unmapped_warned;
};

/* For assert(): somebody holds the event lock (ideally the caller; a plain
 * mutex cannot say who). Never call it outside assert(): it takes the lock
 * for a moment when nobody holds it. */
static inline bool vm_event_lock_busy(struct vm *vm)
{
	if (pthread_mutex_trylock(&vm->event_lock) != 0)
		return true;
	pthread_mutex_unlock(&vm->event_lock);
	return false;
}

/* vm.c */
enum guest_error vm_fail(char *err, size_t errlen, enum guest_error e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Give dev the next virtio-mmio slot (its window and GSI, machine.h). */
enum guest_error vm_add_virtio(struct vm *vm, struct virtio_device *dev, char *err,
                               size_t errlen);
/* Drive an interrupt line (announced to the sink first). */
void vm_irq_line(struct vm *vm, uint32_t gsi, int level);

/* vm_io.c: the I/O thread, live runs only (replay feeds recorded input). */
void vm_io_init(struct vm *vm);
void vm_io_start(struct vm *vm);
void vm_io_stop(struct vm *vm);
void vm_io_destroy(struct vm *vm);
/* Wake the I/O thread: a device has room again, or has work for it. */
void vm_io_kick(struct vm *vm);
/* vm_host_input as a host adapter's deliver function (ctx: the vm). */
size_t vm_io_deliver(void *vm, const char *device, const void *data, size_t len);

/* vm_vsock.c: the vsock kind's share (vm_dev_virtio.c lists it). */
#define VM_VSOCK_MAX_POLL 160
/* Create the device and register cfg's vsock_listeners (their channels are
 * moved out of vm->cfg). */
enum guest_error vm_vsock_add(struct vm *vm, char *err, size_t errlen);
/* After the I/O thread has stopped: close everything; pending connects
 * hear ZX_ERR_CANCELED. */
void vm_vsock_destroy(struct vm *vm);
/* The I/O thread's share: fill up to max pollfds, then handle what they said. */
unsigned vm_vsock_poll_fill(struct vm *vm, struct pollfd *p, unsigned max);
void vm_vsock_poll_done(struct vm *vm, const struct pollfd *p, unsigned n);

#endif
