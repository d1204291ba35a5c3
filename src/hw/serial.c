/* 16550A UART per the National Semiconductor PC16550D datasheet, shaped by what Linux's 8250
 * driver (8250_port.c: autoconfig, serial8250_do_startup, serial8250_handle_irq) checks.
 * Transmit is instant: THR empty (THRE) and transmitter empty (TEMT) are always set, and every
 * THR write raises a new THR-empty interrupt condition. The interrupt line feeds an
 * edge-triggered IOAPIC/PIC pin, so each new condition is signalled with a fresh rising edge. */
#include "hw/serial.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

/* Register offsets; with DLAB (LCR bit 7) set, 0 and 1 are the divisor latch DLL/DLM. */
enum { UART_RBR = 0, UART_IER = 1, UART_IIR = 2, UART_LCR = 3, UART_MCR = 4, UART_LSR = 5,
       UART_MSR = 6, UART_SCR = 7 };
#define UART_THR UART_RBR /* write side of offset 0 */
#define UART_FCR UART_IIR /* write side of offset 2 */

#define UART_IER_RDI 0x01  /* received data available */
#define UART_IER_THRI 0x02 /* THR empty */
#define UART_IER_RLSI 0x04 /* receiver line status */
#define UART_IER_MSI 0x08  /* modem status */
#define UART_IER_MASK 0x0f

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI 0x00
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_RLSI 0x06
#define UART_IIR_FIFO_ENABLED 0xc0

#define UART_FCR_ENABLE_FIFO 0x01
#define UART_FCR_CLEAR_RCVR 0x02

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_MCR_MASK 0x1f

#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80
#define UART_MSR_STATUS_MASK 0xf0
/* Outside loopback the "cable" reports carrier, data set ready and clear to send. */
#define UART_MSR_IDLE (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS)

#define SERIAL_FIFO_SIZE 16
#define SERIAL_OUT_POLL_MS 1000

struct serial {
	pthread_mutex_t lock;
	int out_fd;           /* borrowed, -1 = discard */
	unsigned int irq;
	irq_line_fn irq_fn;   /* may be NULL */
	void *irq_opaque;     /* borrowed */
	int irq_level;        /* last level driven on the line */

	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint8_t fcr;          /* only UART_FCR_ENABLE_FIFO is kept */
	uint8_t msr;          /* status (high nibble) and delta bits (low nibble) */
	uint8_t rbr;          /* last byte read, returned when the FIFO is empty */
	bool thre_pending;    /* THR-empty interrupt condition, cleared by an IIR read */
	bool overrun;         /* LSR OE, cleared by an LSR read */

	uint8_t rx[SERIAL_FIFO_SIZE];
	unsigned int rx_head, rx_count;
};

static unsigned int rx_capacity(const struct serial *s)
{
	/* Without FIFOs (character mode) the receiver holds one byte. */
	return (s->fcr & UART_FCR_ENABLE_FIFO) ? SERIAL_FIFO_SIZE : 1;
}

/* The highest-priority pending interrupt identification (IIR bits 3:0). */
static uint8_t iir_id(const struct serial *s)
{
	if ((s->ier & UART_IER_RLSI) && s->overrun)
		return UART_IIR_RLSI;
	if ((s->ier & UART_IER_RDI) && s->rx_count > 0)
		return UART_IIR_RDI;
	if ((s->ier & UART_IER_THRI) && s->thre_pending)
		return UART_IIR_THRI;
	if ((s->ier & UART_IER_MSI) && (s->msr & ~UART_MSR_STATUS_MASK))
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

static void set_line(struct serial *s, int level)
{
	s->irq_level = level;
	if (s->irq_fn)
		s->irq_fn(s->irq_opaque, s->irq, level);
}

/* Drives the line after a state change. new_event: a new interrupt condition arose, which
 * needs a fresh rising edge even if the line is already high (edge-triggered pin). */
static void update_irq(struct serial *s, bool new_event)
{
	bool pending = (s->mcr & UART_MCR_OUT2) && iir_id(s) != UART_IIR_NO_INT;

	if (!pending) {
		if (s->irq_level)
			set_line(s, 0);
		return;
	}
	if (s->irq_level && new_event)
		set_line(s, 0);
	if (!s->irq_level)
		set_line(s, 1);
}

static void rx_clear(struct serial *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
}

static bool rx_push(struct serial *s, uint8_t byte)
{
	if (s->rx_count >= rx_capacity(s))
		return false;
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = byte;
	s->rx_count++;
	return true;
}

static uint8_t rx_pop(struct serial *s)
{
	if (s->rx_count == 0)
		return s->rbr;
	s->rbr = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
	s->rx_count--;
	return s->rbr;
}

/* Recomputes the modem status inputs from MCR (loopback) or the idle cable and latches the
 * delta bits. Returns true when a delta bit became set. */
static bool update_msr(struct serial *s)
{
	uint8_t old = s->msr & UART_MSR_STATUS_MASK, now = UART_MSR_IDLE, delta = 0;

	if (s->mcr & UART_MCR_LOOP) {
		now = 0;
		if (s->mcr & UART_MCR_RTS)
			now |= UART_MSR_CTS;
		if (s->mcr & UART_MCR_DTR)
			now |= UART_MSR_DSR;
		if (s->mcr & UART_MCR_OUT1)
			now |= UART_MSR_RI;
		if (s->mcr & UART_MCR_OUT2)
			now |= UART_MSR_DCD;
	}
	if ((old ^ now) & UART_MSR_CTS)
		delta |= UART_MSR_DCTS;
	if ((old ^ now) & UART_MSR_DSR)
		delta |= UART_MSR_DDSR;
	if ((old & UART_MSR_RI) && !(now & UART_MSR_RI)) /* trailing edge only */
		delta |= UART_MSR_TERI;
	if ((old ^ now) & UART_MSR_DCD)
		delta |= UART_MSR_DDCD;
	delta &= (uint8_t)~s->msr;
	s->msr = (uint8_t)(now | (s->msr & ~UART_MSR_STATUS_MASK) | delta);
	return delta != 0;
}

/* Waits for a non-blocking out_fd to drain. Returns true when it may be written again. */
static bool wait_writable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int r;

	do
		r = poll(&pfd, 1, SERIAL_OUT_POLL_MS);
	while (r < 0 && errno == EINTR);
	return r > 0 && !(pfd.revents & (POLLERR | POLLNVAL));
}

static void output_byte(struct serial *s, uint8_t byte)
{
	char msg[64];
	bool waited = false;
	int err;

	if (s->out_fd < 0)
		return;
	for (;;) {
		ssize_t n = write(s->out_fd, &byte, 1);

		if (n == 1)
			return;
		err = n < 0 ? errno : EIO;
		if (err == EINTR)
			continue;
		if (err == EAGAIN && !waited) {
			waited = true;
			if (wait_writable(s->out_fd))
				continue;
		}
		break;
	}
	log_ratelimited(LOG_WARN, "serial", "output byte dropped: %s",
			strerror_r(err, msg, sizeof(msg)));
}

static void write_thr(struct serial *s, uint8_t byte)
{
	uint8_t raised = UART_IER_THRI;

	if (!(s->mcr & UART_MCR_LOOP)) {
		output_byte(s, byte);
	} else if (rx_push(s, byte)) {
		raised |= UART_IER_RDI;
	} else {
		s->overrun = true;
		raised |= UART_IER_RLSI;
	}
	/* The byte left at once: THR is empty again, a new THRE condition. */
	s->thre_pending = true;
	update_irq(s, (s->ier & raised) != 0);
}

static void write_ier(struct serial *s, uint8_t val)
{
	uint8_t old = s->ier, rising;
	bool new_event = false;

	s->ier = val & UART_IER_MASK;
	rising = s->ier & (uint8_t)~old;
	/* THRI 0->1 with THR empty raises THRE again even after an IIR read cleared it
	 * (Linux's THRE test and start_tx rely on it); THRI 1->0 drops the condition. */
	if ((old ^ s->ier) & UART_IER_THRI)
		s->thre_pending = (s->ier & UART_IER_THRI) != 0;
	if ((rising & UART_IER_THRI) && s->thre_pending)
		new_event = true;
	if ((rising & UART_IER_RDI) && s->rx_count > 0)
		new_event = true;
	if ((rising & UART_IER_RLSI) && s->overrun)
		new_event = true;
	if ((rising & UART_IER_MSI) && (s->msr & ~UART_MSR_STATUS_MASK))
		new_event = true;
	update_irq(s, new_event);
}

static void write_fcr(struct serial *s, uint8_t val)
{
	/* Changing the FIFO enable bit resets both FIFOs (datasheet, FCR bit 0). */
	if ((val ^ s->fcr) & UART_FCR_ENABLE_FIFO)
		val |= UART_FCR_CLEAR_RCVR;
	if (val & UART_FCR_CLEAR_RCVR)
		rx_clear(s);
	s->fcr = val & UART_FCR_ENABLE_FIFO;
	update_irq(s, false);
}

static void write_mcr(struct serial *s, uint8_t val)
{
	bool delta;

	s->mcr = val & UART_MCR_MASK;
	delta = update_msr(s);
	update_irq(s, delta && (s->ier & UART_IER_MSI));
}

static void reg_write(struct serial *s, unsigned int off, uint8_t val)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (off) {
	case UART_THR:
		if (dlab)
			s->dll = val;
		else
			write_thr(s, val);
		break;
	case UART_IER:
		if (dlab)
			s->dlm = val;
		else
			write_ier(s, val);
		break;
	case UART_FCR:
		write_fcr(s, val);
		break;
	case UART_LCR:
		s->lcr = val;
		break;
	case UART_MCR:
		write_mcr(s, val);
		break;
	case UART_SCR:
		s->scr = val;
		break;
	default: /* LSR and MSR are read-only (factory test writes ignored) */
		break;
	}
}

static uint8_t read_iir(struct serial *s)
{
	uint8_t id = iir_id(s);

	/* Reading IIR while it reports THRE clears that condition (datasheet table 4). */
	if (id == UART_IIR_THRI) {
		s->thre_pending = false;
		update_irq(s, false);
	}
	if (s->fcr & UART_FCR_ENABLE_FIFO)
		id |= UART_IIR_FIFO_ENABLED;
	return id;
}

static uint8_t read_lsr(struct serial *s)
{
	uint8_t lsr = UART_LSR_THRE | UART_LSR_TEMT;

	if (s->rx_count > 0)
		lsr |= UART_LSR_DR;
	if (s->overrun) {
		lsr |= UART_LSR_OE;
		s->overrun = false;
		update_irq(s, false);
	}
	return lsr;
}

static uint8_t read_msr(struct serial *s)
{
	uint8_t msr = s->msr;

	s->msr &= UART_MSR_STATUS_MASK;
	update_irq(s, false);
	return msr;
}

static uint8_t reg_read(struct serial *s, unsigned int off)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	uint8_t val;

	switch (off) {
	case UART_RBR:
		if (dlab)
			return s->dll;
		val = rx_pop(s);
		update_irq(s, false);
		return val;
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR:
		return read_iir(s);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return read_lsr(s);
	case UART_MSR:
		return read_msr(s);
	default:
		return s->scr;
	}
}

struct serial *serial_new(int out_fd, unsigned int irq, irq_line_fn irq_fn, void *irq_opaque)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return NULL;
	}
	s->out_fd = out_fd;
	s->irq = irq;
	s->irq_fn = irq_fn;
	s->irq_opaque = irq_opaque;
	s->dll = 0x0c; /* 9600 baud from the 1.8432 MHz clock */
	s->lcr = 0x03; /* 8N1 */
	s->msr = UART_MSR_IDLE;
	return s;
}

void serial_free(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void serial_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write)
{
	struct serial *s = opaque;
	unsigned int off;

	/* Wider accesses touch the neighbouring registers too; only the first byte is ours. */
	if (len == 0 || offset > UART_SCR)
		return;
	off = (unsigned int)offset;
	pthread_mutex_lock(&s->lock);
	if (is_write)
		reg_write(s, off, data[0]);
	else
		data[0] = reg_read(s, off);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_queue_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && rx_push(s, buf[n]))
		n++;
	if (n > 0)
		update_irq(s, (s->ier & UART_IER_RDI) != 0);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_rx_space(struct serial *s)
{
	size_t space;

	pthread_mutex_lock(&s->lock);
	space = rx_capacity(s) - s->rx_count;
	pthread_mutex_unlock(&s->lock);
	return space;
}
