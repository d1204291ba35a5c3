/* A minimal HTTP/1.1 client over a Unix stream socket, for kiln-remote (and anything else that
 * talks to kiln's API socket).
 *
 * Two layers:
 *  - pure functions (http_format_request(), http_parse_response()) that never allocate and
 *    never touch a file descriptor, so the unit tests can feed them arbitrary bytes;
 *  - struct http_client: one connection with a receive buffer, requests with a deadline
 *    (poll(2)), keep-alive aware.
 *
 * Supported responses: status line "HTTP/1.0|1.1 SP 3DIGIT [SP reason]", headers (names
 * case-insensitive, CRLF or bare LF line ends), a Content-Length body, or no Content-Length:
 * then 1xx/204/304 have no body and anything else runs until the server closes. Transfer-Encoding
 * is refused (-ENOTSUP): kiln's server never sends it. */
#ifndef KILN_REMOTE_HTTP_CLIENT_H
#define KILN_REMOTE_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_CLIENT_MAX_HEADER_BYTES 16384u      /* status line + headers + blank line, bytes */
#define HTTP_CLIENT_MAX_BODY_BYTES (1u << 20)    /* response body limit, bytes (1 MiB) */
#define HTTP_CLIENT_MAX_REASON 64u               /* reason phrase kept, bytes including NUL */
#define HTTP_CLIENT_DEFAULT_TIMEOUT_MS 30000     /* whole-request deadline of kiln-remote, ms */

/* http_parse_response() result besides a positive consumed length: more bytes are needed. */
#define HTTP_RESPONSE_NEED_MORE 0

/* One parsed response. body points into the buffer that was parsed: valid while the caller
 * keeps those bytes. */
struct http_response {
	int status;                           /* 100..999 */
	bool http10;                          /* the server answered HTTP/1.0 */
	char reason[HTTP_CLIENT_MAX_REASON];  /* reason phrase, NUL-terminated, truncated to fit */
	bool has_content_length;              /* a Content-Length header was present */
	unsigned long long content_length;    /* its value (0 when absent), bytes */
	bool keep_alive;                      /* connection may carry another request afterwards */
	size_t header_len;                    /* bytes of status line + headers + blank line */
	const char *body;                     /* body bytes; NULL when body_len is 0 */
	size_t body_len;                      /* bytes */
};

/* Parses the first response in buf[0, len).
 * eof: the peer has closed the connection, so buf holds everything there will ever be (a body
 * without Content-Length then ends at len; an incomplete response is an error).
 * Returns the number of bytes the complete response occupies (> 0) and fills *resp;
 * HTTP_RESPONSE_NEED_MORE when incomplete and !eof (resp is then unspecified);
 * -EMSGSIZE when the headers exceed HTTP_CLIENT_MAX_HEADER_BYTES or the body
 * HTTP_CLIENT_MAX_BODY_BYTES; -ENOTSUP for Transfer-Encoding; -EPROTO when eof comes before
 * the response is complete (including len == 0); -EINVAL for anything malformed (no status
 * line, bad version or code, header without ':', bad or conflicting Content-Length).
 * err, if not NULL, receives a short human-readable reason (static string) on every negative
 * return. Never reads outside buf[0, len); buf need not be NUL-terminated. */
int http_parse_response(const char *buf, size_t len, bool eof, struct http_response *resp,
			const char **err);

/* Writes a request head: "METHOD PATH HTTP/1.1", "Host: localhost", an Accept header for any
 * type, Content-Length: body_len (when body_len > 0 or the method is PUT/POST), "Connection: close"
 * when !keep_alive, blank line. The body is not included. method and path must be printable
 * ASCII without spaces (-EINVAL otherwise). Returns the head's length (no NUL counted; a NUL
 * follows it when it fits), or -ENOSPC if it does not fit in out[0, cap). */
int http_format_request(char *out, size_t cap, const char *method, const char *path,
			size_t body_len, bool keep_alive);

/* Canonical reason phrase for the status codes kiln's API uses ("Not Found"), else "". */
const char *http_status_text(int status);

/* One client connection. Fields are private to http_client.c except fd (read-only). */
struct http_client {
	int fd;            /* connected socket, -1 when closed */
	char *buf;         /* receive buffer (malloc'd, owned), bytes buf[0, len) unconsumed */
	size_t len;
	size_t cap;
	size_t consumed;   /* bytes of the last returned response, dropped at the next request */
	bool closed;       /* the peer closed its side, or the last response said close */
};

/* Connects to the Unix socket at path within timeout_ms milliseconds (< 0: no limit; a
 * listener whose backlog is full makes connect wait), CLOEXEC; I/O afterwards never blocks
 * (MSG_DONTWAIT + poll). Returns 0, or -errno: -ETIMEDOUT / -EAGAIN (backlog full past the
 * timeout), -ENAMETOOLONG when path does not fit sockaddr_un, -ENOMEM, or
 * connect's error (-ENOENT: no socket there; -ECONNREFUSED: nobody listening). On error c is
 * left closed (fd -1) and needs no http_client_close(). */
int http_client_open(struct http_client *c, const char *path, int timeout_ms);

/* Sends one request (method, path, optional body of body_len bytes, keep_alive as in
 * http_format_request()) and waits for its response, all within timeout_ms milliseconds
 * (< 0: no limit). 1xx interim responses are skipped.
 * On success returns 0 and fills *resp; resp->body points into c's buffer and stays valid
 * until the next call on c. If the server closes the connection while the body is still being
 * written (it may answer 413 early), the response it sent, if any, is still returned.
 * Errors: -ETIMEDOUT, -EPIPE (closed before any response), -ECONNRESET, -ENOMEM, -ENOTCONN
 * (c is closed, or the previous response closed the connection), and http_parse_response()'s
 * negative results (-EMSGSIZE, -ENOTSUP, -EPROTO, -EINVAL; err then says why). err, if not
 * NULL, receives a static reason for parse errors and NULL otherwise. */
int http_client_request(struct http_client *c, const char *method, const char *path,
			const void *body, size_t body_len, bool keep_alive, int timeout_ms,
			struct http_response *resp, const char **err);

/* Closes the socket and frees the buffer. Safe on a closed client and twice. */
void http_client_close(struct http_client *c);

#endif
