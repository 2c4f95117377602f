/* vmm/acpi.c - RSDP, XSDT, FADT, MADT and DSDT for one VM (see acpi.h).
 * Table layouts are ACPI 6.0 chapter 5.2; AML comes from aml.c. Everything is
 * built in a host buffer the size of the window and copied into guest memory
 * in one gm_write, so a refusal leaves the guest untouched. */
#include "acpi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aml.h"
#include "base/byteorder.h"
#include "machine.h"

#define WINDOW (ACPI_TABLES_END - ACPI_TABLES_GPA)

#define RSDP_SIZE 36
#define SDT_HEADER_SIZE 36
#define FADT_SIZE 276 /* revision 6 (ACPI 6.0): ends with Hypervisor Vendor Identity */
#define MADT_HEADER_SIZE 44 /* SDT header + local APIC address + flags */

/* Identification written into every header. */
#define OEM_ID "RFC210"   /* 6 bytes */
#define CREATOR_ID "VMM " /* 4 bytes */
#define HYPERVISOR_ID "RFC0210V" /* FADT Hypervisor Vendor Identity, 8 bytes */

/* FADT Flags (ACPI 6.0 table 5-35). */
#define FADT_WBINVD (1u << 0)
#define FADT_PWR_BUTTON (1u << 4) /* set: no fixed-feature power button */
#define FADT_SLP_BUTTON (1u << 5) /* set: no fixed-feature sleep button */
#define FADT_RESET_REG_SUP (1u << 10)
#define FADT_HW_REDUCED_ACPI (1u << 20)
/* IAPC_BOOT_ARCH (table 5-36). */
#define IAPC_8042 (1u << 1)
#define IAPC_VGA_NOT_PRESENT (1u << 2)
#define IAPC_MSI_NOT_SUPPORTED (1u << 3)
#define IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)
/* Generic Address Structure address space and access size. */
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1

/* MADT (5.2.12) structure types and sizes. */
#define MADT_PCAT_COMPAT 1u
#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_ISO 2
#define MADT_LAPIC_NMI 4
#define MADT_X2APIC 9
#define MADT_X2APIC_NMI 10
#define MADT_LAPIC_SIZE 8
#define MADT_IOAPIC_SIZE 12
#define MADT_ISO_SIZE 10
#define MADT_LAPIC_NMI_SIZE 6
#define MADT_X2APIC_SIZE 16
#define MADT_X2APIC_NMI_SIZE 12
#define MADT_ENABLED 1u
/* xAPIC ID 0xff is the broadcast ID: a CPU with a higher index needs an
 * x2APIC entry. */
#define XAPIC_MAX_ID 0xfe

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return (uint8_t)-s;
}

static size_t align16(size_t v)
{
	return (v + 15) & ~(size_t)15;
}

/* The 36-byte header every system description table starts with; the
 * checksum (offset 9) is filled last, over the whole table. */
static void sdt_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	le32_put(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, "VMM ", 4);
	memcpy(t + 20, sig, 4); /* OEM table ID "VMM <sig>" */
	le32_put(t + 24, 1);       /* OEM revision */
	memcpy(t + 28, CREATOR_ID, 4);
	le32_put(t + 32, 1);       /* creator revision */
}

static void sdt_checksum(uint8_t *t, size_t len)
{
	t[9] = 0;
	t[9] = checksum(t, len);
}

/* A Generic Address Structure for one byte-wide I/O port. */
static void gas_io8(uint8_t *g, uint16_t port)
{
	g[0] = GAS_SYSTEM_IO;
	g[1] = 8; /* register bit width */
	g[2] = 0; /* bit offset */
	g[3] = GAS_ACCESS_BYTE;
	le64_put(g + 4, port);
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int validate(const struct guest_mem *gm, const struct acpi_machine *m)
{
	if (m->cpus == 0 || m->cpus > ACPI_MAX_CPUS || m->nvirtio > ACPI_MAX_VIRTIO)
		return -EINVAL;
	for (unsigned i = 0; i < m->nvirtio; i++) {
		const struct acpi_virtio_mmio *v = &m->virtio[i];
		/* Memory32Fixed: the whole window below 4 GiB (overflow-safe). */
		if (v->size == 0 || v->size > 0x100000000ull || v->base > 0x100000000ull - v->size)
			return -EINVAL;
		/* Level-triggered, active-high lines: GSIs 0-15 are ISA's (edge,
		 * active-high without an override), and they must exist. */
		if (v->gsi < ACPI_ISA_IRQS || v->gsi >= ACPI_IOAPIC_PINS)
			return -EINVAL;
		if (ranges_overlap(v->base, v->size, ACPI_IOAPIC_GPA, 0x1000) ||
		    ranges_overlap(v->base, v->size, ACPI_LAPIC_GPA, 0x1000))
			return -EINVAL;
		for (unsigned r = 0; r < gm->nregions && r < GM_MAX_REGIONS; r++)
			if (ranges_overlap(v->base, v->size, gm->regions[r].gpa, gm->regions[r].len))
				return -EINVAL;
		for (unsigned j = 0; j < i; j++) {
			const struct acpi_virtio_mmio *w = &m->virtio[j];
			/* Exclusive interrupts: no sharing. */
			if (w->gsi == v->gsi || ranges_overlap(v->base, v->size, w->base, w->size))
				return -EINVAL;
		}
	}
	if (m->serial_port) {
		if (m->serial_irq >= ACPI_ISA_IRQS || m->serial_port > 0x10000 - 8)
			return -EINVAL;
		if (ranges_overlap(m->sleep_port, 1, m->serial_port, 8) ||
		    ranges_overlap(m->reset_port, 1, m->serial_port, 8))
			return -EINVAL;
	}
	/* Both registers are needed (Linux's hardware-reduced sleep path gives
	 * up without either), and one port cannot be both. */
	if (m->sleep_port == 0 || m->reset_port == 0 || m->sleep_port == m->reset_port)
		return -EINVAL;
	return 0;
}

static void dsdt_aml(struct aml *a, const struct acpi_machine *m)
{
	char name[8];
	size_t sb = aml_scope_begin(a, "\\_SB");

	/* Processor objects (ACPI0007), matched to MADT entries by _UID: the
	 * processor driver wants them; the CPUs themselves come from the MADT. */
	for (unsigned i = 0; i < m->cpus; i++) {
		snprintf(name, sizeof(name), "C%03X", i & 0xfff);
		size_t d = aml_device_begin(a, name);
		aml_name_hid(a, "ACPI0007");
		aml_name_integer(a, "_UID", i);
		aml_end(a, d);
	}

	if (m->serial_port) {
		size_t d = aml_device_begin(a, "COM1");
		aml_name_hid(a, "PNP0501");
		aml_name_integer(a, "_UID", 1);
		aml_method_return_integer(a, "_STA", 0x0f); /* present, enabled, shown, works */
		struct aml r;
		aml_init(&r);
		aml_res_io(&r, true, m->serial_port, m->serial_port, 1, 8);
		aml_res_irq_noflags(&r, m->serial_irq);
		aml_name(a, "_CRS");
		aml_resource_template(a, &r);
		aml_free(&r);
		aml_end(a, d);
	}

	/* virtio-mmio: Linux's virtio_mmio driver matches LNRO0005 and takes its
	 * register window and interrupt from _CRS. */
	for (unsigned i = 0; i < m->nvirtio; i++) {
		const struct acpi_virtio_mmio *v = &m->virtio[i];
		snprintf(name, sizeof(name), "VR%02X", i & 0xff);
		size_t d = aml_device_begin(a, name);
		aml_name_hid(a, "LNRO0005");
		aml_name_integer(a, "_UID", i);
		struct aml r;
		aml_init(&r);
		aml_res_memory32_fixed(&r, true, (uint32_t)v->base, (uint32_t)v->size);
		aml_res_ext_irq(&r, true, false, false, false, v->gsi);
		aml_name(a, "_CRS");
		aml_resource_template(a, &r);
		aml_free(&r);
		aml_end(a, d);
	}
	aml_end(a, sb);

	/* \_S5_: {SLP_TYPa, SLP_TYPb, reserved, reserved}. With hardware-reduced
	 * ACPI the OS writes SLP_TYPa into the sleep control register. */
	aml_name(a, "_S5_");
	size_t p = aml_package_begin(a, 4);
	aml_integer(a, ACPI_S5_SLP_TYP);
	aml_integer(a, ACPI_S5_SLP_TYP);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a, p);
}

static unsigned ioapic_id(const struct acpi_machine *m)
{
	/* The MP table's choice (the first ID after the CPUs') while that fits
	 * the 8-bit field; beyond xAPIC IDs the namespaces no longer meet. */
	return m->cpus <= XAPIC_MAX_ID ? m->cpus : 0;
}

static size_t madt_size(const struct acpi_machine *m)
{
	size_t n = MADT_HEADER_SIZE + MADT_IOAPIC_SIZE + MADT_LAPIC_NMI_SIZE;
	unsigned xapic = m->cpus <= XAPIC_MAX_ID + 1 ? m->cpus : XAPIC_MAX_ID + 1;
	n += (size_t)xapic * MADT_LAPIC_SIZE;
	if (m->cpus > xapic)
		n += (size_t)(m->cpus - xapic) * MADT_X2APIC_SIZE + MADT_X2APIC_NMI_SIZE;
	if (m->irq0_to_gsi2)
		n += MADT_ISO_SIZE;
	return n;
}

static void madt(uint8_t *t, size_t len, const struct acpi_machine *m)
{
	sdt_header(t, "APIC", (uint32_t)len, 4);
	le32_put(t + 36, ACPI_LAPIC_GPA);
	le32_put(t + 40, m->pic ? MADT_PCAT_COMPAT : 0);
	uint8_t *p = t + MADT_HEADER_SIZE;
	for (unsigned i = 0; i < m->cpus; i++) {
		if (i <= XAPIC_MAX_ID) {
			p[0] = MADT_LAPIC;
			p[1] = MADT_LAPIC_SIZE;
			p[2] = (uint8_t)i; /* ACPI processor UID */
			p[3] = (uint8_t)i; /* APIC ID */
			le32_put(p + 4, MADT_ENABLED);
			p += MADT_LAPIC_SIZE;
		} else {
			p[0] = MADT_X2APIC;
			p[1] = MADT_X2APIC_SIZE;
			le32_put(p + 4, i); /* x2APIC ID */
			le32_put(p + 8, MADT_ENABLED);
			le32_put(p + 12, i); /* ACPI processor UID */
			p += MADT_X2APIC_SIZE;
		}
	}
	p[0] = MADT_IOAPIC;
	p[1] = MADT_IOAPIC_SIZE;
	p[2] = (uint8_t)ioapic_id(m);
	le32_put(p + 4, ACPI_IOAPIC_GPA);
	le32_put(p + 8, 0); /* GSI base: pins 0-23 are GSIs 0-23 */
	p += MADT_IOAPIC_SIZE;
	if (m->irq0_to_gsi2) {
		p[0] = MADT_ISO;
		p[1] = MADT_ISO_SIZE;
		p[2] = 0; /* bus: ISA */
		p[3] = 0; /* source: IRQ 0 */
		le32_put(p + 4, 2);
		le16_put(p + 8, 0); /* conforms to the bus: edge, active-high */
		p += MADT_ISO_SIZE;
	}
	/* LINT1 is NMI on every local APIC, as in the MP table. */
	p[0] = MADT_LAPIC_NMI;
	p[1] = MADT_LAPIC_NMI_SIZE;
	p[2] = 0xff; /* all processors */
	le16_put(p + 3, 0);
	p[5] = 1; /* LINT1 */
	p += MADT_LAPIC_NMI_SIZE;
	if (m->cpus > XAPIC_MAX_ID + 1) {
		p[0] = MADT_X2APIC_NMI;
		p[1] = MADT_X2APIC_NMI_SIZE;
		le16_put(p + 2, 0);
		le32_put(p + 4, 0xffffffffu); /* all processors */
		p[8] = 1;                  /* LINT1 */
		p += MADT_X2APIC_NMI_SIZE;
	}
	sdt_checksum(t, len);
}

static void fadt(uint8_t *t, const struct acpi_machine *m, uint64_t dsdt_gpa)
{
	sdt_header(t, "FACP", FADT_SIZE, 6);
	/* No FACS (FIRMWARE_CTRL 0): optional with hardware-reduced ACPI. Every
	 * PM1/PM2/GPE/PM timer field stays 0, and so does SCI_INT: there is no
	 * SCI. The DSDT address goes in both fields (same value, so no OS has to
	 * choose). */
	le32_put(t + 40, (uint32_t)dsdt_gpa);
	t[45] = 0; /* preferred PM profile: unspecified */
	uint16_t iapc = IAPC_VGA_NOT_PRESENT | IAPC_MSI_NOT_SUPPORTED | IAPC_CMOS_RTC_NOT_PRESENT;
	if (m->i8042)
		iapc |= IAPC_8042;
	le16_put(t + 109, iapc);
	le32_put(t + 112, FADT_WBINVD | FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_RESET_REG_SUP |
	                       FADT_HW_REDUCED_ACPI);
	gas_io8(t + 116, m->reset_port);
	t[128] = m->reset_value;
	t[131] = 0; /* FADT minor version: ACPI 6.0 */
	le64_put(t + 140, dsdt_gpa); /* X_DSDT */
	gas_io8(t + 244, m->sleep_port); /* SLEEP_CONTROL_REG */
	gas_io8(t + 256, m->sleep_port); /* SLEEP_STATUS_REG */
	memcpy(t + 268, HYPERVISOR_ID, 8);
	sdt_checksum(t, FADT_SIZE);
}

bool acpi_sleep_is_poweroff(uint8_t value)
{
	return (value & ACPI_SLP_EN) &&
	       ((value & ACPI_SLP_TYP_MASK) >> ACPI_SLP_TYP_SHIFT) == ACPI_S5_SLP_TYP;
}

void acpi_machine_init(struct acpi_machine *m, unsigned cpus)
{
	memset(m, 0, sizeof(*m));
	m->cpus = cpus;
	m->serial_port = VM_COM1_BASE;
	m->serial_irq = VM_COM1_IRQ;
	m->sleep_port = ACPI_SLEEP_PORT;
	m->reset_port = ACPI_RESET_PORT;
	m->reset_value = ACPI_RESET_VALUE;
	m->pic = true;
}

int acpi_build(const struct guest_mem *gm, const struct acpi_machine *m, uint64_t *rsdp_gpa)
{
	if (!gm || !m)
		return -EINVAL;
	int r = validate(gm, m);
	if (r)
		return r;

	struct aml a;
	aml_init(&a);
	dsdt_aml(&a, m);
	if ((r = aml_error(&a)) != 0) {
		aml_free(&a);
		return r;
	}

	/* Layout: RSDP, XSDT, FADT, MADT, DSDT, each 16-byte aligned. */
	const size_t xsdt_len = SDT_HEADER_SIZE + 2 * 8; /* FADT, MADT */
	const size_t madt_len = madt_size(m);
	const size_t dsdt_len = SDT_HEADER_SIZE + a.len;
	const size_t xsdt_off = align16(RSDP_SIZE);
	const size_t fadt_off = align16(xsdt_off + xsdt_len);
	const size_t madt_off = align16(fadt_off + FADT_SIZE);
	const size_t dsdt_off = align16(madt_off + madt_len);
	if (a.len > WINDOW || dsdt_off + dsdt_len > WINDOW) {
		aml_free(&a);
		return -E2BIG;
	}
	if (!gm_valid(gm, ACPI_TABLES_GPA, WINDOW)) {
		aml_free(&a);
		return -ENOSPC;
	}
	uint8_t *w = calloc(1, WINDOW);
	if (!w) {
		aml_free(&a);
		return -ENOMEM;
	}
	const uint64_t base = ACPI_TABLES_GPA;

	uint8_t *d = w + dsdt_off;
	sdt_header(d, "DSDT", (uint32_t)dsdt_len, 2); /* revision 2: 64-bit integers */
	memcpy(d + SDT_HEADER_SIZE, a.buf, a.len);
	sdt_checksum(d, dsdt_len);
	aml_free(&a);

	madt(w + madt_off, madt_len, m);
	fadt(w + fadt_off, m, base + dsdt_off);

	uint8_t *x = w + xsdt_off;
	sdt_header(x, "XSDT", (uint32_t)xsdt_len, 1);
	le64_put(x + 36, base + fadt_off);
	le64_put(x + 44, base + madt_off);
	sdt_checksum(x, xsdt_len);

	/* RSDP: the first checksum covers the ACPI 1.0 part (20 bytes), the
	 * extended one all 36. No RSDT: revision-2 readers take the XSDT. */
	uint8_t *p = w;
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, OEM_ID, 6);
	p[15] = 2;
	le32_put(p + 16, 0);
	le32_put(p + 20, RSDP_SIZE);
	le64_put(p + 24, base + xsdt_off);
	p[8] = checksum(p, 20);
	p[32] = checksum(p, RSDP_SIZE);

	r = gm_write(gm, ACPI_TABLES_GPA, w, WINDOW);
	free(w);
	if (r)
		return r;
	if (rsdp_gpa)
		*rsdp_gpa = ACPI_RSDP_GPA;
	return 0;
}

int acpi_write_reset_vector(const struct guest_mem *gm, const struct acpi_machine *m)
{
	const uint8_t stub[16] = {
		0xb0, m->reset_value,                                   /* mov al, value */
		0xba, (uint8_t)m->reset_port, (uint8_t)(m->reset_port >> 8), /* mov dx, port */
		0xee,                                                   /* out dx, al */
		0xf4,                                                   /* hlt */
		0xeb, 0xfd,                                             /* jmp hlt */
	};
	return gm_write(gm, ACPI_RESET_VECTOR_GPA, stub, sizeof(stub)) ? -EFAULT : 0;
}
