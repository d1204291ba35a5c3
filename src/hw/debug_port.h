/* Cloud Hypervisor's debug port 0x80: each byte written is a boot-progress code, logged at
 * debug level with the time since kiln started. Reads return 0. */
#ifndef KILN_HW_DEBUG_PORT_H
#define KILN_HW_DEBUG_PORT_H

#include <stdbool.h>
#include <stdint.h>

/* Bus handler for port 0x80; opaque is unused. */
void debug_port_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write);

#endif
