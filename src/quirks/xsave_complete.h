/* Completing XSAVE and XRSTOR (standard form, Intel SDM vol. 1 ch. 13; vol. 2 XSAVE/XRSTOR)
 * for a guest kernel on a host whose KVM emulator lacks them.
 *
 * Why: on kvm_pvm hosts guest user mode runs natively and sees the host's XCR0 (measured:
 * CPUID.OSXSAVE=1 and XGETBV = 0xe7, AVX-512 state included, whatever the guest kernel set),
 * so glibc uses AVX in every process. A guest kernel booted with "noxsave" saves only the
 * FXSAVE part of that state on context switches, and a process's YMM/ZMM registers are
 * clobbered by whatever ran before (measured: a busybox exec reading its freshly copied TLS
 * as zeroes and dying of SIGSEGV). With these two instructions completed the guest kernel can
 * use XSAVE and saves every component user mode can touch.
 *
 * The guest's XSAVE area is moved to and from KVM's copy of the vCPU state (KVM_GET/SET_XSAVE,
 * the same standard format, at the host's CPUID 0xd offsets, which are also the ones the guest
 * reads on such a host). XSAVEOPT, XSAVEC, XSAVES and XGETBV with ECX=1 are hidden from the
 * guest with clearcpuid=, so the guest kernel uses only these two. */
#ifndef KILN_QUIRKS_XSAVE_COMPLETE_H
#define KILN_QUIRKS_XSAVE_COMPLETE_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "arch/x86_64/pagewalk.h"
#include "kvm/kvm.h"
#include "util/guest_mem.h"

/* The exception the CPU would raise instead of completing the instruction. */
struct xsave_fault {
	enum { XSAVE_OK = 0, XSAVE_GP, XSAVE_PF } kind; /* #GP(0): misaligned area, bad header,
							  * reserved MXCSR bits, non-canonical */
	uint64_t addr;        /* XSAVE_PF: CR2, the linear address of the failing page */
	uint32_t error_code;  /* XSAVE_PF: P (bit 0) for a protection fault, W (bit 1) */
};

/* XSAVE / XSAVE64 (0f ae /4): stores the components in rfbm (= XCR0 & EDX:EAX) of the
 * vCPU's state to the area at linear address la (64-byte aligned), and updates XSTATE_BV in
 * its header, writing as a supervisor store (read-only pages fault with CR0.WP, dirty bits
 * set). Returns 0 with *fault set (kind XSAVE_OK when done), -EFAULT when a page of the area
 * is not RAM, or -errno on an ioctl error. */
int xsave_store(struct kvm_vcpu *v, const struct guest_mem *m, const struct paging_state *ps,
		uint64_t la, uint64_t rfbm, struct xsave_fault *fault)
	__attribute__((warn_unused_result));

/* XRSTOR / XRSTOR64 (0f ae /5): loads the components in rfbm from the area at la (those
 * whose XSTATE_BV bit is clear get their initial state), MXCSR when rfbm has SSE or AVX.
 * xcr0 is the guest's XCR0 (XSTATE_BV bits outside it are a #GP). Same returns as above; on
 * a fault the vCPU state is unchanged. */
int xsave_load(struct kvm_vcpu *v, const struct guest_mem *m, const struct paging_state *ps,
	       uint64_t la, uint64_t rfbm, uint64_t xcr0, struct xsave_fault *fault)
	__attribute__((warn_unused_result));

/* Pure helpers over a 4096-byte standard-format area, exported for the unit tests.
 * xsave_component_span: byte range [*off, *off + *len) of component i (0 x87, 1 SSE, >= 2
 * from CPUID 0xd); returns false for components outside the area or unknown. */
bool xsave_component_span(unsigned int i, uint32_t *off, uint32_t *len);

#endif
