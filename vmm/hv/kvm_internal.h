/* vmm/hv/kvm_internal.h - state shared by the KVM backend's files.
 *
 * Owns: the KVM guest (VM fd, memory slots, recorded traps, the CPUID template)
 * and vCPU (vCPU fd, mmapped kvm_run, pending string I/O, kick state) objects.
 * Only vmm/hv/kvm*.c include this; it is the one place <linux/kvm.h> is seen.
 */
#ifndef VMM_HV_KVM_INTERNAL_H
#define VMM_HV_KVM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/hv.h"

/* Enough for every device the vmm registers; set_trap answers -ENOSPC beyond. */
#define KVM_MAX_TRAPS 256

struct kvm_trap {
	enum hv_trap_kind kind;
	uint64_t addr, len;
};

struct hv_guest {
	int vm_fd;
	int run_size;               /* KVM_GET_VCPU_MMAP_SIZE */
	uint32_t next_slot;         /* next free memory slot */
	struct kvm_cpuid2 *cpuid;   /* supported CPUID, fixed up per vCPU */
	/* Traps are written during Create and read by every vCPU thread. */
	pthread_rwlock_t trap_lock;
	unsigned ntraps;
	atomic_uint nbells;         /* bell traps among them: 0 skips the lookup */
	struct kvm_trap traps[KVM_MAX_TRAPS];
};

/* A string I/O exit (ins/outs with rep, count > 1) is handed to the vmm one
 * element at a time; KVM is re-entered only after the last one. */
struct kvm_pio_pending {
	bool active;
	uint32_t index, count;
};

enum kvm_read_kind { KVM_READ_NONE = 0, KVM_READ_MMIO, KVM_READ_PIO };

struct hv_vcpu {
	struct hv_guest *g;
	unsigned id;
	int fd;
	struct kvm_run *run;
	int run_size;
	struct kvm_pio_pending pio;
	enum kvm_read_kind read_pending; /* what complete_read must fill */
	/* Kick state: kicked and run->immediate_exit change together under
	 * kick_lock; thread is signalled only while in_run, so it is alive. */
	pthread_mutex_t kick_lock;
	bool kicked, in_run;
	pthread_t thread;
};

/* Whether guest-physical addr lies in a BELL trap: KVM reports bell writes
 * as ordinary MMIO writes, so the backend tells them apart itself. */
bool kvm_trap_is_bell(struct hv_guest *g, uint64_t addr);

/* vCPU operations (kvm_vcpu.c, kvm_state.c). */
int kvm_vcpu_create(struct hv_guest *g, unsigned id, struct hv_vcpu **out);
void kvm_vcpu_destroy(struct hv_vcpu *v);
int kvm_vcpu_write_state(struct hv_vcpu *v, const struct hv_regs *regs);
int kvm_vcpu_read_state(struct hv_vcpu *v, struct hv_regs *regs);
int kvm_vcpu_enter(struct hv_vcpu *v, struct hv_exit *exit);
int kvm_vcpu_complete_read(struct hv_vcpu *v, uint64_t value);
void kvm_vcpu_kick(struct hv_vcpu *v);

/* ioctl that retries when a signal interrupts it (not used for KVM_RUN, where
 * EINTR means a kick). Returns the ioctl result or -errno. */
int kvm_ioctl(int fd, unsigned long req, void *arg);

#endif
