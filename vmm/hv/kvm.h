/* vmm/hv/kvm.h - the KVM hypervisor backend.
 *
 * Owns: nothing but the name of the backend's operations; everything else is
 * behind base/hv.h. Programs that can run on KVM include this and pick it.
 */
#ifndef VMM_HV_KVM_H
#define VMM_HV_KVM_H

#include "base/hv.h"

extern const struct hv_ops hv_kvm_ops;

#endif
