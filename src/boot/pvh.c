#include "boot/pvh.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "arch/x86_64/e820.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/regs.h"

bool pvh_probe(const uint8_t *img, size_t len)
{
	return len >= SELFMAG && memcmp(img, ELFMAG, SELFMAG) == 0;
}

/* Looks for the Xen PHYS32_ENTRY note in [off, off+size) of the file. */
static bool find_entry_note(const uint8_t *img, uint64_t off, uint64_t size, uint32_t *entry)
{
	uint64_t p = off, end = off + size;

	while (end - p >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, img + p, sizeof(nh));
		uint64_t name_off = p + sizeof(nh);
		uint64_t desc_off = name_off + (((uint64_t)nh.n_namesz + 3) & ~3ull);
		uint64_t next = desc_off + (((uint64_t)nh.n_descsz + 3) & ~3ull);
		if (next > end || next <= p)
			return false;
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    memcmp(img + name_off, "Xen", 4) == 0 && nh.n_descsz >= 4) {
			memcpy(entry, img + desc_off, 4);
			return true;
		}
		p = next;
	}
	return false;
}

int pvh_parse(const uint8_t *img, size_t len, struct pvh_info *info, struct boot_error *err)
{
	Elf64_Ehdr eh;
	bool have_entry = false;

	memset(info, 0, sizeof(*info));
	if (len < EI_NIDENT || memcmp(img, ELFMAG, SELFMAG) != 0)
		return boot_fail(err, -EINVAL, "not an ELF file");
	if (img[EI_CLASS] != ELFCLASS64)
		return boot_fail(err, -EINVAL, "ELF class %u: not a 64-bit ELF (kiln boots x86-64 kernels)",
				 img[EI_CLASS]);
	if (len < sizeof(eh))
		return boot_fail(err, -EINVAL, "truncated ELF header (%zu bytes)", len);
	memcpy(&eh, img, sizeof(eh));
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
		return boot_fail(err, -EINVAL, "ELF machine %u is not x86-64 (%u)", eh.e_machine, EM_X86_64);
	if (eh.e_type != ET_EXEC)
		return boot_fail(err, -EINVAL, "ELF type %u is not an executable", eh.e_type);
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
		return boot_fail(err, -EINVAL, "ELF program headers missing or truncated");

	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			return boot_fail(err, -EINVAL,
					 "ELF truncated: segment %u (offset %llu, %llu bytes) is past the end "
					 "of the file (%zu bytes)", i, (unsigned long long)ph.p_offset,
					 (unsigned long long)ph.p_filesz, len);
		if (ph.p_type == PT_NOTE) {
			if (!have_entry)
				have_entry = find_entry_note(img, ph.p_offset, ph.p_filesz, &info->entry);
			continue;
		}
		if (ph.p_memsz < ph.p_filesz || ph.p_paddr + ph.p_memsz < ph.p_paddr)
			return boot_fail(err, -EINVAL, "ELF segment %u has inconsistent sizes", i);
		if (info->nr_seg == PVH_MAX_SEGMENTS)
			return boot_fail(err, -EINVAL, "ELF has more than %d loadable segments",
					 PVH_MAX_SEGMENTS);
		info->seg[info->nr_seg++] = (struct pvh_segment){
			ph.p_paddr, ph.p_filesz, ph.p_memsz, ph.p_offset };
		if (ph.p_paddr + ph.p_memsz > info->end)
			info->end = ph.p_paddr + ph.p_memsz;
	}
	if (!have_entry)
		return boot_fail(err, -EINVAL,
				 "ELF has no PVH entry note (Xen note type 18, XEN_ELFNOTE_PHYS32_ENTRY); "
				 "build the kernel with CONFIG_PVH=y or pass a bzImage");
	if (info->nr_seg == 0)
		return boot_fail(err, -EINVAL, "ELF has no loadable segments");
	return 0;
}

static int write_start_info(const struct guest_mem *m, const struct boot_request *req,
			    uint64_t initrd_gpa, struct boot_error *err)
{
	struct hvm_start_info si = {
		.magic = XEN_HVM_START_MAGIC,
		.version = 1,
		.cmdline_paddr = LAYOUT_CMDLINE,
		.rsdp_paddr = LAYOUT_ACPI_START,
		.memmap_paddr = LAYOUT_PVH_MEMMAP,
	};
	struct e820_entry e820[E820_MAX_ENTRIES];
	int n = e820_build(m, e820, E820_MAX_ENTRIES);

	if (n < 0)
		return boot_fail(err, n, "cannot build the memory map");
	for (int i = 0; i < n; i++) {
		struct hvm_memmap_table_entry me = { e820[i].addr, e820[i].size, e820[i].type, 0 };
		if (guest_mem_write(m, LAYOUT_PVH_MEMMAP + (uint64_t)i * sizeof(me), &me, sizeof(me)))
			return boot_fail(err, -E2BIG, "guest memory too small for the memory map");
	}
	si.memmap_entries = (uint32_t)n;
	if (req->initramfs) {
		struct hvm_modlist_entry mod = { initrd_gpa, req->initramfs->size, 0, 0 };
		if (guest_mem_write(m, LAYOUT_PVH_MODLIST, &mod, sizeof(mod)))
			return boot_fail(err, -E2BIG, "guest memory too small for the module list");
		si.nr_modules = 1;
		si.modlist_paddr = LAYOUT_PVH_MODLIST;
	}
	if (guest_mem_write(m, LAYOUT_PVH_INFO, &si, sizeof(si)))
		return boot_fail(err, -E2BIG, "guest memory too small for hvm_start_info");
	return 0;
}

int pvh_load(const struct guest_mem *m, const struct boot_request *req, struct boot_entry *entry,
	     struct boot_error *err)
{
	const struct boot_file *k = req->kernel;
	struct pvh_info pi;
	uint64_t initrd_gpa = 0;
	int r;

	r = pvh_parse(k->data, k->size, &pi, err);
	if (r) {
		char tmp[sizeof(err->msg)];
		memcpy(tmp, err->msg, sizeof(tmp));
		return boot_fail(err, r, "kernel '%s': %s", k->path, tmp);
	}
	for (unsigned int i = 0; i < pi.nr_seg; i++) {
		const struct pvh_segment *s = &pi.seg[i];
		uint8_t *dst = guest_mem_ptr(m, s->paddr, s->memsz);
		if (!dst || s->paddr < LAYOUT_HIGH_RAM_START)
			return boot_fail(err, -E2BIG,
					 "kernel '%s': segment at %#llx (%llu KiB) is outside guest RAM above "
					 "1 MiB; increase --memory size=", k->path,
					 (unsigned long long)s->paddr, (unsigned long long)(s->memsz >> 10));
		memcpy(dst, k->data + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	if (pi.entry < LAYOUT_HIGH_RAM_START || !guest_mem_ptr(m, pi.entry, 1))
		return boot_fail(err, -EINVAL, "kernel '%s': PVH entry %#x is not in loaded RAM",
				 k->path, pi.entry);

	size_t n = req->cmdline ? strlen(req->cmdline) : 0;
	if (n >= LAYOUT_CMDLINE_MAX)
		return boot_fail(err, -E2BIG, "--cmdline is %zu bytes; at most %llu are supported", n,
				 LAYOUT_CMDLINE_MAX - 1);
	if (guest_mem_write(m, LAYOUT_CMDLINE, req->cmdline ? req->cmdline : "", n) ||
	    guest_mem_write(m, LAYOUT_CMDLINE + n, "", 1))
		return boot_fail(err, -E2BIG, "guest memory too small for the command line");

	if (req->initramfs) {
		r = boot_place_initramfs(m, req->initramfs, (pi.end + 0xfff) & ~0xfffull,
					 LAYOUT_MEM_32BIT_HOLE, &initrd_gpa, err);
		if (r)
			return r;
	}
	r = write_start_info(m, req, initrd_gpa, err);
	if (r)
		return r;
	r = regs_write_boot_tables(m, false);
	if (r)
		return boot_fail(err, r, "guest memory too small for the boot GDT");

	entry->long_mode = false;
	entry->rip = pi.entry;
	entry->rbx = LAYOUT_PVH_INFO;
	entry->format = "PVH ELF";
	return 0;
}
