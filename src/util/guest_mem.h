/* Guest physical memory: the only way kiln code turns a guest physical address (GPA) into a
 * host pointer. Every access is bounds- and overflow-checked against the RAM regions, so a
 * guest-supplied address can never reach outside guest RAM (holes are not RAM). */
#ifndef KILN_UTIL_GUEST_MEM_H
#define KILN_UTIL_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 4

/* One contiguous RAM range: [gpa, gpa + size) backed by host memory at hva. */
struct guest_mem_region {
	uint64_t gpa;  /* guest physical start, bytes */
	uint64_t size; /* bytes */
	uint8_t *hva;  /* host address of gpa; owned by the guest_mem's mapping */
};

/* All guest RAM. Regions are sorted by gpa and do not overlap. The whole RAM is one host
 * mapping (`base`, `mapped` bytes) split into regions around the MMIO hole. */
struct guest_mem {
	struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned int nr_regions;
	uint8_t *base;    /* start of the single host mapping, owned */
	uint64_t mapped;  /* bytes mapped at base */
	uint64_t ram_size; /* total RAM bytes (sum of region sizes) */
};

/* Maps `ram_size` bytes of anonymous memory and lays it out as guest RAM: below
 * `hole_start` first, the rest from 4 GiB up. ram_size and hole_start must be multiples of
 * 4 KiB. Returns 0, -EINVAL for a zero/unaligned size, -ENOMEM when mmap fails. */
int guest_mem_init(struct guest_mem *m, uint64_t ram_size, uint64_t hole_start)
	__attribute__((warn_unused_result));

/* Unmaps the RAM. Safe on a zeroed or already-freed struct. */
void guest_mem_free(struct guest_mem *m);

/* Host pointer for [gpa, gpa+len) if that whole range lies in one RAM region, else NULL
 * (out of RAM, in a hole, straddling two regions, or gpa+len overflowing). len may be 0.
 * The pointer is valid until guest_mem_free(). */
void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Copy between guest RAM and a host buffer. Return 0, or -EFAULT if the range is not
 * entirely RAM (nothing is copied then). */
int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len)
	__attribute__((warn_unused_result));
int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len)
	__attribute__((warn_unused_result));

#endif
