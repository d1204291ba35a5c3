#include "util/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define GIB (1ull << 30)

int guest_mem_init(struct guest_mem *m, uint64_t ram_size, uint64_t hole_start)
{
	memset(m, 0, sizeof(*m));
	if (ram_size == 0 || (ram_size & 0xfff) || (hole_start & 0xfff) || hole_start > 4 * GIB)
		return -EINVAL;

	void *p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	/* Guest RAM never belongs in a core dump of kiln, and THP cuts EPT/NPT misses. */
	madvise(p, ram_size, MADV_DONTDUMP);
	madvise(p, ram_size, MADV_HUGEPAGE);

	m->base = p;
	m->mapped = ram_size;
	m->ram_size = ram_size;
	uint64_t low = ram_size < hole_start ? ram_size : hole_start;
	m->regions[0] = (struct guest_mem_region){ .gpa = 0, .size = low, .hva = m->base };
	m->nr_regions = 1;
	if (ram_size > low) {
		m->regions[1] = (struct guest_mem_region){
			.gpa = 4 * GIB, .size = ram_size - low, .hva = m->base + low };
		m->nr_regions = 2;
	}
	return 0;
}

void guest_mem_free(struct guest_mem *m)
{
	if (m->base)
		munmap(m->base, m->mapped);
	memset(m, 0, sizeof(*m));
}

void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < m->nr_regions; i++) {
		const struct guest_mem_region *r = &m->regions[i];

		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		uint64_t off = gpa - r->gpa;
		if (len > r->size - off)
			return NULL;
		return r->hva + off;
	}
	return NULL;
}

int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len)
{
	void *p = guest_mem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len)
{
	void *p = guest_mem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}
