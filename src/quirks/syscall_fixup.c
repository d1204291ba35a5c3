#include "quirks/syscall_fixup.h"

#include <string.h>

#include "arch/x86_64/pagewalk.h"
#include "util/log.h"

#define MSR_LSTAR 0xc0000082
#define VEC_PF 14
#define IDT_GATE_INTR 0xe
#define SCAN_WINDOW (2ull << 20) /* the 2 MiB PMD holding LSTAR: PTI maps it to user CR3 */
#define PAD_MIN 128              /* a run of 0xcc this long is alignment fill, not code */
#define KERNEL_HALF 0xffff800000000000ull

/* Stub layout (assembled with GNU as, AT&T syntax):
 *  0: f6 44 24 10 03         testb $3, 0x10(%rsp)      ; CS of the frame: from CPL3?
 *  5: 74 27                  jz    not_ours
 *  7: 50                     push  %rax
 *  8: 48 b8 <lstar>          movabs $LSTAR, %rax
 * 18: 48 39 44 24 10         cmp   %rax, 0x10(%rsp)    ; frame RIP (shifted by the push)
 * 23: 58                     pop   %rax
 * 24: 75 14                  jne   not_ours
 * 26: 48 8b 64 24 20         mov   0x20(%rsp), %rsp    ; user RSP: as syscall leaves it
 * 31: fc                     cld                        ; SFMASK clears DF on syscall
 * 32: ff 25 00 00 00 00      jmp   *0(%rip)
 * 38: <lstar>
 * 46: ff 25 00 00 00 00      not_ours: jmp *0(%rip)
 * 52: <original #PF handler>
 */
void syscall_fixup_build_stub(uint8_t *out, uint64_t lstar, uint64_t orig_handler)
{
	static const uint8_t code[SYSCALL_FIXUP_STUB_LEN] = {
		0xf6, 0x44, 0x24, 0x10, 0x03, 0x74, 0x27, 0x50, 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
		0x48, 0x39, 0x44, 0x24, 0x10, 0x58, 0x75, 0x14, 0x48, 0x8b, 0x64, 0x24, 0x20, 0xfc,
		0xff, 0x25, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0x25, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
	};

	memcpy(out, code, sizeof(code));
	memcpy(out + 10, &lstar, 8);
	memcpy(out + 38, &lstar, 8);
	memcpy(out + 52, &orig_handler, 8);
}

/* Finds PAD_MIN bytes of 0xcc in LSTAR's 2 MiB window; returns a 16-byte aligned address
 * inside the run leaving 16 bytes of margin at its start, or 0. */
static uint64_t find_padding(const struct guest_mem *m, const struct paging_state *ps,
			     uint64_t lstar)
{
	uint8_t page[4096];
	uint64_t start = lstar & ~(SCAN_WINDOW - 1), run_start = 0, run = 0;

	for (uint64_t va = start; va < start + SCAN_WINDOW; va += sizeof(page)) {
		if (pagewalk_read(m, ps, va, page, sizeof(page))) {
			run = 0;
			continue;
		}
		for (unsigned int i = 0; i < sizeof(page); i++) {
			if (page[i] != 0xcc) {
				run = 0;
				continue;
			}
			if (run++ == 0)
				run_start = va + i;
			uint64_t at = (run_start + 16 + 15) & ~15ull;
			if (va + i + 1 >= at + SYSCALL_FIXUP_STUB_LEN + 16 && run >= PAD_MIN)
				return at;
		}
	}
	return 0;
}

bool syscall_fixup_try(struct syscall_fixup *sf, struct kvm_vcpu *v, const struct guest_mem *m)
{
	struct kvm_sregs s;
	uint64_t lstar = 0;
	uint8_t gate[16], stub[SYSCALL_FIXUP_STUB_LEN];

	if (sf->installed || sf->gave_up)
		return false;
	/* LSTAR is written by syscall_init() in trap_init(), after the final #PF gate is in the
	 * IDT and long before the first user process. */
	if (kvm_vcpu_get_msr(v, MSR_LSTAR, &lstar) || lstar < KERNEL_HALF)
		return false;
	if (kvm_vcpu_get_sregs(v, &s) || !(s.efer & 0x400) || s.idt.limit < VEC_PF * 16 + 15)
		return false;
	struct paging_state ps = { s.cr0, s.cr3, s.cr4, s.efer };
	if (pagewalk_read(m, &ps, s.idt.base + VEC_PF * 16, gate, sizeof(gate)))
		return false;
	uint16_t lo;
	uint32_t mid_hi;
	memcpy(&lo, gate, 2);
	memcpy(&mid_hi, gate + 8, 4);
	uint64_t handler = lo | (uint64_t)(gate[6] | gate[7] << 8) << 16 | (uint64_t)mid_hi << 32;
	if (!(gate[5] & 0x80) || (gate[5] & 0xf) != IDT_GATE_INTR || handler < KERNEL_HALF)
		return false;

	uint64_t at = find_padding(m, &ps, lstar);
	if (!at) {
		sf->gave_up = true;
		log_warn("quirks", "no int3 padding near the guest's syscall entry %#llx: user-mode "
			 "syscalls will fault on this host", (unsigned long long)lstar);
		return false;
	}
	syscall_fixup_build_stub(stub, lstar, handler);
	if (pagewalk_write(m, &ps, at, stub, sizeof(stub)))
		return false;
	/* Point the gate at the stub. Only offset bits 0..31 change (same kernel half), and they
	 * sit in the gate's first 8 bytes: one aligned 8-byte store. */
	if ((at >> 32) != (handler >> 32))
		return false;
	uint64_t q;
	memcpy(&q, gate, 8);
	q = (q & ~0xffff00000000ffffull) | (at & 0xffff) | ((at >> 16) & 0xffff) << 48;
	uint64_t gpa;
	if (pagewalk_translate(m, &ps, s.idt.base + VEC_PF * 16, &gpa))
		return false;
	uint64_t *slot = guest_mem_ptr(m, gpa, 8);
	if (!slot || (gpa & 7))
		return false;
	__atomic_store_n(slot, q, __ATOMIC_SEQ_CST);
	sf->installed = true;
	sf->stub_gva = at;
	log_debug("quirks", "LSTAR %#llx, #PF handler %#llx, stub at %#llx",
		  (unsigned long long)lstar, (unsigned long long)handler, (unsigned long long)at);
	return true;
}
