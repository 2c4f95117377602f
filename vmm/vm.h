/* vmm/vm.h - one virtual machine: its memory, bus, devices and vCPU threads.
 *
 * Owns: building a VM from a validated GuestConfig (vm_create), the vCPU
 * dispatch loops (vm_run), and stopping them (vm_request_stop). Every exit is
 * handled under one event lock and announced to the ev_sink: that lock is the
 * determinism choke point (see events.h). The lifecycle state machine lives in
 * lifecycle.c; this file knows nothing of its rules. struct vm is private
 * (vm_internal.h, for vmm/vm*.c only): everyone else uses these functions.
 * Where devices sit is machine.h.
 */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/guest_config.h"
#include "api/guest_error.h"
#include "base/events.h"
#include "base/guest_mem.h"
#include "base/hv.h"
#include "bus.h"
#include "devices/balloon.h"
#include "machine.h"

/* Room for a stop reason, including a replay divergence report. */
#define VM_MSG_MAX 2400

struct vm;

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

/* Host input for a device, from any thread: taken under the event lock, so
 * it lands between two exits in a well-defined order, and announced to the
 * sink as a host event (even when refused). Devices (base/event_names.h):
 * "serial", "console" (bytes), "net0".."netN" (one frame, all or nothing),
 * "balloon" (le32: the pages the host asks for), "balloon-stats" (one byte:
 * ask for fresh statistics). Returns the bytes the device accepted; 0, and
 * nothing announced, when no device takes that name. */
size_t vm_host_input(struct vm *vm, const char *device, const void *data, size_t len);
/* Map a device on the bus and trap it in the hypervisor. DEVICE_MEMORY_OVERLAP
 * when the range collides with another device. */
enum guest_error vm_add_device(struct vm *vm, enum bus_space space, uint64_t base,
                               uint64_t len, const char *name,
                               const struct bus_device_ops *ops, void *ctx, char *err,
                               size_t errlen);

/* ---- what the VM's services may look at ---- */

/* The bus: every mapped device and its name (divergence reports, tests). */
const struct bus *vm_bus(const struct vm *vm);
const struct guest_mem *vm_guest_mem(const struct vm *vm);
/* The backend's guest (the sim's reports), or NULL. */
struct hv_guest *vm_hv_guest(const struct vm *vm);
/* Why the VM stopped, once vm_run has returned. */
const char *vm_result_msg(const struct vm *vm);
/* The socket ends Guest.GetSerial / GetConsole hand out (the caller dups
 * them), or -1: serial goes to the caller's own fd, or there is no console. */
int vm_serial_peer(const struct vm *vm);
int vm_console_peer(const struct vm *vm);
bool vm_has_balloon(const struct vm *vm);
bool vm_has_vsock(const struct vm *vm);
/* The balloon (-ENODEV without one, else 0): a new target, as a recorded
 * host input; the driver's actual and the target, read under the event
 * lock; the latest statistics (after asking for fresh ones, a recorded host
 * input): how many, or -ENODATA, as virtio_balloon_get_stats. */
int vm_balloon_request(struct vm *vm, uint32_t pages);
int vm_balloon_size(struct vm *vm, uint32_t *actual, uint32_t *requested);
int vm_balloon_stats(struct vm *vm, struct balloon_stat *out, unsigned max);

/* ---- vm_vsock.c: the host side of virtio-vsock (host CID 2, guest CID 3) ----
 * Guest connections to a listened port are handed to its acceptor (a
 * HostVsockAcceptor channel: Accept is sent and the socket in the reply is
 * bridged; or a Unix socket path, connected at once); host connections
 * bridge one end of a socketpair and hand out the other. Bytes cross under
 * the event lock and are announced to the sink ("vsock"). Every status is a
 * zx.Status. */
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

#endif
