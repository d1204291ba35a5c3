/* Loading a payload into guest memory: the kernel (bzImage or PVH ELF, chosen from the file's
 * format), the initramfs and the command line, plus the boot structures the entry point
 * expects (boot_params or hvm_start_info, identity page tables, GDT). */
#ifndef KILN_BOOT_LOADER_H
#define KILN_BOOT_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/guest_mem.h"

/* Where and how the boot vCPU starts. */
struct boot_entry {
	bool long_mode;   /* true: 64-bit bzImage entry; false: PVH 32-bit protected mode */
	uint64_t rip;     /* entry point, guest physical (identity mapped) */
	uint64_t rsi;     /* long mode: boot_params address */
	uint64_t rbx;     /* PVH: hvm_start_info address */
	uint64_t cr3;     /* long mode: PML4 address */
	const char *format; /* "bzImage" or "PVH ELF", for messages */
};

/* An error message buffer every loader function fills on failure (one line, no newline). */
struct boot_error {
	char msg[512];
};

/* A file read fully into memory. */
struct boot_file {
	uint8_t *data; /* malloc'd, owned */
	size_t size;   /* bytes */
	const char *path; /* borrowed */
};

/* Reads `path` (a regular file, at most max_size bytes) into f. Returns 0, or -errno with
 * err set: -ENOENT/-EACCES (cannot open), -EISDIR, -EFBIG (larger than max_size, which is the
 * guest RAM: it could never fit), -EINVAL (empty). */
int boot_file_read(const char *path, const char *what, uint64_t max_size, struct boot_file *f,
		   struct boot_error *err) __attribute__((warn_unused_result));
void boot_file_free(struct boot_file *f);

/* What to load. Files are already read; cmdline may be NULL (empty). */
struct boot_request {
	const struct boot_file *kernel;
	const struct boot_file *initramfs; /* NULL for none */
	const char *cmdline;
};

/* Validates the kernel's format, loads everything into guest memory (which must be zeroed)
 * and fills `entry`. Returns 0, or -EINVAL (bad or unsupported kernel format), -E2BIG (a
 * payload or the command line does not fit guest memory) with err set. Nothing runs. */
int boot_load(const struct guest_mem *m, const struct boot_request *req, struct boot_entry *entry,
	      struct boot_error *err) __attribute__((warn_unused_result));

/* Sets err->msg printf-style; returns `code` for `return boot_fail(...)` chains. */
int boot_fail(struct boot_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Places `initramfs` as high as possible in [low_limit, high_limit) (page aligned) and copies
 * it. Returns the guest address via *gpa, or -E2BIG with err set if it does not fit. */
int boot_place_initramfs(const struct guest_mem *m, const struct boot_file *initramfs,
			 uint64_t low_limit, uint64_t high_limit, uint64_t *gpa,
			 struct boot_error *err) __attribute__((warn_unused_result));

#endif
