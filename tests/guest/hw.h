/* tests/guest/hw.h - the x86 instructions the test guest needs, as inlines.
 *
 * Owns: port I/O, MMIO, CPUID-derived APIC ID, TSC and spin hints. Nothing
 * here touches memory the compiler does not know about except through
 * volatile pointers.
 */
#ifndef GUEST_HW_H
#define GUEST_HW_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t mmio_read32(uint64_t addr)
{
	return *(volatile uint32_t *)(uintptr_t)addr;
}

static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)addr = v;
}

/* Initial APIC ID from CPUID leaf 1 (the vmm sets it to the vCPU index). */
static inline unsigned apic_id(void)
{
	uint32_t a = 1, b, c = 0, d;
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return b >> 24;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline void *gpa(uint64_t a)
{
	return (void *)(uintptr_t)a; /* identity-mapped: virtual = physical */
}

#endif
