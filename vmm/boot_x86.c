/* vmm/boot_x86.c - see boot_x86.h. */
#include "boot_x86.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "loader.h"

#define CR0_PE (1ull << 0)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define RFLAGS_RESERVED1 (1ull << 1) /* always-one bit; IF (bit 9) stays clear */

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull /* 2 MiB page in a PD entry */

static unsigned add(struct x86_e820 *out, unsigned n, uint64_t a, uint64_t end, uint32_t type)
{
	if (end > a && n < X86_E820_MAX)
		out[n++] = (struct x86_e820){ .addr = a, .size = end - a, .type = type };
	return n;
}

unsigned x86_e820_build(const struct guest_mem *gm, struct x86_e820 *out)
{
	unsigned n = 0;
	bool low = false;
	for (unsigned i = 0; i < gm->nregions && i < GM_MAX_REGIONS; i++) {
		uint64_t a = gm->regions[i].gpa, end = a + gm->regions[i].len;
		if (a == 0)
			low = true;
		/* RAM below the EBDA, and RAM from 1 MiB: the hole between is
		 * EBDA, VGA window and BIOS, never usable RAM on a PC. */
		n = add(out, n, a, end < X86_EBDA_START ? end : X86_EBDA_START, E820_RAM);
		n = add(out, n, a > X86_BIOS_END ? a : X86_BIOS_END, end, E820_RAM);
	}
	if (low) {
		n = add(out, n, X86_EBDA_START, X86_EBDA_END, E820_RESERVED);
		n = add(out, n, X86_BIOS_START, X86_BIOS_END, E820_RESERVED);
	}
	/* Insertion sort: kernels expect the map in address order. */
	for (unsigned i = 1; i < n; i++) {
		struct x86_e820 t = out[i];
		unsigned j = i;
		for (; j > 0 && out[j - 1].addr > t.addr; j--)
			out[j] = out[j - 1];
		out[j] = t;
	}
	return n;
}

int x86_write_gdt(const struct guest_mem *gm)
{
	/* Flat 4 GiB descriptors (base 0, limit 0xfffff pages). */
	const uint64_t gdt[6] = {
		0,
		0x00cf9b000000ffffull, /* 0x08 code32: exec/read, D=1, G=1 */
		0x00af9b000000ffffull, /* 0x10 code64: exec/read, L=1, G=1 */
		0x00cf93000000ffffull, /* 0x18 data: read/write, B=1, G=1 */
		0x00008b0000000067ull, /* 0x20 TSS: busy, base 0, limit 0x67 */
		0,                     /* 0x28 upper half of the 64-bit TSS descriptor */
	};
	uint8_t b[sizeof(gdt)];
	for (unsigned i = 0; i < 6; i++)
		for (unsigned k = 0; k < 8; k++)
			b[i * 8 + k] = (uint8_t)(gdt[i] >> (8 * k));
	return gm_write(gm, LOADER_GDT_GPA, b, sizeof(b));
}

int x86_write_page_tables(const struct guest_mem *gm)
{
	uint8_t page[4096];
	memset(page, 0, sizeof(page));
	uint64_t e = LOADER_PDPT_GPA | PTE_P | PTE_RW;
	memcpy(page, &e, 8); /* x86 is little-endian, as is this host */
	if (gm_write(gm, LOADER_PML4_GPA, page, sizeof(page)) != 0)
		return -EFAULT;
	memset(page, 0, sizeof(page));
	for (unsigned i = 0; i < 4; i++) {
		e = (LOADER_PD_GPA + i * 4096ull) | PTE_P | PTE_RW;
		memcpy(page + i * 8, &e, 8);
	}
	if (gm_write(gm, LOADER_PDPT_GPA, page, sizeof(page)) != 0)
		return -EFAULT;
	for (unsigned d = 0; d < 4; d++) {
		for (unsigned i = 0; i < 512; i++) {
			e = ((uint64_t)d << 30 | (uint64_t)i << 21) | PTE_P | PTE_RW | PTE_PS;
			memcpy(page + i * 8, &e, 8);
		}
		if (gm_write(gm, LOADER_PD_GPA + d * 4096ull, page, sizeof(page)) != 0)
			return -EFAULT;
	}
	return 0;
}

static struct hv_segment flat(uint16_t sel, uint8_t type, uint8_t db, uint8_t l)
{
	return (struct hv_segment){ .base = 0, .limit = 0xffffffff, .selector = sel,
	                            .type = type, .present = 1, .dpl = 0, .db = db,
	                            .s = 1, .l = l, .g = 1 };
}

static void common(struct hv_regs *r)
{
	memset(r, 0, sizeof(*r));
	r->rflags = RFLAGS_RESERVED1;
	struct hv_segment d = flat(LOADER_SEL_DATA, 0x3, 1, 0);
	r->ds = r->es = r->fs = r->gs = r->ss = d;
	r->tr = (struct hv_segment){ .selector = LOADER_SEL_TSS, .limit = 0x67, .type = 0xb,
	                             .present = 1 };
	r->ldt = (struct hv_segment){ .limit = 0xffff, .type = 0x2, .present = 1 };
	r->gdt_base = LOADER_GDT_GPA;
	r->gdt_limit = 6 * 8 - 1;
}

void x86_regs_long_mode(struct hv_regs *r, uint64_t rip, uint64_t rsi)
{
	common(r);
	r->cs = flat(LOADER_SEL_CODE64, 0xb, 0, 1);
	r->rip = rip;
	r->rsi = rsi;
	r->cr0 = CR0_PE | CR0_PG;
	r->cr3 = LOADER_PML4_GPA;
	r->cr4 = CR4_PAE;
	r->efer = EFER_LME | EFER_LMA;
}

void x86_regs_protected32(struct hv_regs *r, uint32_t eip, uint32_t ebx)
{
	common(r);
	r->cs = flat(LOADER_SEL_CODE32, 0xb, 1, 0);
	r->rip = eip;
	r->rbx = ebx;
	r->cr0 = CR0_PE;
}
