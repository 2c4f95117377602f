/* vmm/lifecycle.h - fuchsia.virtualization/GuestLifecycle and Guest as an
 * in-process C API.
 *
 * Owns: the lifecycle state machine and its rules from the seed:
 *   - Create: validates the config, builds the VM (memory, devices, kernel,
 *     vCPUs) without running it. Refused with ALREADY_RUNNING while Run is in
 *     progress. Create on a created guest re-initialises it.
 *   - Bind: only between Create and Stop; otherwise NOT_CREATED.
 *   - Run: blocks until the guest stops. NOT_CREATED before Create (and after
 *     a previous Run returned), ALREADY_RUNNING if a Run is in progress,
 *     GUEST_OK on a clean guest shutdown, CONTROLLER_FORCED_HALT if Stop was
 *     called, VCPU_RUNTIME_FAILURE if a vCPU failed.
 *   - Stop: from any thread; returns once the dispatch loops have stopped and
 *     the VM is torn down. Create may then be called again.
 * All calls are thread-safe.
 */
#ifndef VMM_LIFECYCLE_H
#define VMM_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/events.h"
#include "api/guest_config.h"
#include "api/guest_error.h"
#include "base/hv.h"

struct lc_options {
	const struct hv_ops *hv;  /* backend */
	int hv_fd;                /* hypervisor handle (/dev/kvm fd) or -1 */
	void *backend_arg;        /* backend-specific (struct sim_config * for sim) */
	const struct ev_sink *sink; /* recorder or checker; NULL for none */
	const struct ev_source *source; /* replayed host inputs; NULL: the host's */
	int serial_fd;            /* where UART output goes; -1: a socket Guest.GetSerial hands out */
	/* With serial_fd >= 0: UART input comes from serial_in_fd when
	 * has_serial_in (zero-initialised options mean no input). */
	bool has_serial_in;
	int serial_in_fd;
};

struct guest_lifecycle;

struct guest_lifecycle *lc_new(const struct lc_options *o);
/* Stops a running guest first. */
void lc_free(struct guest_lifecycle *lc);

/* Takes ownership of *cfg's resources in every case (leaves *cfg empty). */
enum guest_error lc_create(struct guest_lifecycle *lc, struct guest_config *cfg,
                           char *err, size_t errlen);
enum guest_error lc_bind(struct guest_lifecycle *lc);
enum guest_error lc_run(struct guest_lifecycle *lc);
void lc_stop(struct guest_lifecycle *lc);

/* The running or created VM's backend guest (for sim reports), or NULL. */
struct hv_guest *lc_hv_guest(struct guest_lifecycle *lc);
/* Message for the last error Run returned ("" if none). */
const char *lc_last_error(struct guest_lifecycle *lc);

/* Guest protocol. Each returns a new fd the caller owns. */
/* GetSerial: a socket carrying the UART's output and input. */
enum guest_error guest_get_serial(struct guest_lifecycle *lc, int *fd);
/* GetConsole: DEVICE_NOT_PRESENT without a virtio-console. */
enum guest_error guest_get_console(struct guest_lifecycle *lc, int *fd);
/* GetHostVsockEndpoint / GetBalloonController: DEVICE_NOT_PRESENT without the
 * device. They are then driven with lc_vsock_* and lc_balloon_* (no fd is
 * made). */
enum guest_error guest_get_host_vsock_endpoint(struct guest_lifecycle *lc, int *fd);
enum guest_error guest_get_balloon_controller(struct guest_lifecycle *lc, int *fd);

/* HostVsockEndpoint (host CID 2, guest CID 3), in process; the FIDL server
 * calls these too. Each returns a zx.Status: ZX_ERR_BAD_STATE without a VM,
 * ZX_ERR_NOT_SUPPORTED without a virtio-vsock device. Listeners and
 * connections last until the VM is stopped.
 * Listen: guest connections to `port` are offered to the HostVsockAcceptor
 * at the other end of channel `acceptor` (moved: closed on error) and
 * bridged to the socket its Accept answer carries; an error answer or a
 * closed acceptor resets them, and a closed acceptor frees the port.
 * ZX_ERR_ALREADY_BOUND if the port is taken. */
int lc_vsock_listen(struct guest_lifecycle *lc, uint32_t port, int acceptor);
/* Listen, bridging each guest connection to a new connection to the Unix
 * stream socket at path (no acceptor round trip; refused if nobody accepts). */
int lc_vsock_listen_unix(struct guest_lifecycle *lc, uint32_t port, const char *path);
/* Connect to the guest's port. ZX_OK: done(ctx, status, sock) follows once,
 * from the vmm's I/O thread and under no lock: ZX_OK with a connected
 * SOCK_STREAM socket done then owns, ZX_ERR_CONNECTION_REFUSED (nothing
 * listens there), or ZX_ERR_CANCELED (the guest reset or the VM went away)
 * with -1. Any other return (e.g. ZX_ERR_BAD_STATE: the guest's driver is not
 * running): done is never called. done must not call lc_* functions. */
typedef void lc_vsock_connect_fn(void *ctx, int status, int sock);
int lc_vsock_connect(struct guest_lifecycle *lc, uint32_t guest_port, lc_vsock_connect_fn *done,
                     void *ctx);

/* BalloonController: RequestNumPages, GetBalloonSize, GetMemStats. */
enum guest_error lc_balloon_request_pages(struct guest_lifecycle *lc, uint32_t pages);
enum guest_error lc_balloon_size(struct guest_lifecycle *lc, uint32_t *actual,
                                 uint32_t *requested);
/* The latest stats (count, or -ENODATA none yet, -ENODEV no balloon). */
struct balloon_stat;
int lc_balloon_stats(struct guest_lifecycle *lc, struct balloon_stat *out, unsigned max);

#endif
