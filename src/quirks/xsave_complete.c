#include "quirks/xsave_complete.h"

#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#define AREA_SIZE 4096u          /* struct kvm_xsave region, bytes */
#define HDR 512u                 /* XSAVE header offset (SDM vol. 1 13.4.2) */
#define HDR_LEN 64u
#define MXCSR_OFF 24u            /* MXCSR and MXCSR_MASK, legacy region (SDM vol. 1 10.5.1) */
#define MXCSR_MASK_OFF 28u
#define MXCSR_DEFAULT_MASK 0xffbfu
#define X87_FCW_INIT 0x037fu
#define XFEATURE_X87 (1ull << 0)
#define XFEATURE_SSE (1ull << 1)
#define XFEATURE_YMM (1ull << 2)

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* CPUID 0xd sub-leaves 2..62 of the host, read once: every guest context switch comes through
 * here, and CPUID itself traps to the host's hypervisor. off == 0: no such user component. */
static struct { uint32_t off, len; } spans[63];
static pthread_once_t spans_once = PTHREAD_ONCE_INIT;

static void read_spans(void)
{
	for (unsigned int i = 2; i < 63; i++) {
		unsigned int eax, ebx, ecx, edx;

		if (!__get_cpuid_count(0xd, i, &eax, &ebx, &ecx, &edx) || eax == 0)
			continue;
		if (ecx & 1) /* a supervisor component: not in the standard form's user area */
			continue;
		if ((uint64_t)ebx + eax > AREA_SIZE || ebx < HDR + HDR_LEN)
			continue;
		spans[i].off = ebx;
		spans[i].len = eax;
	}
}

bool xsave_component_span(unsigned int i, uint32_t *off, uint32_t *len)
{
	if (i >= 63)
		return false;
	if (i == 0) { /* FCW..FDP (bytes 0-23) and ST0-7 (32-159); MXCSR belongs to SSE/AVX */
		*off = 0;
		*len = 160;
		return true;
	}
	if (i == 1) { /* XMM0-15 */
		*off = 160;
		*len = 256;
		return true;
	}
	pthread_once(&spans_once, read_spans);
	if (!spans[i].off)
		return false;
	*off = spans[i].off;
	*len = spans[i].len;
	return true;
}

/* Copies component i's bytes from src to dst (x87: all but MXCSR/MXCSR_MASK). */
static void copy_component(uint8_t *dst, const uint8_t *src, unsigned int i)
{
	uint32_t off, len;

	if (!xsave_component_span(i, &off, &len))
		return;
	if (i == 0) {
		memcpy(dst, src, MXCSR_OFF);
		memcpy(dst + 32, src + 32, 128);
		return;
	}
	memcpy(dst + off, src + off, len);
}

/* Puts component i in its initial configuration (SDM vol. 1 13.6). */
static void init_component(uint8_t *area, unsigned int i)
{
	uint32_t off, len;

	if (!xsave_component_span(i, &off, &len))
		return;
	if (i == 0) {
		memset(area, 0, MXCSR_OFF);
		memset(area + 32, 0, 128);
		area[0] = X87_FCW_INIT & 0xff;
		area[1] = X87_FCW_INIT >> 8;
		return;
	}
	memset(area + off, 0, len);
}

/* The highest byte (exclusive) of the area that components in rfbm occupy. */
static uint32_t area_end(uint64_t rfbm)
{
	uint32_t end = HDR + HDR_LEN, off, len;

	for (unsigned int i = 2; i < 63; i++)
		if ((rfbm >> i) & 1 && xsave_component_span(i, &off, &len) && off + len > end)
			end = off + len;
	return end;
}

/* Turns a pagewalk_access() failure at page `va` into the exception the CPU would raise. */
static int fault_from(int r, uint64_t va, bool write, struct xsave_fault *f)
{
	switch (r) {
	case -ENOENT:
	case -EACCES:
		f->kind = XSAVE_PF;
		f->addr = va;
		f->error_code = (r == -EACCES ? 1u : 0u) | (write ? 2u : 0u);
		return 0;
	case -EINVAL:
		f->kind = XSAVE_GP;
		return 0;
	default:
		return r;
	}
}

int xsave_store(struct kvm_vcpu *v, const struct guest_mem *m, const struct paging_state *ps,
		uint64_t la, uint64_t rfbm, struct xsave_fault *fault)
{
	static _Thread_local struct kvm_xsave kx;
	static _Thread_local uint8_t area[AREA_SIZE];
	uint32_t end = area_end(rfbm);
	uint64_t va;
	int r;

	*fault = (struct xsave_fault){ 0 };
	if (la & 63) {
		fault->kind = XSAVE_GP;
		return 0;
	}
	r = kvm_vcpu_get_xsave(v, &kx);
	if (r)
		return r;
	const uint8_t *state = (const uint8_t *)kx.region;
	/* Read-modify-write: components outside rfbm and the rest of the header keep their bytes.
	 * Probe for writing first, so a read-only page faults as the store would. */
	r = pagewalk_access(m, ps, la, area, end, false, &va);
	if (!r)
		r = pagewalk_access(m, ps, la, area, end, true, &va);
	if (r)
		return fault_from(r, va, true, fault);
	for (unsigned int i = 0; i < 63; i++)
		if ((rfbm >> i) & 1)
			copy_component(area, state, i);
	if (rfbm & (XFEATURE_SSE | XFEATURE_YMM))
		memcpy(area + MXCSR_OFF, state + MXCSR_OFF, 8);
	uint64_t inuse = get64(state + HDR);
	put64(area + HDR, (get64(area + HDR) & ~rfbm) | (inuse & rfbm));
	r = pagewalk_access(m, ps, la, area, end, true, &va);
	if (r)
		return fault_from(r, va, true, fault);
	return 0;
}

int xsave_load(struct kvm_vcpu *v, const struct guest_mem *m, const struct paging_state *ps,
	       uint64_t la, uint64_t rfbm, uint64_t xcr0, struct xsave_fault *fault)
{
	static _Thread_local struct kvm_xsave kx;
	static _Thread_local uint8_t area[AREA_SIZE];
	uint32_t end = area_end(rfbm), mxcsr, mask;
	uint64_t va;
	int r;

	*fault = (struct xsave_fault){ 0 };
	if (la & 63) {
		fault->kind = XSAVE_GP;
		return 0;
	}
	/* One copy out of guest memory; everything below is checked on that copy. */
	r = pagewalk_access(m, ps, la, area, end, false, &va);
	if (r)
		return fault_from(r, va, false, fault);
	uint64_t xstate_bv = get64(area + HDR), xcomp_bv = get64(area + HDR + 8);
	/* Standard form: XCOMP_BV and header bytes 16-23 zero, XSTATE_BV within XCR0. */
	if (xcomp_bv || get64(area + HDR + 16) || (xstate_bv & ~xcr0)) {
		fault->kind = XSAVE_GP;
		return 0;
	}
	r = kvm_vcpu_get_xsave(v, &kx);
	if (r)
		return r;
	uint8_t *state = (uint8_t *)kx.region;
	if (rfbm & (XFEATURE_SSE | XFEATURE_YMM)) {
		memcpy(&mxcsr, area + MXCSR_OFF, 4);
		memcpy(&mask, state + MXCSR_MASK_OFF, 4);
		if (!mask)
			mask = MXCSR_DEFAULT_MASK;
		if (mxcsr & ~mask) {
			fault->kind = XSAVE_GP;
			return 0;
		}
		memcpy(state + MXCSR_OFF, &mxcsr, 4);
	}
	for (unsigned int i = 0; i < 63; i++) {
		if (!((rfbm >> i) & 1))
			continue;
		if ((xstate_bv >> i) & 1)
			copy_component(state, area, i);
		else
			init_component(state, i);
	}
	uint64_t bv = get64(state + HDR);
	put64(state + HDR, (bv & ~rfbm) | (xstate_bv & rfbm));
	put64(state + HDR + 8, 0);
	return kvm_vcpu_set_xsave(v, &kx);
}
