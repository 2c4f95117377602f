/* fidl/virt_info.c - fuchsia.virtualization/GuestInfo and GuestDescriptor
 * (guest_manager.fidl) <-> struct fv_guest_info, and GetInfo's response
 * body struct { guest_info GuestInfo }. See virtualization.h. */
#include "virtualization.h"

#include <stdlib.h>
#include <string.h>

#define NET_SPEC_SIZE 7
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

static bool desc_present(const struct fv_guest_descriptor *s, uint32_t ord)
{
	switch (ord) {
	case 1: return s->has_num_cpus;
	case 2: return s->has_guest_memory;
	case 11: return s->has_networks;
	default: return s->has_device[ord];
	}
}

static void enc_descriptor(struct fidl_enc *e, uint32_t off, const struct fv_guest_descriptor *s)
{
	uint32_t max = 0;
	for (uint32_t ord = 1; ord <= DESC_FIELDS; ord++)
		if (desc_present(s, ord))
			max = ord;
	uint32_t envs = fidl_enc_table_begin(e, off, max);
	for (uint32_t ord = 1; ord <= max; ord++) {
		if (!desc_present(s, ord))
			continue;
		struct fidl_enc_env v;
		uint32_t p, b;
		switch (ord) {
		case 1:
			p = fidl_enc_field_begin(e, &v, envs, ord, 1);
			fidl_enc_u8(e, p, s->num_cpus);
			break;
		case 2:
			p = fidl_enc_field_begin(e, &v, envs, ord, 8);
			fidl_enc_u64(e, p, s->guest_memory);
			break;
		case 11:
			p = fidl_enc_field_begin(e, &v, envs, ord, 16);
			b = fidl_enc_vector_begin(e, p, (uint32_t)s->n_networks, NET_SPEC_SIZE);
			for (size_t i = 0; i < s->n_networks; i++) {
				fidl_enc_bytes(e, b + NET_SPEC_SIZE * (uint32_t)i, s->networks[i].mac, 6);
				fidl_enc_bool(e, b + NET_SPEC_SIZE * (uint32_t)i + 6,
				              s->networks[i].enable_bridge);
			}
			fidl_enc_vector_end(e);
			break;
		default:
			p = fidl_enc_field_begin(e, &v, envs, ord, 1);
			fidl_enc_bool(e, p, s->device[ord]);
		}
		fidl_enc_env_end(e, &v);
	}
	fidl_enc_table_end(e);
}

static void dec_descriptor(struct fidl_dec *d, uint32_t off, struct fv_guest_descriptor *s)
{
	uint32_t n;
	uint32_t envs = fidl_dec_table_begin(d, off, &n);
	for (uint32_t ord = 1; ord <= n && d->status == ZX_OK; ord++) {
		if (ord > DESC_FIELDS) {
			fidl_dec_env_skip(d, envs + 8 * (ord - 1));
			continue;
		}
		uint32_t size = ord == 2 ? 8 : ord == 11 ? 16 : 1;
		struct fidl_dec_env v;
		if (!fidl_dec_field_begin(d, &v, envs, ord, size))
			continue;
		uint32_t p = v.content, b, cnt;
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
			b = fidl_dec_vector_begin(d, p, NET_SPEC_SIZE, GC_MAX_NET_DEVICES, false,
			                          &cnt, NULL);
			if (cnt && d->status == ZX_OK) {
				s->networks = calloc(cnt, sizeof(*s->networks));
				if (!s->networks)
					fidl_dec_fail(d, ZX_ERR_NO_MEMORY, "out of memory");
				else
					s->n_networks = cnt;
			}
			for (uint32_t i = 0; i < cnt && d->status == ZX_OK; i++) {
				fidl_dec_bytes(d, b + NET_SPEC_SIZE * i, s->networks[i].mac, 6);
				s->networks[i].enable_bridge = fidl_dec_bool(d, b + NET_SPEC_SIZE * i + 6);
			}
			fidl_dec_vector_end(d);
			s->has_networks = true;
			break;
		default:
			s->device[ord] = fidl_dec_bool(d, p);
			s->has_device[ord] = true;
		}
		fidl_dec_env_end(d, &v);
	}
	fidl_dec_table_end(d);
}

static bool info_present(const struct fv_guest_info *g, uint32_t ord)
{
	switch (ord) {
	case 1: return g->has_guest_status;
	case 2: return g->has_uptime;
	case 3: return g->has_guest_descriptor;
	case 4: return g->has_stop_error;
	default: return g->has_detected_problems;
	}
}

static const uint32_t info_size[INFO_FIELDS + 1] = { 0, 4, 8, 16, 4, 16 };

int fv_enc_guest_info_resp(struct fidl_msg *m, uint32_t txid, const struct fv_guest_info *g)
{
	struct fidl_enc e;
	fidl_enc_init(&e, m, txid, FV_ORD_MANAGER_GET_INFO, 0);
	uint32_t off = fidl_enc_alloc(&e, 16);
	uint32_t max = 0;
	for (uint32_t ord = 1; ord <= INFO_FIELDS; ord++)
		if (info_present(g, ord))
			max = ord;
	if (g->has_detected_problems && g->n_detected_problems > FV_MAX_DETECTED_PROBLEMS)
		fidl_enc_fail(&e, ZX_ERR_OUT_OF_RANGE, "more than 8 detected problems");
	uint32_t envs = fidl_enc_table_begin(&e, off, max);
	for (uint32_t ord = 1; ord <= max; ord++) {
		if (!info_present(g, ord))
			continue;
		struct fidl_enc_env v;
		uint32_t p = fidl_enc_field_begin(&e, &v, envs, ord, info_size[ord]), b;
		switch (ord) {
		case 1: fidl_enc_u32(&e, p, (uint32_t)g->guest_status); break;
		case 2: fidl_enc_i64(&e, p, g->uptime); break;
		case 3: enc_descriptor(&e, p, &g->guest_descriptor); break;
		case 4: fidl_enc_u32(&e, p, (uint32_t)g->stop_error); break;
		case 5:
			b = fidl_enc_vector_begin(&e, p, (uint32_t)g->n_detected_problems, 16);
			for (size_t i = 0; i < g->n_detected_problems; i++)
				fidl_enc_string(&e, b + 16 * (uint32_t)i, g->detected_problems[i]);
			fidl_enc_vector_end(&e);
			break;
		}
		fidl_enc_env_end(&e, &v);
	}
	fidl_enc_table_end(&e);
	return fidl_enc_finish(&e);
}

int fv_dec_guest_info_resp(struct fidl_dec *d, struct fv_guest_info *g)
{
	fv_guest_info_init(g);
	uint32_t off = fidl_dec_primary(d, 16);
	uint32_t n;
	uint32_t envs = fidl_dec_table_begin(d, off, &n);
	for (uint32_t ord = 1; ord <= n && d->status == ZX_OK; ord++) {
		if (ord > INFO_FIELDS) {
			fidl_dec_env_skip(d, envs + 8 * (ord - 1));
			continue;
		}
		struct fidl_dec_env v;
		if (!fidl_dec_field_begin(d, &v, envs, ord, info_size[ord]))
			continue;
		uint32_t p = v.content, b, cnt, x;
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
			dec_descriptor(d, p, &g->guest_descriptor);
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
		fidl_dec_env_end(d, &v);
	}
	fidl_dec_table_end(d);
	if (fidl_dec_finish(d) != ZX_OK)
		fv_guest_info_free(g);
	return d->status;
}
