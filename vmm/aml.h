/* vmm/aml.h - a small builder for ACPI Machine Language (AML) byte code.
 *
 * Owns: the AML encodings the vmm's DSDT needs (ACPI 6.x chapter 20): PkgLength
 * in all four sizes, NameSeg / NameString (root and parent prefixes, dual and
 * multi name paths), integers in their shortest form (ZeroOp, OneOp, Byte,
 * Word, DWord, QWord prefixes), strings, packages, buffers, Scope, Device,
 * Name, Method with Return, EISA id compression, and resource templates
 * (Memory32Fixed, IO, IRQNoFlags, Extended Interrupt, End Tag) as chapter 6.4
 * lays them out.
 *
 * How: one growable byte buffer. Constructs that carry a PkgLength (Scope,
 * Device, Method, Package, Buffer) are opened with *_begin, which returns a
 * mark, and closed with aml_end(mark): the length is only known then, so
 * aml_end inserts the 1-4 byte PkgLength at the mark and shifts the body.
 * Marks nest LIFO. Errors are sticky (like ferror): the first one (-ENOMEM,
 * -EINVAL for a bad name or id, -E2BIG for a body over the 2^28 PkgLength
 * limit) is kept in aml.err and every later call is a no-op, so callers check
 * once at the end.
 */
#ifndef VMM_AML_H
#define VMM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opcodes (ACPI 6.x 20.3). */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_METHOD_OP 0x14
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX 0x5b
#define AML_DEVICE_OP 0x82 /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR 0x5c
#define AML_PARENT_PREFIX 0x5e
#define AML_RETURN_OP 0xa4

/* The largest value a PkgLength can hold (28 bits), and the most bytes it takes. */
#define AML_PKGLEN_MAX 0x0fffffffu
#define AML_PKGLEN_BYTES_MAX 4

struct aml {
	uint8_t *buf;
	size_t len, cap;
	int err; /* first error (negative errno) or 0 */
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);
/* 0, or the first error any call hit. */
int aml_error(const struct aml *a);

/* Raw bytes (opcodes, resource descriptor bodies). */
void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);

/* Encode a PkgLength for a body of `body` bytes into out[] (the value encoded
 * counts the PkgLength's own bytes, as the spec requires). Returns the number
 * of bytes (1-4), or 0 if the total would exceed AML_PKGLEN_MAX. */
size_t aml_pkglen_encode(size_t body, uint8_t out[AML_PKGLEN_BYTES_MAX]);

/* NameString from ASL-style text: optional "\" or "^"s, then 0+ dot-separated
 * segments of 1-4 characters ([A-Z_] then [A-Z0-9_]), padded with '_'.
 * "\" alone is the root (RootChar NullName). */
void aml_name_string(struct aml *a, const char *path);

/* Integer in its shortest encoding. */
void aml_integer(struct aml *a, uint64_t v);
/* String (ASCII 0x01-0x7f) with its NUL. */
void aml_string(struct aml *a, const char *s);
/* Compress a PNP-style id ("PNP0501": three letters A-Z, four hex digits)
 * into the 32-bit EISA id value. -EINVAL if it is not one. */
int aml_eisa_id(const char *id, uint32_t *out);
/* EisaId("PNP0501") as an AML DWord. */
void aml_eisa_id_integer(struct aml *a, const char *id);

/* Name(name, <the data object the caller appends next>). */
void aml_name(struct aml *a, const char *name);
void aml_name_integer(struct aml *a, const char *name, uint64_t v);
void aml_name_string_value(struct aml *a, const char *name, const char *s);
/* Name(_HID, ...): a 7-character PNP id is EISA-compressed (what OSes match
 * for PNP0501 and friends); anything else ("LNRO0005", "ACPI0007") is a
 * string. */
void aml_name_hid(struct aml *a, const char *hid);

/* PkgLength constructs. Each returns a mark for aml_end. */
size_t aml_scope_begin(struct aml *a, const char *path);
size_t aml_device_begin(struct aml *a, const char *name);
/* MethodFlags: argc 0-7, serialized; SyncLevel 0. */
size_t aml_method_begin(struct aml *a, const char *name, unsigned argc, bool serialized);
/* Package with `count` elements (0-255) that the caller appends. */
size_t aml_package_begin(struct aml *a, unsigned count);
void aml_end(struct aml *a, size_t mark);

/* Return(<term the caller appends next>). */
void aml_return(struct aml *a);
/* Buffer(n){bytes}. */
void aml_buffer(struct aml *a, const void *bytes, size_t n);
/* Method(name, 0, NotSerialized) { Return(v) } - e.g. _STA. */
void aml_method_return_integer(struct aml *a, const char *name, uint64_t v);

/* Resource descriptors (ACPI 6.x 6.4), appended to a resource list `r` (a
 * struct aml used as a plain byte buffer), then wrapped by
 * aml_resource_template into Buffer(){... EndTag}. */
void aml_res_memory32_fixed(struct aml *r, bool writable, uint32_t base, uint32_t len);
/* IO(Decode16 or Decode10, min, max, align, len). */
void aml_res_io(struct aml *r, bool decode16, uint16_t min, uint16_t max, uint8_t align,
                uint8_t len);
/* IRQNoFlags(){irq}: ISA edge, active-high, exclusive; irq 0-15. */
void aml_res_irq_noflags(struct aml *r, unsigned irq);
/* Interrupt(ResourceConsumer/Producer, Level/Edge, ActiveHigh/Low,
 * Exclusive/Shared){gsi}: the Extended Interrupt descriptor, one interrupt. */
void aml_res_ext_irq(struct aml *r, bool consumer, bool edge, bool active_low, bool shared,
                     uint32_t gsi);
/* Emit Buffer(){r's descriptors, EndTag with checksum 0} into a; r's error,
 * if any, carries over. */
void aml_resource_template(struct aml *a, const struct aml *r);

#endif
