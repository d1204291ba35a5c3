/* libFuzzer target for kiln's HTTP request parser and response formatter (src/api/http.c).
 *
 * Each input is parsed as a whole connection buffer, then prefixes of it (one with its length
 * derived from the first byte, and those of HTTP_MAX_HEADER_BYTES - 1 to + 1 bytes) in
 * exact-size copies, so AddressSanitizer catches any read past `len`, then, when the first
 * request is complete, the bytes after it as the next pipelined request.
 * A response is formatted around each parsed path. Invariants, checked with __builtin_trap():
 * - the result is a length, HTTP_NEED_MORE or one of the documented -errno values, with a
 *   reason string on every error;
 * - a complete request lies within the buffer: header_len + body_len == result <= len, the
 *   header block ends with '\n' and holds no NUL, the body points right after it (NULL when
 *   empty), the limits hold, path is a NUL-terminated "/..." without query or control bytes;
 * - a buffer of HTTP_MAX_HEADER_BYTES or more never needs more without complete headers;
 * - a prefix is either HTTP_NEED_MORE or decided exactly as the whole buffer (more bytes never
 *   change a verdict), and a complete request is not complete in any shorter prefix;
 * - the formatted response fits, starts with the status line, ends with the body, and does
 *   not fit one byte shorter (-ENOSPC);
 * - http_parse_uint() agrees with a 128-bit reference. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                         \
	do {                                \
		if (!(cond))                \
			__builtin_trap();   \
	} while (0)

/* Fields that are filled once the request line is in. */
static void check_request_line(const struct http_request *req)
{
	const char *end = memchr(req->path, '\0', sizeof(req->path));

	CHECK(end != NULL);
	CHECK(req->path[0] == '/');
	CHECK(strchr(req->path, '?') == NULL);
	for (const char *p = req->path; p < end; p++)
		CHECK((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f);
	CHECK(req->method >= HTTP_GET && req->method <= HTTP_OTHER);
	CHECK(!(req->http10 && req->expect_continue));
}

static bool known_error(int rc)
{
	return rc == -EINVAL || rc == -EMSGSIZE || rc == -ENOTSUP || rc == -EPROTONOSUPPORT;
}

/* Parses buf[0, len) and checks what holds for any result. Returns the result. */
static int parse_checked(const char *buf, size_t len, struct http_request *req)
{
	const char *err = NULL;
	int rc = http_parse_request(buf, len, req, &err);

	if (rc < 0) {
		CHECK(known_error(rc));
		CHECK(err != NULL && err[0] != '\0');
		return rc;
	}
	if (!req->headers_complete) {
		CHECK(rc == HTTP_NEED_MORE);
		CHECK(len < HTTP_MAX_HEADER_BYTES);
		return rc;
	}
	check_request_line(req);
	CHECK(req->header_len > 0 && req->header_len <= HTTP_MAX_HEADER_BYTES);
	CHECK(req->header_len <= len);
	CHECK(buf[req->header_len - 1] == '\n');
	CHECK(memchr(buf, '\0', req->header_len) == NULL);
	CHECK(req->body_len <= HTTP_MAX_BODY_BYTES);
	if (rc == HTTP_NEED_MORE) {
		CHECK(len - req->header_len < req->body_len);
		CHECK(req->body == NULL);
		return rc;
	}
	CHECK((size_t)rc == req->header_len + req->body_len);
	CHECK((size_t)rc <= len);
	if (req->body_len)
		CHECK(req->body == buf + req->header_len);
	else
		CHECK(req->body == NULL);
	return rc;
}

/* Formats a response carrying the parsed path as its body and checks its shape. */
static void format_checked(const struct http_request *req, uint8_t pick)
{
	static const int statuses[] = { 100, 200, 204, 400, 404, 405, 408, 411, 413, 415,
					429, 500, 501, 503, 505, 299, 999 };
	static const char status_line[] = "HTTP/1.1 ";
	int status = statuses[pick % (sizeof(statuses) / sizeof(statuses[0]))];
	size_t body_len = strlen(req->path);
	char out[HTTP_MAX_PATH + 256];
	int n = http_format_response(out, sizeof(out), status, "application/json", req->path,
				     body_len, req->keep_alive);

	CHECK(n > 0 && (size_t)n <= sizeof(out) && (size_t)n > body_len);
	CHECK(memcmp(out, status_line, sizeof(status_line) - 1) == 0);
	CHECK(memcmp(out + n - body_len, req->path, body_len) == 0);
	CHECK(memcmp(out + n - body_len - 4, "\r\n\r\n", 4) == 0);
	CHECK(http_format_response(out, (size_t)n - 1, status, "application/json", req->path,
				   body_len, req->keep_alive) == -ENOSPC);
	CHECK(http_reason(status) != NULL);
}

/* http_parse_uint() against a reference that cannot overflow for inputs it accepts. */
static void uint_checked(const char *s, size_t len)
{
	unsigned __int128 ref = 0;
	bool ok = len > 0;
	unsigned long long v = 0;
	int rc = http_parse_uint(s, len, &v);

	for (size_t i = 0; ok && i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			ok = false;
		else
			ref = ref * 10 + (unsigned)(s[i] - '0');
		if (ref > UINT64_MAX)
			ok = false;
	}
	CHECK(ok == (rc == 0));
	CHECK(rc == 0 || rc == -EINVAL);
	if (ok)
		CHECK(v == (unsigned long long)ref);
}

/* Parses buf[0, k) from an exact-size copy, so reading past k is caught, and checks it
 * against the verdict on the whole buffer. */
static void prefix_checked(const char *buf, size_t k, int whole,
			   const struct http_request *whole_req)
{
	struct http_request req;
	char *copy = malloc(k ? k : 1);
	int part;

	if (!copy)
		return;
	memcpy(copy, buf, k);
	part = parse_checked(copy, k, &req);
	if (part != HTTP_NEED_MORE)
		CHECK(part == whole);
	if (whole > 0)
		CHECK(part == ((size_t)whole <= k ? whole : HTTP_NEED_MORE));
	if (req.headers_complete && whole >= 0) {
		CHECK(whole_req->headers_complete);
		CHECK(req.header_len == whole_req->header_len);
		CHECK(req.body_len == whole_req->body_len);
		CHECK(req.keep_alive == whole_req->keep_alive);
		CHECK(req.expect_continue == whole_req->expect_continue);
		CHECK(strcmp(req.path, whole_req->path) == 0);
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct http_request req, next;
	int whole;

	whole = parse_checked(buf, size, &req);
	if (whole > 0)
		format_checked(&req, size ? data[size - 1] : 0);

	/* A prefix chosen by the first byte, and the ones around the header limit, which random
	 * lengths would hardly ever hit. */
	prefix_checked(buf, size ? (size_t)data[0] * (size + 1) / 256 : 0, whole, &req);
	for (size_t k = HTTP_MAX_HEADER_BYTES - 1; k <= HTTP_MAX_HEADER_BYTES + 1; k++)
		if (k < size)
			prefix_checked(buf, k, whole, &req);

	/* Pipelining: the next request starts where the first ended. */
	if (whole > 0 && (size_t)whole < size) {
		if (parse_checked(buf + whole, size - (size_t)whole, &next) > 0)
			format_checked(&next, data[0]);
	}

	uint_checked(buf, size < 32 ? size : 32);
	return 0;
}
