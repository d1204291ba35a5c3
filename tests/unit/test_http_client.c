/* Unit tests for remote/http_client.c: response parsing (status line, headers, Content-Length,
 * truncated, oversized, garbage), request formatting, and one request over a socketpair. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "remote/http_client.h"

static struct http_response resp;
static const char *why;

/* Parses a string literal (or any NUL-terminated text) with the given eof flag. */
static int parse(const char *s, bool eof)
{
	why = "stale";
	memset(&resp, 0xa5, sizeof(resp));
	return http_parse_response(s, strlen(s), eof, &resp, &why);
}

static void test_ok_with_body(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\nServer: kiln\r\nContent-Type: application/json\r\n"
			"Content-Length: 11\r\n\r\n{\"a\":\"xyz\"}";

	assert_int_equal(parse(s, false), (int)strlen(s));
	assert_null(why);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.reason, "OK");
	assert_false(resp.http10);
	assert_true(resp.has_content_length);
	assert_int_equal(resp.content_length, 11);
	assert_int_equal(resp.body_len, 11);
	assert_memory_equal(resp.body, "{\"a\":\"xyz\"}", 11);
	assert_int_equal(resp.header_len, strlen(s) - 11);
	assert_true(resp.keep_alive);
}

static void test_no_content(void **state)
{
	const char *s = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";

	assert_int_equal(parse(s, false), (int)strlen(s));
	assert_int_equal(resp.status, 204);
	assert_int_equal(resp.body_len, 0);
	assert_null(resp.body);
	/* 204 without Content-Length is complete at the blank line too (no body by definition). */
	assert_int_equal(parse("HTTP/1.1 204 No Content\r\n\r\n", false), 27);
	assert_true(resp.keep_alive);
	/* 1xx is parsed on its own; the caller skips it. */
	assert_int_equal(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", false),
			 25);
	assert_int_equal(resp.status, 100);
}

static void test_pipelined_second_response_left_alone(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 204 x\r\n\r\n";

	assert_int_equal(parse(s, false), (int)(strlen(s) - strlen("HTTP/1.1 204 x\r\n\r\n")));
	assert_memory_equal(resp.body, "hi", 2);
}

static void test_error_status_and_reason(void **state)
{
	const char *s = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 16"
			"\r\n\r\nVM not created\r\n";

	assert_int_equal(parse(s, false), (int)strlen(s));
	assert_int_equal(resp.status, 404);
	assert_string_equal(resp.reason, "Not Found");
	assert_memory_equal(resp.body, "VM not created\r\n", 16);
	/* No reason phrase at all, or an empty one: both allowed. */
	assert_int_equal(parse("HTTP/1.1 405\r\nContent-Length: 0\r\n\r\n", false), 35);
	assert_int_equal(resp.status, 405);
	assert_string_equal(resp.reason, "");
	assert_int_equal(parse("HTTP/1.1 405 \r\nContent-Length: 0\r\n\r\n", false), 36);
	assert_string_equal(resp.reason, "");
	/* A long reason is truncated, not an error. */
	{
		char buf[512];

		snprintf(buf, sizeof(buf), "HTTP/1.1 500 %0200d\r\nContent-Length: 0\r\n\r\n", 7);
		assert_int_equal(parse(buf, false), (int)strlen(buf));
		assert_int_equal(strlen(resp.reason), HTTP_CLIENT_MAX_REASON - 1);
	}
}

static void test_headers_case_whitespace_and_lf(void **state)
{
	const char *s = "HTTP/1.1 200 OK\ncontent-LENGTH:\t 3 \nX-Empty:\n\nabc";

	assert_int_equal(parse(s, false), (int)strlen(s));
	assert_int_equal(resp.body_len, 3);
	assert_memory_equal(resp.body, "abc", 3);
	/* Duplicate Content-Length with the same value is tolerated. */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
			       false), 58);
}

static void test_connection_semantics(void **state)
{
	assert_true(parse("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0"
			  "\r\n\r\n", false) > 0);
	assert_false(resp.keep_alive);
	assert_true(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false) > 0);
	assert_true(resp.http10);
	assert_false(resp.keep_alive);
	assert_true(parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
			  false) > 0);
	assert_true(resp.keep_alive);
	/* "closed" is not "close". */
	assert_true(parse("HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n",
			  false) > 0);
	assert_true(resp.keep_alive);
}

static void test_close_delimited_body(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\n\r\nuntil eof";

	assert_int_equal(parse(s, false), HTTP_RESPONSE_NEED_MORE);
	assert_int_equal(parse(s, true), (int)strlen(s));
	assert_int_equal(resp.body_len, 9);
	assert_false(resp.keep_alive);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\n\r\n", true), 19);
	assert_int_equal(resp.body_len, 0);
	assert_null(resp.body);
}

static void test_truncated(void **state)
{
	const char *full = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
	size_t n = strlen(full), i;

	/* Every proper prefix needs more; at eof every proper prefix is an error. */
	for (i = 0; i < n; i++) {
		why = "stale";
		assert_int_equal(http_parse_response(full, i, false, &resp, &why),
				 HTTP_RESPONSE_NEED_MORE);
		assert_int_equal(http_parse_response(full, i, true, &resp, &why), -EPROTO);
		assert_non_null(why);
		assert_string_not_equal(why, "stale");
	}
	assert_int_equal(http_parse_response(full, n, false, &resp, &why), (int)n);
	assert_int_equal(http_parse_response(full, n, true, &resp, &why), (int)n);
}

static void test_oversized(void **state)
{
	size_t big = HTTP_CLIENT_MAX_HEADER_BYTES + 100;
	char *buf = malloc(big + HTTP_CLIENT_MAX_BODY_BYTES + 64);
	char line[128];
	int n;

	assert_non_null(buf);
	/* Headers that never end within the limit. */
	strcpy(buf, "HTTP/1.1 200 OK\r\nX-Pad: ");
	memset(buf + strlen(buf), 'a', big - strlen(buf));
	assert_int_equal(http_parse_response(buf, big, false, &resp, &why), -EMSGSIZE);
	assert_int_equal(http_parse_response(buf, HTTP_CLIENT_MAX_HEADER_BYTES - 1, false, &resp,
					     &why), HTTP_RESPONSE_NEED_MORE);
	/* Content-Length over the body limit is refused before the body arrives. */
	n = snprintf(line, sizeof(line), "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n",
		     HTTP_CLIENT_MAX_BODY_BYTES + 1);
	assert_int_equal(http_parse_response(line, (size_t)n, false, &resp, &why), -EMSGSIZE);
	n = snprintf(line, sizeof(line), "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n",
		     HTTP_CLIENT_MAX_BODY_BYTES);
	assert_int_equal(http_parse_response(line, (size_t)n, false, &resp, &why),
			 HTTP_RESPONSE_NEED_MORE);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
			       false), -EINVAL);
	/* A close-delimited body past the limit. */
	memcpy(buf, "HTTP/1.1 200 OK\r\n\r\n", 19);
	memset(buf + 19, 'b', HTTP_CLIENT_MAX_BODY_BYTES + 1);
	assert_int_equal(http_parse_response(buf, 19 + HTTP_CLIENT_MAX_BODY_BYTES + 1, false, &resp,
					     &why), -EMSGSIZE);
	assert_int_equal(http_parse_response(buf, 19 + HTTP_CLIENT_MAX_BODY_BYTES, true, &resp,
					     &why), (int)(19 + HTTP_CLIENT_MAX_BODY_BYTES));
	free(buf);
}

static void test_garbage(void **state)
{
	static const char *const bad[] = {
		"\x00\x01\x02 binary",
		"GET / HTTP/1.1\r\n\r\n",              /* a request, not a response */
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 abc OK\r\n\r\n",
		"HTTP/1.1 099 OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.1\r\n\r\n",
		"HTTP/1.1 200 O\x01K\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
		"http/1.1 200 OK\r\n\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = i == 0 ? 10 : strlen(bad[i]);

		why = NULL;
		assert_int_equal(http_parse_response(bad[i], len, false, &resp, &why), -EINVAL);
		assert_non_null(why);
	}
	/* Garbage is recognized from its first bytes, without waiting for a blank line. */
	assert_int_equal(parse("XTTP", false), -EINVAL);
	assert_int_equal(parse("HTTP/1.", false), HTTP_RESPONSE_NEED_MORE);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false),
			 -ENOTSUP);
	assert_int_equal(http_parse_response(NULL, 0, false, &resp, NULL), -EINVAL);
	assert_int_equal(http_parse_response("", 0, false, &resp, NULL), HTTP_RESPONSE_NEED_MORE);
	assert_int_equal(http_parse_response("", 0, true, &resp, NULL), -EPROTO);
}

/* Random bytes and random mutations of a valid response: never a crash, never a result past
 * the buffer. (ASan builds check the reads.) */
static void test_random_inputs(void **state)
{
	static const char valid[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody";
	unsigned int seed = 12345;
	char buf[sizeof(valid) + 16];
	int i;

	for (i = 0; i < 20000; i++) {
		size_t len = (size_t)rand_r(&seed) % sizeof(buf), j;
		int r;

		if (i & 1) {
			for (j = 0; j < len; j++)
				buf[j] = (char)rand_r(&seed);
		} else {
			len = sizeof(valid) - 1;
			memcpy(buf, valid, len);
			for (j = 0; j < 3; j++)
				buf[(size_t)rand_r(&seed) % len] = (char)rand_r(&seed);
			len -= (size_t)rand_r(&seed) % 4;
		}
		char *copy = malloc(len ? len : 1); /* exact size: ASan sees any overread */

		assert_non_null(copy);
		memcpy(copy, buf, len);
		r = http_parse_response(copy, len, i % 3 == 0, &resp, NULL);
		assert_true(r <= (int)len);
		if (r > 0)
			assert_true(resp.header_len + resp.body_len == (size_t)r);
		free(copy);
	}
}

static void test_format_request(void **state)
{
	char out[256];
	int n;

	n = http_format_request(out, sizeof(out), "GET", "/api/v1/vmm.ping", 0, true);
	assert_string_equal(out, "GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\n"
				 "Accept: */*\r\n\r\n");
	assert_int_equal(n, (int)strlen(out));
	n = http_format_request(out, sizeof(out), "PUT", "/api/v1/vm.boot", 0, false);
	assert_string_equal(out, "PUT /api/v1/vm.boot HTTP/1.1\r\nHost: localhost\r\n"
				 "Accept: */*\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	assert_int_equal(n, (int)strlen(out));
	n = http_format_request(out, sizeof(out), "PUT", "/api/v1/vm.create", 1234, true);
	assert_non_null(strstr(out, "\r\nContent-Length: 1234\r\n\r\n"));
	assert_int_equal(http_format_request(out, 20, "GET", "/api/v1/vmm.ping", 0, true), -ENOSPC);
	assert_int_equal(http_format_request(out, sizeof(out), "GET", "/a b", 0, true), -EINVAL);
	assert_int_equal(http_format_request(out, sizeof(out), "G\nT", "/", 0, true), -EINVAL);
	assert_int_equal(http_format_request(out, sizeof(out), NULL, "/", 0, true), -EINVAL);
	assert_int_equal(http_format_request(out, sizeof(out), "GET", "", 0, true), -EINVAL);
	assert_string_equal(http_status_text(404), "Not Found");
	assert_string_equal(http_status_text(299), "");
}

/* A whole request through http_client over a socketpair: the "server" side is answered from
 * this thread before the client reads, since a socketpair buffers both directions. */
static void test_client_over_socketpair(void **state)
{
	static const char answer[] = "HTTP/1.1 100 Continue\r\n\r\n"
				     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\npong!";
	struct http_client c = { .fd = -1 };
	char got[512];
	ssize_t n;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c.fd = sv[0];
	c.buf = malloc(16); /* tiny on purpose: the buffer must grow */
	c.cap = 16;
	assert_non_null(c.buf);
	assert_int_equal(write(sv[1], answer, sizeof(answer) - 1), (ssize_t)sizeof(answer) - 1);
	assert_int_equal(http_client_request(&c, "GET", "/api/v1/vmm.ping", NULL, 0, true, 1000,
					     &resp, &why), 0);
	assert_int_equal(resp.status, 200);
	assert_memory_equal(resp.body, "pong!", 5);
	assert_false(c.closed);
	n = read(sv[1], got, sizeof(got) - 1);
	assert_true(n > 0);
	got[n] = '\0';
	assert_non_null(strstr(got, "GET /api/v1/vmm.ping HTTP/1.1\r\n"));

	/* Second request on the same connection: the server closes without answering. */
	close(sv[1]);
	assert_int_equal(http_client_request(&c, "PUT", "/api/v1/vm.boot", NULL, 0, true, 1000,
					     &resp, &why), -EPIPE);
	assert_int_equal(http_client_request(&c, "PUT", "/api/v1/vm.boot", NULL, 0, true, 1000,
					     &resp, &why), -ENOTCONN);
	http_client_close(&c);
	http_client_close(&c);
	assert_int_equal(c.fd, -1);

	/* A server that never answers: -ETIMEDOUT. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c = (struct http_client){ .fd = sv[0], .buf = malloc(64), .cap = 64 };
	assert_non_null(c.buf);
	assert_int_equal(http_client_request(&c, "GET", "/api/v1/vm.info", NULL, 0, true, 50,
					     &resp, &why), -ETIMEDOUT);
	http_client_close(&c);
	close(sv[1]);
}

static void test_open_errors(void **state)
{
	struct http_client c;
	char longpath[200];

	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(http_client_open(&c, longpath, 100), -ENAMETOOLONG);
	assert_int_equal(c.fd, -1);
	assert_int_equal(http_client_open(&c, "/nonexistent/kiln-api.sock", 100), -ENOENT);
	assert_int_equal(http_client_open(&c, "", 100), -ENOENT);
	http_client_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_with_body),
		cmocka_unit_test(test_no_content),
		cmocka_unit_test(test_pipelined_second_response_left_alone),
		cmocka_unit_test(test_error_status_and_reason),
		cmocka_unit_test(test_headers_case_whitespace_and_lf),
		cmocka_unit_test(test_connection_semantics),
		cmocka_unit_test(test_close_delimited_body),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_random_inputs),
		cmocka_unit_test(test_format_request),
		cmocka_unit_test(test_client_over_socketpair),
		cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
