/* fidl/virt_config.c - fuchsia.virtualization/GuestConfig <-> struct
 * guest_config (see virtualization.h). Field ordinals and types follow the
 * seed's GuestConfig table (1-21); the nested types follow guest_config.fidl:
 *   BlockSpec  resource struct { id string:20; mode BlockMode (uint32);
 *              format BlockFormat (uint32); client zx.handle:CHANNEL }  32 bytes
 *   NetSpec    (net_spec.h)                                              7 bytes
 *   WaylandDevice resource struct { memory uint64;
 *              server client_end:optional }                             16 bytes
 *   MagmaDevice struct { memory uint64 }                                 8 bytes
 *   Listener   resource struct { port uint32; acceptor client_end }      8 bytes
 */
#include "virtualization.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "net_spec.h"
#include "table.h"

#define BLOCK_SPEC_SIZE 32
#define LISTENER_SIZE 8
#define WAYLAND_DEFAULT_MEMORY (1ull << 30)
#define MAGMA_DEFAULT_MEMORY (16ull << 30)
#define GC_FIELDS 21

/* Inline size of each field's type, by ordinal. */
static const uint32_t field_size[GC_FIELDS + 1] = {
	[1] = 4, [2] = 4, [3] = 4, [4] = 4, [5] = 16, [6] = 16, [7] = 1, [8] = 8,
	[9] = 16, [10] = 16, [11] = 16, [12] = 8,
	[13] = 1, [14] = 1, [15] = 1, [16] = 1, [17] = 1, [18] = 1, [19] = 1, [20] = 1,
	[21] = 16,
};

/* The bool fields 13-20, in ordinal order. */
static bool *bool_field(struct guest_config *c, uint32_t ord, bool **has)
{
	switch (ord) {
	case 13: *has = &c->has_default_net; return &c->default_net;
	case 14: *has = &c->has_virtio_balloon; return &c->virtio_balloon;
	case 15: *has = &c->has_virtio_console; return &c->virtio_console;
	case 16: *has = &c->has_virtio_gpu; return &c->virtio_gpu;
	case 17: *has = &c->has_virtio_rng; return &c->virtio_rng;
	case 18: *has = &c->has_virtio_vsock; return &c->virtio_vsock;
	case 19: *has = &c->has_virtio_sound; return &c->virtio_sound;
	case 20: *has = &c->has_virtio_sound_input; return &c->virtio_sound_input;
	}
	return NULL;
}

static bool present(const void *obj, uint32_t ord)
{
	const struct guest_config *c = obj;
	struct guest_config *m = (struct guest_config *)c; /* bool_field only reads here */
	bool *has;
	switch (ord) {
	case 1: return c->has_kernel_type;
	case 2: return c->kernel_fd >= 0;
	case 3: return c->ramdisk_fd >= 0;
	case 4: return c->dtb_overlay_fd >= 0;
	case 5: return c->cmdline != NULL;
	case 6: return c->has_cmdline_add;
	case 7: return c->has_cpus;
	case 8: return c->has_guest_memory;
	case 9: return c->has_block_devices;
	case 10: return c->has_net_devices;
	case 11: return c->has_wayland_device;
	case 12: return c->has_magma_device;
	case 21: return c->has_vsock_listeners;
	default:
		assert(ord >= 13 && ord <= 20); /* the table's walk stays within GC_FIELDS */
		bool_field(m, ord, &has);
		return *has;
	}
}

static void enc_field(struct fidl_enc *e, uint32_t p, uint32_t ord, const void *obj)
{
	const struct guest_config *c = obj;
	uint32_t b;
	switch (ord) {
	case 1: fidl_enc_u32(e, p, (uint32_t)c->kernel_type); break;
	case 2: fidl_enc_required_handle(e, p, c->kernel_fd); break;
	case 3: fidl_enc_required_handle(e, p, c->ramdisk_fd); break;
	case 4: fidl_enc_required_handle(e, p, c->dtb_overlay_fd); break;
	case 5: fidl_enc_string(e, p, c->cmdline); break;
	case 6:
		b = fidl_enc_vector_begin(e, p, (uint32_t)c->n_cmdline_add, 16);
		for (size_t i = 0; i < c->n_cmdline_add; i++) {
			if (!c->cmdline_add[i])
				fidl_enc_fail(e, ZX_ERR_INVALID_ARGS, "NULL cmdline_add entry");
			fidl_enc_string(e, b + 16 * (uint32_t)i, c->cmdline_add[i]);
		}
		fidl_enc_vector_end(e);
		break;
	case 7: fidl_enc_u8(e, p, c->cpus); break;
	case 8: fidl_enc_u64(e, p, c->guest_memory); break;
	case 9:
		b = fidl_enc_vector_begin(e, p, (uint32_t)c->n_block_devices, BLOCK_SPEC_SIZE);
		for (size_t i = 0; i < c->n_block_devices; i++) {
			const struct block_spec *s = &c->block_devices[i];
			uint32_t o = b + BLOCK_SPEC_SIZE * (uint32_t)i;
			fidl_enc_string_n(e, o, s->id, strnlen(s->id, sizeof(s->id)));
			fidl_enc_u32(e, o + 16, (uint32_t)s->mode);
			fidl_enc_u32(e, o + 20, (uint32_t)s->format);
			fidl_enc_required_handle(e, o + 24, s->fd);
		}
		fidl_enc_vector_end(e);
		break;
	case 10: fv_enc_net_specs(e, p, c->net_devices, c->n_net_devices); break;
	case 11:
		fidl_enc_u64(e, p, c->wayland_device.has_memory ? c->wayland_device.memory
		                                                : WAYLAND_DEFAULT_MEMORY);
		fidl_enc_handle(e, p + 8, c->wayland_device.dispatcher_fd);
		break;
	case 12:
		fidl_enc_u64(e, p, c->magma_device.has_memory ? c->magma_device.memory
		                                              : MAGMA_DEFAULT_MEMORY);
		break;
	case 21:
		b = fidl_enc_vector_begin(e, p, (uint32_t)c->n_vsock_listeners, LISTENER_SIZE);
		for (size_t i = 0; i < c->n_vsock_listeners; i++) {
			uint32_t o = b + LISTENER_SIZE * (uint32_t)i;
			fidl_enc_u32(e, o, c->vsock_listeners[i].port);
			fidl_enc_required_handle(e, o + 4, c->vsock_listeners[i].acceptor_fd);
		}
		fidl_enc_vector_end(e);
		break;
	default: {
		bool *has;
		fidl_enc_bool(e, p, *bool_field((struct guest_config *)c, ord, &has));
	}
	}
}

static uint32_t dec_enum(struct fidl_dec *d, uint32_t off, uint32_t max, const char *what)
{
	uint32_t v = fidl_dec_u32(d, off);
	if (v > max)
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, what);
	return v;
}

static void *dec_array(struct fidl_dec *d, size_t n, size_t size)
{
	if (d->status != ZX_OK || n == 0)
		return NULL;
	void *p = calloc(n, size);
	if (!p)
		fidl_dec_fail(d, ZX_ERR_NO_MEMORY, "out of memory");
	return p;
}

/* Each vector is attached to c (with every fd -1) before its elements are
 * decoded, so gc_free after a failure part-way reaches what was taken. */
static void dec_field(struct fidl_dec *d, uint32_t p, uint32_t ord, void *obj)
{
	struct guest_config *c = obj;
	uint32_t b, n;
	switch (ord) {
	case 1:
		c->kernel_type = (enum kernel_type)dec_enum(d, p, KERNEL_LINUX, "bad KernelType");
		c->has_kernel_type = true;
		break;
	case 2: c->kernel_fd = fidl_dec_handle(d, p, false); break;
	case 3: c->ramdisk_fd = fidl_dec_handle(d, p, false); break;
	case 4: c->dtb_overlay_fd = fidl_dec_handle(d, p, false); break;
	case 5: c->cmdline = fidl_dec_string(d, p, FIDL_UNBOUNDED, false, NULL); break;
	case 6:
		b = fidl_dec_vector_begin(d, p, 16, FIDL_UNBOUNDED, false, &n, NULL);
		c->cmdline_add = dec_array(d, n, sizeof(char *));
		if (c->cmdline_add)
			c->n_cmdline_add = n;
		c->has_cmdline_add = d->status == ZX_OK;
		for (uint32_t i = 0; i < n && d->status == ZX_OK; i++)
			c->cmdline_add[i] = fidl_dec_string(d, b + 16 * i, FIDL_UNBOUNDED, false, NULL);
		fidl_dec_vector_end(d);
		break;
	case 7:
		c->cpus = fidl_dec_u8(d, p);
		c->has_cpus = true;
		break;
	case 8:
		c->guest_memory = fidl_dec_u64(d, p);
		c->has_guest_memory = true;
		break;
	case 9:
		b = fidl_dec_vector_begin(d, p, BLOCK_SPEC_SIZE, GC_MAX_BLOCK_DEVICES, false, &n, NULL);
		c->block_devices = dec_array(d, n, sizeof(struct block_spec));
		if (c->block_devices) {
			for (uint32_t i = 0; i < n; i++)
				c->block_devices[i].fd = -1;
			c->n_block_devices = n;
		}
		c->has_block_devices = d->status == ZX_OK;
		for (uint32_t i = 0; i < n && d->status == ZX_OK; i++) {
			struct block_spec *s = &c->block_devices[i];
			uint32_t o = b + BLOCK_SPEC_SIZE * i;
			size_t len;
			char *id = fidl_dec_string(d, o, GC_MAX_BLOCK_DEVICE_ID, false, &len);
			if (id)
				memcpy(s->id, id, len + 1);
			free(id);
			s->mode = (enum block_mode)dec_enum(d, o + 16, BLOCK_VOLATILE_WRITE,
			                                    "bad BlockMode");
			s->format = (enum block_format)dec_enum(d, o + 20, BLOCK_FORMAT_BLOCK,
			                                        "bad BlockFormat");
			s->fd = fidl_dec_handle(d, o + 24, false);
			fidl_dec_padding(d, o + 28, 4);
		}
		fidl_dec_vector_end(d);
		break;
	case 10:
		fv_dec_net_specs(d, p, GC_MAX_NET_DEVICES, &c->net_devices, &c->n_net_devices);
		c->has_net_devices = d->status == ZX_OK;
		break;
	case 11:
		c->wayland_device.memory = fidl_dec_u64(d, p);
		c->wayland_device.has_memory = true;
		c->wayland_device.dispatcher_fd = fidl_dec_handle(d, p + 8, true);
		fidl_dec_padding(d, p + 12, 4);
		c->has_wayland_device = true;
		break;
	case 12:
		c->magma_device.memory = fidl_dec_u64(d, p);
		c->magma_device.has_memory = true;
		c->has_magma_device = true;
		break;
	case 21:
		b = fidl_dec_vector_begin(d, p, LISTENER_SIZE, FIDL_UNBOUNDED, false, &n, NULL);
		c->vsock_listeners = dec_array(d, n, sizeof(struct vsock_listener));
		if (c->vsock_listeners) {
			for (uint32_t i = 0; i < n; i++)
				c->vsock_listeners[i].acceptor_fd = -1;
			c->n_vsock_listeners = n;
		}
		c->has_vsock_listeners = d->status == ZX_OK;
		for (uint32_t i = 0; i < n && d->status == ZX_OK; i++) {
			uint32_t o = b + LISTENER_SIZE * i;
			c->vsock_listeners[i].port = fidl_dec_u32(d, o);
			c->vsock_listeners[i].acceptor_fd = fidl_dec_handle(d, o + 4, false);
		}
		fidl_dec_vector_end(d);
		break;
	default: {
		bool *has, *v = bool_field(c, ord, &has);
		assert(v); /* the table's walk stays within GC_FIELDS */
		*v = fidl_dec_bool(d, p);
		*has = true;
	}
	}
}

static const struct fidl_table_type guest_config_table = {
	.max_ordinal = GC_FIELDS,
	.field_size = field_size,
	.present = present,
	.enc_field = enc_field,
	.dec_field = dec_field,
};

void fv_enc_guest_config(struct fidl_enc *e, uint32_t off, const struct guest_config *c)
{
	fidl_enc_table(e, off, &guest_config_table, c);
}

void fv_dec_guest_config(struct fidl_dec *d, uint32_t off, struct guest_config *c)
{
	fidl_dec_table(d, off, &guest_config_table, c);
}
