/* launcher/launcher.h - the vmm_launcher daemon's core.
 *
 * Owns: the launcher's collection of vmm instances. It listens on a Unix
 * SOCK_SEQPACKET socket. In the default (implicit) mode every accepted
 * connection IS a GuestLifecycle channel: a fresh vmm is spawned holding it,
 * and the launcher drops its own copy, so the client closing the channel is
 * seen by that vmm alone. In explicit mode a connection speaks
 * fuchsia.virtualization/VmmLauncher and each Launch(server_end:GuestLifecycle)
 * spawns a vmm for the handle it carries. The hypervisor handle is opened by
 * the launcher and passed only to vmm children; no client ever receives it.
 * Children are reaped and logged (one line per event); on SIGTERM/SIGINT
 * every vmm is stopped (SIGTERM, then SIGKILL after a grace period).
 */
#ifndef LAUNCHER_LAUNCHER_H
#define LAUNCHER_LAUNCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spawner.h"

#define LAUNCHER_MAX_GUESTS 256
#define LAUNCHER_MAX_CLIENTS 64
#define LAUNCHER_GRACE_MS 3000

struct launcher_options {
	const char *socket_path;
	bool explicit_mode;
	int hv_fd;             /* owned by the launcher once given; -1 for none */
	struct spawner spawner;
	unsigned max_guests;   /* 0: LAUNCHER_MAX_GUESTS */
	/* Where the collection (one pid per line) is published for audits;
	 * NULL: not published. */
	const char *collection_path;
};

struct launcher;

/* Bind and listen. Returns 0 or -errno with err set. */
int launcher_open(struct launcher **out, const struct launcher_options *o, char *err,
                  size_t errlen);
/* Serve until SIGTERM / SIGINT (blocked by launcher_open and taken through a
 * signalfd) or launcher_request_exit; then stop every vmm. Returns 0. */
int launcher_run(struct launcher *l);
void launcher_request_exit(struct launcher *l);
void launcher_close(struct launcher *l);

/* Introspection for tests and audits. */
size_t launcher_collection(struct launcher *l, pid_t *pids, size_t max);

#endif
