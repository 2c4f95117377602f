/* fuzz/virtqueue.c - a split virtqueue image and a device/driver step list
 * through devices/virtqueue.c, with guest RAM between PROT_NONE guard areas,
 * against the model (tests/lib/vq_diff.h does both and compares).
 *
 * Input: 8-byte header {u8 log2 size (mod 16, 16 = 32768 via 15), u8
 * features (bit 0 indirect, bit 1 event_idx), u8 steps n, u8 ring layout
 * selector, u32 reserved}, then n step bytes, then the first bytes of guest
 * RAM (64 KiB, rest zero). The rings sit back to back from gpa 0 (desc,
 * then avail, then used), so a short input already holds all three; layout
 * selector bits misalign one of them (bit 0 desc, bit 1 avail, bit 2 used).
 * Oracle: no crash, no access outside guest RAM (guard pages), the real
 * walker and the model agree on every step and on the final RAM image. */
#include "harness.h"

#include <string.h>

#include "tests/lib/vq_diff.h"
#include "base/log.h"

#define RAM (64u << 10)

static uint8_t image[RAM];

void fuzz_init(void)
{
	log_set_level(LOG_ERROR);
}

void fuzz_one(const uint8_t *data, size_t len)
{
	if (len < 8)
		return;
	unsigned lg = data[0] & 15;
	struct vq_scenario s = {
		.size = (uint16_t)(lg > 12 ? 1u << 12 : 1u << lg),
		.indirect = data[1] & 1,
		.event_idx = data[1] & 2,
		.ram = RAM,
		.image = image,
	};
	uint8_t sel = data[3];
	s.desc = sel & 1 ? 8 : 0;
	s.avail = 16ull * s.size + 16 + (sel & 2 ? 1 : 0);
	s.used = ((s.avail + 6 + 2ull * s.size + 3) & ~3ull) + (sel & 4 ? 2 : 0);
	if (data[1] & 4)
		s.size = (uint16_t)(s.size + 1); /* not a power of two */
	if (data[1] & 8)
		s.used = RAM - 2; /* rings outside */
	size_t nsteps = data[2];
	if (8 + nsteps > len)
		nsteps = len - 8;
	s.steps = data + 8;
	s.nsteps = nsteps;
	size_t rest = len - 8 - nsteps;
	memset(image, 0, sizeof(image));
	memcpy(image, data + 8 + nsteps, rest < RAM ? rest : RAM);
	char why[512];
	if (!vq_diff_run(&s, why, sizeof(why), NULL))
		fuzz_fail("virtqueue: real code and model disagree: %s", why);
}
