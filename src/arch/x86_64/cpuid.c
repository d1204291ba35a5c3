#include "arch/x86_64/cpuid.h"

#include <stdlib.h>
#include <string.h>

#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t leaf, uint32_t subleaf)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function != leaf)
			continue;
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == subleaf)
			return e;
	}
	return NULL;
}

static unsigned int bits_for(unsigned int n)
{
	unsigned int b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

/* Leaf 0xb/0x1f: level 0 SMT (1 thread per core), level 1 core (all vCPUs in one package). */
static void set_topology(struct kvm_cpuid_entry2 *e, unsigned int apic_id, unsigned int nr)
{
	switch (e->index) {
	case 0:
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (1u << 8) | e->index;
		break;
	case 1:
		e->eax = bits_for(nr);
		e->ebx = nr;
		e->ecx = (2u << 8) | e->index;
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index;
		break;
	}
	e->edx = apic_id;
}

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, unsigned int reg)
{
	switch (reg) {
	case 0: return &e->eax;
	case 1: return &e->ebx;
	case 2: return &e->ecx;
	default: return &e->edx;
	}
}

struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *supported, unsigned int index,
				  unsigned int nr_vcpus, const struct cpu_mask *mask)
{
	size_t sz = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);

	if (!c)
		return NULL;
	memcpy(c, supported, sz);
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffffu) | (index << 24) |
				 ((nr_vcpus > 1 ? nr_vcpus : 1) << 16);
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			if (nr_vcpus > 1)
				e->edx |= CPUID_1_EDX_HTT;
			break;
		case 4:
			/* Cores per package - 1 in EAX[31:26]; caches shared by one thread. */
			e->eax = (e->eax & 0x3ffu) | ((nr_vcpus - 1) << 26);
			break;
		case 0xb:
		case 0x1f:
			set_topology(e, index, nr_vcpus);
			break;
		case 0x80000008:
			e->ecx = (e->ecx & ~0xffu) | (nr_vcpus - 1);
			break;
		default:
			break;
		}
	}
	for (unsigned int i = 0; mask && i < mask->nr; i++) {
		const struct cpu_feature *f = mask->hidden[i];
		struct kvm_cpuid_entry2 *e = cpuid_find(c, f->leaf, f->subleaf);
		if (e)
			*reg_of(e, f->reg) &= ~(1u << f->bit);
	}
	return c;
}
