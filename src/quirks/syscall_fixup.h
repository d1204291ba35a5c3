/* Redirection of user-mode `syscall` on hosts where it is broken (shared/HOST.md item 6): the
 * instruction loads RIP from LSTAR and sets RCX/R11 but leaves the vCPU at CPL3, so the fetch
 * at LSTAR page-faults from user mode. Once the guest kernel has set LSTAR (its IDT is final
 * by then), kiln writes a small stub into the int3 (0xcc) padding next to the kernel's syscall
 * entry and points IDT vector 14 at it. The stub recognises "#PF from CPL3 at RIP == LSTAR",
 * drops the exception frame, restores the user RSP and jumps to LSTAR at CPL0 — what syscall
 * should have done; any other fault goes to the kernel's own handler unchanged. The padding
 * lies in the PMD-aligned entry text, which stays mapped under KPTI. */
#ifndef KILN_QUIRKS_SYSCALL_FIXUP_H
#define KILN_QUIRKS_SYSCALL_FIXUP_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm/kvm.h"
#include "util/guest_mem.h"

struct syscall_fixup {
	bool installed;
	bool gave_up;       /* could not install (logged once) */
	uint64_t stub_gva;  /* where the stub went */
};

/* Size of the stub in bytes. */
#define SYSCALL_FIXUP_STUB_LEN 60

/* Builds the stub for the given LSTAR and original #PF handler into out (at least
 * SYSCALL_FIXUP_STUB_LEN bytes). */
void syscall_fixup_build_stub(uint8_t *out, uint64_t lstar, uint64_t orig_handler);

/* Tries to install the redirection on the boot vCPU's current state; no-op once installed or
 * given up. Returns true if installed by this call. */
bool syscall_fixup_try(struct syscall_fixup *sf, struct kvm_vcpu *v, const struct guest_mem *m);

#endif
