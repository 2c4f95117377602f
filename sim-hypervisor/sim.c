/* sim-hypervisor/sim.c - hv_sim_ops: replay a script with no CPU; see sim.h.
 *
 * One lock and one condition variable per guest order everything: the
 * cursor `next` into the script, the exit in flight, and the divergence.
 * Every state change broadcasts; each blocked vcpu_enter re-checks whether
 * the next event is now its own.
 */
#include "sim.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/byteorder.h"
#include "base/event_names.h"
#include "base/sha256.h"

#define SIM_MAX_REGIONS 16
#define SIM_MAX_TRAPS 256
#define REPORT_MAX SIM_REPORT_MAX
#define CONTEXT_EVENTS 3

struct sim_region {
	uint64_t gpa, len;
	uint8_t *hva;
};

#define NO_READ SIZE_MAX
/* hv_guest.inflight: no event in flight, or a host input being injected. */
#define IDLE (-1)
#define INJECTING (-2)

struct hv_vcpu {
	struct hv_guest *g;
	unsigned id;
	bool kicked;         /* the current or next enter returns KICK */
	bool gone;           /* returned halt/shutdown/failure/end: won't take exits */
	bool awaiting_read;  /* a read exit was handed out and not yet answered */
	size_t read_ev;
	bool has_regs;
	struct hv_regs regs;
};

struct hv_guest {
	struct sim_config *cfg;
	const struct script *s;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t next;     /* first unconsumed event */
	size_t out_off;  /* bytes of ev[next] (an out line) already matched */
	int inflight;    /* vCPU whose exit is being handled, or -1 */
	size_t inflight_ev;
	size_t rd, rd_end; /* next memr record of the exit in flight (NO_READ: none) */
	struct sha256_ctx digest;
	char *divergence;
	unsigned nregions;
	/* Traps are only counted: the script says which exits happen, and the
	 * limit matches KVM's so a vmm that fits one backend fits the other. */
	unsigned ntraps;
	struct sim_region regions[SIM_MAX_REGIONS];
	struct hv_vcpu *vcpus[HV_MAX_VCPUS];
	unsigned created_vcpus; /* count of vcpu_create calls that succeeded */
	unsigned long long reread; /* reads answered from the record, not memory */
};

void sim_config_init(struct sim_config *c, const struct script *s)
{
	memset(c, 0, sizeof(*c));
	c->script = s;
	c->fail_vcpu_create_at = -1;
}

static size_t nevents(const struct hv_guest *g)
{
	return g->s ? g->s->n : 0;
}

static const struct script_event *ev_at(const struct hv_guest *g, size_t i)
{
	return i < nevents(g) ? &g->s->ev[i] : NULL;
}

/* ---- divergence ---- */

static void append(char *buf, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t *used, const char *fmt, ...)
{
	if (*used >= REPORT_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *used, REPORT_MAX - *used, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used = *used + (size_t)n < REPORT_MAX ? *used + (size_t)n : REPORT_MAX;
}

static void describe(const struct hv_guest *g, size_t i, char *buf, size_t len)
{
	const struct script_event *e = ev_at(g, i);
	if (!e) {
		snprintf(buf, len, "(end of script)");
		return;
	}
	if (script_format_event(e, buf, len) < 0)
		snprintf(buf, len, "(unwritable event)");
	if (e->type == SCRIPT_OUT && g->out_off && i == g->next) {
		size_t l = strlen(buf);
		snprintf(buf + l, len - l, " (first %zu bytes matched)", g->out_off);
	}
}

/* The exit record `at` belongs to: its trace seq (traces), or the script
 * line (text), or index + 1. */
static unsigned exit_number(const struct hv_guest *g, size_t at)
{
	size_t i = at < nevents(g) ? at : nevents(g);
	while (i > 0 && (i >= nevents(g) || (g->s->ev[i].type != SCRIPT_EXIT &&
	                                     g->s->ev[i].type != SCRIPT_HOST)))
		i--;
	const struct script_event *e = ev_at(g, i);
	if (!e || (e->type != SCRIPT_EXIT && e->type != SCRIPT_HOST))
		return 0;
	return e->line ? e->line : (unsigned)(i + 1);
}

/* Record the first divergence, at event index `at` (may be n: the end).
 * Caller holds the lock. Later mismatches are consequences of the first and
 * are not reported. */
static void diverge(struct hv_guest *g, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void diverge(struct hv_guest *g, size_t at, const char *fmt, ...)
{
	if (g->divergence)
		return;
	char *r = malloc(REPORT_MAX);
	if (!r)
		return;
	size_t used = 0;
	char line[160], what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	const struct script_event *e = ev_at(g, at);
	unsigned ex = exit_number(g, at);
	if (g->s && g->s->from_trace)
		append(r, &used, "sim: diverged at event %u (trace record %zu)", ex, at + 1);
	else
		append(r, &used, "sim: diverged at event %zu", at + 1);
	if (e && e->line && !(g->s && g->s->from_trace))
		append(r, &used, " (script line %u)", e->line);
	append(r, &used, ": %s\n", what);
	if (g->inflight >= 0) {
		const struct script_event *x = ev_at(g, g->inflight_ev);
		append(r, &used, "  while handling: vcpu %d %s at 0x%" PRIx64 " (event %zu)\n",
		       g->inflight, x ? hv_exit_kind_name(x->exit.kind) : "?",
		       x ? x->exit.addr : 0,
		       x && g->s->from_trace ? (size_t)x->line : g->inflight_ev + 1);
		if (x && g->cfg && g->cfg->describe_addr) {
			char dev[128];
			g->cfg->describe_addr(x->exit.kind, x->exit.addr, dev, sizeof(dev));
			append(r, &used, "  device: %s\n", dev);
		}
	} else if (g->inflight == INJECTING) {
		const struct script_event *x = ev_at(g, g->inflight_ev);
		append(r, &used, "  while handling: host input for %s (event %u)\n",
		       x ? x->device : "?", exit_number(g, g->inflight_ev));
	}
	describe(g, at, line, sizeof(line));
	append(r, &used, "  expected: %s\n", line);
	size_t from = at > CONTEXT_EVENTS ? at - CONTEXT_EVENTS : 0;
	if (from < at)
		append(r, &used, "  before it:\n");
	for (size_t i = from; i < at && i < nevents(g); i++) {
		describe(g, i, line, sizeof(line));
		append(r, &used, "    %zu: %s\n", i + 1, line);
	}
	g->divergence = r;
	if (g->cfg) {
		snprintf(g->cfg->divergence, sizeof(g->cfg->divergence), "%s", r);
		g->cfg->div_index = at;
		g->cfg->div_exit = ex;
	}
	pthread_cond_broadcast(&g->cond);
}

/* ---- the cursor ---- */

/* Records the main cursor passes over: memory reads (they have their own
 * cursor, rd); output and memory writes when no checker sink exists; inputs
 * when no source consumes them. */
static bool skippable(const struct hv_guest *g, const struct script_event *e)
{
	switch (e->type) {
	case SCRIPT_MEMR:
		return true;
	case SCRIPT_IN:
		return !g->cfg->feed_inputs;
	case SCRIPT_OUT:
	case SCRIPT_MEMW:
		return !g->cfg->check_outputs;
	default:
		return false;
	}
}

static void skip_unchecked(struct hv_guest *g)
{
	while (g->next < nevents(g) && skippable(g, &g->s->ev[g->next])) {
		g->next++;
		g->out_off = 0;
	}
}

static void advance(struct hv_guest *g)
{
	g->next++;
	g->out_off = 0;
	pthread_cond_broadcast(&g->cond);
}

static const char *type_name(enum script_event_type t)
{
	switch (t) {
	case SCRIPT_IRQ: return "irq";
	case SCRIPT_OUT: return "output";
	case SCRIPT_MEMW: return "memory write";
	case SCRIPT_IN: return "host input";
	case SCRIPT_MEMR: return "memory read";
	case SCRIPT_HOST: return "host input between exits";
	default: return "exit";
	}
}

/* The next memr record after index i within the exit in flight. */
static size_t next_read(const struct hv_guest *g, size_t i)
{
	for (i++; i < g->rd_end; i++)
		if (g->s->ev[i].type == SCRIPT_MEMR)
			return i;
	return NO_READ;
}

static uint8_t *host_ptr(const struct hv_guest *g, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < g->nregions; i++) {
		const struct sim_region *r = &g->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->len && len <= r->len - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

/* Before exit `at` is handed out: put what its devices read into guest
 * memory. Latest record first, so each byte ends up as its first read saw
 * it (a later read of a byte the device wrote meanwhile is rewritten by the
 * device before it is read again). */
static void feed_memory(struct hv_guest *g, size_t at)
{
	size_t end = at + 1;
	while (end < nevents(g) && g->s->ev[end].type != SCRIPT_EXIT &&
	       g->s->ev[end].type != SCRIPT_HOST)
		end++;
	g->rd_end = end;
	g->rd = NO_READ;
	for (size_t i = end; i-- > at + 1;) {
		const struct script_event *e = &g->s->ev[i];
		if (e->type != SCRIPT_MEMR)
			continue;
		g->rd = i;
		uint8_t *p = e->data ? host_ptr(g, e->gpa, e->len) : NULL;
		if (!p) {
			diverge(g, i, "the recording's memory read of %zu bytes at 0x%" PRIx64
			        " lies outside guest RAM (guest memory size differs?)", e->len, e->gpa);
			return;
		}
		memcpy(p, e->data, e->len);
	}
}

static void digest_u64(struct hv_guest *g, char tag, uint64_t v)
{
	uint8_t b[9] = { (uint8_t)tag };
	le64_put(b + 1, v);
	sha256_update(&g->digest, b, sizeof(b));
}

/* "at byte 3: expected 01 02 03 04, got 01 02 03 05" for two byte ranges. */
static void bytes_diff(char *buf, size_t len, const uint8_t *want, size_t wl,
                       const uint8_t *got, size_t gl)
{
	size_t i = 0;
	while (i < wl && i < gl && want[i] == got[i])
		i++;
	size_t from = i > 4 ? i - 4 : 0, used = 0;
	int n = snprintf(buf, len, "first difference at byte %zu: expected", i);
	used = n > 0 ? (size_t)n : 0;
	for (size_t k = from; k < wl && k < from + 12 && used < len; k++)
		used += (size_t)snprintf(buf + used, len - used, " %02x", want[k]);
	if (used < len)
		used += (size_t)snprintf(buf + used, len - used, "%s, got", wl > from + 12 ? " ..." : "");
	for (size_t k = from; k < gl && k < from + 12 && used < len; k++)
		used += (size_t)snprintf(buf + used, len - used, " %02x", got[k]);
	if (used < len)
		snprintf(buf + used, len - used, "%s (lengths %zu and %zu)", gl > from + 12 ? " ..." : "",
		         wl, gl);
}

/* The exit in flight is done: its outputs must all have been seen. */
static void finish_inflight(struct hv_guest *g)
{
	int vcpu = g->inflight;
	if (vcpu == IDLE)
		return;
	/* inflight holds only ids vcpu_create accepted (or IDLE / INJECTING). */
	assert(vcpu < HV_MAX_VCPUS);
	struct hv_vcpu *v = vcpu >= 0 ? g->vcpus[vcpu] : NULL;
	if (v && v->awaiting_read) {
		v->awaiting_read = false;
		diverge(g, g->inflight_ev, "vcpu %d's read was never answered", vcpu);
	}
	if (g->rd != NO_READ && g->cfg->check_outputs)
		diverge(g, g->rd, "the vmm finished exit %u without reading this memory",
		        exit_number(g, g->inflight_ev));
	g->rd = NO_READ;
	skip_unchecked(g);
	const struct script_event *e = ev_at(g, g->next);
	if (e && e->type != SCRIPT_EXIT && e->type != SCRIPT_HOST)
		diverge(g, g->next, "the vmm finished event %u without producing this %s",
		        exit_number(g, g->inflight_ev), type_name(e->type));
	g->inflight = IDLE;
	pthread_cond_broadcast(&g->cond);
}

/* ---- hv_ops ---- */

static int sim_max_vcpus(void)
{
	return HV_MAX_VCPUS;
}

static int sim_guest_create(int hv_fd, void *backend_arg, struct hv_guest **out)
{
	struct sim_config *c = backend_arg;
	*out = NULL;
	if (!c)
		return -EINVAL;
	if (c->guest)
		return -EBUSY; /* one live guest per config: the sink finds it there */
	struct hv_guest *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->cfg = c;
	g->s = c->script;
	c->divergence[0] = 0;
	c->consumed = 0;
	c->finished = false;
	g->inflight = IDLE;
	g->rd = NO_READ;
	sha256_init(&g->digest);
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	c->guest = g;
	*out = g;
	return 0;
}

static void sim_guest_destroy(struct hv_guest *g)
{
	if (!g)
		return;
	if (g->cfg && g->cfg->guest == g) {
		g->cfg->consumed = g->next;
		g->cfg->finished = g->next >= nevents(g);
		g->cfg->guest = NULL;
		sha256_final(&g->digest, g->cfg->digest);
	}
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g->divergence);
	free(g);
}

static int sim_map_memory(struct hv_guest *g, uint64_t gpa, void *hva, uint64_t len,
                          int memfd, uint64_t offset)
{
	if (!hva || len == 0 || gpa + len < gpa)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	int r = 0;
	for (unsigned i = 0; i < g->nregions; i++) {
		const struct sim_region *o = &g->regions[i];
		if (gpa < o->gpa + o->len && o->gpa < gpa + len)
			r = -EEXIST;
	}
	if (!r && g->nregions == SIM_MAX_REGIONS)
		r = -ENOSPC;
	if (!r)
		g->regions[g->nregions++] = (struct sim_region){ gpa, len, hva };
	pthread_mutex_unlock(&g->lock);
	return r;
}

static int sim_set_trap(struct hv_guest *g, enum hv_trap_kind kind, uint64_t addr,
                        uint64_t len)
{
	if ((kind != HV_TRAP_MEM && kind != HV_TRAP_IO && kind != HV_TRAP_BELL) || len == 0 ||
	    addr + len < addr || (kind == HV_TRAP_IO && addr + len > 0x10000))
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	int r = 0;
	if (g->ntraps == SIM_MAX_TRAPS)
		r = -ENOSPC;
	else
		g->ntraps++;
	pthread_mutex_unlock(&g->lock);
	return r;
}

static int sim_set_irq(struct hv_guest *g, uint32_t gsi, int level)
{
	level = level ? 1 : 0;
	pthread_mutex_lock(&g->lock);
	if (!g->divergence) {
		skip_unchecked(g);
		const struct script_event *e = ev_at(g, g->next);
		digest_u64(g, 'i', (uint64_t)gsi << 1 | (uint64_t)level);
		if (e && e->type == SCRIPT_IRQ && e->gsi == gsi && e->level == level)
			advance(g);
		else
			diverge(g, g->next, "the vmm drove irq %" PRIu32 " to %d", gsi, level);
	}
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int sim_vcpu_create(struct hv_guest *g, unsigned id, struct hv_vcpu **out)
{
	*out = NULL;
	unsigned max = g->cfg->max_vcpus ? g->cfg->max_vcpus : HV_MAX_VCPUS;
	if (max > HV_MAX_VCPUS)
		max = HV_MAX_VCPUS;
	if (id >= max)
		return -EINVAL;
	if (g->cfg->fail_vcpu_create_at >= 0 && (unsigned)g->cfg->fail_vcpu_create_at == id)
		return -EIO; /* fault injection: VCPU_START_FAILURE paths */
	struct hv_vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->g = g;
	v->id = id;
	pthread_mutex_lock(&g->lock);
	int r = 0;
	if (g->vcpus[id])
		r = -EEXIST;
	else
		g->vcpus[id] = v;
	pthread_mutex_unlock(&g->lock);
	if (r) {
		free(v);
		return r;
	}
	*out = v;
	return 0;
}

static void sim_vcpu_destroy(struct hv_vcpu *v)
{
	if (!v)
		return;
	struct hv_guest *g = v->g;
	pthread_mutex_lock(&g->lock);
	/* vcpu_create range-checked the id and filled this very slot. */
	assert(v->id < HV_MAX_VCPUS && g->vcpus[v->id] == v);
	if (g->inflight == (int)v->id)
		g->inflight = IDLE;
	g->vcpus[v->id] = NULL;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	free(v);
}

static int sim_vcpu_write_state(struct hv_vcpu *v, const struct hv_regs *regs)
{
	if (!regs)
		return -EINVAL;
	pthread_mutex_lock(&v->g->lock);
	v->regs = *regs;
	v->has_regs = true;
	pthread_mutex_unlock(&v->g->lock);
	return 0;
}

static int sim_vcpu_read_state(struct hv_vcpu *v, struct hv_regs *regs)
{
	if (!regs)
		return -EINVAL;
	pthread_mutex_lock(&v->g->lock);
	if (v->has_regs)
		*regs = v->regs;
	else
		memset(regs, 0, sizeof(*regs));
	pthread_mutex_unlock(&v->g->lock);
	return 0;
}

static struct timespec deadline_in(unsigned ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* Hand the vmm a host input that arrived between exits in the recording.
 * Whichever vCPU finds it next does it, without the lock: the vmm takes its
 * event lock, and its outputs come back through set_irq and the sink.
 * Lock held on entry and on return. */
static void inject(struct hv_guest *g, const struct script_event *e)
{
	struct sim_config *c = g->cfg;
	size_t at = g->next;
	if (!c->inject) {
		diverge(g, at, "the recording has host input between exits; the vmm gave the sim "
		        "no way to inject it (no sim_source?)");
		return;
	}
	g->inflight = INJECTING;
	g->inflight_ev = at;
	feed_memory(g, at);
	advance(g);
	sha256_update(&g->digest, e->data, e->len);
	pthread_mutex_unlock(&g->lock);
	size_t took = c->inject(c->inject_vm, e->device, e->data, e->len);
	pthread_mutex_lock(&g->lock);
	if (took != e->read_value)
		diverge(g, at, "the %s device took %zu of the %zu bytes offered; in the recording it "
		        "took %" PRIu64, e->device, took, e->len, e->read_value);
	if (g->inflight == INJECTING && g->inflight_ev == at)
		finish_inflight(g);
}

/* Decide what enter returns now, or false to keep waiting. Lock held. */
static bool try_take(struct hv_guest *g, struct hv_vcpu *v, struct hv_exit *x)
{
	if (!g->s) {
		x->kind = HV_EXIT_FAILURE;
		x->reason = SIM_NO_SCRIPT;
		return true;
	}
	if (g->divergence) {
		x->kind = HV_EXIT_FAILURE;
		x->reason = SIM_DIVERGED;
		return true;
	}
	if (v->kicked) {
		v->kicked = false;
		x->kind = HV_EXIT_KICK;
		return true;
	}
	if (g->inflight != IDLE)
		return false; /* another vCPU's exit or a host input is being handled */
	skip_unchecked(g);
	const struct script_event *e = ev_at(g, g->next);
	if (!e) {
		x->kind = HV_EXIT_END;
		return true;
	}
	if (e->type == SCRIPT_HOST) {
		inject(g, e);
		return false; /* the caller's loop looks again */
	}
	if (e->type != SCRIPT_EXIT) {
		diverge(g, g->next, "the script expects this %s but no exit is being handled",
		        type_name(e->type));
		return false; /* the loop turns the divergence into FAILURE */
	}
	/* Scripts may be built by code other than the parser: check again. */
	if (e->vcpu >= HV_MAX_VCPUS || !script_exit_kind_valid(e->exit.kind)) {
		diverge(g, g->next, "malformed script event (vcpu %u, kind %d)", e->vcpu,
		        (int)e->exit.kind);
		return false;
	}
	if (e->vcpu != v->id) {
		const struct hv_vcpu *o = g->vcpus[e->vcpu];
		if (!o || o->gone)
			diverge(g, g->next, "the script wants vcpu %u, which %s", e->vcpu,
			        o ? "has stopped" : "the vmm did not create");
		return false;
	}
	*x = e->exit;
	size_t at = g->next;
	feed_memory(g, at);
	advance(g);
	if (script_exit_is_read(x->kind)) {
		v->awaiting_read = true;
		v->read_ev = at;
	}
	if (x->kind == HV_EXIT_HALT || x->kind == HV_EXIT_SHUTDOWN ||
	    x->kind == HV_EXIT_FAILURE) {
		v->gone = true; /* nothing for the vmm to handle */
	} else {
		g->inflight = (int)v->id;
		g->inflight_ev = at;
	}
	return true;
}

static int sim_vcpu_enter(struct hv_vcpu *v, struct hv_exit *x)
{
	struct hv_guest *g = v->g;
	unsigned stall = g->cfg->stall_ms ? g->cfg->stall_ms : SIM_DEFAULT_STALL_MS;
	memset(x, 0, sizeof(*x));
	pthread_mutex_lock(&g->lock);
	/* Entering again means this vCPU's last exit has been handled. */
	if (g->inflight == (int)v->id)
		finish_inflight(g);
	v->gone = false;
	size_t seen = g->next;
	struct timespec dl = deadline_in(stall);
	while (!try_take(g, v, x)) {
		if (g->divergence)
			continue; /* try_take reports it */
		if (g->next != seen) {
			/* Progress while we held the lock (an injected input): look again. */
			seen = g->next;
			dl = deadline_in(stall);
			continue;
		}
		int r = pthread_cond_timedwait(&g->cond, &g->lock, &dl);
		if (g->next != seen) {
			seen = g->next;
			dl = deadline_in(stall);
		} else if (r == ETIMEDOUT) {
			diverge(g, g->next, "stalled: vcpu %u waited %u ms and no vCPU took this event",
			        v->id, stall);
		}
	}
	if (x->kind == HV_EXIT_END || x->kind == HV_EXIT_FAILURE)
		v->gone = true;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int sim_vcpu_complete_read(struct hv_vcpu *v, uint64_t value)
{
	struct hv_guest *g = v->g;
	int r = 0;
	pthread_mutex_lock(&g->lock);
	if (!v->awaiting_read) {
		r = -EINVAL; /* no read exit outstanding on this vCPU */
	} else {
		v->awaiting_read = false;
		digest_u64(g, 'r', value);
		const struct script_event *e = ev_at(g, v->read_ev);
		if (e && e->read_value != value)
			diverge(g, v->read_ev,
			        "vcpu %u %s at 0x%" PRIx64 " answered 0x%" PRIx64
			        ", the script says 0x%" PRIx64,
			        v->id, hv_exit_kind_name(e->exit.kind), e->exit.addr, value,
			        e->read_value);
	}
	pthread_mutex_unlock(&g->lock);
	return r;
}

static void sim_vcpu_kick(struct hv_vcpu *v)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->g->lock);
	v->kicked = true;
	pthread_cond_broadcast(&v->g->cond);
	pthread_mutex_unlock(&v->g->lock);
}

const struct hv_ops hv_sim_ops = {
	.name = "sim",
	.max_vcpus = sim_max_vcpus,
	.guest_create = sim_guest_create,
	.guest_destroy = sim_guest_destroy,
	.map_memory = sim_map_memory,
	.set_trap = sim_set_trap,
	.set_irq = sim_set_irq,
	.vcpu_create = sim_vcpu_create,
	.vcpu_destroy = sim_vcpu_destroy,
	.vcpu_write_state = sim_vcpu_write_state,
	.vcpu_read_state = sim_vcpu_read_state,
	.vcpu_enter = sim_vcpu_enter,
	.vcpu_complete_read = sim_vcpu_complete_read,
	.vcpu_kick = sim_vcpu_kick,
	.failure_detail = sim_divergence,
};

/* ---- the checker sink ---- */

static void check_exit_handled(void *ctx, unsigned vcpu, const struct hv_exit *x,
                               uint64_t read_value)
{
	struct sim_config *c = ctx;
	struct hv_guest *g = c->guest;
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	if (g->inflight == (int)vcpu)
		finish_inflight(g);
	pthread_mutex_unlock(&g->lock);
}

static void check_output(void *ctx, const char *device, const void *data, uint64_t len)
{
	struct sim_config *c = ctx;
	struct hv_guest *g = c->guest;
	const uint8_t *b = data;
	if (!g || !data || !device)
		return;
	pthread_mutex_lock(&g->lock);
	uint64_t i = 0;
	sha256_update(&g->digest, data, len);
	while (i < len && !g->divergence) {
		skip_unchecked(g);
		const struct script_event *e = ev_at(g, g->next);
		if (e && e->type == SCRIPT_OUT && (!e->len || !e->data)) {
			advance(g); /* an empty output line matches nothing */
			continue;
		}
		if (!e || e->type != SCRIPT_OUT || strcmp(e->device, device) != 0) {
			diverge(g, g->next, "the vmm sent byte 0x%02x to %s", b[i], device);
			break;
		}
		if (e->data[g->out_off] != b[i]) {
			diverge(g, g->next, "byte %zu of this output: the vmm sent 0x%02x, the script says 0x%02x",
			        g->out_off, b[i], e->data[g->out_off]);
			break;
		}
		if (++g->out_off == e->len)
			advance(g);
		i++;
	}
	pthread_mutex_unlock(&g->lock);
}

static void check_mem_read(void *ctx, uint64_t gpa, const void *data, uint64_t len)
{
	struct sim_config *c = ctx;
	struct hv_guest *g = c->guest;
	if (!g || !data)
		return;
	pthread_mutex_lock(&g->lock);
	if (g->divergence || g->inflight == IDLE) {
		pthread_mutex_unlock(&g->lock);
		return;
	}
	const struct script_event *e = g->rd == NO_READ ? NULL : ev_at(g, g->rd);
	if (!e) {
		diverge(g, g->next, "a device read %" PRIu64 " bytes at 0x%" PRIx64
		        " that the recording does not have", len, gpa);
	} else if (e->gpa != gpa || e->len != len) {
		diverge(g, g->rd, "a device read %" PRIu64 " bytes at 0x%" PRIx64
		        "; the recording read %zu bytes at 0x%" PRIx64, len, gpa, e->len, e->gpa);
	} else {
		/* Memory a concurrent driver (another vCPU, a front end's guest
		 * running beside the device) changed between two reads of one
		 * event reads differently than feed_memory's first-read image:
		 * the device gets exactly what it read in the recording. `data` is
		 * the reader's own buffer (guest_mem hands its destination). */
		if (memcmp(e->data, data, len) != 0) {
			memcpy((void *)(uintptr_t)data, e->data, len);
			g->reread++;
		}
		g->rd = next_read(g, g->rd);
	}
	pthread_mutex_unlock(&g->lock);
}

static void check_mem_write(void *ctx, uint64_t gpa, const void *data, uint64_t len)
{
	struct sim_config *c = ctx;
	struct hv_guest *g = c->guest;
	if (!g || !data)
		return;
	pthread_mutex_lock(&g->lock);
	digest_u64(g, 'w', gpa);
	sha256_update(&g->digest, data, len);
	if (!g->divergence) {
		skip_unchecked(g);
		const struct script_event *e = ev_at(g, g->next);
		if (!e || e->type != SCRIPT_MEMW) {
			diverge(g, g->next, "a device wrote %" PRIu64 " bytes to guest memory at 0x%" PRIx64,
			        len, gpa);
		} else if (e->gpa != gpa || e->len != len || memcmp(e->data, data, len) != 0) {
			char d[200];
			bytes_diff(d, sizeof(d), e->data, e->len, data, len);
			diverge(g, g->next, "a device wrote guest memory at 0x%" PRIx64
			        " (recording: 0x%" PRIx64 "): %s", gpa, e->gpa, d);
		} else {
			advance(g);
		}
	}
	pthread_mutex_unlock(&g->lock);
}

struct ev_sink sim_checker_sink(struct sim_config *c)
{
	c->check_outputs = true;
	struct ev_sink s = { .ctx = c, .exit_handled = check_exit_handled, .irq = NULL,
	                     .host_output = check_output, .mem_read = check_mem_read,
	                     .mem_write = check_mem_write };
	return s;
}

/* ---- the source: recorded host inputs ---- */

/* The next `in` record must be for `device`; its bytes go to buf. Returns
 * the record's length, or -1 after a divergence. */
static ssize_t take_input(struct sim_config *c, const char *device, void *buf, size_t len,
                          bool exact)
{
	struct hv_guest *g = c->guest;
	if (!g)
		return -1;
	ssize_t r = -1;
	pthread_mutex_lock(&g->lock);
	if (!g->divergence) {
		skip_unchecked(g);
		const struct script_event *e = ev_at(g, g->next);
		if (!e || e->type != SCRIPT_IN || strcmp(e->device, device) != 0)
			diverge(g, g->next, "the vmm asked the host for %zu bytes of %s input", len, device);
		else if (exact ? e->len != len : e->len > len)
			diverge(g, g->next, "the vmm asked for %zu bytes of %s input; the recording "
			        "handed out %zu", len, device, e->len);
		else {
			memcpy(buf, e->data, e->len);
			r = (ssize_t)e->len;
			sha256_update(&g->digest, e->data, e->len);
			advance(g);
		}
	}
	pthread_mutex_unlock(&g->lock);
	return r;
}

static int src_entropy(void *ctx, void *buf, size_t len)
{
	return take_input(ctx, EVN_RNG, buf, len, true) < 0 ? -EIO : 0;
}

static ssize_t src_block_read(void *ctx, void *buf, size_t len, off_t off)
{
	ssize_t n = take_input(ctx, EVN_BLOCK_READ, buf, len, false);
	if (n < 0)
		errno = EIO;
	return n;
}

/* A recorded write or flush result (evn_result: a count or -errno). */
static int64_t take_result(void *ctx, const char *device)
{
	uint8_t b[EVN_RESULT_SIZE];
	if (take_input(ctx, device, b, sizeof(b), true) < 0)
		return -EIO;
	return evn_result_get(b);
}

static ssize_t src_block_write(void *ctx, const void *buf, size_t len, off_t off)
{
	int64_t r = take_result(ctx, EVN_BLOCK_WRITE);
	if (r < 0) {
		errno = r < -4095 ? EIO : (int)-r;
		return -1;
	}
	return (ssize_t)r;
}

static int src_block_sync(void *ctx)
{
	int64_t r = take_result(ctx, EVN_BLOCK_SYNC);
	if (r < 0) {
		errno = r < -4095 ? EIO : (int)-r;
		return -1;
	}
	return 0;
}

static void src_bind(void *ctx, void *vm,
                     size_t (*fn)(void *vm, const char *device, const void *data, size_t len))
{
	struct sim_config *c = ctx;
	c->inject_vm = vm;
	c->inject = fn;
}

struct ev_source sim_source(struct sim_config *c)
{
	c->feed_inputs = true;
	struct ev_source s = { .ctx = c, .entropy = src_entropy, .block_read = src_block_read,
	                       .block_write = src_block_write, .block_sync = src_block_sync,
	                       .kernel_less = true, .bind_injector = src_bind };
	return s;
}

void sim_unmap_all(struct hv_guest *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->nregions = 0;
	pthread_mutex_unlock(&g->lock);
}

/* ---- reports ---- */

const char *sim_divergence(struct hv_guest *g)
{
	if (!g)
		return NULL;
	pthread_mutex_lock(&g->lock);
	const char *d = g->divergence; /* written once, never changed after */
	pthread_mutex_unlock(&g->lock);
	return d;
}

size_t sim_events_consumed(struct hv_guest *g)
{
	if (!g)
		return 0;
	pthread_mutex_lock(&g->lock);
	size_t n = g->next;
	pthread_mutex_unlock(&g->lock);
	return n;
}

bool sim_finished(struct hv_guest *g)
{
	if (!g)
		return false;
	pthread_mutex_lock(&g->lock);
	bool f = g->next >= nevents(g);
	pthread_mutex_unlock(&g->lock);
	return f;
}
