/* vmm/hv/kvm_state.c - struct hv_regs <-> KVM regs and sregs.
 *
 * Owns: the translation of the backend-neutral register state into KVM's
 * kvm_regs / kvm_sregs, and making an application processor runnable when the
 * vmm gives it state (otherwise it waits for INIT/SIPI in the in-kernel APIC).
 */
#include <errno.h>
#include <string.h>

#include "vmm/hv/kvm_internal.h"

static void seg_to_kvm(const struct hv_segment *s, struct kvm_segment *k)
{
	k->base = s->base;
	k->limit = s->limit;
	k->selector = s->selector;
	k->type = s->type;
	k->present = s->present;
	k->dpl = s->dpl;
	k->db = s->db;
	k->s = s->s;
	k->l = s->l;
	k->g = s->g;
	k->avl = 0;
	/* VMX wants "unusable" rather than "not present" for null segments. */
	k->unusable = !s->present;
}

static void seg_from_kvm(const struct kvm_segment *k, struct hv_segment *s)
{
	s->base = k->base;
	s->limit = k->limit;
	s->selector = k->selector;
	s->type = k->type;
	s->present = k->unusable ? 0 : k->present;
	s->dpl = k->dpl;
	s->db = k->db;
	s->s = k->s;
	s->l = k->l;
	s->g = k->g;
}

int kvm_vcpu_write_state(struct hv_vcpu *v, const struct hv_regs *r)
{
	if (!v || !r)
		return -EINVAL;
	struct kvm_sregs sr;
	int e = kvm_ioctl(v->fd, KVM_GET_SREGS, &sr);
	if (e < 0)
		return e;
	seg_to_kvm(&r->cs, &sr.cs);
	seg_to_kvm(&r->ds, &sr.ds);
	seg_to_kvm(&r->es, &sr.es);
	seg_to_kvm(&r->fs, &sr.fs);
	seg_to_kvm(&r->gs, &sr.gs);
	seg_to_kvm(&r->ss, &sr.ss);
	seg_to_kvm(&r->ldt, &sr.ldt);
	/* VM entry needs a usable TR even where the boot ABI leaves it undefined
	 * (PVH does); keep the reset-time busy TSS when the loader gave none. */
	if (r->tr.present)
		seg_to_kvm(&r->tr, &sr.tr);
	sr.gdt.base = r->gdt_base;
	sr.gdt.limit = r->gdt_limit;
	sr.idt.base = r->idt_base;
	sr.idt.limit = r->idt_limit;
	sr.cr0 = r->cr0;
	sr.cr3 = r->cr3;
	sr.cr4 = r->cr4;
	sr.efer = r->efer;
	if ((e = kvm_ioctl(v->fd, KVM_SET_SREGS, &sr)) < 0)
		return e;

	struct kvm_regs kr = {
		.rax = r->rax, .rbx = r->rbx, .rcx = r->rcx, .rdx = r->rdx,
		.rsi = r->rsi, .rdi = r->rdi, .rsp = r->rsp, .rbp = r->rbp,
		.r8 = r->r8, .r9 = r->r9, .r10 = r->r10, .r11 = r->r11,
		.r12 = r->r12, .r13 = r->r13, .r14 = r->r14, .r15 = r->r15,
		.rip = r->rip,
		/* Bit 1 is reserved and must read as one. */
		.rflags = r->rflags | 2,
	};
	if ((e = kvm_ioctl(v->fd, KVM_SET_REGS, &kr)) < 0)
		return e;

	/* An AP given explicit state starts running it instead of waiting for
	 * INIT/SIPI from the BSP. */
	if (v->id != 0) {
		struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
		if ((e = kvm_ioctl(v->fd, KVM_SET_MP_STATE, &mp)) < 0)
			return e;
	}
	return 0;
}

int kvm_vcpu_read_state(struct hv_vcpu *v, struct hv_regs *r)
{
	if (!v || !r)
		return -EINVAL;
	struct kvm_regs kr;
	struct kvm_sregs sr;
	int e = kvm_ioctl(v->fd, KVM_GET_REGS, &kr);
	if (e < 0)
		return e;
	if ((e = kvm_ioctl(v->fd, KVM_GET_SREGS, &sr)) < 0)
		return e;
	memset(r, 0, sizeof(*r));
	r->rax = kr.rax; r->rbx = kr.rbx; r->rcx = kr.rcx; r->rdx = kr.rdx;
	r->rsi = kr.rsi; r->rdi = kr.rdi; r->rsp = kr.rsp; r->rbp = kr.rbp;
	r->r8 = kr.r8; r->r9 = kr.r9; r->r10 = kr.r10; r->r11 = kr.r11;
	r->r12 = kr.r12; r->r13 = kr.r13; r->r14 = kr.r14; r->r15 = kr.r15;
	r->rip = kr.rip;
	r->rflags = kr.rflags;
	r->cr0 = sr.cr0;
	r->cr3 = sr.cr3;
	r->cr4 = sr.cr4;
	r->efer = sr.efer;
	seg_from_kvm(&sr.cs, &r->cs);
	seg_from_kvm(&sr.ds, &r->ds);
	seg_from_kvm(&sr.es, &r->es);
	seg_from_kvm(&sr.fs, &r->fs);
	seg_from_kvm(&sr.gs, &r->gs);
	seg_from_kvm(&sr.ss, &r->ss);
	seg_from_kvm(&sr.tr, &r->tr);
	seg_from_kvm(&sr.ldt, &r->ldt);
	r->gdt_base = sr.gdt.base;
	r->gdt_limit = sr.gdt.limit;
	r->idt_base = sr.idt.base;
	r->idt_limit = sr.idt.limit;
	return 0;
}
