/* Named CPU features a user can hide from the guest (--cpus features=-NAME), and the masks
 * kiln applies: through KVM_SET_CPUID2 everywhere, and through the guest's clearcpuid= on
 * hosts where CPUID masking has no effect (see quirks/emulated_host.h). */
#ifndef KILN_VMM_CPU_FEATURES_H
#define KILN_VMM_CPU_FEATURES_H

#include <stdbool.h>
#include <stdint.h>

/* One feature bit: CPUID leaf/subleaf register and bit, and Linux's X86_FEATURE number
 * (word * 32 + bit, arch/x86/include/asm/cpufeatures.h), which clearcpuid= takes. */
struct cpu_feature {
	const char *name;   /* as /proc/cpuinfo spells it */
	uint32_t leaf, subleaf;
	uint8_t reg;        /* 0 eax, 1 ebx, 2 ecx, 3 edx */
	uint8_t bit;
	uint16_t linux_nr;  /* X86_FEATURE_* value */
};

/* Looks a feature up by name; NULL if unknown. Pointer into a static table. */
const struct cpu_feature *cpu_feature_find(const char *name);

/* The whole table and its length, for --help and tests. */
const struct cpu_feature *cpu_feature_table(unsigned int *count);

#define CPU_MASK_MAX 32

/* A set of features hidden from the guest, with why each is hidden (for -v). */
struct cpu_mask {
	const struct cpu_feature *hidden[CPU_MASK_MAX];
	const char *reason[CPU_MASK_MAX]; /* static strings */
	unsigned int nr;
};

/* Adds a feature to the mask (no duplicates). Returns 0 or -ENOSPC. */
int cpu_mask_add(struct cpu_mask *m, const struct cpu_feature *f, const char *reason);

/* True if f is in the mask. */
bool cpu_mask_has(const struct cpu_mask *m, const struct cpu_feature *f);

#endif
