/* The CPU features a user can name in --cpus features=, and the hidden-feature mask.
 *
 * CPUID locations are from the Intel SDM vol. 2A, CPUID instruction; Linux numbers are
 * X86_FEATURE_* from arch/x86/include/asm/cpufeatures.h (Linux 6.1), word * 32 + bit, where
 * word 4 = CPUID 1 ECX, word 9 = CPUID 7.0 EBX, word 16 = CPUID 7.0 ECX, word 18 = CPUID 7.0 EDX,
 * word 10 = CPUID 0xd.1 EAX.
 * For these words the Linux bit is the CPUID bit. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vmm/cpu_features.h"

enum { REG_EAX, REG_EBX, REG_ECX, REG_EDX };

#define LINUX_NR(word, bit) ((word) * 32 + (bit))

/* CPUID leaf 1, ECX (Linux word 4). */
#define L1_ECX(n, b) { (n), 0x1, 0, REG_ECX, (b), LINUX_NR(4, (b)) }
/* CPUID leaf 7 subleaf 0, EBX / ECX / EDX (Linux words 9, 16, 18). */
#define L7_EBX(n, b) { (n), 0x7, 0, REG_EBX, (b), LINUX_NR(9, (b)) }
#define L7_ECX(n, b) { (n), 0x7, 0, REG_ECX, (b), LINUX_NR(16, (b)) }
#define L7_EDX(n, b) { (n), 0x7, 0, REG_EDX, (b), LINUX_NR(18, (b)) }
/* CPUID leaf 0xd subleaf 1, EAX: XSAVE extensions (Linux word 10). */
#define LD1_EAX(n, b) { (n), 0xd, 1, REG_EAX, (b), LINUX_NR(10, (b)) }

static const struct cpu_feature features[] = {
	L1_ECX("pni", 0),                 /* SSE3 */
	L1_ECX("pclmulqdq", 1),
	L1_ECX("ssse3", 9),
	L1_ECX("fma", 12),
	L1_ECX("cx16", 13),
	L1_ECX("pcid", 17),
	L1_ECX("sse4_1", 19),
	L1_ECX("sse4_2", 20),
	L1_ECX("x2apic", 21),
	L1_ECX("movbe", 22),
	L1_ECX("popcnt", 23),
	L1_ECX("tsc_deadline_timer", 24),
	L1_ECX("aes", 25),
	L1_ECX("xsave", 26),
	L1_ECX("avx", 28),
	L1_ECX("f16c", 29),
	L1_ECX("rdrand", 30),
	LD1_EAX("xsaveopt", 0),
	LD1_EAX("xsavec", 1),
	LD1_EAX("xgetbv1", 2),
	LD1_EAX("xsaves", 3),
	L7_EBX("fsgsbase", 0),
	L7_EBX("bmi1", 3),
	L7_EBX("avx2", 5),
	L7_EBX("smep", 7),
	L7_EBX("bmi2", 8),
	L7_EBX("erms", 9),
	L7_EBX("invpcid", 10),
	L7_EBX("avx512f", 16),
	L7_EBX("rdseed", 18),
	L7_EBX("adx", 19),
	L7_EBX("smap", 20),
	L7_ECX("umip", 2),
	L7_ECX("pku", 3),
	L7_ECX("la57", 16),
	L7_EDX("amx_tile", 24),
};

#define NR_FEATURES (sizeof(features) / sizeof(features[0]))

/* Other spellings users type: the instruction-set name for "pni", and Cloud Hypervisor's
 * own --cpus features=amx. */
static const struct {
	const char *alias, *name;
} aliases[] = {
	{ "sse3", "pni" },
	{ "amx", "amx_tile" },
};

static const struct cpu_feature *find_exact(const char *name)
{
	for (size_t i = 0; i < NR_FEATURES; i++)
		if (strcmp(features[i].name, name) == 0)
			return &features[i];
	return NULL;
}

const struct cpu_feature *cpu_feature_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(aliases[i].alias, name) == 0)
			return find_exact(aliases[i].name);
	return find_exact(name);
}

const struct cpu_feature *cpu_feature_table(unsigned int *count)
{
	if (count)
		*count = NR_FEATURES;
	return features;
}

bool cpu_mask_has(const struct cpu_mask *m, const struct cpu_feature *f)
{
	if (!m || !f)
		return false;
	for (unsigned int i = 0; i < m->nr && i < CPU_MASK_MAX; i++)
		if (m->hidden[i] == f || m->hidden[i]->linux_nr == f->linux_nr)
			return true;
	return false;
}

int cpu_mask_add(struct cpu_mask *m, const struct cpu_feature *f, const char *reason)
{
	if (!m || !f)
		return -EINVAL;
	if (cpu_mask_has(m, f))
		return 0;
	if (m->nr >= CPU_MASK_MAX)
		return -ENOSPC;
	m->hidden[m->nr] = f;
	m->reason[m->nr] = reason;
	m->nr++;
	return 0;
}
