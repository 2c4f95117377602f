/* vmm/guest_config_check.c - see guest_config_check.h. Every rule gc_validate
 * applies has a test in tests/test_guest_config.c. */
#include "vmm/guest_config_check.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdarg.h>
#include <string.h>

#include "base/err.h"
#include "vmm/loader.h"

static bool is_on(bool has, bool v) { return has && v; }

static bool fd_open(int fd) { return fd >= 0 && fcntl(fd, F_GETFD) != -1; }

static enum guest_error bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum guest_error bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrf(err, errlen, fmt, ap);
	va_end(ap);
	return GUEST_ERR_BAD_CONFIG;
}

/* Index of the first control byte in s (C0 controls and DEL), or -1. */
static long control_at(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return (long)(p - (const unsigned char *)s);
	return -1;
}

static enum guest_error check_kernel(const struct guest_config *c, char *err, size_t errlen)
{
	if (c->kernel_fd < 0)
		return bad(err, errlen, "kernel: missing (GuestConfig.kernel is required)");
	if (!fd_open(c->kernel_fd))
		return bad(err, errlen, "kernel: fd %d is not open", c->kernel_fd);
	enum kernel_type kt = c->has_kernel_type ? c->kernel_type : KERNEL_LINUX;
	if (kt != KERNEL_LINUX && kt != KERNEL_ZIRCON)
		return bad(err, errlen, "kernel_type: %d is neither ZIRCON (0) nor LINUX (1)",
		           (int)kt);
	/* Only a format that clearly belongs to the other kernel type is a config
	 * error; unreadable or malformed files are the loader's to report. */
	enum kernel_format f = loader_detect(c->kernel_fd);
	if (kt == KERNEL_LINUX && f == KFMT_ZBI)
		return bad(err, errlen,
		           "kernel_type LINUX needs a bzImage or PVH ELF kernel, but the kernel "
		           "file is a %s", kernel_format_name(f));
	if (kt == KERNEL_ZIRCON &&
	    (f == KFMT_BZIMAGE || f == KFMT_ELF_PVH || f == KFMT_ELF))
		return bad(err, errlen,
		           "kernel_type ZIRCON needs a ZBI kernel, but the kernel file is a %s",
		           kernel_format_name(f));
	if (c->ramdisk_fd >= 0 && !fd_open(c->ramdisk_fd))
		return bad(err, errlen, "ramdisk: fd %d is not open", c->ramdisk_fd);
	if (c->dtb_overlay_fd >= 0)
		return bad(err, errlen, "dtb_overlay: not supported by this vmm (x86 guests get "
		           "ACPI tables, not a device tree)");
	return GUEST_OK;
}

static enum guest_error check_shape(const struct guest_config *c, int max_vcpus, char *err,
                                    size_t errlen)
{
	if (c->has_cpus && c->cpus == 0)
		return bad(err, errlen, "cpus: 0; a guest needs at least 1");
	if (c->has_cpus && c->cpus > max_vcpus)
		return bad(err, errlen, "cpus: %u is above this hypervisor's maximum of %d",
		           c->cpus, max_vcpus);
	if (c->has_guest_memory) {
		uint64_t m = c->guest_memory;
		if (m == 0)
			return bad(err, errlen, "guest_memory: 0 bytes");
		if (m < GC_MIN_GUEST_MEMORY)
			return bad(err, errlen,
			           "guest_memory: %" PRIu64 " bytes is below the minimum of %llu",
			           m, GC_MIN_GUEST_MEMORY);
		/* Checked before rounding, so rounding up to 4 KiB cannot overflow. */
		if (m > GC_MAX_GUEST_MEMORY)
			return bad(err, errlen,
			           "guest_memory: %" PRIu64 " bytes is above the maximum of %llu",
			           m, GC_MAX_GUEST_MEMORY);
	}
	return GUEST_OK;
}

static enum guest_error check_cmdline(const struct guest_config *c, char *err, size_t errlen)
{
	if (c->n_cmdline_add > GC_MAX_CMDLINE_ADD)
		return bad(err, errlen, "cmdline_add: %zu entries, at most %d", c->n_cmdline_add,
		           GC_MAX_CMDLINE_ADD);
	if (c->n_cmdline_add && !c->cmdline_add)
		return bad(err, errlen, "cmdline_add: %zu entries but no vector", c->n_cmdline_add);
	long at;
	if (c->cmdline && (at = control_at(c->cmdline)) >= 0)
		return bad(err, errlen, "cmdline: control character 0x%02x at byte %ld",
		           (unsigned char)c->cmdline[at], at);
	for (size_t i = 0; i < c->n_cmdline_add; i++) {
		if (!c->cmdline_add[i])
			return bad(err, errlen, "cmdline_add[%zu]: missing string", i);
		if ((at = control_at(c->cmdline_add[i])) >= 0)
			return bad(err, errlen, "cmdline_add[%zu]: control character 0x%02x at byte %ld",
			           i, (unsigned char)c->cmdline_add[i][at], at);
	}
	size_t n = gc_cmdline_len(c);
	if (n > GC_MAX_CMDLINE)
		return bad(err, errlen,
		           "cmdline: %zu bytes with every cmdline_add joined, more than %d", n,
		           GC_MAX_CMDLINE);
	return GUEST_OK;
}

static const char *const format_names[] = { "FILE", "QCOW", "BLOCK" };

static enum guest_error check_block(const struct guest_config *c, char *err, size_t errlen)
{
	if (c->n_block_devices > GC_MAX_BLOCK_DEVICES)
		return bad(err, errlen, "block_devices: %zu devices, at most %d",
		           c->n_block_devices, GC_MAX_BLOCK_DEVICES);
	if (c->n_block_devices && !c->block_devices)
		return bad(err, errlen, "block_devices: %zu entries but no vector",
		           c->n_block_devices);
	for (size_t i = 0; i < c->n_block_devices; i++) {
		const struct block_spec *b = &c->block_devices[i];
		size_t len = strnlen(b->id, sizeof(b->id));
		if (len == sizeof(b->id))
			return bad(err, errlen, "block_devices[%zu]: id longer than %d bytes", i,
			           GC_MAX_BLOCK_DEVICE_ID);
		if (len == 0)
			return bad(err, errlen, "block_devices[%zu]: id is empty", i);
		for (size_t k = 0; k < len; k++) {
			unsigned char ch = (unsigned char)b->id[k];
			if (ch < 0x20 || ch > 0x7e)
				return bad(err, errlen,
				           "block_devices[%zu]: id has non-printable byte 0x%02x at %zu",
				           i, ch, k);
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->block_devices[j].id, b->id) == 0)
				return bad(err, errlen,
				           "block_devices[%zu]: id \"%s\" duplicates block_devices[%zu]",
				           i, b->id, j);
		if ((unsigned)b->mode > BLOCK_VOLATILE_WRITE)
			return bad(err, errlen, "block_devices[%zu]: mode %d is invalid", i,
			           (int)b->mode);
		if ((unsigned)b->format > BLOCK_FORMAT_BLOCK)
			return bad(err, errlen, "block_devices[%zu]: format %d is invalid", i,
			           (int)b->format);
		if (b->format != BLOCK_FORMAT_FILE)
			return bad(err, errlen,
			           "block_devices[%zu]: format %s is not supported by this vmm "
			           "(only FILE)", i, format_names[b->format]);
		if (b->fd < 0)
			return bad(err, errlen, "block_devices[%zu]: no fd", i);
		int fl = fcntl(b->fd, F_GETFL);
		if (fl == -1)
			return bad(err, errlen, "block_devices[%zu]: fd %d is not open", i, b->fd);
		/* Every mode reads the file. */
		if ((fl & O_ACCMODE) == O_WRONLY)
			return bad(err, errlen, "block_devices[%zu]: fd %d is open write-only; the "
			           "device must be able to read it", i, b->fd);
		/* Writes must reach the file; VOLATILE_WRITE keeps them in memory. */
		if (b->mode == BLOCK_READ_WRITE && (fl & O_ACCMODE) != O_RDWR)
			return bad(err, errlen,
			           "block_devices[%zu]: mode READ_WRITE but fd %d is not open "
			           "read-write", i, b->fd);
	}
	return GUEST_OK;
}

static enum guest_error check_net(const struct guest_config *c, char *err, size_t errlen)
{
	size_t total = c->n_net_devices + (is_on(c->has_default_net, c->default_net) ? 1 : 0);
	if (c->n_net_devices > GC_MAX_NET_DEVICES)
		return bad(err, errlen, "net_devices: %zu devices, at most %d", c->n_net_devices,
		           GC_MAX_NET_DEVICES);
	if (total > GC_MAX_NET_DEVICES)
		return bad(err, errlen, "net_devices: %zu devices plus default_net, at most %d",
		           c->n_net_devices, GC_MAX_NET_DEVICES);
	if (c->n_net_devices && !c->net_devices)
		return bad(err, errlen, "net_devices: %zu entries but no vector", c->n_net_devices);
	for (size_t i = 0; i < c->n_net_devices; i++) {
		const uint8_t *m = c->net_devices[i].mac;
		if (m[0] & 1)
			return bad(err, errlen,
			           "net_devices[%zu]: MAC %02x:%02x:%02x:%02x:%02x:%02x is multicast",
			           i, m[0], m[1], m[2], m[3], m[4], m[5]);
		for (size_t j = 0; j < i; j++)
			if (memcmp(c->net_devices[j].mac, m, 6) == 0)
				return bad(err, errlen,
				           "net_devices[%zu]: MAC %02x:%02x:%02x:%02x:%02x:%02x "
				           "duplicates net_devices[%zu]",
				           i, m[0], m[1], m[2], m[3], m[4], m[5], j);
	}
	return GUEST_OK;
}

static enum guest_error check_vsock(const struct guest_config *c, char *err, size_t errlen)
{
	if (c->n_vsock_listeners == 0)
		return GUEST_OK;
	if (!is_on(c->has_virtio_vsock, c->virtio_vsock))
		return bad(err, errlen, "vsock_listeners: given but virtio_vsock is not enabled");
	if (c->n_vsock_listeners > GC_MAX_VSOCK_LISTENERS)
		return bad(err, errlen, "vsock_listeners: %zu listeners, at most %d",
		           c->n_vsock_listeners, GC_MAX_VSOCK_LISTENERS);
	if (!c->vsock_listeners)
		return bad(err, errlen, "vsock_listeners: %zu entries but no vector",
		           c->n_vsock_listeners);
	for (size_t i = 0; i < c->n_vsock_listeners; i++) {
		const struct vsock_listener *l = &c->vsock_listeners[i];
		for (size_t j = 0; j < i; j++)
			if (c->vsock_listeners[j].port == l->port)
				return bad(err, errlen,
				           "vsock_listeners[%zu]: port %" PRIu32
				           " duplicates vsock_listeners[%zu]", i, l->port, j);
		if (l->acceptor_fd < 0)
			return bad(err, errlen, "vsock_listeners[%zu]: no acceptor", i);
		if (!fd_open(l->acceptor_fd))
			return bad(err, errlen, "vsock_listeners[%zu]: acceptor fd %d is not open", i,
			           l->acceptor_fd);
	}
	return GUEST_OK;
}

static enum guest_error check_devices(const struct guest_config *c, char *err, size_t errlen)
{
	if (is_on(c->has_virtio_sound_input, c->virtio_sound_input) &&
	    !is_on(c->has_virtio_sound, c->virtio_sound))
		return bad(err, errlen, "virtio_sound_input: set but virtio_sound is not enabled");
	/* Honest refusals: these devices do not exist here (yet). */
	if (c->has_wayland_device)
		return bad(err, errlen, "wayland_device: not supported by this vmm");
	if (c->has_magma_device)
		return bad(err, errlen, "magma_device: not supported by this vmm");
	if (is_on(c->has_virtio_gpu, c->virtio_gpu))
		return bad(err, errlen, "virtio_gpu: not supported by this vmm");
	if (is_on(c->has_virtio_sound, c->virtio_sound))
		return bad(err, errlen, "virtio_sound: not supported by this vmm");
	return GUEST_OK;
}

enum guest_error gc_validate(const struct guest_config *c, int max_vcpus,
                             char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	enum guest_error e;
	if ((e = check_kernel(c, err, errlen)) != GUEST_OK ||
	    (e = check_shape(c, max_vcpus, err, errlen)) != GUEST_OK ||
	    (e = check_cmdline(c, err, errlen)) != GUEST_OK ||
	    (e = check_block(c, err, errlen)) != GUEST_OK ||
	    (e = check_net(c, err, errlen)) != GUEST_OK ||
	    (e = check_vsock(c, err, errlen)) != GUEST_OK ||
	    (e = check_devices(c, err, errlen)) != GUEST_OK)
		return e;
	return GUEST_OK;
}
