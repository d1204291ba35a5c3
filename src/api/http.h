/* HTTP/1.1 request parsing and response formatting for kiln's API server (RFC 9112 subset).
 *
 * The server keeps each connection's received bytes in one buffer and calls
 * http_parse_request() whenever more arrive; the parser is stateless and never allocates, so
 * it can be fuzzed on arbitrary bytes. Supported: request line, headers (case-insensitive
 * names), Content-Length bodies, "Connection: close"/"keep-alive", HTTP/1.0 and 1.1,
 * "Expect: 100-continue". Transfer-Encoding is refused (-ENOTSUP), as Cloud Hypervisor does. */
#ifndef KILN_API_HTTP_H
#define KILN_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADER_BYTES 8192u   /* request line + headers + blank line, bytes */
#define HTTP_MAX_BODY_BYTES   65536u  /* Content-Length limit, bytes (a VmConfig is ~1-4 KiB) */
#define HTTP_MAX_PATH         256u    /* request-target, bytes including the NUL */

enum http_method {
	HTTP_GET, HTTP_PUT, HTTP_POST, HTTP_DELETE, HTTP_PATCH, HTTP_HEAD, HTTP_OPTIONS,
	HTTP_OTHER, /* a syntactically valid token we do not know: the router answers 405 */
};

/* One parsed request. path and body point into the caller's buffer: valid until the caller
 * discards the bytes (after handling the request). */
struct http_request {
	enum http_method method;
	char path[HTTP_MAX_PATH];   /* request-target up to '?' (query dropped), NUL-terminated */
	bool http10;                /* HTTP/1.0: keep-alive only if asked for */
	bool keep_alive;            /* connection stays open after the response */
	bool expect_continue;       /* "Expect: 100-continue" was sent */
	bool headers_complete;      /* set even when the result is HTTP_NEED_MORE */
	size_t header_len;          /* bytes of request line + headers + blank line */
	const char *body;           /* Content-Length bytes (NULL when 0) */
	size_t body_len;
};

/* http_parse_request() results besides a positive consumed length. */
#define HTTP_NEED_MORE 0

/* Parses the first request in buf[0, len).
 * Returns the number of bytes the complete request occupies (> 0) and fills *req;
 * HTTP_NEED_MORE when the request is incomplete (req->headers_complete tells whether the
 * headers are in, so the server can send "100 Continue" once);
 * -EMSGSIZE when the headers exceed HTTP_MAX_HEADER_BYTES or Content-Length exceeds
 * HTTP_MAX_BODY_BYTES (answer 413); -ENOTSUP for Transfer-Encoding or an HTTP version other
 * than 1.0/1.1 (answer 501 / 505 resp.: -EPROTONOSUPPORT for the version);
 * -EINVAL for anything malformed (answer 400). err, if not NULL, receives a short
 * human-readable reason (static string) on every negative return. */
int http_parse_request(const char *buf, size_t len, struct http_request *req, const char **err);

/* Canonical reason phrase for a status code ("Not Found"); "Unknown" for others. */
const char *http_reason(int status);

/* Writes a complete response (status line, Server, Content-Type if body_len > 0,
 * Content-Length, Connection: close when !keep_alive, blank line, body) into out[0, cap).
 * Returns its length, or -ENOSPC if it does not fit (nothing useful written). */
int http_format_response(char *out, size_t cap, int status, const char *content_type,
			 const char *body, size_t body_len, bool keep_alive);

/* Parses a Content-Length-style unsigned decimal; exported for the tests. Returns 0 and sets
 * *out, or -EINVAL (empty, non-digit, overflow past UINT64 range). */
int http_parse_uint(const char *s, size_t len, unsigned long long *out);

#endif
