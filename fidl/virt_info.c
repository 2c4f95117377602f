/* fidl/virt_info.c - fuchsia.virtualization/GuestInfo and GuestDescriptor
 * (guest_manager.fidl) <-> struct fv_guest_info, and GetInfo's response
 * body struct { guest_info GuestInfo }. See virtualization.h. */
#include "virtualization.h"

#include <stdlib.h>
#include <string.h>

#include "net_spec.h"
#include "table.h"

#define DESC_FIELDS 12
#define INFO_FIELDS 5

void fv_guest_info_init(struct fv_guest_info *g)
{
	memset(g, 0, sizeof(*g));
}

void fv_guest_info_free(struct fv_guest_info *g)
{
	free(g->guest_descriptor.networks);
	for (size_t i = 0; g->detected_problems && i < g->n_detected_problems; i++)
		free(g->detected_problems[i]);
	free(g->detected_problems);
	fv_guest_info_init(g);
}

/* -- GuestDescriptor: 1 num_cpus, 2 guest_memory, 11 networks; the others
 * are the bool device fields. */

static const uint32_t desc_size[DESC_FIELDS + 1] = {
	[1] = 1, [2] = 8, [3] = 1, [4] = 1, [5] = 1, [6] = 1, [7] = 1, [8] = 1, [9] = 1, [10] = 1,
	[11] = 16, [12] = 1,
};

static bool desc_present(const void *obj, uint32_t ord)
{
	const struct fv_guest_descriptor *s = obj;
	switch (ord) {
	case 1: return s->has_num_cpus;
	case 2: return s->has_guest_memory;
	case 11: return s->has_networks;
	default: return s->has_device[ord];
	}
}

static void desc_enc_field(struct fidl_enc *e, uint32_t p, uint32_t ord, const void *obj)
{
	const struct fv_guest_descriptor *s = obj;
	switch (ord) {
	case 1: fidl_enc_u8(e, p, s->num_cpus); break;
	case 2: fidl_enc_u64(e, p, s->guest_memory); break;
	case 11: fv_enc_net_specs(e, p, s->networks, s->n_networks); break;
	default: fidl_enc_bool(e, p, s->device[ord]);
	}
}

static void desc_dec_field(struct fidl_dec *d, uint32_t p, uint32_t ord, void *obj)
{
	struct fv_guest_descriptor *s = obj;
	switch (ord) {
	case 1:
		s->num_cpus = fidl_dec_u8(d, p);
		s->has_num_cpus = true;
		break;
	case 2:
		s->guest_memory = fidl_dec_u64(d, p);
		s->has_guest_memory = true;
		break;
	case 11:
		fv_dec_net_specs(d, p, GC_MAX_NET_DEVICES, &s->networks, &s->n_networks);
		s->has_networks = true;
		break;
	default:
		s->device[ord] = fidl_dec_bool(d, p);
		s->has_device[ord] = true;
	}
}

static const struct fidl_table_type descriptor_table = {
	.max_ordinal = DESC_FIELDS,
	.field_size = desc_size,
	.present = desc_present,
	.enc_field = desc_enc_field,
	.dec_field = desc_dec_field,
};

/* -- GuestInfo -- */

static const uint32_t info_size[INFO_FIELDS + 1] = { 0, 4, 8, 16, 4, 16 };

static bool info_present(const void *obj, uint32_t ord)
{
	const struct fv_guest_info *g = obj;
	switch (ord) {
	case 1: return g->has_guest_status;
	case 2: return g->has_uptime;
	case 3: return g->has_guest_descriptor;
	case 4: return g->has_stop_error;
	default: return g->has_detected_problems;
	}
}

static void info_enc_field(struct fidl_enc *e, uint32_t p, uint32_t ord, const void *obj)
{
	const struct fv_guest_info *g = obj;
	uint32_t b;
	switch (ord) {
	case 1: fidl_enc_u32(e, p, (uint32_t)g->guest_status); break;
	case 2: fidl_enc_i64(e, p, g->uptime); break;
	case 3: fidl_enc_table(e, p, &descriptor_table, &g->guest_descriptor); break;
	case 4: fidl_enc_u32(e, p, (uint32_t)g->stop_error); break;
	case 5:
		b = fidl_enc_vector_begin(e, p, (uint32_t)g->n_detected_problems, 16);
		for (size_t i = 0; i < g->n_detected_problems; i++)
			fidl_enc_string(e, b + 16 * (uint32_t)i, g->detected_problems[i]);
		fidl_enc_vector_end(e);
		break;
	}
}

static void info_dec_field(struct fidl_dec *d, uint32_t p, uint32_t ord, void *obj)
{
	struct fv_guest_info *g = obj;
	uint32_t b, cnt, x;
	switch (ord) {
	case 1:
		x = fidl_dec_u32(d, p);
		if (x < FV_GUEST_NOT_STARTED || x > FV_GUEST_VMM_UNEXPECTED_TERMINATION)
			fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "bad GuestStatus");
		g->guest_status = (enum fv_guest_status)x;
		g->has_guest_status = true;
		break;
	case 2:
		g->uptime = fidl_dec_i64(d, p);
		g->has_uptime = true;
		break;
	case 3:
		fidl_dec_table(d, p, &descriptor_table, &g->guest_descriptor);
		g->has_guest_descriptor = true;
		break;
	case 4:
		x = fidl_dec_u32(d, p);
		if (x < 1 || x > GUEST_ERR_MAX)
			fidl_dec_fail(d, ZX_ERR_INVALID_ARGS, "bad GuestError");
		g->stop_error = (enum guest_error)x;
		g->has_stop_error = true;
		break;
	case 5:
		b = fidl_dec_vector_begin(d, p, 16, FV_MAX_DETECTED_PROBLEMS, false, &cnt, NULL);
		if (cnt && d->status == ZX_OK) {
			g->detected_problems = calloc(cnt, sizeof(char *));
			if (!g->detected_problems)
				fidl_dec_fail(d, ZX_ERR_NO_MEMORY, "out of memory");
			else
				g->n_detected_problems = cnt;
		}
		for (uint32_t i = 0; i < cnt && d->status == ZX_OK; i++)
			g->detected_problems[i] =
			        fidl_dec_string(d, b + 16 * i, FIDL_UNBOUNDED, false, NULL);
		fidl_dec_vector_end(d);
		g->has_detected_problems = true;
		break;
	}
}

static const struct fidl_table_type info_table = {
	.max_ordinal = INFO_FIELDS,
	.field_size = info_size,
	.present = info_present,
	.enc_field = info_enc_field,
	.dec_field = info_dec_field,
};

int fv_enc_guest_info_resp(struct fidl_msg *m, uint32_t txid, const struct fv_guest_info *g)
{
	struct fidl_enc e;
	fidl_enc_init(&e, m, txid, FV_ORD_MANAGER_GET_INFO, 0);
	uint32_t off = fidl_enc_alloc(&e, 16);
	if (g->has_detected_problems && g->n_detected_problems > FV_MAX_DETECTED_PROBLEMS)
		fidl_enc_fail(&e, ZX_ERR_OUT_OF_RANGE, "more than 8 detected problems");
	fidl_enc_table(&e, off, &info_table, g);
	return fidl_enc_finish(&e);
}

int fv_dec_guest_info_resp(struct fidl_dec *d, struct fv_guest_info *g)
{
	fv_guest_info_init(g);
	uint32_t off = fidl_dec_primary(d, 16);
	fidl_dec_table(d, off, &info_table, g);
	if (fidl_dec_finish(d) != ZX_OK)
		fv_guest_info_free(g);
	return d->status;
}
