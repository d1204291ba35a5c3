/* Length and memory-operand decoder for x86 instructions in 32- and 64-bit mode (Intel SDM
 * vol. 2 chapter 2 and appendix A). It handles legacy and REX prefixes, the one-byte map, the
 * 0x0f map and the 0x0f 0x38 / 0x0f 0x3a maps; VEX, EVEX, XOP and 3DNow! are refused. */
#include "quirks/x86_decode.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define X86_MAX_LEN 15

/* Opcode attributes: low nibble = immediate kind, high bits = flags. */
enum imm_kind {
	IMM_NONE,
	IMM_B,     /* 1 byte */
	IMM_W,     /* 2 bytes */
	IMM_Z,     /* 2 with 0x66, else 4 */
	IMM_V,     /* IMM_Z, or 8 with REX.W (mov r64, imm64) */
	IMM_REL,   /* near branch rel16/32: always 4 in 64-bit mode */
	IMM_ENTER, /* iw + ib */
	IMM_FAR,   /* ptr16:16 / ptr16:32 */
	IMM_MOFFS, /* address-sized offset */
	IMM_G3B,   /* group 3 (f6): ib for /0 and /1 only */
	IMM_G3Z,   /* group 3 (f7): iz for /0 and /1 only */
};

#define M   0x10 /* has a ModRM byte */
#define I64 0x20 /* invalid in 64-bit mode */
#define BAD 0x40 /* invalid or not handled */
#define PFX 0x80 /* prefix or escape: never looked up */

#define B_ IMM_B
#define W_ IMM_W
#define Z_ IMM_Z
#define MB (M | IMM_B)
#define MZ (M | IMM_Z)
#define RL IMM_REL
#define NI (I64)

/* One-byte opcode map (SDM vol. 2 table A-2). */
static const uint8_t map1[256] = {
	/*         0     1     2     3     4     5     6     7     8     9     a     b     c     d     e     f */
	/* 0 */    M,    M,    M,    M,   B_,   Z_,   NI,   NI,    M,    M,    M,    M,   B_,   Z_,   NI,  PFX,
	/* 1 */    M,    M,    M,    M,   B_,   Z_,   NI,   NI,    M,    M,    M,    M,   B_,   Z_,   NI,   NI,
	/* 2 */    M,    M,    M,    M,   B_,   Z_,  PFX,   NI,    M,    M,    M,    M,   B_,   Z_,  PFX,   NI,
	/* 3 */    M,    M,    M,    M,   B_,   Z_,  PFX,   NI,    M,    M,    M,    M,   B_,   Z_,  PFX,   NI,
	/* 4 */    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
	/* 5 */    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
	/* 6 */   NI,   NI, M|NI,    M,  PFX,  PFX,  PFX,  PFX,   Z_,   MZ,   B_,   MB,    0,    0,    0,    0,
	/* 7 */   B_,   B_,   B_,   B_,   B_,   B_,   B_,   B_,   B_,   B_,   B_,   B_,   B_,   B_,   B_,   B_,
	/* 8 */   MB,   MZ, MB|NI,  MB,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,
	/* 9 */    0,    0,    0,    0,    0,    0,    0,    0,    0,    0, IMM_FAR|NI, 0, 0,    0,    0,    0,
	/* a */ IMM_MOFFS, IMM_MOFFS, IMM_MOFFS, IMM_MOFFS, 0, 0, 0,   0,   B_,   Z_,    0,    0,    0,    0,    0,    0,
	/* b */   B_,   B_,   B_,   B_,   B_,   B_,   B_,   B_, IMM_V, IMM_V, IMM_V, IMM_V, IMM_V, IMM_V, IMM_V, IMM_V,
	/* c */   MB,   MB,   W_,    0, M|NI, M|NI,   MB,   MZ, IMM_ENTER, 0, W_,   0,    0,   B_,   NI,    0,
	/* d */    M,    M,    M,    M, B_|NI, B_|NI,  NI,    0,    M,    M,    M,    M,    M,    M,    M,    M,
	/* e */   B_,   B_,   B_,   B_,   B_,   B_,   B_,   B_,   RL,   RL, IMM_FAR|NI, B_, 0,   0,    0,    0,
	/* f */  PFX,    0,  PFX,  PFX,    0,    0, M|IMM_G3B, M|IMM_G3Z, 0, 0,   0,    0,    0,    0,    M,    M,
};

/* Two-byte opcode map 0x0f xx (SDM vol. 2 table A-3). */
static const uint8_t map2[256] = {
	/*         0     1     2     3     4     5     6     7     8     9     a     b     c     d     e     f */
	/* 0 */    M,    M,    M,    M,  BAD,    0,    0,    0,    0,    0,  BAD,    0,  BAD,    M,    0,  BAD,
	/* 1 */    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,
	/* 2 */    M,    M,    M,    M,  BAD,  BAD,  BAD,  BAD,    M,    M,    M,    M,    M,    M,    M,    M,
	/* 3 */    0,    0,    0,    0,    0,    0,  BAD,    0,  PFX,  BAD,  PFX,  BAD,  BAD,  BAD,  BAD,  BAD,
	/* 4 */    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,
	/* 5 */    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,
	/* 6 */    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,
	/* 7 */   MB,   MB,   MB,   MB,    M,    M,    M,    0,    M,    M,  BAD,  BAD,    M,    M,    M,    M,
	/* 8 */   RL,   RL,   RL,   RL,   RL,   RL,   RL,   RL,   RL,   RL,   RL,   RL,   RL,   RL,   RL,   RL,
	/* 9 */    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,
	/* a */    0,    0,    0,    M,   MB,    M,  BAD,  BAD,    0,    0,    0,    M,   MB,    M,    M,    M,
	/* b */    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,   MB,    M,    M,    M,    M,    M,
	/* c */    M,    M,   MB,    M,   MB,   MB,   MB,    M,    0,    0,    0,    0,    0,    0,    0,    0,
	/* d */    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,
	/* e */    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,
	/* f */    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,    M,
};

/* Decoder cursor over the caller's bytes. */
struct cursor {
	const uint8_t *bytes;
	unsigned int avail, pos;
};

/* Memory operand pieces, combined into an ea once the instruction length is known. */
struct mem_ref {
	int base;       /* register number, or -1 */
	int index;      /* register number, or -1 */
	unsigned int scale;
	int64_t disp;
	bool rip_rel;
};

static int next(struct cursor *c, uint8_t *b)
{
	if (c->pos >= X86_MAX_LEN)
		return -EINVAL; /* the CPU raises #UD beyond 15 bytes */
	if (c->pos >= c->avail)
		return -ENODATA;
	*b = c->bytes[c->pos++];
	return 0;
}

static int peek(const struct cursor *c, uint8_t *b)
{
	if (c->pos >= c->avail)
		return -ENODATA;
	*b = c->bytes[c->pos];
	return 0;
}

static int skip(struct cursor *c, unsigned int n, int64_t *val)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++) {
		uint8_t b;
		int rc = next(c, &b);

		if (rc)
			return rc;
		v |= (uint64_t)b << (8 * i);
	}
	if (val && n > 0 && n < 8) /* sign-extend */
		v = (uint64_t)((int64_t)(v << (64 - 8 * n)) >> (64 - 8 * n));
	if (val)
		*val = (int64_t)v;
	return 0;
}

static enum x86_seg seg_of(uint8_t b)
{
	switch (b) {
	case 0x26: return X86_SEG_ES;
	case 0x2e: return X86_SEG_CS;
	case 0x36: return X86_SEG_SS;
	case 0x3e: return X86_SEG_DS;
	case 0x64: return X86_SEG_FS;
	case 0x65: return X86_SEG_GS;
	default: return X86_SEG_NONE;
	}
}

/* Consumes legacy and REX prefixes; stops at the first opcode byte (not consumed). A REX
 * followed by another prefix is ignored, as the CPU does. */
static int decode_prefixes(struct cursor *c, bool long64, struct x86_insn *in, bool *addr_ovr)
{
	for (;;) {
		uint8_t b;
		int rc = peek(c, &b);

		if (rc)
			return rc;
		if (long64 && (b & 0xf0) == 0x40) {
			if ((rc = next(c, &in->rex)))
				return rc;
			continue;
		}
		if (b == 0x66)
			in->opsize_prefix = true;
		else if (b == 0x67)
			*addr_ovr = true;
		else if (b == 0xf0)
			in->lock_prefix = true;
		else if (b == 0xf2 || b == 0xf3)
			in->rep_prefix = b;
		else if (seg_of(b) != X86_SEG_NONE)
			in->seg = seg_of(b);
		else
			return 0;
		in->rex = 0;
		if ((rc = next(c, &b)))
			return rc;
	}
}

/* Reads the opcode bytes and returns the attribute byte of the final one in *attr. */
static int decode_opcode(struct cursor *c, bool long64, struct x86_insn *in, uint8_t *attr)
{
	uint8_t b;
	int rc = next(c, &b);

	if (rc)
		return rc;
	in->opcode[in->nr_opcode++] = b;
	if (b != 0x0f) {
		*attr = map1[b];
		return (*attr & I64) && long64 ? -EINVAL : 0;
	}
	if ((rc = next(c, &b)))
		return rc;
	in->opcode[in->nr_opcode++] = b;
	if (b != 0x38 && b != 0x3a) {
		*attr = map2[b];
		return (*attr & (BAD | PFX)) ? -EINVAL : 0;
	}
	*attr = b == 0x38 ? M : MB; /* every 0f 38 has ModRM; every 0f 3a also an ib */
	if ((rc = next(c, &b)))
		return rc;
	in->opcode[in->nr_opcode++] = b;
	return 0;
}

/* Refuses encodings that reuse an opcode with a ModRM-like byte: VEX (c4/c5), EVEX (62) in
 * 32-bit mode when that byte has mod 3, and XOP (8f with reg != 0). 64-bit mode already
 * refused c4/c5/62 through the I64 flag. */
static int check_escapes(const struct cursor *c, const struct x86_insn *in)
{
	uint8_t op = in->opcode[0], b;
	int rc;

	if (in->nr_opcode != 1 || (op != 0xc4 && op != 0xc5 && op != 0x62 && op != 0x8f))
		return 0;
	if ((rc = peek(c, &b)))
		return rc;
	if (op == 0x8f)
		return (b & 0x38) ? -EINVAL : 0;
	return (b >> 6) == 3 ? -EINVAL : 0;
}

static int decode_sib(struct cursor *c, const struct x86_insn *in, uint8_t mod, struct mem_ref *r)
{
	uint8_t sib;
	int rc = next(c, &sib);

	if (rc)
		return rc;
	int index = ((sib >> 3) & 7) | ((in->rex & 0x02) << 2);
	int base = (sib & 7) | ((in->rex & 0x01) << 3);

	r->scale = 1u << (sib >> 6);
	r->index = index == 4 ? -1 : index; /* only 4 without REX.X means "none" */
	if ((sib & 7) == 5 && mod == 0) {
		r->base = -1;
		return skip(c, 4, &r->disp);
	}
	r->base = base;
	return 0;
}

/* Decodes ModRM, SIB and displacement (32/64-bit addressing only). */
static int decode_modrm(struct cursor *c, bool long64, bool addr16, struct x86_insn *in,
			struct mem_ref *r)
{
	uint8_t modrm;
	int rc = next(c, &modrm);

	if (rc)
		return rc;
	in->has_modrm = true;
	in->modrm_mod = modrm >> 6;
	in->modrm_reg = ((modrm >> 3) & 7) | ((in->rex & 0x04) << 1);
	in->modrm_rm = (modrm & 7) | ((in->rex & 0x01) << 3);
	if (in->nr_opcode == 2 && (in->opcode[1] & 0xfc) == 0x20)
		in->modrm_mod = 3; /* mov to/from CRn/DRn: mod is ignored, always registers */
	if (in->modrm_mod == 3)
		return 0;
	in->mem_operand = true;
	if (addr16)
		return -EINVAL;

	*r = (struct mem_ref){ .base = in->modrm_rm, .index = -1, .scale = 1 };
	if ((modrm & 7) == 4) {
		if ((rc = decode_sib(c, in, in->modrm_mod, r)))
			return rc;
	} else if ((modrm & 7) == 5 && in->modrm_mod == 0) {
		r->base = -1; /* disp32 only; RIP-relative in 64-bit mode, whatever REX.B says */
		r->rip_rel = long64;
		return skip(c, 4, &r->disp);
	}
	if (in->modrm_mod == 1)
		return skip(c, 1, &r->disp);
	if (in->modrm_mod == 2)
		return skip(c, 4, &r->disp);
	return 0;
}

/* Immediate size in bytes for attribute `attr`. */
static unsigned int imm_size(uint8_t attr, bool long64, bool addr_ovr, const struct x86_insn *in)
{
	/* REX.W overrides 0x66 (SDM vol. 2 table 3-4) */
	unsigned int z = in->opsize_prefix && !(in->rex & 0x08) ? 2 : 4;
	bool group3_test = (in->modrm_reg & 7) <= 1;

	switch (attr & 0x0f) {
	case IMM_B: return 1;
	case IMM_W: return 2;
	case IMM_Z: return z;
	case IMM_V: return (in->rex & 0x08) ? 8 : z;
	case IMM_REL: return long64 ? 4 : z;
	case IMM_ENTER: return 3;
	case IMM_FAR: return z + 2;
	case IMM_MOFFS: return long64 ? (addr_ovr ? 4 : 8) : (addr_ovr ? 2 : 4);
	case IMM_G3B: return group3_test ? 1 : 0;
	case IMM_G3Z: return group3_test ? z : 0;
	default: return 0;
	}
}

static uint64_t effective_address(const struct mem_ref *r, const struct x86_gprs *regs,
				  const struct x86_insn *in, bool addr32)
{
	uint64_t ea = (uint64_t)r->disp;

	if (r->rip_rel)
		ea += regs->rip + in->len;
	if (r->base >= 0)
		ea += regs->r[r->base];
	if (r->index >= 0)
		ea += regs->r[r->index] * r->scale;
	return addr32 ? (uint32_t)ea : ea;
}

int x86_decode(const uint8_t *bytes, unsigned int avail, bool long64, const struct x86_gprs *regs,
	       struct x86_insn *out)
{
	static const struct x86_gprs zero_regs;
	struct cursor c = { .bytes = bytes, .avail = avail };
	struct mem_ref ref = { .base = -1, .index = -1, .scale = 1 };
	bool addr_ovr = false;
	uint8_t attr;
	int rc;

	memset(out, 0, sizeof(*out));
	out->seg = X86_SEG_NONE;
	if (!bytes)
		return -EINVAL;
	if ((rc = decode_prefixes(&c, long64, out, &addr_ovr)))
		return rc;
	if ((rc = decode_opcode(&c, long64, out, &attr)))
		return rc;
	if (attr & (BAD | PFX))
		return -EINVAL;
	if (attr & M) {
		if ((rc = check_escapes(&c, out)))
			return rc;
		if ((rc = decode_modrm(&c, long64, !long64 && addr_ovr, out, &ref)))
			return rc;
	}
	if ((rc = skip(&c, imm_size(attr, long64, addr_ovr, out), NULL)))
		return rc;
	out->len = (uint8_t)c.pos;
	if (out->mem_operand)
		out->ea = effective_address(&ref, regs ? regs : &zero_regs, out,
					    !long64 || addr_ovr);
	return 0;
}

void x86_format_bytes(const uint8_t *bytes, unsigned int n, char *buf, unsigned int bufsz)
{
	unsigned int used = 0;

	if (!buf || bufsz == 0)
		return;
	buf[0] = '\0';
	for (unsigned int i = 0; bytes && i < n; i++) {
		unsigned int need = i ? 3 : 2; /* " xx" or "xx" */

		if (used + need + 1 > bufsz)
			break;
		snprintf(buf + used, bufsz - used, i ? " %02x" : "%02x", bytes[i]);
		used += need;
	}
}
