/* Boot-time vCPU state for x86_64: the boot GDT and identity page tables in guest memory, and
 * the registers, MSRs, FPU and LAPIC LINT pins a vCPU starts with. */
#ifndef KILN_ARCH_X86_64_REGS_H
#define KILN_ARCH_X86_64_REGS_H

#include <stdbool.h>

#include "boot/loader.h"
#include "kvm/kvm.h"
#include "util/guest_mem.h"

/* Boot GDT selectors (boot.rst: __BOOT_CS 0x10, __BOOT_DS 0x18). */
#define BOOT_CS 0x10
#define BOOT_DS 0x18
#define BOOT_TSS 0x20

/* Writes the GDT at LAYOUT_BOOT_GDT (64-bit or 32-bit code segment by long_mode) and, for long
 * mode, page tables at LAYOUT_PML4 identity-mapping the first 4 GiB with 2 MiB pages.
 * Returns 0 or -EFAULT if low memory is not RAM. */
int regs_write_boot_tables(const struct guest_mem *m, bool long_mode)
	__attribute__((warn_unused_result));

/* State every vCPU needs before its first KVM_RUN: MSRs (MTRR default type write-back, misc
 * enable), FPU control words and LAPIC LINT0 = ExtINT, LINT1 = NMI. Returns 0 or -errno. */
int regs_init_vcpu(struct kvm_vcpu *v) __attribute__((warn_unused_result));

/* Puts the boot vCPU at the payload's entry point (64-bit long mode or 32-bit PVH). */
int regs_init_boot_vcpu(struct kvm_vcpu *v, const struct boot_entry *e)
	__attribute__((warn_unused_result));

#endif
