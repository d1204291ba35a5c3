/* Tests for the small legacy devices: i8042 reset, ACPI PM sleep/reset register, CMOS/RTC,
 * debug port. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "hw/acpi_pm.h"
#include "hw/cmos.h"
#include "hw/debug_port.h"
#include "hw/i8042.h"

struct power_log {
	unsigned int off, reset, other;
};

static void power_fn(void *opaque, enum power_event ev)
{
	struct power_log *p = opaque;

	if (ev == POWER_EVENT_OFF)
		p->off++;
	else if (ev == POWER_EVENT_RESET)
		p->reset++;
	else
		p->other++;
}

static void wr(void (*fn)(void *, uint64_t, uint8_t *, unsigned int, bool), void *dev,
	       uint64_t off, uint8_t v)
{
	fn(dev, off, &v, 1, true);
}

static uint8_t rd(void (*fn)(void *, uint64_t, uint8_t *, unsigned int, bool), void *dev,
		  uint64_t off)
{
	uint8_t v = 0xa5;

	fn(dev, off, &v, 1, false);
	return v;
}

/* ---- i8042 ---- */

static void test_i8042_pulse_reset(void **state)
{
	struct power_log p = { 0 };
	struct i8042 k = { .power_fn = power_fn, .power_opaque = &p };

	(void)state;
	assert_int_equal(rd(i8042_cmd_pio, &k, 0), 0x00);
	assert_int_equal(rd(i8042_data_pio, &k, 0), 0x00);
	wr(i8042_cmd_pio, &k, 0, 0xfe);
	assert_int_equal(p.reset, 1);
	wr(i8042_cmd_pio, &k, 0, 0xaa); /* self test: not a reset */
	wr(i8042_cmd_pio, &k, 0, 0xff);
	wr(i8042_data_pio, &k, 0, 0xfe); /* 0xfe on the data port is a keyboard byte */
	assert_int_equal(p.reset, 1);
	assert_int_equal(p.off + p.other, 0);
}

static void test_i8042_output_port(void **state)
{
	struct power_log p = { 0 };
	struct i8042 k = { .power_fn = power_fn, .power_opaque = &p };

	(void)state;
	wr(i8042_cmd_pio, &k, 0, 0xd1);
	wr(i8042_data_pio, &k, 0, 0x03); /* bit 0 set: no reset */
	assert_int_equal(p.reset, 0);
	assert_int_equal(k.pending_cmd, 0);
	wr(i8042_data_pio, &k, 0, 0x00); /* no 0xd1 pending any more */
	assert_int_equal(p.reset, 0);
	wr(i8042_cmd_pio, &k, 0, 0xd1);
	assert_int_equal(k.pending_cmd, 0xd1);
	wr(i8042_data_pio, &k, 0, 0xfe);
	assert_int_equal(p.reset, 1);
	wr(i8042_cmd_pio, &k, 0, 0x60); /* command byte write: data byte is not the port */
	wr(i8042_data_pio, &k, 0, 0x00);
	assert_int_equal(p.reset, 1);
	wr(i8042_cmd_pio, &k, 0, 0xd1); /* a new command cancels the pending one */
	wr(i8042_cmd_pio, &k, 0, 0xae);
	wr(i8042_data_pio, &k, 0, 0x00);
	assert_int_equal(p.reset, 1);
}

static void test_i8042_malformed(void **state)
{
	struct power_log p = { 0 };
	struct i8042 k = { .power_fn = power_fn, .power_opaque = &p };
	struct i8042 nofn = { 0 };
	uint8_t v = 0xfe;

	(void)state;
	i8042_cmd_pio(&k, 0, &v, 0, true); /* len 0 */
	i8042_cmd_pio(&k, 1, &v, 1, true); /* outside the port */
	i8042_cmd_pio(&k, 0, &v, 0, false);
	assert_int_equal(v, 0xfe);
	assert_int_equal(p.reset, 0);
	wr(i8042_cmd_pio, &nofn, 0, 0xfe); /* no callback: no crash */
	wr(i8042_cmd_pio, &nofn, 0, 0xd1);
	wr(i8042_data_pio, &nofn, 0, 0x00);
}

/* ---- ACPI PM ---- */

static void test_acpi_pm(void **state)
{
	struct power_log p = { 0 };
	struct acpi_pm pm = { .power_fn = power_fn, .power_opaque = &p };
	uint8_t wide[2] = { 0xff, 0xff };

	(void)state;
	assert_int_equal(rd(acpi_pm_pio, &pm, 0), 0);
	acpi_pm_pio(&pm, 0, wide, 2, false);
	assert_int_equal(wide[0], 0);
	wr(acpi_pm_pio, &pm, 0, 0x80);        /* WAK_STS clear before sleep */
	wr(acpi_pm_pio, &pm, 0, 5 << 2);      /* SLP_TYP without SLP_EN */
	wr(acpi_pm_pio, &pm, 0, 0x20 | 3 << 2); /* S3 */
	wr(acpi_pm_pio, &pm, 0, 0x20);        /* S0 */
	wr(acpi_pm_pio, &pm, 0, 0x02);
	wr(acpi_pm_pio, &pm, 0, 0x03);        /* only exactly RESET_VALUE resets */
	wr(acpi_pm_pio, &pm, 0, 0x81);
	wr(acpi_pm_pio, &pm, 0, 0x21);
	wr(acpi_pm_pio, &pm, 1, 0x34);        /* outside the port */
	acpi_pm_pio(&pm, 0, wide, 0, true);
	assert_int_equal(p.off + p.reset + p.other, 0);
	wr(acpi_pm_pio, &pm, 0, 0x20 | 5 << 2); /* S5 */
	assert_int_equal(p.off, 1);
	wr(acpi_pm_pio, &pm, 0, 0xe0 | 5 << 2 | 0x03); /* other bits do not matter */
	assert_int_equal(p.off, 2);
	wr(acpi_pm_pio, &pm, 0, ACPI_RESET_VALUE);
	assert_int_equal(p.reset, 1);
	assert_int_equal(p.off, 2);
	assert_int_equal(p.other, 0);
}

/* ---- CMOS / RTC ---- */

/* The RTC reads time(); this definition interposes the C library's so tests can pin the clock
 * to chosen instants. fake_now < 0 passes the host's real time through. */
static time_t fake_now = -1;

time_t time(time_t *tloc)
{
	struct timespec ts;
	time_t now = fake_now;

	if (now < 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		now = ts.tv_sec;
	}
	if (tloc)
		*tloc = now;
	return now;
}

#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)

static uint8_t cmos_get(struct cmos *c, uint8_t idx)
{
	wr(cmos_pio, c, 0, idx);
	return rd(cmos_pio, c, 1);
}

static void cmos_set(struct cmos *c, uint8_t idx, uint8_t v)
{
	wr(cmos_pio, c, 0, idx);
	wr(cmos_pio, c, 1, v);
}

static int from_bcd(uint8_t v)
{
	assert_true((v & 0x0f) <= 9);
	assert_true((v >> 4) <= 9);
	return (v >> 4) * 10 + (v & 0x0f);
}

struct rtc_time {
	int sec, min, hour, wday, mday, mon, year, century;
	bool pm;
};

static struct rtc_time read_rtc(struct cmos *c, bool binary, bool h24)
{
	static const uint8_t idx[] = { 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32 };
	int v[8];
	unsigned int i;
	struct rtc_time t;
	uint8_t hour = cmos_get(c, 0x04);

	for (i = 0; i < 8; i++) {
		uint8_t raw = cmos_get(c, idx[i]);
		if (idx[i] == 0x04)
			raw &= 0x7f;
		v[i] = binary ? raw : from_bcd(raw);
	}
	t.sec = v[0];
	t.min = v[1];
	t.hour = v[2];
	t.wday = v[3];
	t.mday = v[4];
	t.mon = v[5];
	t.year = v[6];
	t.century = v[7];
	t.pm = (hour & 0x80) != 0;
	if (h24)
		assert_false(t.pm);
	return t;
}

/* Reads the clock with the given register B mode until a read falls inside one host second,
 * then compares every field exactly. */
static void check_clock(struct cmos *c, bool binary, bool h24)
{
	int tries;

	cmos_set(c, 0x0b, (uint8_t)((binary ? 0x04 : 0) | (h24 ? 0x02 : 0)));
	for (tries = 0; tries < 5; tries++) {
		time_t t0 = time(NULL), t1;
		struct rtc_time r = read_rtc(c, binary, h24);
		struct tm tm;
		int hour;

		t1 = time(NULL);
		if (t0 != t1)
			continue;
		assert_non_null(gmtime_r(&t0, &tm));
		hour = tm.tm_hour;
		if (!h24) {
			assert_int_equal(r.pm, hour >= 12);
			hour = hour % 12 == 0 ? 12 : hour % 12;
		}
		assert_int_equal(r.sec, tm.tm_sec);
		assert_int_equal(r.min, tm.tm_min);
		assert_int_equal(r.hour, hour);
		assert_int_equal(r.wday, tm.tm_wday + 1);
		assert_int_equal(r.mday, tm.tm_mday);
		assert_int_equal(r.mon, tm.tm_mon + 1);
		assert_int_equal(r.year, (tm.tm_year + 1900) % 100);
		assert_int_equal(r.century, (tm.tm_year + 1900) / 100);
		return;
	}
	fail_msg("could not read the clock within one second");
}

static void test_cmos_clock_modes(void **state)
{
	struct cmos c;

	(void)state;
	cmos_init(&c, 512 * MIB, 0);
	assert_int_equal(cmos_get(&c, 0x0b), 0x02); /* default: 24 h, BCD */
	check_clock(&c, false, true);
	check_clock(&c, true, true);
	check_clock(&c, false, false);
	check_clock(&c, true, false);
	/* Writes to the clock are ignored: it follows the host. */
	cmos_set(&c, 0x0b, 0x06);
	cmos_set(&c, 0x09, 0x00);
	cmos_set(&c, 0x32, 0x00);
	assert_int_equal(cmos_get(&c, 0x32), 20);
	assert_true(cmos_get(&c, 0x09) >= 24);
}

struct fixed_case {
	time_t when;
	uint8_t reg_b;
	uint8_t sec, min, hour, wday, mday, mon, year, century;
};

/* Fixed instants: midnight and noon hours in 12 h mode, a leap day, a Sunday, year 1999. */
static void test_cmos_clock_fixed(void **state)
{
	static const struct fixed_case cases[] = {
		/* 2024-02-29 00:05:09 UTC, Thursday */
		{ 1709165109, 0x00, 0x09, 0x05, 0x12, 5, 0x29, 0x02, 0x24, 0x20 },
		{ 1709165109, 0x02, 0x09, 0x05, 0x00, 5, 0x29, 0x02, 0x24, 0x20 },
		{ 1709165109, 0x04, 9, 5, 12, 5, 29, 2, 24, 20 },
		/* 2024-03-03 12:34:56 UTC, Sunday */
		{ 1709469296, 0x00, 0x56, 0x34, 0x80 | 0x12, 1, 0x03, 0x03, 0x24, 0x20 },
		/* 2024-03-03 23:59:59 UTC */
		{ 1709510399, 0x00, 0x59, 0x59, 0x80 | 0x11, 1, 0x03, 0x03, 0x24, 0x20 },
		{ 1709510399, 0x04, 59, 59, 0x80 | 11, 1, 3, 3, 24, 20 },
		{ 1709510399, 0x06, 59, 59, 23, 1, 3, 3, 24, 20 },
		/* 1999-12-31 13:00:00 UTC, Friday */
		{ 946645200, 0x02, 0x00, 0x00, 0x13, 6, 0x31, 0x12, 0x99, 0x19 },
	};
	struct cmos c;
	unsigned int i;

	(void)state;
	cmos_init(&c, 512 * MIB, 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct fixed_case *k = &cases[i];

		fake_now = k->when;
		cmos_set(&c, 0x0b, k->reg_b);
		assert_int_equal(cmos_get(&c, 0x00), k->sec);
		assert_int_equal(cmos_get(&c, 0x02), k->min);
		assert_int_equal(cmos_get(&c, 0x04), k->hour);
		assert_int_equal(cmos_get(&c, 0x06), k->wday);
		assert_int_equal(cmos_get(&c, 0x07), k->mday);
		assert_int_equal(cmos_get(&c, 0x08), k->mon);
		assert_int_equal(cmos_get(&c, 0x09), k->year);
		assert_int_equal(cmos_get(&c, 0x32), k->century);
	}
	fake_now = -1;
}

static void test_cmos_status_regs(void **state)
{
	struct cmos c;

	(void)state;
	cmos_init(&c, 512 * MIB, 0);
	assert_int_equal(cmos_get(&c, 0x0a), 0x26);
	cmos_set(&c, 0x0a, 0xa6); /* UIP is read-only, always 0 */
	assert_int_equal(cmos_get(&c, 0x0a), 0x26);
	cmos_set(&c, 0x0b, 0x06);
	assert_int_equal(cmos_get(&c, 0x0b), 0x06);
	cmos_set(&c, 0x0c, 0xff);
	assert_int_equal(cmos_get(&c, 0x0c), 0x00);
	cmos_set(&c, 0x0d, 0x00);
	assert_int_equal(cmos_get(&c, 0x0d), 0x80);
	cmos_set(&c, 0x40, 0x5a); /* plain RAM */
	assert_int_equal(cmos_get(&c, 0x40), 0x5a);
	cmos_set(&c, 0x7f, 0x11);
	assert_int_equal(cmos_get(&c, 0x7f), 0x11);
	cmos_set(&c, 0x01, 0x30); /* alarm seconds: RAM too */
	assert_int_equal(cmos_get(&c, 0x01), 0x30);
}

static void test_cmos_nmi_bit(void **state)
{
	struct cmos c;

	(void)state;
	cmos_init(&c, 512 * MIB, 0);
	cmos_set(&c, 0x80 | 0x41, 0x77); /* NMI masked, register 0x41 */
	assert_int_equal(cmos_get(&c, 0x41), 0x77);
	assert_int_equal(cmos_get(&c, 0x80 | 0x41), 0x77);
	assert_int_equal(cmos_get(&c, 0x80 | 0x0d), 0x80);
	assert_int_equal(c.index, 0x0d);
}

static void test_cmos_memory_size(void **state)
{
	struct cmos c;

	(void)state;
	cmos_init(&c, 512 * MIB, 0);
	/* (512 - 16) MiB / 64 KiB = 7936 = 0x1f00 */
	assert_int_equal(cmos_get(&c, 0x34), 0x00);
	assert_int_equal(cmos_get(&c, 0x35), 0x1f);
	/* 1..64 MiB in KiB: 63 MiB = 64512 = 0xfc00 */
	assert_int_equal(cmos_get(&c, 0x30), 0x00);
	assert_int_equal(cmos_get(&c, 0x31), 0xfc);
	assert_int_equal(cmos_get(&c, 0x5b), 0);
	assert_int_equal(cmos_get(&c, 0x5c), 0);
	assert_int_equal(cmos_get(&c, 0x5d), 0);

	cmos_init(&c, 3 * GIB, 5 * GIB);
	/* (3 GiB - 16 MiB) / 64 KiB = 48896 = 0xbf00; 5 GiB / 64 KiB = 81920 = 0x014000 */
	assert_int_equal(cmos_get(&c, 0x34), 0x00);
	assert_int_equal(cmos_get(&c, 0x35), 0xbf);
	assert_int_equal(cmos_get(&c, 0x5b), 0x00);
	assert_int_equal(cmos_get(&c, 0x5c), 0x40);
	assert_int_equal(cmos_get(&c, 0x5d), 0x01);

	cmos_init(&c, 5 * GIB, 2048 * GIB); /* caps: 0xffff and 24 bits */
	assert_int_equal(cmos_get(&c, 0x34), 0xff);
	assert_int_equal(cmos_get(&c, 0x35), 0xff);
	assert_int_equal(cmos_get(&c, 0x5b), 0xff);
	assert_int_equal(cmos_get(&c, 0x5c), 0xff);
	assert_int_equal(cmos_get(&c, 0x5d), 0xff);

	cmos_init(&c, 8 * MIB, 0); /* below 16 MiB: 7 MiB extended, nothing at 0x34 */
	assert_int_equal(cmos_get(&c, 0x30), 0x00);
	assert_int_equal(cmos_get(&c, 0x31), 0x1c);
	assert_int_equal(cmos_get(&c, 0x34), 0);
	assert_int_equal(cmos_get(&c, 0x35), 0);

	cmos_init(&c, 0, 0);
	assert_int_equal(cmos_get(&c, 0x30), 0);
	assert_int_equal(cmos_get(&c, 0x31), 0);
}

static void test_cmos_malformed(void **state)
{
	struct cmos c;
	uint8_t v = 0x99, wide[4] = { 0xff, 0xff, 0xff, 0xff };

	(void)state;
	cmos_init(&c, 512 * MIB, 0);
	cmos_set(&c, 0x40, 0x12);
	cmos_pio(&c, 1, &v, 0, true); /* len 0 */
	cmos_pio(&c, 1, &v, 0, false);
	assert_int_equal(v, 0x99);
	cmos_pio(&c, 2, &v, 1, true); /* outside the two ports */
	cmos_pio(&c, 2, &v, 1, false);
	assert_int_equal(v, 0x99);
	assert_int_equal(cmos_get(&c, 0x40), 0x12);
	assert_int_equal(rd(cmos_pio, &c, 0), 0xff); /* index port is write-only */
	cmos_pio(&c, 1, wide, 4, false); /* first byte only */
	assert_int_equal(wide[0], 0x12);
	assert_int_equal(wide[1], 0xff);
}

/* ---- debug port ---- */

static void test_debug_port(void **state)
{
	uint8_t v = 0x55, wide[2] = { 0xff, 0xff };
	int i;

	(void)state;
	for (i = 0; i < 40; i++) /* rate-limited logging, never blocks */
		wr(debug_port_pio, NULL, 0, (uint8_t)i);
	assert_int_equal(rd(debug_port_pio, NULL, 0), 0);
	debug_port_pio(NULL, 0, wide, 2, false);
	assert_int_equal(wide[0], 0);
	assert_int_equal(wide[1], 0xff);
	debug_port_pio(NULL, 0, &v, 0, false);
	debug_port_pio(NULL, 1, &v, 1, false);
	assert_int_equal(v, 0x55);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_i8042_pulse_reset),
		cmocka_unit_test(test_i8042_output_port),
		cmocka_unit_test(test_i8042_malformed),
		cmocka_unit_test(test_acpi_pm),
		cmocka_unit_test(test_cmos_clock_modes),
		cmocka_unit_test(test_cmos_clock_fixed),
		cmocka_unit_test(test_cmos_status_regs),
		cmocka_unit_test(test_cmos_nmi_bit),
		cmocka_unit_test(test_cmos_memory_size),
		cmocka_unit_test(test_cmos_malformed),
		cmocka_unit_test(test_debug_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
