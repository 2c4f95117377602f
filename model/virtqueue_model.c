/* model/virtqueue_model.c - see virtqueue_model.h. */
#include "virtqueue_model.h"

#include <stdlib.h>
#include <string.h>

bool mv_mem_valid(const struct mv_mem *m, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		return false;
	for (unsigned i = 0; i < m->n; i++) {
		const struct mv_region *r = &m->r[i];
		/* Written without gpa + len, which could wrap. */
		if (gpa >= r->gpa && gpa - r->gpa <= r->len && len <= r->len - (gpa - r->gpa))
			return true;
	}
	return false;
}

static uint8_t *at(const struct mv_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct mv_region *r = &m->r[i];
		if (gpa >= r->gpa && gpa - r->gpa <= r->len && len <= r->len - (gpa - r->gpa))
			return r->bytes + (gpa - r->gpa);
	}
	return NULL;
}

/* Little-endian accessors over ranges checked at mv_init. */
static uint64_t get(const struct mv_mem *m, uint64_t gpa, unsigned n)
{
	const uint8_t *p = at(m, gpa, n);
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put(const struct mv_mem *m, uint64_t gpa, unsigned n, uint64_t v)
{
	uint8_t *p = at(m, gpa, n);
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

bool mv_init(struct mv_queue *q, struct mv_mem *mem, uint16_t size, uint64_t desc,
             uint64_t avail, uint64_t used, bool indirect, bool event_idx)
{
	memset(q, 0, sizeof(*q));
	q->mem = mem;
	bool power_of_two = size != 0 && (size & (size - 1)) == 0;
	if (!power_of_two || size > MV_MAX_QUEUE)
		return false;
	if (desc % 16 || avail % 2 || used % 4)
		return false;
	if (!mv_mem_valid(mem, desc, 16ull * size) || !mv_mem_valid(mem, avail, 6 + 2ull * size) ||
	    !mv_mem_valid(mem, used, 6 + 8ull * size))
		return false;
	q->size = size;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->indirect = indirect;
	q->event_idx = event_idx;
	return true;
}

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static struct desc desc_at(const struct mv_mem *m, uint64_t table, uint32_t i)
{
	uint64_t a = table + 16ull * i;
	return (struct desc){ get(m, a, 8), (uint32_t)get(m, a + 8, 4), (uint16_t)get(m, a + 12, 2),
	                      (uint16_t)get(m, a + 14, 2) };
}

static enum mv_pop stop(struct mv_queue *q, enum mv_error why)
{
	q->stopped = true;
	q->why = why;
	return MV_POP_STOPPED;
}

/* One buffer joins the chain. Returns MV_E_NONE or the violation. */
static enum mv_error add(const struct mv_queue *q, struct mv_chain *c, const struct desc *d,
                         bool *seen_writable)
{
	if (d->len == 0)
		return MV_E_NONE; /* carries nothing */
	if (c->nbufs == MV_MAX_CHAIN_BUFS)
		return MV_E_TOO_MANY_BUFS;
	if (!mv_mem_valid(q->mem, d->addr, d->len))
		return MV_E_BUF_OUTSIDE;
	bool w = d->flags & MV_F_WRITE;
	if (!w && *seen_writable)
		return MV_E_READ_AFTER_WRITE;
	*seen_writable = *seen_writable || w;
	c->bufs[c->nbufs++] = (struct mv_buf){ d->addr, d->len, w };
	if (w)
		c->writable_len += d->len;
	else
		c->readable_len += d->len;
	return MV_E_NONE;
}

/* The entries of one indirect table, as a chain from entry 0. */
static enum mv_error walk_table(struct mv_queue *q, struct mv_chain *c, const struct desc *d,
                                bool *seen_writable)
{
	if (!q->indirect)
		return MV_E_INDIRECT_NO_FEATURE;
	if (d->flags & MV_F_NEXT)
		return MV_E_INDIRECT_WITH_NEXT;
	if (d->len == 0 || d->len % 16)
		return MV_E_INDIRECT_BAD_LEN;
	if (!mv_mem_valid(q->mem, d->addr, d->len))
		return MV_E_BUF_OUTSIDE;
	uint32_t n = d->len / 16;
	bool *visited = calloc(n, sizeof(bool));
	if (!visited)
		abort(); /* a model that cannot allocate cannot answer */
	enum mv_error e = MV_E_NONE;
	uint32_t j = 0;
	for (;;) {
		if (visited[j]) {
			e = MV_E_LOOP;
			break;
		}
		if (q->walked == MV_MAX_INDIRECT_WALK) {
			e = MV_E_CHAIN_TOO_LONG;
			break;
		}
		q->walked++;
		visited[j] = true;
		struct desc t = desc_at(q->mem, d->addr, j);
		if (t.flags & MV_F_INDIRECT) {
			e = MV_E_INDIRECT_NESTED;
			break;
		}
		if ((e = add(q, c, &t, seen_writable)) != MV_E_NONE)
			break;
		if (!(t.flags & MV_F_NEXT))
			break;
		if (t.next >= n) {
			e = MV_E_NEXT_RANGE;
			break;
		}
		j = t.next;
	}
	free(visited);
	return e;
}

enum mv_pop mv_pop(struct mv_queue *q, struct mv_chain *c)
{
	if (q->stopped)
		return MV_POP_STOPPED;
	uint16_t avail_idx = (uint16_t)get(q->mem, q->avail + 2, 2);
	uint16_t pending = (uint16_t)(avail_idx - q->next_avail);
	if (pending == 0)
		return MV_POP_EMPTY;
	if (pending > q->size)
		return stop(q, MV_E_AVAIL_AHEAD);
	if (q->in_flight == q->size)
		return stop(q, MV_E_TOO_MANY_IN_FLIGHT);
	uint16_t head = (uint16_t)get(q->mem, q->avail + 4 + 2ull * (q->next_avail % q->size), 2);
	if (head >= q->size)
		return stop(q, MV_E_HEAD_RANGE);

	memset(c, 0, offsetof(struct mv_chain, bufs));
	c->head = head;
	q->walked = 0;
	bool seen_writable = false;
	bool *visited = calloc(q->size, sizeof(bool));
	if (!visited)
		abort();
	enum mv_error e = MV_E_NONE;
	uint16_t i = head;
	for (;;) {
		if (visited[i]) {
			e = MV_E_LOOP;
			break;
		}
		visited[i] = true;
		struct desc d = desc_at(q->mem, q->desc, i);
		if (d.flags & MV_F_INDIRECT)
			e = walk_table(q, c, &d, &seen_writable);
		else
			e = add(q, c, &d, &seen_writable);
		if (e != MV_E_NONE || !(d.flags & MV_F_NEXT))
			break;
		if (d.next >= q->size) {
			e = MV_E_NEXT_RANGE;
			break;
		}
		i = d.next;
	}
	free(visited);
	if (e == MV_E_NONE && c->nbufs == 0)
		e = MV_E_EMPTY_CHAIN;
	if (e != MV_E_NONE)
		return stop(q, e);
	q->next_avail++;
	q->in_flight++;
	if (q->event_idx) /* avail_event: kick me once you add past this */
		put(q->mem, q->used + 4 + 8ull * q->size, 2, q->next_avail);
	return MV_POP_CHAIN;
}

bool mv_push(struct mv_queue *q, const struct mv_chain *c, uint32_t written)
{
	if (q->stopped)
		return false;
	if (q->in_flight == 0) {
		stop(q, MV_E_PUSH_NOTHING_IN_FLIGHT);
		return false;
	}
	if (written > c->writable_len) {
		stop(q, MV_E_USED_LEN);
		return false;
	}
	uint64_t elem = q->used + 4 + 8ull * (q->used_idx % q->size);
	put(q->mem, elem, 4, c->head);
	put(q->mem, elem + 4, 4, written);
	q->used_idx++;
	q->in_flight--;
	put(q->mem, q->used + 2, 2, q->used_idx);
	return true;
}

bool mv_should_notify(struct mv_queue *q)
{
	if (q->stopped)
		return false;
	if (!q->event_idx)
		return !(get(q->mem, q->avail, 2) & 1); /* VIRTQ_AVAIL_F_NO_INTERRUPT */
	uint16_t used_event = (uint16_t)get(q->mem, q->avail + 4 + 2ull * q->size, 2);
	bool first = !q->signalled_valid;
	uint16_t old = q->signalled, now = q->used_idx;
	q->signalled_valid = true;
	q->signalled = now;
	if (first)
		return true;
	/* The driver wants an interrupt once the used entry numbered used_event
	 * is published: was it among those published since the last decision? */
	for (uint16_t k = old; k != now; k++)
		if (k == used_event)
			return true;
	return false;
}

void mv_set_notification(struct mv_queue *q, bool enable)
{
	if (q->stopped)
		return;
	if (q->event_idx) {
		if (enable)
			put(q->mem, q->used + 4 + 8ull * q->size, 2, q->next_avail);
		return;
	}
	put(q->mem, q->used, 2, enable ? 0 : 1); /* VIRTQ_USED_F_NO_NOTIFY */
}

const char *mv_error_name(enum mv_error e)
{
	static const char *const names[MV_E_COUNT] = {
		[MV_E_NONE] = "NONE",
		[MV_E_AVAIL_AHEAD] = "AVAIL_AHEAD",
		[MV_E_TOO_MANY_IN_FLIGHT] = "TOO_MANY_IN_FLIGHT",
		[MV_E_HEAD_RANGE] = "HEAD_RANGE",
		[MV_E_NEXT_RANGE] = "NEXT_RANGE",
		[MV_E_LOOP] = "LOOP",
		[MV_E_INDIRECT_NO_FEATURE] = "INDIRECT_NO_FEATURE",
		[MV_E_INDIRECT_WITH_NEXT] = "INDIRECT_WITH_NEXT",
		[MV_E_INDIRECT_NESTED] = "INDIRECT_NESTED",
		[MV_E_INDIRECT_BAD_LEN] = "INDIRECT_BAD_LEN",
		[MV_E_BUF_OUTSIDE] = "BUF_OUTSIDE",
		[MV_E_READ_AFTER_WRITE] = "READ_AFTER_WRITE",
		[MV_E_EMPTY_CHAIN] = "EMPTY_CHAIN",
		[MV_E_TOO_MANY_BUFS] = "TOO_MANY_BUFS",
		[MV_E_CHAIN_TOO_LONG] = "CHAIN_TOO_LONG",
		[MV_E_PUSH_NOTHING_IN_FLIGHT] = "PUSH_NOTHING_IN_FLIGHT",
		[MV_E_USED_LEN] = "USED_LEN",
	};
	return (unsigned)e < MV_E_COUNT ? names[e] : "?";
}
