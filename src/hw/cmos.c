/* MC146818A RTC + CMOS RAM (Motorola MC146818A datasheet; memory-size bytes as SeaBIOS and
 * QEMU lay them out). The clock is never stored: each read of a time register converts the
 * host's current UTC time, so the guest sees no drift and no update cycle (UIP always 0). */
#include "hw/cmos.h"

#include <string.h>
#include <time.h>

#define CMOS_INDEX_MASK 0x7f /* bit 7 of port 0x70 is the NMI mask */

#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_DAY_OF_WEEK 0x06
#define RTC_DAY_OF_MONTH 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define CMOS_EXT_MEM_LO 0x17     /* KiB 1 MiB..64 MiB, legacy copy of 0x30/0x31 */
#define CMOS_EXT_MEM_HI 0x18
#define CMOS_EXT_MEM2_LO 0x30    /* KiB between 1 MiB and 64 MiB */
#define CMOS_EXT_MEM2_HI 0x31
#define RTC_CENTURY 0x32
#define CMOS_MEM_16M_LO 0x34     /* 64 KiB units between 16 MiB and 4 GiB */
#define CMOS_MEM_16M_HI 0x35
#define CMOS_MEM_4G_0 0x5b       /* 64 KiB units above 4 GiB, 24-bit little endian */
#define CMOS_MEM_4G_1 0x5c
#define CMOS_MEM_4G_2 0x5d

#define RTC_REG_A_DEFAULT 0x26 /* 32.768 kHz time base, 1024 Hz periodic rate */
#define RTC_REG_A_UIP 0x80
#define RTC_REG_B_24H 0x02
#define RTC_REG_B_DM_BINARY 0x04
#define RTC_REG_D_VRT 0x80     /* valid RAM and time */
#define RTC_HOURS_PM 0x80

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void put16(struct cmos *c, unsigned int lo, uint64_t v)
{
	c->regs[lo] = (uint8_t)v;
	c->regs[lo + 1] = (uint8_t)(v >> 8);
}

void cmos_init(struct cmos *c, uint64_t mem_below_4g, uint64_t mem_above_4g)
{
	uint64_t ext_kib = 0, mem_16m = 0, mem_4g;

	pthread_mutex_init(&c->lock, NULL);
	c->index = 0;
	memset(c->regs, 0, sizeof(c->regs));
	c->regs[RTC_REG_A] = RTC_REG_A_DEFAULT;
	c->regs[RTC_REG_B] = RTC_REG_B_24H;
	c->regs[RTC_REG_D] = RTC_REG_D_VRT;

	if (mem_below_4g > MIB)
		ext_kib = min_u64(mem_below_4g - MIB, 63 * MIB) / KIB;
	put16(c, CMOS_EXT_MEM_LO, ext_kib);
	put16(c, CMOS_EXT_MEM2_LO, ext_kib);

	if (mem_below_4g > 16 * MIB)
		mem_16m = min_u64((mem_below_4g - 16 * MIB) / (64 * KIB), 0xffff);
	put16(c, CMOS_MEM_16M_LO, mem_16m);

	mem_4g = min_u64(mem_above_4g / (64 * KIB), 0xffffff);
	c->regs[CMOS_MEM_4G_0] = (uint8_t)mem_4g;
	c->regs[CMOS_MEM_4G_1] = (uint8_t)(mem_4g >> 8);
	c->regs[CMOS_MEM_4G_2] = (uint8_t)(mem_4g >> 16);
}

static bool is_time_reg(unsigned int idx)
{
	switch (idx) {
	case RTC_SECONDS:
	case RTC_MINUTES:
	case RTC_HOURS:
	case RTC_DAY_OF_WEEK:
	case RTC_DAY_OF_MONTH:
	case RTC_MONTH:
	case RTC_YEAR:
	case RTC_CENTURY:
		return true;
	default:
		return false;
	}
}

/* Encodes 0..99 in the data mode register B selects. */
static uint8_t encode(const struct cmos *c, int v)
{
	if (c->regs[RTC_REG_B] & RTC_REG_B_DM_BINARY)
		return (uint8_t)v;
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t encode_hour(const struct cmos *c, int hour)
{
	int h12;

	if (c->regs[RTC_REG_B] & RTC_REG_B_24H)
		return encode(c, hour);
	h12 = hour % 12 == 0 ? 12 : hour % 12;
	return (uint8_t)(encode(c, h12) | (hour >= 12 ? RTC_HOURS_PM : 0));
}

static uint8_t read_time(const struct cmos *c, unsigned int idx)
{
	time_t now = time(NULL);
	struct tm tm;

	if (!gmtime_r(&now, &tm))
		return 0;
	switch (idx) {
	case RTC_SECONDS:
		return encode(c, tm.tm_sec > 59 ? 59 : tm.tm_sec);
	case RTC_MINUTES:
		return encode(c, tm.tm_min);
	case RTC_HOURS:
		return encode_hour(c, tm.tm_hour);
	case RTC_DAY_OF_WEEK:
		return encode(c, tm.tm_wday + 1);
	case RTC_DAY_OF_MONTH:
		return encode(c, tm.tm_mday);
	case RTC_MONTH:
		return encode(c, tm.tm_mon + 1);
	case RTC_YEAR:
		return encode(c, (tm.tm_year + 1900) % 100);
	default: /* RTC_CENTURY */
		return encode(c, ((tm.tm_year + 1900) / 100) % 100);
	}
}

static uint8_t read_reg(const struct cmos *c, unsigned int idx)
{
	if (is_time_reg(idx))
		return read_time(c, idx);
	switch (idx) {
	case RTC_REG_A:
		return c->regs[idx] & (uint8_t)~RTC_REG_A_UIP;
	case RTC_REG_C: /* no interrupt sources are ever flagged */
		return 0;
	case RTC_REG_D:
		return RTC_REG_D_VRT;
	default:
		return c->regs[idx];
	}
}

static void write_reg(struct cmos *c, unsigned int idx, uint8_t val)
{
	/* The clock follows the host; C and D are read-only. */
	if (is_time_reg(idx) || idx == RTC_REG_C || idx == RTC_REG_D)
		return;
	if (idx == RTC_REG_A)
		val &= (uint8_t)~RTC_REG_A_UIP;
	c->regs[idx] = val;
}

void cmos_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write)
{
	struct cmos *c = opaque;

	if (len == 0 || offset > 1)
		return;
	pthread_mutex_lock(&c->lock);
	if (offset == 0) {
		if (is_write)
			c->index = data[0] & CMOS_INDEX_MASK;
		else
			data[0] = 0xff; /* the index register is write-only */
	} else if (is_write) {
		write_reg(c, c->index, data[0]);
	} else {
		data[0] = read_reg(c, c->index);
	}
	pthread_mutex_unlock(&c->lock);
}
