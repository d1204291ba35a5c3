#include "arch/x86_64/regs.h"

#include <errno.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "util/log.h"

#define GDT_CODE64 0x00af9b000000ffffull /* present, DPL0, exec/read, L=1, G=1 */
#define GDT_CODE32 0x00cf9b000000ffffull /* present, DPL0, exec/read, D=1, G=1 */
#define GDT_DATA 0x00cf93000000ffffull   /* present, DPL0, read/write, D=1, G=1 */
#define GDT_TSS 0x00008b0000000067ull    /* present, 64-bit busy TSS, limit 0x67 */

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

int regs_write_boot_tables(const struct guest_mem *m, bool long_mode)
{
	uint64_t gdt[5] = { 0, 0, long_mode ? GDT_CODE64 : GDT_CODE32, GDT_DATA, GDT_TSS };
	uint64_t idt = 0;

	if (guest_mem_write(m, LAYOUT_BOOT_GDT, gdt, sizeof(gdt)) ||
	    guest_mem_write(m, LAYOUT_BOOT_IDT, &idt, sizeof(idt)))
		return -EFAULT;
	if (!long_mode)
		return 0;

	uint64_t pml4e = LAYOUT_PDPT | PTE_P | PTE_RW;
	if (guest_mem_write(m, LAYOUT_PML4, &pml4e, sizeof(pml4e)))
		return -EFAULT;
	for (uint64_t i = 0; i < 4; i++) {
		uint64_t pdpte = (LAYOUT_PD + i * 0x1000) | PTE_P | PTE_RW;
		if (guest_mem_write(m, LAYOUT_PDPT + i * 8, &pdpte, sizeof(pdpte)))
			return -EFAULT;
	}
	for (uint64_t i = 0; i < 4 * 512; i++) {
		uint64_t pde = (i << 21) | PTE_P | PTE_RW | PTE_PS;
		if (guest_mem_write(m, LAYOUT_PD + i * 8, &pde, sizeof(pde)))
			return -EFAULT;
	}
	return 0;
}

/* A KVM segment from a GDT descriptor (Intel SDM vol. 3A 3.4.5). */
static struct kvm_segment seg_from_gdt(uint64_t d, uint16_t sel)
{
	struct kvm_segment s = {
		.base = (uint32_t)(((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000)),
		.limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000)),
		.selector = sel,
		.type = (uint8_t)((d >> 40) & 0xf),
		.present = (uint8_t)((d >> 47) & 1),
		.dpl = (uint8_t)((d >> 45) & 3),
		.db = (uint8_t)((d >> 54) & 1),
		.s = (uint8_t)((d >> 44) & 1),
		.l = (uint8_t)((d >> 53) & 1),
		.g = (uint8_t)((d >> 55) & 1),
	};
	if (s.g)
		s.limit = (s.limit << 12) | 0xfff;
	return s;
}

int regs_init_vcpu(struct kvm_vcpu *v)
{
	static const uint32_t idx[] = {
		MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP, MSR_STAR,
		MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK, MSR_KERNEL_GS_BASE,
		MSR_IA32_MISC_ENABLE, MSR_MTRR_DEF_TYPE,
	};
	/* Misc enable: fast strings. MTRR default type: enabled, write-back (Linux's PAT code
	 * wants MTRRs on; Cloud Hypervisor and Firecracker set the same). */
	static const uint64_t val[] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, (1u << 11) | 6 };
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	struct kvm_lapic_state lapic;
	int r;

	for (unsigned int i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
		r = kvm_vcpu_set_msrs(v, &idx[i], &val[i], 1);
		if (r)
			log_debug("vcpu", "vCPU %u: MSR %#x not settable (%d); left at reset value",
				  v->id, idx[i], r);
	}
	r = kvm_vcpu_set_fpu(v, &fpu);
	if (r)
		return r;
	r = kvm_vcpu_get_lapic(v, &lapic);
	if (r)
		return r;
	uint32_t lvt0, lvt1;
	memcpy(&lvt0, lapic.regs + APIC_LVT0, 4);
	memcpy(&lvt1, lapic.regs + APIC_LVT1, 4);
	lvt0 = (lvt0 & ~0x700u) | (APIC_MODE_EXTINT << 8);
	lvt1 = (lvt1 & ~0x700u) | (APIC_MODE_NMI << 8);
	memcpy(lapic.regs + APIC_LVT0, &lvt0, 4);
	memcpy(lapic.regs + APIC_LVT1, &lvt1, 4);
	return kvm_vcpu_set_lapic(v, &lapic);
}

int regs_init_boot_vcpu(struct kvm_vcpu *v, const struct boot_entry *e)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int r;

	r = kvm_vcpu_get_sregs(v, &sregs);
	if (r)
		return r;
	struct kvm_segment cs = seg_from_gdt(e->long_mode ? GDT_CODE64 : GDT_CODE32, BOOT_CS);
	struct kvm_segment ds = seg_from_gdt(GDT_DATA, BOOT_DS);
	sregs.cs = cs;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = ds;
	sregs.tr = seg_from_gdt(GDT_TSS, BOOT_TSS);
	sregs.gdt.base = LAYOUT_BOOT_GDT;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.idt.base = LAYOUT_BOOT_IDT;
	sregs.idt.limit = 0;
	if (e->long_mode) {
		sregs.cr3 = e->cr3;
		sregs.cr4 = 0x20;              /* PAE */
		sregs.cr0 = 0x80000033;        /* PG | NE | ET | MP | PE */
		sregs.efer = 0x500;            /* LME | LMA */
	} else {
		sregs.cr0 = 0x11;              /* ET | PE: PVH starts with paging off */
		sregs.cr4 = 0;
		sregs.efer = 0;
	}
	r = kvm_vcpu_set_sregs(v, &sregs);
	if (r)
		return r;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = e->rip;
	regs.rsi = e->rsi;
	regs.rbx = e->rbx;
	regs.rsp = LAYOUT_BOOT_STACK;
	regs.rbp = LAYOUT_BOOT_STACK;
	return kvm_vcpu_set_regs(v, &regs);
}
