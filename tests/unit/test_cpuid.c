/* cpuid_for_vcpu(): APIC IDs and topology for one vCPU of several, the hypervisor bit, the
 * feature mask, and that the supported table it starts from is left unchanged. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/cpuid.h"

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX
#define NENT 8

static const struct kvm_cpuid_entry2 template[NENT] = {
	/* function, index, flags, eax, ebx, ecx, edx */
	{ 0x1, 0, 0, 0x000906ea, 0xab100800, 0x7ffafbff, 0x0fabfbff },
	{ 0x4, 0, SIG, 0xfc004121, 0x01c0003f, 0x3f, 0 },
	{ 0x4, 1, SIG, 0xfc004122, 0x01c0003f, 0x3f, 0 },
	{ 0x7, 0, SIG, 0, 0xffffffff, 0x0040068c, 0xbc000400 },
	{ 0xb, 0, SIG, 1, 2, 0x100, 7 },
	{ 0xb, 1, SIG, 4, 8, 0x201, 7 },
	{ 0xd, 0, SIG, 0x2ff, 0xa88, 0xa88, 0 }, /* untouched leaf */
	{ 0x80000008, 0, 0, 0x3027, 0, 0x7007, 0 },
};

/* A fresh kvm_cpuid2 holding the template (or its first `n` entries). */
static struct kvm_cpuid2 *make_supported(unsigned int n)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + NENT * sizeof(c->entries[0]));

	assert_non_null(c);
	c->nent = n;
	memcpy(c->entries, template, n * sizeof(template[0]));
	return c;
}

static size_t table_size(const struct kvm_cpuid2 *c)
{
	return sizeof(*c) + c->nent * sizeof(c->entries[0]);
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid2 *c, uint32_t leaf, uint32_t sub)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, leaf, sub);

	assert_non_null(e);
	return e;
}

static void test_leaf1_second_of_two(void **state)
{
	struct kvm_cpuid2 *sup = make_supported(NENT);
	struct kvm_cpuid2 *c = cpuid_for_vcpu(sup, 1, 2, NULL);
	struct kvm_cpuid_entry2 *e;

	assert_non_null(c);
	assert_int_equal(c->nent, NENT);
	e = find(c, 1, 0);
	assert_int_equal(e->ebx >> 24, 1);              /* initial APIC ID */
	assert_int_equal((e->ebx >> 16) & 0xff, 2);     /* logical processors */
	assert_int_equal(e->ebx & 0xffff, 0x0800);      /* CLFLUSH size, brand kept */
	assert_true(e->ecx & (1u << 31));               /* hypervisor */
	assert_int_equal(e->ecx & 0x7fffffff, 0x7ffafbff);
	assert_true(e->edx & (1u << 28));               /* HTT */
	assert_int_equal(e->edx & ~(1u << 28), 0x0fabfbff);
	assert_int_equal(e->eax, 0x000906ea);
	free(c);
	free(sup);
}

static void test_leaf1_single(void **state)
{
	struct kvm_cpuid2 *sup = make_supported(NENT);
	struct kvm_cpuid2 *c = cpuid_for_vcpu(sup, 0, 1, NULL);
	struct kvm_cpuid_entry2 *e;

	assert_non_null(c);
	e = find(c, 1, 0);
	assert_int_equal(e->ebx >> 24, 0);
	assert_int_equal((e->ebx >> 16) & 0xff, 1);
	assert_true(e->ecx & (1u << 31));
	assert_false(e->edx & (1u << 28)); /* one vCPU: no HTT */
	free(c);
	free(sup);
}

static void test_topology_leaves(void **state)
{
	struct kvm_cpuid2 *sup = make_supported(NENT);
	struct kvm_cpuid2 *c = cpuid_for_vcpu(sup, 1, 2, NULL);
	struct kvm_cpuid_entry2 *e;

	assert_non_null(c);
	/* 0xb.0: SMT level, one thread per core. */
	e = find(c, 0xb, 0);
	assert_int_equal(e->ebx, 1);
	assert_int_equal((e->ecx >> 8) & 0xff, 1);
	assert_int_equal(e->ecx & 0xff, 0);
	assert_int_equal(e->edx, 1);
	/* 0xb.1: core level, both vCPUs in the package; EDX = x2APIC ID. */
	e = find(c, 0xb, 1);
	assert_int_equal(e->ebx, 2);
	assert_int_equal(e->eax & 0x1f, 1); /* APIC ID shift for 2 logical CPUs */
	assert_int_equal((e->ecx >> 8) & 0xff, 2);
	assert_int_equal(e->ecx & 0xff, 1);
	assert_int_equal(e->edx, 1);
	/* Leaf 4, both subleaves: cores per package - 1 in EAX[31:26], cache type/level kept. */
	e = find(c, 4, 0);
	assert_int_equal(e->eax >> 26, 1);
	assert_int_equal(e->eax & 0x1f, 1);
	assert_int_equal(e->ebx, 0x01c0003f);
	e = find(c, 4, 1);
	assert_int_equal(e->eax >> 26, 1);
	assert_int_equal(e->eax & 0x1f, 2);
	/* 0x80000008 ECX[7:0]: threads - 1; the rest kept. */
	e = find(c, 0x80000008, 0);
	assert_int_equal(e->ecx & 0xff, 1);
	assert_int_equal(e->ecx & ~0xffu, 0x7000);
	assert_int_equal(e->eax, 0x3027);
	/* A leaf kiln does not adjust is copied as is. */
	assert_memory_equal(find(c, 0xd, 0), &template[6], sizeof(template[6]));
	free(c);
	free(sup);
}

static void test_mask_smap(void **state)
{
	struct kvm_cpuid2 *sup = make_supported(NENT);
	struct cpu_mask mask = { 0 };
	const struct cpu_feature *smap = cpu_feature_find("smap");
	struct kvm_cpuid2 *c;
	struct kvm_cpuid_entry2 *e;

	assert_non_null(smap);
	assert_int_equal(cpu_mask_add(&mask, smap, "test"), 0);
	c = cpuid_for_vcpu(sup, 0, 2, &mask);
	assert_non_null(c);
	e = find(c, 7, 0);
	assert_int_equal(e->ebx, 0xffffffffu & ~(1u << 20));
	assert_int_equal(e->ecx, 0x0040068c);
	assert_int_equal(e->edx, 0xbc000400);
	free(c);

	/* Two leaves at once: smap (7.0 EBX 20) and popcnt (1 ECX 23). */
	assert_int_equal(cpu_mask_add(&mask, cpu_feature_find("popcnt"), "test"), 0);
	c = cpuid_for_vcpu(sup, 0, 2, &mask);
	assert_non_null(c);
	assert_false(find(c, 1, 0)->ecx & (1u << 23));
	assert_true(find(c, 1, 0)->ecx & (1u << 22));
	assert_false(find(c, 7, 0)->ebx & (1u << 20));
	free(c);
	free(sup);
}

static void test_mask_missing_leaf(void **state)
{
	/* Only leaf 1 and the two leaf-4 subleaves: hiding a leaf-7 feature changes nothing. */
	struct kvm_cpuid2 *sup = make_supported(3);
	struct cpu_mask mask = { 0 };
	struct kvm_cpuid2 *c, *plain;

	assert_int_equal(cpu_mask_add(&mask, cpu_feature_find("smap"), "test"), 0);
	c = cpuid_for_vcpu(sup, 0, 1, &mask);
	plain = cpuid_for_vcpu(sup, 0, 1, NULL);
	assert_non_null(c);
	assert_non_null(plain);
	assert_int_equal(c->nent, 3);
	assert_memory_equal(c, plain, table_size(plain));
	free(c);
	free(plain);
	free(sup);
}

static void test_input_unchanged(void **state)
{
	struct kvm_cpuid2 *sup = make_supported(NENT);
	struct kvm_cpuid2 *copy = make_supported(NENT);
	struct cpu_mask mask = { 0 };
	struct kvm_cpuid2 *c;

	assert_int_equal(cpu_mask_add(&mask, cpu_feature_find("smap"), "test"), 0);
	c = cpuid_for_vcpu(sup, 1, 2, &mask);
	assert_non_null(c);
	assert_ptr_not_equal(c, sup);
	assert_memory_equal(sup, copy, table_size(copy));
	free(c);
	free(copy);
	free(sup);
}

static void test_find(void **state)
{
	struct kvm_cpuid2 *sup = make_supported(NENT);

	assert_ptr_equal(cpuid_find(sup, 4, 1), &sup->entries[2]);
	assert_ptr_equal(cpuid_find(sup, 0xb, 0), &sup->entries[4]);
	assert_null(cpuid_find(sup, 4, 2));     /* significant index: must match */
	assert_ptr_equal(cpuid_find(sup, 1, 5), &sup->entries[0]); /* index ignored */
	assert_null(cpuid_find(sup, 0x40000000, 0));
	sup->nent = 0;
	assert_null(cpuid_find(sup, 1, 0));
	free(sup);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf1_second_of_two),
		cmocka_unit_test(test_leaf1_single),
		cmocka_unit_test(test_topology_leaves),
		cmocka_unit_test(test_mask_smap),
		cmocka_unit_test(test_mask_missing_leaf),
		cmocka_unit_test(test_input_unchanged),
		cmocka_unit_test(test_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
