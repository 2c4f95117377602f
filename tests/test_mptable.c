/* tests/test_mptable.c - the MP table as a guest OS would parse it. */
#include "tests/testutil.h"

#include <errno.h>
#include <string.h>

#include "base/guest_mem.h"
#include "base/hv.h"
#include "vmm/mptable.h"

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Parse what mptable_write left in gm as an OS would and check it. */
static void check_table(const struct guest_mem *gm, unsigned cpus)
{
	const uint8_t *f = gm_span(gm, MPTABLE_FLOAT_GPA, MP_FLOAT_SIZE);
	assert_non_null(f);
	assert_memory_equal(f, "_MP_", 4);
	assert_int_equal(f[8], 1);
	assert_int_equal(f[9], 4);
	assert_int_equal(sum(f, MP_FLOAT_SIZE), 0);
	assert_int_equal(f[11], 0); /* configuration table present, not a default one */

	uint32_t cgpa = get32(f + 4);
	assert_int_equal(cgpa, mptable_config_gpa(cpus));
	const uint8_t *h = gm_span(gm, cgpa, MP_CONFIG_HEADER_SIZE);
	assert_non_null(h);
	assert_memory_equal(h, "PCMP", 4);
	uint16_t len = get16(h + 4);
	assert_int_equal(len, mptable_config_size(cpus));
	const uint8_t *t = gm_span(gm, cgpa, len);
	assert_non_null(t);
	assert_int_equal(sum(t, len), 0);
	assert_int_equal(t[6], 4);
	assert_int_equal(get32(t + 36), 0xfee00000u);
	if (cpus <= MPTABLE_EBDA_MAX_CPUS)
		assert_true(cgpa + len <= MPTABLE_EBDA_END);

	unsigned nproc = 0, nbus = 0, nioapic = 0, nioint = 0, nlint = 0, bsps = 0;
	const uint8_t *p = t + MP_CONFIG_HEADER_SIZE, *end = t + len;
	uint16_t count = get16(t + 34);
	for (unsigned i = 0; i < count; i++) {
		assert_true(p < end);
		switch (p[0]) {
		case 0:
			assert_int_equal(p[1], nproc); /* APIC ID = vCPU index */
			assert_true(p[3] & 1);
			if (p[3] & 2)
				bsps++;
			nproc++;
			p += MP_PROC_ENTRY_SIZE;
			break;
		case 1:
			assert_memory_equal(p + 2, "ISA   ", 6);
			nbus++;
			p += 8;
			break;
		case 2:
			assert_int_equal(p[1], cpus);
			assert_int_equal(get32(p + 4), 0xfec00000u);
			nioapic++;
			p += 8;
			break;
		case 3:
			assert_int_equal(p[1], 0);      /* INT */
			assert_int_equal(p[5], nioint); /* ISA IRQ n ... */
			assert_int_equal(p[6], cpus);   /* ... to the I/O APIC ... */
			assert_int_equal(p[7], nioint); /* ... pin n */
			nioint++;
			p += 8;
			break;
		case 4:
			assert_int_equal(p[6], 0xff);
			nlint++;
			p += 8;
			break;
		default:
			fail_msg("unknown entry type %u", p[0]);
		}
	}
	assert_ptr_equal(p, end);
	assert_int_equal(nproc, cpus);
	assert_int_equal(bsps, 1);
	assert_int_equal(t[MP_CONFIG_HEADER_SIZE + 3], 3); /* vCPU 0 is the BSP */
	assert_int_equal(nbus, 1);
	assert_int_equal(nioapic, 1);
	assert_int_equal(nioint, 16);
	assert_int_equal(nlint, 2);
}

static void test_counts(void **state)
{
	const unsigned counts[] = { 1, 2, 4, MPTABLE_EBDA_MAX_CPUS, MPTABLE_EBDA_MAX_CPUS + 1,
	                            HV_MAX_VCPUS };
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct guest_mem gm;
		assert_int_equal(gm_create(&gm, 1 << 20), 0);
		assert_int_equal(mptable_write(&gm, counts[i]), 0);
		check_table(&gm, counts[i]);
		gm_destroy(&gm);
	}
}

static void test_bad_cpu_count(void **state)
{
	struct guest_mem gm;
	assert_int_equal(gm_create(&gm, 1 << 20), 0);
	assert_int_equal(mptable_write(&gm, 0), -EINVAL);
	assert_int_equal(mptable_write(&gm, HV_MAX_VCPUS + 1), -EINVAL);
	assert_int_equal(mptable_write(NULL, 1), -EINVAL);
	const uint8_t *f = gm_span(&gm, MPTABLE_FLOAT_GPA, 4);
	assert_memory_not_equal(f, "_MP_", 4);
	gm_destroy(&gm);
}

static void test_memory_too_small(void **state)
{
	struct guest_mem gm;
	/* Ends below the EBDA. */
	assert_int_equal(gm_create(&gm, 0x9f000), 0);
	assert_int_equal(mptable_write(&gm, 1), -ENOSPC);
	gm_destroy(&gm);
	/* Covers the EBDA but not the BIOS area a big table needs: nothing at all
	 * may be written, not even the floating pointer. */
	assert_int_equal(gm_create(&gm, 0xa0000), 0);
	assert_int_equal(mptable_write(&gm, MPTABLE_EBDA_MAX_CPUS), 0);
	gm_fill(&gm, MPTABLE_FLOAT_GPA, 0, MPTABLE_EBDA_END - MPTABLE_FLOAT_GPA);
	assert_int_equal(mptable_write(&gm, MPTABLE_EBDA_MAX_CPUS + 1), -ENOSPC);
	const uint8_t *f = gm_span(&gm, MPTABLE_FLOAT_GPA, 4);
	assert_memory_not_equal(f, "_MP_", 4);
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_bad_cpu_count),
		cmocka_unit_test(test_memory_too_small),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
