/* api/guest_config.h - fuchsia.virtualization/GuestConfig as a C struct.
 *
 * Owns: every field of the seed's GuestConfig table (ordinals 1-21), with a
 * has_ flag per optional field as a FIDL table has. The rules that make a
 * config acceptable are the vmm's (vmm/guest_config_check.h). Files are fds the config owns once set
 * (client_end:fuchsia.io.File maps to a read-only fd; a block device gets a
 * read-only or read-write fd per its BlockSpec mode). gc_free closes them.
 */
#ifndef API_GUEST_CONFIG_H
#define API_GUEST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/guest_error.h"

#define GC_MAX_BLOCK_DEVICE_ID 20
#define GC_MAX_BLOCK_DEVICES 32
#define GC_MAX_NET_DEVICES 32
#define GC_MAX_CMDLINE 4096      /* bytes of the final kernel command line */
#define GC_MAX_CMDLINE_ADD 64
#define GC_MAX_VSOCK_LISTENERS 64
/* Absurd guest memory: more than this is refused (1 TiB). */
#define GC_MAX_GUEST_MEMORY (1ull << 40)
#define GC_MIN_GUEST_MEMORY (1ull << 20)
#define GC_DEFAULT_GUEST_MEMORY (256ull << 20)
#define GC_DEFAULT_CPUS 1

enum kernel_type { KERNEL_ZIRCON = 0, KERNEL_LINUX = 1 };
enum block_mode { BLOCK_READ_WRITE = 0, BLOCK_READ_ONLY = 1, BLOCK_VOLATILE_WRITE = 2 };
enum block_format { BLOCK_FORMAT_FILE = 0, BLOCK_FORMAT_QCOW = 1, BLOCK_FORMAT_BLOCK = 2 };

struct block_spec {
	char id[GC_MAX_BLOCK_DEVICE_ID + 1];
	enum block_mode mode;
	enum block_format format;
	int fd; /* -1 when absent */
};

struct net_spec {
	uint8_t mac[6];
	bool enable_bridge;
};

struct vsock_listener {
	uint32_t port;
	int acceptor_fd; /* channel to a HostVsockAcceptor; -1 when absent */
};

struct wayland_device {
	bool has_memory;
	uint64_t memory;
	int dispatcher_fd;
};

struct magma_device {
	bool has_memory;
	uint64_t memory;
};

struct guest_config {
	bool has_kernel_type;     enum kernel_type kernel_type;       /* 1 */
	int kernel_fd;                                                /* 2, -1 absent */
	int ramdisk_fd;                                               /* 3 */
	int dtb_overlay_fd;                                           /* 4 */
	char *cmdline;                                                /* 5, NULL absent */
	char **cmdline_add; size_t n_cmdline_add; bool has_cmdline_add; /* 6 */
	bool has_cpus;            uint8_t cpus;                       /* 7 */
	bool has_guest_memory;    uint64_t guest_memory;              /* 8 */
	struct block_spec *block_devices; size_t n_block_devices; bool has_block_devices; /* 9 */
	struct net_spec *net_devices; size_t n_net_devices; bool has_net_devices;         /* 10 */
	bool has_wayland_device;  struct wayland_device wayland_device; /* 11 */
	bool has_magma_device;    struct magma_device magma_device;     /* 12 */
	bool has_default_net;     bool default_net;                   /* 13 */
	bool has_virtio_balloon;  bool virtio_balloon;                /* 14 */
	bool has_virtio_console;  bool virtio_console;                /* 15 */
	bool has_virtio_gpu;      bool virtio_gpu;                    /* 16 */
	bool has_virtio_rng;      bool virtio_rng;                    /* 17 */
	bool has_virtio_vsock;    bool virtio_vsock;                  /* 18 */
	bool has_virtio_sound;    bool virtio_sound;                  /* 19 */
	bool has_virtio_sound_input; bool virtio_sound_input;         /* 20 */
	struct vsock_listener *vsock_listeners; size_t n_vsock_listeners; bool has_vsock_listeners; /* 21 */
};

/* An empty table: no field present, every fd -1. */
void gc_init(struct guest_config *c);
/* Close every fd and free every allocation; leaves an empty table. */
void gc_free(struct guest_config *c);

/* Effective values, applying the vmm's defaults to absent fields. gc_memory
 * rounds guest_memory up to a multiple of 4 KiB (the seed allows rounding). */
uint8_t gc_cpus(const struct guest_config *c);
uint64_t gc_memory(const struct guest_config *c);

/* The kernel command line: cmdline, then each non-empty cmdline_add, joined
 * by single spaces. malloc'd (free it); "" when there is none; NULL only when
 * out of memory. A C string cannot carry an embedded NUL: the FIDL decoder
 * must refuse such strings, since gc_validate cannot see them. */
char *gc_full_cmdline(const struct guest_config *c);
/* Its length in bytes (what gc_full_cmdline would return, without the NUL). */
size_t gc_cmdline_len(const struct guest_config *c);

#endif
