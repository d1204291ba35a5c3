/* ACPI tables for the guest (ACPI 6.4): RSDP (rev 2) at LAYOUT_ACPI_START, then XSDT, FADT
 * (hardware-reduced, revision 6), MADT (one Local APIC per vCPU, one IOAPIC, ISA interrupt
 * overrides), MCFG (PCI Firmware Spec 3.3 4.1.2: the ECAM of segment 0, bus 0), DSDT (AML with
 * \_S5, the CPUs, RTC, COM1, the power button: \_SB.PWRB signalled through the Generic Event
 * Device \_SB.GED_ of hw/ged.h, the PCI Express host bridge \_SB.PCI0 with the BAR windows of
 * pci/bar_alloc.h, and \_SB.MBRD reserving the ECAM). All inside
 * [LAYOUT_ACPI_START, LAYOUT_ACPI_END). */
#ifndef KILN_ARCH_X86_64_ACPI_H
#define KILN_ARCH_X86_64_ACPI_H

#include <stdint.h>

#include "util/guest_mem.h"

/* Sum of bytes modulo 256; a table is valid when the sum over its length is 0. */
uint8_t acpi_checksum(const void *buf, uint64_t len);

/* Writes all tables into guest memory for `nr_cpus` vCPUs (APIC IDs 0..nr_cpus-1); the PCI
 * 64-bit window starts at bar_alloc_mmio64_base(m).
 * Returns 0, -EINVAL for nr_cpus of 0 or > 255, -ENOSPC if the tables do not fit the
 * ACPI area, -EFAULT if the area is not guest RAM. */
int acpi_build(const struct guest_mem *m, unsigned int nr_cpus) __attribute__((warn_unused_result));

#endif
