/* tests/lib/vq_diff.c - see vq_diff.h. */
#include "vq_diff.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/virtqueue.h"
#include "base/guest_mem.h"

#define GUARD 65536u

enum mv_error vq_diff_classify(const char *m)
{
	static const struct { const char *needle; enum mv_error e; } map[] = {
		{ "available index", MV_E_AVAIL_AHEAD },
		{ "chains in flight", MV_E_TOO_MANY_IN_FLIGHT },
		{ "available ring names head", MV_E_HEAD_RANGE },
		{ "next index", MV_E_NEXT_RANGE },
		{ "loops", MV_E_LOOP },
		{ "walks more than", MV_E_CHAIN_TOO_LONG },
		{ "indirect descriptor without", MV_E_INDIRECT_NO_FEATURE },
		{ "indirect descriptor with NEXT", MV_E_INDIRECT_WITH_NEXT },
		{ "nested indirect", MV_E_INDIRECT_NESTED },
		{ "indirect table length", MV_E_INDIRECT_BAD_LEN },
		{ "outside guest memory", MV_E_BUF_OUTSIDE },
		{ "wraps around", MV_E_BUF_OUTSIDE },
		{ "device-readable buffer after", MV_E_READ_AFTER_WRITE },
		{ "carries no bytes", MV_E_EMPTY_CHAIN },
		{ "buffers", MV_E_TOO_MANY_BUFS },
		{ "nothing in flight", MV_E_PUSH_NOTHING_IN_FLIGHT },
		{ "used length", MV_E_USED_LEN },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strstr(m, map[i].needle))
			return map[i].e;
	return MV_E_NONE;
}

/* The model finds a loop where it happens; the real walker walks on until a
 * bound, and re-walking the same descriptors can first trip the buffer limit
 * or the readable-after-writable rule. Those are the same chain's fault. */
static bool same_class(enum mv_error model, enum mv_error real)
{
	if (model == real)
		return true;
	/* A loop inside a long indirect table: the real walker may hit its
	 * walk bound (2 * VQ_MAX_CHAIN_BUFS) before it has gone round once. */
	return model == MV_E_LOOP && (real == MV_E_TOO_MANY_BUFS || real == MV_E_READ_AFTER_WRITE ||
	                              real == MV_E_CHAIN_TOO_LONG);
}

struct inflight {
	uint16_t head;
	uint64_t writable;
};

#define FAIL(...)                                         \
	do {                                              \
		snprintf(why, whylen, __VA_ARGS__);       \
		ok = false;                               \
		goto out;                                 \
	} while (0)

bool vq_diff_run(const struct vq_scenario *s, char *why, size_t whylen, struct vq_diff_stats *st)
{
	static struct vq_chain rc;   /* large: not on the stack */
	static struct mv_chain mc;
	struct vq_diff_stats dummy;
	if (!st)
		st = &dummy;
	bool ok = true;
	why[0] = '\0';
	size_t total = s->ram + 2 * GUARD;
	uint8_t *area = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *model_ram = malloc(s->ram);
	struct inflight *fl = calloc(MV_MAX_QUEUE, sizeof(*fl));
	if (area == MAP_FAILED || !model_ram || !fl)
		abort();
	uint8_t *ram = area + GUARD;
	mprotect(ram, s->ram, PROT_READ | PROT_WRITE);
	memcpy(ram, s->image, s->ram);
	memcpy(model_ram, s->image, s->ram);
	unsigned nfl = 0;

	struct guest_mem gm;
	struct gm_region r = { .gpa = 0, .len = s->ram, .offset = 0 };
	if (gm_init_external(&gm, ram, s->ram, &r, 1) != 0)
		abort();
	struct virtqueue vq;
	uint64_t feat = (1ull << VIRTIO_F_VERSION_1) | (s->indirect ? 1ull << VIRTIO_F_INDIRECT_DESC : 0) |
	                (s->event_idx ? 1ull << VIRTIO_F_EVENT_IDX : 0);
	bool real_init = vq_init(&vq, &gm, s->size, s->desc, s->avail, s->used, feat) == 0;
	struct mv_mem mm = { .n = 1, .r = { { 0, s->ram, model_ram } } };
	struct mv_queue q;
	bool model_init = mv_init(&q, &mm, s->size, s->desc, s->avail, s->used, s->indirect, s->event_idx);
	if (real_init != model_init)
		FAIL("init: real %s (%s), model %s", real_init ? "accepts" : "refuses", vq.error,
		     model_init ? "accepts" : "refuses");
	if (!real_init)
		goto out;

	for (size_t i = 0; i < s->nsteps; i++) {
		uint8_t op = s->steps[i];
		switch (op & 7) {
		case 0: case 1: {
			st->pops++;
			int rr = vq_pop(&vq, &rc);
			enum mv_pop mr = mv_pop(&q, &mc);
			int want = mr == MV_POP_CHAIN ? 1 : mr == MV_POP_EMPTY ? 0 : -EIO;
			if (rr != want)
				FAIL("step %zu pop: real %d (%s), model %d (%s)", i, rr, vq.error, want,
				     mv_error_name(q.why));
			if (rr == -EIO) {
				enum mv_error rc_class = vq_diff_classify(vq.error);
				if (!same_class(q.why, rc_class))
					FAIL("step %zu pop stops the queue: real \"%s\" (%s), model %s", i,
					     vq.error, mv_error_name(rc_class), mv_error_name(q.why));
				break;
			}
			if (rr == 0)
				break;
			st->chains++;
			if (rc.head != mc.head || rc.nbufs != mc.nbufs || rc.readable_len != mc.readable_len ||
			    rc.writable_len != mc.writable_len)
				FAIL("step %zu pop: real head %u %u bufs r%llu w%llu, model head %u %u bufs "
				     "r%llu w%llu", i, rc.head, rc.nbufs, (unsigned long long)rc.readable_len,
				     (unsigned long long)rc.writable_len, mc.head, mc.nbufs,
				     (unsigned long long)mc.readable_len, (unsigned long long)mc.writable_len);
			for (unsigned b = 0; b < rc.nbufs; b++)
				if (rc.bufs[b].gpa != mc.bufs[b].gpa || rc.bufs[b].len != mc.bufs[b].len ||
				    rc.bufs[b].writable != mc.bufs[b].writable)
					FAIL("step %zu pop head %u: buffer %u real 0x%llx+%u%s, model 0x%llx+%u%s",
					     i, rc.head, b, (unsigned long long)rc.bufs[b].gpa, rc.bufs[b].len,
					     rc.bufs[b].writable ? "w" : "r", (unsigned long long)mc.bufs[b].gpa,
					     mc.bufs[b].len, mc.bufs[b].writable ? "w" : "r");
			if (nfl < MV_MAX_QUEUE)
				fl[nfl++] = (struct inflight){ rc.head, rc.writable_len };
			break;
		}
		case 2: case 3: {
			st->pushes++;
			struct inflight it = { 0, 0 };
			uint32_t written = 0;
			if (nfl) {
				if ((op & 7) == 2) {
					it = fl[0];
					memmove(fl, fl + 1, sizeof(*fl) * (nfl - 1));
					unsigned part = op >> 3;
					written = part == 31 ? (uint32_t)(it.writable + 1)
					                     : (uint32_t)(it.writable * part / 30);
				} else {
					it = fl[nfl - 1];
					written = (uint32_t)it.writable;
				}
				nfl--;
			}
			memset(&rc, 0, offsetof(struct vq_chain, bufs));
			rc.head = it.head;
			rc.writable_len = it.writable;
			memset(&mc, 0, offsetof(struct mv_chain, bufs));
			mc.head = it.head;
			mc.writable_len = it.writable;
			int rr = vq_push(&vq, &rc, written);
			bool mr = mv_push(&q, &mc, written);
			if ((rr == 0) != mr)
				FAIL("step %zu push head %u (%u bytes): real %d (%s), model %s (%s)", i, it.head,
				     written, rr, vq.error, mr ? "ok" : "stopped", mv_error_name(q.why));
			if (rr != 0 && !same_class(q.why, vq_diff_classify(vq.error)))
				FAIL("step %zu push stops the queue: real \"%s\", model %s", i, vq.error,
				     mv_error_name(q.why));
			break;
		}
		case 4: {
			st->notifies++;
			bool rn = vq_should_notify(&vq), mn = mv_should_notify(&q);
			if (rn != mn)
				FAIL("step %zu should_notify: real %d, model %d", i, rn, mn);
			break;
		}
		case 5: case 6:
			vq_set_notification(&vq, (op & 7) == 5);
			mv_set_notification(&q, (op & 7) == 5);
			break;
		case 7: {
			/* The driver's own store; both memories get it. */
			uint16_t idx;
			memcpy(&idx, ram + s->avail + 2, 2);
			idx = (uint16_t)(idx + 1 + ((op >> 3) & 3));
			memcpy(ram + s->avail + 2, &idx, 2);
			memcpy(model_ram + s->avail + 2, &idx, 2);
			break;
		}
		}
		if (vq.broken != q.stopped)
			FAIL("step %zu: real queue %s, model queue %s", i, vq.broken ? "broken" : "working",
			     q.stopped ? "stopped" : "working");
	}
	if (q.stopped) {
		st->stops++;
		st->by_error[q.why]++;
	}
	if (memcmp(ram, model_ram, s->ram) != 0) {
		size_t at = 0;
		while (ram[at] == model_ram[at])
			at++;
		FAIL("final memory differs first at gpa 0x%zx: real %02x, model %02x", at, ram[at],
		     model_ram[at]);
	}
out:
	munmap(area, total);
	free(model_ram);
	free(fl);
	return ok;
}
