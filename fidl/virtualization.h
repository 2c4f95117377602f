/* fidl/virtualization.h - the fuchsia.virtualization messages used here.
 *
 * Owns: method ordinals and the byte layout of every request and response of
 * GuestLifecycle, Guest, HostVsockEndpoint, HostVsockAcceptor,
 * BalloonController and GuestManager, and the mapping of the GuestConfig
 * table onto struct guest_config (api/guest_config.h) and of GuestInfo onto
 * struct fv_guest_info.
 *
 * Sources: the RFC-0210 seed for GuestLifecycle, GuestError and GuestConfig
 * (ordinals 1-21), and the public sdk/fidl/fuchsia.virtualization files
 * (guest.fidl, guest_config.fidl, guest_manager.fidl, vsock.fidl,
 * balloon_controller.fidl) for the rest. All methods are strict. Where the
 * two differ, the seed wins: Bind answers `-> () error GuestError` (later
 * SDKs made it one-way); GetConsole fails with GuestError and GetSerial
 * cannot fail (as in the SDK, and as vmm/lifecycle.h models them).
 *
 * Decoding: first fidl_dec_init() the received message and switch on
 * d.hdr.ordinal; then call the fv_dec_* that matches. Every fv_dec_* checks
 * the whole body (fidl_dec_finish), returns ZX_OK or an error, and on error
 * leaves no fd open and nothing allocated: outputs are then empty. On
 * success the caller owns every fd and allocation in the outputs.
 *
 * Encoding: fv_enc_* fill m (fds borrowed, see wire.h) and return ZX_OK or
 * an error (e.g. a required fd of -1, a string that is not UTF-8).
 *
 * Which helper carries which method:
 *   request                      helper               response helper
 *   GuestLifecycle.Create        fv_*_create_req      fv_*_result (GuestError)
 *   GuestLifecycle.Bind          fv_*_handle_body     fv_*_result (GuestError)
 *   GuestLifecycle.Run           fv_*_empty           fv_*_result (GuestError)
 *   GuestLifecycle.Stop          fv_*_empty           fv_*_empty
 *   Guest.GetConsole             fv_*_empty           fv_*_result +handle (GuestError)
 *   Guest.GetSerial              fv_*_empty           fv_*_handle_body
 *   Guest.GetHostVsockEndpoint   fv_*_handle_body     fv_*_result (GuestError)
 *   Guest.GetBalloonController   fv_*_handle_body     fv_*_result (GuestError)
 *   HostVsockEndpoint.Listen     fv_*_listen_req      fv_*_result (zx.Status)
 *   HostVsockEndpoint.Connect    fv_*_u32_body        fv_*_result +handle (zx.Status)
 *   HostVsockAcceptor.Accept     fv_*_accept_req      fv_*_result +handle (zx.Status)
 *   BalloonController.GetBalloonSize  fv_*_empty      fv_*_balloon_size_resp
 *   BalloonController.RequestNumPages fv_*_u32_body   (one-way)
 *   BalloonController.GetMemStats     fv_*_empty      fv_*_mem_stats_resp
 *   GuestManager.Launch          fv_*_launch_req      fv_*_result (GuestManagerError)
 *   GuestManager.ForceShutdown   fv_*_empty           fv_*_empty
 *   GuestManager.Connect         fv_*_handle_body     fv_*_result (GuestManagerError)
 *   GuestManager.GetInfo         fv_*_empty           fv_*_guest_info_resp
 */
#ifndef FIDL_VIRTUALIZATION_H
#define FIDL_VIRTUALIZATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/guest_config.h"
#include "api/guest_error.h"
#include "wire.h"

/* Ordinals: fidl_method_ordinal("fuchsia.virtualization/<Protocol>.<Method>")
 * (checked by tests/test_fidl_virtualization.c). The composed
 * Debian/Termina/ZirconGuestManager use GuestManager's. */
#define FV_ORD_LIFECYCLE_CREATE          0x152719eed416ed41ull
#define FV_ORD_LIFECYCLE_BIND            0x57dd3e245f9598edull
#define FV_ORD_LIFECYCLE_RUN             0x2907fef2ac775657ull
#define FV_ORD_LIFECYCLE_STOP            0x27eef9c535ac8eb4ull
#define FV_ORD_GUEST_GET_CONSOLE         0x48cbcecb7793806eull
#define FV_ORD_GUEST_GET_SERIAL          0x0cdd541a160d7044ull
#define FV_ORD_GUEST_GET_HOST_VSOCK_ENDPOINT 0x766e96aeb9c28ed1ull
#define FV_ORD_GUEST_GET_BALLOON_CONTROLLER  0x7b210bff219ac84eull
#define FV_ORD_VSOCK_LISTEN              0x0fd88f3b4767f2c7ull
#define FV_ORD_VSOCK_CONNECT             0x4d12e10e946b43e4ull
#define FV_ORD_ACCEPTOR_ACCEPT           0x6996ed935beaa2d7ull
#define FV_ORD_BALLOON_GET_BALLOON_SIZE  0x2bb2ebaa6ff64d0bull
#define FV_ORD_BALLOON_REQUEST_NUM_PAGES 0x55c444d65e1df1e8ull
#define FV_ORD_BALLOON_GET_MEM_STATS     0x676199795cc01142ull
#define FV_ORD_MANAGER_LAUNCH            0x394a2e29f750323eull
#define FV_ORD_MANAGER_FORCE_SHUTDOWN    0x3ad9a012982f872dull
#define FV_ORD_MANAGER_CONNECT           0x4e489076e3bb15b4ull
#define FV_ORD_MANAGER_GET_INFO          0x76892614aea695dcull

/* fuchsia.virtualization/GuestManagerError */
enum fv_manager_error {
	FV_MANAGER_BAD_CONFIG = 1,
	FV_MANAGER_ALREADY_RUNNING = 2,
	FV_MANAGER_NOT_RUNNING = 3,
	FV_MANAGER_START_FAILURE = 4,
	FV_MANAGER_NO_STORAGE = 5,
};

/* fuchsia.virtualization/GuestStatus */
enum fv_guest_status {
	FV_GUEST_NOT_STARTED = 1,
	FV_GUEST_STARTING = 2,
	FV_GUEST_RUNNING = 3,
	FV_GUEST_STOPPING = 4,
	FV_GUEST_STOPPED = 5,
	FV_GUEST_VMM_UNEXPECTED_TERMINATION = 6,
};

/* Which error type a result union carries: the strict enums are checked
 * against their members; a zx.Status error may be any non-zero int32. */
enum fv_err_kind { FV_ERR_GUEST_ERROR, FV_ERR_MANAGER_ERROR, FV_ERR_ZX_STATUS };

/* A method's result union. */
struct fv_result {
	uint32_t which;  /* FIDL_RESULT_RESPONSE, _ERR, or _FRAMEWORK_ERR */
	int32_t err;     /* the error when which is _ERR or _FRAMEWORK_ERR */
	int fd;          /* the response's handle (socket), for +handle results */
};

/* fuchsia.virtualization/MemStat */
struct fv_mem_stat {
	uint16_t tag;
	uint64_t val;
};

/* fuchsia.virtualization/GuestDescriptor: the bool fields are indexed by
 * their table ordinal (FV_DESC_*). */
enum {
	FV_DESC_WAYLAND = 3, FV_DESC_MAGMA = 4, FV_DESC_BALLOON = 5, FV_DESC_CONSOLE = 6,
	FV_DESC_GPU = 7, FV_DESC_RNG = 8, FV_DESC_VSOCK = 9, FV_DESC_SOUND = 10,
	FV_DESC_MEM = 12, FV_DESC_MAX = 12,
};
struct fv_guest_descriptor {
	bool has_num_cpus;     uint8_t num_cpus;       /* 1 */
	bool has_guest_memory; uint64_t guest_memory;  /* 2 */
	bool has_device[FV_DESC_MAX + 1];
	bool device[FV_DESC_MAX + 1];
	bool has_networks; struct net_spec *networks; size_t n_networks; /* 11 */
};

#define FV_MAX_DETECTED_PROBLEMS 8

/* fuchsia.virtualization/GuestInfo */
struct fv_guest_info {
	bool has_guest_status;     enum fv_guest_status guest_status;  /* 1 */
	bool has_uptime;           int64_t uptime;   /* 2, zx.Duration (ns) */
	bool has_guest_descriptor; struct fv_guest_descriptor guest_descriptor; /* 3 */
	bool has_stop_error;       enum guest_error stop_error;        /* 4 */
	bool has_detected_problems; char **detected_problems; size_t n_detected_problems; /* 5 */
};
void fv_guest_info_init(struct fv_guest_info *g);
void fv_guest_info_free(struct fv_guest_info *g);

/* ---- GuestConfig, as a table inside a message -------------------------- */

/* Encode c as the table whose 16-byte header is at off. Absent wayland or
 * magma memory is sent as the FIDL default (1 GiB / 16 GiB). */
void fv_enc_guest_config(struct fidl_enc *e, uint32_t off, const struct guest_config *c);
/* Decode into c (gc_init'd by the caller; on error the caller gc_frees it).
 * Unknown fields are skipped and their handles closed. */
void fv_dec_guest_config(struct fidl_dec *d, uint32_t off, struct guest_config *c);

/* ---- Messages ---------------------------------------------------------- */

/* No body: header only. */
int fv_enc_empty(struct fidl_msg *m, uint32_t txid, uint64_t ordinal);
int fv_dec_empty(struct fidl_dec *d);

/* struct { handle } (a server_end, client_end or socket; never optional). */
int fv_enc_handle_body(struct fidl_msg *m, uint32_t txid, uint64_t ordinal, int fd);
int fv_dec_handle_body(struct fidl_dec *d, int *fd);

/* struct { uint32 } */
int fv_enc_u32_body(struct fidl_msg *m, uint32_t txid, uint64_t ordinal, uint32_t v);
int fv_dec_u32_body(struct fidl_dec *d, uint32_t *v);

/* A result union. with_handle: the response is struct { socket handle }. */
int fv_enc_result(struct fidl_msg *m, uint32_t txid, uint64_t ordinal,
                  enum fv_err_kind k, bool with_handle, const struct fv_result *r);
int fv_dec_result(struct fidl_dec *d, enum fv_err_kind k, bool with_handle,
                  struct fv_result *r);

int fv_enc_create_req(struct fidl_msg *m, uint32_t txid, const struct guest_config *c);
int fv_dec_create_req(struct fidl_dec *d, struct guest_config *c);

int fv_enc_launch_req(struct fidl_msg *m, uint32_t txid, const struct guest_config *c,
                      int controller);
int fv_dec_launch_req(struct fidl_dec *d, struct guest_config *c, int *controller);

/* Listener { port, acceptor } */
int fv_enc_listen_req(struct fidl_msg *m, uint32_t txid, uint32_t port, int acceptor);
int fv_dec_listen_req(struct fidl_dec *d, uint32_t *port, int *acceptor);

int fv_enc_accept_req(struct fidl_msg *m, uint32_t txid, uint32_t src_cid,
                      uint32_t src_port, uint32_t port);
int fv_dec_accept_req(struct fidl_dec *d, uint32_t *src_cid, uint32_t *src_port,
                      uint32_t *port);

int fv_enc_balloon_size_resp(struct fidl_msg *m, uint32_t txid, uint32_t current_num_pages,
                             uint32_t requested_num_pages);
int fv_dec_balloon_size_resp(struct fidl_dec *d, uint32_t *current_num_pages,
                             uint32_t *requested_num_pages);

/* mem_stats is vector<MemStat>:optional: present == false sends none. The
 * decoded *stats is malloc'd (NULL when absent or empty). */
int fv_enc_mem_stats_resp(struct fidl_msg *m, uint32_t txid, int32_t status, bool present,
                          const struct fv_mem_stat *stats, size_t n);
int fv_dec_mem_stats_resp(struct fidl_dec *d, int32_t *status, bool *present,
                          struct fv_mem_stat **stats, size_t *n);

int fv_enc_guest_info_resp(struct fidl_msg *m, uint32_t txid, const struct fv_guest_info *g);
/* g is initialised here. */
int fv_dec_guest_info_resp(struct fidl_dec *d, struct fv_guest_info *g);

#endif
