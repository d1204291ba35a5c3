#include "vmm/event_monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

int event_monitor_open(struct event_monitor *em, const char *path, int fd)
{
	em->fd = -1;
	em->failed = 0;
	if (path) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			int r = -errno;
			log_error("event-monitor", "--event-monitor path=%s: cannot open: %s", path,
				  strerror(-r));
			return r;
		}
	} else if (fd >= 0 && fcntl(fd, F_GETFD) < 0) {
		log_error("event-monitor", "--event-monitor fd=%d: not an open file descriptor", fd);
		return -EBADF;
	}
	if (fd >= 0) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	}
	em->fd = fd;
	return 0;
}

void event_monitor_emit(struct event_monitor *em, const char *source, const char *event)
{
	unsigned long long ns = log_elapsed_ns();
	char line[256];
	int n;

	log_info("event", "%s %s", source, event);
	if (em->fd < 0)
		return;
	n = snprintf(line, sizeof(line),
		     "{\"timestamp\":{\"secs\":%llu,\"nanos\":%llu},\"source\":\"%s\","
		     "\"event\":\"%s\",\"properties\":null}\n",
		     ns / 1000000000ull, ns % 1000000000ull, source, event);
	if (n <= 0 || (size_t)n >= sizeof(line))
		return;
	/* One write() per line so readers never see half a line from us. */
	if (write(em->fd, line, (size_t)n) != n && !em->failed) {
		em->failed = 1;
		log_warn("event-monitor", "cannot write events (%s); dropping them", strerror(errno));
	}
}

void event_monitor_close(struct event_monitor *em)
{
	if (em->fd > STDERR_FILENO)
		close(em->fd);
	em->fd = -1;
}
