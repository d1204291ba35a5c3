/* The BAR allocator (pci/bar_alloc.h) and the KVM routing/irqfd/ioeventfd wrappers (when
 * /dev/kvm is usable). */
#include "pci_test_util.h"

/* ---- BAR allocator ---- */

static void test_alloc_alignment(void **state)
{
	static const uint64_t sizes[] = { 4096, 65536, 16, 1 * MIB, 4096, 32, 256 * MIB, 8192 };
	struct bar_alloc a;
	uint64_t got[8];

	assert_int_equal(bar_alloc_init_mmio32(&a), 0);
	for (unsigned int i = 0; i < 8; i++) {
		assert_int_equal(bar_alloc_alloc(&a, sizes[i], &got[i]), 0);
		assert_int_equal(got[i] % sizes[i], 0);
		assert_true(got[i] >= LAYOUT_PCI_MMIO32_START);
		assert_true(got[i] + sizes[i] <= LAYOUT_PCI_MMIO32_START + LAYOUT_PCI_MMIO32_SIZE);
		for (unsigned int j = 0; j < i; j++)
			assert_true(got[i] + sizes[i] <= got[j] || got[j] + sizes[j] <= got[i]);
	}
	/* First fit: the 16-byte BAR lands right after the first 4 KiB one; the 32-byte one after
	 * it; the 64 KiB one on the next 64 KiB boundary. */
	assert_int_equal(got[0], 0xc0000000);
	assert_int_equal(got[1], 0xc0010000);
	assert_int_equal(got[2], 0xc0001000);
	assert_int_equal(got[5], 0xc0001020);
	assert_int_equal(got[6], 0xd0000000);
	/* Freed ranges are reused. */
	assert_int_equal(bar_alloc_free(&a, got[1]), 0);
	assert_int_equal(bar_alloc_free(&a, got[1]), -ENOENT);
	uint64_t again;
	assert_int_equal(bar_alloc_alloc(&a, 65536, &again), 0);
	assert_int_equal(again, got[1]);
	assert_int_equal(bar_alloc_alloc(&a, 3 * 4096, &again), -EINVAL);
	assert_int_equal(bar_alloc_alloc(&a, 0, &again), -EINVAL);
	assert_int_equal(bar_alloc_alloc(NULL, 4096, &again), -EINVAL);
	assert_int_equal(bar_alloc_alloc(&a, 4096, NULL), -EINVAL);
}

/* The 32-bit window holds exactly 640 MiB and never reaches ECAM, GED, IOAPIC or LAPIC. */
static void test_alloc_exhaustion(void **state)
{
	static const uint64_t fixed[] = { LAYOUT_PCI_ECAM_BASE, LAYOUT_GED_ADDR, LAYOUT_IOAPIC_ADDR,
					  LAYOUT_LAPIC_ADDR };
	struct bar_alloc a;
	uint64_t x, y, z;

	assert_int_equal(bar_alloc_init_mmio32(&a), 0);
	assert_int_equal(bar_alloc_alloc(&a, 1 * GIB, &x), -ENOSPC);
	assert_int_equal(bar_alloc_alloc(&a, 512 * MIB, &x), 0);
	assert_int_equal(bar_alloc_alloc(&a, 256 * MIB, &y), -ENOSPC); /* 128 MiB left */
	assert_int_equal(bar_alloc_alloc(&a, 128 * MIB, &z), 0);
	assert_int_equal(x, 0xc0000000);
	assert_int_equal(z, 0xe0000000);
	assert_int_equal(z + 128 * MIB, LAYOUT_PCI_ECAM_BASE);
	assert_int_equal(bar_alloc_alloc(&a, 16, &z), -ENOSPC);
	for (unsigned int i = 0; i < 4; i++)
		assert_true(fixed[i] >= LAYOUT_PCI_MMIO32_START + LAYOUT_PCI_MMIO32_SIZE);
	/* The table filling up is -ENOSPC too. */
	assert_int_equal(bar_alloc_init(&a, 0, 1 * GIB), 0);
	for (unsigned int i = 0; i < BAR_ALLOC_MAX; i++)
		assert_int_equal(bar_alloc_alloc(&a, 4096, &x), 0);
	assert_int_equal(bar_alloc_alloc(&a, 4096, &x), -ENOSPC);
	assert_int_equal(bar_alloc_reserve(&a, 512 * MIB, 4096), -ENOSPC);
	assert_int_equal(x, (BAR_ALLOC_MAX - 1) * 4096ull);
}

static void test_alloc_reserve_and_edges(void **state)
{
	struct bar_alloc a;
	uint64_t x;

	assert_int_equal(bar_alloc_init(&a, 0x10000, 0x10000), 0);
	assert_int_equal(bar_alloc_reserve(&a, 0x10000, 0x1000), 0);
	assert_int_equal(bar_alloc_reserve(&a, 0x10800, 0x1000), -EEXIST);
	assert_int_equal(bar_alloc_reserve(&a, 0xf000, 0x2000), -EINVAL);   /* below the window */
	assert_int_equal(bar_alloc_reserve(&a, 0x1f000, 0x2000), -EINVAL);  /* past its end */
	assert_int_equal(bar_alloc_reserve(&a, 0x10000, 0), -EINVAL);
	assert_int_equal(bar_alloc_reserve(&a, 0x18000, 0x100), 0);
	assert_int_equal(bar_alloc_reserve(&a, 0x17f00, 0x101), -EEXIST);
	assert_int_equal(bar_alloc_alloc(&a, 0x8000, &x), -ENOSPC);       /* 0x18000 is taken */
	assert_int_equal(bar_alloc_alloc(&a, 0x4000, &x), 0);
	assert_int_equal(x, 0x14000);
	assert_int_equal(bar_alloc_free(&a, 0x18000), 0);
	assert_int_equal(bar_alloc_alloc(&a, 0x8000, &x), 0);
	assert_int_equal(x, 0x18000);
	/* A window ending at 2^64: no wrap-around. */
	assert_int_equal(bar_alloc_init(&a, ~0ull - 0xfffff, 0x100000), 0);
	assert_int_equal(bar_alloc_alloc(&a, 0x80000, &x), 0);
	assert_int_equal(x, 0xfffffffffff00000ull);
	assert_int_equal(bar_alloc_alloc(&a, 0x80000, &x), 0);
	assert_int_equal(x, 0xfffffffffff80000ull);
	assert_int_equal(bar_alloc_alloc(&a, 16, &x), -ENOSPC);
	assert_int_equal(bar_alloc_alloc(&a, 1ull << 63, &x), -ENOSPC);
	assert_int_equal(bar_alloc_init(&a, ~0ull - 0xfff, 0x2000), -EINVAL);
	assert_int_equal(bar_alloc_init(&a, 0, 0), -EINVAL);
	assert_int_equal(bar_alloc_init(NULL, 0, 1), -EINVAL);
	/* A whole-space window. */
	assert_int_equal(bar_alloc_init(&a, 0, ~0ull), 0);
	assert_int_equal(bar_alloc_alloc(&a, 1ull << 63, &x), 0);
	assert_int_equal(x, 0);
	assert_int_equal(bar_alloc_alloc(&a, 1ull << 62, &x), 0);
	assert_int_equal(x, 1ull << 63);
}

static void test_mmio64_window(void **state)
{
	struct guest_mem m;
	struct bar_alloc a;
	uint64_t x;

	assert_int_equal(bar_alloc_mmio64_base(NULL), 4 * GIB);
	assert_int_equal(guest_mem_init(&m, 64 * MIB, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(bar_alloc_mmio64_base(&m), 4 * GIB);
	guest_mem_free(&m);
	assert_int_equal(guest_mem_init(&m, 3 * GIB, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(bar_alloc_mmio64_base(&m), 4 * GIB);
	guest_mem_free(&m);
	assert_int_equal(guest_mem_init(&m, 3 * GIB + 4 * KIB, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(bar_alloc_mmio64_base(&m), 5 * GIB); /* RAM ends at 4 GiB + 4 KiB */
	guest_mem_free(&m);
	assert_int_equal(guest_mem_init(&m, 4 * GIB, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(bar_alloc_mmio64_base(&m), 5 * GIB); /* exactly 5 GiB */
	assert_int_equal(bar_alloc_init_mmio64(&a, &m), 0);
	assert_int_equal(bar_alloc_alloc(&a, 8 * GIB, &x), 0);
	assert_int_equal(x, 8 * GIB);
	assert_int_equal(bar_alloc_alloc(&a, 4096, &x), 0);
	assert_int_equal(x, 5 * GIB);
	assert_int_equal(a.base + a.size, 5 * GIB + LAYOUT_PCI_MMIO64_SIZE);
	guest_mem_free(&m);
}

/* ---- KVM wrappers (skipped without a usable /dev/kvm) ---- */

static void test_kvm_wrappers(void **state)
{
	struct kvm_sys sys;
	struct kvm_vm vm;
	int efd, efd2;

	if (kvm_sys_open(&sys) < 0)
		skip();
	assert_int_equal(kvm_vm_create(&sys, &vm), 0);
	assert_int_equal(kvm_vm_create_irqchip(&vm), 0);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	efd2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(efd >= 0 && efd2 >= 0);

	const struct kvm_msi_route routes[] = {
		{ .gsi = 24, .address = 0xfee00000, .data = 0x4041 },
		{ .gsi = 25, .address = 0xfee01000, .data = 0x4042 },
	};
	assert_int_equal(kvm_vm_set_gsi_routing(&vm, routes, 2), 0);
	assert_int_equal(kvm_vm_set_gsi_routing(&vm, NULL, 0), 0);
	assert_int_equal(kvm_vm_set_gsi_routing(&vm, routes, 2), 0);
	const struct kvm_msi_route low = { .gsi = 23 }, high = { .gsi = 4096 };
	assert_int_equal(kvm_vm_set_gsi_routing(&vm, &low, 1), -EINVAL);
	assert_int_equal(kvm_vm_set_gsi_routing(&vm, &high, 1), -EINVAL);
	const struct kvm_msi_route dup[] = { { .gsi = 30 }, { .gsi = 30 } };
	assert_int_equal(kvm_vm_set_gsi_routing(&vm, dup, 2), -EINVAL);
	assert_int_equal(kvm_vm_set_gsi_routing(&vm, NULL, 1), -EINVAL);
	/* Legacy interrupts still route (the GED's pin 5). */
	assert_int_equal(kvm_vm_irq_line(&vm, IRQ_GED, 1), 0);
	assert_int_equal(kvm_vm_irq_line(&vm, IRQ_GED, 0), 0);

	assert_int_equal(kvm_vm_irqfd_assign(&vm, efd, 24), 0);
	assert_int_equal(kvm_vm_irqfd_assign(&vm, efd, 25), -EBUSY);
	assert_int_equal(kvm_vm_irqfd_assign(&vm, -1, 24), -EINVAL);
	assert_int_equal(kvm_vm_irqfd_deassign(&vm, efd, 24), 0);
	assert_int_equal(kvm_vm_irqfd_assign(&vm, efd, 25), 0);
	assert_int_equal(kvm_vm_irqfd_deassign(&vm, efd, 25), 0);

	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, 0xc0003000, 4, false, true, 2), 0);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, 0xc0003000, 4, false, true, 2), -EEXIST);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, 0xc0003000, 4, false, true, 3), 0);
	assert_int_equal(kvm_vm_ioeventfd_deassign(&vm, efd2, 0xc0003000, 4, false, true, 3), 0);
	assert_int_equal(kvm_vm_ioeventfd_deassign(&vm, efd2, 0xc0003000, 4, false, true, 2), 0);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, 0xc050, 2, true, false, 0), 0);
	assert_int_equal(kvm_vm_ioeventfd_deassign(&vm, efd2, 0xc050, 2, true, false, 0), 0);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, 0, 3, false, false, 0), -EINVAL);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, 0, 0, false, true, 0), -EINVAL);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, 0, 2, false, true, 0x10000), -EINVAL);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, efd2, ~0ull - 1, 4, false, false, 0), -EINVAL);
	assert_int_equal(kvm_vm_ioeventfd_assign(&vm, -1, 0, 4, false, false, 0), -EINVAL);

	close(efd);
	close(efd2);
	kvm_vm_close(&vm);
	kvm_sys_close(&sys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_alignment),
		cmocka_unit_test(test_alloc_exhaustion),
		cmocka_unit_test(test_alloc_reserve_and_edges),
		cmocka_unit_test(test_mmio64_window),
		cmocka_unit_test(test_kvm_wrappers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
