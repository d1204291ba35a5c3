/* blk-harness: drives kiln's virtio-blk device model (src/virtio/virtio_blk.c) at a fixed
 * queue depth with no guest, for bench/blk-throughput.
 *
 *   blk-harness --file PATH [--rw randread|read] [--bs BYTES] [--iodepth N] [--runtime SEC]
 *               [--direct 0|1] [--engine auto|threads] [--no-thp] [--verify] [--json]
 *
 * A synthetic split virtqueue lives in a guest_mem region, like a guest driver's: slot i of
 * the `iodepth` slots is the 3-descriptor chain { 16-byte header, bs-byte data buffer,
 * status byte } at descriptors 3i..3i+2. The harness makes every slot available, notifies
 * (ops->queue_notify under the device lock, as the ioeventfd handler does) and runs the
 * device's event loop on this thread; each time completions arrive it reads the used ring,
 * checks each status byte, and immediately offers the slot again with a new offset (random
 * and bs-aligned for randread, the next bs for read), so `iodepth` requests stay in flight.
 * Only requests completed with VIRTIO_BLK_S_OK before the deadline count; the ones still in
 * flight then are drained and not counted. Prints IOPS and MiB/s (--json: one JSON object).
 * Guest RAM is kiln's (guest_mem: MADV_HUGEPAGE), so O_DIRECT pins few, large pages;
 * --no-thp disables transparent huge pages for the process (PR_SET_THP_DISABLE) to compare
 * like for like with a tool whose buffers are 4 KiB pages.
 * --verify also compares every completed buffer with a pread() of the same range (slower:
 * a check of the harness and the device, not a measurement). Exit status 1 on a usage error,
 * when any request failed or (--verify) returned wrong data. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "util/event_loop.h"
#include "util/guest_mem.h"
#include "util/log.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_dev.h"
#include "virtio/virtqueue.h"

#define DESC_GPA 0x0ull
#define AVAIL_GPA 0x40000ull
#define USED_GPA 0x50000ull
#define HDR_GPA 0x80000ull
#define STATUS_GPA 0x90000ull
#define BUF_GPA 0x100000ull

struct harness {
	struct guest_mem mem;
	struct event_loop loop;
	struct virtio_dev *d;
	uint32_t qsize;
	unsigned int depth;
	uint32_t bs;
	bool random;
	uint64_t nr_blocks;   /* of bs bytes in the image */
	uint64_t next_block;  /* sequential */
	uint64_t rng;
	uint16_t avail_idx;
	uint16_t seen_used;   /* used entries already consumed */
	uint64_t completed, errors, in_flight;
	uint64_t *slot_block;  /* block each slot reads */
	int verify_fd;         /* --verify: a plain fd on the image, else -1 */
	uint8_t *verify_buf;
	uint64_t mismatches;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void *gp(struct harness *h, uint64_t gpa, uint64_t len)
{
	void *p = guest_mem_ptr(&h->mem, gpa, len);

	if (!p) {
		fprintf(stderr, "blk-harness: internal error: gpa %#llx outside RAM\n",
			(unsigned long long)gpa);
		exit(1);
	}
	return p;
}

static void put_desc(struct harness *h, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct virtq_desc dsc = { htole64(addr), htole32(len), htole16(flags), htole16(next) };

	memcpy(gp(h, DESC_GPA + 16ull * i, 16), &dsc, 16);
}

/* Points slot s at its next block and makes it available (the idx store comes later). */
static void offer(struct harness *h, unsigned int s)
{
	uint64_t block;

	if (h->random) {
		block = xorshift(&h->rng) % h->nr_blocks;
	} else {
		block = h->next_block;
		h->next_block = (h->next_block + 1) % h->nr_blocks;
	}
	h->slot_block[s] = block;
	struct virtio_blk_outhdr hdr = { htole32(VIRTIO_BLK_T_IN), 0,
					 htole64(block * (h->bs / 512)) };
	memcpy(gp(h, HDR_GPA + 16ull * s, 16), &hdr, 16);
	*(uint8_t *)gp(h, STATUS_GPA + s, 1) = 0xff;
	uint16_t le = htole16((uint16_t)(3 * s));
	memcpy(gp(h, AVAIL_GPA + 4 + 2ull * (h->avail_idx & (h->qsize - 1)), 2), &le, 2);
	h->avail_idx++;
	h->in_flight++;
}

static void publish_and_notify(struct harness *h)
{
	uint16_t le = htole16(h->avail_idx);

	__atomic_store_n((uint16_t *)gp(h, AVAIL_GPA + 2, 2), le, __ATOMIC_RELEASE);
	virtio_dev_lock(h->d);
	if (h->d->active)
		h->d->ops->queue_notify(h->d, 0);
	virtio_dev_unlock(h->d);
}

/* Consumes new used entries; re-offers their slots while `refill`. Returns how many. */
static unsigned int harvest(struct harness *h, bool count, bool refill)
{
	uint16_t used = le16toh(__atomic_load_n((uint16_t *)gp(h, USED_GPA + 2, 2),
						__ATOMIC_ACQUIRE));
	unsigned int n = 0;

	while (h->seen_used != used) {
		uint32_t id;

		memcpy(&id, gp(h, USED_GPA + 4 + 8ull * (h->seen_used & (h->qsize - 1)), 4), 4);
		id = le32toh(id);
		h->seen_used++;
		h->in_flight--;
		n++;
		unsigned int s = id / 3;
		if (id % 3 || s >= h->depth) {
			fprintf(stderr, "blk-harness: bad used id %u\n", id);
			exit(1);
		}
		uint8_t st = *(uint8_t *)gp(h, STATUS_GPA + s, 1);
		if (st != VIRTIO_BLK_S_OK)
			h->errors++;
		else if (count)
			h->completed++;
		if (st == VIRTIO_BLK_S_OK && h->verify_fd >= 0) {
			off_t off = (off_t)(h->slot_block[s] * h->bs);
			if (pread(h->verify_fd, h->verify_buf, h->bs, off) != (ssize_t)h->bs ||
			    memcmp(h->verify_buf, gp(h, BUF_GPA + (uint64_t)s * h->bs, h->bs),
				   h->bs) != 0)
				h->mismatches++;
		}
		if (refill)
			offer(h, s);
	}
	return n;
}

static void usage(int code)
{
	fprintf(code ? stderr : stdout,
		"usage: blk-harness --file PATH [--rw randread|read] [--bs BYTES] [--iodepth N]\n"
		"                   [--runtime SEC] [--direct 0|1] [--engine auto|threads] [--no-thp]\n"
		"                   [--verify] [--json]\n");
	exit(code);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "rw", required_argument, NULL, 'r' },
		{ "bs", required_argument, NULL, 'b' },
		{ "iodepth", required_argument, NULL, 'q' },
		{ "runtime", required_argument, NULL, 't' },
		{ "direct", required_argument, NULL, 'd' },
		{ "engine", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ "verify", no_argument, NULL, 'v' },
		{ "no-thp", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct harness h = { .bs = 4096, .depth = 32, .random = true, .rng = 0x9e3779b97f4a7c15ull };
	const char *file = NULL;
	double runtime = 10;
	bool direct = true, json = false, verify = false, no_thp = false;
	char err[256];
	int c;

	log_init();
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': file = optarg; break;
		case 'r':
			if (strcmp(optarg, "randread") == 0)
				h.random = true;
			else if (strcmp(optarg, "read") == 0)
				h.random = false;
			else
				usage(2);
			break;
		case 'b': h.bs = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'q': h.depth = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 't': runtime = strtod(optarg, NULL); break;
		case 'd': direct = strcmp(optarg, "0") != 0; break;
		case 'e':
			if (strcmp(optarg, "threads") == 0)
				setenv("KILN_NO_IO_URING", "1", 1);
			else if (strcmp(optarg, "auto") != 0)
				usage(2);
			break;
		case 'j': json = true; break;
		case 'v': verify = true; break;
		case 'n': no_thp = true; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (!file || h.bs < 512 || h.bs % 512 || h.bs > (16u << 20) || h.depth < 1 ||
	    h.depth > 1024 || !(runtime > 0))
		usage(2);

	if (no_thp && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) {
		fprintf(stderr, "blk-harness: PR_SET_THP_DISABLE: %s\n", strerror(errno));
		return 1;
	}
	/* A queue with room for every slot's three descriptors. */
	h.qsize = 1;
	while (h.qsize < 3 * h.depth)
		h.qsize <<= 1;
	uint64_t ram = BUF_GPA + (uint64_t)h.depth * h.bs;
	ram = (ram + (2u << 20) - 1) & ~((2ull << 20) - 1);
	if (guest_mem_init(&h.mem, ram, 3ull << 30) != 0 || event_loop_init(&h.loop) != 0) {
		fprintf(stderr, "blk-harness: cannot set up memory or the event loop\n");
		return 1;
	}
	memset(h.mem.base, 0, ram); /* fault the buffers in before the clock starts */
	h.slot_block = calloc(h.depth, sizeof(*h.slot_block));
	h.verify_buf = malloc(h.bs);
	h.verify_fd = verify ? open(file, O_RDONLY | O_CLOEXEC) : -1;
	if (!h.slot_block || !h.verify_buf || (verify && h.verify_fd < 0)) {
		fprintf(stderr, "blk-harness: out of memory, or cannot open %s\n", file);
		return 1;
	}

	struct disk_config cfg = { .path = (char *)file, .readonly = true, .direct = direct,
				   .id = "bench", .num_queues = 1, .queue_size = h.qsize };
	if (virtio_blk_create(&cfg, 0, &h.mem, &h.loop, &h.d, err, sizeof(err)) < 0) {
		fprintf(stderr, "blk-harness: %s\n", err);
		return 1;
	}
	uint64_t capacity;
	virtio_dev_lock(h.d);
	h.d->ops->config_read(h.d, 0, (uint8_t *)&capacity, 8);
	capacity = le64toh(capacity);
	h.nr_blocks = capacity * 512 / h.bs;
	if (h.nr_blocks == 0) {
		virtio_dev_unlock(h.d);
		fprintf(stderr, "blk-harness: %s is smaller than one %u-byte block\n", file, h.bs);
		return 1;
	}
	struct virtqueue *vq = &h.d->vqs[0];
	const char *reason = NULL;
	vq->size = h.qsize;
	vq->desc_gpa = DESC_GPA;
	vq->avail_gpa = AVAIL_GPA;
	vq->used_gpa = USED_GPA;
	h.d->driver_features = h.d->host_features | 1ull << VIRTIO_F_VERSION_1;
	if (virtqueue_enable(vq, h.d->queue_max_size, &reason) != 0 ||
	    virtio_dev_activate(h.d) != 0) {
		virtio_dev_unlock(h.d);
		fprintf(stderr, "blk-harness: cannot start the device: %s\n", reason ? reason : "");
		return 1;
	}
	const char *engine = virtio_blk_engine_name(h.d);
	virtio_dev_unlock(h.d);

	for (unsigned int s = 0; s < h.depth; s++) {
		put_desc(&h, (uint16_t)(3 * s), HDR_GPA + 16ull * s, 16, VIRTQ_DESC_F_NEXT,
			 (uint16_t)(3 * s + 1));
		put_desc(&h, (uint16_t)(3 * s + 1), BUF_GPA + (uint64_t)s * h.bs, h.bs,
			 VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, (uint16_t)(3 * s + 2));
		put_desc(&h, (uint16_t)(3 * s + 2), STATUS_GPA + s, 1, VIRTQ_DESC_F_WRITE, 0);
	}

	double start = now(), deadline = start + runtime, end = deadline;
	for (unsigned int s = 0; s < h.depth; s++)
		offer(&h, s);
	publish_and_notify(&h);
	for (;;) {
		if (event_loop_run_once(&h.loop, 100) < 0) {
			fprintf(stderr, "blk-harness: event loop failed\n");
			return 1;
		}
		double t = now();
		bool running = t < deadline;
		if (harvest(&h, running, running) && running)
			publish_and_notify(&h);
		if (!running) {
			end = deadline;
			break;
		}
	}
	/* Drain what is still in flight, uncounted. */
	for (int i = 0; h.in_flight && i < 1000; i++) {
		if (event_loop_run_once(&h.loop, 100) < 0)
			break;
		harvest(&h, false, false);
	}
	double secs = end - start;
	double iops = (double)h.completed / secs;
	double mibs = (double)h.completed * h.bs / secs / (1024.0 * 1024.0);
	if (json)
		printf("{\"rw\": \"%s\", \"bs\": %u, \"iodepth\": %u, \"seconds\": %.3f, "
		       "\"completed\": %llu, \"errors\": %llu, \"iops\": %.1f, \"mib_s\": %.2f, "
		       "\"engine\": \"%s\", \"direct\": %s, \"thp\": %s, \"mismatches\": %llu}\n",
		       h.random ? "randread" : "read", h.bs, h.depth, secs,
		       (unsigned long long)h.completed, (unsigned long long)h.errors, iops, mibs,
		       engine ? engine : "?", direct ? "true" : "false", no_thp ? "false" : "true",
		       (unsigned long long)h.mismatches);
	else
		printf("kiln virtio-blk (%s, %s, bs=%u, iodepth=%u, %s%s): %.0f IOPS, %.1f MiB/s "
		       "(%llu requests in %.2f s, %llu errors)\n",
		       engine ? engine : "?", h.random ? "randread" : "read", h.bs, h.depth,
		       direct ? "O_DIRECT" : "buffered", no_thp ? ", no THP" : "", iops, mibs,
		       (unsigned long long)h.completed, secs, (unsigned long long)h.errors);
	if (verify)
		printf("verify: %llu of %llu buffers differ from the file\n",
		       (unsigned long long)h.mismatches,
		       (unsigned long long)h.completed);
	virtio_dev_destroy(h.d);
	event_loop_destroy(&h.loop);
	guest_mem_free(&h.mem);
	if (h.verify_fd >= 0)
		close(h.verify_fd);
	free(h.verify_buf);
	free(h.slot_block);
	return h.errors || h.mismatches ? 1 : 0;
}
