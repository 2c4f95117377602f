/* model/guest_config_model.h - executable specification of which GuestConfigs
 * a vmm accepts.
 *
 * Owns: the acceptance rules, restated independently of vmm/guest_config_check.c
 * from the seed's GuestConfig table and api/guest_config.h's documented
 * limits, as one predicate over a plain description of a config (no fds, no
 * kernel files: their relevant facts are fields). mg_check reports EVERY
 * rule a config breaks, not just the first, so a differential test can ask
 * "is the rule the real code named one of the broken ones?" without caring
 * about the order in which an implementation happens to check.
 *
 * Where these rules go beyond what vmm/guest_config_check.c checks (a device this
 * vmm cannot provide, a block file that cannot be read), the model follows
 * the seed: a config that asks for something the guest will not get is a
 * BAD_CONFIG, not a silent omission. See model/README.md.
 *
 * libc only.
 */
#ifndef MODEL_GUEST_CONFIG_MODEL_H
#define MODEL_GUEST_CONFIG_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits, restated from api/guest_config.h's contract and the seed. */
#define MG_MAX_BLOCK_ID 20
#define MG_MAX_BLOCK_DEVICES 32
#define MG_MAX_NET_DEVICES 32
#define MG_MAX_CMDLINE 4096
#define MG_MAX_CMDLINE_ADD 64
#define MG_MAX_VSOCK_LISTENERS 64
#define MG_MIN_MEMORY (1ull << 20)
#define MG_MAX_MEMORY (1ull << 40)

/* A handle field as the validator can know it. */
enum mg_file {
	MG_FILE_ABSENT,   /* field not set */
	MG_FILE_CLOSED,   /* a number that is no open handle */
	MG_FILE_RO,       /* open, readable only */
	MG_FILE_WO,       /* open, writable only */
	MG_FILE_RW,       /* open, readable and writable */
};

/* What the kernel file's first bytes say it is. */
enum mg_kernel_format { MG_KFMT_UNKNOWN, MG_KFMT_BZIMAGE, MG_KFMT_ELF_PVH, MG_KFMT_ELF, MG_KFMT_ZBI };

struct mg_string { bool present; const char *s; }; /* NUL-terminated when present */

struct mg_block {
	uint8_t id[MG_MAX_BLOCK_ID + 1]; size_t id_len; /* bytes, no terminator */
	int mode;   /* 0 READ_WRITE, 1 READ_ONLY, 2 VOLATILE_WRITE; others invalid */
	int format; /* 0 FILE, 1 QCOW, 2 BLOCK; others invalid */
	enum mg_file file;
};

struct mg_config {
	bool has_kernel_type; int kernel_type; /* 0 ZIRCON, 1 LINUX */
	enum mg_file kernel; enum mg_kernel_format kernel_format;
	enum mg_file ramdisk, dtb_overlay;
	struct mg_string cmdline;
	const struct mg_string *cmdline_add; size_t n_cmdline_add;
	bool has_cpus; unsigned cpus;
	bool has_memory; uint64_t memory;
	const struct mg_block *blocks; size_t n_blocks;
	const uint8_t (*macs)[6]; size_t n_nets;
	bool has_wayland, has_magma;
	bool default_net, virtio_balloon, virtio_console, virtio_gpu, virtio_rng,
	     virtio_vsock, virtio_sound, virtio_sound_input; /* absent == false */
	const uint32_t *vsock_ports; const enum mg_file *vsock_acceptors; size_t n_vsock;
};

/* The rules. Each names the field a violation is reported against. */
enum mg_rule {
	MG_R_KERNEL_MISSING, MG_R_KERNEL_CLOSED, MG_R_KERNEL_TYPE_INVALID,
	MG_R_KERNEL_FORMAT_MISMATCH, MG_R_RAMDISK_CLOSED, MG_R_DTB_UNSUPPORTED,
	MG_R_CPUS_ZERO, MG_R_CPUS_TOO_MANY,
	MG_R_MEMORY_TOO_SMALL, MG_R_MEMORY_TOO_LARGE,
	MG_R_CMDLINE_CONTROL, MG_R_CMDLINE_ADD_TOO_MANY, MG_R_CMDLINE_ADD_MISSING,
	MG_R_CMDLINE_ADD_CONTROL, MG_R_CMDLINE_TOO_LONG,
	MG_R_BLOCK_TOO_MANY, MG_R_BLOCK_ID_BAD, MG_R_BLOCK_ID_DUPLICATE,
	MG_R_BLOCK_MODE_INVALID, MG_R_BLOCK_FORMAT_UNSUPPORTED, MG_R_BLOCK_FILE_MISSING,
	MG_R_BLOCK_FILE_CLOSED, MG_R_BLOCK_FILE_NOT_READABLE, MG_R_BLOCK_FILE_NOT_WRITABLE,
	MG_R_NET_TOO_MANY, MG_R_NET_MAC_MULTICAST, MG_R_NET_MAC_DUPLICATE,
	MG_R_VSOCK_WITHOUT_DEVICE, MG_R_VSOCK_TOO_MANY, MG_R_VSOCK_PORT_DUPLICATE,
	MG_R_VSOCK_ACCEPTOR_MISSING, MG_R_VSOCK_ACCEPTOR_CLOSED,
	MG_R_SOUND_INPUT_WITHOUT_SOUND,
	/* A device the config enables that this vmm cannot provide. */
	MG_R_WAYLAND_UNSUPPORTED, MG_R_MAGMA_UNSUPPORTED, MG_R_GPU_UNSUPPORTED,
	MG_R_SOUND_UNSUPPORTED, MG_R_CONSOLE_UNSUPPORTED, MG_R_NET_UNSUPPORTED,
	MG_R_VSOCK_UNSUPPORTED, MG_R_BALLOON_UNSUPPORTED,
	MG_R_COUNT
};

/* Which devices this vmm can give a guest; the rest are refused. */
struct mg_vmm {
	int max_vcpus;
	bool has_console, has_net, has_vsock, has_balloon; /* block and rng always */
};

struct mg_verdict {
	bool accept;
	bool broken[MG_R_COUNT]; /* every rule the config breaks */
};

void mg_check(const struct mg_config *c, const struct mg_vmm *vmm, struct mg_verdict *v);

/* "kernel", "cpus", "block_devices", ...: the GuestConfig field a rule is
 * about, as it appears in the table. */
const char *mg_rule_field(enum mg_rule r);
const char *mg_rule_name(enum mg_rule r);

#endif
