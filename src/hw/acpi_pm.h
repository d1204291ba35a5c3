/* Hardware-reduced ACPI power management registers (ACPI 6.4 4.8.3.7-4.8.3.8) on one I/O port
 * (PORT_ACPI_PM): the FADT points SLEEP_CONTROL_REG, SLEEP_STATUS_REG and RESET_REG at it.
 * A write of SLP_EN (bit 5) with SLP_TYP (bits 2-4) = 5 is S5 (poweroff); a write of
 * ACPI_RESET_VALUE is a reset. Reads return 0 (no wake status). */
#ifndef KILN_HW_ACPI_PM_H
#define KILN_HW_ACPI_PM_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/power.h"

#define ACPI_SLP_TYP_S5 5
#define ACPI_SLP_TYP_SHIFT 2
#define ACPI_SLP_TYP_MASK 0x1c
#define ACPI_SLP_EN 0x20
#define ACPI_RESET_VALUE 0x01 /* FADT RESET_VALUE */

struct acpi_pm {
	power_event_fn power_fn;
	void *power_opaque; /* borrowed */
};

/* Bus handler for PORT_ACPI_PM (1 byte). */
void acpi_pm_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write);

#endif
