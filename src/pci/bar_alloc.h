/* Guest physical address ranges for PCI BARs: a first-fit allocator over one window, handing
 * out naturally aligned ranges (a BAR of size S at a multiple of S, as PCI LB 3.0 6.2.5.1
 * requires of BAR addresses). kiln has two windows, both declared in \_SB.PCI0's _CRS:
 *   - 32-bit: [LAYOUT_PCI_MMIO32_START, +LAYOUT_PCI_MMIO32_SIZE) = [0xc0000000, 0xe8000000),
 *     inside the 32-bit hole and below the ECAM, GED, IOAPIC and LAPIC pages;
 *   - 64-bit: LAYOUT_PCI_MMIO64_SIZE bytes from bar_alloc_mmio64_base() (above RAM and 4 GiB).
 * Not thread-safe: used while a VM is built, on one thread. */
#ifndef KILN_PCI_BAR_ALLOC_H
#define KILN_PCI_BAR_ALLOC_H

#include <stdint.h>

#include "util/guest_mem.h"

#define BAR_ALLOC_MAX 192 /* ranges per window: 31 devices x 6 BARs, and a few reservations */

/* One allocated or reserved range, bytes. */
struct bar_alloc_range {
	uint64_t base;
	uint64_t size;
};

/* A window [base, base + size) and the ranges taken from it, sorted by base, disjoint. Plain
 * data (no heap): embed it, copy it, drop it. */
struct bar_alloc {
	uint64_t base;
	uint64_t size;
	struct bar_alloc_range used[BAR_ALLOC_MAX];
	unsigned int nr;
};

/* An empty window of `size` bytes at `base`. Returns 0, or -EINVAL for a NULL allocator, size
 * 0 or a window that wraps past 2^64 (base + size may equal 2^64). */
int bar_alloc_init(struct bar_alloc *a, uint64_t base, uint64_t size)
	__attribute__((warn_unused_result));

/* kiln's 32-bit window, and its 64-bit window for guest RAM `m` (see above). 0 or -EINVAL. */
int bar_alloc_init_mmio32(struct bar_alloc *a) __attribute__((warn_unused_result));
int bar_alloc_init_mmio64(struct bar_alloc *a, const struct guest_mem *m)
	__attribute__((warn_unused_result));

/* Start of the 64-bit window for guest RAM `m`: the first LAYOUT_PCI_MMIO64_ALIGN (1 GiB)
 * boundary at or above both 4 GiB and the end of the highest RAM region, so the window never
 * overlaps RAM. 4 GiB for a NULL or empty `m`. The ACPI tables use the same value. */
uint64_t bar_alloc_mmio64_base(const struct guest_mem *m);

/* Takes the lowest free range of `size` bytes (a power of two) aligned to `size` and stores
 * its base in *addr. Returns 0, -EINVAL (NULL, size 0 or not a power of two), -ENOSPC (no
 * aligned gap that large, or BAR_ALLOC_MAX ranges taken); *addr is untouched on failure. */
int bar_alloc_alloc(struct bar_alloc *a, uint64_t size, uint64_t *addr)
	__attribute__((warn_unused_result));

/* Takes the fixed range [base, base + size) (no alignment requirement), e.g. an address some
 * device must keep. Returns 0, -EINVAL (size 0, wrap, outside the window), -EEXIST (overlaps a
 * taken range), -ENOSPC (table full). */
int bar_alloc_reserve(struct bar_alloc *a, uint64_t base, uint64_t size)
	__attribute__((warn_unused_result));

/* Returns the range starting at `base` to the window. 0, or -ENOENT if no range starts there. */
int bar_alloc_free(struct bar_alloc *a, uint64_t base);

#endif
