/* Hardware-reduced ACPI sleep control/status and reset register (ACPI 6.4 4.8.3.7, 4.8.3.6):
 * SLP_EN with SLP_TYP = S5 powers off, RESET_VALUE resets, anything else (for example the
 * WAK_STS write that precedes sleep) is ignored. */
#include "hw/acpi_pm.h"

#include "util/log.h"

void acpi_pm_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	uint8_t v;

	if (len == 0 || offset != 0)
		return;
	if (!is_write) {
		data[0] = 0; /* no wake status */
		return;
	}
	v = data[0];
	if ((v & ACPI_SLP_EN) &&
	    ((v & ACPI_SLP_TYP_MASK) >> ACPI_SLP_TYP_SHIFT) == ACPI_SLP_TYP_S5) {
		log_ratelimited(LOG_INFO, "acpi-pm", "guest requested poweroff (S5)");
		if (pm->power_fn)
			pm->power_fn(pm->power_opaque, POWER_EVENT_OFF);
	} else if (v == ACPI_RESET_VALUE) {
		log_ratelimited(LOG_INFO, "acpi-pm", "guest requested a reset");
		if (pm->power_fn)
			pm->power_fn(pm->power_opaque, POWER_EVENT_RESET);
	} else {
		log_ratelimited(LOG_DEBUG, "acpi-pm", "write 0x%02x ignored", v);
	}
}
