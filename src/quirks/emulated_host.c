#include "quirks/emulated_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quirks/insn_complete.h"
#include "util/log.h"

/* Features whose instructions this host's emulator cannot execute in guest kernel mode, with
 * what the guest kernel would meet (shared/HOST.md, measured with Debian's 6.1 kernel). */
static const struct {
	const char *name;
	const char *reason;
} hidden[] = {
	{ "smap", "host quirk: emulator lacks clac/stac" },
	{ "popcnt", "host quirk: emulator lacks popcnt" },
	{ "ssse3", "host quirk: emulator lacks SSSE3 movd forms" },
	{ "cx16", "host quirk: emulator lacks lock cmpxchg16b (SLUB)" },
	/* kiln completes XSAVE and XRSTOR (xsave_complete.h); hiding these makes the guest
	 * kernel use exactly those two, in the standard format. */
	{ "xsaveopt", "host quirk: kiln completes only xsave/xrstor" },
	{ "xsavec", "host quirk: kiln completes only xsave/xrstor" },
	{ "xgetbv1", "host quirk: kiln completes only xsave/xrstor" },
	{ "xsaves", "host quirk: kiln completes only xsave/xrstor" },
};

/* Guest kernel options such a host needs. No "noxsave" (HOST.md item 1): the host runs guest
 * user mode with its own XCR0, so user code uses AVX/AVX-512 whatever the guest kernel
 * enables, and only an XSAVE-using guest kernel preserves that state across context
 * switches; kiln completes the xsave/xrstor the emulator lacks instead. These options skip boot work that runs for minutes when every kernel instruction is emulated,
 * tripping the soft-lockup watchdog and X.509 load timeouts (measured with Debian's 6.1
 * kernel): crypto self-tests, ftrace's weak-function scan, and proactive compaction (kcompactd
 * spun for 50 s and more in extfrag_for_order). */
#define EMULATED_HOST_OPTIONS                                                                  \
	"cryptomgr.notests initcall_blacklist=ftrace_check_for_weak_functions "                \
	"sysctl.vm.compaction_proactiveness=0"

void host_quirks_init(struct host_quirks *q, enum quirks_mode mode)
{
	memset(q, 0, sizeof(*q));
	q->detected = access("/sys/module/kvm_pvm", F_OK) == 0;
	switch (mode) {
	case QUIRKS_ON:
		q->active = true;
		q->why = q->detected ? "emulating-host workarounds on (--host-quirks on; kvm_pvm detected)"
				     : "emulating-host workarounds on (--host-quirks on; host not detected "
				       "as emulating)";
		break;
	case QUIRKS_OFF:
		q->why = q->detected ? "emulating-host workarounds off (--host-quirks off) although this "
				       "host's KVM (kvm_pvm) emulates guest kernel mode"
				     : "emulating-host workarounds off (--host-quirks off)";
		break;
	default:
		q->active = q->detected;
		q->why = q->detected ? "host KVM is kvm_pvm, which emulates guest kernel mode: workarounds "
				       "on (instruction completion, clearcpuid, syscall redirection; "
				       "--host-quirks off disables them)"
				     : "host KVM runs guest kernel mode natively: no workarounds";
		break;
	}
}

int host_quirks_add_mask(const struct host_quirks *q, struct cpu_mask *mask)
{
	if (!q->active)
		return 0;
	for (unsigned int i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		const struct cpu_feature *f = cpu_feature_find(hidden[i].name);
		if (!f)
			continue;
		int r = cpu_mask_add(mask, f, hidden[i].reason);
		if (r)
			return r;
	}
	return 0;
}

char *host_quirks_cmdline(const struct host_quirks *q, const struct cpu_mask *mask,
			  const char *user_cmdline)
{
	const char *user = user_cmdline ? user_cmdline : "";
	size_t cap = strlen(user) + sizeof(EMULATED_HOST_OPTIONS) + 32 + (size_t)mask->nr * 8;
	char *out = malloc(cap);
	size_t n = 0;

	if (!out)
		return NULL;
	out[0] = 0;
	if (q->active) {
		/* Kernel options go before the user's so a " -- " in theirs still ends the kernel's
		 * part of the command line. */
		n += (size_t)snprintf(out + n, cap - n, "%s", EMULATED_HOST_OPTIONS);
		for (unsigned int i = 0; i < mask->nr; i++)
			n += (size_t)snprintf(out + n, cap - n, "%s%u", i ? "," : " clearcpuid=",
					      mask->hidden[i]->linux_nr);
		if (user[0])
			n += (size_t)snprintf(out + n, cap - n, " ");
	}
	snprintf(out + n, cap - n, "%s", user);
	return out;
}

int host_quirks_emulation_failure(struct host_quirks *q, struct kvm_vcpu *v,
				  const struct guest_mem *m)
{
	const struct kvm_run *run = v->run;
	uint8_t bytes[15];
	unsigned int len;
	const char *name = "?";

	if (!q->active ||
	    !(run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
		return -ENOTSUP;
	len = run->emulation_failure.insn_size;
	if (len > sizeof(bytes))
		len = sizeof(bytes);
	memcpy(bytes, run->emulation_failure.insn_bytes, len);
	int r = insn_complete(v, m, bytes, len, &name);
	if (r == 0 || r == -EFAULT)
		log_ratelimited(LOG_DEBUG, "quirks", "vCPU %u: completed %s", v->id, name);
	return r == -EFAULT ? 0 : r;
}

bool host_quirks_want_poll(const struct host_quirks *q)
{
	return q->active && !q->syscall.installed && !q->syscall.gave_up;
}

void host_quirks_poll(struct host_quirks *q, struct kvm_vcpu *v, const struct guest_mem *m)
{
	if (syscall_fixup_try(&q->syscall, v, m))
		log_info("quirks", "user-mode syscall redirection installed at %#llx",
			 (unsigned long long)q->syscall.stub_gva);
}

void host_quirks_reset_vm(struct host_quirks *q)
{
	memset(&q->syscall, 0, sizeof(q->syscall));
}
