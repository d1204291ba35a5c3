/* Emulating-host quirks that need no KVM: the mode switch, the feature mask, the guest command
 * line, and the bytes of the syscall redirection stub (syscall_fixup_try needs a live vCPU and
 * is covered end to end, not here). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quirks/emulated_host.h"
#include "quirks/syscall_fixup.h"

/* The four features the emulator cannot run, with Linux's X86_FEATURE numbers. */
static const struct {
	const char *name;
	unsigned int linux_nr;
} quirk_features[] = {
	{ "smap", 9 * 32 + 20 },
	{ "popcnt", 4 * 32 + 23 },
	{ "ssse3", 4 * 32 + 9 },
	{ "cx16", 4 * 32 + 13 },
	{ "xsaveopt", 10 * 32 + 0 },
	{ "xsavec", 10 * 32 + 1 },
	{ "xgetbv1", 10 * 32 + 2 },
	{ "xsaves", 10 * 32 + 3 },
};

#define NR_QUIRK_FEATURES (sizeof(quirk_features) / sizeof(quirk_features[0]))

static void test_init_modes(void **state)
{
	struct host_quirks q;
	bool pvm = access("/sys/module/kvm_pvm", F_OK) == 0;

	host_quirks_init(&q, QUIRKS_ON);
	assert_true(q.active);
	assert_int_equal(q.detected, pvm);
	assert_non_null(q.why);
	assert_false(q.syscall.installed);
	assert_true(host_quirks_want_poll(&q));

	host_quirks_init(&q, QUIRKS_OFF);
	assert_false(q.active);
	assert_non_null(q.why);
	assert_false(host_quirks_want_poll(&q));

	host_quirks_init(&q, QUIRKS_AUTO);
	assert_int_equal(q.detected, pvm);
	assert_int_equal(q.active, pvm);
	assert_non_null(q.why);
}

static void test_add_mask(void **state)
{
	struct host_quirks q;
	struct cpu_mask mask = { 0 };

	host_quirks_init(&q, QUIRKS_OFF);
	assert_int_equal(host_quirks_add_mask(&q, &mask), 0);
	assert_int_equal(mask.nr, 0);

	host_quirks_init(&q, QUIRKS_ON);
	assert_int_equal(host_quirks_add_mask(&q, &mask), 0);
	assert_int_equal(mask.nr, NR_QUIRK_FEATURES);
	for (unsigned int i = 0; i < NR_QUIRK_FEATURES; i++) {
		const struct cpu_feature *f = cpu_feature_find(quirk_features[i].name);
		assert_non_null(f);
		assert_int_equal(f->linux_nr, quirk_features[i].linux_nr);
		assert_true(cpu_mask_has(&mask, f));
		assert_non_null(mask.reason[i]);
		assert_non_null(strstr(mask.reason[i], "host quirk"));
	}
	/* Adding again creates no duplicates. */
	assert_int_equal(host_quirks_add_mask(&q, &mask), 0);
	assert_int_equal(mask.nr, NR_QUIRK_FEATURES);
}

static void test_add_mask_full(void **state)
{
	struct host_quirks q;
	struct cpu_mask mask = { 0 };
	const struct cpu_feature *pni = cpu_feature_find("pni");

	host_quirks_init(&q, QUIRKS_ON);
	for (unsigned int i = 0; i < CPU_MASK_MAX; i++)
		mask.hidden[i] = pni;
	mask.nr = CPU_MASK_MAX;
	assert_int_equal(host_quirks_add_mask(&q, &mask), -ENOSPC);
	assert_int_equal(mask.nr, CPU_MASK_MAX);
}

static void test_cmdline_inactive(void **state)
{
	struct host_quirks q;
	struct cpu_mask mask = { 0 };
	const char *user = "console=ttyS0 root=/dev/vda -- init_arg";
	char *s;

	host_quirks_init(&q, QUIRKS_OFF);
	assert_int_equal(cpu_mask_add(&mask, cpu_feature_find("smap"), "user"), 0);
	s = host_quirks_cmdline(&q, &mask, user);
	assert_non_null(s);
	assert_string_equal(s, user);
	free(s);
	s = host_quirks_cmdline(&q, &mask, NULL);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

/* True if `s` ends with " " followed by `tail`. */
static bool ends_with_user(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n > t && s[n - t - 1] == ' ' && strcmp(s + n - t, tail) == 0;
}

static void test_cmdline_active(void **state)
{
	struct host_quirks q;
	struct cpu_mask mask = { 0 };
	const char *user = "console=ttyS0 panic=-1 -- init_arg clearcpuid=1";
	char expect[128];
	char *s;

	host_quirks_init(&q, QUIRKS_ON);
	assert_int_equal(host_quirks_add_mask(&q, &mask), 0);
	s = host_quirks_cmdline(&q, &mask, user);
	assert_non_null(s);
	/* noxsave is gone: kiln completes xsave/xrstor (user mode sees the host's XCR0). */
	assert_null(strstr(s, "noxsave"));
	assert_true(strncmp(s, "cryptomgr.notests ", 18) == 0);
	/* clearcpuid= lists the mask's Linux numbers in order. */
	int n = snprintf(expect, sizeof(expect), " clearcpuid=");
	for (size_t i = 0; i < NR_QUIRK_FEATURES; i++)
		n += snprintf(expect + n, sizeof(expect) - (size_t)n, "%s%u", i ? "," : "",
			      quirk_features[i].linux_nr);
	char *cc = strstr(s, expect);
	assert_non_null(cc);
	assert_int_equal(cc[strlen(expect)], ' ');
	/* The user's line comes last, so its " -- " still ends the kernel's part. */
	assert_true(ends_with_user(s, user));
	char *dd = strstr(s, " -- ");
	assert_non_null(dd);
	assert_true(dd > cc);
	assert_true(dd > s + strlen(s) - strlen(user) - 1);
	free(s);

	s = host_quirks_cmdline(&q, &mask, NULL);
	assert_non_null(s);
	assert_true(strncmp(s, "cryptomgr.notests ", 18) == 0);
	assert_true(ends_with_user(s, expect + 1)); /* no trailing space */
	free(s);
}

static void test_cmdline_active_empty_mask(void **state)
{
	struct host_quirks q;
	struct cpu_mask mask = { 0 };
	char *s;

	host_quirks_init(&q, QUIRKS_ON);
	s = host_quirks_cmdline(&q, &mask, "quiet");
	assert_non_null(s);
	assert_true(strncmp(s, "cryptomgr.notests ", 18) == 0);
	assert_null(strstr(s, "clearcpuid"));
	assert_true(ends_with_user(s, "quiet"));
	free(s);
}

static void test_cmdline_long(void **state)
{
	struct host_quirks q;
	struct cpu_mask mask = { 0 };
	unsigned int count;
	const struct cpu_feature *t = cpu_feature_table(&count);
	char user[4001];
	char *s;

	host_quirks_init(&q, QUIRKS_ON);
	for (unsigned int i = 0; i < count && i < CPU_MASK_MAX; i++)
		assert_int_equal(cpu_mask_add(&mask, &t[i], "test"), 0);
	memset(user, 'x', sizeof(user) - 1);
	user[sizeof(user) - 1] = 0;
	s = host_quirks_cmdline(&q, &mask, user);
	assert_non_null(s);
	assert_true(ends_with_user(s, user));
	/* Every masked number made it. */
	for (unsigned int i = 0; i < mask.nr; i++) {
		char num[16];
		snprintf(num, sizeof(num), "%u", mask.hidden[i]->linux_nr);
		assert_non_null(strstr(s, num));
	}
	free(s);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The stub as GNU as (2.40, --64) assembles it, with LSTAR and the handler left as zeroes. */
static void expected_stub(uint8_t *out, uint64_t lstar, uint64_t handler)
{
	static const uint8_t text[SYSCALL_FIXUP_STUB_LEN] = {
		0xf6, 0x44, 0x24, 0x10, 0x03,         /* testb $3, 0x10(%rsp) */
		0x74, 0x27,                           /* jz not_ours (46) */
		0x50,                                 /* push %rax */
		0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,   /* movabs $lstar, %rax */
		0x48, 0x39, 0x44, 0x24, 0x10,         /* cmp %rax, 0x10(%rsp) */
		0x58,                                 /* pop %rax */
		0x75, 0x14,                           /* jne not_ours (46) */
		0x48, 0x8b, 0x64, 0x24, 0x20,         /* mov 0x20(%rsp), %rsp */
		0xfc,                                 /* cld */
		0xff, 0x25, 0, 0, 0, 0,               /* jmp *0(%rip) */
		0, 0, 0, 0, 0, 0, 0, 0,               /* .quad lstar */
		0xff, 0x25, 0, 0, 0, 0,               /* not_ours: jmp *0(%rip) */
		0, 0, 0, 0, 0, 0, 0, 0,               /* .quad handler */
	};

	memcpy(out, text, sizeof(text));
	put64(out + 10, lstar);
	put64(out + 38, lstar);
	put64(out + 52, handler);
}

static void test_syscall_stub(void **state)
{
	const uint64_t lstar = 0xffffffff81a00080ull, handler = 0xffffffff81c01230ull;
	uint8_t got[SYSCALL_FIXUP_STUB_LEN + 8], want[SYSCALL_FIXUP_STUB_LEN];

	memset(got, 0xcc, sizeof(got));
	syscall_fixup_build_stub(got, lstar, handler);
	expected_stub(want, lstar, handler);
	assert_memory_equal(got, want, SYSCALL_FIXUP_STUB_LEN);
	for (size_t i = SYSCALL_FIXUP_STUB_LEN; i < sizeof(got); i++)
		assert_int_equal(got[i], 0xcc); /* nothing written past the stub */

	/* Both jumps land on not_ours at 46; the jmp *0(%rip) operands are the two quads. */
	assert_int_equal(7 + got[6], 46);
	assert_int_equal(26 + got[25], 46);
	assert_int_equal(got[46], 0xff);

	/* Other values go to the same offsets. */
	syscall_fixup_build_stub(got, 0xffffffff80000000ull, 0xffffffffc0001000ull);
	expected_stub(want, 0xffffffff80000000ull, 0xffffffffc0001000ull);
	assert_memory_equal(got, want, SYSCALL_FIXUP_STUB_LEN);
}

static void test_syscall_fixup_try(void **state)
{
	skip(); /* needs a live vCPU (KVM): covered by the end-to-end Linux boot */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_modes),
		cmocka_unit_test(test_add_mask),
		cmocka_unit_test(test_add_mask_full),
		cmocka_unit_test(test_cmdline_inactive),
		cmocka_unit_test(test_cmdline_active),
		cmocka_unit_test(test_cmdline_active_empty_mask),
		cmocka_unit_test(test_cmdline_long),
		cmocka_unit_test(test_syscall_stub),
		cmocka_unit_test(test_syscall_fixup_try),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
