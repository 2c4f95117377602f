/* vmm/acpi.h - the ACPI tables that describe the machine to a stock kernel.
 *
 * Owns: building RSDP (revision 2), XSDT, FADT (revision 6.0, hardware-reduced
 * ACPI), MADT (revision 4) and DSDT (AML from vmm/aml.h) for one VM and
 * writing them into guest memory, plus the I/O ports and values of the two
 * tiny fixed-hardware registers the tables promise (sleep and reset), which
 * the vm must implement.
 *
 * Why ACPI: Debian kernels find virtio-mmio devices only through ACPI
 * (LNRO0005 devices in the DSDT); VIRTIO_MMIO_CMDLINE_DEVICES and OF are off.
 * Hardware-reduced ACPI means no PM1/GPE blocks, no SCI, no FACS, no PM timer:
 * the only fixed hardware is the sleep control/status register (so `poweroff`
 * reaches us) and the reset register (so `reboot` does).
 *
 * Memory placement. All tables live in [ACPI_TABLES_GPA, ACPI_TABLES_END) =
 * [0xe0000, 0xf0000), the lower half of the BIOS area that the e820 map
 * reports reserved (boot_x86.h), so the guest never reuses it as RAM:
 *
 *   0x9fc00 - 0xa0000   MP table (mptable.h), <= 40 CPUs      - not ours
 *   0xe0000             RSDP (36 bytes; 16-byte aligned)
 *   0xe0030 ...         XSDT, FADT, MADT, DSDT, each 16-byte aligned, in
 *                       that order, packed (DSDT last: the largest, it grows
 *                       with the CPU and device count); 1 CPU + 3 virtio
 *                       devices take about 1 KiB in all
 *   < 0xf0000           end of the window: -E2BIG past it
 *   0xf0000 - ~0xf05cc  MP configuration table for > 40 CPUs   - not ours
 *   0xffff0 - 0xffff9   the reset vector's stub (acpi_write_reset_vector):
 *                       writes the reset register, for Linux's BOOT_BIOS
 *
 * Nothing of loader.h's fixed addresses (all below 0x10000) nor any kernel
 * or ramdisk (>= 1 MiB) lies there. Linux finds the RSDP through the boot
 * protocol (zero page acpi_rsdp_addr at 0x070, boot protocol >= 2.14; PVH
 * hvm_start_info.rsdp_paddr), but the RSDP is also where a scan of
 * 0xe0000-0xfffff on 16-byte boundaries finds it.
 *
 * What the vm must wire (the tables promise these):
 *  - Sleep control and status register: one byte-wide I/O port,
 *    ACPI_SLEEP_PORT (both SLEEP_CONTROL_REG and SLEEP_STATUS_REG point at
 *    it). Linux writes ACPI_WAK_STS first (ignore it), then
 *    (SLP_TYP << 2) | SLP_EN; a write with ACPI_SLP_EN set and
 *    SLP_TYP == ACPI_S5_SLP_TYP (byte value ACPI_S5_POWEROFF_BYTE = 0x34) is
 *    `poweroff`: stop the VM cleanly. Other writes are ignored. Reads return 0
 *    (the guest never waits for a wake from S5).
 *  - Reset register: byte-wide I/O port ACPI_RESET_PORT; writing
 *    ACPI_RESET_VALUE is `reboot`. Other values are ignored.
 *  - RSDP address: *rsdp_gpa from acpi_build (always ACPI_RSDP_GPA) into the
 *    zero page's acpi_rsdp_addr or hvm_start_info.rsdp_paddr.
 */
#ifndef VMM_ACPI_H
#define VMM_ACPI_H

#include <stdbool.h>
#include <stdint.h>

#include "base/guest_mem.h"

#define ACPI_TABLES_GPA 0xe0000ull
#define ACPI_TABLES_END 0xf0000ull
#define ACPI_RSDP_GPA ACPI_TABLES_GPA

/* Fixed-hardware registers (see above). 0x3c0-0x3c1 are VGA attribute
 * controller ports on a PC; the FADT says no VGA is present. */
#define ACPI_SLEEP_PORT 0x3c0
#define ACPI_RESET_PORT 0x3c1
#define ACPI_RESET_VALUE 0x01
/* Sleep control register fields (ACPI 6.0 4.8.3.7) and our S5 type. */
#define ACPI_SLP_TYP_SHIFT 2
#define ACPI_SLP_TYP_MASK 0x1c
#define ACPI_SLP_EN 0x20
#define ACPI_WAK_STS 0x80
#define ACPI_S5_SLP_TYP 5
#define ACPI_S5_POWEROFF_BYTE ((ACPI_S5_SLP_TYP << ACPI_SLP_TYP_SHIFT) | ACPI_SLP_EN)

/* Interrupt controllers, as the MP table describes them too. */
#define ACPI_IOAPIC_GPA 0xfec00000u
#define ACPI_LAPIC_GPA 0xfee00000u
#define ACPI_IOAPIC_PINS 24 /* GSIs 0-23 */
#define ACPI_ISA_IRQS 16

/* Limits: CPU devices are named C000-CFFF in the DSDT. A count the checks
 * accept can still be refused with -E2BIG if the tables outgrow the window
 * (more than about 1500 CPUs). */
#define ACPI_MAX_CPUS 4096
#define ACPI_MAX_VIRTIO 32

struct acpi_virtio_mmio {
	uint64_t base, size; /* the register window; must lie below 4 GiB */
	uint32_t gsi;        /* level-triggered, active-high; 16..23 */
};

struct acpi_machine {
	unsigned cpus; /* vCPU i has APIC ID i and ACPI processor UID i */
	unsigned nvirtio;
	struct acpi_virtio_mmio virtio[ACPI_MAX_VIRTIO]; /* DSDT VR00, VR01, ... _UID i */
	uint16_t serial_port; /* 16550 at this port (8 ports), 0 = none */
	uint8_t serial_irq;   /* its ISA IRQ (edge, active-high) */
	uint16_t sleep_port;  /* sleep control/status register; nonzero */
	uint16_t reset_port;  /* reset register; nonzero, != sleep_port */
	uint8_t reset_value;
	/* FADT IAPC_BOOT_ARCH "8042": false makes Linux skip probing the
	 * keyboard controller (its reboot fallback still writes port 0x64). */
	bool i8042;
	/* MADT PCAT_COMPAT: an 8259 pair is present (KVM's in-kernel irqchip).
	 * Note Linux in hardware-reduced mode bypasses the legacy PIC and the
	 * PIT timer set-up whatever this says (acpi_generic_reduced_hw_init),
	 * and maps ISA IRQs only as devices' _CRS ask: that is why COM1 is
	 * described in the DSDT. */
	bool pic;
	/* Emit an interrupt source override ISA IRQ 0 -> GSI 2 (edge, high), for
	 * a PIT wired the way PC chipsets wire it. Off: IRQ 0 is GSI 0, the
	 * identity routing the MP table and KVM's default routing use. */
	bool irq0_to_gsi2;
};

/* For the vm's sleep-port device: does this byte, written to the sleep
 * control register, ask for S5 (poweroff)? False for the WAK_STS clear and
 * for any write without SLP_EN. */
bool acpi_sleep_is_poweroff(uint8_t value);

/* Fill *m for `cpus` vCPUs: COM1 (0x3f8, IRQ 4), the sleep and reset ports
 * above, an 8259 present, no i8042, no virtio devices (append them). */
void acpi_machine_init(struct acpi_machine *m, unsigned cpus);

/* Build every table for *m and write them into [ACPI_TABLES_GPA,
 * ACPI_TABLES_END) of gm (the whole window: the unused tail is zeroed).
 * Sets *rsdp_gpa (may be NULL) to the RSDP's address. Returns 0, or:
 *  -EINVAL  m is inconsistent: cpus 0 or > ACPI_MAX_CPUS; more than
 *           ACPI_MAX_VIRTIO devices; a virtio window empty, not below
 *           4 GiB, overlapping another, guest RAM or the APIC pages; a virtio
 *           GSI outside 16..ACPI_IOAPIC_PINS-1 or shared; a serial IRQ >= 16
 *           or ports past 0xffff; a sleep/reset port 0, equal to the other,
 *           or inside the serial port's range
 *  -E2BIG   the tables would not fit the window
 *  -ENOSPC  guest RAM does not cover the window
 *  -ENOMEM
 * Nothing is written to gm unless it returns 0. */
int acpi_build(const struct guest_mem *gm, const struct acpi_machine *m, uint64_t *rsdp_gpa);

/* The x86 reset vector (F000:FFF0, physical ACPI_RESET_VECTOR_GPA) as
 * firmware: a real-mode stub that writes m's reset value to its reset port
 * (then halts). Linux on a hardware-reduced FADT never tries the FADT reset
 * register by default: reboot_init() takes the HW_REDUCED flag as "EFI reboot
 * required" (BOOT_EFI), and with no EFI the next method is BOOT_BIOS, a jump
 * to this vector in real mode. Without firmware there the guest spun in
 * zeroed memory forever. 0 or -EFAULT (not guest RAM). */
#define ACPI_RESET_VECTOR_GPA 0xffff0ull
int acpi_write_reset_vector(const struct guest_mem *gm, const struct acpi_machine *m);

#endif
