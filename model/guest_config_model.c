/* model/guest_config_model.c - see guest_config_model.h. Each rule is one
 * `if` that reads like its sentence; every rule is evaluated, none
 * short-circuits another, so the verdict lists all violations. */
#include "guest_config_model.h"

#include <string.h>

static void breaks(struct mg_verdict *v, enum mg_rule r)
{
	v->broken[r] = true;
	v->accept = false;
}

static bool is_control(uint8_t b) { return b < 0x20 || b == 0x7f; }

static bool has_control(const char *s)
{
	for (size_t i = 0; s[i]; i++)
		if (is_control((uint8_t)s[i]))
			return true;
	return false;
}

static bool is_open(enum mg_file f) { return f == MG_FILE_RO || f == MG_FILE_WO || f == MG_FILE_RW; }

/* The final command line is the non-empty pieces (cmdline, then each
 * cmdline_add) joined by single spaces. */
static size_t joined_length(const struct mg_config *c)
{
	size_t total = 0, pieces = 0;
	if (c->cmdline.present && c->cmdline.s[0]) {
		total += strlen(c->cmdline.s);
		pieces++;
	}
	for (size_t i = 0; i < c->n_cmdline_add; i++) {
		const struct mg_string *a = &c->cmdline_add[i];
		if (a->present && a->s[0]) {
			total += strlen(a->s);
			pieces++;
		}
	}
	return pieces ? total + (pieces - 1) : 0;
}

static void check_kernel(const struct mg_config *c, struct mg_verdict *v)
{
	if (c->kernel == MG_FILE_ABSENT)
		breaks(v, MG_R_KERNEL_MISSING);
	else if (c->kernel == MG_FILE_CLOSED)
		breaks(v, MG_R_KERNEL_CLOSED);
	/* An absent kernel_type means LINUX (the vmm's default). */
	int type = c->has_kernel_type ? c->kernel_type : 1;
	if (type != 0 && type != 1)
		breaks(v, MG_R_KERNEL_TYPE_INVALID);
	/* Only a file that plainly is the other type's kernel is a config error;
	 * unknown or unreadable files are the loader's to refuse. */
	if (is_open(c->kernel)) {
		enum mg_kernel_format f = c->kernel_format;
		if (type == 1 && f == MG_KFMT_ZBI)
			breaks(v, MG_R_KERNEL_FORMAT_MISMATCH);
		if (type == 0 && (f == MG_KFMT_BZIMAGE || f == MG_KFMT_ELF_PVH || f == MG_KFMT_ELF))
			breaks(v, MG_R_KERNEL_FORMAT_MISMATCH);
	}
	if (c->ramdisk == MG_FILE_CLOSED)
		breaks(v, MG_R_RAMDISK_CLOSED);
	/* x86 guests get ACPI tables; there is no device tree to overlay. */
	if (c->dtb_overlay != MG_FILE_ABSENT)
		breaks(v, MG_R_DTB_UNSUPPORTED);
}

static void check_shape(const struct mg_config *c, const struct mg_vmm *vmm, struct mg_verdict *v)
{
	if (c->has_cpus && c->cpus == 0)
		breaks(v, MG_R_CPUS_ZERO);
	if (c->has_cpus && (int)c->cpus > vmm->max_vcpus)
		breaks(v, MG_R_CPUS_TOO_MANY);
	if (c->has_memory && c->memory < MG_MIN_MEMORY)
		breaks(v, MG_R_MEMORY_TOO_SMALL);
	if (c->has_memory && c->memory > MG_MAX_MEMORY)
		breaks(v, MG_R_MEMORY_TOO_LARGE);
}

static void check_cmdline(const struct mg_config *c, struct mg_verdict *v)
{
	if (c->cmdline.present && has_control(c->cmdline.s))
		breaks(v, MG_R_CMDLINE_CONTROL);
	if (c->n_cmdline_add > MG_MAX_CMDLINE_ADD)
		breaks(v, MG_R_CMDLINE_ADD_TOO_MANY);
	for (size_t i = 0; i < c->n_cmdline_add; i++) {
		if (!c->cmdline_add[i].present)
			breaks(v, MG_R_CMDLINE_ADD_MISSING);
		else if (has_control(c->cmdline_add[i].s))
			breaks(v, MG_R_CMDLINE_ADD_CONTROL);
	}
	if (joined_length(c) > MG_MAX_CMDLINE)
		breaks(v, MG_R_CMDLINE_TOO_LONG);
}

static bool id_ok(const struct mg_block *b)
{
	if (b->id_len < 1 || b->id_len > MG_MAX_BLOCK_ID)
		return false;
	for (size_t i = 0; i < b->id_len; i++)
		if (b->id[i] < 0x20 || b->id[i] > 0x7e)
			return false;
	return true;
}

static void check_blocks(const struct mg_config *c, struct mg_verdict *v)
{
	if (c->n_blocks > MG_MAX_BLOCK_DEVICES)
		breaks(v, MG_R_BLOCK_TOO_MANY);
	for (size_t i = 0; i < c->n_blocks; i++) {
		const struct mg_block *b = &c->blocks[i];
		if (!id_ok(b))
			breaks(v, MG_R_BLOCK_ID_BAD);
		for (size_t j = 0; j < i; j++)
			if (c->blocks[j].id_len == b->id_len && memcmp(c->blocks[j].id, b->id, b->id_len) == 0)
				breaks(v, MG_R_BLOCK_ID_DUPLICATE);
		if (b->mode < 0 || b->mode > 2)
			breaks(v, MG_R_BLOCK_MODE_INVALID);
		/* QCOW and BLOCK are valid formats the vmm does not implement. */
		if (b->format != 0)
			breaks(v, MG_R_BLOCK_FORMAT_UNSUPPORTED);
		if (b->file == MG_FILE_ABSENT)
			breaks(v, MG_R_BLOCK_FILE_MISSING);
		else if (b->file == MG_FILE_CLOSED)
			breaks(v, MG_R_BLOCK_FILE_CLOSED);
		else {
			/* Every mode reads the file; READ_WRITE also writes it
			 * (VOLATILE_WRITE keeps writes in memory). */
			if (b->file == MG_FILE_WO)
				breaks(v, MG_R_BLOCK_FILE_NOT_READABLE);
			if (b->mode == 0 && b->file != MG_FILE_RW)
				breaks(v, MG_R_BLOCK_FILE_NOT_WRITABLE);
		}
	}
}

static void check_net(const struct mg_config *c, struct mg_verdict *v)
{
	size_t total = c->n_nets + (c->default_net ? 1 : 0);
	if (c->n_nets > MG_MAX_NET_DEVICES || total > MG_MAX_NET_DEVICES)
		breaks(v, MG_R_NET_TOO_MANY);
	for (size_t i = 0; i < c->n_nets; i++) {
		if (c->macs[i][0] & 1) /* the I/G bit: a group address */
			breaks(v, MG_R_NET_MAC_MULTICAST);
		for (size_t j = 0; j < i; j++)
			if (memcmp(c->macs[i], c->macs[j], 6) == 0)
				breaks(v, MG_R_NET_MAC_DUPLICATE);
	}
}

static void check_vsock(const struct mg_config *c, struct mg_verdict *v)
{
	if (c->n_vsock == 0)
		return;
	if (!c->virtio_vsock)
		breaks(v, MG_R_VSOCK_WITHOUT_DEVICE);
	if (c->n_vsock > MG_MAX_VSOCK_LISTENERS)
		breaks(v, MG_R_VSOCK_TOO_MANY);
	for (size_t i = 0; i < c->n_vsock; i++) {
		for (size_t j = 0; j < i; j++)
			if (c->vsock_ports[i] == c->vsock_ports[j])
				breaks(v, MG_R_VSOCK_PORT_DUPLICATE);
		if (c->vsock_acceptors[i] == MG_FILE_ABSENT)
			breaks(v, MG_R_VSOCK_ACCEPTOR_MISSING);
		else if (c->vsock_acceptors[i] == MG_FILE_CLOSED)
			breaks(v, MG_R_VSOCK_ACCEPTOR_CLOSED);
	}
}

static void check_devices(const struct mg_config *c, const struct mg_vmm *vmm, struct mg_verdict *v)
{
	if (c->virtio_sound_input && !c->virtio_sound)
		breaks(v, MG_R_SOUND_INPUT_WITHOUT_SOUND);
	if (c->has_wayland)
		breaks(v, MG_R_WAYLAND_UNSUPPORTED);
	if (c->has_magma)
		breaks(v, MG_R_MAGMA_UNSUPPORTED);
	if (c->virtio_gpu)
		breaks(v, MG_R_GPU_UNSUPPORTED);
	if (c->virtio_sound)
		breaks(v, MG_R_SOUND_UNSUPPORTED);
	if (c->virtio_console && !vmm->has_console)
		breaks(v, MG_R_CONSOLE_UNSUPPORTED);
	if ((c->n_nets || c->default_net) && !vmm->has_net)
		breaks(v, MG_R_NET_UNSUPPORTED);
	if (c->virtio_vsock && !vmm->has_vsock)
		breaks(v, MG_R_VSOCK_UNSUPPORTED);
	if (c->virtio_balloon && !vmm->has_balloon)
		breaks(v, MG_R_BALLOON_UNSUPPORTED);
}

void mg_check(const struct mg_config *c, const struct mg_vmm *vmm, struct mg_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->accept = true;
	check_kernel(c, v);
	check_shape(c, vmm, v);
	check_cmdline(c, v);
	check_blocks(c, v);
	check_net(c, v);
	check_vsock(c, v);
	check_devices(c, vmm, v);
}

static const struct {
	const char *name, *field;
} rules[MG_R_COUNT] = {
	[MG_R_KERNEL_MISSING] = { "KERNEL_MISSING", "kernel" },
	[MG_R_KERNEL_CLOSED] = { "KERNEL_CLOSED", "kernel" },
	[MG_R_KERNEL_TYPE_INVALID] = { "KERNEL_TYPE_INVALID", "kernel_type" },
	[MG_R_KERNEL_FORMAT_MISMATCH] = { "KERNEL_FORMAT_MISMATCH", "kernel_type" },
	[MG_R_RAMDISK_CLOSED] = { "RAMDISK_CLOSED", "ramdisk" },
	[MG_R_DTB_UNSUPPORTED] = { "DTB_UNSUPPORTED", "dtb_overlay" },
	[MG_R_CPUS_ZERO] = { "CPUS_ZERO", "cpus" },
	[MG_R_CPUS_TOO_MANY] = { "CPUS_TOO_MANY", "cpus" },
	[MG_R_MEMORY_TOO_SMALL] = { "MEMORY_TOO_SMALL", "guest_memory" },
	[MG_R_MEMORY_TOO_LARGE] = { "MEMORY_TOO_LARGE", "guest_memory" },
	[MG_R_CMDLINE_CONTROL] = { "CMDLINE_CONTROL", "cmdline" },
	[MG_R_CMDLINE_ADD_TOO_MANY] = { "CMDLINE_ADD_TOO_MANY", "cmdline_add" },
	[MG_R_CMDLINE_ADD_MISSING] = { "CMDLINE_ADD_MISSING", "cmdline_add" },
	[MG_R_CMDLINE_ADD_CONTROL] = { "CMDLINE_ADD_CONTROL", "cmdline_add" },
	[MG_R_CMDLINE_TOO_LONG] = { "CMDLINE_TOO_LONG", "cmdline" },
	[MG_R_BLOCK_TOO_MANY] = { "BLOCK_TOO_MANY", "block_devices" },
	[MG_R_BLOCK_ID_BAD] = { "BLOCK_ID_BAD", "block_devices" },
	[MG_R_BLOCK_ID_DUPLICATE] = { "BLOCK_ID_DUPLICATE", "block_devices" },
	[MG_R_BLOCK_MODE_INVALID] = { "BLOCK_MODE_INVALID", "block_devices" },
	[MG_R_BLOCK_FORMAT_UNSUPPORTED] = { "BLOCK_FORMAT_UNSUPPORTED", "block_devices" },
	[MG_R_BLOCK_FILE_MISSING] = { "BLOCK_FILE_MISSING", "block_devices" },
	[MG_R_BLOCK_FILE_CLOSED] = { "BLOCK_FILE_CLOSED", "block_devices" },
	[MG_R_BLOCK_FILE_NOT_READABLE] = { "BLOCK_FILE_NOT_READABLE", "block_devices" },
	[MG_R_BLOCK_FILE_NOT_WRITABLE] = { "BLOCK_FILE_NOT_WRITABLE", "block_devices" },
	[MG_R_NET_TOO_MANY] = { "NET_TOO_MANY", "net_devices" },
	[MG_R_NET_MAC_MULTICAST] = { "NET_MAC_MULTICAST", "net_devices" },
	[MG_R_NET_MAC_DUPLICATE] = { "NET_MAC_DUPLICATE", "net_devices" },
	[MG_R_VSOCK_WITHOUT_DEVICE] = { "VSOCK_WITHOUT_DEVICE", "vsock_listeners" },
	[MG_R_VSOCK_TOO_MANY] = { "VSOCK_TOO_MANY", "vsock_listeners" },
	[MG_R_VSOCK_PORT_DUPLICATE] = { "VSOCK_PORT_DUPLICATE", "vsock_listeners" },
	[MG_R_VSOCK_ACCEPTOR_MISSING] = { "VSOCK_ACCEPTOR_MISSING", "vsock_listeners" },
	[MG_R_VSOCK_ACCEPTOR_CLOSED] = { "VSOCK_ACCEPTOR_CLOSED", "vsock_listeners" },
	[MG_R_SOUND_INPUT_WITHOUT_SOUND] = { "SOUND_INPUT_WITHOUT_SOUND", "virtio_sound_input" },
	[MG_R_WAYLAND_UNSUPPORTED] = { "WAYLAND_UNSUPPORTED", "wayland_device" },
	[MG_R_MAGMA_UNSUPPORTED] = { "MAGMA_UNSUPPORTED", "magma_device" },
	[MG_R_GPU_UNSUPPORTED] = { "GPU_UNSUPPORTED", "virtio_gpu" },
	[MG_R_SOUND_UNSUPPORTED] = { "SOUND_UNSUPPORTED", "virtio_sound" },
	[MG_R_CONSOLE_UNSUPPORTED] = { "CONSOLE_UNSUPPORTED", "virtio_console" },
	[MG_R_NET_UNSUPPORTED] = { "NET_UNSUPPORTED", "net_devices" },
	[MG_R_VSOCK_UNSUPPORTED] = { "VSOCK_UNSUPPORTED", "virtio_vsock" },
	[MG_R_BALLOON_UNSUPPORTED] = { "BALLOON_UNSUPPORTED", "virtio_balloon" },
};

const char *mg_rule_field(enum mg_rule r)
{
	return (unsigned)r < MG_R_COUNT ? rules[r].field : "?";
}

const char *mg_rule_name(enum mg_rule r)
{
	return (unsigned)r < MG_R_COUNT ? rules[r].name : "?";
}
