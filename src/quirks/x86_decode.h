/* A minimal x86 instruction decoder for the instructions kiln completes on behalf of a host
 * whose KVM cannot emulate them: legacy/REX prefixes, opcode, ModRM/SIB/displacement and the
 * effective address of a memory operand (Intel SDM vol. 2 chapter 2). It never executes
 * anything; it only describes the instruction. */
#ifndef KILN_QUIRKS_X86_DECODE_H
#define KILN_QUIRKS_X86_DECODE_H

#include <stdbool.h>
#include <stdint.h>

/* General registers in hardware encoding order (RAX=0 ... R15=15), as KVM_GET_REGS has them. */
struct x86_gprs {
	uint64_t r[16];
	uint64_t rip;
};

enum x86_seg { X86_SEG_ES, X86_SEG_CS, X86_SEG_SS, X86_SEG_DS, X86_SEG_FS, X86_SEG_GS, X86_SEG_NONE };

/* A decoded instruction. */
struct x86_insn {
	uint8_t len;          /* total length in bytes */
	uint8_t opcode[3];    /* opcode bytes (0x0f escapes included), nr_opcode of them */
	uint8_t nr_opcode;
	bool has_modrm;
	uint8_t modrm_mod, modrm_reg, modrm_rm; /* reg/rm already extended by REX.R/REX.B */
	bool mem_operand;     /* ModRM names memory (mod != 3) */
	uint64_t ea;          /* effective address (offset, before segment base) when mem_operand */
	enum x86_seg seg;     /* segment override prefix, or X86_SEG_NONE */
	uint8_t rex;          /* REX byte, or 0 */
	bool opsize_prefix;   /* 0x66 */
	uint8_t rep_prefix;   /* 0xf2, 0xf3 or 0 */
	bool lock_prefix;
};

/* Decodes one instruction from `bytes` (`avail` of them) in 64-bit mode (long64 true) or
 * 32-bit protected mode. `regs` supplies register values for the effective address (RIP-relative
 * uses regs->rip + len). Returns 0, -EINVAL for an instruction it cannot decode (unknown
 * opcode map, 16-bit addressing), -ENODATA when `avail` bytes are not enough. */
int x86_decode(const uint8_t *bytes, unsigned int avail, bool long64, const struct x86_gprs *regs,
	       struct x86_insn *out) __attribute__((warn_unused_result));

/* Writes a printable hex dump "0f ae 55 fc" of up to `n` bytes into buf (size bufsz). */
void x86_format_bytes(const uint8_t *bytes, unsigned int n, char *buf, unsigned int bufsz);

#endif
