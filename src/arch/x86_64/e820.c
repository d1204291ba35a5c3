/* The guest e820 map, derived from the guest RAM regions (see e820.h). */
#include "arch/x86_64/e820.h"

#include <errno.h>

#include "arch/x86_64/layout.h"

/* Appends [addr, addr + size) of `type` unless it is empty. `out` may be NULL to count. */
static void e820_add(struct e820_entry *out, unsigned int *n, uint64_t addr, uint64_t size,
		     uint32_t type)
{
	if (size == 0)
		return;
	if (out)
		out[*n] = (struct e820_entry){ .addr = addr, .size = size, .type = type };
	(*n)++;
}

/* Writes the map into `out` (NULL: only count) and returns the entry count. The caller has
 * checked that region 0 starts at 0 and reaches 1 MiB, and that the regions are sorted with
 * the ECAM window between region 0 and the next. */
static unsigned int e820_fill(const struct guest_mem *m, struct e820_entry *out)
{
	const struct guest_mem_region *low = &m->regions[0];
	unsigned int n = 0;

	e820_add(out, &n, 0, LAYOUT_EBDA_START, E820_RAM);
	/* EBDA, VGA hole, option ROMs and the BIOS area with the ACPI tables. */
	e820_add(out, &n, LAYOUT_EBDA_START, LAYOUT_HIGH_RAM_START - LAYOUT_EBDA_START,
		 E820_RESERVED);
	e820_add(out, &n, LAYOUT_HIGH_RAM_START, low->size - LAYOUT_HIGH_RAM_START, E820_RAM);
	/* The MCFG's ECAM (PCI Firmware Spec 3.3 4.1.2): Linux uses it only if it is reserved in
	 * e820 or in ACPI motherboard resources (the DSDT's \_SB.MBRD declares it too). */
	e820_add(out, &n, LAYOUT_PCI_ECAM_BASE, LAYOUT_PCI_ECAM_SIZE, E820_RESERVED);
	for (unsigned int i = 1; i < m->nr_regions; i++)
		e820_add(out, &n, m->regions[i].gpa, m->regions[i].size, E820_RAM);
	return n;
}

int e820_build(const struct guest_mem *m, struct e820_entry *out, unsigned int max)
{
	if (!m || !out || m->nr_regions == 0 || m->nr_regions > GUEST_MEM_MAX_REGIONS)
		return -EINVAL;
	if (m->regions[0].gpa != 0 || m->regions[0].size < LAYOUT_HIGH_RAM_START)
		return -EINVAL;
	if (m->regions[0].size > LAYOUT_PCI_ECAM_BASE ||
	    (m->nr_regions > 1 && m->regions[1].gpa < LAYOUT_PCI_ECAM_BASE + LAYOUT_PCI_ECAM_SIZE))
		return -EINVAL; /* RAM over the ECAM window */
	if (e820_fill(m, NULL) > max)
		return -ENOSPC;
	return (int)e820_fill(m, out);
}
