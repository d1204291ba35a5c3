#include "boot/bzimage.h"

#include <errno.h>
#include <string.h>

#include "arch/x86_64/e820.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/regs.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

bool bzimage_probe(const uint8_t *img, size_t len)
{
	return len >= BP_HEADER + 4 && rd16(img + BP_BOOT_FLAG) == 0xaa55 &&
	       rd32(img + BP_HEADER) == BZ_HDRS_MAGIC;
}

int bzimage_parse(const uint8_t *img, size_t len, struct bzimage_info *info, struct boot_error *err)
{
	memset(info, 0, sizeof(*info));
	if (!bzimage_probe(img, len))
		return boot_fail(err, -EINVAL, "not a bzImage: no 0xaa55 boot flag and \"HdrS\" magic");
	info->header_end = BP_JUMP + 2 + (size_t)img[BP_JUMP + 1];
	if (info->header_end > len || info->header_end < BP_INIT_SIZE + 4)
		return boot_fail(err, -EINVAL,
				 "bzImage truncated or too old: setup header ends at %zu, file has %zu bytes",
				 info->header_end, len);
	info->version = rd16(img + BP_VERSION);
	if (info->version < 0x020c)
		return boot_fail(err, -EINVAL,
				 "bzImage boot protocol %u.%02u is older than 2.12; kiln needs the 64-bit entry point",
				 info->version >> 8, info->version & 0xff);
	if (!(rd16(img + BP_XLOADFLAGS) & BZ_XLF_KERNEL_64))
		return boot_fail(err, -EINVAL,
				 "bzImage has no 64-bit entry point (XLF_KERNEL_64 clear): not an x86-64 kernel");
	unsigned int sects = img[BP_SETUP_SECTS] ? img[BP_SETUP_SECTS] : 4;
	info->setup_size = ((size_t)sects + 1) * 512;
	info->kernel_offset = info->setup_size;
	if (info->setup_size >= len)
		return boot_fail(err, -EINVAL,
				 "bzImage truncated: %zu bytes of setup code announced, file has %zu bytes",
				 info->setup_size, len);
	info->kernel_size = len - info->setup_size;
	/* syssize (0x1f4) counts 16-byte paragraphs of protected-mode code: catch truncation. */
	uint64_t syssize = (uint64_t)rd32(img + 0x1f4) * 16;
	if (syssize > info->kernel_size)
		return boot_fail(err, -EINVAL,
				 "bzImage truncated: header announces %llu bytes of kernel, file has %zu",
				 (unsigned long long)syssize, info->kernel_size);
	info->initrd_addr_max = rd32(img + BP_INITRD_ADDR_MAX);
	info->cmdline_size = rd32(img + BP_CMDLINE_SIZE);
	info->relocatable = img[BP_RELOCATABLE] != 0;
	info->pref_address = rd64(img + BP_PREF_ADDRESS);
	info->init_size = rd32(img + BP_INIT_SIZE);
	return 0;
}

static int write_cmdline(const struct guest_mem *m, const char *cmdline, uint32_t max,
			 struct boot_error *err)
{
	size_t n = cmdline ? strlen(cmdline) : 0;

	if (max == 0 || max > LAYOUT_CMDLINE_MAX - 1)
		max = LAYOUT_CMDLINE_MAX - 1;
	if (n > max)
		return boot_fail(err, -E2BIG, "--cmdline is %zu bytes; this kernel accepts at most %u",
				 n, max);
	if (guest_mem_write(m, LAYOUT_CMDLINE, cmdline ? cmdline : "", n) ||
	    guest_mem_write(m, LAYOUT_CMDLINE + n, "", 1))
		return boot_fail(err, -E2BIG, "guest memory too small for the command line");
	return 0;
}

int bzimage_load(const struct guest_mem *m, const struct boot_request *req,
		 struct boot_entry *entry, struct boot_error *err)
{
	const struct boot_file *k = req->kernel;
	struct bzimage_info bi;
	struct e820_entry e820[E820_MAX_ENTRIES];
	uint8_t bp[BP_SIZE];
	int r, n;

	r = bzimage_parse(k->data, k->size, &bi, err);
	if (r) {
		char tmp[sizeof(err->msg)];
		memcpy(tmp, err->msg, sizeof(tmp));
		return boot_fail(err, r, "kernel '%s': %s", k->path, tmp);
	}

	uint64_t load = LAYOUT_HIGH_RAM_START;
	/* The decompressor runs at max(load, pref_address) and needs init_size bytes there. */
	uint64_t run_at = bi.relocatable && bi.pref_address > load ? bi.pref_address : load;
	uint64_t kernel_end = run_at + (bi.init_size > bi.kernel_size ? bi.init_size : bi.kernel_size);
	if (load + bi.kernel_size > m->regions[0].size || kernel_end > m->regions[0].size)
		return boot_fail(err, -E2BIG,
				 "kernel '%s' needs %llu MiB of guest memory to decompress; the VM has "
				 "%llu MiB below 3 GiB; increase --memory size=", k->path,
				 (unsigned long long)((kernel_end + MIB - 1) >> 20),
				 (unsigned long long)(m->regions[0].size >> 20));
	if (guest_mem_write(m, load, k->data + bi.kernel_offset, bi.kernel_size))
		return boot_fail(err, -E2BIG, "kernel does not fit in guest RAM");

	memset(bp, 0, sizeof(bp));
	memcpy(bp + 0x1f1, k->data + 0x1f1, bi.header_end - 0x1f1);
	bp[BP_TYPE_OF_LOADER] = 0xff;
	bp[BP_LOADFLAGS] |= BZ_LOADED_HIGH | BZ_CAN_USE_HEAP;
	bp[BP_HEAP_END_PTR] = 0x00; /* heap_end_ptr = 0xfe00 (setup heap end) */
	bp[BP_HEAP_END_PTR + 1] = 0xfe;
	wr32(bp + BP_CODE32_START, (uint32_t)load);

	r = write_cmdline(m, req->cmdline, bi.cmdline_size, err);
	if (r)
		return r;
	wr32(bp + BP_CMD_LINE_PTR, (uint32_t)LAYOUT_CMDLINE);

	if (req->initramfs) {
		uint64_t gpa, max = bi.initrd_addr_max ? (uint64_t)bi.initrd_addr_max + 1 : 0x38000000;
		r = boot_place_initramfs(m, req->initramfs, kernel_end, max, &gpa, err);
		if (r)
			return r;
		wr32(bp + BP_RAMDISK_IMAGE, (uint32_t)gpa);
		wr32(bp + BP_RAMDISK_SIZE, (uint32_t)req->initramfs->size);
	}

	n = e820_build(m, e820, E820_MAX_ENTRIES);
	if (n < 0)
		return boot_fail(err, n, "cannot build the e820 memory map");
	bp[BP_E820_ENTRIES] = (uint8_t)n;
	for (int i = 0; i < n; i++) {
		uint8_t *e = bp + BP_E820_TABLE + 20 * i;
		memcpy(e, &e820[i].addr, 8);
		memcpy(e + 8, &e820[i].size, 8);
		memcpy(e + 16, &e820[i].type, 4);
	}
	if (guest_mem_write(m, LAYOUT_ZERO_PAGE, bp, sizeof(bp)))
		return boot_fail(err, -E2BIG, "guest memory too small for boot_params");
	r = regs_write_boot_tables(m, true);
	if (r)
		return boot_fail(err, r, "guest memory too small for the boot page tables");

	entry->long_mode = true;
	entry->rip = load + 0x200; /* 64-bit entry: startup_64 (boot.rst, "64-bit Boot Protocol") */
	entry->rsi = LAYOUT_ZERO_PAGE;
	entry->cr3 = LAYOUT_PML4;
	entry->format = "bzImage";
	return 0;
}
