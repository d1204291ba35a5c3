/* guest_mem: region layout around the 32-bit hole, the checked GPA -> host pointer lookup at
 * every edge (region ends, holes, straddling, overflow, len 0), copies, and init errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "util/guest_mem.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define HOLE (3 * GIB)

static void test_layout_64m(void **state)
{
	struct guest_mem m;

	assert_int_equal(guest_mem_init(&m, 64 * MIB, HOLE), 0);
	assert_int_equal(m.nr_regions, 1);
	assert_int_equal(m.regions[0].gpa, 0);
	assert_int_equal(m.regions[0].size, 64 * MIB);
	assert_ptr_equal(m.regions[0].hva, m.base);
	assert_int_equal(m.ram_size, 64 * MIB);
	assert_int_equal(m.mapped, 64 * MIB);
	guest_mem_free(&m);
}

static void test_layout_above_hole(void **state)
{
	struct guest_mem m;

	assert_int_equal(guest_mem_init(&m, 3 * GIB + 8 * MIB, HOLE), 0);
	assert_int_equal(m.nr_regions, 2);
	assert_int_equal(m.regions[0].gpa, 0);
	assert_int_equal(m.regions[0].size, 3 * GIB);
	assert_int_equal(m.regions[1].gpa, 4 * GIB);
	assert_int_equal(m.regions[1].size, 8 * MIB);
	assert_ptr_equal(m.regions[1].hva, m.base + 3 * GIB);
	assert_int_equal(m.ram_size, 3 * GIB + 8 * MIB);
	guest_mem_free(&m);
}

static void test_ptr_edges_64m(void **state)
{
	struct guest_mem m;

	assert_int_equal(guest_mem_init(&m, 64 * MIB, HOLE), 0);
	assert_ptr_equal(guest_mem_ptr(&m, 0, 1), m.base);
	assert_ptr_equal(guest_mem_ptr(&m, 0, 64 * MIB), m.base);
	assert_ptr_equal(guest_mem_ptr(&m, 64 * MIB - 1, 1), m.base + 64 * MIB - 1);
	assert_ptr_equal(guest_mem_ptr(&m, 64 * MIB - 8, 8), m.base + 64 * MIB - 8);
	/* One past the end, straddling the end, and far beyond. */
	assert_null(guest_mem_ptr(&m, 64 * MIB, 1));
	assert_null(guest_mem_ptr(&m, 64 * MIB - 4, 8));
	assert_null(guest_mem_ptr(&m, 0, 64 * MIB + 1));
	assert_null(guest_mem_ptr(&m, 4 * GIB, 1));
	/* gpa + len wraps around 2^64. */
	assert_null(guest_mem_ptr(&m, ~0ull - 1, 4));
	assert_null(guest_mem_ptr(&m, 16, ~0ull));
	assert_null(guest_mem_ptr(&m, 64 * MIB - 1, ~0ull));
	guest_mem_free(&m);
}

static void test_ptr_holes(void **state)
{
	struct guest_mem m;
	const uint64_t hi_end = 4 * GIB + 8 * MIB;

	assert_int_equal(guest_mem_init(&m, 3 * GIB + 8 * MIB, HOLE), 0);
	assert_ptr_equal(guest_mem_ptr(&m, HOLE - 1, 1), m.base + HOLE - 1);
	assert_null(guest_mem_ptr(&m, HOLE, 1));
	assert_null(guest_mem_ptr(&m, HOLE - 2, 4));       /* runs into the hole */
	assert_null(guest_mem_ptr(&m, 0xfee00000ull, 4));  /* inside the hole */
	assert_null(guest_mem_ptr(&m, 4 * GIB - 1, 1));
	assert_null(guest_mem_ptr(&m, 4 * GIB - 4, 8));    /* hole into region 1 */
	assert_null(guest_mem_ptr(&m, HOLE - 4, GIB + 8)); /* region 0 across to region 1 */
	assert_ptr_equal(guest_mem_ptr(&m, 4 * GIB, 1), m.base + HOLE);
	assert_ptr_equal(guest_mem_ptr(&m, hi_end - 1, 1), m.base + 3 * GIB + 8 * MIB - 1);
	assert_ptr_equal(guest_mem_ptr(&m, 4 * GIB, 8 * MIB), m.base + HOLE);
	assert_null(guest_mem_ptr(&m, hi_end, 1));
	assert_null(guest_mem_ptr(&m, hi_end - 1, 2));
	assert_null(guest_mem_ptr(&m, ~0ull - 1, 4));
	guest_mem_free(&m);
}

static void test_ptr_len_zero(void **state)
{
	struct guest_mem m;

	assert_int_equal(guest_mem_init(&m, 3 * GIB + 8 * MIB, HOLE), 0);
	assert_ptr_equal(guest_mem_ptr(&m, 0, 0), m.base);
	assert_ptr_equal(guest_mem_ptr(&m, 0x1234, 0), m.base + 0x1234);
	assert_ptr_equal(guest_mem_ptr(&m, 4 * GIB + 5, 0), m.base + HOLE + 5);
	assert_null(guest_mem_ptr(&m, HOLE + 0x1000, 0)); /* hole */
	assert_null(guest_mem_ptr(&m, 8 * GIB, 0));       /* beyond RAM */
	guest_mem_free(&m);
}

static void test_read_write(void **state)
{
	struct guest_mem m;
	uint8_t pat[37], buf[37];

	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(0x80 + i); /* no zero byte: a short copy shows */
	assert_int_equal(guest_mem_init(&m, 3 * GIB + 8 * MIB, HOLE), 0);
	/* Fresh RAM is zeroed (the loaders rely on it). */
	assert_int_equal(guest_mem_read(&m, 0x10000, buf, sizeof(buf)), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);

	assert_int_equal(guest_mem_write(&m, 0x10000, pat, sizeof(pat)), 0);
	assert_memory_equal(m.base + 0x10000, pat, sizeof(pat));
	assert_int_equal(m.base[0x10000 + sizeof(pat)], 0);
	m.base[0x10000] ^= 0xff;
	assert_int_equal(guest_mem_read(&m, 0x10000, buf, sizeof(buf)), 0);
	assert_int_equal(buf[0], pat[0] ^ 0xff);
	assert_memory_equal(buf + 1, pat + 1, sizeof(pat) - 1);

	/* Above the hole, right up to the last byte of RAM. */
	const uint64_t last = 4 * GIB + 8 * MIB - sizeof(pat);
	assert_int_equal(guest_mem_write(&m, last, pat, sizeof(pat)), 0);
	assert_memory_equal(m.base + 3 * GIB + 8 * MIB - sizeof(pat), pat, sizeof(pat));
	memset(buf, 0, sizeof(buf));
	assert_int_equal(guest_mem_read(&m, last, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, pat, sizeof(pat));

	/* len 0 inside RAM is fine and copies nothing. */
	assert_int_equal(guest_mem_write(&m, 0, pat, 0), 0);
	assert_int_equal(m.base[0], 0);
	assert_int_equal(guest_mem_read(&m, 0, buf, 0), 0);
	guest_mem_free(&m);
}

static void test_read_write_efault(void **state)
{
	struct guest_mem m;
	const char msg[8] = "ABCDEFG";
	char buf[8];

	assert_int_equal(guest_mem_init(&m, 3 * GIB + 8 * MIB, HOLE), 0);
	/* A write straddling the hole fails and leaves the RAM part untouched. */
	assert_int_equal(guest_mem_write(&m, HOLE - 4, msg, sizeof(msg)), -EFAULT);
	for (int i = 0; i < 4; i++)
		assert_int_equal(m.base[HOLE - 4 + i], 0);
	assert_int_equal(guest_mem_write(&m, HOLE, msg, sizeof(msg)), -EFAULT);
	assert_int_equal(guest_mem_write(&m, 4 * GIB + 8 * MIB - 4, msg, sizeof(msg)), -EFAULT);
	assert_int_equal(guest_mem_write(&m, ~0ull - 1, msg, 4), -EFAULT);
	assert_int_equal(m.base[3 * GIB + 8 * MIB - 1], 0);

	/* A failed read leaves the destination untouched. */
	memset(m.base + HOLE - 4, 0x5a, 4);
	memset(buf, 0x11, sizeof(buf));
	assert_int_equal(guest_mem_read(&m, HOLE - 4, buf, sizeof(buf)), -EFAULT);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0x11);
	assert_int_equal(guest_mem_read(&m, 0xfee00000ull, buf, 4), -EFAULT);
	assert_int_equal(guest_mem_read(&m, ~0ull - 1, buf, 4), -EFAULT);
	assert_int_equal(guest_mem_read(&m, HOLE + 1, buf, 0), -EFAULT);
	guest_mem_free(&m);
}

static void test_init_invalid(void **state)
{
	struct guest_mem m;

	assert_int_equal(guest_mem_init(&m, 0, HOLE), -EINVAL);
	assert_null(m.base);
	assert_int_equal(m.nr_regions, 0);
	assert_int_equal(guest_mem_init(&m, 64 * MIB + 1, HOLE), -EINVAL);
	assert_int_equal(guest_mem_init(&m, 0x1800, HOLE), -EINVAL);
	assert_int_equal(guest_mem_init(&m, 64 * MIB, HOLE + 0x10), -EINVAL);
	assert_int_equal(guest_mem_init(&m, 64 * MIB, 4 * GIB + 0x1000), -EINVAL);
	assert_null(m.base);
	/* A failed init leaves a struct that frees safely and maps nothing. */
	assert_null(guest_mem_ptr(&m, 0, 1));
	guest_mem_free(&m);
}

static void test_free_twice(void **state)
{
	struct guest_mem m;

	memset(&m, 0, sizeof(m));
	guest_mem_free(&m);
	assert_int_equal(guest_mem_init(&m, 4 * MIB, HOLE), 0);
	guest_mem_free(&m);
	assert_null(m.base);
	assert_int_equal(m.nr_regions, 0);
	assert_null(guest_mem_ptr(&m, 0, 1));
	guest_mem_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_64m),
		cmocka_unit_test(test_layout_above_hole),
		cmocka_unit_test(test_ptr_edges_64m),
		cmocka_unit_test(test_ptr_holes),
		cmocka_unit_test(test_ptr_len_zero),
		cmocka_unit_test(test_read_write),
		cmocka_unit_test(test_read_write_efault),
		cmocka_unit_test(test_init_invalid),
		cmocka_unit_test(test_free_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
