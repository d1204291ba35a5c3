#include "quirks/insn_complete.h"

#include <errno.h>
#include <string.h>

#include "arch/x86_64/pagewalk.h"
#include "quirks/x86_decode.h"
#include "quirks/xsave_complete.h"

#define VEC_BP 3
#define VEC_UD 6
#define VEC_GP 13
#define VEC_PF 14
#define MXCSR_DEFAULT_MASK 0xffbfu /* MXCSR_MASK when FXSAVE reports 0 (SDM vol. 1 11.6.6) */

static int inject(struct kvm_vcpu *v, unsigned int vector, bool has_error, uint32_t error)
{
	struct kvm_vcpu_events ev;
	int r = kvm_vcpu_get_events(v, &ev);

	if (r)
		return r;
	ev.exception.injected = 1;
	ev.exception.nr = (uint8_t)vector;
	ev.exception.has_error_code = has_error;
	ev.exception.error_code = error;
	ev.flags = 0;
	return kvm_vcpu_set_events(v, &ev);
}

static int advance(struct kvm_vcpu *v, struct kvm_regs *regs, unsigned int len)
{
	regs->rip += len;
	return kvm_vcpu_set_regs(v, regs);
}

static uint64_t seg_base(const struct kvm_sregs *s, enum x86_seg seg, bool long64)
{
	switch (seg) {
	case X86_SEG_FS: return s->fs.base;
	case X86_SEG_GS: return s->gs.base;
	case X86_SEG_ES: return long64 ? 0 : s->es.base;
	case X86_SEG_CS: return long64 ? 0 : s->cs.base;
	case X86_SEG_SS: return long64 ? 0 : s->ss.base;
	default: return long64 ? 0 : s->ds.base;
	}
}

/* ldmxcsr / stmxcsr m32 (0f ae /2, /3). */
static int mxcsr_insn(struct kvm_vcpu *v, const struct guest_mem *m, struct kvm_regs *regs,
		      const struct x86_insn *in, bool load, bool long64, const struct kvm_sregs *s)
{
	struct paging_state ps = { s->cr0, s->cr3, s->cr4, s->efer };
	uint64_t la = seg_base(s, in->seg, long64) + in->ea;
	uint32_t val;
	int r;

	if (!long64)
		la &= 0xffffffffu;
	if (load) {
		r = pagewalk_read(m, &ps, la, &val, sizeof(val));
		if (r)
			goto fault;
		if (val & ~MXCSR_DEFAULT_MASK)
			return inject(v, VEC_GP, true, 0);
		r = kvm_vcpu_set_mxcsr(v, val);
		if (r)
			return r;
	} else {
		r = kvm_vcpu_get_mxcsr(v, &val);
		if (r)
			return r;
		r = pagewalk_write(m, &ps, la, &val, sizeof(val));
		if (r)
			goto fault;
	}
	return advance(v, regs, in->len);
fault:
	/* Not mapped: let the guest see the #PF it would have taken. */
	{
		struct kvm_sregs s2 = *s;
		s2.cr2 = la;
		if (kvm_vcpu_set_sregs(v, &s2) == 0 && inject(v, VEC_PF, true, load ? 0 : 2) == 0)
			return -EFAULT;
		return -EIO;
	}
}

/* xsave / xsaveopt / xrstor (0f ae /4, /6, /5), 64-bit forms included: see xsave_complete.h.
 * XSAVEOPT may store like XSAVE (its init/modified optimisations are optional). */
static int xsave_insn(struct kvm_vcpu *v, const struct guest_mem *m, struct kvm_regs *regs,
		      const struct x86_insn *in, bool load, bool long64, const struct kvm_sregs *s)
{
	struct paging_state ps = { s->cr0, s->cr3, s->cr4, s->efer };
	uint64_t la = seg_base(s, in->seg, long64) + in->ea, xcr0;
	struct xsave_fault f;
	int r;

	if (!(s->cr4 & (1ull << 18))) /* CR4.OSXSAVE */
		return inject(v, VEC_UD, false, 0);
	if (!long64)
		la &= 0xffffffffu;
	r = kvm_vcpu_get_xcr0(v, &xcr0);
	if (r)
		return r;
	uint64_t rfbm = xcr0 & (((uint64_t)(uint32_t)regs->rdx << 32) | (uint32_t)regs->rax);
	r = load ? xsave_load(v, m, &ps, la, rfbm, xcr0, &f) : xsave_store(v, m, &ps, la, rfbm, &f);
	if (r)
		return r;
	switch (f.kind) {
	case XSAVE_GP:
		return inject(v, VEC_GP, true, 0);
	case XSAVE_PF: {
		struct kvm_sregs s2 = *s;
		s2.cr2 = f.addr;
		r = kvm_vcpu_set_sregs(v, &s2);
		return r ? r : inject(v, VEC_PF, true, f.error_code);
	}
	default:
		return advance(v, regs, in->len);
	}
}

/* Compares `old` with the guest's 8- or 16-byte value at hva and stores `new` on a match, as one
 * locked host instruction, so vCPUs that run natively see it atomic. Returns true on a match;
 * *cur gets the value found. hva is aligned by the caller (16 for the 16-byte form). */
static bool host_cmpxchg(void *hva, bool wide, const uint64_t old[2], const uint64_t new[2],
			 uint64_t cur[2])
{
	bool ok;

	if (wide) {
		uint64_t lo = old[0], hi = old[1];
		__asm__ volatile("lock cmpxchg16b %[m]\n\tsete %[ok]"
				 : [m] "+m"(*(volatile __int128 *)hva), [ok] "=q"(ok), "+a"(lo), "+d"(hi)
				 : "b"(new[0]), "c"(new[1])
				 : "memory", "cc");
		cur[0] = lo;
		cur[1] = hi;
	} else {
		uint64_t want = old[0] | old[1] << 32;
		uint64_t val = want;
		ok = __atomic_compare_exchange_n((uint64_t *)hva, &val, new[0] | new[1] << 32, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		cur[0] = (uint32_t)val;
		cur[1] = val >> 32;
	}
	return ok;
}

/* lock cmpxchg8b / cmpxchg16b m64/m128 (0f c7 /1): EDX:EAX (RDX:RAX) against memory; on a
 * match ECX:EBX (RCX:RBX) is stored and ZF set, else the memory value is loaded and ZF
 * cleared. The 16-byte form needs a 16-byte aligned operand (#GP otherwise, SDM vol. 2A). */
static int cmpxchg_insn(struct kvm_vcpu *v, const struct guest_mem *m, struct kvm_regs *regs,
			const struct x86_insn *in, bool long64, const struct kvm_sregs *s)
{
	struct paging_state ps = { s->cr0, s->cr3, s->cr4, s->efer };
	bool wide = long64 && (in->rex & 0x8);
	unsigned int size = wide ? 16 : 8;
	uint64_t la = seg_base(s, in->seg, long64) + in->ea, gpa;
	uint64_t mask = wide ? ~0ull : 0xffffffffull;
	uint64_t old[2] = { regs->rax & mask, regs->rdx & mask };
	uint64_t new[2] = { regs->rbx & mask, regs->rcx & mask };
	uint64_t cur[2];

	if (!long64)
		la &= 0xffffffffu;
	if (wide && (la & 15))
		return inject(v, VEC_GP, true, 0);
	/* An unmapped or misaligned (split-lock) operand is left to the failure report. */
	if (pagewalk_translate(m, &ps, la, &gpa) || (gpa & 7))
		return -ENOTSUP;
	void *hva = guest_mem_ptr(m, gpa, size);
	if (!hva)
		return -ENOTSUP;
	if (host_cmpxchg(hva, wide, old, new, cur)) {
		regs->rflags |= 0x40;
	} else {
		regs->rflags &= ~0x40ull;
		regs->rax = wide ? cur[0] : (uint32_t)cur[0];
		regs->rdx = wide ? cur[1] : (uint32_t)cur[1];
	}
	return advance(v, regs, in->len);
}

int insn_complete(struct kvm_vcpu *v, const struct guest_mem *m, const uint8_t *bytes,
		  unsigned int len, const char **name)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct x86_gprs g;
	struct x86_insn in;
	int r;

	if (len == 0)
		return -ENOTSUP;
	r = kvm_vcpu_get_regs(v, &regs);
	if (!r)
		r = kvm_vcpu_get_sregs(v, &sregs);
	if (r)
		return r;
	bool long64 = (sregs.efer & 0x400) && sregs.cs.l;

	if (bytes[0] == 0xcc) {
		*name = "int3";
		r = advance(v, &regs, 1);
		return r ? r : inject(v, VEC_BP, false, 0);
	}
	if (bytes[0] == 0x9b) {
		*name = "fwait";
		return advance(v, &regs, 1);
	}

	uint64_t gp[16] = { regs.rax, regs.rcx, regs.rdx, regs.rbx, regs.rsp, regs.rbp, regs.rsi,
			    regs.rdi, regs.r8, regs.r9, regs.r10, regs.r11, regs.r12, regs.r13,
			    regs.r14, regs.r15 };
	memcpy(g.r, gp, sizeof(gp));
	g.rip = regs.rip;
	if (x86_decode(bytes, len, long64, &g, &in))
		return -ENOTSUP;
	if (in.nr_opcode == 2 && in.opcode[0] == 0x0f && in.opcode[1] == 0xae && in.mem_operand &&
	    (in.modrm_reg & 7) >= 2 && (in.modrm_reg & 7) <= 3 && !in.rep_prefix && !in.opsize_prefix) {
		bool load = (in.modrm_reg & 7) == 2;
		*name = load ? "ldmxcsr" : "stmxcsr";
		return mxcsr_insn(v, m, &regs, &in, load, long64, &sregs);
	}
	if (in.nr_opcode == 2 && in.opcode[0] == 0x0f && in.opcode[1] == 0xae && in.mem_operand &&
	    (in.modrm_reg & 7) >= 4 && (in.modrm_reg & 7) <= 6 && !in.rep_prefix &&
	    !in.opsize_prefix) {
		bool load = (in.modrm_reg & 7) == 5;
		bool wide = long64 && (in.rex & 0x8);
		*name = load ? (wide ? "xrstor64" : "xrstor")
			     : (in.modrm_reg & 7) == 6 ? (wide ? "xsaveopt64" : "xsaveopt")
						       : (wide ? "xsave64" : "xsave");
		return xsave_insn(v, m, &regs, &in, load, long64, &sregs);
	}
	if (in.nr_opcode == 2 && in.opcode[0] == 0x0f && in.opcode[1] == 0xc7 && in.mem_operand &&
	    (in.modrm_reg & 7) == 1) {
		*name = long64 && (in.rex & 0x8) ? "cmpxchg16b" : "cmpxchg8b";
		return cmpxchg_insn(v, m, &regs, &in, long64, &sregs);
	}
	return -ENOTSUP;
}
