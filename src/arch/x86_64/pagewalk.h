/* Guest virtual -> guest physical translation by walking the guest's page tables in guest
 * memory (Intel SDM vol. 3A 4.4/4.5: 4-level and 5-level paging, 1 GiB and 2 MiB pages; 32-bit
 * non-paged and flat modes). Used for the few instructions kiln completes for the guest. */
#ifndef KILN_ARCH_X86_64_PAGEWALK_H
#define KILN_ARCH_X86_64_PAGEWALK_H

#include <stdbool.h>
#include <stdint.h>

#include "util/guest_mem.h"

/* The control registers a walk depends on (values of CR0, CR3, CR4, EFER). */
struct paging_state {
	uint64_t cr0, cr3, cr4, efer;
};

/* Translates `gva`. Returns 0 and sets *gpa; -EFAULT if a paging structure is not in guest
 * RAM; -ENOENT if an entry is not present (the guest would take #PF); -EINVAL for a reserved
 * or non-canonical address, or a paging mode kiln does not walk (PAE without long mode). With
 * CR0.PG clear, gpa = gva. */
int pagewalk_translate(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		       uint64_t *gpa) __attribute__((warn_unused_result));

/* Copies `len` bytes at guest virtual `gva` into dst, crossing pages as needed. Returns 0 or
 * a pagewalk_translate() error. */
int pagewalk_read(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		  void *dst, uint64_t len) __attribute__((warn_unused_result));

/* Copies `len` bytes from src to guest virtual `gva` (ignores write protection: kiln writes
 * as the platform, not as the guest). Returns 0 or a pagewalk_translate() error. */
int pagewalk_write(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		   const void *src, uint64_t len) __attribute__((warn_unused_result));

/* Copies len bytes between guest virtual gva and buf as a supervisor access of the guest CPU
 * would: a write (buf -> guest) honours R/W at every paging level when CR0.WP is set and sets
 * the leaf entry's accessed and dirty bits. Every page is checked before any byte is copied.
 * Returns 0; -ENOENT (not present), -EACCES (write to a read-only page), -EINVAL
 * (non-canonical), -EFAULT (not RAM), each with *fault_gva (if not NULL) set to the first
 * linear address that failed (gva, or the start of a later page): the CR2 of the guest's #PF. */
int pagewalk_access(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		    void *buf, uint64_t len, bool write, uint64_t *fault_gva)
	__attribute__((warn_unused_result));

#endif
