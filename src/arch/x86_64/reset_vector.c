#include "arch/x86_64/reset_vector.h"

#include <errno.h>
#include <stdint.h>

#include "arch/x86_64/layout.h"
#include "hw/acpi_pm.h"

int reset_vector_write(const struct guest_mem *m)
{
	const uint8_t stub[] = {
		0xba, PORT_ACPI_PM & 0xff, PORT_ACPI_PM >> 8, /* mov $PORT_ACPI_PM, %dx */
		0xb0, ACPI_RESET_VALUE,                        /* mov $ACPI_RESET_VALUE, %al */
		0xee,                                          /* out %al, (%dx) */
		0xf4,                                          /* hlt */
		0xeb, 0xf7,                                    /* jmp to the start */
	};

	return guest_mem_write(m, RESET_VECTOR_ADDR, stub, sizeof(stub)) ? -EFAULT : 0;
}
