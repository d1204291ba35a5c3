/* Port 0x80 boot-progress codes, as Cloud Hypervisor's debug port logs them. */
#include "hw/debug_port.h"

#include "util/log.h"

void debug_port_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write)
{
	unsigned long long t;

	if (len == 0 || offset != 0)
		return;
	if (!is_write) {
		data[0] = 0;
		return;
	}
	t = log_elapsed_ns();
	/* Guest-triggerable: rate-limited even at debug level. */
	log_ratelimited(LOG_DEBUG, "debug-port", "code 0x%02x at %llu.%06llu s", data[0],
			t / 1000000000ull, (t / 1000ull) % 1000000ull);
}
