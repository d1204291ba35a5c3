/* Boot loaders on synthetic kernels: bzImage header parsing and loading (boot_params, e820,
 * command line, initramfs placement, entry), PVH ELF parsing and loading (segments, bss,
 * hvm_start_info), format dispatch, and boot_file_read's errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "boot/bzimage.h"
#include "boot/loader.h"
#include "boot/pvh.h"

#define BZ_LEN 0x4000
#define BZ_SETUP 0xa00 /* (4 setup sectors + 1) * 512 */
#define BZ_PREF (16 * MIB)
#define BZ_INIT_SIZE (8 * MIB)

static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)v); wr16(p + 2, (uint16_t)(v >> 16)); }
static uint32_t rd32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* A 0x4000-byte bzImage, protocol 2.15, 64-bit entry, relocatable, kernel bytes patterned. */
static uint8_t *make_bzimage(void)
{
	uint8_t *img = calloc(1, BZ_LEN);

	assert_non_null(img);
	img[BP_SETUP_SECTS] = 4;
	wr32(img + 0x1f4, (BZ_LEN - BZ_SETUP) / 16); /* syssize */
	wr16(img + BP_BOOT_FLAG, 0xaa55);
	img[BP_JUMP] = 0xeb;
	img[BP_JUMP + 1] = 0x66; /* header ends at 0x268 */
	memcpy(img + BP_HEADER, "HdrS", 4);
	wr16(img + BP_VERSION, 0x020f);
	img[BP_LOADFLAGS] = 0x01;
	wr32(img + BP_INITRD_ADDR_MAX, 0x7fffffff);
	wr32(img + BP_KERNEL_ALIGNMENT, 0x200000);
	img[BP_RELOCATABLE] = 1;
	wr16(img + BP_XLOADFLAGS, BZ_XLF_KERNEL_64 | 0x2);
	wr32(img + BP_CMDLINE_SIZE, 2047);
	wr32(img + BP_PREF_ADDRESS, (uint32_t)BZ_PREF);
	wr32(img + BP_INIT_SIZE, (uint32_t)BZ_INIT_SIZE);
	for (size_t i = BZ_SETUP; i < BZ_LEN; i++)
		img[i] = (uint8_t)(i * 7 + 3);
	return img;
}

/* Parses img[0..len); returns the error code and checks a message is set on failure. */
static int parse(const uint8_t *img, size_t len, struct bzimage_info *bi, struct boot_error *err)
{
	memset(err->msg, 0, sizeof(err->msg));
	int r = bzimage_parse(img, len, bi, err);
	if (r)
		assert_true(err->msg[0] != 0);
	return r;
}

static void test_bz_parse_good(void **state)
{
	uint8_t *img = make_bzimage();
	struct bzimage_info bi;
	struct boot_error err;

	assert_true(bzimage_probe(img, BZ_LEN));
	assert_int_equal(parse(img, BZ_LEN, &bi, &err), 0);
	assert_int_equal(bi.version, 0x020f);
	assert_int_equal(bi.setup_size, BZ_SETUP);
	assert_int_equal(bi.kernel_offset, BZ_SETUP);
	assert_int_equal(bi.kernel_size, BZ_LEN - BZ_SETUP);
	assert_int_equal(bi.header_end, 0x268);
	assert_int_equal(bi.initrd_addr_max, 0x7fffffff);
	assert_int_equal(bi.cmdline_size, 2047);
	assert_int_equal(bi.pref_address, BZ_PREF);
	assert_int_equal(bi.init_size, BZ_INIT_SIZE);
	assert_true(bi.relocatable);
	/* setup_sects 0 means 4 (boot.rst). */
	img[BP_SETUP_SECTS] = 0;
	assert_int_equal(parse(img, BZ_LEN, &bi, &err), 0);
	assert_int_equal(bi.setup_size, BZ_SETUP);
	free(img);
}

/* One malformed-image case: write `value` (`width` bytes, little endian) at `off` in a good
 * image, hand the first `len` bytes (an exact-size copy, so ASan sees any overread) to the
 * parser, expect -EINVAL and `msg` in the error text. */
struct bad_case {
	size_t off, width;
	uint64_t value;
	size_t len;
	const char *msg;
};

static uint8_t *bad_copy(uint8_t *(*make)(void), const struct bad_case *c)
{
	uint8_t *img = make(), *copy = malloc(c->len);

	assert_non_null(copy);
	for (size_t i = 0; i < c->width; i++)
		img[c->off + i] = (uint8_t)(c->value >> (8 * i));
	memcpy(copy, img, c->len);
	free(img);
	return copy;
}

static void test_bz_malformed(void **state)
{
	static const struct bad_case cases[] = {
		{ BP_BOOT_FLAG, 2, 0x55aa, BZ_LEN, "0xaa55" },
		{ BP_HEADER, 4, 0x54726448, BZ_LEN, "HdrS" },           /* "HdrT" */
		{ 0, 0, 0, 0x240, "header" },                           /* ends inside the header */
		{ BP_JUMP + 1, 1, 0x20, BZ_LEN, "header" },             /* header without init_size */
		{ 0x1f4, 4, (BZ_LEN - BZ_SETUP) / 16 + 1, BZ_LEN, "truncated" }, /* syssize */
		{ 0, 0, 0, BZ_LEN - 16, "truncated" },
		{ BP_SETUP_SECTS, 1, 0x40, BZ_LEN, "truncated" },
		{ BP_VERSION, 2, 0x020b, BZ_LEN, "2.12" },
		{ BP_XLOADFLAGS, 2, 0x2, BZ_LEN, "64-bit" },
	};
	struct bzimage_info bi;
	struct boot_error err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *img = bad_copy(make_bzimage, &cases[i]);
		print_message("bzImage case %zu\n", i);
		assert_int_equal(parse(img, cases[i].len, &bi, &err), -EINVAL);
		assert_non_null(strstr(err.msg, cases[i].msg));
		free(img);
	}
	uint8_t *img = make_bzimage();
	wr16(img + BP_BOOT_FLAG, 0x55aa);
	assert_false(bzimage_probe(img, BZ_LEN));
	wr16(img + BP_BOOT_FLAG, 0xaa55);
	assert_false(bzimage_probe(img, BP_HEADER + 3)); /* too short to hold the magic */
	wr16(img + BP_VERSION, 0x020c);                  /* 2.12 is enough */
	assert_int_equal(parse(img, BZ_LEN, &bi, &err), 0);
	free(img);
}

struct vm {
	struct guest_mem m;
	struct boot_file kernel, initrd;
	struct boot_request req;
	struct boot_entry entry;
	struct boot_error err;
};

static void vm_setup(struct vm *v, uint64_t ram, uint8_t *kernel, size_t klen, size_t initrd_len)
{
	memset(v, 0, sizeof(*v));
	assert_int_equal(guest_mem_init(&v->m, ram, LAYOUT_MEM_32BIT_HOLE), 0);
	v->kernel = (struct boot_file){ kernel, klen, "test-kernel" };
	v->req.kernel = &v->kernel;
	if (initrd_len) {
		v->initrd = (struct boot_file){ malloc(initrd_len), initrd_len, "test-initrd" };
		assert_non_null(v->initrd.data);
		for (size_t i = 0; i < initrd_len; i++)
			v->initrd.data[i] = (uint8_t)(i * 13 + 1);
		v->req.initramfs = &v->initrd;
	}
}

static void vm_teardown(struct vm *v)
{
	free(v->kernel.data);
	free(v->initrd.data);
	guest_mem_free(&v->m);
}

static const uint8_t *gptr(const struct vm *v, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = guest_mem_ptr(&v->m, gpa, len);

	assert_non_null(p);
	return p;
}

/* One e820 entry: 20 bytes in boot_params, the first 20 of 24 in the PVH memmap. */
static void expect_e820(const uint8_t *e, uint64_t addr, uint64_t size, uint32_t type)
{
	assert_int_equal(rd64(e), addr);
	assert_int_equal(rd64(e + 8), size);
	assert_int_equal(rd32(e + 16), type);
}

/* The initramfs at [gpa, gpa+size): all of it, page aligned, within [low, high). */
static void expect_initrd(const struct vm *v, uint64_t gpa, uint64_t size, uint64_t low,
			  uint64_t high)
{
	assert_int_equal(size, v->initrd.size);
	assert_int_equal(gpa & 0xfff, 0);
	assert_true(gpa >= low);
	assert_true(gpa + size <= high);
	assert_memory_equal(gptr(v, gpa, size), v->initrd.data, size);
}

static void test_bz_load(void **state)
{
	const char *cmdline = "console=ttyS0 panic=-1";
	struct vm v;

	vm_setup(&v, 64 * MIB, make_bzimage(), BZ_LEN, 0x2345);
	v.req.cmdline = cmdline;
	assert_int_equal(boot_load(&v.m, &v.req, &v.entry, &v.err), 0);
	assert_true(v.entry.long_mode);
	assert_int_equal(v.entry.rip, 0x100200);
	assert_int_equal(v.entry.rsi, LAYOUT_ZERO_PAGE);
	assert_int_equal(v.entry.cr3, LAYOUT_PML4);
	assert_string_equal(v.entry.format, "bzImage");

	const uint8_t *bp = gptr(&v, LAYOUT_ZERO_PAGE, BP_SIZE);
	assert_int_equal(bp[BP_TYPE_OF_LOADER], 0xff);
	assert_int_equal(bp[BP_LOADFLAGS] & (BZ_LOADED_HIGH | BZ_CAN_USE_HEAP),
			 BZ_LOADED_HIGH | BZ_CAN_USE_HEAP);
	assert_memory_equal(bp + BP_HEADER, "HdrS", 4);
	assert_int_equal(rd32(bp + BP_CODE32_START), 0x100000);
	assert_int_equal(rd32(bp + BP_CMD_LINE_PTR), LAYOUT_CMDLINE);
	assert_string_equal((const char *)gptr(&v, LAYOUT_CMDLINE, strlen(cmdline) + 1), cmdline);
	/* 64 MiB: low RAM, EBDA..1 MiB reserved, 1 MiB..64 MiB RAM, PCI ECAM reserved. */
	assert_int_equal(bp[BP_E820_ENTRIES], 4);
	expect_e820(bp + BP_E820_TABLE, 0, LAYOUT_EBDA_START, 1);
	expect_e820(bp + BP_E820_TABLE + 20, LAYOUT_EBDA_START, MIB - LAYOUT_EBDA_START, 2);
	expect_e820(bp + BP_E820_TABLE + 40, MIB, 63 * MIB, 1);
	expect_e820(bp + BP_E820_TABLE + 60, LAYOUT_PCI_ECAM_BASE, LAYOUT_PCI_ECAM_SIZE, 2);
	/* The protected-mode kernel at 1 MiB. */
	assert_memory_equal(gptr(&v, MIB, BZ_LEN - BZ_SETUP), v.kernel.data + BZ_SETUP,
			    BZ_LEN - BZ_SETUP);
	/* The initramfs: above the decompressed kernel, inside RAM. */
	expect_initrd(&v, rd32(bp + BP_RAMDISK_IMAGE), rd32(bp + BP_RAMDISK_SIZE),
		      BZ_PREF + BZ_INIT_SIZE, 64 * MIB);
	vm_teardown(&v);
}

static void test_bz_load_initrd_addr_max(void **state)
{
	uint8_t *img = make_bzimage();
	struct vm v;

	wr32(img + BP_INITRD_ADDR_MAX, 0x1ffffff); /* 32 MiB - 1 */
	vm_setup(&v, 64 * MIB, img, BZ_LEN, 3 * MIB + 5);
	assert_int_equal(bzimage_load(&v.m, &v.req, &v.entry, &v.err), 0);
	const uint8_t *bp = gptr(&v, LAYOUT_ZERO_PAGE, BP_SIZE);
	expect_initrd(&v, rd32(bp + BP_RAMDISK_IMAGE), rd32(bp + BP_RAMDISK_SIZE),
		      BZ_PREF + BZ_INIT_SIZE, 32 * MIB);
	/* No command line: an empty string, still pointed at. */
	assert_int_equal(rd32(bp + BP_CMD_LINE_PTR), LAYOUT_CMDLINE);
	assert_int_equal(*gptr(&v, LAYOUT_CMDLINE, 1), 0);
	vm_teardown(&v);
}

static void test_bz_load_errors(void **state)
{
	uint8_t *img = make_bzimage();
	char line[18];
	struct vm v;

	wr32(img + BP_CMDLINE_SIZE, 16);
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = 0;
	vm_setup(&v, 64 * MIB, img, BZ_LEN, 0);
	v.req.cmdline = line; /* 17 bytes > 16 */
	assert_int_equal(bzimage_load(&v.m, &v.req, &v.entry, &v.err), -E2BIG);
	line[16] = 0;         /* exactly 16 fits */
	assert_int_equal(bzimage_load(&v.m, &v.req, &v.entry, &v.err), 0);
	/* An initramfs larger than the room above the kernel. */
	v.initrd = (struct boot_file){ calloc(1, 48 * MIB), 48 * MIB, "big-initrd" };
	assert_non_null(v.initrd.data);
	v.req.initramfs = &v.initrd;
	assert_int_equal(bzimage_load(&v.m, &v.req, &v.entry, &v.err), -E2BIG);
	assert_non_null(strstr(v.err.msg, "--memory"));
	/* A kernel whose init_size does not fit the VM. */
	v.req.initramfs = NULL;
	wr32(img + BP_INIT_SIZE, 60 * MIB);
	assert_int_equal(bzimage_load(&v.m, &v.req, &v.entry, &v.err), -E2BIG);
	assert_non_null(strstr(v.err.msg, "--memory"));
	/* Under 2 MiB of RAM nothing boots. */
	guest_mem_free(&v.m);
	assert_int_equal(guest_mem_init(&v.m, MIB, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(boot_load(&v.m, &v.req, &v.entry, &v.err), -E2BIG);
	assert_non_null(strstr(v.err.msg, "2 MiB"));
	vm_teardown(&v);
}

#define PVH_LEN 0x300
#define PVH_DATA 0x100
#define PVH_FILESZ 0x200
#define PVH_MEMSZ 0x1000
#define PVH_ENTRY 0x100010u

/* ELF64 x86-64 ET_EXEC: PT_LOAD at 1 MiB (0x200 bytes of file, 0x1000 in memory), then a
 * PT_NOTE with the Xen PHYS32_ENTRY note. */
static uint8_t *make_elf(void)
{
	uint8_t *img = calloc(1, PVH_LEN);
	Elf64_Ehdr eh = { .e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
			  .e_entry = 0xffffffff81000000ull, .e_phoff = sizeof(Elf64_Ehdr),
			  .e_ehsize = sizeof(Elf64_Ehdr), .e_phentsize = sizeof(Elf64_Phdr),
			  .e_phnum = 2 };
	const uint64_t note_off = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
	Elf64_Phdr ph[2] = {
		{ .p_type = PT_LOAD, .p_offset = PVH_DATA, .p_vaddr = 0xffffffff81000000ull,
		  .p_paddr = MIB, .p_filesz = PVH_FILESZ, .p_memsz = PVH_MEMSZ },
		{ .p_type = PT_NOTE, .p_offset = note_off, .p_filesz = 24 },
	};
	Elf64_Nhdr nh = { .n_namesz = 4, .n_descsz = 4, .n_type = XEN_ELFNOTE_PHYS32_ENTRY };
	uint32_t entry = PVH_ENTRY;

	assert_non_null(img);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	memcpy(img, &eh, sizeof(eh));
	memcpy(img + eh.e_phoff, ph, sizeof(ph));
	memcpy(img + note_off, &nh, sizeof(nh));
	memcpy(img + note_off + 12, "Xen", 4);
	memcpy(img + note_off + 16, &entry, 4);
	for (size_t i = PVH_DATA; i < PVH_DATA + PVH_FILESZ; i++)
		img[i] = (uint8_t)(i * 5 + 1);
	return img;
}

static Elf64_Phdr *phdr(uint8_t *img, unsigned int i)
{
	return (Elf64_Phdr *)(img + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr));
}

static void test_pvh_parse(void **state)
{
	uint8_t *img = make_elf();
	struct pvh_info pi;
	struct boot_error err;

	assert_true(pvh_probe(img, PVH_LEN));
	assert_int_equal(pvh_parse(img, PVH_LEN, &pi, &err), 0);
	assert_int_equal(pi.entry, PVH_ENTRY);
	assert_int_equal(pi.nr_seg, 1);
	assert_int_equal(pi.seg[0].paddr, MIB);
	assert_int_equal(pi.seg[0].filesz, PVH_FILESZ);
	assert_int_equal(pi.seg[0].memsz, PVH_MEMSZ);
	assert_int_equal(pi.seg[0].offset, PVH_DATA);
	assert_int_equal(pi.end, MIB + PVH_MEMSZ);
	free(img);
}

#define EH(field) offsetof(Elf64_Ehdr, field), sizeof(((Elf64_Ehdr *)0)->field)
#define PH(n, field) sizeof(Elf64_Ehdr) + (n) * sizeof(Elf64_Phdr) + offsetof(Elf64_Phdr, field), \
	sizeof(((Elf64_Phdr *)0)->field)
#define NOTE (sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr))

static void test_pvh_malformed(void **state)
{
	static const struct bad_case cases[] = {
		{ EI_CLASS, 1, ELFCLASS32, PVH_LEN, "64-bit" },
		{ EH(e_machine), EM_AARCH64, PVH_LEN, "x86-64" },
		{ EH(e_type), ET_DYN, PVH_LEN, "executable" },
		{ 0, 0, 0, 40, "ELF" },                                    /* header cut short */
		{ PH(1, p_type), PT_NULL, PVH_LEN, "PVH" },            /* no note segment */
		{ NOTE + 8, 4, 17, PVH_LEN, "PVH" },                       /* another note type */
		{ NOTE, 4, 0xffffffff, PVH_LEN, "PVH" },                   /* namesz past the note */
		{ EH(e_phoff), PVH_LEN - 8, PVH_LEN, "program headers" },
		{ EH(e_phoff), PVH_LEN, PVH_LEN, "program headers" },
		{ EH(e_phoff), PVH_LEN + 8, PVH_LEN, "program headers" },
		{ EH(e_phoff), ~0ull - 8, PVH_LEN, "program headers" },
		{ EH(e_phnum), 0xffff, PVH_LEN, "program headers" },
		{ 0, 0, 0, sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) + 8, "program headers" },
		{ PH(0, p_filesz), PVH_LEN - PVH_DATA + 1, PVH_LEN, "past the end" },
		{ PH(0, p_filesz), ~0ull, PVH_LEN, "past the end" },
		{ PH(0, p_offset), PVH_LEN + 1, PVH_LEN, "past the end" },
		{ PH(1, p_filesz), PVH_LEN, PVH_LEN, "past the end" },     /* the note segment */
		{ PH(0, p_memsz), PVH_FILESZ - 1, PVH_LEN, "sizes" },
		{ PH(0, p_paddr), ~0ull - 0x10, PVH_LEN, "sizes" },        /* paddr + memsz wraps */
	};
	struct pvh_info pi;
	struct boot_error err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *img = bad_copy(make_elf, &cases[i]);
		print_message("ELF case %zu\n", i);
		memset(err.msg, 0, sizeof(err.msg));
		assert_int_equal(pvh_parse(img, cases[i].len, &pi, &err), -EINVAL);
		assert_non_null(strstr(err.msg, cases[i].msg));
		free(img);
	}
}

static void test_pvh_load(void **state)
{
	struct vm v;

	vm_setup(&v, 64 * MIB, make_elf(), PVH_LEN, 0x1801);
	v.req.cmdline = "console=ttyS0";
	/* Dirty the bss: the loader must zero it itself. */
	memset(guest_mem_ptr(&v.m, MIB, PVH_MEMSZ), 0xaa, PVH_MEMSZ);
	assert_int_equal(boot_load(&v.m, &v.req, &v.entry, &v.err), 0);
	assert_false(v.entry.long_mode);
	assert_int_equal(v.entry.rip, PVH_ENTRY);
	assert_int_equal(v.entry.rbx, LAYOUT_PVH_INFO);
	assert_string_equal(v.entry.format, "PVH ELF");

	assert_memory_equal(gptr(&v, MIB, PVH_FILESZ), v.kernel.data + PVH_DATA, PVH_FILESZ);
	const uint8_t *bss = gptr(&v, MIB + PVH_FILESZ, PVH_MEMSZ - PVH_FILESZ);
	for (size_t i = 0; i < PVH_MEMSZ - PVH_FILESZ; i++)
		assert_int_equal(bss[i], 0);

	struct hvm_start_info si;
	memcpy(&si, gptr(&v, LAYOUT_PVH_INFO, sizeof(si)), sizeof(si));
	assert_int_equal(si.magic, 0x336ec578);
	assert_int_equal(si.version, 1);
	assert_int_equal(si.cmdline_paddr, LAYOUT_CMDLINE);
	assert_string_equal((const char *)gptr(&v, si.cmdline_paddr, 14), "console=ttyS0");
	assert_int_equal(si.memmap_entries, 4);
	const uint8_t *mm = gptr(&v, si.memmap_paddr, 4 * sizeof(struct hvm_memmap_table_entry));
	expect_e820(mm, 0, LAYOUT_EBDA_START, 1);
	expect_e820(mm + 24, LAYOUT_EBDA_START, MIB - LAYOUT_EBDA_START, 2);
	expect_e820(mm + 48, MIB, 63 * MIB, 1);
	expect_e820(mm + 72, LAYOUT_PCI_ECAM_BASE, LAYOUT_PCI_ECAM_SIZE, 2);
	assert_int_equal(si.nr_modules, 1);
	struct hvm_modlist_entry mod;
	memcpy(&mod, gptr(&v, si.modlist_paddr, sizeof(mod)), sizeof(mod));
	expect_initrd(&v, mod.paddr, mod.size, MIB + PVH_MEMSZ, 64 * MIB);
	vm_teardown(&v);
}

static void test_pvh_load_outside_ram(void **state)
{
	uint8_t *img = make_elf();
	struct vm v;

	phdr(img, 0)->p_paddr = 128 * MIB;
	vm_setup(&v, 64 * MIB, img, PVH_LEN, 0);
	assert_int_equal(pvh_load(&v.m, &v.req, &v.entry, &v.err), -E2BIG);
	phdr(img, 0)->p_paddr = 64 * MIB - 0x800; /* bss runs past the end */
	assert_int_equal(pvh_load(&v.m, &v.req, &v.entry, &v.err), -E2BIG);
	phdr(img, 0)->p_paddr = 0x10000;          /* below 1 MiB: over the boot structures */
	assert_int_equal(pvh_load(&v.m, &v.req, &v.entry, &v.err), -E2BIG);
	vm_teardown(&v);

	/* A kernel reaching the top of RAM leaves no room above it for the initramfs, which
	 * must not overlap it. */
	img = make_elf();
	phdr(img, 0)->p_paddr = 62 * MIB;
	phdr(img, 0)->p_memsz = 2 * MIB;
	wr32(img + NOTE + 16, 62 * MIB); /* the PVH entry, inside the moved segment */
	vm_setup(&v, 64 * MIB, img, PVH_LEN, MIB);
	assert_int_equal(pvh_load(&v.m, &v.req, &v.entry, &v.err), -E2BIG);
	assert_non_null(strstr(v.err.msg, "--memory"));
	vm_teardown(&v);
}

static void test_dispatch_unknown(void **state)
{
	uint8_t *junk = malloc(4096);
	struct vm v;

	assert_non_null(junk);
	srand(42);
	for (size_t i = 0; i < 4096; i++)
		junk[i] = (uint8_t)rand();
	vm_setup(&v, 64 * MIB, junk, 4096, 0);
	assert_int_equal(boot_load(&v.m, &v.req, &v.entry, &v.err), -EINVAL);
	assert_non_null(strstr(v.err.msg, "bzImage"));
	assert_non_null(strstr(v.err.msg, "ELF"));
	vm_teardown(&v);
}

static char tmp_path[] = "/tmp/kiln-test-boot-XXXXXX";

/* Removes the temporary file even when the test failed half-way. */
static int remove_tmp(void **state)
{
	unlink(tmp_path);
	return 0;
}

static void test_file_read(void **state)
{
	const char *path = tmp_path;
	struct boot_file f;
	struct boot_error err;
	int fd = mkstemp(tmp_path);
	uint8_t data[100];

	assert_true(fd >= 0);
	assert_int_equal(boot_file_read("/nonexistent/kiln/vmlinuz", "kernel", GIB, &f, &err),
			 -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/kiln/vmlinuz"));
	assert_int_equal(boot_file_read("/tmp", "kernel", GIB, &f, &err), -EISDIR);
	assert_int_equal(boot_file_read(path, "initramfs", GIB, &f, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "empty"));
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	assert_int_equal(write(fd, data, sizeof(data)), sizeof(data));
	assert_int_equal(boot_file_read(path, "kernel", sizeof(data) - 1, &f, &err), -EFBIG);
	assert_non_null(strstr(err.msg, "--memory"));
	assert_null(f.data);
	assert_int_equal(boot_file_read(path, "kernel", sizeof(data), &f, &err), 0);
	assert_int_equal(f.size, sizeof(data));
	assert_memory_equal(f.data, data, sizeof(data));
	boot_file_free(&f);
	assert_null(f.data);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bz_parse_good),
		cmocka_unit_test(test_bz_malformed),
		cmocka_unit_test(test_bz_load),
		cmocka_unit_test(test_bz_load_initrd_addr_max),
		cmocka_unit_test(test_bz_load_errors),
		cmocka_unit_test(test_pvh_parse),
		cmocka_unit_test(test_pvh_malformed),
		cmocka_unit_test(test_pvh_load),
		cmocka_unit_test(test_pvh_load_outside_ram),
		cmocka_unit_test(test_dispatch_unknown),
		cmocka_unit_test_teardown(test_file_read, remove_tmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
