/* model/routing_model.c - see routing_model.h. */
#include "routing_model.h"

#include <stdio.h>
#include <string.h>

bool mr_is_mutable(enum mr_obj_kind k)
{
	/* A channel carries messages both ways, so it is shared state too. */
	return k == MR_FILE_RW || k == MR_DIR_RW || k == MR_SOCKET || k == MR_CHANNEL;
}

static int new_obj(struct mr_state *s, enum mr_obj_kind k)
{
	for (int o = 0; o < MR_MAX_OBJS; o++)
		if (!s->objs[o].exists) {
			s->objs[o] = (struct mr_obj){ true, k };
			return o;
		}
	return -1;
}

static int new_proc(struct mr_state *s, enum mr_proc_kind k)
{
	for (int p = 0; p < MR_MAX_PROCS; p++)
		if (s->procs[p].kind == MR_NONE) {
			s->procs[p] = (struct mr_proc){ k, true, -1, -1 };
			memset(s->holds[p], 0, sizeof(s->holds[p]));
			return p;
		}
	return -1;
}

/* An object nobody holds any more is gone. */
static void collect(struct mr_state *s)
{
	for (int o = 0; o < MR_MAX_OBJS; o++) {
		if (!s->objs[o].exists)
			continue;
		bool held = false;
		for (int p = 0; p < MR_MAX_PROCS; p++)
			held = held || s->holds[p][o] > 0;
		if (!held)
			s->objs[o].exists = false;
	}
}

void mr_init(struct mr_state *s, bool enforce)
{
	memset(s, 0, sizeof(*s));
	s->enforce = enforce;
	int l = new_proc(s, MR_LAUNCHER_PROC);
	int hv = new_obj(s, MR_HYPERVISOR);
	s->holds[l][hv] = 1;
}

static bool live(const struct mr_state *s, int p)
{
	return p >= 0 && p < MR_MAX_PROCS && s->procs[p].kind != MR_NONE && s->procs[p].alive;
}

static int hypervisor_of(const struct mr_state *s, int p)
{
	for (int o = 0; o < MR_MAX_OBJS; o++)
		if (s->objs[o].exists && s->objs[o].kind == MR_HYPERVISOR && s->holds[p][o])
			return o;
	return -1;
}

/* Channels exist between a client and the launcher (it connects to ask for
 * a vmm) and between a client and each vmm serving it; nowhere else. */
static bool route(const struct mr_state *s, int a, int b)
{
	const struct mr_proc *pa = &s->procs[a], *pb = &s->procs[b];
	if (pa->kind == MR_CLIENT && pb->kind == MR_LAUNCHER_PROC)
		return true;
	if (pb->kind == MR_CLIENT && pa->kind == MR_LAUNCHER_PROC)
		return true;
	if (pa->kind == MR_VMM && pa->client == b)
		return true;
	if (pb->kind == MR_VMM && pb->client == a)
		return true;
	return false;
}

/* Would `to` holding object o break an invariant? */
static enum mr_result admissible(const struct mr_state *s, int to, int o)
{
	enum mr_proc_kind k = s->procs[to].kind;
	if (s->objs[o].kind == MR_HYPERVISOR && k != MR_VMM && k != MR_LAUNCHER_PROC)
		return MR_E_HV_TO_NON_VMM;
	if (mr_is_mutable(s->objs[o].kind) && k == MR_VMM)
		for (int p = 0; p < MR_MAX_PROCS; p++)
			if (p != to && live(s, p) && s->procs[p].kind == MR_VMM && s->holds[p][o])
				return MR_E_SHARED_MUTABLE;
	return MR_OK;
}

static void exit_proc(struct mr_state *s, int p)
{
	s->procs[p].alive = false;
	memset(s->holds[p], 0, sizeof(s->holds[p]));
	s->procs[p].kind = MR_NONE;
	/* A closed lifecycle channel stops its guest: a client's vmms go with it. */
	for (int v = 0; v < MR_MAX_PROCS; v++)
		if (s->procs[v].kind == MR_VMM && s->procs[v].client == p)
			exit_proc(s, v);
}

/* The seed: a guest stops when its GuestLifecycle channel closes. A vmm
 * exits when its end is closed (it dropped its own handle) or when nobody
 * else holds the other end any more. */
static void reap(struct mr_state *s)
{
	for (int v = 0; v < MR_MAX_PROCS; v++) {
		if (s->procs[v].kind != MR_VMM)
			continue;
		int ch = s->procs[v].channel;
		bool peer = false;
		for (int p = 0; p < MR_MAX_PROCS; p++)
			peer = peer || (p != v && s->holds[p][ch] > 0);
		if (!peer || !s->holds[v][ch])
			exit_proc(s, v);
	}
	collect(s);
}

enum mr_result mr_apply(struct mr_state *s, const struct mr_op *op, int *new_id)
{
	int p = op->proc, o = op->obj;
	if (new_id)
		*new_id = -1;
	if (op->kind != MR_OP_NEW_CLIENT && !live(s, p))
		return MR_E_BAD_PROC;
	switch (op->kind) {
	case MR_OP_NEW_CLIENT: {
		int c = new_proc(s, MR_CLIENT);
		if (c < 0)
			return MR_E_FULL;
		if (new_id)
			*new_id = c;
		return MR_OK;
	}
	case MR_OP_SPAWN_VMM: {
		/* A client asks the launcher; the launcher starts a vmm holding
		 * exactly its lifecycle channel and the hypervisor. */
		if (s->procs[p].kind != MR_CLIENT)
			return MR_E_BAD_PROC;
		int hv = hypervisor_of(s, MR_LAUNCHER);
		if (hv < 0)
			return MR_E_NO_HANDLE;
		int v = new_proc(s, MR_VMM);
		if (v < 0)
			return MR_E_FULL;
		int ch = new_obj(s, MR_CHANNEL);
		if (ch < 0) {
			s->procs[v].kind = MR_NONE;
			return MR_E_FULL;
		}
		s->procs[v].client = p;
		s->procs[v].channel = ch;
		s->holds[v][ch] = 1;
		s->holds[p][ch] = 1;
		s->holds[v][hv] = 1;
		if (new_id)
			*new_id = v;
		return MR_OK;
	}
	case MR_OP_CREATE: {
		if (op->obj_kind == MR_HYPERVISOR)
			return MR_E_CREATE_HV;
		int n = new_obj(s, op->obj_kind);
		if (n < 0)
			return MR_E_FULL;
		s->holds[p][n] = 1;
		if (new_id)
			*new_id = n;
		return MR_OK;
	}
	case MR_OP_SEND: {
		int to = op->to;
		if (!live(s, to) || to == p)
			return MR_E_BAD_PROC;
		if (o < 0 || o >= MR_MAX_OBJS || !s->objs[o].exists || !s->holds[p][o])
			return MR_E_NO_HANDLE;
		if (!route(s, p, to))
			return MR_E_NO_ROUTE;
		if (s->enforce) {
			enum mr_result r = admissible(s, to, o);
			if (r != MR_OK)
				return r;
		}
		s->holds[to][o]++;
		if (op->move)
			s->holds[p][o]--;
		reap(s);
		return MR_OK;
	}
	case MR_OP_CLOSE:
		if (o < 0 || o >= MR_MAX_OBJS || !s->objs[o].exists || !s->holds[p][o])
			return MR_E_NO_HANDLE;
		s->holds[p][o]--;
		reap(s);
		return MR_OK;
	case MR_OP_EXIT:
		if (p == MR_LAUNCHER)
			return MR_E_BAD_PROC; /* the launcher outlives its sessions */
		exit_proc(s, p);
		reap(s);
		return MR_OK;
	}
	return MR_E_BAD_PROC;
}

int mr_invariants(const struct mr_state *s, char *why, size_t whylen)
{
	for (int o = 0; o < MR_MAX_OBJS; o++) {
		if (!s->objs[o].exists)
			continue;
		int first_vmm = -1;
		for (int p = 0; p < MR_MAX_PROCS; p++) {
			if (!live(s, p) || !s->holds[p][o])
				continue;
			enum mr_proc_kind k = s->procs[p].kind;
			if (s->objs[o].kind == MR_HYPERVISOR && k != MR_VMM && k != MR_LAUNCHER_PROC) {
				snprintf(why, whylen, "I2: process %d (not a vmm) holds the hypervisor (object %d)",
				         p, o);
				return 2;
			}
			if (mr_is_mutable(s->objs[o].kind) && k == MR_VMM) {
				if (first_vmm >= 0) {
					snprintf(why, whylen,
					         "I1: mutable object %d is reachable from vmm %d and vmm %d", o,
					         first_vmm, p);
					return 1;
				}
				first_vmm = p;
			}
		}
	}
	if (why && whylen)
		why[0] = '\0';
	return 0;
}

const char *mr_result_name(enum mr_result r)
{
	switch (r) {
	case MR_OK: return "OK";
	case MR_E_BAD_PROC: return "BAD_PROC";
	case MR_E_NO_HANDLE: return "NO_HANDLE";
	case MR_E_NO_ROUTE: return "NO_ROUTE";
	case MR_E_FULL: return "FULL";
	case MR_E_HV_TO_NON_VMM: return "HV_TO_NON_VMM";
	case MR_E_SHARED_MUTABLE: return "SHARED_MUTABLE";
	case MR_E_CREATE_HV: return "CREATE_HV";
	}
	return "?";
}
