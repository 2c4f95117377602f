/* tests/lib/fake_hv.c - see fake_hv.h. */
#include "fake_hv.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hv_guest {
	struct fake_hv_ctl *ctl;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

struct hv_vcpu {
	struct hv_guest *g;
	unsigned id;
	unsigned next_exit;
	bool kicked, entered;
};

static struct fake_hv_ctl *current_ctl;

void fake_hv_reset(struct fake_hv_ctl *c)
{
	memset(c, 0, sizeof(*c));
	c->fail_vcpu_create_at = -1;
	c->max_vcpus = 8;
	current_ctl = c;
}

static int fake_max_vcpus(void)
{
	return current_ctl ? current_ctl->max_vcpus : 8;
}

static int fake_guest_create(int hv_fd, void *arg, struct hv_guest **out)
{
	struct fake_hv_ctl *ctl = arg ? arg : current_ctl;
	if (ctl->fail_guest_create)
		return ctl->fail_guest_create;
	struct hv_guest *g = calloc(1, sizeof(*g));
	g->ctl = ctl;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	ctl->guests_created++;
	ctl->guest = g;
	ctl->nmem = 0;
	*out = g;
	return 0;
}

static void fake_guest_destroy(struct hv_guest *g)
{
	g->ctl->guests_destroyed++;
	if (g->ctl->guest == g)
		g->ctl->guest = NULL;
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
	free(g);
}

static int fake_map_memory(struct hv_guest *g, uint64_t gpa, void *hva, uint64_t len, int fd,
                           uint64_t off)
{
	struct fake_hv_ctl *c = g->ctl;
	if (!c->fail_map_memory && c->nmem < sizeof(c->mem) / sizeof(c->mem[0])) {
		c->mem[c->nmem].gpa = gpa;
		c->mem[c->nmem].len = len;
		c->mem[c->nmem++].hva = hva;
	}
	return c->fail_map_memory;
}

static int fake_set_trap(struct hv_guest *g, enum hv_trap_kind k, uint64_t a, uint64_t l)
{
	return 0;
}

static int fake_set_irq(struct hv_guest *g, uint32_t gsi, int level)
{
	if (level)
		g->ctl->irqs_raised++;
	return 0;
}

static int fake_vcpu_create(struct hv_guest *g, unsigned id, struct hv_vcpu **out)
{
	if (g->ctl->fail_vcpu_create_at == (int)id)
		return -EBUSY;
	struct hv_vcpu *v = calloc(1, sizeof(*v));
	v->g = g;
	v->id = id;
	*out = v;
	return 0;
}

static void fake_vcpu_destroy(struct hv_vcpu *v)
{
	free(v);
}

static int fake_write_state(struct hv_vcpu *v, const struct hv_regs *r) { return 0; }
static int fake_read_state(struct hv_vcpu *v, struct hv_regs *r) { memset(r, 0, sizeof(*r)); return 0; }

static int fake_enter(struct hv_vcpu *v, struct hv_exit *x)
{
	struct hv_guest *g = v->g;
	pthread_mutex_lock(&g->lock);
	if (!v->entered) {
		v->entered = true;
		g->ctl->vcpus_entered++;
		pthread_cond_broadcast(&g->cond);
	}
	struct fake_hv_ctl *c = g->ctl;
	if (v->id == 0 && c->inj_taken) {
		/* Entering again: the injected exit has been handled. */
		c->inj_taken = false;
		c->inj_done = true;
		pthread_cond_broadcast(&g->cond);
	}
	if (v->id == 0 && v->next_exit < g->ctl->nexits && !v->kicked) {
		*x = g->ctl->exits[v->next_exit++];
		pthread_mutex_unlock(&g->lock);
		return 0;
	}
	while (!v->kicked && !(v->id == 0 && c->inj_pending))
		pthread_cond_wait(&g->cond, &g->lock);
	if (!v->kicked) {
		c->inj_pending = false;
		c->inj_taken = true;
		*x = c->inj;
		pthread_mutex_unlock(&g->lock);
		return 0;
	}
	v->kicked = false;
	memset(x, 0, sizeof(*x));
	x->kind = HV_EXIT_KICK;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int fake_complete_read(struct hv_vcpu *v, uint64_t value)
{
	v->g->ctl->read_completions++;
	v->g->ctl->last_read_value = value;
	return 0;
}

static void fake_kick(struct hv_vcpu *v)
{
	pthread_mutex_lock(&v->g->lock);
	v->kicked = true;
	pthread_cond_broadcast(&v->g->cond);
	pthread_mutex_unlock(&v->g->lock);
}

const struct hv_ops hv_fake_ops = {
	.name = "fake",
	.max_vcpus = fake_max_vcpus,
	.guest_create = fake_guest_create,
	.guest_destroy = fake_guest_destroy,
	.map_memory = fake_map_memory,
	.set_trap = fake_set_trap,
	.set_irq = fake_set_irq,
	.vcpu_create = fake_vcpu_create,
	.vcpu_destroy = fake_vcpu_destroy,
	.vcpu_write_state = fake_write_state,
	.vcpu_read_state = fake_read_state,
	.vcpu_enter = fake_enter,
	.vcpu_complete_read = fake_complete_read,
	.vcpu_kick = fake_kick,
};

int fake_hv_exit(struct fake_hv_ctl *c, const struct hv_exit *x, uint64_t *value)
{
	struct hv_guest *g = c->guest;
	if (!g)
		return -ENODEV;
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 5;
	pthread_mutex_lock(&g->lock);
	c->inj = *x;
	c->inj_done = false;
	c->inj_pending = true;
	pthread_cond_broadcast(&g->cond);
	int r = 0;
	while (!c->inj_done && r == 0)
		r = pthread_cond_timedwait(&g->cond, &g->lock, &dl);
	bool done = c->inj_done;
	c->inj_pending = false;
	pthread_mutex_unlock(&g->lock);
	if (!done)
		return -ETIMEDOUT;
	/* complete_read ran before vCPU 0 entered again: ordered by g->lock. */
	if (value)
		*value = c->last_read_value;
	return 0;
}

uint32_t fake_hv_mmio_read32(struct fake_hv_ctl *c, uint64_t addr)
{
	struct hv_exit x = { .kind = HV_EXIT_MEM_READ, .addr = addr, .size = 4 };
	uint64_t v = 0;
	if (fake_hv_exit(c, &x, &v) != 0)
		return 0xffffffffu;
	return (uint32_t)v;
}

void fake_hv_mmio_write32(struct fake_hv_ctl *c, uint64_t addr, uint32_t v)
{
	struct hv_exit x = { .kind = HV_EXIT_MEM_WRITE, .addr = addr, .size = 4, .data = v };
	fake_hv_exit(c, &x, NULL);
}

void *fake_hv_gpa(struct fake_hv_ctl *c, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < c->nmem; i++)
		if (gpa >= c->mem[i].gpa && gpa - c->mem[i].gpa + len <= c->mem[i].len)
			return c->mem[i].hva + (gpa - c->mem[i].gpa);
	return NULL;
}
