/* tests/guest/entry.S - PVH entry, long mode, and the AP trampoline.
 *
 * Owns: the PVH ELF note, the GDT, identity page tables for 0-4 GiB (2 MiB
 * pages, built by the assembler so the guest spends no instructions on them),
 * the switch from 32-bit protected mode to long mode shared by the BSP and
 * the APs, the stacks, and the deliberate triple fault at the end.
 */
#define SEL_CODE32 0x08
#define SEL_CODE64 0x10
#define SEL_DATA 0x18
#define SMP_MAX_CPUS 64
#define AP_STACK_SHIFT 12 /* 4 KiB per AP */
#define CR4_PAE 0x20
#define EFER_MSR 0xc0000080
#define EFER_LME 0x100
#define CR0_PG_PE 0x80000001

/* XEN_ELFNOTE_PHYS32_ENTRY (18): where a PVH loader enters us. */
	.section .note.Xen, "a", @note
	.p2align 2
	.long 4, 4, 18
	.asciz "Xen"
	.long pvh_entry32

	.section .text.entry, "ax", @progbits
	.code32
/* PVH: 32-bit flat protected mode, paging off, ebx = hvm_start_info. */
	.globl pvh_entry32
pvh_entry32:
	cli
	cld
	movl %ebx, start_info_pa
	xorl %edi, %edi /* edi 0: boot processor */
	jmp 1f

/* APs arrive here from the trampoline, in protected mode on our GDT. */
	.globl ap_entry32
ap_entry32:
	/* DS still has the trampoline's real-mode base (0x8000): make it flat
	 * before anything is addressed through it. */
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl $1, %edi
1:	lgdt gdt_ptr
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $EFER_MSR, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $CR0_PG_PE, %eax
	movl %eax, %cr0
	ljmp $SEL_CODE64, $entry64

	.code64
entry64:
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	testl %edi, %edi
	jnz 2f
	movabsq $bsp_stack_top, %rsp
	call guest_main
	jmp triple_fault
2:	movl $1, %eax
	cpuid
	shrl $24, %ebx /* initial APIC ID picks the stack */
	cmpl $SMP_MAX_CPUS, %ebx
	jae park
	leal 1(%ebx), %eax
	shll $AP_STACK_SHIFT, %eax
	movabsq $ap_stacks, %rsp
	addq %rax, %rsp
	movl %ebx, %edi
	call ap_main
park:
	cli
	hlt
	jmp park

/* An empty IDT makes the next exception a triple fault: the CPU resets,
 * which `qemu -no-reboot` turns into an exit. */
triple_fault:
	lidt idt_null
	ud2
	jmp triple_fault

	.section .data, "aw", @progbits
	.globl start_info_pa
	.p2align 2
start_info_pa:
	.long 0

	.p2align 3
gdt:
	.quad 0
	.quad 0x00cf9b000000ffff /* 0x08 code32: exec/read, D=1, 4 GiB */
	.quad 0x00af9b000000ffff /* 0x10 code64: exec/read, L=1 */
	.quad 0x00cf93000000ffff /* 0x18 data: read/write, 4 GiB */
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.long gdt
idt_null:
	.word 0
	.quad 0

	.section .data.pagetables, "aw", @progbits
	.p2align 12
pml4:
	.quad pdpt + 3
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x0003
	.quad pd + 0x1003
	.quad pd + 0x2003
	.quad pd + 0x3003
	.fill 508, 8, 0
pd:
	.set page, 0
	.rept 2048
	.quad (page << 21) | 0x83 /* present, writable, 2 MiB */
	.set page, page + 1
	.endr

	.section .bss, "aw", @nobits
	.p2align 12
	.globl ap_stacks
ap_stacks:
	.skip SMP_MAX_CPUS << AP_STACK_SHIFT
	.p2align 12
	.skip 8192
bsp_stack_top:

/* Real-mode trampoline, copied to 0x8000. A SIPI with vector 8 starts the
 * AP at cs = 0x0800, ip = 0; the GDT pointer is read relative to cs. */
	.section .rodata.trampoline, "a", @progbits
	.code16
	.globl tramp_start, tramp_end
tramp_start:
	cli
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tramp_gdt_ptr - tramp_start
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $SEL_CODE32, $ap_entry32
	.p2align 2
tramp_gdt_ptr:
	.word gdt_end - gdt - 1
	.long gdt
tramp_end:
	.code64
