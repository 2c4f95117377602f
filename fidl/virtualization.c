/* fidl/virtualization.c - request and response bodies of the
 * fuchsia.virtualization methods (see virtualization.h). The GuestConfig
 * table lives in virt_config.c, GuestInfo in virt_info.c. */
#include "virtualization.h"

#include <assert.h>
#include <stdlib.h>
#include <unistd.h>

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* fidl_dec_finish for a body that took the handle *fd: a body that fails
 * leaves no fd open (virtualization.h). Returns the decoder's status. */
static int finish_or_close(struct fidl_dec *d, int *fd)
{
	if (fidl_dec_finish(d) != ZX_OK)
		close_fd(fd);
	return d->status;
}

int fv_enc_empty(struct fidl_msg *m, uint32_t txid, uint64_t ordinal)
{
	struct fidl_enc e;
	fidl_enc_init(&e, m, txid, ordinal, 0);
	return fidl_enc_finish(&e);
}

int fv_dec_empty(struct fidl_dec *d)
{
	fidl_dec_primary(d, 0);
	return fidl_dec_finish(d);
}

int fv_enc_handle_body(struct fidl_msg *m, uint32_t txid, uint64_t ordinal, int fd)
{
	struct fidl_enc e;
	fidl_enc_init(&e, m, txid, ordinal, 0);
	uint32_t b = fidl_enc_alloc(&e, 4);
	fidl_enc_required_handle(&e, b, fd);
	return fidl_enc_finish(&e);
}

int fv_dec_handle_body(struct fidl_dec *d, int *fd)
{
	uint32_t b = fidl_dec_primary(d, 4);
	*fd = fidl_dec_handle(d, b, false);
	return finish_or_close(d, fd);
}

int fv_enc_u32_body(struct fidl_msg *m, uint32_t txid, uint64_t ordinal, uint32_t v)
{
	struct fidl_enc e;
	fidl_enc_init(&e, m, txid, ordinal, 0);
	uint32_t b = fidl_enc_alloc(&e, 4);
	fidl_enc_u32(&e, b, v);
	return fidl_enc_finish(&e);
}

int fv_dec_u32_body(struct fidl_dec *d, uint32_t *v)
{
	uint32_t b = fidl_dec_primary(d, 4);
	*v = fidl_dec_u32(d, b);
	return fidl_dec_finish(d);
}

static bool err_valid(enum fv_err_kind k, int32_t err)
{
	switch (k) {
	case FV_ERR_GUEST_ERROR: return err >= 1 && err <= GUEST_ERR_MAX;
	case FV_ERR_MANAGER_ERROR: return err >= FV_MANAGER_BAD_CONFIG && err <= FV_MANAGER_NO_STORAGE;
	case FV_ERR_ZX_STATUS: return err != ZX_OK;
	}
	return false;
}

int fv_enc_result(struct fidl_msg *m, uint32_t txid, uint64_t ordinal,
                  enum fv_err_kind k, bool with_handle, const struct fv_result *r)
{
	struct fidl_enc e;
	/* framework_err exists only in flexible methods' results, and says so
	 * in the header. */
	bool framework = r->which == FIDL_RESULT_FRAMEWORK_ERR;
	fidl_enc_init(&e, m, txid, ordinal, framework ? FIDL_DYN_FLEXIBLE : 0);
	uint32_t b = fidl_enc_alloc(&e, 16);
	struct fidl_enc_env v;
	uint32_t p;
	switch (r->which) {
	case FIDL_RESULT_RESPONSE:
		/* struct {} is one zero byte; struct { handle } is 4 bytes:
		 * both travel inline in the envelope. */
		p = fidl_enc_union_begin(&e, &v, b, FIDL_RESULT_RESPONSE, with_handle ? 4 : 1);
		if (with_handle)
			fidl_enc_required_handle(&e, p, r->fd);
		break;
	case FIDL_RESULT_ERR:
	case FIDL_RESULT_FRAMEWORK_ERR:
		if (r->which == FIDL_RESULT_ERR && !err_valid(k, r->err))
			fidl_enc_fail(&e, ZX_ERR_INVALID_ARGS, "not a value of the error type");
		p = fidl_enc_union_begin(&e, &v, b, r->which, 4);
		fidl_enc_i32(&e, p, r->err);
		break;
	default:
		fidl_enc_fail(&e, ZX_ERR_INVALID_ARGS, "bad result variant");
		return fidl_enc_finish(&e);
	}
	fidl_enc_env_end(&e, &v);
	return fidl_enc_finish(&e);
}

int fv_dec_result(struct fidl_dec *d, enum fv_err_kind k, bool with_handle,
                  struct fv_result *r)
{
	r->which = 0;
	r->err = 0;
	r->fd = -1;
	uint32_t b = fidl_dec_primary(d, 16);
	uint64_t which = fidl_dec_union_tag(d, b, false);
	struct fidl_dec_env v;
	switch (which) {
	case 0:
		/* A required union's tag is 0 only once d has failed. */
		assert(d->status != ZX_OK);
		break;
	case FIDL_RESULT_RESPONSE:
		if (!fidl_dec_union_begin(d, &v, b, with_handle ? 4 : 1))
			break;
		if (with_handle)
			r->fd = fidl_dec_handle(d, v.content, false);
		else
			fidl_dec_padding(d, v.content, 1); /* struct {} is a zero byte */
		fidl_dec_env_end(d, &v);
		break;
	case FIDL_RESULT_FRAMEWORK_ERR:
		if (!(d->hdr.dynamic_flags & FIDL_DYN_FLEXIBLE)) {
			fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "framework_err in a strict method");
			break;
		}
		/* fall through */
	case FIDL_RESULT_ERR:
		if (!fidl_dec_union_begin(d, &v, b, 4))
			break;
		r->err = fidl_dec_i32(d, v.content);
		if (which == FIDL_RESULT_ERR && !err_valid(k, r->err))
			fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "not a value of the error type");
		fidl_dec_env_end(d, &v);
		break;
	default:
		fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "unknown variant of a strict union");
	}
	r->which = (uint32_t)which;
	if (finish_or_close(d, &r->fd) != ZX_OK) {
		r->which = 0;
		r->err = 0;
	}
	return d->status;
}

int fv_enc_create_req(struct fidl_msg *m, uint32_t txid, const struct guest_config *c)
{
	struct fidl_enc e;
	fidl_enc_init(&e, m, txid, FV_ORD_LIFECYCLE_CREATE, 0);
	uint32_t b = fidl_enc_alloc(&e, 16);
	fv_enc_guest_config(&e, b, c);
	return fidl_enc_finish(&e);
}

int fv_dec_create_req(struct fidl_dec *d, struct guest_config *c)
{
	gc_init(c);
	uint32_t b = fidl_dec_primary(d, 16);
	fv_dec_guest_config(d, b, c);
	if (fidl_dec_finish(d) != ZX_OK)
		gc_free(c);
	return d->status;
}

int fv_enc_launch_req(struct fidl_msg *m, uint32_t txid, const struct guest_config *c,
                      int controller)
{
	struct fidl_enc e;
	fidl_enc_init(&e, m, txid, FV_ORD_MANAGER_LAUNCH, 0);
	uint32_t b = fidl_enc_alloc(&e, 24);
	fv_enc_guest_config(&e, b, c);
	/* The table's handles come first: traversal order is field order,
	 * and the table's out-of-line part is visited with the table. */
	fidl_enc_required_handle(&e, b + 16, controller);
	return fidl_enc_finish(&e);
}

int fv_dec_launch_req(struct fidl_dec *d, struct guest_config *c, int *controller)
{
	gc_init(c);
	uint32_t b = fidl_dec_primary(d, 24);
	fv_dec_guest_config(d, b, c);
	*controller = fidl_dec_handle(d, b + 16, false);
	fidl_dec_padding(d, b + 20, 4);
	if (finish_or_close(d, controller) != ZX_OK)
		gc_free(c);
	return d->status;
}

int fv_enc_listen_req(struct fidl_msg *m, uint32_t txid, uint32_t port, int acceptor)
{
	struct fidl_enc e;
	fidl_enc_init(&e, m, txid, FV_ORD_VSOCK_LISTEN, 0);
	uint32_t b = fidl_enc_alloc(&e, 8);
	fidl_enc_u32(&e, b, port);
	fidl_enc_required_handle(&e, b + 4, acceptor);
	return fidl_enc_finish(&e);
}

int fv_dec_listen_req(struct fidl_dec *d, uint32_t *port, int *acceptor)
{
	uint32_t b = fidl_dec_primary(d, 8);
	*port = fidl_dec_u32(d, b);
	*acceptor = fidl_dec_handle(d, b + 4, false);
	return finish_or_close(d, acceptor);
}

int fv_enc_accept_req(struct fidl_msg *m, uint32_t txid, uint32_t src_cid,
                      uint32_t src_port, uint32_t port)
{
	struct fidl_enc e;
	fidl_enc_init(&e, m, txid, FV_ORD_ACCEPTOR_ACCEPT, 0);
	uint32_t b = fidl_enc_alloc(&e, 12);
	fidl_enc_u32(&e, b, src_cid);
	fidl_enc_u32(&e, b + 4, src_port);
	fidl_enc_u32(&e, b + 8, port);
	return fidl_enc_finish(&e);
}

int fv_dec_accept_req(struct fidl_dec *d, uint32_t *src_cid, uint32_t *src_port,
                      uint32_t *port)
{
	uint32_t b = fidl_dec_primary(d, 12);
	*src_cid = fidl_dec_u32(d, b);
	*src_port = fidl_dec_u32(d, b + 4);
	*port = fidl_dec_u32(d, b + 8);
	return fidl_dec_finish(d);
}

int fv_enc_balloon_size_resp(struct fidl_msg *m, uint32_t txid, uint32_t current_num_pages,
                             uint32_t requested_num_pages)
{
	struct fidl_enc e;
	fidl_enc_init(&e, m, txid, FV_ORD_BALLOON_GET_BALLOON_SIZE, 0);
	uint32_t b = fidl_enc_alloc(&e, 8);
	fidl_enc_u32(&e, b, current_num_pages);
	fidl_enc_u32(&e, b + 4, requested_num_pages);
	return fidl_enc_finish(&e);
}

int fv_dec_balloon_size_resp(struct fidl_dec *d, uint32_t *current_num_pages,
                             uint32_t *requested_num_pages)
{
	uint32_t b = fidl_dec_primary(d, 8);
	*current_num_pages = fidl_dec_u32(d, b);
	*requested_num_pages = fidl_dec_u32(d, b + 4);
	return fidl_dec_finish(d);
}

/* MemStat { tag uint16; val uint64 }: 16 bytes, 6 of them padding. */
#define MEM_STAT_SIZE 16

int fv_enc_mem_stats_resp(struct fidl_msg *m, uint32_t txid, int32_t status, bool present,
                          const struct fv_mem_stat *stats, size_t n)
{
	struct fidl_enc e;
	fidl_enc_init(&e, m, txid, FV_ORD_BALLOON_GET_MEM_STATS, 0);
	uint32_t b = fidl_enc_alloc(&e, 24);
	fidl_enc_i32(&e, b, status);
	if (present) {
		uint32_t v = fidl_enc_vector_begin(&e, b + 8, (uint32_t)n, MEM_STAT_SIZE);
		for (size_t i = 0; i < n; i++) {
			fidl_enc_u16(&e, v + MEM_STAT_SIZE * (uint32_t)i, stats[i].tag);
			fidl_enc_u64(&e, v + MEM_STAT_SIZE * (uint32_t)i + 8, stats[i].val);
		}
		fidl_enc_vector_end(&e);
	}
	return fidl_enc_finish(&e);
}

int fv_dec_mem_stats_resp(struct fidl_dec *d, int32_t *status, bool *present,
                          struct fv_mem_stat **stats, size_t *n)
{
	uint32_t count;
	*stats = NULL;
	*n = 0;
	uint32_t b = fidl_dec_primary(d, 24);
	*status = fidl_dec_i32(d, b);
	fidl_dec_padding(d, b + 4, 4);
	uint32_t v = fidl_dec_vector_begin(d, b + 8, MEM_STAT_SIZE, FIDL_UNBOUNDED, true,
	                                   &count, present);
	if (count && d->status == ZX_OK) {
		*stats = calloc(count, sizeof(**stats));
		if (!*stats)
			fidl_dec_fail(d, ZX_ERR_NO_MEMORY, "out of memory");
	}
	for (uint32_t i = 0; i < count && d->status == ZX_OK; i++) {
		uint32_t o = v + MEM_STAT_SIZE * i;
		(*stats)[i].tag = fidl_dec_u16(d, o);
		fidl_dec_padding(d, o + 2, 6);
		(*stats)[i].val = fidl_dec_u64(d, o + 8);
	}
	if (*present)
		fidl_dec_vector_end(d);
	if (fidl_dec_finish(d) != ZX_OK) {
		free(*stats);
		*stats = NULL;
		*present = false;
		return d->status;
	}
	*n = count;
	return ZX_OK;
}
