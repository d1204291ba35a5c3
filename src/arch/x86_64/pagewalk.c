/* Guest page-table walker (Intel SDM vol. 3A chapter 4): 32-bit paging (4.3, with 4 MiB
 * pages under CR4.PSE, including PSE-36), PAE paging (4.4) and 4-/5-level paging (4.5).
 * Every paging-structure entry is read once through guest_mem_read().
 *
 * Simplifications: access rights (U/S, NX, SMEP, SMAP, protection keys) are not checked,
 * since kiln reads and writes as the platform; only pagewalk_access() with check_write honours
 * R/W (as a supervisor write with CR0.WP) and sets the accessed and dirty bits of the leaf.
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

#define CR0_WP    (1ull << 16)
#define PTE_P     (1ull << 0)
#define PTE_RW    (1ull << 1)
#define PTE_A     (1ull << 5)
#define PTE_D     (1ull << 6)
#define PTE_PS    (1ull << 7)
#define PTE_ADDR  0x000ffffffffff000ull /* bits 12..51 */

#define PAGE_SIZE 4096ull

/* What a walk found besides the address: whether every level allows writes, and where the
 * leaf entry is (to set its accessed/dirty bits), with its width. */
struct walk_info {
	bool writable;
	uint64_t leaf_gpa;
	unsigned int leaf_bytes; /* 8, or 4 for 32-bit paging; 0 without paging */
};

static int read_entry64(const struct guest_mem *m, uint64_t table, unsigned int idx,
			uint64_t *e)
{
	return guest_mem_read(m, table + idx * 8ull, e, sizeof(*e));
}

/* Walks 64-bit-entry tables from `table` (the level indexed by gva bits shift+8..shift) down
 * to the page. PS makes a 2 MiB page at shift 21 and a 1 GiB page at shift 30. */
static int walk64(const struct guest_mem *m, uint64_t table, unsigned int shift, uint64_t gva,
		  uint64_t *gpa, struct walk_info *wi)
{
	for (;; shift -= 9) {
		uint64_t e;
		unsigned int idx = (unsigned int)(gva >> shift) & 511;
		int rc = read_entry64(m, table, idx, &e);

		if (rc)
			return rc;
		if (!(e & PTE_P))
			return -ENOENT;
		wi->writable &= (e & PTE_RW) != 0;
		wi->leaf_gpa = table + idx * 8ull;
		wi->leaf_bytes = 8;
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
		     uint64_t *gpa, struct walk_info *wi)
{
	bool la57 = ps->cr4 & CR4_LA57;

	if (!canonical(gva, la57 ? 57 : 48))
		return -EINVAL;
	return walk64(m, ps->cr3 & PTE_ADDR, la57 ? 48 : 39, gva, gpa, wi);
}

/* PAE paging: CR3 bits 31:5 point at four 8-byte PDPTEs (SDM 4.4.1); a PDPTE always names
 * a page directory (no 1 GiB pages). */
static int walk_pae(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		    uint64_t *gpa, struct walk_info *wi)
{
	uint64_t pdpte;
	int rc = read_entry64(m, ps->cr3 & 0xffffffe0ull, (unsigned int)(gva >> 30) & 3, &pdpte);

	if (rc)
		return rc;
	if (!(pdpte & PTE_P))
		return -ENOENT;
	return walk64(m, pdpte & PTE_ADDR, 21, gva, gpa, wi);
}

/* 32-bit paging: 4-byte entries, 10+10+12 bits, 4 MiB pages with CR4.PSE (SDM 4.3). */
static int walk_32(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		   uint64_t *gpa, struct walk_info *wi)
{
	uint32_t pde, pte;
	uint64_t pd = ps->cr3 & 0xfffff000ull;
	int rc = guest_mem_read(m, pd + ((gva >> 22) & 1023) * 4, &pde, sizeof(pde));

	if (rc)
		return rc;
	if (!(pde & PTE_P))
		return -ENOENT;
	wi->writable &= (pde & PTE_RW) != 0;
	wi->leaf_gpa = pd + ((gva >> 22) & 1023) * 4;
	wi->leaf_bytes = 4;
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
	wi->writable &= (pte & PTE_RW) != 0;
	wi->leaf_gpa = (pde & 0xfffff000u) + ((gva >> 12) & 1023) * 4ull;
	*gpa = (pte & 0xfffff000u) | (gva & 0xfff);
	return 0;
}

static int translate(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		     uint64_t *gpa, struct walk_info *wi)
{
	*wi = (struct walk_info){ .writable = true };
	if (!(ps->cr0 & CR0_PG)) {
		*gpa = gva;
		return 0;
	}
	if (ps->efer & EFER_LMA)
		return walk_long(m, ps, gva, gpa, wi);
	if (gva > 0xffffffffull)
		return -EINVAL; /* linear addresses are 32 bits outside long mode */
	if (ps->cr4 & CR4_PAE)
		return walk_pae(m, ps, gva, gpa, wi);
	return walk_32(m, ps, gva, gpa, wi);
}

int pagewalk_translate(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		       uint64_t *gpa)
{
	struct walk_info wi;

	return translate(m, ps, gva, gpa, &wi);
}

/* Sets the accessed and dirty bits of a leaf entry, atomically (vCPUs run concurrently and
 * the guest may be changing other bits of the same entry). */
static void set_dirty(const struct guest_mem *m, const struct walk_info *wi)
{
	void *e = wi->leaf_bytes ? guest_mem_ptr(m, wi->leaf_gpa, wi->leaf_bytes) : NULL;

	if (!e || ((uintptr_t)e & (wi->leaf_bytes - 1)))
		return;
	if (wi->leaf_bytes == 8)
		__atomic_fetch_or((uint64_t *)e, PTE_A | PTE_D, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_or((uint32_t *)e, (uint32_t)(PTE_A | PTE_D), __ATOMIC_SEQ_CST);
}

int pagewalk_access(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva,
		    void *buf, uint64_t len, bool write, uint64_t *fault_gva)
{
	uint8_t *b = buf;

	if (!buf && len)
		return -EINVAL;
	/* Pass 1 checks every page (all or nothing); pass 2 copies. */
	for (int pass = 0; pass < 2; pass++) {
		uint64_t va = gva;

		for (uint64_t done = 0; done < len;) {
			uint64_t chunk = PAGE_SIZE - (va & (PAGE_SIZE - 1)), gpa;
			struct walk_info wi;
			int rc;

			if (chunk > len - done)
				chunk = len - done;
			rc = translate(m, ps, va, &gpa, &wi);
			if (!rc && write && !wi.writable && (ps->cr0 & CR0_WP))
				rc = -EACCES;
			uint8_t *host = rc ? NULL : guest_mem_ptr(m, gpa, chunk);
			if (!rc && !host)
				rc = -EFAULT;
			if (rc) {
				if (fault_gva)
					*fault_gva = va;
				return rc;
			}
			if (pass == 1) {
				if (write) {
					memcpy(host, b + done, chunk);
					set_dirty(m, &wi);
				} else {
					memcpy(b + done, host, chunk);
				}
			}
			va += chunk;
			done += chunk;
		}
	}
	return 0;
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
