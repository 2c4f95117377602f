/* vmm/acpi_layout.h - the byte layouts of the ACPI structures acpi.c writes.
 *
 * Owns: the offset of every field acpi.c fills and the fixed size of every
 * structure it emits, each named after its field in the ACPI 6.0 spec
 * (section given per structure; the layouts are unchanged through 6.5), plus
 * the values of the flag and type fields it uses. Private to acpi.c: tests
 * read the tables with their own offsets, so a wrong name here cannot hide a
 * wrong table there.
 *
 * All multi-byte fields are little-endian; offsets are from the start of the
 * structure. Fields acpi.c leaves zero (reserved bytes, the PM1/GPE blocks of
 * a hardware-reduced FADT, ...) are not named. The _Static_asserts tie each
 * structure's last named field to its size, so a typo in an offset that would
 * overlap the end fails the build.
 */
#ifndef VMM_ACPI_LAYOUT_H
#define VMM_ACPI_LAYOUT_H

/* Root System Description Pointer (5.2.5.3). The ACPI 1.0 part (through
 * RSDT address) has its own checksum; the extended checksum covers all of it. */
#define RSDP_SIGNATURE 0         /* 8 bytes, "RSD PTR " */
#define RSDP_CHECKSUM 8          /* over the first RSDP_V1_SIZE bytes */
#define RSDP_OEM_ID 9            /* 6 bytes */
#define RSDP_REVISION 15
#define RSDP_RSDT_ADDRESS 16     /* 4 bytes */
#define RSDP_LENGTH 20           /* 4 bytes: of the whole structure */
#define RSDP_XSDT_ADDRESS 24     /* 8 bytes */
#define RSDP_EXTENDED_CHECKSUM 32 /* over RSDP_SIZE bytes */
#define RSDP_V1_SIZE 20
#define RSDP_SIZE 36 /* 3 reserved bytes end it */
#define RSDP_SIGNATURE_LEN 8
#define RSDP_REVISION_2 2 /* ACPI 2.0+: XSDT address and length valid */

/* System Description Table header (5.2.6), at the start of every table. */
#define SDT_SIGNATURE 0       /* 4 bytes */
#define SDT_LENGTH 4          /* 4 bytes: of the whole table, header included */
#define SDT_REVISION 8
#define SDT_CHECKSUM 9        /* the whole table sums to zero */
#define SDT_OEM_ID 10         /* 6 bytes */
#define SDT_OEM_TABLE_ID 16   /* 8 bytes */
#define SDT_OEM_REVISION 24   /* 4 bytes */
#define SDT_CREATOR_ID 28     /* 4 bytes */
#define SDT_CREATOR_REVISION 32 /* 4 bytes */
#define SDT_HEADER_SIZE 36
#define SDT_SIGNATURE_LEN 4
#define SDT_OEM_ID_LEN 6
#define SDT_OEM_TABLE_ID_LEN 8
#define SDT_CREATOR_ID_LEN 4

/* Extended System Description Table (5.2.8): the header, then 64-bit table
 * addresses. */
#define XSDT_ENTRIES SDT_HEADER_SIZE
#define XSDT_ENTRY_SIZE 8
#define XSDT_REVISION 1

/* Differentiated System Description Table (5.2.11.1): the header, then AML.
 * Revision 2 makes AML integers 64-bit. */
#define DSDT_AML SDT_HEADER_SIZE
#define DSDT_REVISION 2

/* Generic Address Structure (5.2.3.2). */
#define GAS_ADDRESS_SPACE_ID 0
#define GAS_REGISTER_BIT_WIDTH 1
#define GAS_REGISTER_BIT_OFFSET 2
#define GAS_ACCESS_SIZE 3
#define GAS_ADDRESS 4 /* 8 bytes */
#define GAS_SIZE 12
/* Address space ID and access size values. */
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1

/* Fixed ACPI Description Table (5.2.9), revision 6 with minor version 0 =
 * ACPI 6.0: the table ends with the Hypervisor Vendor Identity. */
#define FADT_FIRMWARE_CTRL 36   /* 4 bytes: FACS address, 0 = none */
#define FADT_DSDT 40            /* 4 bytes */
#define FADT_PREFERRED_PM_PROFILE 45
#define FADT_IAPC_BOOT_ARCH 109 /* 2 bytes */
#define FADT_FLAGS 112          /* 4 bytes */
#define FADT_RESET_REG 116      /* GAS */
#define FADT_RESET_VALUE 128
#define FADT_MINOR_VERSION 131
#define FADT_X_FIRMWARE_CTRL 132 /* 8 bytes: 0 = no FACS */
#define FADT_X_DSDT 140         /* 8 bytes */
#define FADT_SLEEP_CONTROL_REG 244 /* GAS */
#define FADT_SLEEP_STATUS_REG 256  /* GAS */
#define FADT_HYPERVISOR_VENDOR_ID 268 /* 8 bytes */
#define FADT_SIZE 276
#define FADT_REVISION 6
#define FADT_MINOR_VERSION_6_0 0
#define FADT_HYPERVISOR_VENDOR_ID_LEN 8
#define FADT_PM_PROFILE_UNSPECIFIED 0
/* Flags (5.2.9, table "Fixed ACPI Description Table Fixed Feature Flags"). */
#define FADT_WBINVD (1u << 0)
#define FADT_PWR_BUTTON (1u << 4) /* set: no fixed-feature power button */
#define FADT_SLP_BUTTON (1u << 5) /* set: no fixed-feature sleep button */
#define FADT_RESET_REG_SUP (1u << 10)
#define FADT_HW_REDUCED_ACPI (1u << 20)
/* IAPC_BOOT_ARCH (5.2.9.3). */
#define IAPC_8042 (1u << 1)
#define IAPC_VGA_NOT_PRESENT (1u << 2)
#define IAPC_MSI_NOT_SUPPORTED (1u << 3)
#define IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)

/* Multiple APIC Description Table (5.2.12): the header, two fields, then
 * interrupt controller structures, each starting with type and length. */
#define MADT_LOCAL_APIC_ADDRESS 36 /* 4 bytes */
#define MADT_FLAGS 40              /* 4 bytes */
#define MADT_HEADER_SIZE 44
#define MADT_REVISION 4
#define MADT_PCAT_COMPAT 1u /* flags: dual 8259s present */
#define MADT_ENTRY_TYPE 0
#define MADT_ENTRY_LENGTH 1

/* Interrupt controller structure types (5.2.12, table "Interrupt Controller
 * Structure Types"). */
#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_ISO 2
#define MADT_LAPIC_NMI 4
#define MADT_X2APIC 9
#define MADT_X2APIC_NMI 10

/* Processor Local APIC (5.2.12.2). */
#define MADT_LAPIC_UID 2
#define MADT_LAPIC_APIC_ID 3
#define MADT_LAPIC_FLAGS 4 /* 4 bytes */
#define MADT_LAPIC_SIZE 8
#define MADT_ENABLED 1u /* Local APIC / x2APIC flags: usable */

/* I/O APIC (5.2.12.3). */
#define MADT_IOAPIC_ID 2
#define MADT_IOAPIC_ADDRESS 4  /* 4 bytes */
#define MADT_IOAPIC_GSI_BASE 8 /* 4 bytes */
#define MADT_IOAPIC_SIZE 12

/* Interrupt Source Override (5.2.12.5). */
#define MADT_ISO_BUS 2 /* 0 = ISA */
#define MADT_ISO_SOURCE 3
#define MADT_ISO_GSI 4   /* 4 bytes */
#define MADT_ISO_FLAGS 8 /* 2 bytes: MPS INTI flags */
#define MADT_ISO_SIZE 10
#define MADT_BUS_ISA 0
#define MPS_INTI_CONFORMS 0 /* polarity and trigger as the bus defines them */

/* Local APIC NMI (5.2.12.7). */
#define MADT_LAPIC_NMI_UID 2   /* 0xff: all processors */
#define MADT_LAPIC_NMI_FLAGS 3 /* 2 bytes: MPS INTI flags */
#define MADT_LAPIC_NMI_LINT 5
#define MADT_LAPIC_NMI_SIZE 6
#define MADT_LAPIC_NMI_ALL_UIDS 0xffu

/* Processor Local x2APIC (5.2.12.12). */
#define MADT_X2APIC_ID 4    /* 4 bytes */
#define MADT_X2APIC_FLAGS 8 /* 4 bytes */
#define MADT_X2APIC_UID 12  /* 4 bytes */
#define MADT_X2APIC_SIZE 16

/* Local x2APIC NMI (5.2.12.13). */
#define MADT_X2APIC_NMI_FLAGS 2 /* 2 bytes: MPS INTI flags */
#define MADT_X2APIC_NMI_UID 4   /* 4 bytes; 0xffffffff: all processors */
#define MADT_X2APIC_NMI_LINT 8
#define MADT_X2APIC_NMI_SIZE 12 /* 3 reserved bytes end it */
#define MADT_X2APIC_NMI_ALL_UIDS 0xffffffffu

/* Local APIC interrupt input wired to NMI, in both NMI structures. */
#define LAPIC_LINT1 1

_Static_assert(RSDP_SIGNATURE + RSDP_SIGNATURE_LEN == RSDP_CHECKSUM, "RSDP signature");
_Static_assert(RSDP_OEM_ID + SDT_OEM_ID_LEN == RSDP_REVISION, "RSDP OEM ID");
_Static_assert(RSDP_RSDT_ADDRESS + 4 == RSDP_V1_SIZE, "RSDP 1.0 part");
_Static_assert(RSDP_EXTENDED_CHECKSUM + 1 + 3 == RSDP_SIZE, "RSDP size");
_Static_assert(SDT_OEM_ID + SDT_OEM_ID_LEN == SDT_OEM_TABLE_ID, "SDT OEM ID");
_Static_assert(SDT_OEM_TABLE_ID + SDT_OEM_TABLE_ID_LEN == SDT_OEM_REVISION, "SDT OEM table ID");
_Static_assert(SDT_CREATOR_REVISION + 4 == SDT_HEADER_SIZE, "SDT header size");
_Static_assert(GAS_ADDRESS + 8 == GAS_SIZE, "GAS size");
_Static_assert(FADT_RESET_REG + GAS_SIZE == FADT_RESET_VALUE, "FADT reset register");
_Static_assert(FADT_MINOR_VERSION + 1 == FADT_X_FIRMWARE_CTRL, "FADT X_FIRMWARE_CTRL");
_Static_assert(FADT_X_FIRMWARE_CTRL + 8 == FADT_X_DSDT, "FADT X_DSDT");
/* Between X_DSDT and the sleep registers: the eight X_ PM1/PM2/PM timer/GPE
 * block addresses, one GAS each. */
_Static_assert(FADT_X_DSDT + 8 + 8 * GAS_SIZE == FADT_SLEEP_CONTROL_REG, "FADT sleep control");
_Static_assert(FADT_SLEEP_CONTROL_REG + GAS_SIZE == FADT_SLEEP_STATUS_REG, "FADT sleep regs");
_Static_assert(FADT_SLEEP_STATUS_REG + GAS_SIZE == FADT_HYPERVISOR_VENDOR_ID, "FADT sleep status");
_Static_assert(FADT_HYPERVISOR_VENDOR_ID + FADT_HYPERVISOR_VENDOR_ID_LEN == FADT_SIZE, "FADT size");
_Static_assert(MADT_FLAGS + 4 == MADT_HEADER_SIZE, "MADT header size");
_Static_assert(MADT_LAPIC_FLAGS + 4 == MADT_LAPIC_SIZE, "MADT local APIC size");
_Static_assert(MADT_IOAPIC_GSI_BASE + 4 == MADT_IOAPIC_SIZE, "MADT I/O APIC size");
_Static_assert(MADT_ISO_FLAGS + 2 == MADT_ISO_SIZE, "MADT override size");
_Static_assert(MADT_LAPIC_NMI_LINT + 1 == MADT_LAPIC_NMI_SIZE, "MADT local APIC NMI size");
_Static_assert(MADT_X2APIC_UID + 4 == MADT_X2APIC_SIZE, "MADT x2APIC size");
_Static_assert(MADT_X2APIC_NMI_LINT + 1 + 3 == MADT_X2APIC_NMI_SIZE, "MADT x2APIC NMI size");

#endif
