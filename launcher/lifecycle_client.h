/* launcher/lifecycle_client.h - the session side of GuestLifecycle and Guest.
 *
 * Owns: calling a vmm over its FIDL channel: Create, Bind, Run (answered when
 * the guest stops, so it is split into start and wait), Stop, and the Guest
 * calls. Replies are matched by transaction id; Run's late answer is kept
 * while other calls are made. Used by the guest managers, the `guest` tool
 * and the tests.
 */
#ifndef LAUNCHER_LIFECYCLE_CLIENT_H
#define LAUNCHER_LIFECYCLE_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "api/guest_config.h"
#include "api/guest_error.h"

#ifndef ZX_ERR_TIMED_OUT
#define ZX_ERR_TIMED_OUT (-21)
#endif

struct lc_client {
	int fd;
	uint32_t next_txid;
	bool run_pending, run_done;
	uint32_t run_txid;
	enum guest_error run_result;
	int32_t epitaph; /* the status the vmm closed the channel with, or 0 */
	/* Bound on waiting for each reply (ZX_ERR_TIMED_OUT past it); 0 waits
	 * forever. A manager sets it so a wedged vmm cannot wedge the manager. */
	int call_timeout_ms;
};

/* Connect to a vmm_launcher socket (implicit mode): the connection is the
 * channel. Returns 0 or -errno. */
int lcc_connect(struct lc_client *c, const char *launcher_socket);
/* Use an existing channel fd (takes ownership). */
void lcc_attach(struct lc_client *c, int fd);
void lcc_close(struct lc_client *c);

/* Each returns ZX_OK with *e set to the method's result, or a transport /
 * protocol error (ZX_ERR_PEER_CLOSED: the vmm went away; see c->epitaph).
 * timeout_ms < 0 waits forever. */
int lcc_create(struct lc_client *c, const struct guest_config *cfg, enum guest_error *e);
/* Bind: *guest is the client end of a new Guest channel (closed on error). */
int lcc_bind(struct lc_client *c, int *guest, enum guest_error *e);
/* Bind with a server end the caller already has (e.g. the one a
 * GuestManager.Connect carried). server_end is moved: closed here in every
 * case. */
int lcc_bind_fd(struct lc_client *c, int server_end, enum guest_error *e);
int lcc_run_start(struct lc_client *c);
/* ZX_ERR_TIMED_OUT if Run has not answered within timeout_ms. */
int lcc_run_wait(struct lc_client *c, int timeout_ms, enum guest_error *e);
int lcc_stop(struct lc_client *c);

/* Send m (its txid is the caller's) and wait for the reply with the same
 * txid, decoded into d (header checked). Any protocol on any channel: the
 * `guest` tool uses it for GuestManager, Guest, BalloonController and
 * HostVsockEndpoint. */
struct fidl_msg;
struct fidl_dec;
int lcc_call(struct lc_client *c, struct fidl_msg *m, struct fidl_dec *d);
/* A fresh transaction id for c. */
uint32_t lcc_txid(struct lc_client *c);

/* Guest.GetSerial on a Guest channel: *sock is the serial socket. */
int guest_client_get_serial(int guest, int *sock);
/* Guest.GetConsole: *e is the GuestError, *sock the console on success. */
int guest_client_get_console(int guest, int *sock, enum guest_error *e);
/* Guest.GetHostVsockEndpoint / GetBalloonController: server_end (moved) is
 * the request for the protocol; *e the GuestError. */
int guest_client_get_vsock(int guest, int server_end, enum guest_error *e);
int guest_client_get_balloon(int guest, int server_end, enum guest_error *e);

#endif
