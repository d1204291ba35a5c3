/* Guest page-table walker (Intel SDM vol. 3A chapter 4): 32-bit paging (4.3, with 4 MiB
 * pages under CR4.PSE, including PSE-36), PAE paging (4.4) and 4-/5-level paging (4.5).
 * Every paging-structure entry is read once through guest_mem_read().
 *
 * Simplifications: accessed/dirty bits are not set and access rights (R/W, U/S, NX, SMEP,
 * SMAP, protection keys) are not checked, since kiln reads and writes as the platform.
 * Reserved bits in entries are masked off, not checked (except PS at PML4/PML5 level). In PAE
 * mode the CPU uses the four PDPTEs it loaded at the last MOV to CR3; this walker reads them
 * from memory again, which differs only if the guest changed them without reloading CR3. */
#include "arch/x86_64/pagewalk.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define CR0_PG    (1ull << 31)
#define CR4_PSE   (1ull << 4)
#define CR4_PAE   (1ull << 5)
#define CR4_LA57  (1ull << 12)
#define EFER_LMA  (1ull << 10)

#define PTE_P     (1ull << 0)
#define PTE_PS    (1ull << 7)
#define PTE_ADDR  0x000ffffffffff000ull /* bits 12..51 */

#define PAGE_SIZE 4096ull

static int read_entry64(const struct guest_mem *m, uint64_t table, unsigned int idx,
			uint64_t *e)
{
	return guest_mem_read(m, table + idx * 8ull, e, sizeof(*e));
}

/* Walks 64-bit-entry tables from `table` (the level indexed by gva bits shift+8..shift) down
 * to the page. PS makes a 2 MiB page at shift 21 and a 1 GiB page at shift 30. */
static int walk64(const struct guest_mem *m, uint64_t table, unsigned int shift, uint64_t gva,
		  uint64_t *gpa)
{
	for (;; shift -= 9) {
		uint64_t e;
		int rc = read_entry64(m, table, (unsigned int)(gva >> shift) & 511, &e);

		if (rc)
			return rc;
		if (!(e & PTE_P))
			return -ENOENT;
		if (shift == 12) {
			*gpa = (e & PTE_ADDR) | (gva & 0xfff);
			return 0;
		}
		if (e & PTE_PS) {
			if (shift > 30)
				return -EINVAL; /* reserved bit: the guest would take #PF(RSVD) */
			uint64_t page_mask = (1ull << shift) - 1;

			*gpa = (e & PTE_ADDR & ~page_mask) | (gva & page_mask);
			return 0;
		}
		table = e & PTE_ADDR;
	}
}

static bool canonical(uint64_t gva, unsigned int va_bits)
{
	int64_t s = (int64_t)(gva << (64 - va_bits)) >> (64 - va_bits);

	return (uint64_t)s == gva;
}

static int walk_long(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		     uint64_t *gpa)
{
	bool la57 = ps->cr4 & CR4_LA57;

	if (!canonical(gva, la57 ? 57 : 48))
		return -EINVAL;
	return walk64(m, ps->cr3 & PTE_ADDR, la57 ? 48 : 39, gva, gpa);
}

/* PAE paging: CR3 bits 31:5 point at four 8-byte PDPTEs (SDM 4.4.1); a PDPTE always names
 * a page directory (no 1 GiB pages). */
static int walk_pae(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		    uint64_t *gpa)
{
	uint64_t pdpte;
	int rc = read_entry64(m, ps->cr3 & 0xffffffe0ull, (unsigned int)(gva >> 30) & 3, &pdpte);

	if (rc)
		return rc;
	if (!(pdpte & PTE_P))
		return -ENOENT;
	return walk64(m, pdpte & PTE_ADDR, 21, gva, gpa);
}

/* 32-bit paging: 4-byte entries, 10+10+12 bits, 4 MiB pages with CR4.PSE (SDM 4.3). */
static int walk_32(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		   uint64_t *gpa)
{
	uint32_t pde, pte;
	uint64_t pd = ps->cr3 & 0xfffff000ull;
	int rc = guest_mem_read(m, pd + ((gva >> 22) & 1023) * 4, &pde, sizeof(pde));

	if (rc)
		return rc;
	if (!(pde & PTE_P))
		return -ENOENT;
	if ((pde & PTE_PS) && (ps->cr4 & CR4_PSE)) {
		/* PSE-36: PDE bits 20:13 are physical address bits 39:32 */
		uint64_t high = (uint64_t)((pde >> 13) & 0xff) << 32;

		*gpa = high | (pde & 0xffc00000u) | (gva & 0x3fffff);
		return 0;
	}
	rc = guest_mem_read(m, (pde & 0xfffff000u) + ((gva >> 12) & 1023) * 4ull, &pte,
			    sizeof(pte));
	if (rc)
		return rc;
	if (!(pte & PTE_P))
		return -ENOENT;
	*gpa = (pte & 0xfffff000u) | (gva & 0xfff);
	return 0;
}

int pagewalk_translate(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		       uint64_t *gpa)
{
	if (!(ps->cr0 & CR0_PG)) {
		*gpa = gva;
		return 0;
	}
	if (ps->efer & EFER_LMA)
		return walk_long(m, ps, gva, gpa);
	if (gva > 0xffffffffull)
		return -EINVAL; /* linear addresses are 32 bits outside long mode */
	if (ps->cr4 & CR4_PAE)
		return walk_pae(m, ps, gva, gpa);
	return walk_32(m, ps, gva, gpa);
}

/* Copies `len` bytes between guest virtual memory and a host buffer one page at a time:
 * into `dst` when it is non-NULL, else from `src`. With `dry_run`, only checks that every page
 * translates to RAM, so that a write is all-or-nothing. */
static int copy_pages(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		      uint8_t *dst, const uint8_t *src, uint64_t len, bool dry_run)
{
	for (uint64_t done = 0; done < len;) {
		uint64_t chunk = PAGE_SIZE - (gva & (PAGE_SIZE - 1)), gpa;
		int rc;

		if (chunk > len - done)
			chunk = len - done;
		if ((rc = pagewalk_translate(m, ps, gva, &gpa)))
			return rc;
		uint8_t *host = guest_mem_ptr(m, gpa, chunk);

		if (!host)
			return -EFAULT;
		if (!dry_run && dst)
			memcpy(dst + done, host, chunk);
		else if (!dry_run)
			memcpy(host, src + done, chunk);
		gva += chunk;
		done += chunk;
	}
	return 0;
}

int pagewalk_read(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		  void *dst, uint64_t len)
{
	if (!dst && len)
		return -EINVAL;
	return copy_pages(m, ps, gva, dst, NULL, len, false);
}

int pagewalk_write(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		   const void *src, uint64_t len)
{
	int rc;

	if (!src && len)
		return -EINVAL;
	rc = copy_pages(m, ps, gva, NULL, src, len, true);
	if (rc)
		return rc;
	return copy_pages(m, ps, gva, NULL, src, len, false);
}
