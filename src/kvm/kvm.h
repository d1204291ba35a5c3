/* The thin KVM layer: the only file in kiln that issues KVM_* ioctls (kvm/kvm.c). Everything
 * else calls these typed wrappers. Source: Documentation/virt/kvm/api.rst. All functions
 * return 0 or -errno unless stated otherwise. */
#ifndef KILN_KVM_KVM_H
#define KILN_KVM_KVM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

/* The /dev/kvm system fd. */
struct kvm_sys {
	int fd;
	int vcpu_mmap_size; /* bytes of the shared kvm_run area */
};

/* A VM fd. */
struct kvm_vm {
	int fd;
	const struct kvm_sys *sys; /* borrowed */
};

/* A vCPU fd with its mmapped kvm_run. */
struct kvm_vcpu {
	int fd;
	unsigned int id;
	struct kvm_run *run; /* mmapped, owned */
	int run_size;
};

/* Opens /dev/kvm and checks API version 12. -ENOENT/-EACCES when it cannot be opened,
 * -ENOTSUP for another API version. */
int kvm_sys_open(struct kvm_sys *sys) __attribute__((warn_unused_result));
void kvm_sys_close(struct kvm_sys *sys);

/* KVM_CHECK_EXTENSION on the system fd: the capability's value (0 = absent). */
int kvm_check_extension(const struct kvm_sys *sys, long cap);

/* KVM_GET_SUPPORTED_CPUID into a malloc'd table (*out, caller frees). */
int kvm_get_supported_cpuid(const struct kvm_sys *sys, struct kvm_cpuid2 **out)
	__attribute__((warn_unused_result));

/* KVM_CREATE_VM with the TSS and identity-map addresses set. The irqchip comes later
 * (kvm_vm_create_irqchip): registering guest RAM before it is 10x faster on kvm_pvm hosts. */
int kvm_vm_create(const struct kvm_sys *sys, struct kvm_vm *vm) __attribute__((warn_unused_result));

/* In-kernel irqchip (PIC + IOAPIC + LAPICs) and PIT. Call after the memory slots are set and
 * before any vCPU is created. Returns 0 or the ioctl's -errno. */
int kvm_vm_create_irqchip(struct kvm_vm *vm) __attribute__((warn_unused_result));
void kvm_vm_close(struct kvm_vm *vm);

/* KVM_SET_USER_MEMORY_REGION: slot `slot` maps [gpa, gpa+size) to host memory at hva. */
int kvm_vm_set_memory(struct kvm_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *hva)
	__attribute__((warn_unused_result));

/* KVM_IRQ_LINE: sets GSI `irq` to `level` (in-kernel PIC and IOAPIC). */
int kvm_vm_irq_line(struct kvm_vm *vm, unsigned int irq, int level);

/* GSIs 0..KVM_IRQCHIP_GSIS-1 belong to the in-kernel irqchip: KVM's default routing sends GSI
 * n to IOAPIC pin n, and GSIs 0-15 also to PIC pin n % 8 (master below 8, slave from 8). MSI
 * routes use GSIs from KVM_IRQCHIP_GSIS up to KVM_GSI_MAX. */
#define KVM_IRQCHIP_GSIS 24
#define KVM_GSI_MAX 4095 /* KVM_MAX_IRQ_ROUTES - 1 on x86 */

/* One MSI route: writing to an irqfd bound to `gsi` (or KVM_IRQ_LINE on it) sends this
 * message. */
struct kvm_msi_route {
	uint32_t gsi;     /* KVM_IRQCHIP_GSIS..KVM_GSI_MAX, unique within one call */
	uint64_t address; /* MSI address (x86: 0xfee00000 | destination << 12 | flags) */
	uint32_t data;    /* MSI data (vector, delivery mode, trigger) */
};

/* KVM_SET_GSI_ROUTING (Documentation/virt/kvm/api.rst): replaces the VM's whole routing table
 * with KVM's default irqchip routes (above, so legacy interrupts keep working) plus the `nr`
 * MSI routes in `routes` (NULL when nr is 0). Needs the in-kernel irqchip. Returns 0, -EINVAL
 * (a GSI below KVM_IRQCHIP_GSIS or above KVM_GSI_MAX, a GSI twice, more than 4056 routes),
 * -ENOMEM, or the ioctl's -errno. */
int kvm_vm_set_gsi_routing(struct kvm_vm *vm, const struct kvm_msi_route *routes, unsigned int nr)
	__attribute__((warn_unused_result));

/* KVM_IRQFD (api.rst): each write to eventfd `fd` injects GSI `gsi` (edge: for MSI routes
 * and edge-triggered IOAPIC pins), without resampling. Deassign takes the same fd and GSI.
 * Returns 0, -EINVAL for a negative fd, or the ioctl's -errno (-EBUSY: fd already bound). */
int kvm_vm_irqfd_assign(struct kvm_vm *vm, int fd, uint32_t gsi)
	__attribute__((warn_unused_result));
int kvm_vm_irqfd_deassign(struct kvm_vm *vm, int fd, uint32_t gsi);

/* KVM_IOEVENTFD (api.rst): a guest write of `len` bytes (1, 2, 4, 8; 0 = any length, with
 * KVM_CAP_IOEVENTFD_ANY_LENGTH; MMIO ones then take KVM's fast path) to `addr` (a port when
 * `pio`, else a guest physical address) signals eventfd `fd` in the kernel instead of exiting
 * to kiln; with `match`, only writes of the value `data` do. Deassign takes the same arguments.
 * Returns 0, -EINVAL (negative fd, bad len, len 0 with match, data wider than len, addr + len
 * wrapping), or the ioctl's -errno (-EEXIST: same address/len/data already bound). */
int kvm_vm_ioeventfd_assign(struct kvm_vm *vm, int fd, uint64_t addr, uint32_t len, bool pio,
			    bool match, uint64_t data) __attribute__((warn_unused_result));
int kvm_vm_ioeventfd_deassign(struct kvm_vm *vm, int fd, uint64_t addr, uint32_t len, bool pio,
			      bool match, uint64_t data);

/* KVM_CREATE_VCPU with mmap of kvm_run. */
int kvm_vcpu_create(struct kvm_vm *vm, unsigned int id, struct kvm_vcpu *vcpu)
	__attribute__((warn_unused_result));
void kvm_vcpu_close(struct kvm_vcpu *vcpu);

/* KVM_RUN. Returns 0 on an exit to handle, -EINTR when interrupted by a signal (or
 * immediate_exit), other -errno on failure. */
int kvm_vcpu_run(struct kvm_vcpu *vcpu);

int kvm_vcpu_get_regs(struct kvm_vcpu *v, struct kvm_regs *r) __attribute__((warn_unused_result));
int kvm_vcpu_set_regs(struct kvm_vcpu *v, const struct kvm_regs *r) __attribute__((warn_unused_result));
int kvm_vcpu_get_sregs(struct kvm_vcpu *v, struct kvm_sregs *s) __attribute__((warn_unused_result));
int kvm_vcpu_set_sregs(struct kvm_vcpu *v, const struct kvm_sregs *s) __attribute__((warn_unused_result));
int kvm_vcpu_get_fpu(struct kvm_vcpu *v, struct kvm_fpu *f) __attribute__((warn_unused_result));
int kvm_vcpu_set_fpu(struct kvm_vcpu *v, const struct kvm_fpu *f) __attribute__((warn_unused_result));
int kvm_vcpu_set_cpuid(struct kvm_vcpu *v, const struct kvm_cpuid2 *c) __attribute__((warn_unused_result));
int kvm_vcpu_get_lapic(struct kvm_vcpu *v, struct kvm_lapic_state *l) __attribute__((warn_unused_result));
int kvm_vcpu_set_lapic(struct kvm_vcpu *v, const struct kvm_lapic_state *l) __attribute__((warn_unused_result));
int kvm_vcpu_get_events(struct kvm_vcpu *v, struct kvm_vcpu_events *e) __attribute__((warn_unused_result));
int kvm_vcpu_set_events(struct kvm_vcpu *v, const struct kvm_vcpu_events *e) __attribute__((warn_unused_result));

/* The vCPU's XSAVE area in standard (non-compacted) format (KVM_GET_XSAVE / KVM_SET_XSAVE,
 * Documentation/virt/kvm/api.rst; layout: Intel SDM vol. 1 13.4: legacy region, header at
 * byte 512, components at the offsets of CPUID 0xd). Returns 0 or -errno. */
int kvm_vcpu_get_xsave(struct kvm_vcpu *v, struct kvm_xsave *x) __attribute__((warn_unused_result));
int kvm_vcpu_set_xsave(struct kvm_vcpu *v, const struct kvm_xsave *x)
	__attribute__((warn_unused_result));

/* XCR0 of the vCPU (KVM_GET_XCRS). Returns 0, -ENOENT if KVM reports no XCR0, or -errno. */
int kvm_vcpu_get_xcr0(struct kvm_vcpu *v, uint64_t *xcr0) __attribute__((warn_unused_result));

/* MXCSR of the vCPU, through KVM_GET/SET_XSAVE (legacy region offset 24, with the SSE bit set
 * in XSTATE_BV so KVM loads it): KVM_GET/SET_FPU's mxcsr field is ignored by some backends
 * (kvm_pvm reads 0 and drops writes). Falls back to KVM_GET/SET_FPU without KVM_CAP_XSAVE. */
int kvm_vcpu_get_mxcsr(struct kvm_vcpu *v, uint32_t *mxcsr) __attribute__((warn_unused_result));
int kvm_vcpu_set_mxcsr(struct kvm_vcpu *v, uint32_t mxcsr) __attribute__((warn_unused_result));

/* KVM_SET_MSRS for `n` (index, value) pairs. -EIO if KVM accepted fewer than n. */
int kvm_vcpu_set_msrs(struct kvm_vcpu *v, const uint32_t *index, const uint64_t *value,
		      unsigned int n) __attribute__((warn_unused_result));
/* KVM_GET_MSRS for one MSR. -EIO if KVM does not know it. */
int kvm_vcpu_get_msr(struct kvm_vcpu *v, uint32_t index, uint64_t *value)
	__attribute__((warn_unused_result));

#endif
