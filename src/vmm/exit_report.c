#include "vmm/exit_report.h"

#include <stdio.h>
#include <string.h>

#include "arch/x86_64/pagewalk.h"
#include "quirks/x86_decode.h"
#include "util/log.h"

const char *exit_reason_name(unsigned int reason)
{
	switch (reason) {
	case KVM_EXIT_SHUTDOWN: return "KVM_EXIT_SHUTDOWN (triple fault)";
	case KVM_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY (VM entry failed)";
	case KVM_EXIT_INTERNAL_ERROR: return "KVM_EXIT_INTERNAL_ERROR";
	case KVM_EXIT_EXCEPTION: return "KVM_EXIT_EXCEPTION";
	case KVM_EXIT_UNKNOWN: return "KVM_EXIT_UNKNOWN";
	case KVM_EXIT_SYSTEM_EVENT: return "KVM_EXIT_SYSTEM_EVENT";
	case KVM_EXIT_DEBUG: return "KVM_EXIT_DEBUG";
	default: return "unexpected exit";
	}
}

static const char *cpu_mode(const struct kvm_sregs *s)
{
	if (!(s->cr0 & 1))
		return "real mode";
	if (s->efer & 0x400)
		return s->cs.l ? "64-bit long mode" : "compatibility mode";
	return s->cr0 & 0x80000000u ? "32-bit protected mode, paging" : "32-bit protected mode";
}

static void internal_detail(const struct kvm_run *run, char *buf, size_t n)
{
	static const char *const sub[] = { "", "instruction emulation failed",
		"simultaneous exceptions", "delivery event failed", "unexpected exit reason" };
	unsigned int s = run->internal.suberror;

	snprintf(buf, n, "suberror %u (%s)", s, s < 5 ? sub[s] : "unknown");
}

void exit_report(struct kvm_vcpu *v, const struct guest_mem *m)
{
	const struct kvm_run *run = v->run;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	char detail[128] = "", bytes[64] = "unavailable";
	uint8_t insn[15];
	unsigned int nbytes = 0;

	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		internal_detail(run, detail, sizeof(detail));
	else if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
		snprintf(detail, sizeof(detail), "hardware entry failure reason %#llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	else if (run->exit_reason > KVM_EXIT_SHUTDOWN || run->exit_reason == KVM_EXIT_UNKNOWN)
		snprintf(detail, sizeof(detail), "exit reason %u", run->exit_reason);

	log_error("vcpu", "vCPU %u stopped the VM: %s%s%s", v->id, exit_reason_name(run->exit_reason),
		  detail[0] ? ": " : "", detail);
	if (kvm_vcpu_get_regs(v, &regs) || kvm_vcpu_get_sregs(v, &sregs)) {
		log_error("vcpu", "vCPU %u: registers unavailable", v->id);
		return;
	}
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR &&
	    run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		nbytes = run->emulation_failure.insn_size;
		if (nbytes > sizeof(insn))
			nbytes = sizeof(insn);
		memcpy(insn, run->emulation_failure.insn_bytes, nbytes);
	} else {
		struct paging_state ps = { sregs.cr0, sregs.cr3, sregs.cr4, sregs.efer };
		if (pagewalk_read(m, &ps, sregs.cs.base + regs.rip, insn, sizeof(insn)) == 0)
			nbytes = sizeof(insn);
	}
	if (nbytes)
		x86_format_bytes(insn, nbytes, bytes, sizeof(bytes));
	log_error("vcpu", "RIP %#llx, CPL %u, %s, instruction bytes: %s", (unsigned long long)regs.rip,
		  sregs.cs.selector & 3u, cpu_mode(&sregs), bytes);
	log_error("vcpu", "RSP %#llx RFLAGS %#llx CR0 %#llx CR3 %#llx CR4 %#llx EFER %#llx",
		  (unsigned long long)regs.rsp, (unsigned long long)regs.rflags,
		  (unsigned long long)sregs.cr0, (unsigned long long)sregs.cr3,
		  (unsigned long long)sregs.cr4, (unsigned long long)sregs.efer);
}
