/* e820_build(): the guest memory map for several RAM sizes, and its error cases. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "arch/x86_64/e820.h"
#include "arch/x86_64/layout.h"

static void expect_entry(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

/* Sorted, non-overlapping, non-empty, the RAM entries add up to all guest RAM but the
 * reserved [EBDA, 1 MiB) window, and exactly one reserved entry is the PCI ECAM window. */
static void expect_sane(const struct e820_entry *e, int n, uint64_t ram_size)
{
	uint64_t ram = 0;
	unsigned int ecam = 0;

	for (int i = 0; i < n; i++) {
		assert_true(e[i].size > 0);
		if (i > 0)
			assert_true(e[i].addr >= e[i - 1].addr + e[i - 1].size);
		if (e[i].type == E820_RAM)
			ram += e[i].size;
		if (e[i].addr == LAYOUT_PCI_ECAM_BASE) {
			assert_int_equal(e[i].size, LAYOUT_PCI_ECAM_SIZE);
			assert_int_equal(e[i].type, E820_RESERVED);
			ecam++;
		}
	}
	assert_int_equal(ram, ram_size - (LAYOUT_HIGH_RAM_START - LAYOUT_EBDA_START));
	assert_int_equal(ecam, 1);
}

/* Builds the map for `ram_size` bytes of RAM (hole at 3 GiB) with room for `max`. */
static int build(uint64_t ram_size, struct e820_entry *out, unsigned int max)
{
	struct guest_mem m;
	int n;

	assert_int_equal(guest_mem_init(&m, ram_size, LAYOUT_MEM_32BIT_HOLE), 0);
	n = e820_build(&m, out, max);
	guest_mem_free(&m);
	return n;
}

/* The entries below 4 GiB: low RAM, EBDA..1 MiB reserved, RAM to `low_end`, the ECAM. */
static void expect_low(const struct e820_entry *e, uint64_t low_end)
{
	expect_entry(&e[0], 0, LAYOUT_EBDA_START, E820_RAM);
	expect_entry(&e[1], LAYOUT_EBDA_START, LAYOUT_HIGH_RAM_START - LAYOUT_EBDA_START,
		     E820_RESERVED);
	expect_entry(&e[2], LAYOUT_HIGH_RAM_START, low_end - LAYOUT_HIGH_RAM_START, E820_RAM);
	/* PCI ECAM (the MCFG's): Linux's MMCONFIG needs it reserved. */
	expect_entry(&e[3], 0xe8000000, 1 * MIB, E820_RESERVED);
}

static void test_64m(void **state)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	int n = build(64 * MIB, e, E820_MAX_ENTRIES);

	assert_int_equal(n, 4);
	expect_low(e, 64 * MIB);
	expect_sane(e, n, 64 * MIB);
}

static void test_3g_exactly(void **state)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	int n = build(3 * GIB, e, E820_MAX_ENTRIES);

	assert_int_equal(n, 4);
	expect_low(e, LAYOUT_MEM_32BIT_HOLE);
	expect_sane(e, n, 3 * GIB);
}

static void test_above_4g(void **state)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	int n = build(3 * GIB + 4 * KIB, e, E820_MAX_ENTRIES);

	assert_int_equal(n, 5);
	expect_low(e, LAYOUT_MEM_32BIT_HOLE);
	expect_entry(&e[4], 4 * GIB, 4 * KIB, E820_RAM);
	expect_sane(e, n, 3 * GIB + 4 * KIB);
}

/* Exactly 1 MiB: no empty RAM entry above 1 MiB. */
static void test_1m_exactly(void **state)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	int n = build(1 * MIB, e, E820_MAX_ENTRIES);

	assert_int_equal(n, 3);
	expect_entry(&e[0], 0, LAYOUT_EBDA_START, E820_RAM);
	expect_entry(&e[1], LAYOUT_EBDA_START, LAYOUT_HIGH_RAM_START - LAYOUT_EBDA_START,
		     E820_RESERVED);
	expect_entry(&e[2], LAYOUT_PCI_ECAM_BASE, LAYOUT_PCI_ECAM_SIZE, E820_RESERVED);
	expect_sane(e, n, 1 * MIB);
}

static void test_too_little_ram(void **state)
{
	struct e820_entry e[E820_MAX_ENTRIES];

	assert_int_equal(build(1 * MIB - 4 * KIB, e, E820_MAX_ENTRIES), -EINVAL);
	assert_int_equal(build(4 * KIB, e, E820_MAX_ENTRIES), -EINVAL);
}

/* -ENOSPC leaves `out` untouched; exactly enough room succeeds. */
static void test_small_max(void **state)
{
	struct e820_entry e[E820_MAX_ENTRIES];

	memset(e, 0x5a, sizeof(e));
	assert_int_equal(build(64 * MIB, e, 0), -ENOSPC);
	assert_int_equal(build(64 * MIB, e, 3), -ENOSPC);
	assert_int_equal(build(3 * GIB + 4 * KIB, e, 4), -ENOSPC);
	assert_int_equal(e[0].addr, 0x5a5a5a5a5a5a5a5aull);
	assert_int_equal(build(64 * MIB, e, 4), 4);
	assert_int_equal(build(3 * GIB + 4 * KIB, e, 5), 5);
}

static void test_bad_args(void **state)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	struct guest_mem m;

	assert_int_equal(guest_mem_init(&m, 64 * MIB, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(e820_build(NULL, e, E820_MAX_ENTRIES), -EINVAL);
	assert_int_equal(e820_build(&m, NULL, E820_MAX_ENTRIES), -EINVAL);
	guest_mem_free(&m);

	/* Hand-made layouts guest_mem_init never produces. */
	memset(&m, 0, sizeof(m));
	assert_int_equal(e820_build(&m, e, E820_MAX_ENTRIES), -EINVAL); /* no regions */
	m.nr_regions = 1;
	m.regions[0] = (struct guest_mem_region){ .gpa = 4 * KIB, .size = 64 * MIB };
	assert_int_equal(e820_build(&m, e, E820_MAX_ENTRIES), -EINVAL); /* not from 0 */
	m.nr_regions = GUEST_MEM_MAX_REGIONS + 1;
	m.regions[0].gpa = 0;
	assert_int_equal(e820_build(&m, e, E820_MAX_ENTRIES), -EINVAL);
}

/* RAM over the ECAM window would get both a RAM and a reserved entry: refused. */
static void test_ram_over_ecam(void **state)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	struct guest_mem m;

	memset(&m, 0, sizeof(m));
	m.nr_regions = 1;
	m.regions[0] = (struct guest_mem_region){ .gpa = 0, .size = LAYOUT_PCI_ECAM_BASE };
	assert_int_equal(e820_build(&m, e, E820_MAX_ENTRIES), 4); /* ends right below it */
	m.regions[0].size = LAYOUT_PCI_ECAM_BASE + 4 * KIB;
	assert_int_equal(e820_build(&m, e, E820_MAX_ENTRIES), -EINVAL);
	m.regions[0].size = 64 * MIB;
	m.nr_regions = 2;
	m.regions[1] = (struct guest_mem_region){ .gpa = LAYOUT_PCI_ECAM_BASE + 1 * MIB - 4 * KIB,
						  .size = 1 * GIB };
	assert_int_equal(e820_build(&m, e, E820_MAX_ENTRIES), -EINVAL);
	m.regions[1].gpa = LAYOUT_PCI_ECAM_BASE + 1 * MIB; /* starts right above it */
	assert_int_equal(e820_build(&m, e, E820_MAX_ENTRIES), 5);
	expect_sane(e, 5, 64 * MIB + 1 * GIB);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_64m),
		cmocka_unit_test(test_3g_exactly),
		cmocka_unit_test(test_above_4g),
		cmocka_unit_test(test_1m_exactly),
		cmocka_unit_test(test_too_little_ram),
		cmocka_unit_test(test_small_max),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_ram_over_ecam),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
