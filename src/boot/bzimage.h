/* Linux bzImage loading per the x86 boot protocol (Documentation/arch/x86/boot.rst), using the
 * 64-bit entry point (protocol 2.12+, XLF_KERNEL_64). */
#ifndef KILN_BOOT_BZIMAGE_H
#define KILN_BOOT_BZIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/loader.h"

/* Offsets in boot_params / the setup header (boot.rst "The Real-Mode Kernel Header",
 * zero-page.rst). */
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_SETUP_SECTS 0x1f1
#define BP_BOOT_FLAG 0x1fe
#define BP_JUMP 0x200
#define BP_HEADER 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_CODE32_START 0x214
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_HEAP_END_PTR 0x224
#define BP_CMD_LINE_PTR 0x228
#define BP_INITRD_ADDR_MAX 0x22c
#define BP_KERNEL_ALIGNMENT 0x230
#define BP_RELOCATABLE 0x234
#define BP_XLOADFLAGS 0x236
#define BP_CMDLINE_SIZE 0x238
#define BP_PAYLOAD_OFFSET 0x248
#define BP_PAYLOAD_LENGTH 0x24c
#define BP_PREF_ADDRESS 0x258
#define BP_INIT_SIZE 0x260
#define BP_E820_TABLE 0x2d0
#define BP_E820_MAX 128
#define BP_SIZE 4096

#define BZ_HDRS_MAGIC 0x53726448u /* "HdrS" */
#define BZ_XLF_KERNEL_64 0x1
#define BZ_LOADED_HIGH 0x01
#define BZ_CAN_USE_HEAP 0x80

/* What kiln needs from a bzImage's setup header; all validated against the file size. */
struct bzimage_info {
	uint16_t version;          /* boot protocol, e.g. 0x020f */
	size_t setup_size;         /* bytes of real-mode setup, (setup_sects + 1) * 512 */
	size_t kernel_offset;      /* file offset of the protected-mode kernel (= setup_size) */
	size_t kernel_size;        /* bytes of protected-mode kernel */
	size_t header_end;         /* end of the setup header in the file (0x202 + byte at 0x201) */
	uint32_t initrd_addr_max;  /* highest address the initramfs may occupy */
	uint32_t cmdline_size;     /* max command line length, excluding NUL */
	uint64_t pref_address;     /* preferred load address of a relocatable kernel */
	uint32_t init_size;        /* bytes the kernel needs from its load address during boot */
	bool relocatable;
};

/* True if the file looks like a bzImage (boot flag 0xaa55 and "HdrS"). */
bool bzimage_probe(const uint8_t *img, size_t len);

/* Parses and validates the header: protocol >= 2.12 with the 64-bit entry, sizes consistent
 * with the file. Returns 0 or -EINVAL with err set (what is wrong). */
int bzimage_parse(const uint8_t *img, size_t len, struct bzimage_info *info, struct boot_error *err)
	__attribute__((warn_unused_result));

/* Loads a parsed bzImage: kernel at 1 MiB, boot_params at LAYOUT_ZERO_PAGE with e820,
 * command line and initramfs, identity page tables and GDT. */
int bzimage_load(const struct guest_mem *m, const struct boot_request *req,
		 struct boot_entry *entry, struct boot_error *err) __attribute__((warn_unused_result));

#endif
