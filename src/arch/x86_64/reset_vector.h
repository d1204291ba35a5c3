/* The code at the x86 reset vector (f000:fff0, physical 0xffff0). kiln has no BIOS, yet Linux
 * jumps there to reboot when its other methods (ACPI reset register, i8042) have not taken
 * effect (reboot=bios, or the last resort of native_machine_emergency_restart). Real firmware
 * would reset the machine from there; kiln's stub does the same through the ACPI reset
 * register, so the guest gets a reboot instead of executing zeroed memory. */
#ifndef KILN_ARCH_X86_64_RESET_VECTOR_H
#define KILN_ARCH_X86_64_RESET_VECTOR_H

#include "util/guest_mem.h"

#define RESET_VECTOR_ADDR 0xffff0ull

/* Writes the 16-bit stub "out ACPI_RESET_VALUE to PORT_ACPI_PM; hlt; jmp back" at
 * RESET_VECTOR_ADDR. Returns 0 or -EFAULT if that address is not RAM. */
int reset_vector_write(const struct guest_mem *m) __attribute__((warn_unused_result));

#endif
