/* launcher/guest_package.h - guest packages and per-user guest state.
 *
 * Owns: the guest package format (a small key = value text file naming a
 * kernel, initrd, read-only images, a stateful image size, vsock listeners
 * and default settings), where packages are found, where a user's state
 * (stateful images) and runtime files (manager sockets, pid files, logs)
 * live, and building the GuestConfig a manager sends to its vmm: package
 * defaults overridden by the user's launch settings, with every file opened
 * by the manager itself (read-only images O_RDONLY, the stateful image
 * O_RDWR from the user's own state directory).
 *
 * Package keys (one per line; '#' starts a comment; ${BUILD} is the folder
 * of the running program, ${PKGDIR} the package file's folder):
 *   description = free text
 *   kernel_type = linux | zircon
 *   kernel = PATH              (required)
 *   initrd = PATH              ("?PATH": only if the file exists)
 *   cmdline = TEXT
 *   cpus = N                   memory = SIZE (256M, 1G, ...)
 *   image = PATH[,id=ID]       an extra read-only block device (repeatable)
 *   stateful = SIZE[,id=ID]    a sparse READ_WRITE image created in the
 *                              user's state dir, routed only to this guest
 *   vsock_listen = PORT        the manager accepts guest connections to
 *                              this host port (repeatable; enables vsock)
 *   virtio_rng | virtio_console | virtio_balloon | virtio_vsock |
 *   virtio_gpu | virtio_sound | default_net = true | false
 */
#ifndef LAUNCHER_GUEST_PACKAGE_H
#define LAUNCHER_GUEST_PACKAGE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/guest_config.h"

#define PKG_MAX_IMAGES 8
#define PKG_MAX_VSOCK 8
#define GUEST_NAME_MAX 32

struct pkg_image {
	char path[PATH_MAX];
	char id[GC_MAX_BLOCK_DEVICE_ID + 1];
};

struct guest_package {
	char file[PATH_MAX];
	char description[256];
	enum kernel_type kernel_type;
	char kernel[PATH_MAX];
	char initrd[PATH_MAX];
	char cmdline[1024];
	unsigned cpus;          /* 0: the vmm's default */
	uint64_t memory;        /* 0: the vmm's default */
	struct pkg_image images[PKG_MAX_IMAGES];
	size_t n_images;
	uint64_t stateful_size; /* 0: no stateful image */
	char stateful_id[GC_MAX_BLOCK_DEVICE_ID + 1];
	uint32_t vsock_ports[PKG_MAX_VSOCK];
	size_t n_vsock;
	/* Device defaults, indexed like the GuestConfig booleans below. */
	bool virtio_rng, virtio_console, virtio_balloon, virtio_vsock, virtio_gpu,
	     virtio_sound, default_net;
};

/* A guest name is [A-Za-z0-9_-], 1 to GUEST_NAME_MAX bytes: it names files. */
bool guest_name_ok(const char *name);

/* Parse file. build_dir replaces ${BUILD}. Returns 0 or -1 with err set
 * ("FILE:LINE: why"). */
int pkg_load(struct guest_package *p, const char *file, const char *build_dir, char *err,
             size_t errlen);

/* Find a package: a path (contains '/' or ends in ".pkg") is taken as is;
 * a name is looked up as NAME.pkg in $VMM_GUEST_PACKAGES (':'-separated),
 * $XDG_DATA_HOME/vmm/packages, then ${BUILD}/../launcher/packages. */
int pkg_find(char *out, size_t len, const char *name, const char *build_dir, char *err,
             size_t errlen);

/* The folder of the running program (for ${BUILD} and sibling programs). */
int self_dir(char *out, size_t len);

/* $XDG_DATA_HOME/vmm/<guest> (default ~/.local/share/vmm/<guest>), created
 * 0700 when create. */
int guest_state_dir(char *out, size_t len, const char *guest, bool create, char *err,
                    size_t errlen);
/* $XDG_RUNTIME_DIR/vmm (fallback /tmp/vmm-$UID), created 0700; refused if it
 * is a symlink, not ours, or open to others (someone could plant sockets). */
int runtime_dir(char *out, size_t len, char *err, size_t errlen);

/* RUNTIME/<guest><suffix> (".sock", ".pid", ".log"): a guest manager's
 * files. Returns 0 or -1 with err set. */
int manager_file(char *out, size_t len, const char *guest, const char *suffix, char *err,
                 size_t errlen);

/* Settings a user may give at launch (the `guest launch` flags): only these
 * fields of the user's GuestConfig are honoured. */
bool pkg_user_config_ok(const struct guest_config *user, char *err, size_t errlen);

/* Build the config for one launch into cfg (gc_init'd here): open the
 * kernel, initrd and images read-only, create/open the stateful image in
 * state_dir read-write (sparse, extended to the package's size, locked so a
 * second instance cannot get it), then apply the user's settings.
 * acceptor_fds[i] (may be NULL when the package has no vsock listeners) are
 * the client ends for the package's vsock ports (borrowed: dup'd into cfg).
 * Returns 0, or -1 with err set and cfg freed; *no_storage tells a stateful
 * image problem (GuestManagerError NO_STORAGE) from a bad package. */
int pkg_build_config(const struct guest_package *p, const struct guest_config *user,
                     const char *state_dir, const int *acceptor_fds, struct guest_config *cfg,
                     bool *no_storage, char *err, size_t errlen);

#endif
