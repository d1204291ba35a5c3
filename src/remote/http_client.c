/* Minimal HTTP/1.1 client over a Unix stream socket: see http_client.h. */
#include "remote/http_client.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Receive buffer: starts small (a ping answer is ~150 bytes), grows to what one maximal
 * response needs plus one byte, so an over-long close-delimited body is detected. */
#define RX_INITIAL 4096u
#define RX_LIMIT ((size_t)HTTP_CLIENT_MAX_HEADER_BYTES + HTTP_CLIENT_MAX_BODY_BYTES + 1u)

static int fail(const char **err, const char *why, int r)
{
	if (err)
		*err = why;
	return r;
}

static bool is_tchar(unsigned char ch)
{
	if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
		return true;
	return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Field-value and reason-phrase bytes: visible ASCII, space, tab, obs-text (>= 0x80). */
static bool is_text(unsigned char ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static char lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

static bool name_is(const char *name, size_t len, const char *want)
{
	size_t i;

	if (strlen(want) != len)
		return false;
	for (i = 0; i < len; i++)
		if (lower(name[i]) != want[i])
			return false;
	return true;
}

/* True when the comma-separated list value[0, len) contains token (case-insensitive). */
static bool list_has(const char *value, size_t len, const char *token)
{
	size_t i = 0;

	while (i < len) {
		size_t start, end;

		while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
			i++;
		start = i;
		while (i < len && value[i] != ',')
			i++;
		end = i;
		while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
			end--;
		if (end > start && name_is(value + start, end - start, token))
			return true;
	}
	return false;
}

static int parse_decimal(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t i;

	if (len == 0)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (unsigned)(s[i] - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* A prefix of buf that cannot start a status line is garbage now: no need to wait for more. */
static bool bad_prefix(const char *buf, size_t len)
{
	static const char want[] = "HTTP/1.";
	size_t n = len < sizeof(want) - 1 ? len : sizeof(want) - 1;

	return memcmp(buf, want, n) != 0;
}

/* Finds the end of the header block in buf[0, len): returns the offset just past the blank
 * line, or 0 if there is none yet. A line ends with LF, optionally preceded by CR. */
static size_t find_header_end(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Returns the length of the line starting at p (without its CRLF / LF) and sets *next past
 * its end; -1 when a CR stands anywhere but right before the LF. The caller guarantees an LF
 * before end. */
static long line_at(const char *p, const char *end, const char **next)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));
	const char *stop;
	const char *q;

	if (!lf)
		return -1;
	stop = (lf > p && lf[-1] == '\r') ? lf - 1 : lf;
	for (q = p; q < stop; q++)
		if (*q == '\r')
			return -1;
	*next = lf + 1;
	return (long)(stop - p);
}

static int parse_status_line(const char *p, size_t n, struct http_response *resp,
			     const char **err)
{
	size_t rlen;

	/* "HTTP/1.x" SP 3DIGIT [SP reason] */
	if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0)
		return fail(err, "no HTTP/1.x status line", -EINVAL);
	if (p[7] != '0' && p[7] != '1')
		return fail(err, "unsupported HTTP version", -EINVAL);
	resp->http10 = p[7] == '0';
	if (p[8] != ' ')
		return fail(err, "malformed status line", -EINVAL);
	if (p[9] < '1' || p[9] > '9' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9')
		return fail(err, "malformed status code", -EINVAL);
	resp->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (n > 12 && p[12] != ' ')
		return fail(err, "malformed status code", -EINVAL);
	rlen = n > 13 ? n - 13 : 0;
	for (size_t i = 0; i < rlen; i++)
		if (!is_text((unsigned char)p[13 + i]))
			return fail(err, "control character in the reason phrase", -EINVAL);
	if (rlen >= sizeof(resp->reason))
		rlen = sizeof(resp->reason) - 1;
	if (rlen)
		memcpy(resp->reason, p + 13, rlen);
	resp->reason[rlen] = '\0';
	return 0;
}

int http_parse_response(const char *buf, size_t len, bool eof, struct http_response *resp,
			const char **err)
{
	const char *p, *end, *next;
	size_t hdr_end, avail;
	bool close = false, ka_token = false, no_body;
	long n;
	int r;

	if (err)
		*err = NULL;
	if (!buf || !resp)
		return fail(err, "no buffer", -EINVAL);
	if (len == 0 && !eof)
		return HTTP_RESPONSE_NEED_MORE;
	if (len == 0)
		return fail(err, "connection closed before any response", -EPROTO);
	if (bad_prefix(buf, len))
		return fail(err, "response does not start with HTTP/1.x", -EINVAL);

	hdr_end = find_header_end(buf, len < HTTP_CLIENT_MAX_HEADER_BYTES ?
				  len : HTTP_CLIENT_MAX_HEADER_BYTES);
	if (hdr_end == 0) {
		if (len >= HTTP_CLIENT_MAX_HEADER_BYTES)
			return fail(err, "response headers too large", -EMSGSIZE);
		if (eof)
			return fail(err, "connection closed in the response headers", -EPROTO);
		return HTTP_RESPONSE_NEED_MORE;
	}

	memset(resp, 0, sizeof(*resp));
	p = buf;
	end = buf + hdr_end;
	n = line_at(p, end, &next);
	if (n < 0)
		return fail(err, "stray CR in the status line", -EINVAL);
	r = parse_status_line(p, (size_t)n, resp, err);
	if (r < 0)
		return r;

	for (p = next; p < end;) {
		const char *colon, *v, *vend;

		n = line_at(p, end, &next);
		if (n < 0)
			return fail(err, "stray CR in a header line", -EINVAL);
		if (n == 0)
			break; /* the blank line */
		if (*p == ' ' || *p == '\t')
			return fail(err, "folded header line", -EINVAL);
		colon = memchr(p, ':', (size_t)n);
		if (!colon || colon == p)
			return fail(err, "header line without a name and ':'", -EINVAL);
		for (const char *q = p; q < colon; q++)
			if (!is_tchar((unsigned char)*q))
				return fail(err, "invalid character in a header name", -EINVAL);
		v = colon + 1;
		vend = p + n;
		for (const char *q = v; q < vend; q++)
			if (!is_text((unsigned char)*q))
				return fail(err, "control character in a header value", -EINVAL);
		while (v < vend && (*v == ' ' || *v == '\t'))
			v++;
		while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
			vend--;

		if (name_is(p, (size_t)(colon - p), "content-length")) {
			unsigned long long cl;

			if (parse_decimal(v, (size_t)(vend - v), &cl) < 0)
				return fail(err, "invalid Content-Length", -EINVAL);
			if (resp->has_content_length && cl != resp->content_length)
				return fail(err, "conflicting Content-Length headers", -EINVAL);
			resp->has_content_length = true;
			resp->content_length = cl;
		} else if (name_is(p, (size_t)(colon - p), "transfer-encoding")) {
			return fail(err, "Transfer-Encoding is not supported", -ENOTSUP);
		} else if (name_is(p, (size_t)(colon - p), "connection")) {
			if (list_has(v, (size_t)(vend - v), "close"))
				close = true;
			if (list_has(v, (size_t)(vend - v), "keep-alive"))
				ka_token = true;
		}
		p = next;
	}

	resp->header_len = hdr_end;
	avail = len - hdr_end;
	no_body = resp->status < 200 || resp->status == 204 || resp->status == 304;
	resp->keep_alive = !close && (!resp->http10 || ka_token);
	if (no_body) {
		resp->body = NULL;
		resp->body_len = 0;
		return (int)hdr_end;
	}
	if (resp->has_content_length) {
		if (resp->content_length > HTTP_CLIENT_MAX_BODY_BYTES)
			return fail(err, "response body too large", -EMSGSIZE);
		if (avail < resp->content_length) {
			if (eof)
				return fail(err, "connection closed in the response body", -EPROTO);
			return HTTP_RESPONSE_NEED_MORE;
		}
		resp->body_len = (size_t)resp->content_length;
	} else {
		/* Close-delimited body: complete only at eof. */
		resp->keep_alive = false;
		if (avail > HTTP_CLIENT_MAX_BODY_BYTES)
			return fail(err, "response body too large", -EMSGSIZE);
		if (!eof)
			return HTTP_RESPONSE_NEED_MORE;
		resp->body_len = avail;
	}
	resp->body = resp->body_len ? buf + hdr_end : NULL;
	return (int)(hdr_end + resp->body_len);
}

static bool is_token_text(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

int http_format_request(char *out, size_t cap, const char *method, const char *path,
			size_t body_len, bool keep_alive)
{
	bool with_length = body_len > 0 || !strcmp(method ? method : "", "PUT") ||
			   !strcmp(method ? method : "", "POST");
	int n;

	if (!out || !is_token_text(method) || !is_token_text(path))
		return -EINVAL;
	if (with_length)
		n = snprintf(out, cap,
			     "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n"
			     "Content-Length: %zu\r\n%s\r\n",
			     method, path, body_len, keep_alive ? "" : "Connection: close\r\n");
	else
		n = snprintf(out, cap, "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n%s\r\n",
			     method, path, keep_alive ? "" : "Connection: close\r\n");
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}

const char *http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "";
	}
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1: none), for poll(); 0 when past it. */
static int remaining_ms(long long deadline)
{
	long long left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

int http_client_open(struct http_client *c, const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (!c || !path)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (path[0] == '\0')
		return -ENOENT;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (timeout_ms >= 0) {
		/* Bounds a blocking connect() to a listener whose backlog is full. */
		struct timeval tv = { .tv_sec = timeout_ms / 1000,
				      .tv_usec = (timeout_ms % 1000) * 1000 };

		if (tv.tv_sec == 0 && tv.tv_usec == 0)
			tv.tv_usec = 1;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
	}
	do {
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		r = errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		close(fd);
		return r;
	}
	c->buf = malloc(RX_INITIAL);
	if (!c->buf) {
		close(fd);
		return -ENOMEM;
	}
	c->cap = RX_INITIAL;
	c->fd = fd;
	return 0;
}

/* Reads what is available into c->buf (growing it up to RX_LIMIT). Returns bytes read,
 * 0 at EOF (sets c->closed), -EAGAIN when nothing is there, or -errno. */
static ssize_t rx(struct http_client *c)
{
	ssize_t n;

	if (c->len == c->cap) {
		size_t ncap = c->cap * 2 > RX_LIMIT ? RX_LIMIT : c->cap * 2;
		char *nb;

		if (ncap <= c->cap)
			return -EMSGSIZE;
		nb = realloc(c->buf, ncap);
		if (!nb)
			return -ENOMEM;
		c->buf = nb;
		c->cap = ncap;
	}
	do {
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		c->closed = true;
	c->len += (size_t)n;
	return n;
}

/* Parses c->buf; on a complete final response records its size in c->consumed. Skips 1xx. */
static int try_parse(struct http_client *c, struct http_response *resp, const char **err)
{
	for (;;) {
		int r = http_parse_response(c->buf, c->len, c->closed, resp, err);

		if (r <= 0)
			return r;
		if (resp->status >= 200) {
			c->consumed = (size_t)r;
			return r;
		}
		memmove(c->buf, c->buf + r, c->len - (size_t)r); /* 1xx: drop, read on */
		c->len -= (size_t)r;
	}
}

int http_client_request(struct http_client *c, const char *method, const char *path,
			const void *body, size_t body_len, bool keep_alive, int timeout_ms,
			struct http_response *resp, const char **err)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	char head[1024];
	size_t sent = 0, total;
	bool send_done = false;
	int hlen, r;

	if (err)
		*err = NULL;
	if (!c || !resp)
		return -EINVAL;
	if (c->fd < 0 || c->closed)
		return -ENOTCONN;
	if (body_len && !body)
		return -EINVAL;
	/* Drop the previous response. */
	memmove(c->buf, c->buf + c->consumed, c->len - c->consumed);
	c->len -= c->consumed;
	c->consumed = 0;

	hlen = http_format_request(head, sizeof(head), method, path, body_len, keep_alive);
	if (hlen < 0)
		return hlen;
	total = (size_t)hlen + body_len;

	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int pr;

		if (!send_done) {
			/* Head and body in one sendmsg where they fit. */
			struct iovec iov[2];
			struct msghdr mh = { .msg_iov = iov };
			ssize_t n;

			if (sent < (size_t)hlen) {
				iov[0] = (struct iovec){ head + sent, (size_t)hlen - sent };
				iov[1] = (struct iovec){ (void *)body, body_len };
				mh.msg_iovlen = body_len ? 2 : 1;
			} else {
				iov[0] = (struct iovec){ (char *)body + (sent - (size_t)hlen),
							 total - sent };
				mh.msg_iovlen = 1;
			}
			do {
				n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
			} while (n < 0 && errno == EINTR);
			if (n >= 0) {
				sent += (size_t)n;
				send_done = sent == total;
			} else if (errno == EPIPE || errno == ECONNRESET) {
				/* The server gave up on the request (e.g. 413 before the whole body):
				 * its answer may still be waiting in our receive queue. */
				send_done = true;
				keep_alive = false;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				return -errno;
			}
			if (!send_done)
				pfd.events |= POLLOUT;
		}

		r = try_parse(c, resp, err);
		if (r > 0) {
			if (!send_done || !resp->keep_alive || !keep_alive)
				c->closed = true; /* half-sent request: the connection is unusable */
			return 0;
		}
		if (r < 0) {
			c->closed = true;
			return r == -EPROTO && c->len == 0 ? -EPIPE : r;
		}
		if (c->closed) /* eof with nothing parsed: try_parse reported it above */
			return -EPIPE;

		pr = poll(&pfd, 1, remaining_ms(deadline));
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pr == 0)
			return -ETIMEDOUT;
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = rx(c);

			if (n == -ECONNRESET) {
				c->closed = true; /* keep what arrived; parse it as at eof */
			} else if (n < 0 && n != -EAGAIN) {
				return (int)n;
			}
		}
	}
}

void http_client_close(struct http_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = c->consumed = 0;
	c->closed = true;
}
