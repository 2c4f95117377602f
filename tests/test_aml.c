/* tests/test_aml.c - the AML builder's byte encodings, each against a
 * hand-worked example from the ACPI 6.x grammar (chapter 20) and resource
 * descriptor layouts (6.4). */
#include "tests/testutil.h"

#include <errno.h>
#include <string.h>

#include "vmm/aml.h"

/* Assert a's bytes are exactly the expected ones. */
#define EXPECT_BYTES(a, ...)                                                    \
	do {                                                                    \
		static const uint8_t exp_[] = { __VA_ARGS__ };                  \
		assert_int_equal(aml_error(a), 0);                              \
		assert_int_equal((a)->len, sizeof(exp_));                       \
		assert_memory_equal((a)->buf, exp_, sizeof(exp_));              \
	} while (0)

static void check_pkglen(size_t body, size_t n, const uint8_t *exp)
{
	uint8_t out[AML_PKGLEN_BYTES_MAX] = { 0 };
	assert_int_equal(aml_pkglen_encode(body, out), n);
	assert_memory_equal(out, exp, n);
	/* Decode it back the way an interpreter does. */
	size_t total = n == 1 ? out[0] : out[0] & 0x0f;
	for (size_t i = 1; i < n; i++)
		total |= (size_t)out[i] << (4 + 8 * (i - 1));
	assert_int_equal(total, body + n);
}

static void test_pkglen_all_sizes(void **state)
{
	(void)state;
	/* One byte: 6 bits, total counts the length byte itself. */
	check_pkglen(0, 1, (const uint8_t[]){ 0x01 });
	check_pkglen(62, 1, (const uint8_t[]){ 0x3f });
	/* 63 + 1 = 64 does not fit 6 bits: two bytes, total 65 = 0x041. */
	check_pkglen(63, 2, (const uint8_t[]){ 0x41, 0x04 });
	check_pkglen(4093, 2, (const uint8_t[]){ 0x4f, 0xff });
	/* Three bytes: total 4097 = 0x01001. */
	check_pkglen(4094, 3, (const uint8_t[]){ 0x81, 0x00, 0x01 });
	check_pkglen(0xffffc, 3, (const uint8_t[]){ 0x8f, 0xff, 0xff });
	/* Four bytes: total 0x100001. */
	check_pkglen(0xffffd, 4, (const uint8_t[]){ 0xc1, 0x00, 0x00, 0x01 });
	check_pkglen(0x0ffffffb, 4, (const uint8_t[]){ 0xcf, 0xff, 0xff, 0xff });
	uint8_t out[4];
	assert_int_equal(aml_pkglen_encode(0x0ffffffc, out), 0);
	assert_int_equal(aml_pkglen_encode(SIZE_MAX, out), 0);
}

static void test_pkglen_in_nested_scope(void **state)
{
	(void)state;
	struct aml a;
	aml_init(&a);
	/* 20 x Name(Xnnn, One) = 120 bytes + "\_SB_" (5) = 125; total 127. */
	size_t s = aml_scope_begin(&a, "\\_SB");
	for (int i = 0; i < 20; i++) {
		char n[5] = { 'X', '0', (char)('0' + i / 10), (char)('0' + i % 10), 0 };
		aml_name_integer(&a, n, 1);
	}
	aml_end(&a, s);
	assert_int_equal(aml_error(&a), 0);
	assert_int_equal(a.len, 128);
	static const uint8_t head[] = { 0x10, 0x4f, 0x07, 0x5c, 0x5f, 0x53, 0x42, 0x5f,
		                        0x08, 'X', '0', '0', '0', 0x01 };
	assert_memory_equal(a.buf, head, sizeof(head));
	aml_free(&a);

	/* A 5000-byte body inside a Device inside a Scope: three-byte PkgLengths
	 * at both levels, inserted innermost first. */
	aml_init(&a);
	s = aml_scope_begin(&a, "_SB");
	size_t d = aml_device_begin(&a, "DEV0");
	static uint8_t zeros[5000];
	aml_bytes(&a, zeros, sizeof(zeros));
	aml_end(&a, d);
	aml_end(&a, s);
	assert_int_equal(aml_error(&a), 0);
	/* Device: 4 + 5000 = 5004 body, total 5007 = 0x0138f -> 8f 38 01.
	 * Scope: 4 + (2 + 3 + 5004) = 5013 body, total 5016 = 0x01398. */
	static const uint8_t exp[] = { 0x10, 0x88, 0x39, 0x01, '_', 'S', 'B', '_',
		                       0x5b, 0x82, 0x8f, 0x38, 0x01, 'D', 'E', 'V', '0' };
	assert_memory_equal(a.buf, exp, sizeof(exp));
	assert_int_equal(a.len, 1 + 3 + 5013);
	aml_free(&a);
}

static void test_name_strings(void **state)
{
	(void)state;
	struct aml a;
	aml_init(&a);
	aml_name_string(&a, "_SB");
	EXPECT_BYTES(&a, '_', 'S', 'B', '_');
	aml_free(&a);

	aml_init(&a);
	aml_name_string(&a, "\\_SB.PCI0");
	EXPECT_BYTES(&a, 0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0');
	aml_free(&a);

	aml_init(&a);
	aml_name_string(&a, "\\_SB.PCI0.ISA");
	EXPECT_BYTES(&a, 0x5c, 0x2f, 0x03, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'I', 'S',
	             'A', '_');
	aml_free(&a);

	aml_init(&a);
	aml_name_string(&a, "^^FOO");
	EXPECT_BYTES(&a, 0x5e, 0x5e, 'F', 'O', 'O', '_');
	aml_free(&a);

	aml_init(&a);
	aml_name_string(&a, "\\");
	EXPECT_BYTES(&a, 0x5c, 0x00);
	aml_free(&a);

	const char *bad[] = { "", "1ABC", "abcd", "ABCDE", "A..B", "AB.", ".AB", "A-B" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a);
		aml_name_string(&a, bad[i]);
		assert_int_equal(aml_error(&a), -EINVAL);
		assert_int_equal(a.len, 0); /* nothing half-written */
		aml_free(&a);
	}
}

static void test_integers(void **state)
{
	(void)state;
	struct {
		uint64_t v;
		size_t n;
		uint8_t b[9];
	} cases[] = {
		{ 0, 1, { 0x00 } },
		{ 1, 1, { 0x01 } },
		{ 2, 2, { 0x0a, 0x02 } },
		{ 0xff, 2, { 0x0a, 0xff } },
		{ 0x100, 3, { 0x0b, 0x00, 0x01 } },
		{ 0xffff, 3, { 0x0b, 0xff, 0xff } },
		{ 0x10000, 5, { 0x0c, 0x00, 0x00, 0x01, 0x00 } },
		{ 0xd0000000, 5, { 0x0c, 0x00, 0x00, 0x00, 0xd0 } },
		{ 0x100000000ull, 9, { 0x0e, 0, 0, 0, 0, 1, 0, 0, 0 } },
		{ UINT64_MAX, 9, { 0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aml a;
		aml_init(&a);
		aml_integer(&a, cases[i].v);
		assert_int_equal(a.len, cases[i].n);
		assert_memory_equal(a.buf, cases[i].b, cases[i].n);
		aml_free(&a);
	}
}

static void test_string_and_ids(void **state)
{
	(void)state;
	struct aml a;
	aml_init(&a);
	aml_string(&a, "ABC");
	EXPECT_BYTES(&a, 0x0d, 'A', 'B', 'C', 0x00);
	aml_free(&a);

	/* EISA ids: 'P'=0x10, 'N'=0x0e, 'P'=0x10 -> 0x41d0 big-endian, then the
	 * product 0x0501 big-endian: bytes 41 d0 05 01. */
	uint32_t v;
	assert_int_equal(aml_eisa_id("PNP0501", &v), 0);
	assert_int_equal(v, 0x0105d041u);
	assert_int_equal(aml_eisa_id("PNP0A03", &v), 0);
	assert_int_equal(v, 0x030ad041u);
	assert_int_equal(aml_eisa_id("PNP050", &v), -EINVAL);
	assert_int_equal(aml_eisa_id("pnp0501", &v), -EINVAL);
	assert_int_equal(aml_eisa_id("PNP05G1", &v), -EINVAL);

	aml_init(&a);
	aml_name_hid(&a, "PNP0501");
	EXPECT_BYTES(&a, 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01);
	aml_free(&a);

	aml_init(&a);
	aml_name_hid(&a, "LNRO0005");
	EXPECT_BYTES(&a, 0x08, '_', 'H', 'I', 'D', 0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5',
	             0x00);
	aml_free(&a);

	aml_init(&a);
	aml_name_integer(&a, "_UID", 3);
	EXPECT_BYTES(&a, 0x08, '_', 'U', 'I', 'D', 0x0a, 0x03);
	aml_free(&a);
}

static void test_scope_device_method(void **state)
{
	(void)state;
	struct aml a;
	aml_init(&a);
	aml_end(&a, aml_scope_begin(&a, "\\_SB"));
	EXPECT_BYTES(&a, 0x10, 0x06, 0x5c, '_', 'S', 'B', '_');
	aml_free(&a);

	/* Device(COM1){Name(_UID, One)}: body 4 + 6 = 10, PkgLength 11. */
	aml_init(&a);
	size_t d = aml_device_begin(&a, "COM1");
	aml_name_integer(&a, "_UID", 1);
	aml_end(&a, d);
	EXPECT_BYTES(&a, 0x5b, 0x82, 0x0b, 'C', 'O', 'M', '1', 0x08, '_', 'U', 'I', 'D', 0x01);
	aml_free(&a);

	/* Method(_STA, 0, NotSerialized){Return(0x0F)}: body 4 + 1 + 3 = 8. */
	aml_init(&a);
	aml_method_return_integer(&a, "_STA", 0x0f);
	EXPECT_BYTES(&a, 0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f);
	aml_free(&a);

	/* Method(FOO, 1, Serialized){Return(Zero)}: flags 0x09. */
	aml_init(&a);
	size_t m = aml_method_begin(&a, "FOO", 1, true);
	aml_return(&a);
	aml_integer(&a, 0);
	aml_end(&a, m);
	EXPECT_BYTES(&a, 0x14, 0x08, 'F', 'O', 'O', '_', 0x09, 0xa4, 0x00);
	aml_free(&a);

	aml_init(&a);
	aml_method_begin(&a, "FOO", 8, false);
	assert_int_equal(aml_error(&a), -EINVAL);
	aml_free(&a);
}

static void test_package_and_buffer(void **state)
{
	(void)state;
	struct aml a;
	/* Name(_S5_, Package(4){5, 5, Zero, Zero}): body 1 + 2 + 2 + 1 + 1 = 7. */
	aml_init(&a);
	aml_name(&a, "_S5_");
	size_t p = aml_package_begin(&a, 4);
	aml_integer(&a, 5);
	aml_integer(&a, 5);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_end(&a, p);
	EXPECT_BYTES(&a, 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05,
	             0x00, 0x00);
	aml_free(&a);

	/* Buffer(3){1, 2, 3}: body = BufferSize (0a 03) + 3 bytes = 5. */
	aml_init(&a);
	aml_buffer(&a, (const uint8_t[]){ 1, 2, 3 }, 3);
	EXPECT_BYTES(&a, 0x11, 0x06, 0x0a, 0x03, 0x01, 0x02, 0x03);
	aml_free(&a);

	aml_init(&a);
	aml_package_begin(&a, 256);
	assert_int_equal(aml_error(&a), -EINVAL);
	aml_free(&a);
}

static void test_resource_descriptors(void **state)
{
	(void)state;
	struct aml r, a;

	aml_init(&r);
	aml_res_memory32_fixed(&r, true, 0xd0000000u, 0x200);
	EXPECT_BYTES(&r, 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x02, 0x00, 0x00);
	aml_free(&r);

	aml_init(&r);
	aml_res_io(&r, true, 0x3f8, 0x3f8, 1, 8);
	EXPECT_BYTES(&r, 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08);
	aml_free(&r);

	aml_init(&r);
	aml_res_irq_noflags(&r, 4);
	EXPECT_BYTES(&r, 0x22, 0x10, 0x00);
	aml_free(&r);

	/* Interrupt(ResourceConsumer, Level, ActiveHigh, Exclusive){16}. */
	aml_init(&r);
	aml_res_ext_irq(&r, true, false, false, false, 16);
	EXPECT_BYTES(&r, 0x89, 0x06, 0x00, 0x01, 0x01, 0x10, 0x00, 0x00, 0x00);
	aml_free(&r);

	/* Interrupt(ResourceProducer, Edge, ActiveLow, Shared){5}. */
	aml_init(&r);
	aml_res_ext_irq(&r, false, true, true, true, 5);
	EXPECT_BYTES(&r, 0x89, 0x06, 0x00, 0x0e, 0x01, 0x05, 0x00, 0x00, 0x00);
	aml_free(&r);

	aml_init(&r);
	aml_res_irq_noflags(&r, 16);
	assert_int_equal(aml_error(&r), -EINVAL);
	aml_free(&r);

	/* ResourceTemplate(){Memory32Fixed + Interrupt}: 12 + 9 + EndTag 2 = 23
	 * bytes; Buffer body = BufferSize (0a 17) + 23 = 25, PkgLength 26. */
	aml_init(&r);
	aml_init(&a);
	aml_res_memory32_fixed(&r, true, 0xd0000000u, 0x200);
	aml_res_ext_irq(&r, true, false, false, false, 16);
	aml_name(&a, "_CRS");
	aml_resource_template(&a, &r);
	EXPECT_BYTES(&a, 0x08, '_', 'C', 'R', 'S', 0x11, 0x1a, 0x0a, 0x17,
	             0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x02, 0x00, 0x00,
	             0x89, 0x06, 0x00, 0x01, 0x01, 0x10, 0x00, 0x00, 0x00,
	             0x79, 0x00);
	aml_free(&r);
	aml_free(&a);

	/* An empty template is just the end tag. */
	aml_init(&r);
	aml_init(&a);
	aml_resource_template(&a, &r);
	EXPECT_BYTES(&a, 0x11, 0x05, 0x0a, 0x02, 0x79, 0x00);
	aml_free(&r);
	aml_free(&a);
}

static void test_errors_are_sticky(void **state)
{
	(void)state;
	struct aml a;
	aml_init(&a);
	aml_integer(&a, 7);
	size_t d = aml_device_begin(&a, "bad!");
	aml_name_integer(&a, "_UID", 1);
	aml_end(&a, d);
	assert_int_equal(aml_error(&a), -EINVAL);
	/* Nothing after the error was written. */
	assert_true(a.len <= 4);

	/* A resource list's error carries into the template's buffer. */
	struct aml r, b;
	aml_init(&r);
	aml_init(&b);
	aml_res_irq_noflags(&r, 99);
	aml_resource_template(&b, &r);
	assert_int_equal(aml_error(&b), -EINVAL);
	aml_free(&r);
	aml_free(&b);
	aml_free(&a);

	/* A mark past the end is a caller bug, reported not followed. */
	aml_init(&a);
	aml_end(&a, 10);
	assert_int_equal(aml_error(&a), -EINVAL);
	aml_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkglen_all_sizes),
		cmocka_unit_test(test_pkglen_in_nested_scope),
		cmocka_unit_test(test_name_strings),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_string_and_ids),
		cmocka_unit_test(test_scope_device_method),
		cmocka_unit_test(test_package_and_buffer),
		cmocka_unit_test(test_resource_descriptors),
		cmocka_unit_test(test_errors_are_sticky),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
