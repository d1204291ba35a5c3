/* Unit tests for the x86 decoder. Encodings were assembled with GNU as and checked with
 * objdump -d on the development host; the assembler text is given beside each. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "quirks/x86_decode.h"

#define RIP0 0xffffffff81001000ull

/* Register values with high bits set, so that 32-bit truncation shows. */
static struct x86_gprs regs(void)
{
	struct x86_gprs r = { .rip = RIP0 };

	for (int i = 0; i < 16; i++)
		r.r[i] = 0xffff888000000000ull + 0x10000ull * (uint64_t)(i + 1);
	return r;
}

static struct x86_insn decode_ok(const uint8_t *b, unsigned int n, bool long64,
				 unsigned int want_len)
{
	struct x86_gprs r = regs();
	struct x86_insn in;

	assert_int_equal(x86_decode(b, n, long64, &r, &in), 0);
	assert_int_equal(in.len, want_len);
	return in;
}

#define DECODE64(len, ...) ({ static const uint8_t b_[] = { __VA_ARGS__ }; \
	decode_ok(b_, sizeof(b_), true, len); })
#define DECODE32(len, ...) ({ static const uint8_t b_[] = { __VA_ARGS__ }; \
	decode_ok(b_, sizeof(b_), false, len); })
#define RC(long64, ...) ({ static const uint8_t b_[] = { __VA_ARGS__ }; struct x86_insn i_; \
	struct x86_gprs r_ = regs(); x86_decode(b_, sizeof(b_), long64, &r_, &i_); })

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
#define REG(n) regs().r[n]

static void test_ldmxcsr_simple(void **state)
{
	struct x86_insn in = DECODE64(3, 0x0f, 0xae, 0x10); /* ldmxcsr (%rax) */

	assert_int_equal(in.nr_opcode, 2);
	assert_int_equal(in.opcode[0], 0x0f);
	assert_int_equal(in.opcode[1], 0xae);
	assert_true(in.has_modrm);
	assert_true(in.mem_operand);
	assert_int_equal(in.modrm_mod, 0);
	assert_int_equal(in.modrm_reg, 2);
	assert_int_equal(in.seg, X86_SEG_NONE);
	assert_int_equal(in.ea, REG(RAX));

	in = DECODE64(4, 0x0f, 0xae, 0x55, 0xfc); /* ldmxcsr -0x4(%rbp) */
	assert_int_equal(in.ea, REG(RBP) - 4);

	in = DECODE64(5, 0x0f, 0xae, 0x5c, 0x24, 0x08); /* stmxcsr 0x8(%rsp) */
	assert_int_equal(in.modrm_reg, 3);
	assert_int_equal(in.ea, REG(RSP) + 8);

	in = DECODE64(3, 0x0f, 0xae, 0x2f); /* xrstor (%rdi) */
	assert_int_equal(in.modrm_reg, 5);
	assert_int_equal(in.ea, REG(RDI));
}

static void test_rip_relative(void **state)
{
	/* ldmxcsr 0x12345678(%rip) */
	struct x86_insn in = DECODE64(7, 0x0f, 0xae, 0x15, 0x78, 0x56, 0x34, 0x12);

	assert_int_equal(in.ea, RIP0 + 7 + 0x12345678);
	/* ldmxcsr -0x10(%rip): negative disp32 */
	in = DECODE64(7, 0x0f, 0xae, 0x15, 0xf0, 0xff, 0xff, 0xff);
	assert_int_equal(in.ea, RIP0 + 7 - 0x10);
	/* 41 0f ae 15: rm=101 mod=00 stays RIP-relative with REX.B (not r13) */
	in = DECODE64(8, 0x41, 0x0f, 0xae, 0x15, 0x10, 0, 0, 0);
	assert_int_equal(in.ea, RIP0 + 8 + 0x10);
	assert_int_equal(in.modrm_rm, 13);
	/* RIP-relative with an immediate after the displacement: len includes it.
	 * movl $0x11223344, 0x10(%rip) = c7 05 10 00 00 00 44 33 22 11 */
	in = DECODE64(10, 0xc7, 0x05, 0x10, 0, 0, 0, 0x44, 0x33, 0x22, 0x11);
	assert_int_equal(in.ea, RIP0 + 10 + 0x10);
	/* ldmxcsr 0x10(%eip): 0x67 truncates to 32 bits */
	in = DECODE64(8, 0x67, 0x0f, 0xae, 0x15, 0x10, 0, 0, 0);
	assert_int_equal(in.ea, (uint32_t)(RIP0 + 8 + 0x10));
}

static void test_segment_override(void **state)
{
	/* ldmxcsr %gs:0x10 = 65 0f ae 14 25 10 00 00 00 (SIB, no base, no index) */
	struct x86_insn in = DECODE64(9, 0x65, 0x0f, 0xae, 0x14, 0x25, 0x10, 0, 0, 0);

	assert_int_equal(in.seg, X86_SEG_GS);
	assert_int_equal(in.ea, 0x10);
	/* ldmxcsr %gs:0x18(%rbx): ea excludes the segment base */
	in = DECODE64(5, 0x65, 0x0f, 0xae, 0x53, 0x18);
	assert_int_equal(in.seg, X86_SEG_GS);
	assert_int_equal(in.ea, REG(RBX) + 0x18);
	in = DECODE64(4, 0x64, 0x0f, 0xae, 0x10);
	assert_int_equal(in.seg, X86_SEG_FS);
	in = DECODE64(4, 0x2e, 0x0f, 0xae, 0x10);
	assert_int_equal(in.seg, X86_SEG_CS);
	in = DECODE64(4, 0x36, 0x0f, 0xae, 0x10);
	assert_int_equal(in.seg, X86_SEG_SS);
	in = DECODE64(4, 0x3e, 0x0f, 0xae, 0x10);
	assert_int_equal(in.seg, X86_SEG_DS);
	in = DECODE64(4, 0x26, 0x0f, 0xae, 0x10);
	assert_int_equal(in.seg, X86_SEG_ES);
}

static void test_rex_b_special_cases(void **state)
{
	/* ldmxcsr (%r12) = 41 0f ae 14 24: r12 needs a SIB byte */
	struct x86_insn in = DECODE64(5, 0x41, 0x0f, 0xae, 0x14, 0x24);

	assert_int_equal(in.rex, 0x41);
	assert_int_equal(in.ea, REG(R12));
	/* ldmxcsr 0x0(%r13) = 41 0f ae 55 00: r13 needs mod 1 */
	in = DECODE64(5, 0x41, 0x0f, 0xae, 0x55, 0x00);
	assert_int_equal(in.modrm_rm, 13);
	assert_int_equal(in.ea, REG(R13));
	in = DECODE64(5, 0x41, 0x0f, 0xae, 0x55, 0x08); /* 0x8(%r13) */
	assert_int_equal(in.ea, REG(R13) + 8);
	/* SIB base 101 with mod 0 is disp32 only, even with REX.B: ldmxcsr 0x10 */
	in = DECODE64(9, 0x41, 0x0f, 0xae, 0x14, 0x25, 0x10, 0, 0, 0);
	assert_int_equal(in.ea, 0x10);
	/* ... but with mod 1 it is r13: ldmxcsr 0x8(%r13,%riz,1) */
	in = DECODE64(6, 0x41, 0x0f, 0xae, 0x54, 0x25, 0x08);
	assert_int_equal(in.ea, REG(R13) + 8);
	/* REX.R extends reg: mov %cr8,%rax = 44 0f 20 c0 */
	in = DECODE64(4, 0x44, 0x0f, 0x20, 0xc0);
	assert_int_equal(in.modrm_reg, 8);
	assert_false(in.mem_operand);
}

static void test_sib(void **state)
{
	/* ldmxcsr 0x40(%rax,%rcx,8) */
	struct x86_insn in = DECODE64(5, 0x0f, 0xae, 0x54, 0xc8, 0x40);

	assert_int_equal(in.ea, REG(RAX) + REG(RCX) * 8 + 0x40);
	/* ldmxcsr -0x80(%r8,%r9,4) = 43 0f ae 54 88 80 */
	in = DECODE64(6, 0x43, 0x0f, 0xae, 0x54, 0x88, 0x80);
	assert_int_equal(in.ea, REG(R8) + REG(R9) * 4 - 0x80);
	/* ldmxcsr 0x100(,%rdx,2) = 0f ae 14 55 00 01 00 00 */
	in = DECODE64(8, 0x0f, 0xae, 0x14, 0x55, 0x00, 0x01, 0, 0);
	assert_int_equal(in.ea, REG(RDX) * 2 + 0x100);
	/* ldmxcsr 0x200(%rsp) = 0f ae 94 24 00 02 00 00: index 100 = none */
	in = DECODE64(8, 0x0f, 0xae, 0x94, 0x24, 0x00, 0x02, 0, 0);
	assert_int_equal(in.ea, REG(RSP) + 0x200);
	/* ldmxcsr (%rsp,%r12,1) = 42 0f ae 14 24: index 100 with REX.X is r12 */
	in = DECODE64(5, 0x42, 0x0f, 0xae, 0x14, 0x24);
	assert_int_equal(in.ea, REG(RSP) + REG(R12));
	/* ldmxcsr 0x20(%eax) = 67 0f ae 50 20: 32-bit address size */
	in = DECODE64(5, 0x67, 0x0f, 0xae, 0x50, 0x20);
	assert_int_equal(in.ea, (uint32_t)(REG(RAX) + 0x20));
}

static void test_one_byte_and_nops(void **state)
{
	struct x86_insn in = DECODE64(1, 0xcc); /* int3 */

	assert_false(in.has_modrm);
	assert_int_equal(in.opcode[0], 0xcc);
	assert_int_equal(in.nr_opcode, 1);
	in = DECODE64(1, 0x9b); /* fwait */
	assert_int_equal(in.opcode[0], 0x9b);
	DECODE64(1, 0x90);                                 /* nop */
	DECODE64(3, 0x0f, 0x1f, 0x00);                     /* nopl (%rax) */
	DECODE64(5, 0x66, 0x0f, 0x1f, 0x04, 0x00);         /* nopw (%rax,%rax,1) */
	in = DECODE64(10, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0); /* cs nopw 0x0(...) */
	assert_true(in.opsize_prefix);
	DECODE64(4, 0xf3, 0x0f, 0x1e, 0xfa);               /* endbr64 */
	in = DECODE64(3, 0x0f, 0x01, 0xd1);                /* xsetbv */
	assert_false(in.mem_operand);
	assert_int_equal(in.modrm_mod, 3);
	/* mov %cr0,%rbp = 0f 20 05: mod is ignored for CR moves, no displacement */
	in = DECODE64(3, 0x0f, 0x20, 0x05);
	assert_false(in.mem_operand);
	in = DECODE64(2, 0x8f, 0x00);                      /* pop (%rax) */
	assert_true(in.mem_operand);
	in = DECODE64(5, 0x66, 0x0f, 0x38, 0x00, 0xc1);    /* pshufb %xmm1,%xmm0 */
	assert_int_equal(in.nr_opcode, 3);
	assert_int_equal(in.opcode[2], 0x00);
	DECODE64(6, 0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x08);   /* palignr $8,%xmm1,%xmm0 */
}

static void test_immediates(void **state)
{
	DECODE64(5, 0xb8, 0x78, 0x56, 0x34, 0x12);          /* mov $0x12345678,%eax */
	struct x86_insn in = DECODE64(10, 0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33,
				      0x22, 0x11);          /* movabs $imm64,%rax */
	assert_int_equal(in.rex, 0x48);
	in = DECODE64(7, 0xc7, 0x43, 0x08, 0x44, 0x33, 0x22, 0x11); /* movl $imm32,0x8(%rbx) */
	assert_int_equal(in.ea, REG(RBX) + 8);
	DECODE64(6, 0x66, 0xc7, 0x43, 0x08, 0x34, 0x12);    /* movw $0x1234,0x8(%rbx) */
	DECODE64(8, 0x66, 0x48, 0xc7, 0x03, 0x44, 0x33, 0x22, 0x11); /* REX.W beats 0x66 */
	in = DECODE64(4, 0xf0, 0x83, 0x07, 0x01);           /* lock addl $1,(%rdi) */
	assert_true(in.lock_prefix);
	in = DECODE64(2, 0xf3, 0xa4);                       /* rep movsb */
	assert_int_equal(in.rep_prefix, 0xf3);
	DECODE64(5, 0xe8, 0xfb, 0x00, 0x00, 0x00);          /* call rel32 */
	DECODE64(6, 0x0f, 0x85, 0xfa, 0x0f, 0x00, 0x00);    /* jne rel32 */
	DECODE64(3, 0xf6, 0x00, 0x01);                      /* testb $1,(%rax) */
	DECODE64(6, 0xf7, 0x00, 0x00, 0x10, 0x00, 0x00);    /* testl $0x1000,(%rax) */
	DECODE64(2, 0xf7, 0x10);                            /* notl (%rax): no imm */
	DECODE64(4, 0x48, 0x83, 0xc0, 0x7f);                /* add $0x7f,%rax */
	DECODE64(2, 0xa8, 0x01);                            /* test $1,%al */
	DECODE64(4, 0xc8, 0x10, 0x00, 0x01);                /* enter $0x10,$1 */
	DECODE64(3, 0xc2, 0x08, 0x00);                      /* ret $8 */
	DECODE64(9, 0xa1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11); /* movabs moffs */
	DECODE64(6, 0x67, 0xa1, 0x44, 0x33, 0x22, 0x11);    /* addr32 mov moffs32 */
}

static void test_rex_position(void **state)
{
	/* 48 66 b8 44 33: a REX before a legacy prefix is ignored -> mov $0x3344,%ax */
	struct x86_insn in = DECODE64(5, 0x48, 0x66, 0xb8, 0x44, 0x33);

	assert_int_equal(in.rex, 0);
	/* two REX bytes: the last one counts */
	in = DECODE64(11, 0x40, 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8);
	assert_int_equal(in.rex, 0x48);
}

static void test_mode32(void **state)
{
	struct x86_insn in = DECODE32(3, 0x0f, 0xae, 0x10); /* ldmxcsr (%eax) */

	assert_int_equal(in.ea, (uint32_t)REG(RAX));
	in = DECODE32(4, 0x0f, 0xae, 0x55, 0x10);           /* ldmxcsr 0x10(%ebp) */
	assert_int_equal(in.ea, (uint32_t)(REG(RBP) + 0x10));
	/* ldmxcsr 0x12345678: absolute disp32, not RIP-relative outside 64-bit mode */
	in = DECODE32(7, 0x0f, 0xae, 0x15, 0x78, 0x56, 0x34, 0x12);
	assert_int_equal(in.ea, 0x12345678);
	/* ldmxcsr %fs:0x4(%esi,%edi,4) */
	in = DECODE32(6, 0x64, 0x0f, 0xae, 0x54, 0xbe, 0x04);
	assert_int_equal(in.seg, X86_SEG_FS);
	assert_int_equal(in.ea, (uint32_t)(REG(RSI) + REG(RDI) * 4 + 4));
	in = DECODE32(1, 0x40);                             /* inc %eax, not REX */
	assert_int_equal(in.rex, 0);
	assert_int_equal(in.opcode[0], 0x40);
	/* a 0x4x byte before the opcode is an instruction of its own in 32-bit mode */
	DECODE32(1, 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8);
	DECODE32(5, 0xb8, 0x44, 0x33, 0x22, 0x11);          /* mov $imm32,%eax */
	DECODE32(4, 0x66, 0xb8, 0x22, 0x11);                /* mov $imm16,%ax */
	DECODE32(2, 0xc5, 0x00);                            /* lds (%eax),%eax */
	DECODE32(7, 0xea, 0, 0, 0x10, 0, 0x10, 0);          /* ljmp $0x10,$0x100000 */
	DECODE32(5, 0xa1, 0x00, 0x10, 0x00, 0x00);          /* mov 0x1000,%eax */
	DECODE32(1, 0x06);                                  /* push %es */
	DECODE32(3, 0x67, 0x89, 0xc0);                      /* 0x67 with register operands */
	DECODE32(5, 0xe8, 1, 2, 3, 4);                      /* call rel32 */
}

static void test_truncated(void **state)
{
	static const struct { uint8_t b[12]; unsigned int len; } insns[] = {
		{ { 0x0f, 0xae, 0x15, 0x78, 0x56, 0x34, 0x12 }, 7 },
		{ { 0x65, 0x0f, 0xae, 0x14, 0x25, 0x10, 0, 0, 0 }, 9 },
		{ { 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8 }, 10 },
		{ { 0x43, 0x0f, 0xae, 0x54, 0x88, 0x80 }, 6 },
		{ { 0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x08 }, 6 },
		{ { 0xc7, 0x05, 0x10, 0, 0, 0, 0x44, 0x33, 0x22, 0x11 }, 10 },
	};
	struct x86_gprs r = regs();
	struct x86_insn in;

	for (size_t i = 0; i < sizeof(insns) / sizeof(insns[0]); i++) {
		for (unsigned int n = 0; n < insns[i].len; n++)
			assert_int_equal(x86_decode(insns[i].b, n, true, &r, &in), -ENODATA);
		assert_int_equal(x86_decode(insns[i].b, insns[i].len, true, &r, &in), 0);
		assert_int_equal(in.len, insns[i].len);
	}
}

static void test_invalid(void **state)
{
	struct x86_insn in;
	uint8_t b[16];

	assert_int_equal(RC(true, 0xc5, 0xf8, 0x77), -EINVAL);        /* vzeroupper (VEX2) */
	assert_int_equal(RC(true, 0xc4, 0xe2, 0x79, 0x00, 0xc1), -EINVAL); /* VEX3 */
	assert_int_equal(RC(true, 0xc4), -EINVAL);                    /* known before more bytes */
	assert_int_equal(RC(true, 0x62, 0xf1, 0x7c, 0x48, 0x28, 0xc1), -EINVAL); /* EVEX */
	assert_int_equal(RC(false, 0xc5, 0xf8, 0x77), -EINVAL);       /* VEX in 32-bit mode */
	assert_int_equal(RC(false, 0x62, 0xf1, 0x7c, 0x48), -EINVAL); /* EVEX in 32-bit mode */
	assert_int_equal(RC(false, 0xc5), -ENODATA);                  /* lds or VEX: need more */
	assert_int_equal(RC(true, 0x8f, 0xe9, 0x78, 0x80, 0xc1), -EINVAL); /* XOP */
	assert_int_equal(RC(true, 0x06), -EINVAL);                    /* push %es in 64-bit */
	assert_int_equal(RC(true, 0xea, 0, 0, 0, 0, 0, 0), -EINVAL);  /* far jmp in 64-bit */
	assert_int_equal(RC(true, 0x0f, 0x04), -EINVAL);
	assert_int_equal(RC(true, 0x0f, 0x0f, 0xc1, 0x0d), -EINVAL);  /* 3DNow! */
	assert_int_equal(RC(true, 0x0f, 0x3b), -EINVAL);
	assert_int_equal(RC(false, 0x67, 0x0f, 0xae, 0x10), -EINVAL); /* 16-bit addressing */
	assert_int_equal(x86_decode(NULL, 4, true, NULL, &in), -EINVAL);

	/* 15 bytes is the architectural limit */
	memset(b, 0x66, sizeof(b));
	b[14] = 0x90;
	assert_int_equal(x86_decode(b, 15, true, NULL, &in), 0);
	assert_int_equal(in.len, 15);
	b[14] = 0x66;
	b[15] = 0x90;
	assert_int_equal(x86_decode(b, 16, true, NULL, &in), -EINVAL);
}

static void test_null_regs(void **state)
{
	struct x86_insn in;
	static const uint8_t b[] = { 0x0f, 0xae, 0x55, 0xfc };

	assert_int_equal(x86_decode(b, sizeof(b), true, NULL, &in), 0);
	assert_int_equal(in.len, 4);
}

static void test_format_bytes(void **state)
{
	static const uint8_t b[] = { 0x0f, 0xae, 0x55, 0xfc };
	char buf[32];

	x86_format_bytes(b, 4, buf, sizeof(buf));
	assert_string_equal(buf, "0f ae 55 fc");
	x86_format_bytes(b, 4, buf, 9); /* room for 2 whole bytes + " 55" needs 9 w/ NUL */
	assert_string_equal(buf, "0f ae 55");
	x86_format_bytes(b, 4, buf, 8);
	assert_string_equal(buf, "0f ae");
	x86_format_bytes(b, 4, buf, 2);
	assert_string_equal(buf, "");
	x86_format_bytes(b, 0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	buf[0] = 'x';
	x86_format_bytes(b, 4, buf, 0); /* must not write */
	assert_int_equal(buf[0], 'x');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ldmxcsr_simple),
		cmocka_unit_test(test_rip_relative),
		cmocka_unit_test(test_segment_override),
		cmocka_unit_test(test_rex_b_special_cases),
		cmocka_unit_test(test_sib),
		cmocka_unit_test(test_one_byte_and_nops),
		cmocka_unit_test(test_immediates),
		cmocka_unit_test(test_rex_position),
		cmocka_unit_test(test_mode32),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_null_regs),
		cmocka_unit_test(test_format_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
