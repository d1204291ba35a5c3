/* i8042 keyboard controller, only as far as the reset line goes (IBM PC/AT Technical
 * Reference, 8042 commands 0xd1 "write output port" and 0xfe "pulse output port bit 0"). */
#include "hw/i8042.h"

#include "util/log.h"

#define I8042_CMD_WRITE_CMD_BYTE 0x60 /* next data byte: controller command byte */
#define I8042_CMD_WRITE_OUTPUT 0xd1   /* next data byte: output port; bit 0 = reset line */
#define I8042_CMD_WRITE_KBD_OBUF 0xd2 /* next data byte: fake keyboard output */
#define I8042_CMD_WRITE_AUX_OBUF 0xd3 /* next data byte: fake mouse output */
#define I8042_CMD_WRITE_AUX 0xd4      /* next data byte: sent to the mouse */
#define I8042_CMD_PULSE_RESET 0xfe    /* pulse output bit 0 (reset) low */
#define I8042_OUT_RESET_N 0x01        /* output port bit 0, active low */

/* Nothing to read (OBF clear), input buffer empty (IBF clear): the guest never waits. */
#define I8042_STATUS_IDLE 0x00

static void reset(struct i8042 *k)
{
	log_ratelimited(LOG_INFO, "i8042", "guest requested a reset");
	if (k->power_fn)
		k->power_fn(k->power_opaque, POWER_EVENT_RESET);
}

static bool takes_data_byte(uint8_t cmd)
{
	return cmd == I8042_CMD_WRITE_CMD_BYTE || cmd == I8042_CMD_WRITE_OUTPUT ||
	       cmd == I8042_CMD_WRITE_KBD_OBUF || cmd == I8042_CMD_WRITE_AUX_OBUF ||
	       cmd == I8042_CMD_WRITE_AUX;
}

void i8042_data_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write)
{
	struct i8042 *k = opaque;
	uint8_t cmd, val;

	if (len == 0 || offset != 0)
		return;
	if (!is_write) {
		data[0] = 0;
		return;
	}
	val = data[0];
	/* vCPU threads may race here; the pending command is a single byte, swapped at once. */
	cmd = __atomic_exchange_n(&k->pending_cmd, 0, __ATOMIC_ACQ_REL);
	if (cmd == I8042_CMD_WRITE_OUTPUT && !(val & I8042_OUT_RESET_N))
		reset(k);
}

void i8042_cmd_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write)
{
	struct i8042 *k = opaque;
	uint8_t cmd;

	if (len == 0 || offset != 0)
		return;
	if (!is_write) {
		data[0] = I8042_STATUS_IDLE;
		return;
	}
	cmd = data[0];
	__atomic_store_n(&k->pending_cmd, takes_data_byte(cmd) ? cmd : 0, __ATOMIC_RELEASE);
	if (cmd == I8042_CMD_PULSE_RESET)
		reset(k);
}
