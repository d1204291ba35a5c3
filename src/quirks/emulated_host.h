/* Workarounds for hosts whose KVM emulates guest kernel mode instruction by instruction (a
 * nested "PVM" backend, kernel module kvm_pvm; see shared/HOST.md). Such a host cannot run
 * some instructions in guest CPL0, ignores KVM_SET_CPUID2, and breaks user-mode `syscall`.
 * kiln then: hides features through the guest command line (clearcpuid=), completes
 * int3/fwait/ldmxcsr/stmxcsr/cmpxchg16b/xsave/xrstor itself (insn_complete.h), and redirects
 * the faulting syscall
 * (syscall_fixup.h). Nothing here is active on hosts with hardware virtualization. */
#ifndef KILN_QUIRKS_EMULATED_HOST_H
#define KILN_QUIRKS_EMULATED_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include "kvm/kvm.h"
#include "quirks/syscall_fixup.h"
#include "util/guest_mem.h"
#include "vmm/config.h"
#include "vmm/cpu_features.h"

struct host_quirks {
	bool active;          /* workarounds in effect */
	bool detected;        /* the host looks like an emulating (kvm_pvm) host */
	const char *why;      /* one line for -v: why active or not */
	struct syscall_fixup syscall; /* per-VM state; reset on reboot */
};

/* Detects the host (sysfs /sys/module/kvm_pvm) and applies the user's mode. */
void host_quirks_init(struct host_quirks *q, enum quirks_mode mode);

/* Adds the features the emulator cannot execute to `mask` (reason "host quirk: ..."). Returns
 * 0 or -ENOSPC. No-op when inactive. */
int host_quirks_add_mask(const struct host_quirks *q, struct cpu_mask *mask)
	__attribute__((warn_unused_result));

/* Builds the guest command line: on an active host "<options> clearcpuid=N,... <user>" (the
 * mask must reach the guest this way since CPUID masking has no effect), else a copy of the
 * user's. Returns a malloc'd string (caller frees) or NULL on ENOMEM. */
char *host_quirks_cmdline(const struct host_quirks *q, const struct cpu_mask *mask,
			  const char *user_cmdline);

/* Called on KVM_EXIT_INTERNAL_ERROR (emulation failure): completes the instruction for the
 * guest if it is one kiln knows. Returns 0 when completed (the vCPU may run on), -ENOTSUP when
 * inactive or not a known instruction, other -errno on failure. */
int host_quirks_emulation_failure(struct host_quirks *q, struct kvm_vcpu *v,
				  const struct guest_mem *m) __attribute__((warn_unused_result));

/* Called by the boot vCPU's thread after exits and periodic kicks while
 * host_quirks_want_poll() is true: installs the syscall redirection once the guest kernel
 * is ready for it. */
void host_quirks_poll(struct host_quirks *q, struct kvm_vcpu *v, const struct guest_mem *m);

/* True while the boot vCPU should be kicked periodically to poll. */
bool host_quirks_want_poll(const struct host_quirks *q);

/* Forgets per-VM state (before a reboot builds a new VM). */
void host_quirks_reset_vm(struct host_quirks *q);

#endif
