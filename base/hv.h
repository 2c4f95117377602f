/* base/hv.h - the hypervisor interface.
 *
 * Owns: the one boundary between the guest-agnostic vmm and whatever runs guest
 * code. Shaped after Zircon's hypervisor: a guest object that maps memory and
 * holds traps (memory, I/O port, bell), vCPUs that are entered until they exit
 * with a packet, read exits answered by completing them with a value, and
 * interrupts raised through the interface.
 *
 * Backends implement struct hv_ops and declare it in their own header; this
 * interface names none of them (a program picks one, vmm/vmm_main.c by name).
 *
 * All functions return 0 or a negative errno. Calls on one vCPU come from one
 * thread, except vcpu_kick, which any thread may call at any time.
 */
#ifndef BASE_HV_H
#define BASE_HV_H

#include <stddef.h>
#include <stdint.h>

#define HV_MAX_VCPUS 64

struct hv_guest;
struct hv_vcpu;

enum hv_trap_kind {
	HV_TRAP_MEM = 0,  /* guest-physical range; reads and writes exit */
	HV_TRAP_IO = 1,   /* I/O port range; in and out exit */
	HV_TRAP_BELL = 2, /* guest-physical range; writes exit, no answer needed */
};

enum hv_exit_kind {
	HV_EXIT_MEM_READ = 1, /* answer with hv_ops.vcpu_complete_read */
	HV_EXIT_MEM_WRITE = 2,
	HV_EXIT_IO_IN = 3,    /* answer with hv_ops.vcpu_complete_read */
	HV_EXIT_IO_OUT = 4,
	HV_EXIT_BELL = 5,
	HV_EXIT_HALT = 6,     /* vCPU halted with nothing that can wake it */
	HV_EXIT_SHUTDOWN = 7, /* triple fault or equivalent: the CPU reset itself */
	HV_EXIT_KICK = 8,     /* vcpu_kick was called; the vCPU can be entered again */
	HV_EXIT_FAILURE = 9,  /* the backend cannot continue this vCPU */
	HV_EXIT_END = 10,     /* sim only: the script has no more events for this vCPU */
};

struct hv_exit {
	enum hv_exit_kind kind;
	uint64_t addr;   /* guest-physical address, or port */
	uint8_t size;    /* 1, 2, 4 or 8 */
	uint64_t data;   /* value written, for MEM_WRITE / IO_OUT / BELL */
	uint32_t reason; /* FAILURE / SHUTDOWN: backend's detail code */
};

struct hv_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint8_t type, present, dpl, db, s, l, g;
};

/* The x86-64 register state a vCPU is entered with. Loaders fill it. */
struct hv_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
	uint64_t cr0, cr3, cr4, efer;
	struct hv_segment cs, ds, es, fs, gs, ss, tr, ldt;
	uint64_t gdt_base, idt_base;
	uint16_t gdt_limit, idt_limit;
};

struct hv_ops {
	const char *name;
	/* The largest vCPU count this backend can run (GuestConfig validation). */
	int (*max_vcpus)(void);

	/* hv_fd is the hypervisor handle the vmm was given (/dev/kvm), or -1. */
	int (*guest_create)(int hv_fd, void *backend_arg, struct hv_guest **out);
	void (*guest_destroy)(struct hv_guest *g);

	/* Map host memory [hva, hva+len) at guest-physical gpa. memfd/offset name the
	 * same memory so that other processes may map it. */
	int (*map_memory)(struct hv_guest *g, uint64_t gpa, void *hva, uint64_t len,
	                  int memfd, uint64_t offset);
	/* Make accesses to [addr, addr+len) exit. Exits carry the address only:
	 * the caller's bus finds the device (no per-trap key to look up). */
	int (*set_trap)(struct hv_guest *g, enum hv_trap_kind kind, uint64_t addr,
	                uint64_t len);
	/* Raise (level 1) or lower (level 0) interrupt line gsi. */
	int (*set_irq)(struct hv_guest *g, uint32_t gsi, int level);

	/* vCPU 0 is the boot processor; others wait for INIT/SIPI unless given state. */
	int (*vcpu_create)(struct hv_guest *g, unsigned id, struct hv_vcpu **out);
	void (*vcpu_destroy)(struct hv_vcpu *v);
	int (*vcpu_write_state)(struct hv_vcpu *v, const struct hv_regs *regs);
	int (*vcpu_read_state)(struct hv_vcpu *v, struct hv_regs *regs);
	/* Run until the next exit packet. */
	int (*vcpu_enter)(struct hv_vcpu *v, struct hv_exit *exit);
	/* Answer the last MEM_READ / IO_IN exit; must precede the next enter. */
	int (*vcpu_complete_read)(struct hv_vcpu *v, uint64_t value);
	/* From any thread: make the current or next vcpu_enter return HV_EXIT_KICK. */
	void (*vcpu_kick)(struct hv_vcpu *v);
	/* Optional: a human-readable account of why the last HV_EXIT_FAILURE
	 * happened (the sim's divergence report), or NULL. */
	const char *(*failure_detail)(struct hv_guest *g);
};

const char *hv_exit_kind_name(enum hv_exit_kind k);
/* The kind hv_exit_kind_name names `name` ("io-out", ...), or 0 for none. */
enum hv_exit_kind hv_exit_kind_from_name(const char *name);

#endif
