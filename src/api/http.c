/* HTTP/1.1 request parsing and response formatting for kiln's API server: a strict subset of
 * RFC 9112 (message syntax) and RFC 9110 (semantics).
 *
 * The parser is stateless: the server re-parses its connection buffer from the start whenever
 * bytes arrive. One pass walks the lines of the header block; every complete line is checked
 * as soon as it is in, so a malformed request is refused without waiting for the rest, and the
 * result for a prefix of the buffer is either HTTP_NEED_MORE or the same as for the whole
 * buffer (the fuzz target checks this). Only the first HTTP_MAX_HEADER_BYTES bytes are ever
 * looked at before the blank line, so the work per call is bounded and a client sending header
 * bytes forever is cut off the moment it reaches the limit.
 *
 * Anything ambiguous is refused rather than guessed at, as RFC 9112 advises for servers that
 * may sit behind a proxy (request smuggling): obs-fold, whitespace before a header's colon,
 * bare CR, conflicting Content-Length headers, Transfer-Encoding.
 *
 * Choices the header leaves open:
 * - A path (request-target up to '?') of HTTP_MAX_PATH bytes or more is -EINVAL (400), not
 *   -EMSGSIZE: 413 would blame the body. Only origin-form targets ("/...") are accepted; the
 *   API has no use for absolute-form or "*".
 * - A Content-Length too large to represent is -EMSGSIZE, like any other over-long body.
 * - Empty lines before the request line are skipped (RFC 9112 2.2: some clients send CRLF
 *   after a body) and count in header_len and in the returned length.
 * - "Expect: 100-continue" is ignored in HTTP/1.0 requests (RFC 9110 10.1.1); other
 *   expectations are ignored.
 * - HTTP/1.2 to 1.9 get -EPROTONOSUPPORT: the header promises 1.0 and 1.1 only.
 * - While the body is incomplete (HTTP_NEED_MORE with headers_complete), body_len already holds
 *   the announced length and body is NULL.
 * - http_format_response() also returns -EINVAL for caller bugs: a status outside 100-999, a
 *   NULL body with body_len > 0, or a content type with control characters (header
 *   injection). A NULL content type means "application/json", the API's only body type.
 *   The response is not NUL-terminated. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "api/http.h"

/* A byte range of the caller's buffer: [p, p + n). Never NUL-terminated. */
struct span {
	const char *p;
	size_t n;
};

/* What the header lines said, before it goes into struct http_request. */
struct headers {
	bool have_length;
	unsigned long long length; /* ULLONG_MAX stands for "too large to represent" */
	bool conn_close;
	bool conn_keep_alive;
	bool expect_continue;
};

static int fail(const char **err, int rc, const char *why)
{
	if (err)
		*err = why;
	return rc;
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 5.6.2 tchar: what methods and header names are made of. */
static bool is_tchar(char c)
{
	if (is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 9110 5.5 field-value bytes: visible ASCII, SP, HTAB and obs-text (>= 0x80). Every other
 * control, bare CR and DEL included, is refused: some peers treat them as line ends. */
static bool is_field_char(char c)
{
	unsigned char u = (unsigned char)c;

	return u == '\t' || (u >= 0x20 && u != 0x7f);
}

static bool all_tchar(struct span s)
{
	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (!is_tchar(s.p[i]))
			return false;
	return true;
}

/* Case-sensitive comparison with a literal (methods, the HTTP version). */
static bool span_eq(struct span s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* ASCII case-insensitive comparison with a lower-case literal (header names, tokens);
 * independent of the locale, unlike strncasecmp(). */
static bool span_ieq(struct span s, const char *lit)
{
	if (s.n != strlen(lit))
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (ascii_lower(s.p[i]) != lit[i])
			return false;
	return true;
}

static struct span trim_ows(struct span s)
{
	while (s.n && is_ows(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && is_ows(s.p[s.n - 1]))
		s.n--;
	return s;
}

/* Splits s at the first `sep`: *head gets the part before it, *tail the part after.
 * Returns false (outputs untouched) when there is no separator. */
static bool split_at(struct span s, char sep, struct span *head, struct span *tail)
{
	const char *p = memchr(s.p, sep, s.n);

	if (!p)
		return false;
	head->p = s.p;
	head->n = (size_t)(p - s.p);
	tail->p = p + 1;
	tail->n = s.n - head->n - 1;
	return true;
}

int http_parse_uint(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;

	if (!s || !out || len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned int d;

		if (!is_digit(s[i]))
			return -EINVAL;
		d = (unsigned int)(s[i] - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* "HTTP/" DIGIT+ [ "." DIGIT+ ]: a version we could name but do not speak (505), as opposed
 * to garbage in the version field (400). */
static bool looks_like_version(struct span v)
{
	size_t i = 5;

	if (v.n < 6 || memcmp(v.p, "HTTP/", 5) != 0 || !is_digit(v.p[i]))
		return false;
	while (i < v.n && is_digit(v.p[i]))
		i++;
	if (i == v.n)
		return true;
	if (v.p[i++] != '.' || i == v.n)
		return false;
	while (i < v.n && is_digit(v.p[i]))
		i++;
	return i == v.n;
}

static int parse_version(struct span v, struct http_request *req, const char **err)
{
	if (span_eq(v, "HTTP/1.1"))
		return 0;
	if (span_eq(v, "HTTP/1.0")) {
		req->http10 = true;
		return 0;
	}
	if (looks_like_version(v))
		return fail(err, -EPROTONOSUPPORT, "HTTP version not supported");
	return fail(err, -EINVAL, "malformed HTTP version");
}

static int parse_method(struct span m, struct http_request *req, const char **err)
{
	/* Method names are case-sensitive (RFC 9110 9.1): "get" is an unknown method. */
	static const struct {
		const char *name;
		enum http_method method;
	} known[] = {
		{ "GET", HTTP_GET },       { "PUT", HTTP_PUT },   { "POST", HTTP_POST },
		{ "DELETE", HTTP_DELETE }, { "PATCH", HTTP_PATCH }, { "HEAD", HTTP_HEAD },
		{ "OPTIONS", HTTP_OPTIONS },
	};

	if (!all_tchar(m))
		return fail(err, -EINVAL, "malformed method");
	req->method = HTTP_OTHER;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (span_eq(m, known[i].name)) {
			req->method = known[i].method;
			break;
		}
	}
	return 0;
}

/* Origin-form only; copies the path (query dropped) into req->path. */
static int parse_target(struct span t, struct http_request *req, const char **err)
{
	struct span path = t, query;

	if (t.n == 0 || t.p[0] != '/')
		return fail(err, -EINVAL, "request target does not start with '/'");
	for (size_t i = 0; i < t.n; i++) {
		unsigned char c = (unsigned char)t.p[i];

		if (c <= 0x20 || c >= 0x7f)
			return fail(err, -EINVAL, "invalid character in request target");
	}
	split_at(t, '?', &path, &query);
	if (path.n >= HTTP_MAX_PATH)
		return fail(err, -EINVAL, "request path too long");
	memcpy(req->path, path.p, path.n);
	req->path[path.n] = '\0';
	return 0;
}

/* METHOD SP request-target SP HTTP-version, exactly one space each (RFC 9112 3). The version
 * is checked first so that any request of another HTTP version gets 505, whatever its other
 * fields look like (e.g. HTTP/2's "PRI * HTTP/2.0" preface). */
static int parse_request_line(struct span line, struct http_request *req, const char **err)
{
	struct span method, rest, target, version;
	int rc;

	if (!split_at(line, ' ', &method, &rest) || !split_at(rest, ' ', &target, &version))
		return fail(err, -EINVAL, "malformed request line");
	rc = parse_version(version, req, err);
	if (rc)
		return rc;
	rc = parse_method(method, req, err);
	if (rc)
		return rc;
	return parse_target(target, req, err);
}

/* Digits only: no sign, no list ("5, 5"), nothing RFC 9110 8.6 would let a proxy read
 * differently. Repeats must agree. */
static int parse_content_length(struct span v, struct headers *h, const char **err)
{
	unsigned long long n;

	for (size_t i = 0; i < v.n; i++)
		if (!is_digit(v.p[i]))
			return fail(err, -EINVAL, "Content-Length is not a number");
	if (v.n == 0)
		return fail(err, -EINVAL, "Content-Length is not a number");
	if (http_parse_uint(v.p, v.n, &n))
		n = ULLONG_MAX; /* all digits, so it overflowed: too large either way */
	if (h->have_length && h->length != n)
		return fail(err, -EINVAL, "conflicting Content-Length headers");
	if (n > HTTP_MAX_BODY_BYTES)
		return fail(err, -EMSGSIZE, "request body too large");
	h->have_length = true;
	h->length = n;
	return 0;
}

/* A comma-separated list of connection options (RFC 9110 7.6.1); options other than close
 * and keep-alive (e.g. "Upgrade") are ignored. */
static void parse_connection(struct span v, struct headers *h)
{
	struct span item, rest;

	for (;;) {
		bool last = !split_at(v, ',', &item, &rest);

		if (last)
			item = v;
		item = trim_ows(item);
		if (span_ieq(item, "close"))
			h->conn_close = true;
		else if (span_ieq(item, "keep-alive"))
			h->conn_keep_alive = true;
		if (last)
			return;
		v = rest;
	}
}

/* name ":" OWS value OWS (RFC 9112 5). */
static int parse_header_line(struct span line, struct headers *h, const char **err)
{
	struct span name, value;

	/* A continuation line (obs-fold) is refused, as RFC 9112 5.2 allows. */
	if (is_ows(line.p[0]))
		return fail(err, -EINVAL, "obsolete line folding in header");
	if (!split_at(line, ':', &name, &value))
		return fail(err, -EINVAL, "header line without ':'");
	/* Whitespace before the colon is not a tchar, so it is refused here (RFC 9112 5.1). */
	if (!all_tchar(name))
		return fail(err, -EINVAL, "invalid header name");
	value = trim_ows(value);
	for (size_t i = 0; i < value.n; i++)
		if (!is_field_char(value.p[i]))
			return fail(err, -EINVAL, "invalid character in header value");

	if (span_ieq(name, "content-length"))
		return parse_content_length(value, h, err);
	if (span_ieq(name, "transfer-encoding"))
		return fail(err, -ENOTSUP, "Transfer-Encoding is not supported");
	if (span_ieq(name, "connection"))
		parse_connection(value, h);
	else if (span_ieq(name, "expect") && span_ieq(value, "100-continue"))
		h->expect_continue = true;
	return 0;
}

/* The blank line is in at buf[end - 1]: fills the rest of *req and checks for the body. */
static int finish_request(const char *buf, size_t len, size_t end, const struct headers *h,
			  struct http_request *req)
{
	req->headers_complete = true;
	req->header_len = end;
	if (h->conn_close)
		req->keep_alive = false;
	else
		req->keep_alive = req->http10 ? h->conn_keep_alive : true;
	req->expect_continue = h->expect_continue && !req->http10;
	req->body_len = (size_t)h->length; /* <= HTTP_MAX_BODY_BYTES, checked per header */
	if (len - end < req->body_len)
		return HTTP_NEED_MORE;
	req->body = req->body_len ? buf + end : NULL;
	/* <= HTTP_MAX_HEADER_BYTES + HTTP_MAX_BODY_BYTES, far below INT_MAX. */
	return (int)(end + req->body_len);
}

int http_parse_request(const char *buf, size_t len, struct http_request *req, const char **err)
{
	size_t limit = len < HTTP_MAX_HEADER_BYTES ? len : HTTP_MAX_HEADER_BYTES;
	struct headers h = { 0 };
	bool have_request_line = false;
	size_t pos = 0;

	if (!req)
		return fail(err, -EINVAL, "no request structure");
	memset(req, 0, sizeof(*req));
	if (!buf && len)
		return fail(err, -EINVAL, "no buffer");

	while (pos < limit) {
		const char *nl = memchr(buf + pos, '\n', limit - pos);
		struct span line;
		int rc = 0;

		if (!nl)
			break;
		line.p = buf + pos;
		line.n = (size_t)(nl - line.p);
		pos += line.n + 1;
		if (line.n && line.p[line.n - 1] == '\r')
			line.n--;
		/* Before anything else, so a NUL gives the same answer whichever line it is in
		 * and whether or not that line is complete yet. */
		if (memchr(line.p, '\0', line.n))
			return fail(err, -EINVAL, "NUL byte in request header");
		if (!have_request_line) {
			if (line.n == 0)
				continue; /* empty line before the request line: skipped */
			rc = parse_request_line(line, req, err);
			have_request_line = true;
		} else if (line.n == 0) {
			return finish_request(buf, len, pos, &h, req);
		} else {
			rc = parse_header_line(line, &h, err);
		}
		if (rc)
			return rc;
	}
	/* No blank line yet: buf[pos, limit) is an incomplete line. */
	if (limit > pos && memchr(buf + pos, '\0', limit - pos))
		return fail(err, -EINVAL, "NUL byte in request header");
	/* The blank line would end past the limit, whatever arrives next. */
	if (len >= HTTP_MAX_HEADER_BYTES)
		return fail(err, -EMSGSIZE, "request header too large");
	return HTTP_NEED_MORE;
}

const char *http_reason(int status)
{
	static const struct {
		int status;
		const char *reason;
	} reasons[] = {
		{ 100, "Continue" },
		{ 200, "OK" },
		{ 201, "Created" },
		{ 202, "Accepted" },
		{ 204, "No Content" },
		{ 400, "Bad Request" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 408, "Request Timeout" },
		{ 409, "Conflict" },
		{ 411, "Length Required" },
		{ 413, "Content Too Large" }, /* RFC 9110's name; formerly "Payload Too Large" */
		{ 414, "URI Too Long" },
		{ 415, "Unsupported Media Type" },
		{ 417, "Expectation Failed" },
		{ 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" },
		{ 501, "Not Implemented" },
		{ 503, "Service Unavailable" },
		{ 505, "HTTP Version Not Supported" },
	};

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Unknown";
}

/* Appends to a fixed buffer; once something does not fit, everything after is dropped and
 * `full` stays set, so the caller checks once at the end. */
struct writer {
	char *out;
	size_t cap;
	size_t len;
	bool full;
};

static void put(struct writer *w, const char *s, size_t n)
{
	if (w->full || n == 0)
		return;
	if (n > w->cap - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->out + w->len, s, n);
	w->len += n;
}

static void put_str(struct writer *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_uint(struct writer *w, unsigned long long v)
{
	char digits[24];
	size_t i = sizeof(digits);

	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(w, digits + i, sizeof(digits) - i);
}

static bool valid_field_value(const char *s)
{
	for (; *s; s++)
		if (!is_field_char(*s))
			return false;
	return true;
}

int http_format_response(char *out, size_t cap, int status, const char *content_type,
			 const char *body, size_t body_len, bool keep_alive)
{
	struct writer w = { .out = out, .cap = out ? cap : 0 };

	if (!content_type)
		content_type = "application/json";
	if (status < 100 || status > 999 || (body_len && !body) || !valid_field_value(content_type))
		return -EINVAL;

	put_str(&w, "HTTP/1.1 ");
	put_uint(&w, (unsigned long long)status);
	put_str(&w, " ");
	put_str(&w, http_reason(status));
	put_str(&w, "\r\nServer: kiln\r\n");
	if (body_len > 0) {
		put_str(&w, "Content-Type: ");
		put_str(&w, content_type);
		put_str(&w, "\r\n");
	}
	put_str(&w, "Content-Length: ");
	put_uint(&w, body_len);
	put_str(&w, "\r\n");
	if (!keep_alive)
		put_str(&w, "Connection: close\r\n");
	put_str(&w, "\r\n");
	put(&w, body, body_len);
	if (w.full || w.len > INT_MAX)
		return -ENOSPC;
	return (int)w.len;
}
