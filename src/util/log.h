/* Leveled logging to stderr. Messages carry a component prefix ("serial", "vcpu0").
 * Anything a guest can trigger repeatedly must go through log_ratelimited(). */
#ifndef KILN_UTIL_LOG_H
#define KILN_UTIL_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3, LOG_TRACE = 4 };

/* Current threshold; messages above it are dropped. Default LOG_WARN, each -v adds one. */
extern enum log_level log_threshold;

/* Prints "kiln: <comp>: <msg>\n" when level <= log_threshold. Debug and trace lines are
 * prefixed with the time since log_init() in milliseconds. Thread-safe (one write(2)). */
void log_msg(enum log_level level, const char *comp, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records the process start time used by debug timestamps; call first thing in main(). */
void log_init(void);

/* Nanoseconds since log_init() (CLOCK_MONOTONIC). */
unsigned long long log_elapsed_ns(void);

/* Rate limiter state: at most `burst` messages per second; embed one per call site. */
struct log_ratelimit {
	unsigned long long window_start_ns;
	unsigned int count;
	unsigned int suppressed;
};

/* True when a message may be printed now; counts suppressed ones and reports them later. */
bool log_ratelimit_ok(struct log_ratelimit *rl, unsigned int burst);

#define log_error(comp, ...) log_msg(LOG_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...) log_msg(LOG_WARN, comp, __VA_ARGS__)
#define log_info(comp, ...) log_msg(LOG_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...) log_msg(LOG_DEBUG, comp, __VA_ARGS__)
#define log_trace(comp, ...) log_msg(LOG_TRACE, comp, __VA_ARGS__)

/* Logs at `level` at most 10 times a second per call site (guest-triggerable paths). */
#define log_ratelimited(level, comp, ...)                              \
	do {                                                           \
		static struct log_ratelimit rl__;                      \
		if ((level) <= log_threshold && log_ratelimit_ok(&rl__, 10)) \
			log_msg(level, comp, __VA_ARGS__);             \
	} while (0)

#endif
