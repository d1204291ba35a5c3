/* http: request parsing (GET, PUT with a body, methods, keep-alive defaults for HTTP/1.0 and
 * 1.1, Connection lists, Expect: 100-continue, query dropped, leading empty lines, bare LF line
 * ends), incremental arrival (one byte at a time: HTTP_NEED_MORE until complete,
 * headers_complete set exactly when the blank line is in), pipelining (consumed length of the
 * first of two requests), every error class (header flood and too-large body -> -EMSGSIZE;
 * malformed request line, target, header name, obs-fold, bare CR, NUL byte, bad or conflicting
 * Content-Length -> -EINVAL; Transfer-Encoding -> -ENOTSUP; HTTP/2.0 and friends ->
 * -EPROTONOSUPPORT; over-long path -> -EINVAL), http_format_response byte for byte (204, 200
 * with JSON, Connection: close, -ENOSPC, exact fit), http_reason and http_parse_uint (limits,
 * overflow). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/http.h"

/* Parses a NUL-terminated request; err must be set exactly when the result is negative. */
static int parse(const char *s, struct http_request *req)
{
	const char *err = NULL;
	int rc = http_parse_request(s, strlen(s), req, &err);

	if (rc < 0)
		assert_non_null(err);
	return rc;
}

/* Parses and returns the error reason, asserting the result is `want`. */
static const char *parse_err(const char *s, int want)
{
	struct http_request req;
	const char *err = NULL;

	assert_int_equal(http_parse_request(s, strlen(s), &req, &err), want);
	assert_non_null(err);
	return err;
}

static void test_get(void **state)
{
	static const char r[] = "GET /api/v1/vm.info HTTP/1.1\r\nHost: localhost\r\n"
				"Accept: */*\r\n\r\n";
	struct http_request req;

	assert_int_equal(parse(r, &req), (int)strlen(r));
	assert_int_equal(req.method, HTTP_GET);
	assert_string_equal(req.path, "/api/v1/vm.info");
	assert_false(req.http10);
	assert_true(req.keep_alive);
	assert_false(req.expect_continue);
	assert_true(req.headers_complete);
	assert_int_equal(req.header_len, strlen(r));
	assert_null(req.body);
	assert_int_equal(req.body_len, 0);
}

static void test_put_with_body(void **state)
{
	static const char r[] = "PUT /api/v1/vm.create HTTP/1.1\r\n"
				"Content-Type: application/json\r\n"
				"content-LENGTH:   13  \r\n\r\n"
				"{\"cpus\":\"2\"}X"; /* 13 bytes of body, then nothing */
	struct http_request req;
	size_t hdr = strlen(r) - 13;

	assert_int_equal(parse(r, &req), (int)strlen(r));
	assert_int_equal(req.method, HTTP_PUT);
	assert_string_equal(req.path, "/api/v1/vm.create");
	assert_int_equal(req.header_len, hdr);
	assert_ptr_equal(req.body, r + hdr);
	assert_int_equal(req.body_len, 13);
	assert_memory_equal(req.body, "{\"cpus\":\"2\"}X", 13);
}

static void test_methods(void **state)
{
	static const struct {
		const char *req;
		enum http_method m;
	} cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", HTTP_GET },
		{ "PUT / HTTP/1.1\r\n\r\n", HTTP_PUT },
		{ "POST / HTTP/1.1\r\n\r\n", HTTP_POST },
		{ "DELETE / HTTP/1.1\r\n\r\n", HTTP_DELETE },
		{ "PATCH / HTTP/1.1\r\n\r\n", HTTP_PATCH },
		{ "HEAD / HTTP/1.1\r\n\r\n", HTTP_HEAD },
		{ "OPTIONS / HTTP/1.1\r\n\r\n", HTTP_OPTIONS },
		{ "BREW / HTTP/1.1\r\n\r\n", HTTP_OTHER },
		{ "get / HTTP/1.1\r\n\r\n", HTTP_OTHER },   /* methods are case-sensitive */
		{ "GETX / HTTP/1.1\r\n\r\n", HTTP_OTHER },
		{ "M-SEARCH / HTTP/1.1\r\n\r\n", HTTP_OTHER },
	};
	struct http_request req;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].req, &req), (int)strlen(cases[i].req));
		assert_int_equal(req.method, cases[i].m);
	}
}

static void test_keep_alive_defaults(void **state)
{
	struct http_request req;

	assert_true(parse("GET / HTTP/1.1\r\n\r\n", &req) > 0);
	assert_false(req.http10);
	assert_true(req.keep_alive);

	assert_true(parse("GET / HTTP/1.0\r\n\r\n", &req) > 0);
	assert_true(req.http10);
	assert_false(req.keep_alive);

	assert_true(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req) > 0);
	assert_true(req.http10);
	assert_true(req.keep_alive);

	assert_true(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &req) > 0);
	assert_false(req.keep_alive);

	assert_true(parse("GET / HTTP/1.1\r\nConnection: CLOSE\r\n\r\n", &req) > 0);
	assert_false(req.keep_alive);

	/* A token list; close wins; unknown options and empty items are ignored. */
	assert_true(parse("GET / HTTP/1.0\r\nConnection: ,foo , keep-alive\r\n\r\n", &req) > 0);
	assert_true(req.keep_alive);
	assert_true(parse("GET / HTTP/1.1\r\nConnection: keep-alive,\tclose\r\n\r\n", &req) > 0);
	assert_false(req.keep_alive);
	assert_true(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
			  &req) > 0);
	assert_false(req.keep_alive);
	assert_true(parse("GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n", &req) > 0);
	assert_true(req.keep_alive);
	/* Not a token match: "closed" is not "close". */
	assert_true(parse("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", &req) > 0);
	assert_true(req.keep_alive);
}

static void test_expect_continue(void **state)
{
	static const char r[] = "PUT /api/v1/vm.create HTTP/1.1\r\nExpect: 100-Continue\r\n"
				"Content-Length: 2\r\n\r\n";
	char full[128];
	struct http_request req;

	/* Headers in, body not: the server sends "100 Continue" now. */
	assert_int_equal(parse(r, &req), HTTP_NEED_MORE);
	assert_true(req.headers_complete);
	assert_true(req.expect_continue);
	assert_int_equal(req.body_len, 2);
	assert_null(req.body);

	snprintf(full, sizeof(full), "%s{}", r);
	assert_int_equal(parse(full, &req), (int)strlen(full));
	assert_true(req.expect_continue);

	/* RFC 9110 10.1.1: ignored for HTTP/1.0. Other expectations are ignored too. */
	assert_true(parse("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &req) > 0);
	assert_false(req.expect_continue);
	assert_true(parse("PUT / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", &req) > 0);
	assert_false(req.expect_continue);
}

static void test_query_and_target(void **state)
{
	struct http_request req;

	assert_true(parse("GET /api/v1/vm.info?x=1&y=/z HTTP/1.1\r\n\r\n", &req) > 0);
	assert_string_equal(req.path, "/api/v1/vm.info");
	assert_true(parse("GET /?q HTTP/1.1\r\n\r\n", &req) > 0);
	assert_string_equal(req.path, "/");
	assert_true(parse("GET /a%20b HTTP/1.1\r\n\r\n", &req) > 0);
	assert_string_equal(req.path, "/a%20b"); /* not decoded */

	parse_err("GET api/v1 HTTP/1.1\r\n\r\n", -EINVAL);
	parse_err("GET http://localhost/api HTTP/1.1\r\n\r\n", -EINVAL);
	parse_err("OPTIONS * HTTP/1.1\r\n\r\n", -EINVAL);
	parse_err("GET /a\x7f HTTP/1.1\r\n\r\n", -EINVAL);
	parse_err("GET /\x80 HTTP/1.1\r\n\r\n", -EINVAL);
	parse_err("GET /a\tb HTTP/1.1\r\n\r\n", -EINVAL);
	parse_err("GET /a b HTTP/1.1\r\n\r\n", -EINVAL);
}

/* A path of HTTP_MAX_PATH - 1 bytes fits; one more is -EINVAL (400). The query does not count. */
static void test_long_path(void **state)
{
	char r[HTTP_MAX_PATH + 1024];
	char path[HTTP_MAX_PATH + 1];
	struct http_request req;

	memset(path, 'a', sizeof(path));
	path[0] = '/';

	path[HTTP_MAX_PATH - 1] = '\0';
	snprintf(r, sizeof(r), "GET %s?%s HTTP/1.1\r\n\r\n", path, path + 1);
	assert_int_equal(parse(r, &req), (int)strlen(r));
	assert_string_equal(req.path, path);

	path[HTTP_MAX_PATH - 1] = 'a';
	path[HTTP_MAX_PATH] = '\0';
	snprintf(r, sizeof(r), "GET %s HTTP/1.1\r\n\r\n", path);
	assert_string_equal(parse_err(r, -EINVAL), "request path too long");
}

static void test_line_ends(void **state)
{
	static const char lf[] = "PUT /x HTTP/1.1\nContent-Length: 1\n\nZ";
	static const char mixed[] = "GET /x HTTP/1.1\r\nA: b\n\r\n";
	static const char leading[] = "\r\n\nGET /x HTTP/1.1\r\n\r\n";
	struct http_request req;

	assert_int_equal(parse(lf, &req), (int)strlen(lf));
	assert_int_equal(req.header_len, strlen(lf) - 1);
	assert_memory_equal(req.body, "Z", 1);
	assert_int_equal(parse(mixed, &req), (int)strlen(mixed));
	/* Empty lines before the request line are skipped and consumed (RFC 9112 2.2). */
	assert_int_equal(parse(leading, &req), (int)strlen(leading));
	assert_string_equal(req.path, "/x");
	assert_int_equal(parse("\r\n", &req), HTTP_NEED_MORE);
	assert_int_equal(parse("", &req), HTTP_NEED_MORE);
	assert_false(req.headers_complete);
}

/* Every proper prefix needs more; headers_complete turns on exactly at the blank line. */
static void test_byte_at_a_time(void **state)
{
	static const char r[] = "PUT /api/v1/vm.boot HTTP/1.1\r\nHost: localhost\r\n"
				"Content-Length: 5\r\nConnection: close\r\n\r\nhello";
	const size_t total = strlen(r), hdr = total - 5;
	struct http_request req;
	const char *err = NULL;

	for (size_t n = 0; n < total; n++) {
		assert_int_equal(http_parse_request(r, n, &req, &err), HTTP_NEED_MORE);
		assert_int_equal(req.headers_complete, n >= hdr);
		if (n >= hdr) {
			assert_int_equal(req.header_len, hdr);
			assert_int_equal(req.body_len, 5);
			assert_false(req.keep_alive);
		}
	}
	assert_int_equal(http_parse_request(r, total, &req, &err), (int)total);
	assert_true(req.headers_complete);
	assert_memory_equal(req.body, "hello", 5);
}

static void test_pipelined(void **state)
{
	static const char first[] = "PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 4\r\n\r\n"
				    "{\"a\"";
	static const char second[] = "GET /api/v1/vm.info HTTP/1.1\r\nConnection: close\r\n\r\n";
	char buf[256];
	struct http_request req;
	int n;

	snprintf(buf, sizeof(buf), "%s%s", first, second);
	n = parse(buf, &req);
	assert_int_equal(n, (int)strlen(first));
	assert_int_equal(req.method, HTTP_PUT);
	assert_int_equal(req.body_len, 4);
	assert_true(req.keep_alive);

	assert_int_equal(parse(buf + n, &req), (int)strlen(second));
	assert_int_equal(req.method, HTTP_GET);
	assert_string_equal(req.path, "/api/v1/vm.info");
	assert_false(req.keep_alive);

	/* The second one partly in: the first is still complete on its own. */
	assert_int_equal(http_parse_request(buf, strlen(first) + 7, &req, NULL), n);
}

/* Headers without their blank line are refused as soon as the buffer reaches the limit. */
static void test_header_flood(void **state)
{
	static char buf[HTTP_MAX_HEADER_BYTES * 2];
	static const char start[] = "GET / HTTP/1.1\r\n";
	struct http_request req;
	const char *err = NULL;
	size_t n = strlen(start);

	memcpy(buf, start, n);
	while (n + 8 <= sizeof(buf)) {
		memcpy(buf + n, "X-A: b\r\n", 8);
		n += 8;
	}
	assert_int_equal(http_parse_request(buf, HTTP_MAX_HEADER_BYTES - 1, &req, &err),
			 HTTP_NEED_MORE);
	assert_int_equal(http_parse_request(buf, HTTP_MAX_HEADER_BYTES, &req, &err), -EMSGSIZE);
	assert_string_equal(err, "request header too large");
	assert_int_equal(http_parse_request(buf, sizeof(buf), &req, &err), -EMSGSIZE);

	/* One endless line: the same. */
	memset(buf + n, 'x', sizeof(buf) - n);
	assert_int_equal(http_parse_request(buf, sizeof(buf), &req, &err), -EMSGSIZE);
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', sizeof(buf) - 5);
	assert_int_equal(http_parse_request(buf, HTTP_MAX_HEADER_BYTES, &req, &err), -EMSGSIZE);
}

/* A header block of exactly HTTP_MAX_HEADER_BYTES is fine; one byte more is not. */
static void test_header_limit_exact(void **state)
{
	static char buf[HTTP_MAX_HEADER_BYTES + 16];
	static const char start[] = "GET / HTTP/1.1\r\nX-Pad: ";
	struct http_request req;
	size_t n = strlen(start);
	size_t pad = HTTP_MAX_HEADER_BYTES - n - 4;

	memcpy(buf, start, n);
	memset(buf + n, 'p', pad);
	memcpy(buf + n + pad, "\r\n\r\n", 4);
	assert_int_equal(http_parse_request(buf, HTTP_MAX_HEADER_BYTES, &req, NULL),
			 (int)HTTP_MAX_HEADER_BYTES);
	assert_int_equal(req.header_len, HTTP_MAX_HEADER_BYTES);

	memset(buf + n, 'p', pad + 1);
	memcpy(buf + n + pad + 1, "\r\n\r\n", 4);
	assert_int_equal(http_parse_request(buf, HTTP_MAX_HEADER_BYTES + 1, &req, NULL), -EMSGSIZE);
}

static void test_body_too_big(void **state)
{
	char r[128];

	snprintf(r, sizeof(r), "PUT / HTTP/1.1\r\nContent-Length: %u\r\n\r\n", HTTP_MAX_BODY_BYTES + 1);
	assert_string_equal(parse_err(r, -EMSGSIZE), "request body too large");
	/* Refused as soon as the header line is in, before the rest of the headers. */
	snprintf(r, sizeof(r), "PUT / HTTP/1.1\r\nContent-Length: %u\r\n", HTTP_MAX_BODY_BYTES + 1);
	parse_err(r, -EMSGSIZE);
	parse_err("PUT / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n", -EMSGSIZE);

	/* The limit itself is fine. */
	snprintf(r, sizeof(r), "PUT / HTTP/1.1\r\nContent-Length: %u\r\n\r\n", HTTP_MAX_BODY_BYTES);
	assert_int_equal(http_parse_request(r, strlen(r), &(struct http_request){ 0 }, NULL),
			 HTTP_NEED_MORE);
}

static void test_bad_request_line(void **state)
{
	static const char *const bad[] = {
		"GET\r\n\r\n",
		"GET /\r\n\r\n",
		"GET  / HTTP/1.1\r\n\r\n",
		" GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n",
		"GET / http/1.1\r\n\r\n",
		"GET / HTTP/1.1x\r\n\r\n",
		"GET / HTTP/\r\n\r\n",
		"GET / HTTP/1.\r\n\r\n",
		"GET / FOO\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\r\n\r\n",     /* bare CR */
		"\x16\x03\x01\x02 / HTTP/1.1\r\n\r\n", /* not a token */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_err(bad[i], -EINVAL);
	/* Refused as soon as the line is in, without waiting for the headers. */
	parse_err("GET /\r\n", -EINVAL);
}

static void test_bad_version(void **state)
{
	static const char *const unsupported[] = {
		"GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/0.9\r\n\r\n",
		"GET / HTTP/1.2\r\n\r\n",
		"GET / HTTP/3\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\n", /* HTTP/2's connection preface */
	};

	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		assert_string_equal(parse_err(unsupported[i], -EPROTONOSUPPORT),
				    "HTTP version not supported");
}

static void test_bad_headers(void **state)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET / HTTP/1.1\r\n: empty-name\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : x\r\n\r\n",          /* whitespace before the colon */
		"GET / HTTP/1.1\r\nBad(Name): x\r\n\r\n",
		"GET / HTTP/1.1\r\nBad\"Name: x\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",        /* obs-fold */
		"GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n",
		"GET / HTTP/1.1\r\n Host: x\r\n\r\n",          /* whitespace after the request line */
		"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",           /* bare CR in a value */
		"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n",
	};
	struct http_request req;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_err(bad[i], -EINVAL);
	assert_string_equal(parse_err("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", -EINVAL),
			    "obsolete line folding in header");
	/* obs-text (bytes >= 0x80) and tabs are allowed in values; empty values too. */
	assert_true(parse("GET / HTTP/1.1\r\nA: caf\xc3\xa9\tb\r\nB:\r\n\r\n", &req) > 0);
}

static void test_nul_byte(void **state)
{
	static const char line[] = "GET /a\0b HTTP/1.1\r\n\r\n";
	static const char hdr[] = "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n";
	static const char partial[] = "GET / HTTP/1.1\r\nA: \0";
	static const char body[] = "PUT / HTTP/1.1\r\nContent-Length: 3\r\n\r\na\0b";
	struct http_request req;
	const char *err = NULL;

	assert_int_equal(http_parse_request(line, sizeof(line) - 1, &req, &err), -EINVAL);
	assert_string_equal(err, "NUL byte in request header");
	assert_int_equal(http_parse_request(hdr, sizeof(hdr) - 1, &req, &err), -EINVAL);
	assert_string_equal(err, "NUL byte in request header");
	/* Refused before the line is complete. */
	assert_int_equal(http_parse_request(partial, sizeof(partial) - 1, &req, &err), -EINVAL);
	/* The body may hold anything. */
	assert_int_equal(http_parse_request(body, sizeof(body) - 1, &req, &err),
			 (int)sizeof(body) - 1);
	assert_memory_equal(req.body, "a\0b", 3);
}

static void test_content_length(void **state)
{
	static const char same[] = "PUT / HTTP/1.1\r\nContent-Length: 2\r\n"
				   "content-length: 002\r\n\r\nab";
	static const char zero[] = "PUT / HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
	struct http_request req;

	assert_string_equal(parse_err("PUT / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", -EINVAL),
			    "Content-Length is not a number");
	parse_err("PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", -EINVAL);
	parse_err("PUT / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", -EINVAL);
	parse_err("PUT / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", -EINVAL);
	parse_err("PUT / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", -EINVAL);
	parse_err("PUT / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", -EINVAL);
	parse_err("PUT / HTTP/1.1\r\nContent-Length:\r\n\r\n", -EINVAL);
	parse_err("PUT / HTTP/1.1\r\nContent-Length: \r\n\r\n", -EINVAL);

	/* Repeats must agree (in value: leading zeros do not matter). */
	assert_string_equal(parse_err("PUT / HTTP/1.1\r\nContent-Length: 1\r\n"
				      "Content-Length: 2\r\n\r\nab", -EINVAL),
			    "conflicting Content-Length headers");
	assert_int_equal(parse(same, &req), (int)strlen(same));
	assert_int_equal(req.body_len, 2);
	assert_int_equal(parse(zero, &req), (int)strlen(zero));
	assert_null(req.body);
}

static void test_transfer_encoding(void **state)
{
	assert_string_equal(parse_err("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
				      "5\r\nhello\r\n0\r\n\r\n", -ENOTSUP),
			    "Transfer-Encoding is not supported");
	parse_err("PUT / HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n", -ENOTSUP);
	parse_err("PUT / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		  -ENOTSUP);
}

static void test_bad_arguments(void **state)
{
	struct http_request req;
	const char *err = NULL;

	assert_int_equal(http_parse_request("GET", 3, NULL, &err), -EINVAL);
	assert_non_null(err);
	assert_int_equal(http_parse_request(NULL, 3, &req, NULL), -EINVAL);
	assert_int_equal(http_parse_request(NULL, 0, &req, NULL), HTTP_NEED_MORE);
}

static void test_format_204(void **state)
{
	static const char want[] = "HTTP/1.1 204 No Content\r\nServer: kiln\r\n"
				   "Content-Length: 0\r\n\r\n";
	char out[256];

	assert_int_equal(http_format_response(out, sizeof(out), 204, "application/json", NULL, 0,
					      true), (int)strlen(want));
	assert_memory_equal(out, want, strlen(want));
}

static void test_format_200_json(void **state)
{
	static const char body[] = "{\"state\":\"Running\"}";
	static const char want[] = "HTTP/1.1 200 OK\r\nServer: kiln\r\n"
				   "Content-Type: application/json\r\nContent-Length: 19\r\n"
				   "\r\n{\"state\":\"Running\"}";
	static const char want_close[] = "HTTP/1.1 404 Not Found\r\nServer: kiln\r\n"
					 "Content-Length: 0\r\nConnection: close\r\n\r\n";
	char out[256];

	assert_int_equal(http_format_response(out, sizeof(out), 200, "application/json", body,
					      strlen(body), true), (int)strlen(want));
	assert_memory_equal(out, want, strlen(want));
	/* NULL content type: application/json. */
	assert_int_equal(http_format_response(out, sizeof(out), 200, NULL, body, strlen(body),
					      true), (int)strlen(want));
	assert_memory_equal(out, want, strlen(want));

	assert_int_equal(http_format_response(out, sizeof(out), 404, "application/json", NULL, 0,
					      false), (int)strlen(want_close));
	assert_memory_equal(out, want_close, strlen(want_close));
}

static void test_format_nospc(void **state)
{
	static const char body[] = "{\"state\":\"Running\"}";
	char out[256];
	int n = http_format_response(out, sizeof(out), 200, "application/json", body, strlen(body),
				     false);

	assert_true(n > 0);
	/* Exactly fitting works (no NUL terminator is written); one byte less does not. */
	assert_int_equal(http_format_response(out, (size_t)n, 200, "application/json", body,
					      strlen(body), false), n);
	assert_int_equal(http_format_response(out, (size_t)n - 1, 200, "application/json", body,
					      strlen(body), false), -ENOSPC);
	assert_int_equal(http_format_response(out, 10, 204, NULL, NULL, 0, true), -ENOSPC);
	assert_int_equal(http_format_response(out, 0, 204, NULL, NULL, 0, true), -ENOSPC);
	assert_int_equal(http_format_response(NULL, 0, 204, NULL, NULL, 0, true), -ENOSPC);

	/* Caller bugs. */
	assert_int_equal(http_format_response(out, sizeof(out), 99, NULL, NULL, 0, true), -EINVAL);
	assert_int_equal(http_format_response(out, sizeof(out), 200, NULL, NULL, 1, true), -EINVAL);
	assert_int_equal(http_format_response(out, sizeof(out), 200, "a\r\nX-Evil: 1", "x", 1,
					      true), -EINVAL);
}

static void test_reason(void **state)
{
	static const int codes[] = { 100, 200, 204, 400, 404, 405, 408, 411, 413, 415, 429, 500,
				     501, 503, 505 };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		assert_string_not_equal(http_reason(codes[i]), "Unknown");
	assert_string_equal(http_reason(404), "Not Found");
	assert_string_equal(http_reason(505), "HTTP Version Not Supported");
	assert_string_equal(http_reason(299), "Unknown");
	assert_string_equal(http_reason(-1), "Unknown");
}

static void test_parse_uint(void **state)
{
	unsigned long long v = 42;

	assert_int_equal(http_parse_uint("0", 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(http_parse_uint("65536xyz", 5, &v), 0); /* only len bytes count */
	assert_int_equal(v, 65536);
	assert_int_equal(http_parse_uint("18446744073709551615", 20, &v), 0);
	assert_true(v == 18446744073709551615ull);
	v = 7;
	assert_int_equal(http_parse_uint("18446744073709551616", 20, &v), -EINVAL);
	assert_int_equal(http_parse_uint("99999999999999999999", 20, &v), -EINVAL);
	assert_int_equal(http_parse_uint("184467440737095516150", 21, &v), -EINVAL);
	assert_int_equal(v, 7); /* untouched on error */
	assert_int_equal(http_parse_uint("", 0, &v), -EINVAL);
	assert_int_equal(http_parse_uint("1a", 2, &v), -EINVAL);
	assert_int_equal(http_parse_uint(" 1", 2, &v), -EINVAL);
	assert_int_equal(http_parse_uint("-1", 2, &v), -EINVAL);
	assert_int_equal(http_parse_uint(NULL, 1, &v), -EINVAL);
	assert_int_equal(http_parse_uint("1", 1, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_put_with_body),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_keep_alive_defaults),
		cmocka_unit_test(test_expect_continue),
		cmocka_unit_test(test_query_and_target),
		cmocka_unit_test(test_long_path),
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_header_flood),
		cmocka_unit_test(test_header_limit_exact),
		cmocka_unit_test(test_body_too_big),
		cmocka_unit_test(test_bad_request_line),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_transfer_encoding),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_format_204),
		cmocka_unit_test(test_format_200_json),
		cmocka_unit_test(test_format_nospc),
		cmocka_unit_test(test_reason),
		cmocka_unit_test(test_parse_uint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
