/* tests/guest/smp.c - see smp.h. Layouts: Intel MP spec 1.4, chapter 4. */
#include "smp.h"

#include <stdint.h>

#include "hw.h"

#define LAPIC 0xfee00000ull
#define LAPIC_SVR (LAPIC + 0xf0)
#define LAPIC_ICR_LO (LAPIC + 0x300)
#define LAPIC_ICR_HI (LAPIC + 0x310)
#define ICR_BUSY (1u << 12)
#define ICR_INIT 0x00004500u /* INIT, level assert */
#define ICR_SIPI 0x00004600u /* start-up, level assert; | vector */
#define SIPI_VECTOR (SMP_TRAMPOLINE >> 12)

#define MP_SIG 0x5f504d5fu   /* "_MP_" */
#define PCMP_SIG 0x504d4350u /* "PCMP" */

extern const uint8_t tramp_start[], tramp_end[];

static uint8_t sum(const uint8_t *p, unsigned n)
{
	uint8_t s = 0;
	for (unsigned i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static uint32_t rd32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static const uint8_t *scan(uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a < end; a += 16) {
		const uint8_t *p = gpa(a);
		if (rd32(p) == MP_SIG && p[8] == 1 && sum(p, 16) == 0)
			return p;
	}
	return 0;
}

unsigned smp_find_cpus(unsigned *ids, unsigned max, int *found)
{
	*found = 0;
	const uint8_t *f = scan(0x9fc00, 0xa0000);
	if (!f)
		f = scan(0xf0000, 0x100000);
	uint32_t cfg = f ? rd32(f + 4) : 0;
	const uint8_t *t = gpa(cfg);
	/* The configuration table must be sane before any entry is believed. */
	if (!f || cfg < 0x1000 || cfg >= 0x100000 || rd32(t) != PCMP_SIG) {
		ids[0] = apic_id();
		return 1;
	}
	unsigned len = t[4] | t[5] << 8, count = t[34] | t[35] << 8;
	if (len < 44 || len > 0x10000 || sum(t, len) != 0) {
		ids[0] = apic_id();
		return 1;
	}
	*found = 1;
	unsigned n = 0, off = 44;
	for (unsigned i = 0; i < count && off < len; i++) {
		const uint8_t *e = t + off;
		if (e[0] == 0) {
			if ((e[3] & 1) && n < max)
				ids[n++] = e[1];
			off += 20;
		} else {
			off += 8;
		}
	}
	if (n == 0)
		ids[n++] = apic_id();
	return n;
}

static void icr_wait(void)
{
	for (int i = 0; i < 1000 && (mmio_read32(LAPIC_ICR_LO) & ICR_BUSY); i++)
		cpu_relax();
}

static void icr_send(unsigned id, uint32_t lo)
{
	icr_wait();
	mmio_write32(LAPIC_ICR_HI, (uint32_t)id << 24);
	mmio_write32(LAPIC_ICR_LO, lo);
}

void smp_prepare(void)
{
	uint8_t *dst = gpa(SMP_TRAMPOLINE);
	for (const uint8_t *s = tramp_start; s < tramp_end; s++)
		*dst++ = *s;
	/* Software-enable the APIC (spurious vector 0xff); IF stays clear. */
	mmio_write32(LAPIC_SVR, 0x1ff);
}

void smp_start_ap(unsigned id)
{
	/* Real hardware wants 10 ms after INIT and 200 us between SIPIs; a
	 * virtual APIC acts at once and this guest has no calibrated clock. The
	 * second SIPI is the spec's retry and is ignored by a started CPU. */
	icr_send(id, ICR_INIT);
	icr_send(id, ICR_SIPI | SIPI_VECTOR);
	icr_send(id, ICR_SIPI | SIPI_VECTOR);
}
