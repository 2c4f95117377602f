/* vmm/machine.h - the machine the vmm builds: where its devices sit.
 *
 * Owns: the guest-visible layout of the x86 machine (COM1's port and IRQ,
 * the virtio-mmio window and its slots, the GSIs those slots interrupt on).
 * The vm maps devices there, ACPI describes them there, and replay names
 * registers by them, so they are stated once. arm64 gets a header of its own.
 */
#ifndef VMM_MACHINE_H
#define VMM_MACHINE_H

/* The 16550A at the PC's first serial port. */
#define VM_COM1_BASE 0x3f8
#define VM_COM1_IRQ 4
/* Guest-physical window for virtio-mmio devices (below the 32-bit MMIO
 * hole's top): slot i at VM_VIRTIO_MMIO_BASE + i * VM_VIRTIO_MMIO_SIZE. */
#define VM_VIRTIO_MMIO_BASE 0xd0000000ull
#define VM_VIRTIO_MMIO_SIZE 0x200ull
#define VM_MAX_VIRTIO 8
/* virtio-mmio slot i interrupts on GSI VM_VIRTIO_GSI_BASE + i (level, active high). */
#define VM_VIRTIO_GSI_BASE 16

#endif
