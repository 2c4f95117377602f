/* Guest memory: layout and the one bounds-checked accessor. */
#include "testutil.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/guest_mem.h"

static void test_create_rejects_bad_sizes(void **s)
{
	struct guest_mem gm;
	assert_int_equal(gm_create(&gm, 0), -EINVAL);
	assert_int_equal(gm_create(&gm, 4095), -EINVAL);
	assert_int_equal(gm_create(&gm, (1 << 20) + 1), -EINVAL);
}

static void test_small_guest_is_one_low_region(void **s)
{
	struct guest_mem gm;
	assert_int_equal(gm_create(&gm, 16 << 20), 0);
	assert_int_equal(gm.nregions, 1);
	assert_int_equal(gm.regions[0].gpa, 0);
	assert_int_equal(gm.regions[0].len, 16 << 20);
	assert_true(gm.fd >= 0);
	assert_int_equal(gm_low_end(&gm), 16 << 20);
	gm_destroy(&gm);
}

static void test_large_guest_splits_around_hole(void **s)
{
	struct guest_mem gm;
	uint64_t size = GM_MMIO_HOLE_START + (64ull << 20);
	assert_int_equal(gm_create(&gm, size), 0);
	assert_int_equal(gm.nregions, 2);
	assert_int_equal(gm.regions[0].len, GM_MMIO_HOLE_START);
	assert_int_equal(gm.regions[1].gpa, GM_HIGH_RAM_START);
	assert_int_equal(gm.regions[1].len, 64ull << 20);
	/* The hole itself is not RAM. */
	assert_false(gm_valid(&gm, GM_MMIO_HOLE_START, 1));
	assert_false(gm_valid(&gm, GM_HIGH_RAM_START - 1, 2));
	assert_true(gm_valid(&gm, GM_HIGH_RAM_START, 4096));
	/* A byte written above 4 GiB lands at the right memfd offset. */
	uint8_t b = 0x5a;
	assert_int_equal(gm_write(&gm, GM_HIGH_RAM_START + 8, &b, 1), 0);
	assert_int_equal(gm.host[GM_MMIO_HOLE_START + 8], 0x5a);
	gm_destroy(&gm);
}

static void test_bounds(void **s)
{
	struct guest_mem gm;
	uint64_t size = 1 << 20;
	assert_int_equal(gm_create(&gm, size), 0);
	uint8_t buf[16] = { 1, 2, 3 };
	assert_non_null(gm_span(&gm, size - 16, 16));
	assert_null(gm_span(&gm, size - 15, 16));
	assert_null(gm_span(&gm, size, 1));
	assert_null(gm_span(&gm, 0, 0));
	/* Wrap-around: an address near 2^64 plus a length must not pass. */
	assert_null(gm_span(&gm, UINT64_MAX - 3, 16));
	assert_null(gm_span(&gm, 8, UINT64_MAX));
	assert_null(gm_span(&gm, 0, size + 1));
	assert_int_equal(gm_write(&gm, size - 8, buf, 16), -EFAULT);
	assert_int_equal(gm_read(&gm, UINT64_MAX, buf, 2), -EFAULT);
	assert_int_equal(gm_fill(&gm, size - 1, 0, 2), -EFAULT);
	/* A refused write changes nothing, not even the part in range. */
	assert_int_equal(gm.host[size - 8], 0);
	assert_int_equal(gm_write(&gm, 100, buf, 3), 0);
	uint8_t back[3];
	assert_int_equal(gm_read(&gm, 100, back, 3), 0);
	assert_memory_equal(back, buf, 3);
	assert_int_equal(gm_read(&gm, 0, back, 0), 0);
	gm_destroy(&gm);
}

static void test_memfd_is_shareable(void **s)
{
	struct guest_mem gm;
	assert_int_equal(gm_create(&gm, 1 << 20), 0);
	uint8_t *other = mmap(NULL, 1 << 20, PROT_READ, MAP_SHARED, gm.fd, 0);
	assert_ptr_not_equal(other, MAP_FAILED);
	uint32_t v = 0xdeadbeef;
	assert_int_equal(gm_write(&gm, 4096, &v, 4), 0);
	assert_memory_equal(other + 4096, &v, 4);
	munmap(other, 1 << 20);
	gm_destroy(&gm);
}

static void test_external_regions_checked(void **s)
{
	static uint8_t mem[8192];
	struct guest_mem gm;
	struct gm_region ok = { .gpa = 0x10000, .len = 8192, .offset = 0 };
	assert_int_equal(gm_init_external(&gm, mem, sizeof(mem), &ok, 1), 0);
	assert_ptr_equal(gm_span(&gm, 0x10000, 1), mem);
	assert_null(gm_span(&gm, 0xffff, 2));
	gm_destroy(&gm); /* does not free external memory */
	struct gm_region too_long = { .gpa = 0, .len = 8193, .offset = 0 };
	assert_int_equal(gm_init_external(&gm, mem, sizeof(mem), &too_long, 1), -EINVAL);
	struct gm_region bad_off = { .gpa = 0, .len = 1, .offset = 8192 };
	assert_int_equal(gm_init_external(&gm, mem, sizeof(mem), &bad_off, 1), -EINVAL);
	struct gm_region wraps = { .gpa = UINT64_MAX - 10, .len = 100, .offset = 0 };
	assert_int_equal(gm_init_external(&gm, mem, sizeof(mem), &wraps, 1), -EINVAL);
	assert_int_equal(gm_init_external(&gm, NULL, sizeof(mem), &ok, 1), -EINVAL);
	assert_int_equal(gm_init_external(&gm, mem, sizeof(mem), &ok, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_rejects_bad_sizes),
		cmocka_unit_test(test_small_guest_is_one_low_region),
		cmocka_unit_test(test_large_guest_splits_around_hole),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_memfd_is_shareable),
		cmocka_unit_test(test_external_regions_checked),
	};
	return cmocka_run_group_tests_name("guest_mem", tests, NULL, NULL);
}
