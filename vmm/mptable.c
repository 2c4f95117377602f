/* vmm/mptable.c - see mptable.h. Layouts are those of the MP spec 1.4,
 * chapter 4: every field offset is named below with its section; the
 * structure sizes are in mptable.h. Multi-byte fields are little-endian. */
#include "mptable.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/byteorder.h"
#include "base/hv.h"

/* MP floating pointer structure (4.1). Feature bytes 1-5 (offsets 11-15)
 * stay 0: byte 1 = 0 says a configuration table is present, byte 2 bit 7 =
 * 0 says no IMCR (virtual wire mode). */
#define FLOAT_SIGNATURE 0 /* 4 bytes, "_MP_" */
#define FLOAT_PHYSICAL_ADDRESS_POINTER 4 /* 4 bytes: the configuration table */
#define FLOAT_LENGTH 8 /* in 16-byte paragraphs */
#define FLOAT_SPEC_REV 9
#define FLOAT_CHECKSUM 10
#define FLOAT_MP_FEATURE_1 11
#define PARAGRAPH 16

/* MP configuration table header (4.2). */
#define CFG_SIGNATURE 0 /* 4 bytes, "PCMP" */
#define CFG_BASE_TABLE_LENGTH 4 /* 2 bytes: header and base entries */
#define CFG_SPEC_REV 6
#define CFG_CHECKSUM 7 /* over the base table */
#define CFG_OEM_ID 8 /* 8 bytes, space-padded */
#define CFG_PRODUCT_ID 16 /* 12 bytes, space-padded */
#define CFG_OEM_TABLE_POINTER 28 /* 4 bytes, 0 = none */
#define CFG_OEM_TABLE_SIZE 32 /* 2 bytes */
#define CFG_ENTRY_COUNT 34 /* 2 bytes: base entries */
#define CFG_LOCAL_APIC_ADDRESS 36 /* 4 bytes */
#define CFG_EXTENDED_TABLE_LENGTH 40 /* 2 bytes */
#define CFG_EXTENDED_TABLE_CHECKSUM 42
#define CFG_OEM_ID_LEN 8
#define CFG_PRODUCT_ID_LEN 12

/* Base table entries (4.3): each starts with its type byte. */
#define ENTRY_TYPE 0
#define ENTRY_PROCESSOR 0
#define ENTRY_BUS 1
#define ENTRY_IOAPIC 2
#define ENTRY_IO_INT 3
#define ENTRY_LOCAL_INT 4

/* Processor entry (4.3.1); bytes 12-19 are reserved. */
#define PROC_LOCAL_APIC_ID 1
#define PROC_LOCAL_APIC_VERSION 2
#define PROC_CPU_FLAGS 3
#define PROC_CPU_SIGNATURE 4 /* 4 bytes */
#define PROC_FEATURE_FLAGS 8 /* 4 bytes */
#define CPU_FLAG_EN 0x1
#define CPU_FLAG_BP 0x2

/* Bus entry (4.3.2). */
#define BUS_ID 1
#define BUS_TYPE_STRING 2 /* 6 bytes, space-padded */
#define BUS_TYPE_STRING_LEN 6

/* I/O APIC entry (4.3.3). */
#define IOAPIC_ID 1
#define IOAPIC_VERSION_FIELD 2
#define IOAPIC_FLAGS 3
#define IOAPIC_ADDRESS 4 /* 4 bytes */
#define IOAPIC_FLAG_EN 0x1

/* I/O (4.3.4) and local (4.3.5) interrupt assignment entries share one
 * layout; the destination is an I/O APIC and its INTIN pin, or a local APIC
 * and its LINTIN pin. */
#define INT_INTERRUPT_TYPE 1
#define INT_FLAGS 2 /* 2 bytes: polarity bits 0-1, trigger mode bits 2-3 */
#define INT_SOURCE_BUS_ID 4
#define INT_SOURCE_BUS_IRQ 5
#define INT_DEST_APIC_ID 6
#define INT_DEST_PIN 7
#define INT_FLAGS_CONFORMS 0 /* polarity and trigger as the bus defines them */
#define INT_TYPE_INT 0
#define INT_TYPE_NMI 1
#define INT_TYPE_EXTINT 3

_Static_assert(FLOAT_MP_FEATURE_1 + 5 == MP_FLOAT_SIZE, "floating pointer size");
_Static_assert(CFG_OEM_ID + CFG_OEM_ID_LEN == CFG_PRODUCT_ID, "header OEM ID");
_Static_assert(CFG_PRODUCT_ID + CFG_PRODUCT_ID_LEN == CFG_OEM_TABLE_POINTER, "header product ID");
_Static_assert(CFG_EXTENDED_TABLE_CHECKSUM + 2 == MP_CONFIG_HEADER_SIZE, "header size");
_Static_assert(PROC_FEATURE_FLAGS + 4 + 8 == MP_PROC_ENTRY_SIZE, "processor entry size");
_Static_assert(BUS_TYPE_STRING + BUS_TYPE_STRING_LEN == MP_SMALL_ENTRY_SIZE, "bus entry size");
_Static_assert(IOAPIC_ADDRESS + 4 == MP_SMALL_ENTRY_SIZE, "I/O APIC entry size");
_Static_assert(INT_DEST_PIN + 1 == MP_SMALL_ENTRY_SIZE, "interrupt entry size");

/* What we write. */
#define MP_SPEC_REV 4 /* version 1.4 */
#define LAPIC_VERSION 0x14  /* integrated local APIC, as KVM's reports */
#define IOAPIC_VERSION 0x11 /* what KVM's in-kernel I/O APIC reports */
#define ALL_LAPICS 0xff
#define LINTIN0 0
#define LINTIN1 1
/* Family 6 signature and FPU + APIC feature bits: informational only, the OS
 * reads the real values with CPUID. */
#define CPU_SIGNATURE 0x600
#define CPU_FEATURES 0x201

/* The 8-byte entries after the processors': the ISA bus, the I/O APIC, one
 * I/O interrupt per ISA IRQ and the local interrupts. */
#define NUM_SMALL_ENTRIES (2 + MPTABLE_ISA_IRQS + MP_NUM_LOCAL_INTS)

#define MAX_CONFIG_SIZE                                                            \
	(MP_CONFIG_HEADER_SIZE + HV_MAX_VCPUS * MP_PROC_ENTRY_SIZE +                 \
	 NUM_SMALL_ENTRIES * MP_SMALL_ENTRY_SIZE)

_Static_assert(MP_FLOAT_SIZE + MP_CONFIG_HEADER_SIZE +
                       MPTABLE_EBDA_MAX_CPUS * MP_PROC_ENTRY_SIZE +
                       NUM_SMALL_ENTRIES * MP_SMALL_ENTRY_SIZE <=
               MPTABLE_EBDA_END - MPTABLE_FLOAT_GPA,
               "EBDA cpu limit does not fit the EBDA KiB");

size_t mptable_config_size(unsigned cpus)
{
	return MP_CONFIG_HEADER_SIZE + (size_t)cpus * MP_PROC_ENTRY_SIZE +
	       NUM_SMALL_ENTRIES * MP_SMALL_ENTRY_SIZE;
}

unsigned long long mptable_config_gpa(unsigned cpus)
{
	return cpus <= MPTABLE_EBDA_MAX_CPUS ? MPTABLE_FLOAT_GPA + MP_FLOAT_SIZE
	                                     : MPTABLE_HIGH_CONFIG_GPA;
}

/* The value that makes the bytes of [p, p+n) sum to zero. */
static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return (uint8_t)-s;
}

static uint8_t *interrupt_entry(uint8_t *p, uint8_t kind, uint8_t int_type, uint8_t bus,
                                uint8_t irq, uint8_t dest_id, uint8_t dest_pin)
{
	p[ENTRY_TYPE] = kind;
	p[INT_INTERRUPT_TYPE] = int_type;
	/* Polarity and trigger conform to the bus (ISA: edge, active-high). */
	le16_put(p + INT_FLAGS, INT_FLAGS_CONFORMS);
	p[INT_SOURCE_BUS_ID] = bus;
	p[INT_SOURCE_BUS_IRQ] = irq;
	p[INT_DEST_APIC_ID] = dest_id;
	p[INT_DEST_PIN] = dest_pin;
	return p + MP_SMALL_ENTRY_SIZE;
}

/* Fill the configuration table; returns its length. */
static size_t build_config(uint8_t *t, unsigned cpus)
{
	const uint8_t ioapic_id = (uint8_t)cpus; /* the first ID after the CPUs' */
	const uint8_t isa_bus = 0;
	uint8_t *p = t + MP_CONFIG_HEADER_SIZE;
	uint16_t entries = 0;

	for (unsigned i = 0; i < cpus; i++, entries++) {
		p[ENTRY_TYPE] = ENTRY_PROCESSOR;
		p[PROC_LOCAL_APIC_ID] = (uint8_t)i; /* KVM's APIC ID is the vCPU index */
		p[PROC_LOCAL_APIC_VERSION] = LAPIC_VERSION;
		p[PROC_CPU_FLAGS] = CPU_FLAG_EN | (i == 0 ? CPU_FLAG_BP : 0);
		le32_put(p + PROC_CPU_SIGNATURE, CPU_SIGNATURE);
		le32_put(p + PROC_FEATURE_FLAGS, CPU_FEATURES);
		p += MP_PROC_ENTRY_SIZE; /* reserved bytes stay zero */
	}
	p[ENTRY_TYPE] = ENTRY_BUS;
	p[BUS_ID] = isa_bus;
	memcpy(p + BUS_TYPE_STRING, "ISA   ", BUS_TYPE_STRING_LEN);
	p += MP_SMALL_ENTRY_SIZE;
	entries++;

	p[ENTRY_TYPE] = ENTRY_IOAPIC;
	p[IOAPIC_ID] = ioapic_id;
	p[IOAPIC_VERSION_FIELD] = IOAPIC_VERSION;
	p[IOAPIC_FLAGS] = IOAPIC_FLAG_EN;
	le32_put(p + IOAPIC_ADDRESS, MPTABLE_IOAPIC_GPA);
	p += MP_SMALL_ENTRY_SIZE;
	entries++;

	for (uint8_t irq = 0; irq < MPTABLE_ISA_IRQS; irq++, entries++)
		p = interrupt_entry(p, ENTRY_IO_INT, INT_TYPE_INT, isa_bus, irq, ioapic_id, irq);
	/* Virtual-wire wiring of every local APIC: the PIC on LINT0, NMI on LINT1. */
	p = interrupt_entry(p, ENTRY_LOCAL_INT, INT_TYPE_EXTINT, isa_bus, 0, ALL_LAPICS, LINTIN0);
	p = interrupt_entry(p, ENTRY_LOCAL_INT, INT_TYPE_NMI, isa_bus, 0, ALL_LAPICS, LINTIN1);
	entries += MP_NUM_LOCAL_INTS;

	size_t len = (size_t)(p - t);
	memcpy(t + CFG_SIGNATURE, "PCMP", 4);
	le16_put(t + CFG_BASE_TABLE_LENGTH, (uint16_t)len);
	t[CFG_SPEC_REV] = MP_SPEC_REV;
	t[CFG_CHECKSUM] = 0; /* below, once every other byte is in */
	memcpy(t + CFG_OEM_ID, "FUCHSIA ", CFG_OEM_ID_LEN);
	memcpy(t + CFG_PRODUCT_ID, "VMM MPTABLE ", CFG_PRODUCT_ID_LEN);
	le32_put(t + CFG_OEM_TABLE_POINTER, 0); /* no OEM table */
	le16_put(t + CFG_OEM_TABLE_SIZE, 0);
	le16_put(t + CFG_ENTRY_COUNT, entries);
	le32_put(t + CFG_LOCAL_APIC_ADDRESS, MPTABLE_LAPIC_GPA);
	le16_put(t + CFG_EXTENDED_TABLE_LENGTH, 0); /* no extended entries */
	t[CFG_EXTENDED_TABLE_CHECKSUM] = 0;
	t[CFG_CHECKSUM] = checksum(t, len);
	return len;
}

static void build_float(uint8_t *f, uint32_t config_gpa)
{
	memset(f, 0, MP_FLOAT_SIZE);
	memcpy(f + FLOAT_SIGNATURE, "_MP_", 4);
	le32_put(f + FLOAT_PHYSICAL_ADDRESS_POINTER, config_gpa);
	f[FLOAT_LENGTH] = MP_FLOAT_SIZE / PARAGRAPH;
	f[FLOAT_SPEC_REV] = MP_SPEC_REV;
	/* The feature bytes stay 0 (see FLOAT_MP_FEATURE_1). */
	f[FLOAT_CHECKSUM] = checksum(f, MP_FLOAT_SIZE);
}

int mptable_write(const struct guest_mem *gm, unsigned cpus)
{
	/* IDs are 8 bits and 0xff means "all"; the I/O APIC takes ID cpus. */
	if (!gm || cpus == 0 || cpus > HV_MAX_VCPUS)
		return -EINVAL;
	uint8_t config[MAX_CONFIG_SIZE];
	uint8_t fl[MP_FLOAT_SIZE];
	memset(config, 0, sizeof(config));
	size_t len = build_config(config, cpus);
	uint64_t cgpa = mptable_config_gpa(cpus);
	build_float(fl, (uint32_t)cgpa);
	/* Check both ranges first so that a failure leaves guest memory as it was. */
	if (!gm_valid(gm, MPTABLE_FLOAT_GPA, MP_FLOAT_SIZE) || !gm_valid(gm, cgpa, len))
		return -ENOSPC;
	int r = gm_write(gm, MPTABLE_FLOAT_GPA, fl, sizeof(fl));
	if (r == 0)
		r = gm_write(gm, cgpa, config, len);
	return r;
}
