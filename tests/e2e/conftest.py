"""Shared fixtures of kiln's end-to-end tests.

Run:  KILN=/path/to/kiln /usr/bin/python3 -m pytest tests/e2e [-m "not linux"]
  KILN                  the binary under test (default: <repo>/build/kiln)
  KILN_GUEST_CACHE      artifact cache for scripts/guest-artifacts (default: <repo>/.cache/guest)
  KILN_E2E_TIME_SCALE   multiplies every timeout (default 1; raise it on a slow machine)
"""
import codecs
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KILN = Path(os.environ.get("KILN", REPO / "build" / "kiln")).absolute()
TIME_SCALE = float(os.environ.get("KILN_E2E_TIME_SCALE", "1"))
TAIL_CHARS = 4000


def on_kvm_pvm():
    """True on hosts whose KVM emulates guest kernel mode (see /work/shared/HOST.md)."""
    return os.path.exists("/sys/module/kvm_pvm")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Appends the tail of every kiln run of a failed test to its report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call"):
        for run in getattr(item, "kiln_runs", []):
            rep.sections.append(("kiln run '%s' (log: %s)" % (run.name, run.log_path), run.tail()))


class Kiln:
    """One kiln process: stdin/stdout/stderr pipes, output collected by reader threads and
    copied to a log file. Every wait has a timeout; kill() is always safe to call."""

    def __init__(self, args, log_path, name="kiln"):
        self.name = name
        self.args = [str(KILN)] + [str(a) for a in args]
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "w", encoding="utf-8", errors="replace")
        self._log.write("$ %s\n" % " ".join(self.args))
        self._log.flush()
        self._cond = threading.Condition()
        self._buf = {"stdout": "", "stderr": ""}
        self._pos = {"stdout": 0, "stderr": 0}
        self._eof = {"stdout": False, "stderr": False}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._threads = [threading.Thread(target=self._reader, args=(s, getattr(self.proc, s)),
                                          daemon=True) for s in ("stdout", "stderr")]
        for t in self._threads:
            t.start()

    def _reader(self, stream, pipe):
        fd = pipe.fileno()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            text = decoder.decode(data, final=not data)
            with self._cond:
                if not data:
                    self._eof[stream] = True
                    self._cond.notify_all()
                    return
                self._buf[stream] += text
                if not self._log.closed:
                    self._log.write(text if stream == "stdout" else
                                    "".join("[stderr] " + line + "\n"
                                            for line in text.rstrip("\n").split("\n")))
                    self._log.flush()
                self._cond.notify_all()

    @property
    def stdout(self):
        with self._cond:
            return self._buf["stdout"]

    @property
    def stderr(self):
        with self._cond:
            return self._buf["stderr"]

    def elapsed(self):
        return time.monotonic() - self.started

    def tail(self, n=TAIL_CHARS):
        return ("--- stdout (last %d chars) ---\n%s\n--- stderr (last %d chars) ---\n%s\n"
                "--- returncode: %s, %.1f s ---" % (n, self.stdout[-n:], n, self.stderr[-n:],
                                                    self.proc.poll(), self.elapsed()))

    def expect(self, regex, timeout, stream="stdout"):
        """Waits for regex in stream after the end of the previous match there; returns the
        match. Fails (with the output tail) on timeout or when the stream ends first."""
        pat = re.compile(regex, re.MULTILINE)
        deadline = time.monotonic() + timeout * TIME_SCALE
        with self._cond:
            while True:
                m = pat.search(self._buf[stream], self._pos[stream])
                if m:
                    self._pos[stream] = m.end()
                    return m
                left = deadline - time.monotonic()
                if self._eof[stream] or left <= 0:
                    why = "stream ended" if self._eof[stream] else "timed out after %gs" % timeout
                    break
                self._cond.wait(min(left, 1.0))
        raise AssertionError("%s: expected /%s/ on %s: %s (tail in the report section below)"
                             % (self.name, regex, stream, why))

    def send(self, text):
        """Writes text to kiln's stdin (the guest's COM1)."""
        data = text.encode() if isinstance(text, str) else text
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except OSError as e:  # BrokenPipeError: kiln has exited
            raise AssertionError("%s: cannot send %r: %s" % (self.name, data, e)) from None

    def wait(self, timeout):
        """Waits for kiln to exit and returns its status; kills it and fails on timeout."""
        try:
            rc = self.proc.wait(timeout * TIME_SCALE)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%s: still running after %gs; killed" % (self.name, timeout))
        for t in self._threads:
            t.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        for t in self._threads:
            t.join(5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        with self._cond:
            if not self._log.closed:
                self._log.write("\n--- returncode %s after %.1f s ---\n"
                                % (self.proc.returncode, self.elapsed()))
                self._log.close()


@pytest.fixture(scope="session")
def kiln_bin():
    if not (KILN.is_file() and os.access(KILN, os.X_OK)):
        pytest.fail("kiln binary %s not found or not executable (build it, or set KILN=)" % KILN)
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        pytest.skip("/dev/kvm is not usable here")
    return KILN


@pytest.fixture(scope="session")
def guests(tmp_path_factory):
    """Builds the tiny test guests once; returns {name: path of name.elf}."""
    out = tmp_path_factory.mktemp("guests")
    r = subprocess.run([str(REPO / "tests" / "guests" / "build.sh"), str(out)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail("tests/guests/build.sh failed:\n" + r.stdout + r.stderr)
    return {p.stem: p for p in out.glob("*.elf")}


@pytest.fixture(scope="session")
def artifacts():
    """Runs scripts/guest-artifacts; returns {vmlinuz, vmlinux, initramfs.cpio, kernel-version}
    paths. Skips the test when the kernel package cannot be fetched."""
    cmd = [str(REPO / "scripts" / "guest-artifacts")]
    if os.environ.get("KILN_GUEST_CACHE"):
        cmd += ["--cache", os.environ["KILN_GUEST_CACHE"]]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        pytest.skip("scripts/guest-artifacts took over 15 minutes")
    if r.returncode != 0:
        pytest.skip("guest artifacts unavailable (scripts/guest-artifacts failed): "
                    + (r.stderr.strip().splitlines() or ["?"])[-1])
    paths = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    return {k: Path(v) for k, v in paths.items()}


@pytest.fixture
def run_kiln(request, kiln_bin, tmp_path):
    """Factory: run_kiln(*args, name=...) starts kiln and returns a Kiln. Every process is
    killed at teardown; failed tests get the tail of each run's output in their report."""
    runs = []
    request.node.kiln_runs = runs

    def start(*args, name=None):
        name = name or "run%d" % len(runs)
        k = Kiln(args, tmp_path / ("kiln-%s.log" % name), name)
        runs.append(k)
        return k

    yield start
    for k in runs:
        k.kill()


class ApiClient:
    """Minimal HTTP/1.1 client for kiln's REST API on a Unix socket (a new connection per
    request, as ch-remote does). Returns (status, body text)."""

    def __init__(self, path):
        self.path = str(path)

    def request(self, method, endpoint, body=None, timeout=30):
        import http.client
        import socket

        class Conn(http.client.HTTPConnection):
            def connect(conn):
                conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.sock.settimeout(timeout)
                conn.sock.connect(self.path)

        c = Conn("localhost", timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            c.request(method, "/api/v1/" + endpoint, body=body, headers=headers)
            r = c.getresponse()
            return r.status, r.read().decode(errors="replace")
        finally:
            c.close()

    def get(self, endpoint):
        return self.request("GET", endpoint)

    def put(self, endpoint, body=None):
        return self.request("PUT", endpoint, body)

    def wait_ready(self, timeout=10):
        """Polls vmm.ping until kiln answers (it starts listening before anything else)."""
        deadline = time.monotonic() + timeout * TIME_SCALE
        while True:
            try:
                return self.get("vmm.ping")
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
