/* The part of the i8042 keyboard controller a guest uses to reset the machine: command 0xfe
 * (pulse reset line) on port 0x64, and output-port writes (0xd1) that clear bit 0. Status reads
 * report an empty controller so probing drivers give up quickly. */
#ifndef KILN_HW_I8042_H
#define KILN_HW_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/power.h"

struct i8042 {
	power_event_fn power_fn; /* called with POWER_EVENT_RESET */
	void *power_opaque;      /* borrowed */
	uint8_t pending_cmd;     /* command awaiting a data byte on port 0x60, or 0 */
};

/* Bus handlers: data port (0x60, 1 byte) and command/status port (0x64, 1 byte). */
void i8042_data_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write);
void i8042_cmd_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write);

#endif
