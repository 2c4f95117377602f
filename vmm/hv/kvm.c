/* vmm/hv/kvm.c - the KVM backend: VM-wide objects and the hv_ops table.
 *
 * Owns: creating a KVM VM on the /dev/kvm fd the vmm was handed (never opening
 * /dev/kvm itself, so the vmm holds only what the launcher gave it), the
 * in-kernel interrupt controllers and PIT, guest memory slots, the trap table
 * (KVM exits on every unbacked access anyway, so traps only name the exits),
 * and interrupt lines. vCPUs live in kvm_vcpu.c and kvm_state.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/hv/kvm.h"
#include "vmm/hv/kvm_internal.h"

/* KVM on Intel needs three pages for the real-mode TSS and one for the EPT
 * identity map, somewhere guests do not use. Just below the 4 GiB BIOS area
 * and inside the 32-bit MMIO hole, as QEMU and others place them. */
#define KVM_TSS_ADDR 0xfffbd000ul
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ull

#define PAGE_MASK 0xfffull

int kvm_ioctl(int fd, unsigned long req, void *arg)
{
	int r;
	do {
		r = ioctl(fd, req, arg);
	} while (r < 0 && (errno == EINTR || errno == EAGAIN));
	return r < 0 ? -errno : r;
}

static int kvm_max_vcpus(void)
{
	/* Only a query: the VM itself is created on the fd the vmm is handed. If
	 * /dev/kvm cannot be opened here, guest_create will fail with the reason. */
	int fd = open("/dev/kvm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return HV_MAX_VCPUS;
	int n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (n <= 0)
		n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	close(fd);
	if (n <= 0 || n > HV_MAX_VCPUS)
		return HV_MAX_VCPUS;
	return n;
}

/* KVM_GET_SUPPORTED_CPUID refuses a too-small buffer with E2BIG; grow it. */
static int get_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **out)
{
	for (uint32_t n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c =
			calloc(1, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));
		if (!c)
			return -ENOMEM;
		c->nent = n;
		int r = kvm_ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
		if (r >= 0) {
			*out = c;
			return 0;
		}
		free(c);
		if (r != -E2BIG)
			return r;
	}
	return -E2BIG;
}

static void guest_free(struct hv_guest *g)
{
	if (g->vm_fd >= 0)
		close(g->vm_fd);
	free(g->cpuid);
	pthread_rwlock_destroy(&g->trap_lock);
	free(g);
}

static int kvm_guest_create(int hv_fd, void *backend_arg, struct hv_guest **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (hv_fd < 0)
		return -EBADF;
	int r = kvm_ioctl(hv_fd, KVM_GET_API_VERSION, NULL);
	if (r < 0)
		return r; /* not a KVM fd: ENOTTY */
	if (r != KVM_API_VERSION)
		return -ENOTSUP;

	struct hv_guest *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->vm_fd = -1;
	pthread_rwlock_init(&g->trap_lock, NULL);

	int run_size = kvm_ioctl(hv_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (run_size < (int)sizeof(struct kvm_run)) {
		r = run_size < 0 ? run_size : -EINVAL;
		goto fail;
	}
	g->run_size = run_size;
	if ((r = get_supported_cpuid(hv_fd, &g->cpuid)) < 0)
		goto fail;

	r = kvm_ioctl(hv_fd, KVM_CREATE_VM, (void *)0ul);
	if (r < 0)
		goto fail;
	g->vm_fd = r;
	/* The vmm may exec helpers; the VM must not leak into them. */
	fcntl(g->vm_fd, F_SETFD, FD_CLOEXEC);

	/* Both must be set before the first vCPU exists. */
	if ((r = kvm_ioctl(g->vm_fd, KVM_SET_TSS_ADDR, (void *)KVM_TSS_ADDR)) < 0)
		goto fail;
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	if ((r = kvm_ioctl(g->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap)) < 0)
		goto fail;
	/* PIC + IOAPIC + local APICs in the kernel: INIT/SIPI, timers and
	 * interrupt delivery need no exits. */
	if ((r = kvm_ioctl(g->vm_fd, KVM_CREATE_IRQCHIP, NULL)) < 0)
		goto fail;
	/* Linux calibrates against the PIT; the speaker port stays a dummy so
	 * port 0x61 does not exit. */
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if ((r = kvm_ioctl(g->vm_fd, KVM_CREATE_PIT2, &pit)) < 0)
		goto fail;
	*out = g;
	return 0;
fail:
	guest_free(g);
	return r;
}

static void kvm_guest_destroy(struct hv_guest *g)
{
	if (g)
		guest_free(g);
}

static int kvm_map_memory(struct hv_guest *g, uint64_t gpa, void *hva, uint64_t len,
                          int memfd, uint64_t offset)
{
	if (!g || !hva || len == 0 || (gpa & PAGE_MASK) || (len & PAGE_MASK) ||
	    ((uintptr_t)hva & PAGE_MASK) || gpa + len < gpa)
		return -EINVAL;
	struct kvm_userspace_memory_region mr = {
		.slot = g->next_slot,
		.flags = 0,
		.guest_phys_addr = gpa,
		.memory_size = len,
		.userspace_addr = (uintptr_t)hva,
	};
	int r = kvm_ioctl(g->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr);
	if (r < 0)
		return r;
	g->next_slot++;
	return 0;
}

/* MEM and BELL traps share guest-physical space; IO traps have their own. */
static bool same_space(enum hv_trap_kind a, enum hv_trap_kind b)
{
	return (a == HV_TRAP_IO) == (b == HV_TRAP_IO);
}

static int kvm_set_trap(struct hv_guest *g, enum hv_trap_kind kind, uint64_t addr,
                        uint64_t len)
{
	if (!g || len == 0 || addr + len < addr)
		return -EINVAL;
	if (kind != HV_TRAP_MEM && kind != HV_TRAP_IO && kind != HV_TRAP_BELL)
		return -EINVAL;
	if (kind == HV_TRAP_IO && (addr > 0xffff || len > 0x10000 - addr))
		return -EINVAL;
	int r = 0;
	pthread_rwlock_wrlock(&g->trap_lock);
	for (unsigned i = 0; i < g->ntraps; i++) {
		const struct kvm_trap *t = &g->traps[i];
		if (same_space(t->kind, kind) && addr < t->addr + t->len &&
		    t->addr < addr + len) {
			r = -EEXIST;
			goto out;
		}
	}
	if (g->ntraps == KVM_MAX_TRAPS) {
		r = -ENOSPC;
		goto out;
	}
	g->traps[g->ntraps++] = (struct kvm_trap){ kind, addr, len };
	if (kind == HV_TRAP_BELL)
		atomic_fetch_add(&g->nbells, 1);
out:
	pthread_rwlock_unlock(&g->trap_lock);
	return r;
}

bool kvm_trap_is_bell(struct hv_guest *g, uint64_t addr)
{
	/* The vmm registers no bells: its MMIO writes skip the scan and the lock. */
	if (atomic_load(&g->nbells) == 0)
		return false;
	bool bell = false;
	pthread_rwlock_rdlock(&g->trap_lock);
	for (unsigned i = 0; i < g->ntraps; i++) {
		const struct kvm_trap *t = &g->traps[i];
		if (t->kind != HV_TRAP_IO && addr >= t->addr && addr - t->addr < t->len) {
			bell = t->kind == HV_TRAP_BELL;
			break;
		}
	}
	pthread_rwlock_unlock(&g->trap_lock);
	return bell;
}

static int kvm_set_irq(struct hv_guest *g, uint32_t gsi, int level)
{
	if (!g)
		return -EINVAL;
	struct kvm_irq_level irq = { .irq = gsi, .level = level ? 1 : 0 };
	int r = kvm_ioctl(g->vm_fd, KVM_IRQ_LINE, &irq);
	return r < 0 ? r : 0;
}

const struct hv_ops hv_kvm_ops = {
	.name = "kvm",
	.max_vcpus = kvm_max_vcpus,
	.guest_create = kvm_guest_create,
	.guest_destroy = kvm_guest_destroy,
	.map_memory = kvm_map_memory,
	.set_trap = kvm_set_trap,
	.set_irq = kvm_set_irq,
	.vcpu_create = kvm_vcpu_create,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_write_state = kvm_vcpu_write_state,
	.vcpu_read_state = kvm_vcpu_read_state,
	.vcpu_enter = kvm_vcpu_enter,
	.vcpu_complete_read = kvm_vcpu_complete_read,
	.vcpu_kick = kvm_vcpu_kick,
};
