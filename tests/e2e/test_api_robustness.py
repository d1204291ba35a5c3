"""kiln's REST API server (kiln --api-socket, no VM) under malformed, random and hostile
clients: bad JSON bodies, wrong methods, unknown paths, oversized headers and bodies,
truncated requests, binary garbage, 1-byte writes, abrupt disconnects, slowloris, many
connections at once.

Every invalid request must get a 4xx/5xx response (with a plain-text body saying what is
wrong) or a closed connection: never a 2xx, never a hang (every read has a deadline). After
each scenario kiln must still be running and answer GET vmm.ping with 200; PUT vmm.shutdown
then answers 204 and kiln exits 0. Random inputs come from a fixed seed (printed; set
KILN_API_FUZZ_SEED to use another)."""
import json
import os
import random
import re
import socket
import tempfile
import threading
import time

import pytest

from conftest import TIME_SCALE

SEED = int(os.environ.get("KILN_API_FUZZ_SEED", "20261123"))
T_IO = 5 * TIME_SCALE        # seconds: deadline of one exchange
T_START = 10 * TIME_SCALE    # seconds: kiln start -> socket accepting

ENDPOINTS = {  # Cloud Hypervisor's paths kiln implements, with their method
    "vmm.ping": "GET", "vmm.shutdown": "PUT", "vm.create": "PUT", "vm.boot": "PUT",
    "vm.pause": "PUT", "vm.resume": "PUT", "vm.shutdown": "PUT", "vm.reboot": "PUT",
    "vm.power-button": "PUT", "vm.delete": "PUT", "vm.info": "GET", "vm.counters": "GET",
}
PING = b"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n"
VALID_CONFIG = {"payload": {"kernel": "/nonexistent/vmlinux"},
                "cpus": {"boot_vcpus": 1, "max_vcpus": 1}, "memory": {"size": 536870912}}
STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3})(?: [^\r\n]*)?\r\n")


class Hang(AssertionError):
    pass


class Response:
    def __init__(self, status, head, body):
        self.status, self.head, self.body = status, head, body

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:120])


def req(method, path, body=None, headers=(), version=b"HTTP/1.1"):
    """Builds request bytes; Content-Length is added for a body (or PUT/POST)."""
    lines = [b"%s %s %s" % (method, path, version), b"Host: localhost"] + list(headers)
    if body is not None or method in (b"PUT", b"POST"):
        lines.append(b"Content-Length: %d" % len(body or b""))
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def create(body, extra=()):
    return req(b"PUT", b"/api/v1/vm.create", body,
               (b"Content-Type: application/json",) + tuple(extra))


class Conn:
    """One client connection with a receive buffer; every read has a deadline."""

    def __init__(self, path, timeout=T_IO):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.eof = False

    def send(self, data, chunk=None):
        """Sends data (in chunk-byte writes if given). Returns False when the server closed
        or reset the connection first (it may have answered already)."""
        try:
            if chunk:
                for i in range(0, len(data), chunk):
                    self.sock.sendall(data[i:i + chunk])
            else:
                self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def _fill(self, deadline, what):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Hang("no %s within the deadline (got %r)" % (what, self.buf[:200]))
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Hang("no %s within %.1f s (got %r)" % (what, T_IO, self.buf[:200])) from None
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
        self.buf += data

    def response(self, timeout=T_IO, head_only=False):
        """Reads one response: a Response, or None when the server closed the connection
        without sending one. Fails on a hang or a malformed or truncated response."""
        deadline = time.monotonic() + timeout
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                m = STATUS_LINE.match(self.buf)
                assert m, "malformed status line: %r" % self.buf[:200]
                head = self.buf[:end + 4]
                cl = re.search(rb"(?i)\r\ncontent-length:[ \t]*(\d+)\r\n", head)
                n = 0 if head_only or not cl else int(cl.group(1))
                if len(self.buf) >= end + 4 + n:
                    body = self.buf[end + 4:end + 4 + n]
                    self.buf = self.buf[end + 4 + n:]
                    return Response(int(m.group(1)), head, body)
            elif self.buf:
                assert self.buf.startswith(b"HTTP/1."[:len(self.buf)]) or \
                    STATUS_LINE.match(self.buf), "not an HTTP response: %r" % self.buf[:200]
            if self.eof:
                assert not self.buf, "connection closed mid-response: %r" % self.buf[:200]
                return None
            self._fill(deadline, "response")

    def closed_by_server(self, timeout=T_IO):
        """True when the server closes within timeout (any bytes sent first are kept)."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                self._fill(deadline, "close")
            except Hang:
                return False
        return True

    def close(self):
        self.sock.close()


class Api:
    """A kiln serving its API on a socket in a temporary directory, with no VM."""

    def __init__(self, run_kiln, name="api"):
        # sun_path holds 107 bytes: keep the socket path short whatever the tmp_path is.
        self.dir = tempfile.mkdtemp(prefix="kiln-api-")
        self.path = os.path.join(self.dir, "api.sock")
        self.kiln = run_kiln("--api-socket", "path=" + self.path, name=name)
        self.requests = 0
        deadline = time.monotonic() + T_START
        while True:
            try:
                Conn(self.path).close()
                break
            except (FileNotFoundError, ConnectionRefusedError):
                pass
            assert self.kiln.proc.poll() is None, \
                "kiln exited %s before its API socket accepted" % self.kiln.proc.returncode
            assert time.monotonic() < deadline, "API socket not accepting after %g s" % T_START
            time.sleep(0.005)

    def conn(self, timeout=T_IO):
        return Conn(self.path, timeout)

    def exchange(self, data, chunk=None, half_close=False, head_only=False, timeout=T_IO):
        """One request on its own connection: a Response or None (closed without one)."""
        self.requests += 1
        c = self.conn(timeout)
        try:
            sent = c.send(data, chunk)
            if half_close and sent:
                c.sock.shutdown(socket.SHUT_WR)
            return c.response(timeout, head_only)
        finally:
            c.close()

    def alive(self, context=""):
        rc = self.kiln.proc.poll()
        assert rc is None, "kiln exited (status %s) %s" % (rc, context)

    def ping(self, timeout=T_IO):
        r = self.exchange(PING, timeout=timeout)
        assert r is not None and r.status == 200, "GET vmm.ping: expected 200, got %r" % (r,)
        info = json.loads(r.body)
        for key in ("build_version", "version", "pid", "features"):
            assert key in info, "vmm.ping body lacks %r: %r" % (key, r.body)
        assert info["pid"] == self.kiln.proc.pid, "vmm.ping pid %r is not kiln's %d" % (
            info["pid"], self.kiln.proc.pid)
        return r

    def finish(self):
        """Still alive, answers ping; PUT vmm.shutdown -> 204; kiln exits 0."""
        self.alive("after %d requests" % self.requests)
        self.ping()
        r = self.exchange(req(b"PUT", b"/api/v1/vmm.shutdown"))
        assert r is not None and r.status == 204, "PUT vmm.shutdown: expected 204, got %r" % (r,)
        assert self.kiln.wait(10) == 0, "kiln did not exit 0 after PUT vmm.shutdown"


@pytest.fixture
def api(run_kiln):
    print("kiln API robustness: random seed %d (KILN_API_FUZZ_SEED)" % SEED)
    a = Api(run_kiln)
    yield a
    a.kiln.kill()
    for name in os.listdir(a.dir):
        os.unlink(os.path.join(a.dir, name))
    os.rmdir(a.dir)


def check_error(r, what, allowed=None):
    """An invalid request's outcome: 4xx/5xx with a body, or closed (None)."""
    if r is None:
        return
    assert not 200 <= r.status < 300, "%s: invalid input got %r" % (what, r)
    assert 400 <= r.status <= 599, "%s: expected 4xx/5xx or a close, got %r" % (what, r)
    assert r.body.strip(), "%s: %d without a body saying what is wrong" % (what, r.status)
    if allowed:
        assert r.status in allowed, "%s: expected %s or a close, got %r" % (what, allowed, r)


def show(data, n=100):
    return repr(data[:n]) + ("... (%d bytes)" % len(data) if len(data) > n else "")


# --- request generators: (description, bytes, expected statuses or None for "any error") ---

def wrong_methods():
    for name, right in ENDPOINTS.items():
        for m in ("GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "FOO", "get"):
            if m != right:
                yield ("%s %s" % (m, name), req(m.encode(), b"/api/v1/" + name.encode()), (405,))


def unknown_paths(rng):
    paths = [b"/", b"/api", b"/api/v1", b"/api/v1/", b"/api/v2/vmm.ping", b"/api/v1/vmm",
             b"/api/v1/vm", b"/api/v1/vm.", b"/api/v1/vmm.pingx", b"/api/v1/vmm.ping/x",
             b"/API/V1/VMM.PING", b"/api/v1/VM.INFO", b"/api/v1//vmm.ping", b"//api/v1/vm.info",
             b"/api/v1/vm.bogus", b"/api/v1/vmm.bogus", b"/api/v1/vm.info.json", b"/index.html",
             b"/favicon.ico", b"/x"]
    paths += [b"/api/v1/" + bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz.-_")
                                  for _ in range(rng.randint(1, 40))) for _ in range(16)]
    for p in paths:
        for m in (b"GET", b"PUT"):
            yield ("%s %r" % (m.decode(), p), req(m, p), (404,))
    # Odd spellings: any error will do (404, or 400 for a path the parser refuses).
    for p in (b"/api/v1/vm%2einfo", b"/api/v1/%00", b"/api/v1/vm.info%00", b"//api/v1/vm.info",
              b"/api/v1/vm.create/../vm.info", b"/api/v1/./vm.info", b"/api/v1/vm.info#x"):
        for m in (b"GET", b"PUT"):
            yield ("%s %r" % (m.decode(), p), req(m, p), None)


def bad_configs(rng):
    k = b'"payload":{"kernel":"/nonexistent/vmlinux"}'
    fixed = [b"{", b"}", b"[", b"[]", b"null", b"true", b"0", b'"vm"', b"{}", b"{,}",
             b'{"payload":{}}', b'{"payload":{"kernel":""}}', b'{"payload":{"kernel":1}}',
             b'{"payload":[]}', b'{"payload":"x"}', b'{"payload":null}',
             b"{" + k + b"", b"{" + k + b"}}", b"{" + k + b"} x", b"{" + k + b",}",
             b"{" + k + b',"cpus":{"boot_vcpus":"two"}}',
             b"{" + k + b',"cpus":{"boot_vcpus":0}}',
             b"{" + k + b',"cpus":{"boot_vcpus":2,"max_vcpus":1}}',
             b"{" + k + b',"cpus":{"boot_vcpus":-1}}',
             b"{" + k + b',"cpus":{"boot_vcpus":1.5}}',
             b"{" + k + b',"cpus":{"boot_vcpus":99999999999999999999999}}',
             b"{" + k + b',"cpus":{"boot_vcpus":1e400}}',
             b"{" + k + b',"memory":{"size":-1}}', b"{" + k + b',"memory":{"size":"1G"}}',
             b"{" + k + b',"memory":[]}', b"{" + k + b',"serial":{"mode":"Bogus"}}',
             b"{" + k + b',"bogus_field":1}', b"{" + k + b',"disks":[{"path":"/x","iommu":true}]}',
             b"{" + k + b',"cpus":{"topology":{"threads_per_core":9}}}',
             b'{"payload":{"kernel":"/k\xff\xfe"}}', b"\xef\xbb\xbf{" + k + b"\x00}",
             b"\x00" * 64, b"{" * 4000, b"[" * 4000, b'{"a":' * 2000,
             b'{"payload":{"kernel":"' + b"A" * 60000]  # unterminated
    for body in fixed:
        yield ("vm.create %s" % show(body, 150), create(body), None)
    text = json.dumps(VALID_CONFIG, separators=(",", ":")).encode()
    for _ in range(200):   # proper prefixes of a valid config: never valid JSON
        body = text[:rng.randrange(1, len(text))]
        yield ("vm.create prefix %r" % body, create(body), None)
    for _ in range(60):    # unknown top-level field, random name
        name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(12))
        body = text[:-1] + b',"zz_%s":%d}' % (name.encode(), rng.randint(0, 9))
        yield ("vm.create unknown field %r" % body, create(body), None)
    for _ in range(60):    # a wrong type at a field kiln implements
        cfg = json.loads(text)
        where = rng.choice([("cpus", "boot_vcpus"), ("cpus", "max_vcpus"), ("memory", "size"),
                            ("payload", "kernel")])
        # (null is left out for the numbers: a server may read it as "absent, default")
        cfg[where[0]][where[1]] = rng.choice([[], {}, True, "x" * rng.randint(0, 5), -3, 0.5]
                                             if where[1] != "kernel" else [[], {}, None, 7])
        body = json.dumps(cfg).encode()
        yield ("vm.create %s.%s=%r" % (where[0], where[1], cfg[where[0]][where[1]]),
               create(body), None)
    for _ in range(40):    # random bytes, starting with a byte no JSON text starts with
        body = b"\x01" + rng.randbytes(rng.randint(0, 300))
        yield ("vm.create random %s" % show(body, 40), create(body), None)
    # Bodies where none is taken, and a create without one.
    for name, m in ENDPOINTS.items():
        if name not in ("vm.create",):
            yield ("%s %s with a body" % (m, name),
                   req(m.encode(), b"/api/v1/" + name.encode(), b'{"x":1}'), None)
    yield ("vm.create without a body", req(b"PUT", b"/api/v1/vm.create"), None)


def bad_framing(rng):
    """Malformed request lines and headers (each complete with its blank line)."""
    cases = [
        b"\r\n\r\n", b" \r\n\r\n", b"GET\r\n\r\n", b"GET /api/v1/vmm.ping\r\n\r\n",
        b"GET /api/v1/vmm.ping HTTP/1.1 extra\r\n\r\n",
        b"GET /api/v1/vmm.ping HTTP/2.0\r\n\r\n", b"GET /api/v1/vmm.ping HTTP/1.2\r\n\r\n",
        b"GET /api/v1/vmm.ping HTTP/1\r\n\r\n", b"GET /api/v1/vmm.ping HTTPS/1.1\r\n\r\n",
        b"GET /api/v1/vmm.ping http/1.1\r\n\r\n", b"GET /api/v1/vmm.ping HTTP/1.1x\r\n\r\n",
        b"G\x00T /api/v1/vmm.ping HTTP/1.1\r\n\r\n", b"GET /api/v1/vmm.\x01ing HTTP/1.1\r\n\r\n",
        b"GET api/v1/vmm.ping HTTP/1.1\r\n\r\n", b"GET * HTTP/1.1\r\n\r\n",
        b"\xff\xfe\xfd /api/v1/vmm.ping HTTP/1.1\r\n\r\n",
        b"GET /api/v1/vmm.ping HTTP/1.1\r\nNoColon\r\n\r\n",
        b"GET /api/v1/vmm.ping HTTP/1.1\r\n: empty-name\r\n\r\n",
        b"GET /api/v1/vmm.ping HTTP/1.1\r\nBad Name: x\r\n\r\n",
        b"GET /api/v1/vmm.ping HTTP/1.1\r\nHost : x\r\n\r\n",
        b"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 1x\r\n\r\nx",
        b"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
        b"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: \r\n\r\n",
        b"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
        b"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n",
        b"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        b"PUT /api/v1/vm.create HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
        b"PUT /api/v1/vm.create HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2"
        b"\r\n\r\n{}",
    ]
    for data in cases:
        yield ("framing %s" % show(data, 80), data, None)
    for _ in range(80):   # a control byte put into the request line (method or version)
        line = bytearray(b"GET /api/v1/vmm.ping HTTP/1.1")
        pos = rng.choice(list(range(0, 3)) + list(range(21, len(line))))
        line[pos] = rng.choice(b"\x00\x01\x02\x07\x08\x0b\x0c\x1b\x7f")
        data = bytes(line) + b"\r\nHost: localhost\r\n\r\n"
        yield ("control byte in the request line %r" % data, data, None)
    for _ in range(60):   # header lines without a colon, or with bad bytes in the name
        name = bytes(rng.choice(b"abcdefghij()<>@,;\\\"/[]?={} \x00\x01") for _ in range(8))
        data = PING[:-2] + name + b"\r\n\r\n"
        yield ("header line %r" % name, data, None)


def garbage(rng):
    for _ in range(300):
        data = rng.randbytes(rng.randint(1, 2000))
        if data[:1].isalpha():
            data = b"\x00" + data  # no method token can start with it
        yield ("garbage %s" % show(data, 40), data + b"\r\n\r\n", None)


def oversized():
    pad = b"X-Pad: " + b"a" * 9000
    yield ("9 KB header line", PING[:-2] + pad + b"\r\n\r\n", (413, 431, 400))
    yield ("100 headers of 100 bytes", PING[:-2] + b"".join(
        b"X-H%d: %s\r\n" % (i, b"b" * 90) for i in range(100)) + b"\r\n", (413, 431, 400))
    yield ("10 KB path", b"GET /api/v1/" + b"p" * 10000 + b" HTTP/1.1\r\n\r\n",
           (400, 404, 413, 414, 431))
    yield ("Content-Length 65537, no body sent",
           b"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", (413,))
    yield ("Content-Length 1 GB, no body sent",
           b"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\n", (413,))
    body = b"{" + b" " * (2 << 20) + b"}"
    yield ("2 MiB body sent", create(body), (413,))


# --- the tests ---

def test_malformed_requests(api):
    """Over 1000 invalid requests, each on its own connection."""
    rng = random.Random(SEED)
    groups = [("wrong method", list(wrong_methods())),
              ("unknown path", list(unknown_paths(rng))),
              ("bad vm.create config / body", list(bad_configs(rng))),
              ("bad request line / headers", list(bad_framing(rng))),
              ("binary garbage", list(garbage(rng))),
              ("oversized", list(oversized()))]
    total = 0
    for group, cases in groups:
        for i, (what, data, allowed) in enumerate(cases):
            # Some of each group also go out in 1-byte writes (the parser must resume).
            chunk = 1 if i % 17 == 0 and len(data) < 4096 else None
            # Empty lines before a request line may be skipped (RFC 9112 2.2): the server
            # then waits for the request line, so such cases end with a half-close.
            half = data[:1] in (b"\r", b"\n")
            try:
                r = api.exchange(data, chunk=chunk, half_close=half)
            except Hang as e:
                raise Hang("%s: %s (seed %d): %s" % (group, what, SEED, e)) from None
            check_error(r, "%s: %s (seed %d)" % (group, what, SEED), allowed)
            total += 1
        api.alive("after the '%s' requests" % group)
    # A few complete valid requests in 1-byte writes, between the bad ones.
    for _ in range(5):
        r = api.exchange(PING, chunk=1)
        assert r is not None and r.status == 200, "ping in 1-byte writes: got %r" % (r,)
    print("sent %d invalid requests" % total)
    assert total >= 1000
    api.finish()


def test_truncated_and_disconnects(api):
    """Truncated requests followed by a close or half-close; disconnects mid-request and
    mid-response. The server must drop these and keep serving."""
    rng = random.Random(SEED + 1)
    full = create(json.dumps(VALID_CONFIG).encode())
    for i in range(120):
        cut = rng.randrange(1, len(full))   # a proper prefix: never a complete request
        if i % 2:
            c = api.conn()
            c.send(full[:cut])
            c.close()                       # abrupt close mid-request
            api.requests += 1
        else:
            r = api.exchange(full[:cut], half_close=True)  # EOF mid-request
            check_error(r, "truncated at %d of %d bytes, then half-closed" % (cut, len(full)))
    api.alive("after truncated requests")
    for _ in range(30):                     # connect and close at once
        api.conn().close()
    for n in (1, 10, 200):                  # pipelined requests, close before reading
        c = api.conn()
        c.send(PING * n + req(b"GET", b"/api/v1/vm.info") * n)
        c.close()
    for _ in range(20):                     # read part of a response, then close
        c = api.conn()
        c.send(PING * 50)
        c.sock.recv(10)
        c.close()
    api.alive("after abrupt disconnects")
    api.ping()
    api.finish()


def test_keep_alive_sequence_and_pipelining(api):
    """Well-formed errors keep a kept-alive connection usable; pipelined requests are
    answered in order; Connection: close is honoured."""
    rng = random.Random(SEED + 2)
    seq = []
    for _ in range(200):
        kind = rng.choice(["ping", "405", "404", "404vm"])
        seq.append({"ping": (PING, 200), "405": (req(b"PUT", b"/api/v1/vmm.ping"), 405),
                    "404": (req(b"GET", b"/api/v1/nope"), 404),
                    "404vm": (req(b"GET", b"/api/v1/vm.info"), 404)}[kind])
    c = api.conn()
    for i, (data, want) in enumerate(seq):   # one at a time on one connection
        assert c.send(data), "server closed the kept-alive connection at request %d" % i
        r = c.response()
        assert r is not None, "server closed the kept-alive connection at request %d" % i
        assert r.status == want, "request %d %r: expected %d, got %r" % (
            i, data.split(b"\r\n")[0], want, r)
    api.requests += len(seq)
    c.send(b"".join(d for d, _ in seq[:50]))  # pipelined in one write
    for i, (data, want) in enumerate(seq[:50]):
        r = c.response()
        assert r is not None and r.status == want, "pipelined request %d: expected %d, got %r" \
            % (i, want, r)
    c.send(req(b"GET", b"/api/v1/vmm.ping", headers=[b"Connection: close"]))
    r = c.response()
    assert r is not None and r.status == 200
    assert c.closed_by_server(), "Connection: close not honoured (connection left open)"
    c.close()
    api.finish()


def test_slowloris_does_not_block_others(api):
    """Connections that send one header byte per second must not delay other clients: while
    they dribble, GET vmm.ping on a new connection answers within 1 s."""
    stop = threading.Event()
    errors = []

    def dribble(c):
        data = b"GET /api/v1/vmm.ping HTTP/1.1\r\nX-Slow: " + b"z" * 100
        try:
            for b in data:
                if stop.is_set():
                    return
                c.sock.sendall(bytes([b]))
                stop.wait(1.0)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may give up on it: fine
        except OSError as e:
            errors.append(e)

    slow = [api.conn() for _ in range(8)]
    threads = [threading.Thread(target=dribble, args=(c,), daemon=True) for c in slow]
    for t in threads:
        t.start()
    try:
        end = time.monotonic() + 6
        pings = 0
        while time.monotonic() < end:
            t0 = time.monotonic()
            api.ping(timeout=1.0 * TIME_SCALE)
            took = time.monotonic() - t0
            assert took < 1.0 * TIME_SCALE, "ping took %.2f s beside slow clients" % took
            pings += 1
            time.sleep(0.1)
        assert pings >= 20
    finally:
        stop.set()
        for t in threads:
            t.join(5)
        for c in slow:
            c.close()
    assert not errors, errors
    api.finish()


def test_many_concurrent_connections(api):
    """48 connections open at once, each gets answers (valid and invalid requests); then
    100 at once: each gets 200, 503, or a close, never a hang."""
    conns = [api.conn() for _ in range(48)]
    for c in conns:
        c.send(PING)
    for i, c in enumerate(conns):
        r = c.response()
        assert r is not None and r.status == 200, "connection %d of 48: ping got %r" % (i, r)
    for c in conns:
        c.send(req(b"DELETE", b"/api/v1/vm.info"))
    for i, c in enumerate(conns):
        check_error(c.response(), "connection %d of 48: DELETE vm.info" % i, (405,))
    api.requests += 96
    for c in conns:
        c.close()
    api.alive("after 48 concurrent connections")

    conns = []
    for _ in range(100):
        try:
            conns.append(api.conn())
        except (ConnectionRefusedError, BlockingIOError, socket.timeout):
            pass  # a full backlog is a refusal, not a hang
    ok = 0
    for c in conns:
        if not c.send(PING):
            continue
        r = c.response()
        if r is not None:
            assert r.status in (200, 503), "one of 100 connections: got %r" % r
            ok += r.status == 200
    for c in conns:
        c.close()
    api.requests += len(conns)
    assert ok >= 32, "only %d of %d connections answered 200" % (ok, len(conns))
    api.finish()
