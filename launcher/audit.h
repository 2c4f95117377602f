/* launcher/audit.h - proving RFC-0210's isolation rules on a live system.
 *
 * Owns: the isolation audit. For every vmm in the launcher's collection it
 * reads /proc/PID/fd and /proc/PID/fdinfo (target, device, inode, open
 * flags) and reports, one precise line per finding:
 *   - VIOLATION shared-writable: a regular file, directory, socket, pipe or
 *     device held by two instances where state can flow between them (any
 *     directory, socket or pipe; a file or device held writable by either);
 *   - VIOLATION hypervisor-outside-collection: a process other than the
 *     launcher and its instances holding the hypervisor device or a KVM VM or
 *     vCPU handle;
 * and, separately, what is shared by design: the hypervisor device itself
 * (the launcher's one handle, passed to every vmm) and the stdio the
 * launcher's children inherit from it. Read-only files held by several
 * instances (a package's kernel) are allowed and listed with -v.
 * Object identity is (st_dev, st_ino) of the fd's target; anonymous inodes
 * (eventfd, signalfd, KVM's own handles) share one inode and cannot be
 * compared that way, so they are skipped between instances.
 */
#ifndef LAUNCHER_AUDIT_H
#define LAUNCHER_AUDIT_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

struct audit_options {
	const char *collection_path; /* the launcher's --collection file */
	pid_t launcher_pid;          /* 0: the instances' parent, or found by its --collection */
	const char *hv_device;       /* NULL: /dev/kvm */
	bool verbose;
	FILE *out;
};

/* Returns the number of violations (0: the rules hold), or -1 when the
 * audit could not be made (message on o->out). */
int audit_run(const struct audit_options *o);

#endif
