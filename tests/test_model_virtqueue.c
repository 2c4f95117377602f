/* Differential test: devices/virtqueue.c against model/virtqueue_model.c on
 * seeded random queue images (mostly well-formed chains, direct and
 * indirect, with targeted corruptions) and random device/driver step lists
 * (tests/lib/vq_diff.h). A disagreement prints the seed and a shrunk step
 * list. MODEL_SEED=<n> replays one seed. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/vq_diff.h"
#include "base/log.h"

#define RAM (64u << 10)
#define DATA 0x4000u

static uint64_t rng_state;
static uint32_t rnd(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}
static bool chance(unsigned percent) { return rnd() % 100 < percent; }

static uint8_t image[RAM];
static uint8_t steps[64];

static void put16(uint64_t a, uint16_t v) { memcpy(image + a, &v, 2); }
static void put_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
	uint8_t *d = image + table + 16ull * i;
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* A buffer address and length: usually inside the data area, sometimes at
 * or past the end of RAM, or wrapping. */
static void random_buf(uint64_t *addr, uint32_t *len)
{
	*len = chance(5) ? 0 : 1 + rnd() % 600;
	*addr = DATA + rnd() % (RAM - DATA - 700);
	if (chance(3)) *addr = RAM - (rnd() % 8);
	if (chance(1)) *addr = UINT64_MAX - (rnd() % 4);
	if (chance(1)) *len = UINT32_MAX;
}

static void random_scenario(struct vq_scenario *s)
{
	memset(image, 0, sizeof(image));
	for (int i = 0; i < 64; i++) /* some noise in the data area */
		image[DATA + rnd() % (RAM - DATA)] = (uint8_t)rnd();
	static const uint16_t sizes[] = { 1, 2, 4, 8, 16, 16, 256 };
	s->size = sizes[rnd() % 7];
	if (chance(2)) s->size = (uint16_t)(3 + rnd() % 5); /* not a power of two */
	s->desc = 0x1000;
	s->avail = 0x2000;
	s->used = 0x3000;
	if (chance(2)) s->desc += 8;                 /* misaligned */
	if (chance(1)) s->used = RAM - 4;            /* outside */
	s->indirect = chance(70);
	s->event_idx = chance(50);
	unsigned size = s->size ? s->size : 1;
	/* Chains over distinct descriptors, readable parts first. */
	unsigned nchains = 1 + rnd() % (size < 6 ? size : 6), used_desc = 0;
	uint64_t ind_next = RAM - 0x800; /* indirect tables at the top of RAM */
	for (unsigned k = 0; k < nchains && used_desc < size; k++) {
		unsigned len = 1 + rnd() % 4, first = used_desc;
		if (len > size - used_desc) len = size - used_desc;
		unsigned nwrite = rnd() % (len + 1);
		for (unsigned j = 0; j < len; j++) {
			unsigned i = first + j;
			uint64_t a; uint32_t l;
			random_buf(&a, &l);
			uint16_t flags = (uint16_t)((j + 1 < len ? 1 : 0) | (j >= len - nwrite ? 2 : 0));
			if (j + 1 == len && chance(20) && ind_next + 64 <= RAM) {
				/* The last descriptor points at an indirect table. */
				unsigned n = 1 + rnd() % 4;
				for (unsigned t = 0; t < n; t++) {
					random_buf(&a, &l);
					put_desc(ind_next, t, a, l, (uint16_t)((t + 1 < n ? 1 : 0) | (chance(40) ? 2 : 0)),
					         (uint16_t)(t + 1));
				}
				a = ind_next;
				l = 16 * n;
				flags = 4;
				ind_next += 16 * n;
			}
			put_desc(s->desc, i, a, l, flags, (uint16_t)(i + 1));
		}
		put16(s->avail + 4 + 2 * k, (uint16_t)first);
		used_desc += len;
	}
	put16(s->avail + 2, (uint16_t)nchains);
	/* Corruptions, each rare. */
	unsigned ncorrupt = chance(40) ? 1 + rnd() % 3 : 0;
	for (unsigned c = 0; c < ncorrupt; c++) {
		uint64_t d = s->desc + 16ull * (rnd() % size);
		switch (rnd() % 8) {
		case 0: put16(d + 14, (uint16_t)(rnd() % (size + 2))); image[d + 12] |= 1; break; /* next / loop */
		case 1: image[d + 12] = (uint8_t)(rnd() % 8); break;                                /* flags */
		case 2: put16(s->avail + 4 + 2 * (rnd() % size), (uint16_t)(rnd() % (size + 2))); break;
		case 3: put16(s->avail + 2, (uint16_t)(rnd() % (2 * size + 3))); break;
		case 4: memset(image + d + 8, 0, 4); break;                                          /* len 0 */
		case 5: image[d + 8] = (uint8_t)(rnd() % 40); break;                                 /* odd len */
		case 6: image[ind_next - 16 + 12] = (uint8_t)(rnd() % 8); break;                     /* indirect entry */
		case 7: put16(s->avail + 2, (uint16_t)rnd()); break;
		}
	}
	if (chance(30)) put16(s->avail, 1);                          /* NO_INTERRUPT */
	if (chance(30)) put16(s->avail + 4 + 2ull * size, (uint16_t)(rnd() % 8)); /* used_event */
	s->image = image;
	s->ram = RAM;
	s->nsteps = 4 + rnd() % 40;
	for (size_t i = 0; i < s->nsteps; i++) {
		uint32_t r = rnd() % 100;
		uint8_t kind = r < 48 ? 0 : r < 65 ? 2 : r < 72 ? 3 : r < 85 ? 4 : r < 90 ? 5 : r < 94 ? 6 : 7;
		steps[i] = (uint8_t)(kind | (rnd() % 32) << 3);
		if (kind == 2 && chance(80))
			steps[i] = (uint8_t)(2 | 30 << 3); /* usually all of it */
	}
	s->steps = steps;
}

static void test_queue_images(void **state)
{
	const char *env = getenv("MODEL_SEED");
	uint64_t seed0 = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	int n = env ? 1 : 20000;
	struct vq_diff_stats st = { 0 };
	log_set_level(LOG_ERROR); /* every stopped queue warns once: thousands here */
	char why[512];
	for (int k = 0; k < n; k++) {
		uint64_t seed = seed0 + (uint64_t)k;
		rng_state = seed;
		struct vq_scenario s;
		random_scenario(&s);
		if (vq_diff_run(&s, why, sizeof(why), &st))
			continue;
		print_message("virtqueue: real code and model disagree; seed %llu (MODEL_SEED=%llu "
		              "replays it): %s\n", (unsigned long long)seed, (unsigned long long)seed, why);
		/* Shrink the step list: drop steps while it still disagrees. */
		for (bool progress = true; progress;) {
			progress = false;
			for (size_t i = 0; i < s.nsteps; i++) {
				uint8_t saved[64];
				memcpy(saved, steps, s.nsteps);
				memmove(steps + i, steps + i + 1, s.nsteps - i - 1);
				s.nsteps--;
				if (!vq_diff_run(&s, why, sizeof(why), NULL)) {
					progress = true;
					break;
				}
				s.nsteps++;
				memcpy(steps, saved, s.nsteps);
			}
		}
		vq_diff_run(&s, why, sizeof(why), NULL);
		print_message("minimal: size %u desc 0x%llx avail 0x%llx used 0x%llx indirect %d event_idx %d, "
		              "steps:", s.size, (unsigned long long)s.desc, (unsigned long long)s.avail,
		              (unsigned long long)s.used, s.indirect, s.event_idx);
		for (size_t i = 0; i < s.nsteps; i++)
			print_message(" %02x", steps[i]);
		print_message("\n  %s\n", why);
		fail();
	}
	print_message("virtqueue: %d queue images, %u pops (%u chains), %u pushes, %u notify "
	              "decisions, %u queues stopped; real == model (seeds %llu..%llu)\n  stops by class:",
	              n, st.pops, st.chains, st.pushes, st.notifies, st.stops,
	              (unsigned long long)seed0, (unsigned long long)(seed0 + n - 1));
	for (int e = 1; e < MV_E_COUNT; e++)
		if (st.by_error[e])
			print_message(" %s %u", mv_error_name((enum mv_error)e), st.by_error[e]);
	print_message("\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_images),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
