#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_WARN;
static unsigned long long start_ns;

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

void log_init(void)
{
	start_ns = now_ns();
}

unsigned long long log_elapsed_ns(void)
{
	return now_ns() - start_ns;
}

void log_msg(enum log_level level, const char *comp, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug", "trace" };
	char buf[1024];
	int n = 0;
	va_list ap;

	if (level > log_threshold)
		return;
	if (level >= LOG_DEBUG) {
		unsigned long long t = log_elapsed_ns();
		n = snprintf(buf, sizeof(buf), "[%llu.%06llu] ", t / 1000000000ull, (t / 1000) % 1000000);
	}
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "kiln: %s: %s: ", comp, names[level]);
	va_start(ap, fmt);
	if ((size_t)n < sizeof(buf))
		n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if ((size_t)n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write so lines from several threads do not interleave; "\r" is not added:
	 * stderr lines in raw terminal mode are rare and only at exit. */
	ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
	(void)w;
}

bool log_ratelimit_ok(struct log_ratelimit *rl, unsigned int burst)
{
	unsigned long long t = now_ns();

	if (t - rl->window_start_ns > 1000000000ull) {
		if (rl->suppressed)
			log_msg(LOG_WARN, "log", "%u similar messages suppressed", rl->suppressed);
		rl->window_start_ns = t;
		rl->count = 0;
		rl->suppressed = 0;
	}
	if (rl->count < burst) {
		rl->count++;
		return true;
	}
	rl->suppressed++;
	return false;
}
