/* vmm-device/kinds.h - the table of device kinds the vmm-device program serves.
 *
 * Owns: what a kind of device tells the program (vmm_device_main.c), so that
 * checking the command line, setting the device up, watching its host side,
 * recording its configuration and tearing it down is one path through one
 * table instead of a flag per device at every step. A kind names its device
 * core, the host adapter from host/ behind it, the options it takes and how
 * it goes. A new device joins by one kind file and one table entry.
 *
 * Return convention of the hooks: 0 or an exit status (EXIT_USAGE,
 * EXIT_RUNTIME), the message already printed on stderr.
 */
#ifndef VMM_DEVICE_KINDS_H
#define VMM_DEVICE_KINDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/block.h"
#include "devices/vhost_user.h"
#include "devices/vsock.h"
#include "host/host_events.h"

/* Exit statuses, as --help documents them. */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* The command-line options; the option table (vmm_device_main.c) is indexed
 * by these, in --help order, and a kind's `takes` is a mask of OPT_BIT()s. */
enum device_option {
	OPT_SOCKET,
	OPT_DEVICE,
	OPT_IMAGE,
	OPT_MODE,
	OPT_ID,
	OPT_TAP,
	OPT_BALLOON_PAGES,
	OPT_GUEST_CID,
	OPT_VSOCK_LISTEN,
	OPT_VSOCK_CONNECT,
	OPT_ONCE,
	OPT_RECORD,
	OPT_VERBOSE,
	OPT_HELP,
	N_OPTIONS
};
#define OPT_BIT(o) (1u << (o))

/* What the command line asked for. Parsing fills the strings as given (and
 * the vsock map, whose form is checked as each option is met); a kind's
 * check fills the values below them. */
struct device_request {
	uint32_t given; /* OPT_BIT()s of the options met */
	const char *socket, *device, *record;
	const struct device_kind *kind;
	bool once;
	int verbose;
	/* block */
	const char *image, *mode_arg, *id;
	enum block_dev_mode mode;
	/* net */
	const char *tap;
	/* balloon */
	const char *pages_arg;
	uint32_t pages;
	/* vsock */
	const char *cid_arg, *vsock_connect;
	unsigned long long cid;
	struct {
		uint32_t port;
		const char *path;
	} listen[VSOCK_MAX_LISTEN];
	unsigned nlisten;
};

/* The one vhost-user server and who the host adapters announce to (the
 * recorder's sink with --record), shared by the program and its kind. */
struct device_server {
	struct vhu_server vhu;
	struct host_events hev;
	/* Held input offered again from the loop (rx_retry.c); NULL: the kind
	 * holds no input. */
	void (*retry)(void);
	int retry_pipe[2];
};

struct device_kind {
	const char *name;      /* --device NAME, and device= in a recording's config */
	unsigned virtio_id;    /* for --help (virtio_uml.device=PATH:ID) */
	const char *synopsis;  /* its options in the usage lines; NULL: none */
	const char *help;      /* --help's devices list, lines split by '\n' */
	uint32_t takes;        /* OPT_BIT()s of the options only this kind takes */
	const char *options_are; /* how a misuse names them: "--tap is" */
	/* The values and the options it needs (EXIT_USAGE). NULL: none. */
	int (*check)(struct device_request *rq);
	/* The device core and its host side, before the server listens
	 * (EXIT_RUNTIME); *dev is what the server serves. */
	int (*setup)(struct device_server *ds, const struct device_request *rq,
	             struct virtio_device **dev);
	/* Lines after device= in a recording's config meta. NULL: none. */
	void (*record_config)(const struct device_request *rq, char *cfg, size_t len);
	/* Once the server listens: its watches and first requests. NULL: none. */
	void (*start)(struct device_server *ds, const struct device_request *rq);
	/* After the server stopped: the summary line (log_info) and teardown;
	 * EXIT_RUNTIME if what the guest wrote could not be kept. */
	int (*finish)(const struct device_request *rq);
};

/* The kinds in --help order (kind_*.c), NULL-terminated. */
extern const struct device_kind *const device_kinds[];
extern const struct device_kind kind_block, kind_rng, kind_console, kind_net, kind_balloon,
	kind_vsock;

/* rx_retry.c: the device said it has room again (host_stream/host_tap
 * wake, during a kick); the held input is offered from the loop as an
 * event of its own. rx_retry_open opens the pipe (after the server listens;
 * -errno on failure), rx_retry_watch has the server watch it. */
void rx_space(void *ctx);
int rx_retry_open(struct device_server *ds);
void rx_retry_watch(struct device_server *ds);

#endif
