/* Per-vCPU CPUID tables built from KVM_GET_SUPPORTED_CPUID (Intel SDM vol. 2A CPUID; AMD APM
 * vol. 3 E.3): APIC IDs, topology leaves 0x4/0xb/0x1f/0x80000008, the hypervisor bit, and the
 * user's feature mask. */
#ifndef KILN_ARCH_X86_64_CPUID_H
#define KILN_ARCH_X86_64_CPUID_H

#include <linux/kvm.h>

#include "vmm/cpu_features.h"

/* Returns a malloc'd copy of `supported` adjusted for vCPU `index` of `nr_vcpus` (APIC ID =
 * index) with every feature in `mask` cleared; NULL on ENOMEM. Caller frees. */
struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *supported, unsigned int index,
				  unsigned int nr_vcpus, const struct cpu_mask *mask);

/* The entry for leaf/subleaf in a table, or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t leaf, uint32_t subleaf);

#endif
