/* launcher/guest_package.c - see guest_package.h. */
#include "guest_package.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/cli_args.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

bool guest_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > GUEST_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_')
			return false;
	return true;
}

int self_dir(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	snprintf(out, len, "%s", dirname(self));
	return 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Expand ${BUILD} and ${PKGDIR} into out. */
static int expand(char *out, size_t len, const char *in, const char *build, const char *pkgdir)
{
	size_t o = 0;
	while (*in) {
		const char *v = NULL;
		size_t skip = 0;
		if (!strncmp(in, "${BUILD}", 8))
			v = build, skip = 8;
		else if (!strncmp(in, "${PKGDIR}", 9))
			v = pkgdir, skip = 9;
		if (v) {
			size_t n = strlen(v);
			if (o + n >= len)
				return -1;
			memcpy(out + o, v, n);
			o += n;
			in += skip;
		} else {
			if (o + 1 >= len)
				return -1;
			out[o++] = *in++;
		}
	}
	out[o] = '\0';
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

/* "PATH[,id=ID]" or "SIZE[,id=ID]": split off the id. */
static int split_id(char *v, char *id, size_t idlen)
{
	char *comma = strchr(v, ',');
	if (!comma)
		return 0;
	*comma = '\0';
	const char *opt = comma + 1;
	if (strncmp(opt, "id=", 3) || strlen(opt + 3) == 0 || strlen(opt + 3) >= idlen)
		return -1;
	strcpy(id, opt + 3);
	return 0;
}

int pkg_load(struct guest_package *p, const char *file, const char *build_dir, char *err,
             size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->kernel_type = KERNEL_LINUX;
	snprintf(p->file, sizeof(p->file), "%s", file);
	char tmp[PATH_MAX], pkgdir[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", file);
	snprintf(pkgdir, sizeof(pkgdir), "%s", dirname(tmp));
	FILE *f = fopen(file, "re");
	if (!f)
		return fail(err, errlen, "%s: %s", file, strerror(errno));
	char line[PATH_MAX + 64];
	int lineno = 0, r = 0;
	while (r == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			r = fail(err, errlen, "%s:%d: expected 'key = value'", file, lineno);
			break;
		}
		*eq = '\0';
		char *key = trim(s), *raw = trim(eq + 1);
		char v[PATH_MAX];
		if (expand(v, sizeof(v), raw, build_dir, pkgdir) < 0) {
			r = fail(err, errlen, "%s:%d: value too long", file, lineno);
			break;
		}
		char perr[128];
		uint64_t n;
		bool *flag = NULL;
		if (!strcmp(key, "description")) {
			if (strlen(v) >= sizeof(p->description)) {
				r = fail(err, errlen, "%s:%d: description longer than %zu bytes", file,
				         lineno, sizeof(p->description) - 1);
				break;
			}
			memcpy(p->description, v, strlen(v) + 1);
		} else if (!strcmp(key, "kernel_type")) {
			if (!strcmp(v, "linux"))
				p->kernel_type = KERNEL_LINUX;
			else if (!strcmp(v, "zircon"))
				p->kernel_type = KERNEL_ZIRCON;
			else
				r = fail(err, errlen, "%s:%d: kernel_type must be linux or zircon, not '%s'",
				         file, lineno, v);
		} else if (!strcmp(key, "kernel")) {
			snprintf(p->kernel, sizeof(p->kernel), "%s", v);
		} else if (!strcmp(key, "initrd")) {
			snprintf(p->initrd, sizeof(p->initrd), "%s", v);
		} else if (!strcmp(key, "cmdline")) {
			if (strlen(v) >= sizeof(p->cmdline))
				r = fail(err, errlen, "%s:%d: cmdline too long", file, lineno);
			else
				strcpy(p->cmdline, v);
		} else if (!strcmp(key, "cpus")) {
			if (parse_uint(v, 1, 255, &n, perr, sizeof(perr)) < 0)
				r = fail(err, errlen, "%s:%d: cpus: %s", file, lineno, perr);
			p->cpus = (unsigned)n;
		} else if (!strcmp(key, "memory")) {
			if (parse_size(v, &p->memory, perr, sizeof(perr)) < 0)
				r = fail(err, errlen, "%s:%d: memory: %s", file, lineno, perr);
		} else if (!strcmp(key, "image")) {
			if (p->n_images == PKG_MAX_IMAGES) {
				r = fail(err, errlen, "%s:%d: at most %d images", file, lineno, PKG_MAX_IMAGES);
				break;
			}
			struct pkg_image *im = &p->images[p->n_images];
			if (split_id(v, im->id, sizeof(im->id)) < 0) {
				r = fail(err, errlen, "%s:%d: image: expected PATH[,id=ID] (ID 1-%d bytes)",
				         file, lineno, GC_MAX_BLOCK_DEVICE_ID);
				break;
			}
			snprintf(im->path, sizeof(im->path), "%s", v);
			p->n_images++;
		} else if (!strcmp(key, "stateful")) {
			if (split_id(v, p->stateful_id, sizeof(p->stateful_id)) < 0 ||
			    parse_size(v, &p->stateful_size, perr, sizeof(perr)) < 0 ||
			    p->stateful_size == 0 || p->stateful_size % 512)
				r = fail(err, errlen,
				         "%s:%d: stateful: expected SIZE[,id=ID], a non-zero multiple of 512",
				         file, lineno);
		} else if (!strcmp(key, "vsock_listen")) {
			if (p->n_vsock == PKG_MAX_VSOCK ||
			    parse_uint(v, 1, UINT32_MAX, &n, perr, sizeof(perr)) < 0) {
				r = fail(err, errlen, "%s:%d: vsock_listen: a port 1-4294967295, at most %d",
				         file, lineno, PKG_MAX_VSOCK);
				break;
			}
			p->vsock_ports[p->n_vsock++] = (uint32_t)n;
			p->virtio_vsock = true;
		} else if (!strcmp(key, "virtio_rng")) {
			flag = &p->virtio_rng;
		} else if (!strcmp(key, "virtio_console")) {
			flag = &p->virtio_console;
		} else if (!strcmp(key, "virtio_balloon")) {
			flag = &p->virtio_balloon;
		} else if (!strcmp(key, "virtio_vsock")) {
			flag = &p->virtio_vsock;
		} else if (!strcmp(key, "virtio_gpu")) {
			flag = &p->virtio_gpu;
		} else if (!strcmp(key, "virtio_sound")) {
			flag = &p->virtio_sound;
		} else if (!strcmp(key, "default_net")) {
			flag = &p->default_net;
		} else {
			r = fail(err, errlen, "%s:%d: unknown key '%s'", file, lineno, key);
		}
		if (flag && parse_bool(v, flag) < 0)
			r = fail(err, errlen, "%s:%d: %s must be true or false", file, lineno, key);
	}
	fclose(f);
	if (r == 0 && !p->kernel[0])
		r = fail(err, errlen, "%s: no kernel", file);
	return r;
}

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int pkg_find(char *out, size_t len, const char *name, const char *build_dir, char *err,
             size_t errlen)
{
	size_t n = strlen(name);
	if (strchr(name, '/') || (n > 4 && !strcmp(name + n - 4, ".pkg"))) {
		if (!is_file(name))
			return fail(err, errlen, "package file %s: %s", name, strerror(ENOENT));
		snprintf(out, len, "%s", name);
		return 0;
	}
	if (!guest_name_ok(name))
		return fail(err, errlen, "'%s' is not a package name ([A-Za-z0-9_-], 1-%d bytes)",
		            name, GUEST_NAME_MAX);
	char dirs[4096] = "";
	const char *env = getenv("VMM_GUEST_PACKAGES");
	if (env && *env)
		snprintf(dirs, sizeof(dirs), "%s:", env);
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	size_t used = strlen(dirs);
	if (xdg && *xdg)
		snprintf(dirs + used, sizeof(dirs) - used, "%s/vmm/packages:", xdg);
	else if (home && *home)
		snprintf(dirs + used, sizeof(dirs) - used, "%s/.local/share/vmm/packages:", home);
	used = strlen(dirs);
	snprintf(dirs + used, sizeof(dirs) - used, "%s/../launcher/packages", build_dir);
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char cand[PATH_MAX];
		if (snprintf(cand, sizeof(cand), "%s/%s.pkg", d, name) >= (int)sizeof(cand))
			continue;
		if (is_file(cand)) {
			snprintf(out, len, "%s", cand);
			return 0;
		}
	}
	return fail(err, errlen,
	            "no package '%s' (looked for %s.pkg in $VMM_GUEST_PACKAGES, "
	            "$XDG_DATA_HOME/vmm/packages and %s/../launcher/packages)",
	            name, name, build_dir);
}

/* mkdir -p with mode for the parts it creates. */
static int mkdirs(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int guest_state_dir(char *out, size_t len, const char *guest, bool create, char *err,
                    size_t errlen)
{
	if (!guest_name_ok(guest))
		return fail(err, errlen, "'%s' is not a guest name", guest);
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	int n;
	if (xdg && xdg[0] == '/')
		n = snprintf(out, len, "%s/vmm/%s", xdg, guest);
	else if (home && home[0] == '/')
		n = snprintf(out, len, "%s/.local/share/vmm/%s", home, guest);
	else
		return fail(err, errlen, "neither XDG_DATA_HOME nor HOME is an absolute path: "
		                         "no per-user state directory");
	if (n < 0 || (size_t)n >= len)
		return fail(err, errlen, "state directory path too long");
	if (create && mkdirs(out, 0700) < 0)
		return fail(err, errlen, "cannot create %s: %s", out, strerror(errno));
	return 0;
}

int runtime_dir(char *out, size_t len, char *err, size_t errlen)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (xdg && xdg[0] == '/')
		n = snprintf(out, len, "%s/vmm", xdg);
	else
		n = snprintf(out, len, "/tmp/vmm-%u", (unsigned)getuid());
	if (n < 0 || (size_t)n >= len)
		return fail(err, errlen, "runtime directory path too long");
	if (mkdirs(out, 0700) < 0)
		return fail(err, errlen, "cannot create %s: %s", out, strerror(errno));
	struct stat st;
	if (lstat(out, &st) < 0)
		return fail(err, errlen, "%s: %s", out, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077))
		return fail(err, errlen,
		            "%s is not a private directory of this user (a symlink, another "
		            "owner, or mode %03o): refusing to use it",
		            out, (unsigned)(st.st_mode & 0777));
	return 0;
}

int manager_file(char *out, size_t len, const char *guest, const char *suffix, char *err,
                 size_t errlen)
{
	char dir[PATH_MAX];
	if (!guest_name_ok(guest))
		return fail(err, errlen, "'%s' is not a guest name ([A-Za-z0-9_-], 1-%d bytes)", guest,
		            GUEST_NAME_MAX);
	if (runtime_dir(dir, sizeof(dir), err, errlen) < 0)
		return -1;
	int n = snprintf(out, len, "%s/%s%s", dir, guest, suffix);
	if (n < 0 || (size_t)n >= len)
		return fail(err, errlen, "runtime path too long");
	return 0;
}

bool pkg_user_config_ok(const struct guest_config *u, char *err, size_t errlen)
{
	/* The manager owns the guest's files: a user picks settings, not files. */
	const char *bad = NULL;
	if (u->kernel_fd >= 0 || u->has_kernel_type)
		bad = "kernel";
	else if (u->ramdisk_fd >= 0)
		bad = "initrd";
	else if (u->dtb_overlay_fd >= 0)
		bad = "dtb_overlay";
	else if (u->cmdline)
		bad = "cmdline (use cmdline_add)";
	else if (u->has_block_devices)
		bad = "block_devices";
	else if (u->has_vsock_listeners)
		bad = "vsock_listeners";
	else if (u->has_wayland_device || u->has_magma_device)
		bad = "wayland/magma devices";
	if (bad)
		fail(err, errlen, "the launch settings may not set %s: the guest's files and "
		                  "services come from its package",
		     bad);
	return bad == NULL;
}

static int add_block(struct guest_config *c, int fd, enum block_mode mode, const char *id)
{
	struct block_spec *b = realloc(c->block_devices, (c->n_block_devices + 1) * sizeof(*b));
	if (!b) {
		close(fd);
		return -1;
	}
	c->block_devices = b;
	c->has_block_devices = true;
	b = &b[c->n_block_devices++];
	memset(b, 0, sizeof(*b));
	snprintf(b->id, sizeof(b->id), "%s", id);
	b->mode = mode;
	b->format = BLOCK_FORMAT_FILE;
	b->fd = fd;
	return 0;
}

/* Open the stateful image in the user's state dir: created sparse, never
 * followed through a symlink, and locked (flock on the open file, which the
 * vmm then holds) so no second instance can be given it. */
static int open_stateful(const struct guest_package *p, const char *state_dir, char *err,
                         size_t errlen)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/stateful.img", state_dir) >= (int)sizeof(path))
		return fail(err, errlen, "state path too long");
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(err, errlen, "stateful image %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid()) {
		close(fd);
		return fail(err, errlen, "stateful image %s is not a regular file of this user", path);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return fail(err, errlen, "stateful image %s is in use by another instance", path);
		return fail(err, errlen, "stateful image %s: flock: %s", path, strerror(e));
	}
	if ((uint64_t)st.st_size < p->stateful_size && ftruncate(fd, (off_t)p->stateful_size) < 0) {
		int e = errno;
		close(fd);
		return fail(err, errlen, "stateful image %s: cannot size it to %llu bytes: %s", path,
		            (unsigned long long)p->stateful_size, strerror(e));
	}
	return fd;
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int pkg_build_config(const struct guest_package *p, const struct guest_config *u,
                     const char *state_dir, const int *acceptor_fds, struct guest_config *c,
                     bool *no_storage, char *err, size_t errlen)
{
	*no_storage = false;
	gc_init(c);
	c->has_kernel_type = true;
	c->kernel_type = p->kernel_type;
	c->kernel_fd = open(p->kernel, O_RDONLY | O_CLOEXEC);
	if (c->kernel_fd < 0) {
		fail(err, errlen, "kernel %s: %s", p->kernel, strerror(errno));
		goto bad;
	}
	if (p->initrd[0]) {
		/* "?PATH": use it when it is there. */
		bool optional = p->initrd[0] == '?';
		const char *path = p->initrd + optional;
		c->ramdisk_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (c->ramdisk_fd < 0 && !(optional && errno == ENOENT)) {
			fail(err, errlen, "initrd %s: %s", path, strerror(errno));
			goto bad;
		}
	}
	if (p->cmdline[0] && !(c->cmdline = strdup(p->cmdline)))
		goto oom;
	for (size_t i = 0; i < p->n_images; i++) {
		int fd = open(p->images[i].path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fail(err, errlen, "image %s: %s", p->images[i].path, strerror(errno));
			goto bad;
		}
		char id[GC_MAX_BLOCK_DEVICE_ID + 1];
		snprintf(id, sizeof(id), "%s", p->images[i].id[0] ? p->images[i].id : "image");
		if (add_block(c, fd, BLOCK_READ_ONLY, id) < 0)
			goto oom;
	}
	if (p->stateful_size) {
		int fd = open_stateful(p, state_dir, err, errlen);
		if (fd < 0) {
			*no_storage = true;
			goto bad;
		}
		if (add_block(c, fd, BLOCK_READ_WRITE, p->stateful_id[0] ? p->stateful_id : "stateful") < 0)
			goto oom;
	}
	if (p->n_vsock) {
		c->vsock_listeners = calloc(p->n_vsock, sizeof(*c->vsock_listeners));
		if (!c->vsock_listeners)
			goto oom;
		c->has_vsock_listeners = true;
		for (size_t i = 0; i < p->n_vsock; i++) {
			c->vsock_listeners[i].port = p->vsock_ports[i];
			c->vsock_listeners[i].acceptor_fd = fcntl(acceptor_fds[i], F_DUPFD_CLOEXEC, 0);
			c->n_vsock_listeners++;
			if (c->vsock_listeners[i].acceptor_fd < 0) {
				fail(err, errlen, "vsock acceptor: %s", strerror(errno));
				goto bad;
			}
		}
	}
	if (p->cpus) {
		c->has_cpus = true;
		c->cpus = (uint8_t)p->cpus;
	}
	if (p->memory) {
		c->has_guest_memory = true;
		c->guest_memory = p->memory;
	}
#define DEFAULT_FLAG(f) \
	do { c->has_##f = true; c->f = p->f; } while (0)
	DEFAULT_FLAG(virtio_rng);
	DEFAULT_FLAG(virtio_console);
	DEFAULT_FLAG(virtio_balloon);
	DEFAULT_FLAG(virtio_vsock);
	DEFAULT_FLAG(virtio_gpu);
	DEFAULT_FLAG(virtio_sound);
	DEFAULT_FLAG(default_net);
#undef DEFAULT_FLAG
	if (!u)
		return 0;
	/* The user's settings win over the package's defaults. */
	if (u->has_cpus) {
		c->has_cpus = true;
		c->cpus = u->cpus;
	}
	if (u->has_guest_memory) {
		c->has_guest_memory = true;
		c->guest_memory = u->guest_memory;
	}
#define USER_FLAG(f) \
	do { if (u->has_##f) { c->has_##f = true; c->f = u->f; } } while (0)
	USER_FLAG(virtio_rng);
	USER_FLAG(virtio_console);
	USER_FLAG(virtio_balloon);
	USER_FLAG(virtio_vsock);
	USER_FLAG(virtio_gpu);
	USER_FLAG(virtio_sound);
	USER_FLAG(virtio_sound_input);
	USER_FLAG(default_net);
#undef USER_FLAG
	if (u->has_net_devices && u->n_net_devices) {
		c->net_devices = calloc(u->n_net_devices, sizeof(*c->net_devices));
		if (!c->net_devices)
			goto oom;
		memcpy(c->net_devices, u->net_devices, u->n_net_devices * sizeof(*c->net_devices));
		c->n_net_devices = u->n_net_devices;
		c->has_net_devices = true;
	}
	if (u->has_cmdline_add && u->n_cmdline_add) {
		c->cmdline_add = calloc(u->n_cmdline_add, sizeof(char *));
		if (!c->cmdline_add)
			goto oom;
		c->has_cmdline_add = true;
		for (size_t i = 0; i < u->n_cmdline_add; i++) {
			if (!(c->cmdline_add[i] = xstrdup(u->cmdline_add[i])))
				goto oom;
			c->n_cmdline_add++;
		}
	}
	return 0;
oom:
	fail(err, errlen, "out of memory");
bad:
	gc_free(c);
	return -1;
}
