/* Generic Event Device: event status register and edge-triggered interrupt (see ged.h). */
#include "hw/ged.h"

#include <errno.h>
#include <string.h>

#include "util/log.h"

_Static_assert(GED_REG_EVENT_STATUS == 0, "ged_read() assumes the status register at offset 0");

void ged_init(struct ged *g, unsigned int irq, irq_line_fn irq_fn, void *irq_opaque)
{
	pthread_mutex_init(&g->lock, NULL);
	g->pending = 0;
	g->irq = irq;
	g->irq_fn = irq_fn;
	g->irq_opaque = irq_opaque;
}

int ged_power_button(struct ged *g)
{
	if (!g)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	/* The bit is visible before the edge, so an _EVT run on the interrupt finds it (a vCPU
	 * reading meanwhile waits for the lock). The pulse stays under the lock so two presses
	 * give two clean 0-1-0 pulses rather than interleaved levels. */
	g->pending |= GED_EVENT_POWER_BUTTON;
	if (g->irq_fn) {
		g->irq_fn(g->irq_opaque, g->irq, 1);
		g->irq_fn(g->irq_opaque, g->irq, 0);
	}
	pthread_mutex_unlock(&g->lock);
	log_info("ged", "power button pressed (GSI %u)", g->irq);
	return 0;
}

/* Reads [offset, offset + len) of the block into data (little-endian) and clears the status
 * bits returned. Bytes outside the status register read 0. */
static void ged_read(struct ged *g, uint64_t offset, uint8_t *data, unsigned int len)
{
	memset(data, 0, len);
	if (offset >= GED_REG_EVENT_STATUS + GED_REG_EVENT_STATUS_LEN)
		return;
	pthread_mutex_lock(&g->lock);
	uint32_t status = g->pending, returned = 0;

	for (unsigned int i = 0; i < len; i++) {
		uint64_t byte = offset + i; /* offset < 4 and len <= 8: no overflow */

		if (byte >= GED_REG_EVENT_STATUS_LEN)
			break;
		data[i] = (uint8_t)(status >> (8 * byte));
		returned |= 0xffu << (8 * byte);
	}
	g->pending &= ~returned;
	pthread_mutex_unlock(&g->lock);
}

void ged_mmio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write)
{
	struct ged *g = opaque;

	if (!g || !data || len == 0 || len > 8)
		return;
	if (is_write) {
		log_ratelimited(LOG_DEBUG, "ged", "write of %u bytes at offset %#llx ignored", len,
				(unsigned long long)offset);
		return;
	}
	ged_read(g, offset, data, len);
}
