/* vmm/mptable.c - see mptable.h. Layouts are those of the MP spec 1.4, ch. 4. */
#include "mptable.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/byteorder.h"
#include "base/hv.h"

#define MP_SPEC_REV 4
#define ENTRY_PROCESSOR 0
#define ENTRY_BUS 1
#define ENTRY_IOAPIC 2
#define ENTRY_IO_INT 3
#define ENTRY_LOCAL_INT 4

#define CPU_FLAG_EN 0x1
#define CPU_FLAG_BP 0x2
#define INT_TYPE_INT 0
#define INT_TYPE_NMI 1
#define INT_TYPE_EXTINT 3
#define LAPIC_VERSION 0x14  /* integrated local APIC, as KVM's reports */
#define IOAPIC_VERSION 0x11 /* what KVM's in-kernel I/O APIC reports */
#define ALL_LAPICS 0xff
/* Family 6 signature and FPU + APIC feature bits: informational only, the OS
 * reads the real values with CPUID. */
#define CPU_SIGNATURE 0x600
#define CPU_FEATURES 0x201

#define MAX_CONFIG_SIZE                                                            \
	(MP_CONFIG_HEADER_SIZE + HV_MAX_VCPUS * MP_PROC_ENTRY_SIZE +                 \
	 (2 + MPTABLE_ISA_IRQS + MP_NUM_LOCAL_INTS) * MP_SMALL_ENTRY_SIZE)

_Static_assert(MP_FLOAT_SIZE + MP_CONFIG_HEADER_SIZE +
                       MPTABLE_EBDA_MAX_CPUS * MP_PROC_ENTRY_SIZE +
                       (2 + MPTABLE_ISA_IRQS + MP_NUM_LOCAL_INTS) * MP_SMALL_ENTRY_SIZE <=
               MPTABLE_EBDA_END - MPTABLE_FLOAT_GPA,
               "EBDA cpu limit does not fit the EBDA KiB");

size_t mptable_config_size(unsigned cpus)
{
	return MP_CONFIG_HEADER_SIZE + (size_t)cpus * MP_PROC_ENTRY_SIZE +
	       (2 + MPTABLE_ISA_IRQS + MP_NUM_LOCAL_INTS) * MP_SMALL_ENTRY_SIZE;
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
	p[0] = kind;
	p[1] = int_type;
	le16_put(p + 2, 0); /* polarity and trigger conform to the bus (ISA: edge, high) */
	p[4] = bus;
	p[5] = irq;
	p[6] = dest_id;
	p[7] = dest_pin;
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
		p[0] = ENTRY_PROCESSOR;
		p[1] = (uint8_t)i; /* KVM's APIC ID is the vCPU index */
		p[2] = LAPIC_VERSION;
		p[3] = CPU_FLAG_EN | (i == 0 ? CPU_FLAG_BP : 0);
		le32_put(p + 4, CPU_SIGNATURE);
		le32_put(p + 8, CPU_FEATURES);
		p += MP_PROC_ENTRY_SIZE; /* bytes 12-19 reserved, zero */
	}
	p[0] = ENTRY_BUS;
	p[1] = isa_bus;
	memcpy(p + 2, "ISA   ", 6);
	p += MP_SMALL_ENTRY_SIZE;
	entries++;

	p[0] = ENTRY_IOAPIC;
	p[1] = ioapic_id;
	p[2] = IOAPIC_VERSION;
	p[3] = 1; /* enabled */
	le32_put(p + 4, MPTABLE_IOAPIC_GPA);
	p += MP_SMALL_ENTRY_SIZE;
	entries++;

	for (uint8_t irq = 0; irq < MPTABLE_ISA_IRQS; irq++, entries++)
		p = interrupt_entry(p, ENTRY_IO_INT, INT_TYPE_INT, isa_bus, irq, ioapic_id, irq);
	/* Virtual-wire wiring of every local APIC: the PIC on LINT0, NMI on LINT1. */
	p = interrupt_entry(p, ENTRY_LOCAL_INT, INT_TYPE_EXTINT, isa_bus, 0, ALL_LAPICS, 0);
	p = interrupt_entry(p, ENTRY_LOCAL_INT, INT_TYPE_NMI, isa_bus, 0, ALL_LAPICS, 1);
	entries += MP_NUM_LOCAL_INTS;

	size_t len = (size_t)(p - t);
	memcpy(t, "PCMP", 4);
	le16_put(t + 4, (uint16_t)len);
	t[6] = MP_SPEC_REV;
	t[7] = 0; /* checksum, below */
	memcpy(t + 8, "FUCHSIA ", 8);       /* OEM ID */
	memcpy(t + 16, "VMM MPTABLE ", 12); /* product ID */
	le32_put(t + 28, 0);                   /* no OEM table */
	le16_put(t + 32, 0);
	le16_put(t + 34, entries);
	le32_put(t + 36, MPTABLE_LAPIC_GPA);
	le16_put(t + 40, 0); /* no extended entries */
	t[42] = 0;
	t[43] = 0;
	t[7] = checksum(t, len);
	return len;
}

static void build_float(uint8_t *f, uint32_t config_gpa)
{
	memset(f, 0, MP_FLOAT_SIZE);
	memcpy(f, "_MP_", 4);
	le32_put(f + 4, config_gpa);
	f[8] = 1; /* length in 16-byte units */
	f[9] = MP_SPEC_REV;
	/* feature byte 1 = 0: a configuration table is present; feature byte 2
	 * bit 7 = 0: no IMCR, virtual wire mode. */
	f[10] = checksum(f, MP_FLOAT_SIZE);
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
