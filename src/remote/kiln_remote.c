/* kiln-remote: controls a running kiln through its REST API socket, with ch-remote's command
 * line:  kiln-remote --api-socket PATH <command> [args]
 *
 * Exit status: 0 success (the response body, if any, on stdout); 1 the request failed (cannot
 * connect, HTTP error status, no or bad response, unreadable config file); 2 usage error. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "remote/http_client.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define MAX_CONFIG_BYTES (4u << 20) /* a VmConfig is a few KiB; kiln itself takes <= 64 KiB */

struct command {
	const char *name;
	const char *method;
	const char *path;  /* under /api/v1/ */
	const char *about;
};

/* Alphabetical, as ch-remote lists them. */
static const struct command commands[] = {
	{ "boot", "PUT", "vm.boot", "Boot a created VM" },
	{ "counters", "GET", "vm.counters", "Counters from the VM" },
	{ "create", "PUT", "vm.create",
	  "Create VM from a JSON configuration (FILE, or '-' / nothing: stdin)" },
	{ "delete", "PUT", "vm.delete", "Delete a VM" },
	{ "info", "GET", "vm.info", "Info on the VM" },
	{ "pause", "PUT", "vm.pause", "Pause the VM" },
	{ "ping", "GET", "vmm.ping", "Ping the VMM to check for API server availability" },
	{ "power-button", "PUT", "vm.power-button", "Trigger a power button in the VM" },
	{ "reboot", "PUT", "vm.reboot", "Reboot the VM" },
	{ "resume", "PUT", "vm.resume", "Resume the VM" },
	{ "shutdown", "PUT", "vm.shutdown", "Shutdown the VM" },
	{ "shutdown-vmm", "PUT", "vmm.shutdown", "Shutdown the VMM" },
};

static const char usage_line[] = "usage: kiln-remote --api-socket PATH <command> [args]\n";

static void print_help(void)
{
	size_t i;

	printf("kiln-remote v%s: remotely control a kiln VMM (Cloud Hypervisor's ch-remote "
	       "interface)\n\n%s\noptions:\n"
	       "  --api-socket PATH   HTTP API socket path (UNIX domain socket); also "
	       "--api-socket=PATH\n"
	       "  -h, --help          print this help\n"
	       "  -V, --version       print the version\n\ncommands:\n",
	       KILN_VERSION, usage_line);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-14s %s\n", commands[i].name, commands[i].about);
	printf("\nexit status: 0 success (the response body, if any, on stdout), 1 the request "
	       "failed\n(message on stderr), 2 usage error\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kiln-remote: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%skiln-remote: see 'kiln-remote --help'\n", usage_line);
	return EXIT_USAGE;
}

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Reads all of path ("-": stdin) into a malloc'd buffer. Returns 0 or -errno
 * (-EFBIG past MAX_CONFIG_BYTES). */
static int read_all(const char *path, char **out, size_t *out_len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t len = 0, cap = 4096;
	char *buf;
	int r = 0;

	if (!f)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			char *nb;

			if (cap >= MAX_CONFIG_BYTES + 1) {
				r = -EFBIG;
				break;
			}
			cap = cap * 2 > MAX_CONFIG_BYTES + 1 ? MAX_CONFIG_BYTES + 1 : cap * 2;
			nb = realloc(buf, cap);
			if (!nb) {
				r = -ENOMEM;
				break;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f))
				r = errno ? -errno : -EIO;
			break;
		}
	}
	if (r == 0 && len > MAX_CONFIG_BYTES)
		r = -EFBIG;
	if (r < 0) {
		free(buf);
		buf = NULL;
		len = 0;
	}
out:
	if (f != stdin)
		fclose(f);
	*out = buf;
	*out_len = len;
	return r;
}

/* Writes body bytes to f with control characters other than newline and tab shown as '?'
 * (an error body goes to a terminal). */
static void put_sanitized(FILE *f, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		fputc((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f ? '?' : ch, f);
	}
}

static const char *describe(int r)
{
	switch (r) {
	case -ETIMEDOUT: return "no response in time";
	case -EPIPE: return "the server closed the connection without a response";
	case -ECONNRESET: return "the server reset the connection";
	default: return strerror(-r);
	}
}

int main(int argc, char **argv)
{
	const char *socket_path = NULL, *config_path = NULL;
	const struct command *cmd = NULL;
	struct http_client client;
	struct http_response resp;
	char full_path[64];
	char *body = NULL;
	size_t body_len = 0;
	const char *why;
	int i, r;

	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help") || (!cmd && !strcmp(a, "help"))) {
			print_help();
			return 0;
		}
		if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("kiln-remote v%s\n", KILN_VERSION);
			return 0;
		}
		if (!cmd && !strcmp(a, "--api-socket")) {
			if (i + 1 >= argc)
				return usage_error("%s needs a value: the API socket's path", a);
			socket_path = argv[++i];
			continue;
		}
		if (!cmd && !strncmp(a, "--api-socket=", 13)) {
			socket_path = a + 13;
			continue;
		}
		if (a[0] == '-' && strcmp(a, "-") != 0)
			return usage_error("unexpected argument '%s'", a);
		if (!cmd) {
			cmd = find_command(a);
			if (!cmd)
				return usage_error("unknown command '%s'", a);
			continue;
		}
		if (!strcmp(cmd->name, "create") && !config_path) {
			config_path = a;
			continue;
		}
		return usage_error("unexpected argument '%s'", a);
	}
	if (!cmd)
		return usage_error("%s", "no command given");
	if (!socket_path || !*socket_path)
		return usage_error("%s", "--api-socket PATH is required");

	if (!strcmp(cmd->name, "create")) {
		if (!config_path)
			config_path = "-"; /* as ch-remote: the default is stdin */
		r = read_all(config_path, &body, &body_len);
		if (r < 0) {
			fprintf(stderr, "kiln-remote: error: cannot read the VM config %s: %s\n",
				strcmp(config_path, "-") ? config_path : "from stdin",
				r == -EFBIG ? "larger than 4 MiB" : strerror(-r));
			return EXIT_FAILED;
		}
	}

	r = http_client_open(&client, socket_path, HTTP_CLIENT_DEFAULT_TIMEOUT_MS);
	if (r < 0) {
		fprintf(stderr, "kiln-remote: error: cannot connect to API socket %s: %s "
			"(is kiln running with --api-socket?)\n", socket_path, strerror(-r));
		free(body);
		return EXIT_FAILED;
	}
	snprintf(full_path, sizeof(full_path), "/api/v1/%s", cmd->path);
	r = http_client_request(&client, cmd->method, full_path, body, body_len, false,
				HTTP_CLIENT_DEFAULT_TIMEOUT_MS, &resp, &why);
	free(body);
	if (r < 0) {
		fprintf(stderr, "kiln-remote: error: %s %s on %s: %s%s%s\n", cmd->method, full_path,
			socket_path, describe(r), why ? ": " : "", why ? why : "");
		http_client_close(&client);
		return EXIT_FAILED;
	}
	if (resp.status < 200 || resp.status > 299) {
		size_t n = resp.body_len;

		while (n && (resp.body[n - 1] == '\n' || resp.body[n - 1] == '\r' ||
			     resp.body[n - 1] == ' '))
			n--;
		fprintf(stderr, "kiln-remote: error: %s %s: server responded %d %s%s", cmd->method,
			full_path, resp.status, resp.reason[0] ? resp.reason :
			http_status_text(resp.status), n ? ": " : "");
		put_sanitized(stderr, resp.body, n);
		fputc('\n', stderr);
		http_client_close(&client);
		return EXIT_FAILED;
	}
	if (resp.body_len) {
		/* As ch-remote: the body, then a newline (unless it ends with one). */
		fwrite(resp.body, 1, resp.body_len, stdout);
		if (resp.body[resp.body_len - 1] != '\n')
			fputc('\n', stdout);
	}
	http_client_close(&client);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "kiln-remote: error: writing the response to stdout: %s\n",
			strerror(errno));
		return EXIT_FAILED;
	}
	return 0;
}
