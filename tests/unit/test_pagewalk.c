/* Unit tests for the guest page-table walker: page tables built by hand in a guest_mem. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "arch/x86_64/pagewalk.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define RAM_SIZE (64 * MIB)

#define P  0x001ull
#define RW 0x002ull
#define PS 0x080ull
#define NX (1ull << 63)

#define CR0_PE 0x1ull
#define CR0_PG 0x80000000ull
#define CR4_PSE 0x10ull
#define CR4_PAE 0x20ull
#define CR4_LA57 0x1000ull
#define EFER_LME 0x100ull
#define EFER_LMA 0x400ull

/* Long-mode tables */
#define PML4 0x1000ull
#define PDPT 0x2000ull
#define PD   0x3000ull
#define PT   0x4000ull
#define PDPT_HI 0x5000ull
#define PD_HI   0x6000ull
#define PML5 0x8000ull
/* 32-bit and PAE tables */
#define PD32 0x9000ull
#define PT32 0xa000ull
#define PAE_PDPT 0xb020ull /* 32-byte aligned, not page aligned */

#define OUTSIDE_RAM 0x7ff00000ull

static void set64(struct guest_mem *m, uint64_t table, unsigned int idx, uint64_t e)
{
	assert_int_equal(guest_mem_write(m, table + idx * 8ull, &e, sizeof(e)), 0);
}

static void set32(struct guest_mem *m, uint64_t table, unsigned int idx, uint32_t e)
{
	assert_int_equal(guest_mem_write(m, table + idx * 4ull, &e, sizeof(e)), 0);
}

static void build_long_mode(struct guest_mem *m)
{
	set64(m, PML4, 0, PDPT | P | RW);
	set64(m, PDPT, 0, PD | P | RW);
	set64(m, PDPT, 1, 0x0 | P | RW | PS);                 /* 1 GiB page at gpa 0 */
	set64(m, PDPT, 2, PD | RW);                           /* not present */
	set64(m, PDPT, 3, PD | P | (0x7full << 52));          /* bits 52..58 ignored */
	set64(m, PD, 2, PT | P | RW);                         /* 0x400000..0x5fffff */
	set64(m, PD, 3, 0x800000 | P | RW | PS | NX | (0xfull << 59)); /* 2 MiB, NX, PKEY */
	set64(m, PD, 4, OUTSIDE_RAM | P | RW);                /* table outside RAM */
	set64(m, PT, 0, 0x10000 | P | RW);
	set64(m, PT, 1, 0x30000 | P | RW | NX);               /* not contiguous with PT[0] */
	set64(m, PT, 3, OUTSIDE_RAM | P | RW);                /* data page outside RAM */
	/* higher half: 0xffffffff80000000 -> 2 MiB page at 16 MiB */
	set64(m, PML4, 511, PDPT_HI | P | RW);
	set64(m, PDPT_HI, 510, PD_HI | P | RW);
	set64(m, PD_HI, 0, 0x1000000 | P | RW | PS);
	/* 5-level: PML5[0] -> the same PML4 */
	set64(m, PML5, 0, PML4 | P | RW);
	set64(m, PML5, 1, 0x1000000 | P | PS);                /* PS is reserved in a PML5E */
}

static int setup(void **state)
{
	static struct guest_mem m;

	if (guest_mem_init(&m, RAM_SIZE, 3 * GIB))
		return -1;
	build_long_mode(&m);
	*state = &m;
	return 0;
}

static int teardown(void **state)
{
	guest_mem_free(*state);
	return 0;
}

static const struct paging_state lm = {
	.cr0 = CR0_PE | CR0_PG, .cr3 = PML4, .cr4 = CR4_PAE, .efer = EFER_LME | EFER_LMA };

static uint64_t xlate_ok(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva)
{
	uint64_t gpa = 0xdeadbeef;

	assert_int_equal(pagewalk_translate(m, ps, gva, &gpa), 0);
	return gpa;
}

static int xlate_rc(const struct guest_mem *m, const struct paging_state *ps, uint64_t gva)
{
	uint64_t gpa;

	return pagewalk_translate(m, ps, gva, &gpa);
}

static void test_no_paging(void **state)
{
	struct paging_state ps = { .cr0 = CR0_PE, .cr3 = 0x1234000 };

	assert_int_equal(xlate_ok(*state, &ps, 0x123456789ull), 0x123456789ull);
}

static void test_4level(void **state)
{
	const struct guest_mem *m = *state;

	assert_int_equal(xlate_ok(m, &lm, 0x400123), 0x10123);           /* 4 KiB */
	assert_int_equal(xlate_ok(m, &lm, 0x401ffc), 0x30ffc);           /* NX in PTE */
	assert_int_equal(xlate_ok(m, &lm, 0x6abcde), 0x8abcde);          /* 2 MiB, NX, PKEY */
	assert_int_equal(xlate_ok(m, &lm, GIB + 0x5678), 0x5678);        /* 1 GiB */
	assert_int_equal(xlate_ok(m, &lm, GIB + 0x3ffffff8), 0x3ffffff8);
	assert_int_equal(xlate_ok(m, &lm, 0xffffffff80001234ull), 0x1001234);
	/* CR3 low bits (PCID) and bit 63 do not move the PML4 */
	struct paging_state pcid = lm;

	pcid.cr3 = PML4 | 0x5 | (1ull << 63);
	assert_int_equal(xlate_ok(m, &pcid, 0x400123), 0x10123);
	/* high ignored bits 52..58 in a PDPTE (3 GiB..4 GiB -> PD) */
	assert_int_equal(xlate_ok(m, &lm, 3 * GIB + 0x400010), 0x10010);
}

static void test_not_present(void **state)
{
	const struct guest_mem *m = *state;

	assert_int_equal(xlate_rc(m, &lm, 0x402000), -ENOENT);     /* PTE */
	assert_int_equal(xlate_rc(m, &lm, 0x200000), -ENOENT);     /* PDE */
	assert_int_equal(xlate_rc(m, &lm, 2 * GIB), -ENOENT);      /* PDPTE */
	assert_int_equal(xlate_rc(m, &lm, 0x8000000000ull), -ENOENT); /* PML4E */
}

static void test_outside_ram(void **state)
{
	const struct guest_mem *m = *state;
	struct paging_state ps = lm;
	uint8_t buf[4];

	assert_int_equal(xlate_rc(m, &lm, 0x800000), -EFAULT);     /* PD[4] -> PT outside */
	ps.cr3 = OUTSIDE_RAM;
	assert_int_equal(xlate_rc(m, &ps, 0x400000), -EFAULT);     /* PML4 outside */
	/* the PTE itself is fine, the data page is not RAM */
	assert_int_equal(xlate_ok(m, &lm, 0x403010), OUTSIDE_RAM + 0x10);
	assert_int_equal(pagewalk_read(m, &lm, 0x403010, buf, sizeof(buf)), -EFAULT);
}

static void test_non_canonical(void **state)
{
	const struct guest_mem *m = *state;

	assert_int_equal(xlate_rc(m, &lm, 0x0000800000000000ull), -EINVAL);
	assert_int_equal(xlate_rc(m, &lm, 0xffff7fffffffffffull), -EINVAL);
	assert_int_equal(xlate_rc(m, &lm, 0x8000000000400000ull), -EINVAL);
	/* ... but these are canonical and reach the tables */
	assert_int_equal(xlate_rc(m, &lm, 0x00007ffffffff000ull), -ENOENT);
	assert_int_equal(xlate_rc(m, &lm, 0xffff800000000000ull), -ENOENT);
}

static void test_5level(void **state)
{
	const struct guest_mem *m = *state;
	struct paging_state ps = lm;

	ps.cr3 = PML5;
	ps.cr4 |= CR4_LA57;
	assert_int_equal(xlate_ok(m, &ps, 0x400123), 0x10123);
	assert_int_equal(xlate_ok(m, &ps, GIB + 0x10), 0x10);
	/* canonical with 57 bits, not with 48: PML5[0], PML4[256] not present */
	assert_int_equal(xlate_rc(m, &ps, 0x0000800000000000ull), -ENOENT);
	assert_int_equal(xlate_rc(m, &ps, 0x0100000000000000ull), -EINVAL);
	/* PML5[1] has PS set: reserved */
	assert_int_equal(xlate_rc(m, &ps, 1ull << 48), -EINVAL);
	/* higher half is not mapped in the PML5 */
	assert_int_equal(xlate_rc(m, &ps, 0xffffffff80001234ull), -ENOENT);
}

static void test_ps_in_pml4_reserved(void **state)
{
	struct guest_mem *m = *state;

	set64(m, PML4, 2, 0x0 | P | PS);
	assert_int_equal(xlate_rc(m, &lm, 2 * (512 * GIB)), -EINVAL);
	set64(m, PML4, 2, 0);
}

static void test_32bit_paging(void **state)
{
	struct guest_mem *m = *state;
	struct paging_state ps = { .cr0 = CR0_PE | CR0_PG, .cr3 = PD32 | 0x18, .cr4 = CR4_PSE };

	set32(m, PD32, 1, (uint32_t)PT32 | P | RW);         /* 4 MiB..8 MiB -> PT32 */
	set32(m, PT32, 0, 0x20000 | P | RW);
	set32(m, PT32, 1, 0x50000 | P);
	set32(m, PD32, 2, 0xc00000 | P | RW | PS);          /* 4 MiB page at 12 MiB */
	set32(m, PD32, 3, 0x1000000 | P | PS | (0x01 << 13)); /* PSE-36: 4 GiB + 16 MiB */

	assert_int_equal(xlate_ok(m, &ps, 0x400abc), 0x20abc);
	assert_int_equal(xlate_ok(m, &ps, 0x401abc), 0x50abc);
	assert_int_equal(xlate_rc(m, &ps, 0x402000), -ENOENT);
	assert_int_equal(xlate_ok(m, &ps, 0x812345), 0xc12345);
	assert_int_equal(xlate_ok(m, &ps, 0xc00010), 0x101000010ull);
	assert_int_equal(xlate_rc(m, &ps, 0x0), -ENOENT);
	assert_int_equal(xlate_rc(m, &ps, 0x100000000ull), -EINVAL);
	/* without CR4.PSE the PS bit is ignored: PD[2] names a page table (all zero) */
	ps.cr4 = 0;
	assert_int_equal(xlate_rc(m, &ps, 0x812345), -ENOENT);
	ps.cr3 = OUTSIDE_RAM;
	assert_int_equal(xlate_rc(m, &ps, 0x400abc), -EFAULT);
}

static void test_pae_paging(void **state)
{
	struct guest_mem *m = *state;
	struct paging_state ps = { .cr0 = CR0_PE | CR0_PG, .cr3 = PAE_PDPT, .cr4 = CR4_PAE };

	set64(m, PAE_PDPT, 0, PD | P);
	set64(m, PAE_PDPT, 1, 0);
	set64(m, PAE_PDPT, 2, 0x1000000 | P | PS);          /* PS is not a 1 GiB page in PAE */
	assert_int_equal(xlate_ok(m, &ps, 0x400123), 0x10123);
	assert_int_equal(xlate_ok(m, &ps, 0x6abcde), 0x8abcde);
	assert_int_equal(xlate_rc(m, &ps, GIB), -ENOENT);
	/* PDPTE 2 names a PD at 16 MiB (zeroed): not a large page */
	assert_int_equal(xlate_rc(m, &ps, 2 * GIB), -ENOENT);
	assert_int_equal(xlate_rc(m, &ps, 0x100000000ull), -EINVAL);
}

static void test_read_write_across_pages(void **state)
{
	struct guest_mem *m = *state;
	static const uint8_t pattern[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t buf[8], a[4], b[4];

	/* gva 0x400ffc..0x401003 -> gpa 0x10ffc..0x10fff and 0x30000..0x30003 */
	assert_int_equal(guest_mem_write(m, 0x10ffc, pattern, 4), 0);
	assert_int_equal(guest_mem_write(m, 0x30000, pattern + 4, 4), 0);
	assert_int_equal(pagewalk_read(m, &lm, 0x400ffc, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, pattern, sizeof(buf));

	static const uint8_t other[8] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xb0, 0xb1, 0xb2, 0xb3 };

	assert_int_equal(pagewalk_write(m, &lm, 0x400ffc, other, sizeof(other)), 0);
	assert_int_equal(guest_mem_read(m, 0x10ffc, a, 4), 0);
	assert_int_equal(guest_mem_read(m, 0x30000, b, 4), 0);
	assert_memory_equal(a, other, 4);
	assert_memory_equal(b, other + 4, 4);
	assert_int_equal(pagewalk_read(m, &lm, 0x400ffc, buf, 0), 0);
}

static void test_write_all_or_nothing(void **state)
{
	struct guest_mem *m = *state;
	static const uint8_t zero[4], data[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };
	uint8_t a[4], buf[8];

	/* gva 0x401ffc..0x402003: the second page is not present */
	assert_int_equal(guest_mem_write(m, 0x30ffc, zero, 4), 0);
	assert_int_equal(pagewalk_write(m, &lm, 0x401ffc, data, sizeof(data)), -ENOENT);
	assert_int_equal(guest_mem_read(m, 0x30ffc, a, 4), 0);
	assert_memory_equal(a, zero, 4);
	assert_int_equal(pagewalk_read(m, &lm, 0x401ffc, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(pagewalk_read(m, &lm, 0x401ffc, NULL, 4), -EINVAL);
	assert_int_equal(pagewalk_write(m, &lm, 0x401ffc, NULL, 4), -EINVAL);
	assert_int_equal(pagewalk_write(m, &lm, 0x0000800000000000ull, data, 1), -EINVAL);
}

/* pagewalk_access: supervisor writes honour R/W under CR0.WP (a COW page must fault, not be
 * written through), set A/D in the leaf, and name the failing page. */
static void test_access_write_protect(void **state)
{
	struct guest_mem *m = *state;
	struct paging_state wp = lm;
	uint8_t data[8] = { 7, 7, 7, 7, 7, 7, 7, 7 }, buf[8];
	uint64_t fault = 0, pte;

	wp.cr0 |= 1ull << 16; /* CR0.WP */
	set64(m, PT, 4, 0x40000 | P);                      /* read-only page at gva 0x404000 */
	set64(m, PT, 5, 0x41000 | P | RW);
	assert_int_equal(pagewalk_access(m, &wp, 0x404000, data, 8, true, &fault), -EACCES);
	assert_int_equal(fault, 0x404000);
	/* Spanning a writable and then a read-only page: nothing written, the second page named. */
	set64(m, PT, 6, 0x42000 | P);
	assert_int_equal(pagewalk_access(m, &wp, 0x405ffc, data, 8, true, &fault), -EACCES);
	assert_int_equal(fault, 0x406000);
	assert_int_equal(guest_mem_read(m, 0x41ffc, buf, 4), 0);
	assert_int_not_equal(buf[0], 7);
	/* Without CR0.WP a supervisor write goes through. Reads never check R/W. */
	assert_int_equal(pagewalk_access(m, &lm, 0x404000, data, 8, true, &fault), 0);
	assert_int_equal(pagewalk_access(m, &wp, 0x404000, buf, 8, false, &fault), 0);
	assert_memory_equal(buf, data, 8);
	/* A written page gets its accessed and dirty bits. */
	assert_int_equal(pagewalk_access(m, &wp, 0x405000, data, 8, true, &fault), 0);
	assert_int_equal(guest_mem_read(m, PT + 5 * 8, &pte, 8), 0);
	assert_int_equal(pte & 0x60, 0x60);
	/* Not present: -ENOENT with the page. */
	assert_int_equal(pagewalk_access(m, &wp, 0x402010, buf, 8, false, &fault), -ENOENT);
	assert_int_equal(fault, 0x402010); /* the first byte that faulted, as CR2 */
	/* A read-only upper level makes the page read-only. */
	set64(m, PDPT, 0, PD | P);
	assert_int_equal(pagewalk_access(m, &wp, 0x405000, data, 8, true, &fault), -EACCES);
	set64(m, PDPT, 0, PD | P | RW);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_paging),
		cmocka_unit_test(test_4level),
		cmocka_unit_test(test_not_present),
		cmocka_unit_test(test_outside_ram),
		cmocka_unit_test(test_non_canonical),
		cmocka_unit_test(test_5level),
		cmocka_unit_test(test_ps_in_pml4_reserved),
		cmocka_unit_test(test_32bit_paging),
		cmocka_unit_test(test_pae_paging),
		cmocka_unit_test(test_read_write_across_pages),
		cmocka_unit_test(test_write_all_or_nothing),
		cmocka_unit_test(test_access_write_protect),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
