/* First-fit allocator of naturally aligned BAR ranges (see bar_alloc.h). */
#include "pci/bar_alloc.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "arch/x86_64/layout.h"

/* The 32-bit window must stay clear of every fixed address in the hole. */
_Static_assert(LAYOUT_PCI_MMIO32_START >= LAYOUT_MEM_32BIT_HOLE, "32-bit window is in the hole");
_Static_assert(LAYOUT_PCI_MMIO32_START + LAYOUT_PCI_MMIO32_SIZE <= LAYOUT_PCI_ECAM_BASE,
	       "32-bit window below the ECAM");
_Static_assert(LAYOUT_PCI_ECAM_BASE + LAYOUT_PCI_ECAM_SIZE <= LAYOUT_GED_ADDR,
	       "ECAM below the GED");
_Static_assert(LAYOUT_GED_ADDR + LAYOUT_GED_SIZE <= LAYOUT_IOAPIC_ADDR, "GED below the IOAPIC");
_Static_assert(LAYOUT_PCI_ECAM_BASE % LAYOUT_PCI_ECAM_SIZE == 0, "ECAM naturally aligned");

/* Last byte of [base, base + size), size > 0: no overflow even when the range ends at 2^64. */
static uint64_t last(uint64_t base, uint64_t size)
{
	return base + (size - 1);
}

int bar_alloc_init(struct bar_alloc *a, uint64_t base, uint64_t size)
{
	if (!a || size == 0 || last(base, size) < base)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->base = base;
	a->size = size;
	return 0;
}

int bar_alloc_init_mmio32(struct bar_alloc *a)
{
	return bar_alloc_init(a, LAYOUT_PCI_MMIO32_START, LAYOUT_PCI_MMIO32_SIZE);
}

uint64_t bar_alloc_mmio64_base(const struct guest_mem *m)
{
	uint64_t top = 4 * GIB;

	for (unsigned int i = 0; m && i < m->nr_regions && i < GUEST_MEM_MAX_REGIONS; i++) {
		uint64_t end = m->regions[i].gpa + m->regions[i].size;

		if (end > top)
			top = end;
	}
	return (top + LAYOUT_PCI_MMIO64_ALIGN - 1) & ~(LAYOUT_PCI_MMIO64_ALIGN - 1);
}

int bar_alloc_init_mmio64(struct bar_alloc *a, const struct guest_mem *m)
{
	return bar_alloc_init(a, bar_alloc_mmio64_base(m), LAYOUT_PCI_MMIO64_SIZE);
}

/* Inserts [base, base + size) at index i (the caller found the gap). */
static int insert(struct bar_alloc *a, unsigned int i, uint64_t base, uint64_t size)
{
	if (a->nr >= BAR_ALLOC_MAX)
		return -ENOSPC;
	memmove(&a->used[i + 1], &a->used[i], (a->nr - i) * sizeof(a->used[0]));
	a->used[i] = (struct bar_alloc_range){ base, size };
	a->nr++;
	return 0;
}

/* The lowest address >= from aligned to align (a power of two) at which `size` bytes fit at
 * or below `limit` (last usable byte). False when none does. */
static bool fit(uint64_t from, uint64_t limit, uint64_t size, uint64_t align, uint64_t *out)
{
	uint64_t base;

	if (from > UINT64_MAX - (align - 1))
		return false;
	base = (from + align - 1) & ~(align - 1);
	if (base < from || base > limit || size - 1 > limit - base)
		return false;
	*out = base;
	return true;
}

int bar_alloc_alloc(struct bar_alloc *a, uint64_t size, uint64_t *addr)
{
	uint64_t cursor, base;

	if (!a || !addr || size == 0 || (size & (size - 1)))
		return -EINVAL;
	if (a->nr >= BAR_ALLOC_MAX)
		return -ENOSPC;
	/* Gaps in address order: before each taken range, then up to the window's end. */
	cursor = a->base;
	for (unsigned int i = 0; i <= a->nr; i++) {
		bool found;

		if (i == a->nr)
			found = fit(cursor, last(a->base, a->size), size, size, &base);
		else
			found = a->used[i].base > cursor &&
				fit(cursor, a->used[i].base - 1, size, size, &base);
		if (found) {
			int r = insert(a, i, base, size);

			if (r == 0)
				*addr = base;
			return r;
		}
		if (i == a->nr)
			break;
		cursor = a->used[i].base + a->used[i].size;
		if (cursor == 0) /* that range ends at 2^64: nothing follows */
			break;
	}
	return -ENOSPC;
}

int bar_alloc_reserve(struct bar_alloc *a, uint64_t base, uint64_t size)
{
	unsigned int i;

	if (!a || size == 0 || last(base, size) < base || base < a->base ||
	    last(base, size) > last(a->base, a->size))
		return -EINVAL;
	for (i = 0; i < a->nr && a->used[i].base <= base; i++)
		;
	/* used[i - 1] starts at or below base, used[i] above it. */
	if (i > 0 && last(a->used[i - 1].base, a->used[i - 1].size) >= base)
		return -EEXIST;
	if (i < a->nr && a->used[i].base <= last(base, size))
		return -EEXIST;
	return insert(a, i, base, size);
}

int bar_alloc_free(struct bar_alloc *a, uint64_t base)
{
	if (!a)
		return -ENOENT;
	for (unsigned int i = 0; i < a->nr; i++) {
		if (a->used[i].base != base)
			continue;
		memmove(&a->used[i], &a->used[i + 1], (a->nr - i - 1) * sizeof(a->used[0]));
		a->nr--;
		return 0;
	}
	return -ENOENT;
}
