/* The host side of the serial console: terminal raw mode for an interactive stdin (restored on
 * every exit path, including fatal signals) and forwarding of stdin bytes to the UART. */
#ifndef KILN_VMM_CONSOLE_H
#define KILN_VMM_CONSOLE_H

#include <stdbool.h>

/* Puts stdin in raw mode if it is a terminal and arranges restoration at exit() and on
 * SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGSEGV/SIGABRT/SIGBUS. No-op otherwise. */
void console_raw_mode(void);

/* Restores the terminal now (idempotent, async-signal-safe). */
void console_restore(void);

#endif
