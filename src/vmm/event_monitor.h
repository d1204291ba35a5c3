/* --event-monitor: lifecycle events as JSON lines, in Cloud Hypervisor's shape:
 * {"timestamp":{"secs":S,"nanos":N},"source":"vm","event":"booted","properties":null}
 * with the time since kiln started. */
#ifndef KILN_VMM_EVENT_MONITOR_H
#define KILN_VMM_EVENT_MONITOR_H

struct event_monitor {
	int fd; /* -1: events are dropped */
	int failed; /* a write failed once (reported once) */
};

/* Opens path (created/truncated) or adopts fd (>= 0); with neither, events are dropped.
 * The fd is made non-blocking so a stalled reader cannot stop the VMM (events are lost then,
 * with one warning). Returns 0 or -errno (path cannot be opened: message printed). */
int event_monitor_open(struct event_monitor *em, const char *path, int fd)
	__attribute__((warn_unused_result));

/* Writes one event line. source: "vmm" or "vm"; event: e.g. "booting". Never blocks. */
void event_monitor_emit(struct event_monitor *em, const char *source, const char *event);

void event_monitor_close(struct event_monitor *em);

#endif
