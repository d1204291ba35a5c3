/* kiln's REST API server: HTTP/1.1 on a Unix stream socket, served from the controller's
 * thread without ever blocking it (non-blocking sockets, its own epoll set whose fd the
 * controller polls). Bounds: at most API_MAX_CONNS connections (more get 503 and are
 * closed), request size limits of api/http.h (413), a request must complete within
 * API_REQUEST_TIMEOUT_MS of its first byte (else 408 and close), idle keep-alive
 * connections close after API_IDLE_TIMEOUT_MS. */
#ifndef KILN_API_SERVER_H
#define KILN_API_SERVER_H

#include <stddef.h>

#include "api/http.h"

#define API_MAX_CONNS 64
#define API_REQUEST_TIMEOUT_MS 10000
#define API_IDLE_TIMEOUT_MS 120000

/* A response the handler fills in: status (e.g. 200, 204, 404); body malloc'd (the server
 * frees it) or NULL; content_type static ("application/json" or "text/plain"). */
struct api_response {
	int status;
	char *body;
	size_t body_len;
	const char *content_type;
};

/* Handles one complete request; must not block for long (it runs on the event loop). */
typedef void (*api_handler_fn)(void *opaque, const struct http_request *req,
			       struct api_response *resp);

struct api_server;

/* Listens on path (an existing socket file there is replaced, as Cloud Hypervisor does; the
 * file is removed by api_server_close) or adopts the listening socket fd (>= 0).
 * handler/opaque are borrowed for the server's lifetime. Returns 0 with *out set, or -errno
 * after printing one clear error line. */
int api_server_open(struct api_server **out, const char *path, int fd, api_handler_fn handler,
		    void *opaque) __attribute__((warn_unused_result));

/* The fd to poll for POLLIN (an epoll set of the listener and connections). */
int api_server_fd(const struct api_server *s);

/* Milliseconds until the next connection timeout, or -1. */
int api_server_timeout_ms(const struct api_server *s);

/* Accepts, reads, handles and writes whatever is ready, and expires timed-out
 * connections; never blocks. */
void api_server_dispatch(struct api_server *s);

/* Closes every connection and the listener, removes the socket file it created, frees s. */
void api_server_close(struct api_server *s);

#endif
