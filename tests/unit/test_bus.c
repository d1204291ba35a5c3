/* bus: registration rules (overlap, wrap-around, full table, sorted insertion) and dispatch
 * (right handler, offset from the range base, data both ways, all ones when unhandled). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "hw/bus.h"

/* What a device saw on its last access. */
struct rec {
	unsigned int calls;
	uint64_t offset;
	unsigned int len;
	bool is_write;
	uint8_t written[8];
	uint8_t fill; /* byte a read returns; 0: leave data alone */
};

static void handler(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
		    bool is_write)
{
	struct rec *r = opaque;

	r->calls++;
	r->offset = offset;
	r->len = len;
	r->is_write = is_write;
	if (is_write)
		memcpy(r->written, data, len);
	else if (r->fill)
		memset(data, r->fill, len);
}

static void test_register_overlap(void **state)
{
	struct bus b = { .kind = "pio" };
	struct rec r = { 0 };

	assert_int_equal(bus_register(&b, 0x3f8, 8, handler, &r, "com1"), 0);
	assert_int_equal(bus_register(&b, 0x3f8, 8, handler, &r, "dup"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x3fc, 8, handler, &r, "tail"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x3f0, 9, handler, &r, "head"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x3ff, 1, handler, &r, "last"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x300, 0x200, handler, &r, "cover"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x3f9, 2, handler, &r, "inside"), -EEXIST);
	assert_int_equal(b.nr, 1);
	/* Adjacent on both sides is fine. */
	assert_int_equal(bus_register(&b, 0x3f0, 8, handler, &r, "below"), 0);
	assert_int_equal(bus_register(&b, 0x400, 1, handler, &r, "above"), 0);
	assert_int_equal(b.nr, 3);
}

static void test_register_invalid(void **state)
{
	struct bus b = { .kind = "mmio" };
	struct rec r = { 0 };

	assert_int_equal(bus_register(&b, 0x1000, 0, handler, &r, "empty"), -EINVAL);
	assert_int_equal(bus_register(&b, ~0ull, 2, handler, &r, "wrap"), -EINVAL);
	assert_int_equal(bus_register(&b, ~0ull - 0xff, 0x1000, handler, &r, "wrap2"), -EINVAL);
	assert_int_equal(bus_register(&b, 0x1000, ~0ull, handler, &r, "huge"), -EINVAL);
	assert_int_equal(b.nr, 0);
	/* A range ending just below 2^64 is fine (one ending exactly at 2^64 counts as wrapping). */
	assert_int_equal(bus_register(&b, ~0ull - 0x1fff, 0x1000, handler, &r, "top"), 0);
	assert_int_equal(b.nr, 1);
}

static void test_table_full(void **state)
{
	struct bus b = { .kind = "pio" };
	struct rec r = { 0 };

	for (unsigned int i = 0; i < BUS_MAX_RANGES; i++)
		assert_int_equal(bus_register(&b, 0x100 + 4 * i, 4, handler, &r, "dev"), 0);
	assert_int_equal(b.nr, BUS_MAX_RANGES);
	assert_int_equal(bus_register(&b, 0x8000, 4, handler, &r, "one more"), -ENOSPC);
	assert_int_equal(b.nr, BUS_MAX_RANGES);
}

static void test_dispatch(void **state)
{
	struct bus b = { .kind = "pio" };
	struct rec com1 = { .fill = 0x42 }, cmos = { .fill = 0x17 };
	uint8_t data[8];

	assert_int_equal(bus_register(&b, 0x3f8, 8, handler, &com1, "com1"), 0);
	assert_int_equal(bus_register(&b, 0x70, 2, handler, &cmos, "cmos"), 0);

	memset(data, 0, sizeof(data));
	assert_true(bus_access(&b, 0x3fd, data, 1, false));
	assert_int_equal(com1.calls, 1);
	assert_int_equal(com1.offset, 5);
	assert_int_equal(com1.len, 1);
	assert_false(com1.is_write);
	assert_int_equal(data[0], 0x42);
	assert_int_equal(data[1], 0); /* only len bytes touched */
	assert_int_equal(cmos.calls, 0);

	data[0] = 0x8f;
	assert_true(bus_access(&b, 0x70, data, 1, true));
	assert_int_equal(cmos.calls, 1);
	assert_int_equal(cmos.offset, 0);
	assert_true(cmos.is_write);
	assert_int_equal(cmos.written[0], 0x8f);

	memset(data, 0, sizeof(data));
	assert_true(bus_access(&b, 0x71, data, 2, false));
	assert_int_equal(cmos.offset, 1);
	assert_int_equal(cmos.len, 2);
	assert_int_equal(data[0], 0x17);
	assert_int_equal(data[1], 0x17);

	/* Range edges: the last byte belongs to the device, one past does not. */
	assert_true(bus_access(&b, 0x3ff, data, 1, false));
	assert_int_equal(com1.offset, 7);
	assert_false(bus_access(&b, 0x400, data, 1, false));
	assert_false(bus_access(&b, 0x3f7, data, 1, false));
	assert_int_equal(com1.calls, 2);
}

static void test_unhandled(void **state)
{
	struct bus b = { .kind = "mmio" };
	struct rec r = { 0 }; /* fill 0: the handler leaves read data alone */
	uint8_t data[8];

	memset(data, 0x12, sizeof(data));
	assert_false(bus_access(&b, 0x1234, data, 4, false)); /* empty bus */
	for (int i = 0; i < 4; i++)
		assert_int_equal(data[i], 0xff);
	assert_int_equal(data[4], 0x12);

	assert_int_equal(bus_register(&b, 0xd0000000ull, 0x1000, handler, &r, "dev"), 0);
	memset(data, 0, sizeof(data));
	assert_false(bus_access(&b, 0xd0001000ull, data, 8, false));
	for (int i = 0; i < 8; i++)
		assert_int_equal(data[i], 0xff);
	memset(data, 0x33, sizeof(data));
	assert_false(bus_access(&b, 0xcfffffffull, data, 2, true));
	assert_int_equal(data[0], 0x33); /* a write's data is not changed */
	assert_int_equal(r.calls, 0);

	/* Bytes a device does not fill on a read read as all ones. */
	memset(data, 0, sizeof(data));
	assert_true(bus_access(&b, 0xd0000010ull, data, 4, false));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.offset, 0x10);
	for (int i = 0; i < 4; i++)
		assert_int_equal(data[i], 0xff);
}

static void test_sorted_insertion(void **state)
{
	static const uint64_t bases[] = { 0x400, 0x10, 0x3f8, 0x80, 0x20, 0x1000, 0x60, 0x0 };
	const unsigned int n = sizeof(bases) / sizeof(bases[0]);
	struct bus b = { .kind = "pio" };
	struct rec r[8];
	uint8_t data[1];

	memset(r, 0, sizeof(r));
	for (unsigned int i = 0; i < n; i++) {
		r[i].fill = (uint8_t)(i + 1);
		assert_int_equal(bus_register(&b, bases[i], 4, handler, &r[i], "dev"), 0);
	}
	assert_int_equal(b.nr, n);
	for (unsigned int i = 1; i < b.nr; i++)
		assert_true(b.ranges[i - 1].base < b.ranges[i].base);
	/* Every range reaches its own handler (binary search over the sorted table). */
	for (unsigned int i = 0; i < n; i++) {
		assert_true(bus_access(&b, bases[i] + 3, data, 1, false));
		assert_int_equal(data[0], i + 1);
		assert_int_equal(r[i].offset, 3);
		assert_false(bus_access(&b, bases[i] + 4, data, 1, false)); /* gaps between */
	}
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(r[i].calls, 1);
}

static void test_full_table_reverse(void **state)
{
	struct bus b = { .kind = "mmio" };
	struct rec r[BUS_MAX_RANGES];
	uint8_t data[1];

	memset(r, 0, sizeof(r));
	for (unsigned int i = BUS_MAX_RANGES; i-- > 0;) {
		r[i].fill = (uint8_t)(i + 1);
		assert_int_equal(bus_register(&b, 0x10000 + 0x100 * (uint64_t)i, 0x10, handler, &r[i],
					      "dev"), 0);
	}
	for (unsigned int i = 0; i < BUS_MAX_RANGES; i++) {
		uint64_t base = 0x10000 + 0x100 * (uint64_t)i;
		assert_true(bus_access(&b, base + 0xf, data, 1, false));
		assert_int_equal(data[0], i + 1);
		assert_false(bus_access(&b, base + 0x10, data, 1, false));
		assert_int_equal(data[0], 0xff);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_overlap),
		cmocka_unit_test(test_register_invalid),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_unhandled),
		cmocka_unit_test(test_sorted_insertion),
		cmocka_unit_test(test_full_table_reverse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
