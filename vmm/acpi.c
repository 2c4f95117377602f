/* vmm/acpi.c - RSDP, XSDT, FADT, MADT and DSDT for one VM (see acpi.h).
 * Table layouts are ACPI 6.0 chapter 5.2, every offset named in
 * acpi_layout.h; AML comes from aml.c. Everything is built in a host buffer
 * the size of the window and copied into guest memory in one gm_write, so a
 * refusal leaves the guest untouched. */
#include "acpi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi_layout.h"
#include "aml.h"
#include "base/byteorder.h"
#include "machine.h"

#define WINDOW (ACPI_TABLES_END - ACPI_TABLES_GPA)

/* Identification written into every header. */
#define OEM_ID "RFC210"   /* SDT_OEM_ID_LEN bytes */
#define OEM_TABLE_ID_PREFIX "VMM " /* OEM table ID "VMM <signature>" */
#define OEM_REVISION 1
#define CREATOR_ID "VMM " /* SDT_CREATOR_ID_LEN bytes */
#define CREATOR_REVISION 1
#define HYPERVISOR_ID "RFC0210V" /* FADT Hypervisor Vendor Identity */
_Static_assert(sizeof(OEM_ID) - 1 == SDT_OEM_ID_LEN, "OEM ID length");
_Static_assert(sizeof(OEM_TABLE_ID_PREFIX) - 1 + SDT_SIGNATURE_LEN == SDT_OEM_TABLE_ID_LEN,
               "OEM table ID length");
_Static_assert(sizeof(CREATOR_ID) - 1 == SDT_CREATOR_ID_LEN, "creator ID length");
_Static_assert(sizeof(HYPERVISOR_ID) - 1 == FADT_HYPERVISOR_VENDOR_ID_LEN,
               "hypervisor vendor identity length");

/* The two tables the XSDT lists: FADT and MADT (the DSDT is the FADT's). */
#define XSDT_NENTRIES 2
/* Interrupt source override for a PC-wired PIT: ISA IRQ 0 -> GSI 2. */
#define PIT_ISA_IRQ 0
#define PIT_GSI 2
/* The register windows validate() keeps virtio-mmio out of: one page each
 * for the I/O APIC and the local APIC, and a 16550's eight I/O ports. */
#define APIC_MMIO_SIZE 0x1000
#define UART_NPORTS 8
/* Memory32Fixed describes a window below 4 GiB. */
#define MEMORY32_LIMIT 0x100000000ull
/* _STA (6.3.7) bits 0-3: present, enabled, shown in the UI, functioning. */
#define STA_PRESENT_ENABLED_SHOWN_WORKING 0x0f
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

/* The header every system description table starts with; the checksum is
 * filled last (sdt_checksum), over the whole table. */
static void sdt_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	const size_t prefix = sizeof(OEM_TABLE_ID_PREFIX) - 1;
	memcpy(t + SDT_SIGNATURE, sig, SDT_SIGNATURE_LEN);
	le32_put(t + SDT_LENGTH, len);
	t[SDT_REVISION] = rev;
	memcpy(t + SDT_OEM_ID, OEM_ID, SDT_OEM_ID_LEN);
	memcpy(t + SDT_OEM_TABLE_ID, OEM_TABLE_ID_PREFIX, prefix);
	memcpy(t + SDT_OEM_TABLE_ID + prefix, sig, SDT_SIGNATURE_LEN);
	le32_put(t + SDT_OEM_REVISION, OEM_REVISION);
	memcpy(t + SDT_CREATOR_ID, CREATOR_ID, SDT_CREATOR_ID_LEN);
	le32_put(t + SDT_CREATOR_REVISION, CREATOR_REVISION);
}

static void sdt_checksum(uint8_t *t, size_t len)
{
	t[SDT_CHECKSUM] = 0;
	t[SDT_CHECKSUM] = checksum(t, len);
}

/* A Generic Address Structure for one byte-wide I/O port. */
static void gas_io8(uint8_t *g, uint16_t port)
{
	g[GAS_ADDRESS_SPACE_ID] = GAS_SYSTEM_IO;
	g[GAS_REGISTER_BIT_WIDTH] = 8;
	g[GAS_REGISTER_BIT_OFFSET] = 0;
	g[GAS_ACCESS_SIZE] = GAS_ACCESS_BYTE;
	le64_put(g + GAS_ADDRESS, port);
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
		if (v->size == 0 || v->size > MEMORY32_LIMIT || v->base > MEMORY32_LIMIT - v->size)
			return -EINVAL;
		/* Level-triggered, active-high lines: GSIs 0-15 are ISA's (edge,
		 * active-high without an override), and they must exist. */
		if (v->gsi < ACPI_ISA_IRQS || v->gsi >= ACPI_IOAPIC_PINS)
			return -EINVAL;
		if (ranges_overlap(v->base, v->size, ACPI_IOAPIC_GPA, APIC_MMIO_SIZE) ||
		    ranges_overlap(v->base, v->size, ACPI_LAPIC_GPA, APIC_MMIO_SIZE))
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
		if (m->serial_irq >= ACPI_ISA_IRQS || m->serial_port > 0x10000 - UART_NPORTS)
			return -EINVAL;
		if (ranges_overlap(m->sleep_port, 1, m->serial_port, UART_NPORTS) ||
		    ranges_overlap(m->reset_port, 1, m->serial_port, UART_NPORTS))
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
		aml_method_return_integer(a, "_STA", STA_PRESENT_ENABLED_SHOWN_WORKING);
		struct aml r;
		aml_init(&r);
		aml_res_io(&r, true, m->serial_port, m->serial_port, 1, UART_NPORTS);
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

/* Start an interrupt controller structure: its type and length bytes; the
 * caller fills the fields that follow. */
static void madt_entry(uint8_t *p, uint8_t type, uint8_t length)
{
	p[MADT_ENTRY_TYPE] = type;
	p[MADT_ENTRY_LENGTH] = length;
}

static void madt(uint8_t *t, size_t len, const struct acpi_machine *m)
{
	sdt_header(t, "APIC", (uint32_t)len, MADT_REVISION);
	le32_put(t + MADT_LOCAL_APIC_ADDRESS, ACPI_LAPIC_GPA);
	le32_put(t + MADT_FLAGS, m->pic ? MADT_PCAT_COMPAT : 0);
	uint8_t *p = t + MADT_HEADER_SIZE;
	for (unsigned i = 0; i < m->cpus; i++) {
		if (i <= XAPIC_MAX_ID) {
			madt_entry(p, MADT_LAPIC, MADT_LAPIC_SIZE);
			p[MADT_LAPIC_UID] = (uint8_t)i;
			p[MADT_LAPIC_APIC_ID] = (uint8_t)i;
			le32_put(p + MADT_LAPIC_FLAGS, MADT_ENABLED);
			p += MADT_LAPIC_SIZE;
		} else {
			madt_entry(p, MADT_X2APIC, MADT_X2APIC_SIZE);
			le32_put(p + MADT_X2APIC_ID, i);
			le32_put(p + MADT_X2APIC_FLAGS, MADT_ENABLED);
			le32_put(p + MADT_X2APIC_UID, i);
			p += MADT_X2APIC_SIZE;
		}
	}
	madt_entry(p, MADT_IOAPIC, MADT_IOAPIC_SIZE);
	p[MADT_IOAPIC_ID] = (uint8_t)ioapic_id(m);
	le32_put(p + MADT_IOAPIC_ADDRESS, ACPI_IOAPIC_GPA);
	le32_put(p + MADT_IOAPIC_GSI_BASE, 0); /* pins 0-23 are GSIs 0-23 */
	p += MADT_IOAPIC_SIZE;
	if (m->irq0_to_gsi2) {
		madt_entry(p, MADT_ISO, MADT_ISO_SIZE);
		p[MADT_ISO_BUS] = MADT_BUS_ISA;
		p[MADT_ISO_SOURCE] = PIT_ISA_IRQ;
		le32_put(p + MADT_ISO_GSI, PIT_GSI);
		/* Conforms to the bus: edge, active-high. */
		le16_put(p + MADT_ISO_FLAGS, MPS_INTI_CONFORMS);
		p += MADT_ISO_SIZE;
	}
	/* LINT1 is NMI on every local APIC, as in the MP table. */
	madt_entry(p, MADT_LAPIC_NMI, MADT_LAPIC_NMI_SIZE);
	p[MADT_LAPIC_NMI_UID] = MADT_LAPIC_NMI_ALL_UIDS;
	le16_put(p + MADT_LAPIC_NMI_FLAGS, MPS_INTI_CONFORMS);
	p[MADT_LAPIC_NMI_LINT] = LAPIC_LINT1;
	p += MADT_LAPIC_NMI_SIZE;
	if (m->cpus > XAPIC_MAX_ID + 1) {
		madt_entry(p, MADT_X2APIC_NMI, MADT_X2APIC_NMI_SIZE);
		le16_put(p + MADT_X2APIC_NMI_FLAGS, MPS_INTI_CONFORMS);
		le32_put(p + MADT_X2APIC_NMI_UID, MADT_X2APIC_NMI_ALL_UIDS);
		p[MADT_X2APIC_NMI_LINT] = LAPIC_LINT1;
		p += MADT_X2APIC_NMI_SIZE;
	}
	sdt_checksum(t, len);
}

static void fadt(uint8_t *t, const struct acpi_machine *m, uint64_t dsdt_gpa)
{
	sdt_header(t, "FACP", FADT_SIZE, FADT_REVISION);
	/* No FACS (FIRMWARE_CTRL and X_FIRMWARE_CTRL 0): optional with
	 * hardware-reduced ACPI. Every PM1/PM2/GPE/PM timer field stays 0, and so
	 * does SCI_INT: there is no SCI. The DSDT address goes in both fields
	 * (same value, so no OS has to choose). */
	le32_put(t + FADT_DSDT, (uint32_t)dsdt_gpa);
	t[FADT_PREFERRED_PM_PROFILE] = FADT_PM_PROFILE_UNSPECIFIED;
	uint16_t iapc = IAPC_VGA_NOT_PRESENT | IAPC_MSI_NOT_SUPPORTED | IAPC_CMOS_RTC_NOT_PRESENT;
	if (m->i8042)
		iapc |= IAPC_8042;
	le16_put(t + FADT_IAPC_BOOT_ARCH, iapc);
	le32_put(t + FADT_FLAGS, FADT_WBINVD | FADT_PWR_BUTTON | FADT_SLP_BUTTON |
	                             FADT_RESET_REG_SUP | FADT_HW_REDUCED_ACPI);
	gas_io8(t + FADT_RESET_REG, m->reset_port);
	t[FADT_RESET_VALUE] = m->reset_value;
	t[FADT_MINOR_VERSION] = FADT_MINOR_VERSION_6_0;
	le64_put(t + FADT_X_DSDT, dsdt_gpa);
	gas_io8(t + FADT_SLEEP_CONTROL_REG, m->sleep_port);
	gas_io8(t + FADT_SLEEP_STATUS_REG, m->sleep_port);
	memcpy(t + FADT_HYPERVISOR_VENDOR_ID, HYPERVISOR_ID, FADT_HYPERVISOR_VENDOR_ID_LEN);
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
	const size_t xsdt_len = SDT_HEADER_SIZE + XSDT_NENTRIES * XSDT_ENTRY_SIZE;
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
	sdt_header(d, "DSDT", (uint32_t)dsdt_len, DSDT_REVISION);
	memcpy(d + DSDT_AML, a.buf, a.len);
	sdt_checksum(d, dsdt_len);
	aml_free(&a);

	madt(w + madt_off, madt_len, m);
	fadt(w + fadt_off, m, base + dsdt_off);

	uint8_t *x = w + xsdt_off;
	sdt_header(x, "XSDT", (uint32_t)xsdt_len, XSDT_REVISION);
	le64_put(x + XSDT_ENTRIES, base + fadt_off);
	le64_put(x + XSDT_ENTRIES + XSDT_ENTRY_SIZE, base + madt_off);
	sdt_checksum(x, xsdt_len);

	/* RSDP: the first checksum covers the ACPI 1.0 part, the extended one
	 * all of it. No RSDT: revision-2 readers take the XSDT. */
	uint8_t *p = w;
	memcpy(p + RSDP_SIGNATURE, "RSD PTR ", RSDP_SIGNATURE_LEN);
	memcpy(p + RSDP_OEM_ID, OEM_ID, SDT_OEM_ID_LEN);
	p[RSDP_REVISION] = RSDP_REVISION_2;
	le32_put(p + RSDP_RSDT_ADDRESS, 0);
	le32_put(p + RSDP_LENGTH, RSDP_SIZE);
	le64_put(p + RSDP_XSDT_ADDRESS, base + xsdt_off);
	p[RSDP_CHECKSUM] = checksum(p, RSDP_V1_SIZE);
	p[RSDP_EXTENDED_CHECKSUM] = checksum(p, RSDP_SIZE);

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
