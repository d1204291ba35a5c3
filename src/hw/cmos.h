/* MC146818 CMOS/RTC at ports 0x70 (index, bit 7 = NMI mask) and 0x71 (data). The clock reads
 * the host's UTC time at each access; BCD/binary and 12/24 h follow status register B.
 * Registers 0x34/0x35 and 0x5b-0x5d hold the memory size as SeaBIOS reports it. */
#ifndef KILN_HW_CMOS_H
#define KILN_HW_CMOS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct cmos {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t regs[128];
};

/* Initialises the register file; mem_below_4g/mem_above_4g are RAM sizes in bytes. */
void cmos_init(struct cmos *c, uint64_t mem_below_4g, uint64_t mem_above_4g);

/* Bus handler for ports 0x70-0x71 (offset 0 = index, 1 = data). */
void cmos_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write);

#endif
