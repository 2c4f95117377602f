/* vmm/vm.h - one virtual machine: its memory, bus, devices and vCPU threads.
 *
 * Owns: building a VM from a validated GuestConfig (vm_create), the vCPU
 * dispatch loops (vm_run), and stopping them (vm_request_stop). Every exit is
 * handled under one event lock and announced to the ev_sink: that lock is the
 * determinism choke point (see events.h). The lifecycle state machine lives in
 * lifecycle.c; this file knows nothing of its rules.
 */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "devices/i8042.h"
#include "devices/balloon.h"
#include "devices/block.h"
#include "devices/console.h"
#include "devices/net.h"
#include "devices/rng.h"
#include "devices/uart8250.h"
#include "base/events.h"
#include "api/guest_config.h"
#include "api/guest_error.h"
#include "base/guest_mem.h"
#include "base/hv.h"
#include "loader.h"
#include "virtio_mmio.h"

#define VM_COM1_BASE 0x3f8
#define VM_COM1_IRQ 4
/* Guest-physical window for virtio-mmio devices (below the 32-bit MMIO hole's top). */
#define VM_VIRTIO_MMIO_BASE 0xd0000000ull
#define VM_VIRTIO_MMIO_SIZE 0x200ull
#define VM_MAX_VIRTIO 8
/* Room for a stop reason, including a replay divergence report. */
#define VM_MSG_MAX 2400
/* virtio-mmio slot i interrupts on GSI VM_VIRTIO_GSI_BASE + i (level, active high). */
#define VM_VIRTIO_GSI_BASE 16

struct vm;
struct vm_vsock;
struct pollfd;

/* A virtio-net device and the TAP interface that is its host side. */
struct vm_net {
	struct vm *vm;
	struct virtio_net dev;
	char name[8];                 /* "net0", "net1"...: its name in recordings */
	int tap_fd;                   /* -1 in replay */
	char tap_name[16];
	size_t held_len;              /* a frame read from the TAP the guest had no room for */
	uint8_t held[NET_MAX_FRAME];
};

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

	struct vm_virtio_slot virtio[VM_MAX_VIRTIO];
	unsigned nvirtio;
	struct virtio_rng *rng;
	struct virtio_block *blocks[GC_MAX_BLOCK_DEVICES];
	unsigned nblocks;

	struct uart8250 *uart;
	struct i8042 kbd;
	int serial_fd;       /* where UART bytes go */
	int serial_in_fd;    /* where UART input comes from, or -1 */
	uint8_t serial_pending[256]; /* read from the host, not yet taken by the UART */
	size_t serial_npending;

	struct virtio_console *console;
	int console_fd, console_peer_fd; /* socketpair: ours, and the one GetConsole hands out */
	uint8_t console_pending[4096];
	size_t console_npending;
	uint64_t console_dropped;
	struct virtio_balloon *balloon;
	uint64_t balloon_returned; /* bytes of guest RAM the balloon gave back (MADV_REMOVE) */
	uint32_t balloon_actual_max; /* the most pages the driver reported holding */
	struct vm_net *nets[GC_MAX_NET_DEVICES];
	unsigned nnets;
	struct vm_vsock *vsock; /* vm_vsock.c: virtio-vsock and its host side, or NULL */

	/* vm_io.c: the thread that feeds host input to devices. */
	pthread_t io_thread;
	bool io_thread_started;
	int io_wake_fd;      /* eventfd: tells the I/O thread to finish */
	int io_kick_fd;      /* eventfd: a device has room again: retry held input */
	int serial_peer_fd;  /* the end Guest.GetSerial hands out, or -1 */
	uint64_t serial_dropped;

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

struct vm_params {
	const struct hv_ops *hv;
	int hv_fd;
	void *backend_arg;
	const struct ev_sink *sink;
	const struct ev_source *source; /* NULL: the host's inputs */
	int serial_fd; /* -1: make a socketpair */
	/* With a caller's serial_fd: where serial input comes from, -1 for none
	 * (vm_create callers must set it). With serial_fd -1 the socketpair
	 * carries both directions. */
	int serial_in_fd;
};

/* Build the VM. Takes ownership of cfg's resources (leaves *cfg empty). */
enum guest_error vm_create(const struct vm_params *p, struct guest_config *cfg,
                           struct vm **out, char *err, size_t errlen);
/* Run every vCPU until the guest stops; returns why it stopped. */
enum guest_error vm_run(struct vm *vm);
/* From any thread: stop with `why` unless a reason was already set. */
void vm_request_stop(struct vm *vm, enum guest_error why, const char *msg);
void vm_destroy(struct vm *vm);
/* vm_io.c: host-side plumbing of the serial port, console, net and balloon. */
void vm_io_init(struct vm *vm);
enum guest_error vm_io_add_devices(struct vm *vm, char *err, size_t errlen);
void vm_io_start(struct vm *vm);
void vm_io_stop(struct vm *vm);
void vm_io_destroy(struct vm *vm);
/* Wake the I/O thread: a device has room again, or has work for it. */
void vm_io_kick(struct vm *vm);

/* vm_vsock.c: the host side of virtio-vsock (host CID 2, guest CID 3).
 * Guest connections to a listened port are handed to its acceptor (a
 * HostVsockAcceptor channel: Accept is sent and the socket in the reply is
 * bridged; or a Unix socket path, connected at once); host connections
 * bridge one end of a socketpair and hand out the other. Bytes cross under
 * the event lock and are announced to the sink ("vsock"). Every status is a
 * zx.Status. */
#define VM_VSOCK_MAX_POLL 160
/* Create the device and register cfg's vsock_listeners (their channels are
 * moved out of vm->cfg). Called by vm_io_add_devices. */
enum guest_error vm_vsock_add(struct vm *vm, char *err, size_t errlen);
/* After the I/O thread has stopped: close everything; pending connects
 * hear ZX_ERR_CANCELED. */
void vm_vsock_destroy(struct vm *vm);
/* The I/O thread's share: fill up to max pollfds, then handle what they said. */
unsigned vm_vsock_poll_fill(struct vm *vm, struct pollfd *p, unsigned max);
void vm_vsock_poll_done(struct vm *vm, const struct pollfd *p, unsigned n);
/* HostVsockEndpoint.Listen with a HostVsockAcceptor channel (moved: closed
 * on error): ZX_OK, ZX_ERR_ALREADY_BOUND, ZX_ERR_NO_RESOURCES. */
int vm_vsock_listen(struct vm *vm, uint32_t port, int acceptor);
/* Listen and bridge each guest connection to a new connection to the Unix
 * stream socket at path (refused, with RST, if nobody accepts there). */
int vm_vsock_listen_unix(struct vm *vm, uint32_t port, const char *path);
/* HostVsockEndpoint.Connect: ZX_OK and later, exactly once, done(ctx, ZX_OK,
 * sock) with a connected SOCK_STREAM socket done owns, or done(ctx, status,
 * -1) (ZX_ERR_CONNECTION_REFUSED, or ZX_ERR_CANCELED when the connection or
 * the VM went away). done runs on the I/O thread (or in vm_vsock_destroy),
 * under no vm lock. Any other return: refused at once, done is not called. */
typedef void vm_vsock_connect_fn(void *ctx, int status, int sock);
int vm_vsock_connect(struct vm *vm, uint32_t guest_port, vm_vsock_connect_fn *done, void *ctx);

/* Used by vm_io.c. */
enum guest_error vm_add_virtio(struct vm *vm, struct virtio_device *dev, char *err,
                              size_t errlen);
enum guest_error vm_fail(char *err, size_t errlen, enum guest_error e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Host input for a device, from any thread: taken under the event lock, so
 * it lands between two exits in a well-defined order, and announced to the
 * sink as a host event (even when refused). Devices: "serial", "console"
 * (bytes), "net0".."netN" (one frame, all or nothing), "balloon" (le32: the
 * pages the host asks for), "balloon-stats" (one byte: ask for fresh
 * statistics). Returns the bytes the device accepted. */
size_t vm_host_input(struct vm *vm, const char *device, const void *data, size_t len);
/* Map a device on the bus and trap it in the hypervisor. DEVICE_MEMORY_OVERLAP
 * when the range collides with another device. */
enum guest_error vm_add_device(struct vm *vm, enum bus_space space, uint64_t base,
                               uint64_t len, const char *name,
                               const struct bus_device_ops *ops, void *ctx, char *err,
                               size_t errlen);

#endif
