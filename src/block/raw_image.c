/* Raw disk images; see raw_image.h. */
#include "block/raw_image.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

#define MAX_PHYS_BLOCK (1u << 20)

/* Whole-file OFD lock: shared for read-only users, exclusive for writers. Returns 0, -EBUSY
 * when another open file description holds a conflicting lock, or -errno. */
static int lock_image(int fd, bool readonly)
{
	struct flock fl = {
		.l_type = readonly ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = 0,
		.l_len = 0, /* to the end, however the file grows */
		.l_pid = 0, /* required for OFD locks */
	};

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return -EBUSY;
	return -errno;
}

static uint32_t phys_block_of(uint64_t hint)
{
	if (hint < RAW_SECTOR_SIZE || hint > MAX_PHYS_BLOCK || (hint & (hint - 1)))
		return RAW_SECTOR_SIZE;
	return (uint32_t)hint;
}

static int open_error(int e, const struct disk_config *cfg, char *err, size_t errlen)
{
	const char *path = cfg->path;

	switch (e) {
	case ENOENT:
		snprintf(err, errlen, "disk image %s does not exist; check --disk path= (create a raw "
			 "image with e.g. `truncate -s 1G %s`)", path, path);
		break;
	case EISDIR:
		snprintf(err, errlen, "disk image %s is a directory; --disk path= must name a raw "
			 "image file or a block device", path);
		break;
	case EACCES:
	case EPERM:
	case EROFS:
		snprintf(err, errlen, "cannot open disk image %s%s: %s; fix its permissions%s", path,
			 cfg->readonly ? "" : " for writing", strerror(e),
			 cfg->readonly ? "" : " or add readonly=on");
		break;
	case EINVAL:
		if (cfg->direct) {
			snprintf(err, errlen, "cannot open disk image %s with direct=on: its file "
				 "system does not support O_DIRECT (e.g. tmpfs); use direct=off", path);
			break;
		}
		/* fall through */
	default:
		snprintf(err, errlen, "cannot open disk image %s: %s", path, strerror(e));
		break;
	}
	return -e;
}

int raw_image_open(const struct disk_config *cfg, struct raw_image *img, char *err,
		   size_t errlen)
{
	struct stat st;
	int flags, r;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	if (!cfg || !cfg->path || !cfg->path[0]) {
		snprintf(err, errlen, "--disk: no image path given (path=)");
		return -EINVAL;
	}
	img->readonly = cfg->readonly;
	img->direct = cfg->direct;

	/* O_NONBLOCK: opening a FIFO by mistake must not hang; cleared again below. */
	flags = (cfg->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	if (cfg->direct)
		flags |= O_DIRECT;
	img->fd = open(cfg->path, flags);
	if (img->fd < 0)
		return open_error(errno, cfg, err, errlen);

	if (fstat(img->fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot inspect disk image %s: %s", cfg->path, strerror(-r));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		r = open_error(EISDIR, cfg, err, errlen);
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "disk image %s is not a regular file or block device; "
			 "--disk path= must name a raw image file or a block device", cfg->path);
		r = -EINVAL;
		goto fail;
	}
	img->block_device = S_ISBLK(st.st_mode);
	img->st_dev = st.st_dev;
	img->st_ino = st.st_ino;

	int fl = fcntl(img->fd, F_GETFL);
	if (fl < 0 || fcntl(img->fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		r = -errno;
		snprintf(err, errlen, "disk image %s: fcntl: %s", cfg->path, strerror(-r));
		goto fail;
	}

	r = lock_image(img->fd, cfg->readonly);
	if (r == -EBUSY) {
		snprintf(err, errlen, "disk image %s is in use by another process (locked); stop "
			 "the other VM or tool using it, or give this VM a copy of the image",
			 cfg->path);
		goto fail;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot lock disk image %s: %s", cfg->path, strerror(-r));
		goto fail;
	}

	if (img->block_device) {
		uint64_t bytes = 0;
		unsigned int pbs = 0;

		if (ioctl(img->fd, BLKGETSIZE64, &bytes) < 0) {
			r = -errno;
			snprintf(err, errlen, "cannot get the size of block device %s: %s",
				 cfg->path, strerror(-r));
			goto fail;
		}
		img->size = bytes;
		if (ioctl(img->fd, BLKPBSZGET, &pbs) < 0)
			pbs = RAW_SECTOR_SIZE;
		img->phys_block = phys_block_of(pbs);
	} else {
		img->size = st.st_size < 0 ? 0 : (uint64_t)st.st_size;
		img->phys_block = phys_block_of(st.st_blksize < 0 ? 0 : (uint64_t)st.st_blksize);
	}
	img->sectors = img->size / RAW_SECTOR_SIZE;
	if (img->size % RAW_SECTOR_SIZE)
		log_warn("block", "disk image %s: size %llu is not a multiple of %u bytes; the "
			 "last %llu bytes are not visible to the guest", cfg->path,
			 (unsigned long long)img->size, RAW_SECTOR_SIZE,
			 (unsigned long long)(img->size % RAW_SECTOR_SIZE));
	return 0;
fail:
	raw_image_close(img);
	return r;
}

void raw_image_close(struct raw_image *img)
{
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
}
