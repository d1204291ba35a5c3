/* Generic Event Device: the read-to-clear status register the DSDT's _EVT reads, the interrupt
 * pulse per power-button press, guest accesses of any size at any offset, and presses from
 * another thread racing vCPU reads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "hw/bus.h"
#include "hw/ged.h"

struct fake_irq {
	pthread_mutex_t lock;
	int level;
	unsigned int rising, falling, redundant, bad_irq;
};

static struct fake_irq irq = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void fake_irq_fn(void *opaque, unsigned int line, int level)
{
	struct fake_irq *f = opaque;

	pthread_mutex_lock(&f->lock);
	if (line != IRQ_GED)
		f->bad_irq++;
	if (level == f->level)
		f->redundant++;
	else if (level)
		f->rising++;
	else
		f->falling++;
	f->level = level;
	pthread_mutex_unlock(&f->lock);
}

static int setup(void **state)
{
	static struct ged g;

	pthread_mutex_lock(&irq.lock);
	irq.level = 0;
	irq.rising = irq.falling = irq.redundant = irq.bad_irq = 0;
	pthread_mutex_unlock(&irq.lock);
	ged_init(&g, IRQ_GED, fake_irq_fn, &irq);
	*state = &g;
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(irq.level, 0); /* every pulse ends low */
	assert_int_equal(irq.redundant, 0);
	assert_int_equal(irq.bad_irq, 0);
	return 0;
}

/* A guest read through the bus, as a vCPU's MMIO exit does it. */
static uint64_t mmio_read(struct ged *g, uint64_t offset, unsigned int len)
{
	struct bus b = { .kind = "mmio" };
	uint8_t data[8];
	uint64_t v = 0;

	assert_int_equal(bus_register(&b, LAYOUT_GED_ADDR, LAYOUT_GED_SIZE, ged_mmio, g, "ged"), 0);
	memset(data, 0xaa, sizeof(data));
	assert_true(bus_access(&b, LAYOUT_GED_ADDR + offset, data, len, false));
	for (unsigned int i = len; i < sizeof(data); i++)
		assert_int_equal(data[i], 0xaa); /* nothing written past len */
	memcpy(&v, data, len);
	return v;
}

static void mmio_write(struct ged *g, uint64_t offset, uint64_t v, unsigned int len)
{
	uint8_t data[8];

	memcpy(data, &v, sizeof(data));
	ged_mmio(g, offset, data, len, true);
}

static void test_initially_empty(void **state)
{
	struct ged *g = *state;

	assert_int_equal(mmio_read(g, 0, 4), 0);
	assert_int_equal(irq.rising, 0);
}

/* What _EVT does: one 32-bit read returns the event and clears it. */
static void test_press_then_read_clears(void **state)
{
	struct ged *g = *state;

	assert_int_equal(ged_power_button(g), 0);
	assert_int_equal(irq.rising, 1);
	assert_int_equal(irq.falling, 1);
	assert_int_equal(mmio_read(g, GED_REG_EVENT_STATUS, 4), GED_EVENT_POWER_BUTTON);
	assert_int_equal(mmio_read(g, GED_REG_EVENT_STATUS, 4), 0);
	assert_int_equal(irq.rising, 1); /* a read raises nothing */
}

/* Each press pulses, pending or not; the event is reported once. */
static void test_two_presses_two_pulses(void **state)
{
	struct ged *g = *state;

	assert_int_equal(ged_power_button(g), 0);
	assert_int_equal(ged_power_button(g), 0);
	assert_int_equal(irq.rising, 2);
	assert_int_equal(irq.falling, 2);
	assert_int_equal(mmio_read(g, 0, 4), GED_EVENT_POWER_BUTTON);
	assert_int_equal(mmio_read(g, 0, 4), 0);
	assert_int_equal(ged_power_button(g), 0);
	assert_int_equal(irq.rising, 3);
	assert_int_equal(mmio_read(g, 0, 4), GED_EVENT_POWER_BUTTON);
}

/* Writes of every size at every offset, including "clear" patterns, change nothing. */
static void test_writes_ignored(void **state)
{
	struct ged *g = *state;
	static const unsigned int sizes[] = { 1, 2, 4, 8 };

	assert_int_equal(ged_power_button(g), 0);
	for (uint64_t off = 0; off < 16; off++)
		for (unsigned int i = 0; i < 4; i++) {
			mmio_write(g, off, 0, sizes[i]);
			mmio_write(g, off, ~0ull, sizes[i]);
		}
	mmio_write(g, LAYOUT_GED_SIZE - 1, ~0ull, 8);
	mmio_write(g, ~0ull, ~0ull, 8);
	assert_int_equal(irq.rising, 1);
	assert_int_equal(mmio_read(g, 0, 4), GED_EVENT_POWER_BUTTON);
}

/* Offsets past the status register read 0 and leave the event pending. */
static void test_other_offsets_read_zero(void **state)
{
	struct ged *g = *state;
	static const unsigned int sizes[] = { 1, 2, 4, 8 };

	assert_int_equal(ged_power_button(g), 0);
	for (uint64_t off = 4; off < 64; off++)
		for (unsigned int i = 0; i < 4; i++)
			assert_int_equal(mmio_read(g, off, sizes[i]), 0);
	assert_int_equal(mmio_read(g, LAYOUT_GED_SIZE - 1, 8), 0); /* runs past the block */
	assert_int_equal(mmio_read(g, LAYOUT_GED_SIZE - 8, 8), 0);
	/* Direct calls with offsets the bus never produces. */
	uint8_t data[8];
	memset(data, 0xaa, sizeof(data));
	ged_mmio(g, ~0ull, data, 8, false);
	assert_int_equal(data[0], 0);
	assert_int_equal(data[7], 0);
	memset(data, 0xaa, sizeof(data));
	ged_mmio(g, (uint64_t)1 << 63, data, 4, false);
	assert_int_equal(data[3], 0);
	assert_int_equal(mmio_read(g, 0, 4), GED_EVENT_POWER_BUTTON);
}

/* Narrow and unaligned reads see the register's overlapping bytes and clear only those. */
static void test_partial_reads(void **state)
{
	struct ged *g = *state;

	assert_int_equal(ged_power_button(g), 0);
	assert_int_equal(mmio_read(g, 1, 1), 0);  /* bits 8-15: not the button */
	assert_int_equal(mmio_read(g, 2, 2), 0);  /* bits 16-31 */
	assert_int_equal(mmio_read(g, 3, 8), 0);  /* bits 24-31 and beyond */
	assert_int_equal(mmio_read(g, 0, 1), GED_EVENT_POWER_BUTTON); /* still pending */
	assert_int_equal(mmio_read(g, 0, 1), 0);

	assert_int_equal(ged_power_button(g), 0);
	assert_int_equal(mmio_read(g, 0, 2), GED_EVENT_POWER_BUTTON);
	assert_int_equal(ged_power_button(g), 0);
	assert_int_equal(mmio_read(g, 0, 8), GED_EVENT_POWER_BUTTON); /* upper 4 bytes 0 */
	assert_int_equal(mmio_read(g, 0, 4), 0);
}

/* Sizes the bus never passes (0, more than 8) are ignored without touching data. */
static void test_bad_sizes(void **state)
{
	struct ged *g = *state;
	uint8_t data[16];

	assert_int_equal(ged_power_button(g), 0);
	memset(data, 0xaa, sizeof(data));
	ged_mmio(g, 0, data, 0, false);
	ged_mmio(g, 0, data, 16, false);
	ged_mmio(g, 0, data, 16, true);
	ged_mmio(g, 0, NULL, 4, false);
	ged_mmio(NULL, 0, data, 4, false);
	for (unsigned int i = 0; i < sizeof(data); i++)
		assert_int_equal(data[i], 0xaa);
	/* Three bytes is not an x86 MMIO size, but the handler copes. */
	assert_int_equal(mmio_read(g, 0, 3), GED_EVENT_POWER_BUTTON);
	assert_int_equal(ged_power_button(NULL), -EINVAL);
}

/* No interrupt callback: the register still works. */
static void test_no_irq_fn(void **state)
{
	struct ged g;

	ged_init(&g, IRQ_GED, NULL, NULL);
	assert_int_equal(ged_power_button(&g), 0);
	assert_int_equal(mmio_read(&g, 0, 4), GED_EVENT_POWER_BUTTON);
}

#define PRESSES 20000

static void *presser(void *opaque)
{
	for (unsigned int i = 0; i < PRESSES; i++)
		if (ged_power_button(opaque))
			return (void *)1;
	return NULL;
}

/* An API thread pressing while a vCPU thread polls the register: every press pulses, no
 * event is lost (after the last press one is pending or was just read), and the register
 * never shows bits that were not raised. */
static void test_concurrent_presses(void **state)
{
	struct ged *g = *state;
	pthread_t t;
	unsigned int seen = 0;
	void *ret;

	assert_int_equal(pthread_create(&t, NULL, presser, g), 0);
	for (unsigned int i = 0; i < PRESSES; i++) {
		uint64_t v = mmio_read(g, 0, 4);

		assert_true(v == 0 || v == GED_EVENT_POWER_BUTTON);
		seen += v != 0;
	}
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_null(ret);
	seen += mmio_read(g, 0, 4) != 0;
	assert_true(seen >= 1 && seen <= PRESSES);
	assert_int_equal(mmio_read(g, 0, 4), 0);
	assert_int_equal(irq.rising, PRESSES);
	assert_int_equal(irq.falling, PRESSES);
}

/* The last read after a final press always finds it, however reads and presses interleave. */
static void test_final_press_not_lost(void **state)
{
	struct ged *g = *state;
	pthread_t t;

	for (unsigned int round = 0; round < 2; round++) {
		assert_int_equal(pthread_create(&t, NULL, presser, g), 0);
		for (unsigned int i = 0; i < 50; i++)
			(void)mmio_read(g, 0, 4);
		assert_int_equal(pthread_join(t, NULL), 0);
		assert_int_equal(mmio_read(g, 0, 4), GED_EVENT_POWER_BUTTON);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_initially_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_press_then_read_clears, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_presses_two_pulses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writes_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_offsets_read_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_irq_fn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_presses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_final_press_not_lost, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
