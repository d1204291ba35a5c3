#include "kvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do {
		r = ioctl(fd, req, arg);
	} while (r < 0 && errno == EINTR && req != KVM_RUN);
	return r < 0 ? -errno : r;
}

int kvm_sys_open(struct kvm_sys *sys)
{
	int r;

	sys->fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (sys->fd < 0)
		return -errno;
	r = xioctl(sys->fd, KVM_GET_API_VERSION, NULL);
	if (r != KVM_API_VERSION) {
		r = r < 0 ? r : -ENOTSUP;
		goto err;
	}
	r = xioctl(sys->fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (r < 0)
		goto err;
	sys->vcpu_mmap_size = r;
	return 0;
err:
	close(sys->fd);
	sys->fd = -1;
	return r;
}

void kvm_sys_close(struct kvm_sys *sys)
{
	if (sys->fd >= 0)
		close(sys->fd);
	sys->fd = -1;
}

int kvm_check_extension(const struct kvm_sys *sys, long cap)
{
	int r = ioctl(sys->fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

int kvm_get_supported_cpuid(const struct kvm_sys *sys, struct kvm_cpuid2 **out)
{
	for (unsigned int n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		int r;

		if (!c)
			return -ENOMEM;
		c->nent = n;
		r = xioctl(sys->fd, KVM_GET_SUPPORTED_CPUID, c);
		if (r == 0) {
			*out = c;
			return 0;
		}
		free(c);
		if (r != -E2BIG)
			return r;
	}
	return -E2BIG;
}

int kvm_vm_create(const struct kvm_sys *sys, struct kvm_vm *vm)
{
	uint64_t ident = LAYOUT_IDENTITY_MAP_ADDR;
	int r;

	vm->sys = sys;
	vm->fd = xioctl(sys->fd, KVM_CREATE_VM, (void *)0);
	if (vm->fd < 0)
		return vm->fd;
	r = xioctl(vm->fd, KVM_SET_TSS_ADDR, (void *)(uintptr_t)LAYOUT_TSS_ADDR);
	if (r < 0)
		goto err;
	/* Only VMX needs the identity map; other backends may refuse it harmlessly. */
	(void)xioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &ident);
	return 0;
err:
	close(vm->fd);
	vm->fd = -1;
	return r;
}

int kvm_vm_create_irqchip(struct kvm_vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int r = xioctl(vm->fd, KVM_CREATE_IRQCHIP, NULL);

	if (r < 0)
		return r;
	r = xioctl(vm->fd, KVM_CREATE_PIT2, &pit);
	return r < 0 ? r : 0;
}

void kvm_vm_close(struct kvm_vm *vm)
{
	if (vm->fd >= 0)
		close(vm->fd);
	vm->fd = -1;
}

int kvm_vm_set_memory(struct kvm_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};

	return xioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r);
}

int kvm_vm_irq_line(struct kvm_vm *vm, unsigned int irq, int level)
{
	struct kvm_irq_level l = { .irq = irq, .level = level };

	return xioctl(vm->fd, KVM_IRQ_LINE, &l);
}

/* KVM's default routes (virt/kvm/irqchip.c, arch/x86/kvm/irq_comm.c default_routing): GSI n to
 * IOAPIC pin n for n < 24, and to PIC pin n % 8 for n < 16. */
#define PIC_GSIS 16

int kvm_vm_set_gsi_routing(struct kvm_vm *vm, const struct kvm_msi_route *routes, unsigned int nr)
{
	unsigned int total = KVM_IRQCHIP_GSIS + PIC_GSIS + nr, n = 0;
	struct kvm_irq_routing *t;
	int r;

	/* KVM takes at most KVM_MAX_IRQ_ROUTES (4096) entries, the irqchip's 40 included. */
	if (nr > KVM_GSI_MAX + 1 - KVM_IRQCHIP_GSIS - PIC_GSIS || (nr && !routes))
		return -EINVAL;
	for (unsigned int i = 0; i < nr; i++) {
		if (routes[i].gsi < KVM_IRQCHIP_GSIS || routes[i].gsi > KVM_GSI_MAX)
			return -EINVAL;
		for (unsigned int j = 0; j < i; j++)
			if (routes[j].gsi == routes[i].gsi)
				return -EINVAL;
	}
	t = calloc(1, sizeof(*t) + total * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	for (unsigned int gsi = 0; gsi < KVM_IRQCHIP_GSIS; gsi++) {
		t->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi } };
		if (gsi < PIC_GSIS)
			t->entries[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER :
								    KVM_IRQCHIP_PIC_SLAVE,
					       .pin = gsi % 8 } };
	}
	for (unsigned int i = 0; i < nr; i++)
		t->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = routes[i].gsi, .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)routes[i].address,
				   .address_hi = (uint32_t)(routes[i].address >> 32),
				   .data = routes[i].data } };
	t->nr = n;
	r = xioctl(vm->fd, KVM_SET_GSI_ROUTING, t);
	free(t);
	return r < 0 ? r : 0;
}

static int irqfd(struct kvm_vm *vm, int fd, uint32_t gsi, uint32_t flags)
{
	struct kvm_irqfd f = { .fd = (uint32_t)fd, .gsi = gsi, .flags = flags };
	int r;

	if (fd < 0)
		return -EINVAL;
	r = xioctl(vm->fd, KVM_IRQFD, &f);
	return r < 0 ? r : 0;
}

int kvm_vm_irqfd_assign(struct kvm_vm *vm, int fd, uint32_t gsi)
{
	return irqfd(vm, fd, gsi, 0);
}

int kvm_vm_irqfd_deassign(struct kvm_vm *vm, int fd, uint32_t gsi)
{
	return irqfd(vm, fd, gsi, KVM_IRQFD_FLAG_DEASSIGN);
}

static int ioeventfd(struct kvm_vm *vm, int fd, uint64_t addr, uint32_t len, bool pio,
		     bool match, uint64_t data, uint32_t flags)
{
	struct kvm_ioeventfd e = {
		.datamatch = match ? data : 0, .addr = addr, .len = len, .fd = fd,
		.flags = flags | (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			 (match ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0),
	};
	int r;

	if (fd < 0 || (len != 0 && len != 1 && len != 2 && len != 4 && len != 8) ||
	    (len == 0 && match) || (match && len < 8 && data >> (8 * len)) ||
	    addr + len < addr)
		return -EINVAL;
	r = xioctl(vm->fd, KVM_IOEVENTFD, &e);
	return r < 0 ? r : 0;
}

int kvm_vm_ioeventfd_assign(struct kvm_vm *vm, int fd, uint64_t addr, uint32_t len, bool pio,
			    bool match, uint64_t data)
{
	return ioeventfd(vm, fd, addr, len, pio, match, data, 0);
}

int kvm_vm_ioeventfd_deassign(struct kvm_vm *vm, int fd, uint64_t addr, uint32_t len, bool pio,
			      bool match, uint64_t data)
{
	return ioeventfd(vm, fd, addr, len, pio, match, data, KVM_IOEVENTFD_FLAG_DEASSIGN);
}

int kvm_vcpu_create(struct kvm_vm *vm, unsigned int id, struct kvm_vcpu *vcpu)
{
	vcpu->id = id;
	vcpu->run = NULL;
	vcpu->fd = xioctl(vm->fd, KVM_CREATE_VCPU, (void *)(uintptr_t)id);
	if (vcpu->fd < 0)
		return vcpu->fd;
	vcpu->run_size = vm->sys->vcpu_mmap_size;
	void *p = mmap(NULL, (size_t)vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (p == MAP_FAILED) {
		int r = -errno;
		close(vcpu->fd);
		vcpu->fd = -1;
		return r;
	}
	vcpu->run = p;
	return 0;
}

void kvm_vcpu_close(struct kvm_vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->run_size);
	vcpu->run = NULL;
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->fd = -1;
}

int kvm_vcpu_run(struct kvm_vcpu *vcpu)
{
	int r = ioctl(vcpu->fd, KVM_RUN, 0);

	return r < 0 ? -errno : 0;
}

#define VCPU_IOCTL(name, req, type)                        \
	int name(struct kvm_vcpu *v, type *arg)            \
	{                                                  \
		return xioctl(v->fd, req, (void *)arg);   \
	}

VCPU_IOCTL(kvm_vcpu_get_regs, KVM_GET_REGS, struct kvm_regs)
VCPU_IOCTL(kvm_vcpu_set_regs, KVM_SET_REGS, const struct kvm_regs)
VCPU_IOCTL(kvm_vcpu_get_sregs, KVM_GET_SREGS, struct kvm_sregs)
VCPU_IOCTL(kvm_vcpu_set_sregs, KVM_SET_SREGS, const struct kvm_sregs)
VCPU_IOCTL(kvm_vcpu_get_fpu, KVM_GET_FPU, struct kvm_fpu)
VCPU_IOCTL(kvm_vcpu_set_fpu, KVM_SET_FPU, const struct kvm_fpu)
VCPU_IOCTL(kvm_vcpu_set_cpuid, KVM_SET_CPUID2, const struct kvm_cpuid2)
VCPU_IOCTL(kvm_vcpu_get_lapic, KVM_GET_LAPIC, struct kvm_lapic_state)
VCPU_IOCTL(kvm_vcpu_set_lapic, KVM_SET_LAPIC, const struct kvm_lapic_state)
VCPU_IOCTL(kvm_vcpu_get_events, KVM_GET_VCPU_EVENTS, struct kvm_vcpu_events)
VCPU_IOCTL(kvm_vcpu_set_events, KVM_SET_VCPU_EVENTS, const struct kvm_vcpu_events)

#define MSRS_MAX 32

int kvm_vcpu_set_msrs(struct kvm_vcpu *v, const uint32_t *index, const uint64_t *value,
		      unsigned int n)
{
	union {
		struct kvm_msrs hdr;
		uint8_t raw[sizeof(struct kvm_msrs) + MSRS_MAX * sizeof(struct kvm_msr_entry)];
	} m;
	int r;

	if (n > MSRS_MAX)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = n;
	for (unsigned int i = 0; i < n; i++) {
		m.hdr.entries[i].index = index[i];
		m.hdr.entries[i].data = value[i];
	}
	r = xioctl(v->fd, KVM_SET_MSRS, &m);
	if (r < 0)
		return r;
	return (unsigned int)r == n ? 0 : -EIO;
}

int kvm_vcpu_get_msr(struct kvm_vcpu *v, uint32_t index, uint64_t *value)
{
	union {
		struct kvm_msrs hdr;
		uint8_t raw[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} m;
	int r;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.hdr.entries[0].index = index;
	r = xioctl(v->fd, KVM_GET_MSRS, &m);
	if (r < 0)
		return r;
	if (r != 1)
		return -EIO;
	*value = m.hdr.entries[0].data;
	return 0;
}

int kvm_vcpu_get_xsave(struct kvm_vcpu *v, struct kvm_xsave *x)
{
	int r = xioctl(v->fd, KVM_GET_XSAVE, x);
	return r < 0 ? r : 0;
}

int kvm_vcpu_set_xsave(struct kvm_vcpu *v, const struct kvm_xsave *x)
{
	int r = xioctl(v->fd, KVM_SET_XSAVE, (void *)x);
	return r < 0 ? r : 0;
}

int kvm_vcpu_get_xcr0(struct kvm_vcpu *v, uint64_t *xcr0)
{
	struct kvm_xcrs x;
	int r = xioctl(v->fd, KVM_GET_XCRS, &x);

	if (r < 0)
		return r;
	for (uint32_t i = 0; i < x.nr_xcrs && i < KVM_MAX_XCRS; i++)
		if (x.xcrs[i].xcr == 0) {
			*xcr0 = x.xcrs[i].value;
			return 0;
		}
	return -ENOENT;
}

#define XSAVE_MXCSR_WORD 6     /* byte 24 of the legacy FXSAVE region */
#define XSAVE_XSTATE_BV_WORD 128 /* byte 512: XSAVE header, XSTATE_BV */
#define XFEATURE_MASK_SSE 0x2

int kvm_vcpu_get_mxcsr(struct kvm_vcpu *v, uint32_t *mxcsr)
{
	struct kvm_xsave x;
	struct kvm_fpu f;
	int r = xioctl(v->fd, KVM_GET_XSAVE, &x);

	if (r == 0) {
		*mxcsr = x.region[XSAVE_MXCSR_WORD];
		return 0;
	}
	r = xioctl(v->fd, KVM_GET_FPU, &f);
	if (r == 0)
		*mxcsr = f.mxcsr;
	return r;
}

int kvm_vcpu_set_mxcsr(struct kvm_vcpu *v, uint32_t mxcsr)
{
	struct kvm_xsave x;
	struct kvm_fpu f;
	int r = xioctl(v->fd, KVM_GET_XSAVE, &x);

	if (r == 0) {
		x.region[XSAVE_MXCSR_WORD] = mxcsr;
		x.region[XSAVE_XSTATE_BV_WORD] |= XFEATURE_MASK_SSE;
		return xioctl(v->fd, KVM_SET_XSAVE, &x);
	}
	r = xioctl(v->fd, KVM_GET_FPU, &f);
	if (r)
		return r;
	f.mxcsr = mxcsr;
	return xioctl(v->fd, KVM_SET_FPU, &f);
}
