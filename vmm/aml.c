/* vmm/aml.c - AML byte-code builder (see aml.h). Encodings follow ACPI 6.x
 * chapter 20 (AML grammar) and 6.4 (resource data types). */
#include "aml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/byteorder.h"

/* Large resource item tags (6.4.3) and small item tag bytes (6.4.2: tag in
 * bits 6-3, length in bits 2-0). */
#define RES_MEMORY32_FIXED 0x86
#define RES_EXT_IRQ 0x89
#define RES_IO 0x47        /* small item 0x08, length 7 */
#define RES_IRQ_NOFLAGS 0x22 /* small item 0x04, length 2 */
#define RES_END_TAG 0x79   /* small item 0x0f, length 1 */

/* Resource descriptor fields that are not the caller's values. */
/* 32-Bit Fixed Memory Range (6.4.3.4): length after the 3-byte header:
 * information byte, base, length. */
#define MEM32_FIXED_LENGTH 9
#define MEM32_READ_WRITE 0x01 /* information byte bit 0 */
/* I/O Port (6.4.2.5) information byte. */
#define IO_DECODE16 0x01
/* Extended Interrupt (6.4.3.6): length after the header: flags, interrupt
 * table length, one DWord interrupt number; no resource source. */
#define EXT_IRQ_LENGTH 6
#define EXT_IRQ_CONSUMER 0x01
#define EXT_IRQ_EDGE 0x02
#define EXT_IRQ_ACTIVE_LOW 0x04
#define EXT_IRQ_SHARED 0x08
#define EXT_IRQ_ONE 1 /* interrupt table length */
/* IRQ Descriptor without flags (6.4.2.1): a mask of ISA IRQs 0-15. */
#define IRQ_MAX 15
/* End Tag (6.4.2.9): a checksum of 0 tells the OS not to check the
 * template. */
#define END_TAG_NO_CHECKSUM 0x00

/* AML grammar (20.2) bytes that are not opcodes aml.h exports. */
#define NULL_NAME 0x00           /* NameString with no segment (20.2.2) */
#define NAME_SEG_LEN 4           /* NameSeg: a lead char and three name chars */
#define MAX_NAME_SEGS 255         /* MultiNamePrefix's SegCount is one byte */
#define METHOD_ARGC_MASK 0x07     /* MethodFlags (20.2.5.2) bits 0-2 */
#define METHOD_SERIALIZED 0x08    /* MethodFlags bit 3 */
#define METHOD_ARGC_MAX 7
/* PkgLength (20.2.4): the one-byte form holds 6 bits of length; in the
 * longer forms the lead byte's bits 7-6 count the bytes that follow and its
 * bits 3-0 hold the low 4 bits of the length, each following byte 8 more. */
#define PKGLEN_ONE_BYTE_MAX 0x3f
#define PKGLEN_COUNT_SHIFT 6
#define PKGLEN_LEAD_BITS 4
#define PKGLEN_LEAD_MASK 0x0f

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

int aml_error(const struct aml *a)
{
	return a->err;
}

static void fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

/* Make room for n more bytes; false (and a sticky error) if we cannot. */
static bool reserve(struct aml *a, size_t n)
{
	if (a->err)
		return false;
	if (n > SIZE_MAX - a->len) {
		fail(a, -E2BIG);
		return false;
	}
	if (a->len + n <= a->cap)
		return true;
	size_t cap = a->cap ? a->cap : 256;
	while (cap < a->len + n) {
		if (cap > SIZE_MAX / 2) {
			fail(a, -E2BIG);
			return false;
		}
		cap *= 2;
	}
	uint8_t *nb = realloc(a->buf, cap);
	if (!nb) {
		fail(a, -ENOMEM);
		return false;
	}
	a->buf = nb;
	a->cap = cap;
	return true;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (n == 0 || !reserve(a, n))
		return;
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

/* Emit v as a little-endian field (AML integers and resource fields). */
static void emit_le16(struct aml *a, uint16_t v)
{
	uint8_t b[2];
	le16_put(b, v);
	aml_bytes(a, b, sizeof(b));
}

static void emit_le32(struct aml *a, uint32_t v)
{
	uint8_t b[4];
	le32_put(b, v);
	aml_bytes(a, b, sizeof(b));
}

static void emit_le64(struct aml *a, uint64_t v)
{
	uint8_t b[8];
	le64_put(b, v);
	aml_bytes(a, b, sizeof(b));
}

size_t aml_pkglen_encode(size_t body, uint8_t out[AML_PKGLEN_BYTES_MAX])
{
	if (body > AML_PKGLEN_MAX)
		return 0;
	/* The longer forms hold 12, 20 and 28 bits (see PKGLEN_*). The total
	 * includes the encoding's own bytes. */
	for (size_t n = 1; n <= AML_PKGLEN_BYTES_MAX; n++) {
		size_t total = body + n;
		size_t limit = n == 1 ? PKGLEN_ONE_BYTE_MAX
		                      : ((size_t)1 << (PKGLEN_LEAD_BITS + 8 * (n - 1))) - 1;
		if (total > limit)
			continue;
		if (n == 1) {
			out[0] = (uint8_t)total;
		} else {
			out[0] = (uint8_t)(((n - 1) << PKGLEN_COUNT_SHIFT) | (total & PKGLEN_LEAD_MASK));
			for (size_t i = 1; i < n; i++)
				out[i] = (uint8_t)(total >> (PKGLEN_LEAD_BITS + 8 * (i - 1)));
		}
		return n;
	}
	return 0;
}

void aml_end(struct aml *a, size_t mark)
{
	if (a->err)
		return;
	if (mark > a->len) {
		fail(a, -EINVAL);
		return;
	}
	size_t body = a->len - mark;
	uint8_t enc[AML_PKGLEN_BYTES_MAX];
	size_t n = aml_pkglen_encode(body, enc);
	if (n == 0) {
		fail(a, -E2BIG);
		return;
	}
	if (!reserve(a, n))
		return;
	memmove(a->buf + mark + n, a->buf + mark, body);
	memcpy(a->buf + mark, enc, n);
	a->len += n;
}

static bool lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
	return lead_char(c) || (c >= '0' && c <= '9');
}

void aml_name_string(struct aml *a, const char *path)
{
	if (a->err)
		return;
	const char *p = path;
	bool prefixed = false;
	uint8_t prefix[256];
	size_t nprefix = 0;
	if (*p == '\\') {
		prefix[nprefix++] = AML_ROOT_CHAR;
		p++;
		prefixed = true;
	} else {
		while (*p == '^') {
			if (nprefix == sizeof(prefix)) {
				fail(a, -EINVAL);
				return;
			}
			prefix[nprefix++] = AML_PARENT_PREFIX;
			p++;
			prefixed = true;
		}
	}

	/* Parse and validate every segment before writing anything. */
	uint8_t segs[MAX_NAME_SEGS][NAME_SEG_LEN];
	size_t nseg = 0;
	while (*p) {
		if (nseg == MAX_NAME_SEGS) {
			fail(a, -EINVAL);
			return;
		}
		size_t k = 0;
		while (p[k] && p[k] != '.')
			k++;
		if (k == 0 || k > NAME_SEG_LEN || !lead_char(p[0])) {
			fail(a, -EINVAL);
			return;
		}
		for (size_t i = 0; i < NAME_SEG_LEN; i++) {
			char c = i < k ? p[i] : '_'; /* ASL pads short names with '_' */
			if (!name_char(c)) {
				fail(a, -EINVAL);
				return;
			}
			segs[nseg][i] = (uint8_t)c;
		}
		nseg++;
		p += k;
		if (*p == '.') {
			p++;
			if (!*p) { /* trailing dot */
				fail(a, -EINVAL);
				return;
			}
		}
	}
	if (nseg == 0 && !prefixed) {
		fail(a, -EINVAL);
		return;
	}

	aml_bytes(a, prefix, nprefix);
	if (nseg == 0) {
		aml_byte(a, NULL_NAME);
	} else if (nseg == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nseg > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nseg);
	}
	for (size_t i = 0; i < nseg; i++)
		aml_bytes(a, segs[i], NAME_SEG_LEN);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD_PREFIX);
		emit_le16(a, (uint16_t)v);
	} else if (v <= 0xffffffffu) {
		aml_byte(a, AML_DWORD_PREFIX);
		emit_le32(a, (uint32_t)v);
	} else {
		/* Needs a DSDT of revision >= 2 to be kept whole (64-bit integers). */
		aml_byte(a, AML_QWORD_PREFIX);
		emit_le64(a, v);
	}
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p > 0x7f) {
			fail(a, -EINVAL);
			return;
		}
	}
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int aml_eisa_id(const char *id, uint32_t *out)
{
	if (strlen(id) != 7)
		return -EINVAL;
	for (int i = 0; i < 3; i++)
		if (id[i] < 'A' || id[i] > 'Z')
			return -EINVAL;
	unsigned product = 0;
	for (int i = 3; i < 7; i++) {
		int h = hexval(id[i]);
		if (h < 0)
			return -EINVAL;
		product = product << 4 | (unsigned)h;
	}
	/* Three 5-bit letters ('A' = 1) packed big-endian into two bytes, then
	 * the product number big-endian; the result is read as a little-endian
	 * DWord. */
	unsigned vendor = (unsigned)(id[0] - 0x40) << 10 | (unsigned)(id[1] - 0x40) << 5 |
	                  (unsigned)(id[2] - 0x40);
	uint8_t b[4] = { (uint8_t)(vendor >> 8), (uint8_t)vendor, (uint8_t)(product >> 8),
		         (uint8_t)product };
	*out = b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
	return 0;
}

void aml_eisa_id_integer(struct aml *a, const char *id)
{
	uint32_t v;
	if (aml_eisa_id(id, &v) != 0) {
		fail(a, -EINVAL);
		return;
	}
	/* Always a DWord, as ASL's EisaId() is, whatever the value. */
	aml_byte(a, AML_DWORD_PREFIX);
	emit_le32(a, v);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_name_string(a, name);
}

void aml_name_integer(struct aml *a, const char *name, uint64_t v)
{
	aml_name(a, name);
	aml_integer(a, v);
}

void aml_name_string_value(struct aml *a, const char *name, const char *s)
{
	aml_name(a, name);
	aml_string(a, s);
}

void aml_name_hid(struct aml *a, const char *hid)
{
	uint32_t v;
	aml_name(a, "_HID");
	if (aml_eisa_id(hid, &v) == 0)
		aml_eisa_id_integer(a, hid);
	else
		aml_string(a, hid);
}

size_t aml_scope_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE_OP);
	size_t mark = a->len;
	aml_name_string(a, path);
	return mark;
}

size_t aml_device_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	size_t mark = a->len;
	aml_name_string(a, name);
	return mark;
}

size_t aml_method_begin(struct aml *a, const char *name, unsigned argc, bool serialized)
{
	aml_byte(a, AML_METHOD_OP);
	size_t mark = a->len;
	aml_name_string(a, name);
	if (argc > METHOD_ARGC_MAX)
		fail(a, -EINVAL);
	aml_byte(a, (uint8_t)((argc & METHOD_ARGC_MASK) | (serialized ? METHOD_SERIALIZED : 0)));
	return mark;
}

size_t aml_package_begin(struct aml *a, unsigned count)
{
	aml_byte(a, AML_PACKAGE_OP);
	size_t mark = a->len;
	if (count > 255)
		fail(a, -EINVAL);
	aml_byte(a, (uint8_t)count);
	return mark;
}

void aml_return(struct aml *a)
{
	aml_byte(a, AML_RETURN_OP);
}

void aml_buffer(struct aml *a, const void *bytes, size_t n)
{
	aml_byte(a, AML_BUFFER_OP);
	size_t mark = a->len;
	aml_integer(a, n);
	aml_bytes(a, bytes, n);
	aml_end(a, mark);
}

void aml_method_return_integer(struct aml *a, const char *name, uint64_t v)
{
	size_t m = aml_method_begin(a, name, 0, false);
	aml_return(a);
	aml_integer(a, v);
	aml_end(a, m);
}

void aml_res_memory32_fixed(struct aml *r, bool writable, uint32_t base, uint32_t len)
{
	aml_byte(r, RES_MEMORY32_FIXED);
	emit_le16(r, MEM32_FIXED_LENGTH);
	aml_byte(r, writable ? MEM32_READ_WRITE : 0);
	emit_le32(r, base);
	emit_le32(r, len);
}

void aml_res_io(struct aml *r, bool decode16, uint16_t min, uint16_t max, uint8_t align,
                uint8_t len)
{
	if (min > max) {
		fail(r, -EINVAL);
		return;
	}
	aml_byte(r, RES_IO);
	aml_byte(r, decode16 ? IO_DECODE16 : 0);
	emit_le16(r, min);
	emit_le16(r, max);
	aml_byte(r, align);
	aml_byte(r, len);
}

void aml_res_irq_noflags(struct aml *r, unsigned irq)
{
	if (irq > IRQ_MAX) {
		fail(r, -EINVAL);
		return;
	}
	aml_byte(r, RES_IRQ_NOFLAGS);
	emit_le16(r, (uint16_t)(1u << irq));
}

void aml_res_ext_irq(struct aml *r, bool consumer, bool edge, bool active_low, bool shared,
                     uint32_t gsi)
{
	aml_byte(r, RES_EXT_IRQ);
	emit_le16(r, EXT_IRQ_LENGTH);
	aml_byte(r, (uint8_t)((consumer ? EXT_IRQ_CONSUMER : 0) | (edge ? EXT_IRQ_EDGE : 0) |
	                      (active_low ? EXT_IRQ_ACTIVE_LOW : 0) | (shared ? EXT_IRQ_SHARED : 0)));
	aml_byte(r, EXT_IRQ_ONE);
	emit_le32(r, gsi);
}

void aml_resource_template(struct aml *a, const struct aml *r)
{
	if (r->err) {
		fail(a, r->err);
		return;
	}
	static const uint8_t end_tag[2] = { RES_END_TAG, END_TAG_NO_CHECKSUM };
	aml_byte(a, AML_BUFFER_OP);
	size_t mark = a->len;
	aml_integer(a, r->len + sizeof(end_tag));
	aml_bytes(a, r->buf, r->len);
	aml_bytes(a, end_tag, sizeof(end_tag));
	aml_end(a, mark);
}
