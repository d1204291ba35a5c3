/* PVH boot of an ELF64 x86-64 kernel (Xen's hvm_start_info, xen/include/public/arch-x86/hvm/
 * start_info.h; Linux arch/x86/platform/pvh/enlighten.c): PT_LOAD segments at their physical
 * addresses, entry from the XEN_ELFNOTE_PHYS32_ENTRY note, 32-bit protected mode, EBX = start
 * info. */
#ifndef KILN_BOOT_PVH_H
#define KILN_BOOT_PVH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/loader.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define XEN_HVM_START_MAGIC 0x336ec578u

/* hvm_start_info, version 1 (start_info.h). */
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
} __attribute__((packed));

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
} __attribute__((packed));

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
} __attribute__((packed));

#define PVH_MAX_SEGMENTS 16

/* A PT_LOAD segment, validated against the file. */
struct pvh_segment {
	uint64_t paddr, filesz, memsz, offset;
};

struct pvh_info {
	uint32_t entry; /* 32-bit physical entry from the note */
	struct pvh_segment seg[PVH_MAX_SEGMENTS];
	unsigned int nr_seg;
	uint64_t end;   /* highest paddr + memsz over all segments */
};

/* True if the file starts with the ELF magic. */
bool pvh_probe(const uint8_t *img, size_t len);

/* Parses an ELF64 little-endian x86-64 executable: program headers in bounds, PT_LOAD
 * segments with filesz <= memsz inside the file, a PHYS32_ENTRY note. Returns 0 or -EINVAL
 * with err set (wrong class/machine, truncated, no PVH note...). */
int pvh_parse(const uint8_t *img, size_t len, struct pvh_info *info, struct boot_error *err)
	__attribute__((warn_unused_result));

/* Loads the segments, command line, initramfs (as module 0) and start info; -E2BIG when a
 * segment lies outside guest RAM. */
int pvh_load(const struct guest_mem *m, const struct boot_request *req, struct boot_entry *entry,
	     struct boot_error *err) __attribute__((warn_unused_result));

#endif
