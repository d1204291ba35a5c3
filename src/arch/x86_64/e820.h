/* The guest's e820 memory map (ACPI 6.4 chapter 15 address range types), built once from the
 * guest RAM layout and handed to the kernel through boot_params or hvm_start_info. */
#ifndef KILN_ARCH_X86_64_E820_H
#define KILN_ARCH_X86_64_E820_H

#include <stdint.h>

#include "util/guest_mem.h"

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3

struct e820_entry {
	uint64_t addr; /* bytes */
	uint64_t size; /* bytes */
	uint32_t type; /* E820_* */
};

#define E820_MAX_ENTRIES 8

/* Fills `out` (room for `max` entries), sorted: RAM below the EBDA, the EBDA/BIOS area (with
 * the ACPI tables) reserved, RAM from 1 MiB to the hole, the PCI ECAM window reserved, RAM above
 * 4 GiB. Returns the entry count, or -ENOSPC if `max` is too small, -EINVAL if RAM does not
 * reach 1 MiB or overlaps the ECAM window. */
int e820_build(const struct guest_mem *m, struct e820_entry *out, unsigned int max);

#endif
