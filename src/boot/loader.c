#include "boot/loader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "boot/bzimage.h"
#include "boot/pvh.h"

int boot_fail(struct boot_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int boot_file_read(const char *path, const char *what, uint64_t max_size, struct boot_file *f,
		   struct boot_error *err)
{
	struct stat st;
	int fd, r;

	memset(f, 0, sizeof(*f));
	f->path = path;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		return boot_fail(err, r, "%s '%s': cannot open: %s", what, path, strerror(-r));
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		boot_fail(err, r, "%s '%s': cannot stat: %s", what, path, strerror(-r));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = boot_fail(err, -EISDIR, "%s '%s' is a directory; expected a file", what, path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = boot_fail(err, -EINVAL, "%s '%s' is not a regular file", what, path);
		goto out;
	}
	if (st.st_size == 0) {
		r = boot_fail(err, -EINVAL, "%s '%s' is empty", what, path);
		goto out;
	}
	if ((uint64_t)st.st_size > max_size) {
		r = boot_fail(err, -EFBIG,
			      "%s '%s' is %llu MiB, larger than guest memory (%llu MiB); "
			      "increase --memory size=", what, path,
			      (unsigned long long)st.st_size >> 20, (unsigned long long)max_size >> 20);
		goto out;
	}
	f->size = (size_t)st.st_size;
	f->data = malloc(f->size);
	if (!f->data) {
		r = boot_fail(err, -ENOMEM, "%s '%s': out of memory reading %zu bytes", what, path, f->size);
		goto out;
	}
	for (size_t off = 0; off < f->size;) {
		ssize_t n = pread(fd, f->data + off, f->size - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			boot_fail(err, r, "%s '%s': read failed: %s", what, path,
				  n < 0 ? strerror(-r) : "file shrank while reading");
			boot_file_free(f);
			goto out;
		}
		off += (size_t)n;
	}
	r = 0;
out:
	close(fd);
	return r;
}

void boot_file_free(struct boot_file *f)
{
	free(f->data);
	f->data = NULL;
	f->size = 0;
}

int boot_place_initramfs(const struct guest_mem *m, const struct boot_file *initramfs,
			 uint64_t low_limit, uint64_t high_limit, uint64_t *gpa,
			 struct boot_error *err)
{
	uint64_t low_end = m->regions[0].size;
	uint64_t top = high_limit < low_end ? high_limit : low_end;
	uint64_t size = initramfs->size;

	if (size > top || ((top - size) & ~0xfffull) < low_limit)
		return boot_fail(err, -E2BIG,
				 "initramfs '%s' (%llu MiB) does not fit in guest memory between the "
				 "kernel and %llu MiB; increase --memory size=", initramfs->path,
				 (unsigned long long)(size >> 20), (unsigned long long)(top >> 20));
	*gpa = (top - size) & ~0xfffull;
	if (guest_mem_write(m, *gpa, initramfs->data, size))
		return boot_fail(err, -E2BIG, "initramfs '%s' does not fit in guest RAM", initramfs->path);
	return 0;
}

int boot_load(const struct guest_mem *m, const struct boot_request *req, struct boot_entry *entry,
	      struct boot_error *err)
{
	const struct boot_file *k = req->kernel;

	memset(entry, 0, sizeof(*entry));
	if (m->regions[0].size < 2 * MIB)
		return boot_fail(err, -E2BIG, "guest memory must be at least 2 MiB to boot a kernel");
	if (bzimage_probe(k->data, k->size))
		return bzimage_load(m, req, entry, err);
	if (pvh_probe(k->data, k->size))
		return pvh_load(m, req, entry, err);
	return boot_fail(err, -EINVAL,
			 "kernel '%s' is neither a Linux bzImage (no \"HdrS\" setup header) nor an "
			 "ELF file; pass a bzImage (e.g. /boot/vmlinuz-*) or an ELF vmlinux with a "
			 "PVH entry note", k->path);
}
