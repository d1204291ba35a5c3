/* 16550A tests: the probe sequence of Linux's 8250 autoconfig and startup, transmit through a
 * pipe, receive FIFO, and the interrupt edges an edge-triggered IOAPIC pin needs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/serial.h"

enum { RBR = 0, IER = 1, IIR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };
#define FCR IIR
#define THR RBR

#define IRQ_COM1 4
#define MAX_CALLS 256

struct fake_irq {
	int level;            /* current line level */
	unsigned int rising;  /* 0 -> 1 transitions */
	unsigned int calls;
	unsigned int redundant; /* calls that did not change the level */
	unsigned int bad_irq;
};

struct fixture {
	struct serial *s;
	struct fake_irq irq;
	int rfd, wfd;
};

static void fake_irq_fn(void *opaque, unsigned int irq, int level)
{
	struct fake_irq *f = opaque;

	if (irq != IRQ_COM1)
		f->bad_irq++;
	f->calls++;
	if (level == f->level)
		f->redundant++;
	if (level && !f->level)
		f->rising++;
	f->level = level;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	int p[2];

	if (!fx || pipe(p) < 0)
		return -1;
	fx->rfd = p[0];
	fx->wfd = p[1];
	if (fcntl(fx->rfd, F_SETFL, O_NONBLOCK) < 0)
		return -1;
	fx->s = serial_new(fx->wfd, IRQ_COM1, fake_irq_fn, &fx->irq);
	if (!fx->s)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(fx->irq.redundant, 0);
	assert_int_equal(fx->irq.bad_irq, 0);
	serial_free(fx->s);
	close(fx->rfd);
	close(fx->wfd);
	free(fx);
	return 0;
}

static void out(struct fixture *fx, unsigned int off, uint8_t v)
{
	serial_pio(fx->s, off, &v, 1, true);
}

static uint8_t in(struct fixture *fx, unsigned int off)
{
	uint8_t v = 0x5a;

	serial_pio(fx->s, off, &v, 1, false);
	return v;
}

static ssize_t drain(struct fixture *fx, char *buf, size_t len)
{
	ssize_t n = read(fx->rfd, buf, len);

	return n < 0 && errno == EAGAIN ? 0 : n;
}

static void test_scratch(void **state)
{
	struct fixture *fx = *state;

	out(fx, SCR, 0xa5);
	assert_int_equal(in(fx, SCR), 0xa5);
	out(fx, SCR, 0x5a);
	assert_int_equal(in(fx, SCR), 0x5a);
}

static void test_divisor_latch(void **state)
{
	struct fixture *fx = *state;
	char buf[4];

	out(fx, LCR, 0x83); /* DLAB | 8N1 */
	out(fx, RBR, 0x01);
	out(fx, IER, 0x02);
	assert_int_equal(in(fx, RBR), 0x01);
	assert_int_equal(in(fx, IER), 0x02);
	assert_int_equal(in(fx, LCR), 0x83);
	out(fx, LCR, 0x03);
	assert_int_equal(in(fx, IER), 0x00); /* IER untouched by the DLM write */
	assert_int_equal(drain(fx, buf, sizeof(buf)), 0); /* DLL write was not output */
	out(fx, LCR, 0x80);
	assert_int_equal(in(fx, RBR), 0x01);
	assert_int_equal(in(fx, IER), 0x02);
}

static void test_ier_readback(void **state)
{
	struct fixture *fx = *state;

	out(fx, IER, 0x00);
	assert_int_equal(in(fx, IER) & 0x0f, 0x00);
	out(fx, IER, 0x0f);
	assert_int_equal(in(fx, IER), 0x0f);
	out(fx, IER, 0xff); /* bits 7:4 (e.g. XScale UUE) do not exist on a 16550A */
	assert_int_equal(in(fx, IER), 0x0f);
	out(fx, IER, 0x00);
	assert_int_equal(in(fx, IER), 0x00);
}

static void test_loopback_msr(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(in(fx, MSR), 0xb0); /* DCD | DSR | CTS, no deltas */
	out(fx, MCR, 0x10 | 0x0a);           /* LOOP | OUT2 | RTS, as 8250 autoconfig */
	assert_int_equal(in(fx, MSR) & 0xf0, 0x90);
	assert_int_equal(in(fx, MSR), 0x90); /* deltas cleared by the read */
	out(fx, MCR, 0x10 | 0x0f);           /* all four outputs */
	assert_int_equal(in(fx, MSR), 0xf0 | 0x02); /* DSR changed */
	out(fx, MCR, 0x10);                  /* all low: RI trailing edge, CTS, DSR, DCD */
	assert_int_equal(in(fx, MSR), 0x0f);
	out(fx, MCR, 0x10 | 0x04);           /* RI rising edge: no TERI */
	assert_int_equal(in(fx, MSR), 0x40);
	out(fx, MCR, 0x00);
	assert_int_equal(in(fx, MSR), 0xb0 | 0x0f);
	assert_int_equal(in(fx, MSR), 0xb0);
}

static void test_loopback_data(void **state)
{
	struct fixture *fx = *state;
	char buf[4];
	int i;

	out(fx, FCR, 0x01);
	out(fx, MCR, 0x10);
	out(fx, THR, 'A');
	out(fx, THR, 'B');
	assert_int_equal(in(fx, LSR) & 0x61, 0x61);
	assert_int_equal(in(fx, RBR), 'A');
	assert_int_equal(in(fx, RBR), 'B');
	assert_int_equal(in(fx, LSR) & 0x01, 0);
	assert_int_equal(drain(fx, buf, sizeof(buf)), 0);
	/* 17 bytes into a 16-byte FIFO: overrun, reported once by LSR. */
	for (i = 0; i < 17; i++)
		out(fx, THR, (uint8_t)i);
	assert_int_equal(in(fx, LSR) & 0x03, 0x03);
	assert_int_equal(in(fx, LSR) & 0x03, 0x01);
	for (i = 0; i < 16; i++)
		assert_int_equal(in(fx, RBR), i);
}

static void test_fifo_detection(void **state)
{
	struct fixture *fx = *state;

	out(fx, LCR, 0x00);
	out(fx, FCR, 0x01);
	assert_int_equal(in(fx, IIR) >> 6, 3);
	assert_int_equal(in(fx, IIR), 0xc1);
	/* TI16750 probe: FCR bit 5 never shows in IIR bit 5, with or without DLAB. */
	out(fx, FCR, 0x21);
	assert_int_equal(in(fx, IIR) >> 5, 6);
	out(fx, LCR, 0x80);
	out(fx, FCR, 0x21);
	assert_int_equal(in(fx, IIR) >> 5, 6);
	out(fx, LCR, 0x00);
	out(fx, FCR, 0x00);
	assert_int_equal(in(fx, IIR), 0x01);
}

static void test_transmit(void **state)
{
	struct fixture *fx = *state;
	const char *msg = "hello, world\n";
	char buf[64];
	size_t i;

	assert_int_equal(in(fx, LSR), 0x60); /* THRE | TEMT, no data */
	for (i = 0; i < strlen(msg); i++)
		out(fx, THR, (uint8_t)msg[i]);
	assert_int_equal(in(fx, LSR), 0x60);
	assert_int_equal(drain(fx, buf, sizeof(buf)), (ssize_t)strlen(msg));
	assert_memory_equal(buf, msg, strlen(msg));
}

static void test_transmit_errors(void **state)
{
	struct serial *s;
	uint8_t v = 'x';
	int p[2];

	(void)state;
	s = serial_new(-1, IRQ_COM1, NULL, NULL); /* discard, no irq line */
	assert_non_null(s);
	serial_pio(s, THR, &v, 1, true);
	serial_pio(s, IER, &(uint8_t){ 0x02 }, 1, true);
	serial_pio(s, MCR, &(uint8_t){ 0x08 }, 1, true);
	serial_pio(s, THR, &v, 1, true);
	serial_pio(s, LSR, &v, 1, false);
	assert_int_equal(v, 0x60);
	serial_free(s);

	/* A read-only fd makes write(2) fail: the byte is dropped, THR still empties. */
	assert_int_equal(pipe(p), 0);
	s = serial_new(p[0], IRQ_COM1, NULL, NULL);
	assert_non_null(s);
	v = 'y';
	serial_pio(s, THR, &v, 1, true);
	serial_pio(s, LSR, &v, 1, false);
	assert_int_equal(v, 0x60);
	serial_free(s);
	close(p[0]);
	close(p[1]);
	serial_free(NULL);
}

static void test_receive(void **state)
{
	struct fixture *fx = *state;
	uint8_t buf[20];
	int i;

	for (i = 0; i < 20; i++)
		buf[i] = (uint8_t)('a' + i);
	/* Character mode (FIFOs off): one byte of room. */
	assert_int_equal(serial_rx_space(fx->s), 1);
	assert_int_equal(serial_queue_input(fx->s, buf, 3), 1);
	assert_int_equal(serial_queue_input(fx->s, buf, 3), 0);
	out(fx, FCR, 0x01); /* enabling the FIFO resets it */
	assert_int_equal(in(fx, LSR) & 0x01, 0);
	assert_int_equal(serial_rx_space(fx->s), 16);
	assert_int_equal(serial_queue_input(fx->s, buf, 0), 0);
	assert_int_equal(serial_queue_input(fx->s, buf, 20), 16);
	assert_int_equal(serial_queue_input(fx->s, buf + 16, 4), 0);
	assert_int_equal(serial_rx_space(fx->s), 0);
	assert_int_equal(in(fx, LSR) & 0x01, 0x01);
	for (i = 0; i < 16; i++) {
		assert_int_equal(in(fx, LSR) & 0x01, 0x01);
		assert_int_equal(in(fx, RBR), 'a' + i);
	}
	assert_int_equal(in(fx, LSR) & 0x01, 0);
	assert_int_equal(serial_rx_space(fx->s), 16);
	/* FCR bit 1 flushes what is queued. */
	assert_int_equal(serial_queue_input(fx->s, buf, 5), 5);
	out(fx, FCR, 0x03);
	assert_int_equal(in(fx, LSR) & 0x01, 0);
	assert_int_equal(serial_rx_space(fx->s), 16);
	assert_int_equal(in(fx, IIR), 0xc1);
	assert_int_equal(fx->irq.calls, 0); /* no IER, no OUT2: line untouched */
}

static void test_irq_thri(void **state)
{
	struct fixture *fx = *state;
	int i;

	out(fx, MCR, 0x0b); /* DTR | RTS | OUT2 */
	assert_int_equal(fx->irq.calls, 0);
	out(fx, IER, 0x02); /* THRI with THR empty: interrupt at once */
	assert_int_equal(fx->irq.rising, 1);
	assert_int_equal(fx->irq.level, 1);
	assert_int_equal(in(fx, IIR), 0x02);
	assert_int_equal(fx->irq.level, 0); /* the IIR read cleared THRE */
	assert_int_equal(in(fx, IIR), 0x01);
	for (i = 0; i < 5; i++) {
		out(fx, THR, 'z');
		assert_int_equal(fx->irq.rising, 2 + (unsigned int)i);
		assert_int_equal(fx->irq.level, 1);
	}
	/* A write while the line is still high needs a fresh edge too. */
	assert_int_equal(in(fx, IIR), 0x02);
	out(fx, IER, 0x00); /* THRI off drops the condition */
	assert_int_equal(fx->irq.level, 0);
	out(fx, IER, 0x02);
	assert_int_equal(fx->irq.rising, 7);
	out(fx, MCR, 0x03); /* OUT2 off masks the line */
	assert_int_equal(fx->irq.level, 0);
	out(fx, MCR, 0x0b); /* and unmasking with a pending condition raises it */
	assert_int_equal(fx->irq.level, 1);
	assert_int_equal(fx->irq.rising, 8);
}

/* serial8250_do_startup's THRE test: THRI must re-raise THRE after an IIR read cleared it. */
static void test_irq_linux_thre_test(void **state)
{
	struct fixture *fx = *state;
	uint8_t iir1, iir, lsr;

	out(fx, MCR, 0x08);
	out(fx, IER, 0x02);
	iir1 = in(fx, IIR);
	out(fx, IER, 0x00);
	out(fx, IER, 0x02);
	iir = in(fx, IIR);
	out(fx, IER, 0x00);
	assert_int_equal(iir1 & 0x01, 0);
	assert_int_equal(iir & 0x01, 0);
	/* The TXEN test: THRI, then LSR and IIR must show a pending interrupt. */
	out(fx, IER, 0x02);
	lsr = in(fx, LSR);
	iir = in(fx, IIR);
	out(fx, IER, 0x00);
	assert_true(lsr & 0x40);
	assert_int_equal(iir & 0x0f, 0x02);
	assert_int_equal(fx->irq.rising, 3);
	assert_int_equal(fx->irq.level, 0);
}

static void test_irq_none_without_out2(void **state)
{
	struct fixture *fx = *state;

	out(fx, IER, 0x0f);
	out(fx, THR, 'q');
	assert_int_equal(serial_queue_input(fx->s, (const uint8_t *)"k", 1), 1);
	assert_int_equal(in(fx, IIR), 0x04); /* pending, but OUT2 keeps the line low */
	assert_int_equal(fx->irq.calls, 0);
}

static void test_irq_rx_priority(void **state)
{
	struct fixture *fx = *state;

	out(fx, FCR, 0x01);
	out(fx, MCR, 0x08);
	out(fx, IER, 0x01);
	assert_int_equal(fx->irq.calls, 0);
	assert_int_equal(serial_queue_input(fx->s, (const uint8_t *)"xy", 2), 2);
	assert_int_equal(fx->irq.rising, 1);
	assert_int_equal(serial_queue_input(fx->s, (const uint8_t *)"z", 1), 1);
	assert_int_equal(fx->irq.rising, 2); /* more data: another edge */
	out(fx, IER, 0x03);
	assert_int_equal(fx->irq.rising, 3); /* THRI enabled while THR empty */
	assert_int_equal(in(fx, IIR), 0xc4); /* rx data outranks THRE */
	assert_int_equal(in(fx, IIR), 0xc4); /* and that read did not clear THRE */
	assert_int_equal(in(fx, RBR), 'x');
	assert_int_equal(in(fx, RBR), 'y');
	assert_int_equal(in(fx, RBR), 'z');
	assert_int_equal(fx->irq.level, 1);
	assert_int_equal(in(fx, IIR), 0xc2);
	assert_int_equal(fx->irq.level, 0);
	assert_int_equal(in(fx, IIR), 0xc1);
	assert_int_equal(in(fx, RBR), 'z'); /* empty FIFO: the last byte again */
}

static void test_irq_modem_status(void **state)
{
	struct fixture *fx = *state;

	out(fx, MCR, 0x18); /* LOOP | OUT2: DSR and CTS drop, deltas latched */
	out(fx, IER, 0x08);
	assert_int_equal(fx->irq.rising, 1);
	assert_int_equal(in(fx, IIR), 0x00);
	assert_int_equal(in(fx, MSR), 0x80 | 0x03);
	assert_int_equal(in(fx, IIR), 0x01);
	assert_int_equal(fx->irq.level, 0);
	out(fx, MCR, 0x1a); /* RTS -> CTS */
	assert_int_equal(fx->irq.rising, 2);
	assert_int_equal(in(fx, IIR), 0x00);
	assert_int_equal(in(fx, MSR), 0x91);
}

static void test_irq_loopback_overrun(void **state)
{
	struct fixture *fx = *state;
	int i;

	out(fx, MCR, 0x18);
	(void)in(fx, MSR);
	out(fx, IER, 0x04); /* line status only */
	assert_int_equal(fx->irq.calls, 0);
	out(fx, THR, 1);
	assert_int_equal(fx->irq.calls, 0); /* no FIFO: one byte fits */
	out(fx, THR, 2);
	assert_int_equal(fx->irq.rising, 1);
	assert_int_equal(in(fx, IIR), 0x06);
	assert_int_equal(in(fx, LSR) & 0x03, 0x03);
	assert_int_equal(in(fx, IIR), 0x01);
	assert_int_equal(fx->irq.level, 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(in(fx, RBR), 1);
}

static void test_malformed_access(void **state)
{
	struct fixture *fx = *state;
	uint8_t wide[4] = { 0xff, 0xff, 0xff, 0xff };
	uint8_t v = 0x77;

	out(fx, SCR, 0x12);
	serial_pio(fx->s, SCR, &v, 0, false); /* len 0: nothing */
	assert_int_equal(v, 0x77);
	serial_pio(fx->s, SCR, &v, 0, true);
	assert_int_equal(in(fx, SCR), 0x12);
	serial_pio(fx->s, 8, &v, 1, false); /* beyond the register block */
	assert_int_equal(v, 0x77);
	serial_pio(fx->s, UINT64_MAX, &v, 1, true);
	assert_int_equal(in(fx, SCR), 0x12);
	serial_pio(fx->s, SCR, wide, 4, false); /* first byte only */
	assert_int_equal(wide[0], 0x12);
	assert_int_equal(wide[1], 0xff);
	wide[0] = 0x34;
	serial_pio(fx->s, SCR, wide, 2, true);
	assert_int_equal(in(fx, SCR), 0x34);
	serial_pio(fx->s, LSR, &v, 1, true); /* LSR and MSR writes are ignored */
	serial_pio(fx->s, MSR, &v, 1, true);
	assert_int_equal(in(fx, LSR), 0x60);
	assert_int_equal(in(fx, MSR), 0xb0);
	out(fx, MCR, 0xff); /* bits 7:5 do not exist */
	assert_int_equal(in(fx, MCR), 0x1f);
}

#define STREAM_LEN 2000

static void *input_thread(void *arg)
{
	struct fixture *fx = arg;
	unsigned int i = 0;

	while (i < STREAM_LEN) {
		uint8_t b = (uint8_t)(i * 7);

		if (serial_queue_input(fx->s, &b, 1) == 1)
			i++;
		else
			sched_yield();
	}
	return NULL;
}

/* The host input thread and a vCPU reading RBR race on the FIFO: nothing lost or reordered. */
static void test_concurrent_input(void **state)
{
	struct fixture *fx = *state;
	unsigned int got = 0;
	pthread_t t;

	out(fx, FCR, 0x01);
	out(fx, MCR, 0x08);
	out(fx, IER, 0x01);
	assert_int_equal(pthread_create(&t, NULL, input_thread, fx), 0);
	while (got < STREAM_LEN) {
		if (in(fx, LSR) & 0x01) {
			assert_int_equal(in(fx, RBR), (uint8_t)(got * 7));
			got++;
		} else {
			sched_yield();
		}
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(in(fx, LSR) & 0x01, 0);
	assert_int_equal(fx->irq.level, 0);
	assert_true(fx->irq.rising >= 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_scratch),
		T(test_divisor_latch),
		T(test_ier_readback),
		T(test_loopback_msr),
		T(test_loopback_data),
		T(test_fifo_detection),
		T(test_transmit),
		cmocka_unit_test(test_transmit_errors),
		T(test_receive),
		T(test_irq_thri),
		T(test_irq_linux_thre_test),
		T(test_irq_none_without_out2),
		T(test_irq_rx_priority),
		T(test_irq_modem_status),
		T(test_irq_loopback_overrun),
		T(test_malformed_access),
		T(test_concurrent_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
