/* vmm/hv/kvm_vcpu.c - creating and destroying KVM vCPUs.
 *
 * Owns: the vCPU fd, its mmapped kvm_run, and the CPUID each vCPU is given:
 * what KVM supports, with the initial APIC ID made this vCPU's (leaf 1 and the
 * x2APIC topology leaves 0xB / 0x1F; KVM uses the vCPU id as the APIC ID) and
 * the hypervisor bit set so guests know they are virtualized.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/hv/kvm_internal.h"

#define CPUID_1_ECX_HYPERVISOR (1u << 31)

static void cpuid_fixup(struct kvm_cpuid2 *c, unsigned id)
{
	/* kvm_vcpu_create refused larger ids: the APIC ID fits CPUID.1 EBX[31:24]. */
	assert(id < HV_MAX_VCPUS && HV_MAX_VCPUS <= 256);
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x00ffffffu) | ((uint32_t)id << 24);
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			break;
		case 0xb:
		case 0x1f:
			e->edx = id;
			break;
		default:
			break;
		}
	}
}

static int set_cpuid(struct hv_vcpu *v)
{
	const struct kvm_cpuid2 *tmpl = v->g->cpuid;
	size_t sz = sizeof(*tmpl) + tmpl->nent * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = malloc(sz);
	if (!c)
		return -ENOMEM;
	memcpy(c, tmpl, sz);
	cpuid_fixup(c, v->id);
	int r = kvm_ioctl(v->fd, KVM_SET_CPUID2, c);
	free(c);
	return r < 0 ? r : 0;
}

int kvm_vcpu_create(struct hv_guest *g, unsigned id, struct hv_vcpu **out)
{
	if (!g || !out || id >= HV_MAX_VCPUS)
		return -EINVAL;
	*out = NULL;
	struct hv_vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->g = g;
	v->id = id;
	v->run = MAP_FAILED;
	v->run_size = g->run_size;
	pthread_mutex_init(&v->kick_lock, NULL);

	/* KVM makes vCPU 0 the boot processor; the others start in the
	 * in-kernel APIC's wait-for-SIPI state. */
	int r = kvm_ioctl(g->vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)id);
	if (r < 0) {
		v->fd = -1;
		goto fail;
	}
	v->fd = r;
	fcntl(v->fd, F_SETFD, FD_CLOEXEC);
	v->run = mmap(NULL, (size_t)v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	              v->fd, 0);
	if (v->run == MAP_FAILED) {
		r = -errno;
		goto fail;
	}
	if ((r = set_cpuid(v)) < 0)
		goto fail;
	*out = v;
	return 0;
fail:
	kvm_vcpu_destroy(v);
	return r;
}

void kvm_vcpu_destroy(struct hv_vcpu *v)
{
	if (!v)
		return;
	if (v->run != MAP_FAILED)
		munmap(v->run, (size_t)v->run_size);
	if (v->fd >= 0)
		close(v->fd);
	pthread_mutex_destroy(&v->kick_lock);
	free(v);
}
