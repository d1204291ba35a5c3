/* Completing instructions the host's KVM emulator cannot execute in guest kernel mode
 * (shared/HOST.md items 2, 4, 5): int3 (advance RIP, inject #BP), fwait (no-op: kiln has no
 * pending x87 exceptions to deliver), ldmxcsr/stmxcsr m32 (decode the operand, walk the
 * guest page tables, move MXCSR through KVM_GET/SET_XSAVE), lock cmpxchg8b/16b (done with
 * the same locked instruction on the host mapping, so it stays atomic), and xsave / xsaveopt /
 * xrstor (xsave_complete.h). */
#ifndef KILN_QUIRKS_INSN_COMPLETE_H
#define KILN_QUIRKS_INSN_COMPLETE_H

#include <stdint.h>

#include "kvm/kvm.h"
#include "util/guest_mem.h"

/* Completes the instruction whose bytes KVM reported (bytes/len from run->emulation_failure).
 * Returns 0 when done; -ENOTSUP when it is not one kiln completes; -EFAULT when its memory
 * operand is not mapped (a #PF is injected then, as hardware would); other -errno on ioctl
 * failure. `name` receives a short mnemonic for logs. */
int insn_complete(struct kvm_vcpu *v, const struct guest_mem *m, const uint8_t *bytes,
		  unsigned int len, const char **name) __attribute__((warn_unused_result));

#endif
