/* 16550A UART (National Semiconductor PC16550D datasheet) at COM1 (0x3f8, IRQ 4), faithful
 * enough for Linux's 8250 driver: 16-byte receive FIFO, IER read-back, MCR loopback reflected
 * in MSR, IIR priorities (line status > rx data > THR empty > modem status), a THR-empty
 * interrupt after every transmit, scratch register, divisor latch. Transmit is immediate. */
#ifndef KILN_HW_SERIAL_H
#define KILN_HW_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/power.h"

struct serial;

/* Creates a UART. Output bytes are written to out_fd (-1: discarded); out_fd is borrowed and
 * must stay open while the UART lives. irq_fn(irq_opaque, irq, level) drives the interrupt
 * line; each new interrupt condition produces a rising edge. Returns NULL on ENOMEM. */
struct serial *serial_new(int out_fd, unsigned int irq, irq_line_fn irq_fn, void *irq_opaque);

/* Frees the UART. */
void serial_free(struct serial *s);

/* Bus handler for the 8 registers (offset 0..7). Thread-safe. */
void serial_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write);

/* Queues host input for the guest. Returns how many bytes fit in the receive FIFO (0 when
 * full: the caller retries later, nothing is dropped). Raises the rx interrupt if enabled.
 * Thread-safe. */
size_t serial_queue_input(struct serial *s, const uint8_t *buf, size_t len);

/* Free space in the receive FIFO, bytes. Thread-safe. */
size_t serial_rx_space(struct serial *s);

#endif
