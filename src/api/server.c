/* Connections are small state machines driven by epoll (level-triggered): read into a
 * buffer bounded by the request limits, parse with http_parse_request(), hand complete
 * requests to the handler, write the response (waiting for EPOLLOUT if the client reads
 * slowly, and reading nothing more from it meanwhile). */
#include "api/server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define IN_MAX (HTTP_MAX_HEADER_BYTES + HTTP_MAX_BODY_BYTES)
#define IN_INITIAL 4096u
#define OUT_HEADROOM 512u /* status line and headers beyond the body */
#define LISTENER_TAG UINTPTR_MAX

struct conn {
	int fd;
	char *in;          /* received bytes not yet consumed */
	size_t in_len, in_cap;
	char *out;         /* response bytes not yet written */
	size_t out_len, out_off;
	bool close_after;  /* close once out is flushed */
	bool sent_continue;
	unsigned long long deadline_ms; /* request or idle timeout */
};

struct api_server {
	int listen_fd;
	int epfd;
	char *path;        /* socket file to remove, or NULL */
	api_handler_fn handler;
	void *opaque;
	struct conn conns[API_MAX_CONNS];
};

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("api", "--api-socket path=%s: longer than %zu bytes, the limit of a Unix "
			  "socket path; use a shorter path", path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	/* Replace a stale socket (Cloud Hypervisor does too), never another kind of file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("api", "--api-socket path=%s: exists and is not a socket; remove it "
				  "or choose another path", path);
			return -EEXIST;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		log_error("api", "--api-socket path=%s: cannot listen: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	return fd;
}

int api_server_open(struct api_server **out, const char *path, int fd, api_handler_fn handler,
		    void *opaque)
{
	struct api_server *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LISTENER_TAG };
	int r;

	if (!s)
		return -ENOMEM;
	s->handler = handler;
	s->opaque = opaque;
	s->epfd = -1;
	for (int i = 0; i < API_MAX_CONNS; i++)
		s->conns[i].fd = -1;
	if (path) {
		s->listen_fd = listen_on(path);
		if (s->listen_fd < 0) {
			r = s->listen_fd;
			goto fail;
		}
		s->path = strdup(path);
		if (!s->path) {
			r = -ENOMEM;
			goto fail;
		}
	} else {
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
			r = -EBADF;
			log_error("api", "--api-socket fd=%d: not an open file descriptor", fd);
			goto fail_nolisten;
		}
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		s->listen_fd = fd;
	}
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &ev) < 0) {
		r = -errno;
		log_error("api", "cannot watch the API socket: %s", strerror(-r));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
fail_nolisten:
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->path)
		unlink(s->path);
	free(s->path);
	free(s);
	return r;
}

int api_server_fd(const struct api_server *s)
{
	return s->epfd;
}

static void conn_close(struct api_server *s, struct conn *c)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	*c = (struct conn){ .fd = -1 };
}

int api_server_timeout_ms(const struct api_server *s)
{
	unsigned long long now = now_ms(), next = 0;

	for (int i = 0; i < API_MAX_CONNS; i++)
		if (s->conns[i].fd >= 0 && (!next || s->conns[i].deadline_ms < next))
			next = s->conns[i].deadline_ms;
	if (!next)
		return -1;
	return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}

static void set_events(struct api_server *s, struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = (uint64_t)(c - s->conns) };

	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what is pending; returns false if the connection was closed. */
static bool conn_flush(struct api_server *s, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_events(s, c, EPOLLOUT);
			return true;
		}
		if (n <= 0) {
			conn_close(s, c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	if (c->close_after) {
		conn_close(s, c);
		return false;
	}
	set_events(s, c, EPOLLIN);
	return true;
}

/* Queues a response (the body is consumed); returns false if the connection was closed. */
static bool conn_respond(struct api_server *s, struct conn *c, int status, const char *type,
			 char *body, size_t body_len, bool keep_alive)
{
	size_t cap = body_len + OUT_HEADROOM;
	char *buf = malloc(cap);
	int n;

	if (!buf) {
		free(body);
		conn_close(s, c);
		return false;
	}
	n = http_format_response(buf, cap, status, type, body, body_len, keep_alive);
	free(body);
	if (n < 0) {
		free(buf);
		conn_close(s, c);
		return false;
	}
	c->out = buf;
	c->out_len = (size_t)n;
	c->out_off = 0;
	c->close_after = !keep_alive;
	return conn_flush(s, c);
}

static bool respond_text(struct api_server *s, struct conn *c, int status, const char *msg,
			 bool keep_alive)
{
	size_t len = strlen(msg);
	char *body = malloc(len + 1);

	if (body) {
		memcpy(body, msg, len);
		body[len] = '\n';
	}
	return conn_respond(s, c, status, "text/plain", body, body ? len + 1 : 0, keep_alive);
}

static int status_for(int err)
{
	switch (err) {
	case -EMSGSIZE: return 413;
	case -ENOTSUP: return 501;
	case -EPROTONOSUPPORT: return 505;
	default: return 400;
	}
}

/* Handles every complete request in the buffer; returns false if the connection closed. */
static bool conn_process(struct api_server *s, struct conn *c)
{
	while (c->in_len > 0 && !c->out) {
		struct http_request req;
		struct api_response resp = { 0 };
		const char *why = "malformed request";
		int n = http_parse_request(c->in, c->in_len, &req, &why);

		if (n < 0) {
			char msg[160];
			int status = status_for(n);
			snprintf(msg, sizeof(msg), "%s: %s", status == 400 ? "bad request" :
				 http_reason(status), why ? why : "malformed");
			return respond_text(s, c, status, msg, false);
		}
		if (n == HTTP_NEED_MORE) {
			if (req.headers_complete && req.expect_continue && !c->sent_continue) {
				static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
				c->sent_continue = true;
				(void)!send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			}
			return true;
		}
		s->handler(s->opaque, &req, &resp);
		if (req.method == HTTP_HEAD) { /* RFC 9110 9.3.2: a HEAD response has no body */
			free(resp.body);
			resp.body = NULL;
			resp.body_len = 0;
		}
		/* Drop the request's bytes before answering: req points into c->in. */
		bool keep = req.keep_alive;
		memmove(c->in, c->in + n, c->in_len - (size_t)n);
		c->in_len -= (size_t)n;
		c->sent_continue = false;
		c->deadline_ms = now_ms() + (c->in_len ? API_REQUEST_TIMEOUT_MS : API_IDLE_TIMEOUT_MS);
		if (!conn_respond(s, c, resp.status, resp.content_type ? resp.content_type
									: "text/plain",
				  resp.body, resp.body_len, keep))
			return false;
	}
	return true;
}

static void conn_readable(struct api_server *s, struct conn *c)
{
	for (;;) {
		if (c->in_len == c->in_cap) {
			size_t cap = c->in_cap ? c->in_cap * 2 : IN_INITIAL;
			char *p;

			if (c->in_cap >= IN_MAX) {
				respond_text(s, c, 413, "request too large", false);
				return;
			}
			if (cap > IN_MAX)
				cap = IN_MAX;
			p = realloc(c->in, cap);
			if (!p) {
				conn_close(s, c);
				return;
			}
			c->in = p;
			c->in_cap = cap;
		}
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) { /* EOF or error: nothing more can be answered */
			conn_close(s, c);
			return;
		}
		if (c->in_len == 0)
			c->deadline_ms = now_ms() + API_REQUEST_TIMEOUT_MS;
		c->in_len += (size_t)n;
		if (!conn_process(s, c) || c->out)
			return; /* closed, or waiting to write: read no more meanwhile */
	}
}

static void accept_all(struct api_server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c = NULL;

		if (fd < 0)
			return; /* EAGAIN, or a transient error: try at the next event */
		for (int i = 0; i < API_MAX_CONNS && !c; i++)
			if (s->conns[i].fd < 0)
				c = &s->conns[i];
		if (!c) {
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nServer: kiln\r\n"
						   "Content-Length: 0\r\nConnection: close\r\n\r\n";
			(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		*c = (struct conn){ .fd = fd, .deadline_ms = now_ms() + API_IDLE_TIMEOUT_MS };
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)(c - s->conns) };
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			c->fd = -1;
		}
	}
}

static void expire(struct api_server *s)
{
	unsigned long long now = now_ms();

	for (int i = 0; i < API_MAX_CONNS; i++) {
		struct conn *c = &s->conns[i];

		if (c->fd < 0 || c->deadline_ms > now)
			continue;
		if (c->in_len && !c->out)
			respond_text(s, c, 408, "request timeout: the request did not complete in time",
				     false);
		else
			conn_close(s, c);
		if (c->fd >= 0) /* a 408 that could not be written at once: give up on it */
			conn_close(s, c);
	}
}

void api_server_dispatch(struct api_server *s)
{
	struct epoll_event evs[16];
	int n = epoll_wait(s->epfd, evs, 16, 0);

	for (int i = 0; i < n; i++) {
		if (evs[i].data.u64 == LISTENER_TAG) {
			accept_all(s);
			continue;
		}
		struct conn *c = &s->conns[evs[i].data.u64];
		if (c->fd < 0)
			continue;
		if (c->out && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
			if (conn_flush(s, c) && !c->out && c->in_len)
				conn_process(s, c); /* pipelined requests waiting behind the response */
		} else if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
			conn_readable(s, c);
		}
	}
	expire(s);
}

void api_server_close(struct api_server *s)
{
	if (!s)
		return;
	for (int i = 0; i < API_MAX_CONNS; i++)
		if (s->conns[i].fd >= 0)
			conn_close(s, &s->conns[i]);
	close(s->listen_fd);
	close(s->epfd);
	if (s->path)
		unlink(s->path);
	free(s->path);
	free(s);
}
