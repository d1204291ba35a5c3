"""Cloud Hypervisor's REST API on tiny guests: lifecycle through every endpoint kiln
implements (with curl --unix-socket, Python and kiln-remote as clients), the state machine's
status codes, pause really stopping the guest, the event monitor, and bad set-up input."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import KILN, TIME_SCALE, ApiClient

REMOTE = KILN.parent / "kiln-remote"
TICK = r"tick ([0-9a-f]{8})"


def ticks(k):
    return [int(m, 16) for m in re.findall(TICK, k.stdout)]


def wait_ticks(k, n, timeout=15):
    """Waits until N more tick lines arrived; returns the new total."""
    start = len(ticks(k))
    deadline = time.monotonic() + timeout * TIME_SCALE
    while len(ticks(k)) < start + n:
        assert time.monotonic() < deadline, "no ticks: %r" % k.tail(300)
        time.sleep(0.05)
    return len(ticks(k))


def config(kernel, **extra):
    cfg = {"payload": {"kernel": str(kernel)}, "cpus": {"boot_vcpus": 2, "max_vcpus": 2},
           "memory": {"size": 64 << 20}, "serial": {"mode": "Tty"}}
    cfg.update(extra)
    return json.dumps(cfg)


@pytest.fixture
def api_kiln(run_kiln, tmp_path):
    """kiln with only --api-socket and --event-monitor: no VM until vm.create."""
    sock, events = tmp_path / "api.sock", tmp_path / "events.jsonl"
    k = run_kiln("--api-socket", "path=%s" % sock, "--event-monitor", "path=%s" % events,
                 name="api")
    api = ApiClient(sock)
    status, body = api.wait_ready()
    assert status == 200, body
    return k, api, sock, events


def test_lifecycle_and_state_machine(api_kiln, guests):
    k, api, sock, events = api_kiln
    status, body = api.get("vmm.ping")
    ping = json.loads(body)
    assert ping["pid"] == k.proc.pid and ping["version"]
    # Nothing created yet: 404 for actions on the VM.
    for ep in ("vm.boot", "vm.pause", "vm.resume", "vm.shutdown", "vm.reboot", "vm.power-button"):
        status, body = api.put(ep)
        assert status == 404 and "not created" in body, (ep, status, body)
    assert api.get("vm.info")[0] == 404

    assert api.put("vm.create", config(guests["ticker"])) == (204, "")
    status, body = api.put("vm.create", config(guests["ticker"]))
    assert status == 405 and "already created" in body
    info = json.loads(api.get("vm.info")[1])
    assert info["state"] == "Created"
    assert info["config"]["cpus"]["boot_vcpus"] == 2
    assert info["config"]["memory"]["size"] == 64 << 20
    assert info["memory_actual_size"] == 64 << 20
    for ep in ("vm.pause", "vm.resume", "vm.shutdown", "vm.reboot"):
        assert api.put(ep)[0] == 405, ep

    assert api.put("vm.boot") == (204, "")
    assert api.put("vm.boot")[0] == 405
    assert json.loads(api.get("vm.info")[1])["state"] == "Running"
    wait_ticks(k, 2)

    # Pause: the ticker (one line per RTC second) goes quiet; resume: it carries on.
    assert api.put("vm.pause") == (204, "")
    status, body = api.put("vm.pause")
    assert status == 405 and "already paused" in body
    assert api.put("vm.reboot")[0] == 405
    assert json.loads(api.get("vm.info")[1])["state"] == "Paused"
    before = ticks(k)
    time.sleep(2.5)
    assert ticks(k) == before, "the guest ran while paused"
    assert api.put("vm.resume") == (204, "")
    assert api.put("vm.resume")[0] == 405
    wait_ticks(k, 1)
    assert ticks(k)[len(before)] == before[-1] + 1  # the same run, continued

    # Reboot: a new VM from the same payload, so the tick count starts again at 0.
    n = len(ticks(k))
    assert api.put("vm.reboot") == (204, "")
    wait_ticks(k, 1)
    assert ticks(k)[n] == 0
    # The power button reaches the (tiny) guest as a GED interrupt; it does not react.
    assert api.put("vm.power-button") == (204, "")

    # Shutdown stops the guest; boot starts it again; delete forgets it.
    assert api.put("vm.shutdown") == (204, "")
    assert json.loads(api.get("vm.info")[1])["state"] == "Shutdown"
    assert api.put("vm.shutdown")[0] == 405
    before = ticks(k)
    time.sleep(1.5)
    assert ticks(k) == before
    assert api.put("vm.boot") == (204, "")
    wait_ticks(k, 1)
    assert json.loads(api.get("vm.counters")[1]) == {}
    assert api.put("vm.delete") == (204, "")
    assert api.get("vm.info")[0] == 404
    assert api.put("vmm.shutdown") == (204, "")
    assert k.wait(10) == 0
    assert not sock.exists(), "the socket file is left behind"

    got = [json.loads(line) for line in events.read_text().splitlines()]
    names = [(e["source"], e["event"]) for e in got]
    expected = [("vmm", "starting"), ("vm", "created"), ("vm", "booting"), ("vm", "booted"),
                ("vm", "pausing"), ("vm", "paused"), ("vm", "resuming"), ("vm", "resumed"),
                ("vm", "rebooting"), ("vm", "rebooted"), ("vm", "shutdown"),
                ("vm", "booting"), ("vm", "booted"), ("vm", "deleted"), ("vmm", "shutdown")]
    assert names == expected
    stamps = [e["timestamp"]["secs"] * 10**9 + e["timestamp"]["nanos"] for e in got]
    assert stamps == sorted(stamps)


def test_guest_poweroff_keeps_api(api_kiln, guests):
    """With an API, a guest that powers off leaves the VM Shutdown and kiln serving."""
    k, api, _, _ = api_kiln
    assert api.put("vm.create", config(guests["hello"]))[0] == 204
    assert api.put("vm.boot")[0] == 204
    k.expect(r"hello from a tiny kiln guest", 15)
    deadline = time.monotonic() + 15 * TIME_SCALE
    while json.loads(api.get("vm.info")[1])["state"] != "Shutdown":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert api.put("vm.boot")[0] == 204          # boots again from the same config
    assert api.put("vmm.shutdown")[0] == 204
    assert k.wait(10) == 0


def test_create_errors(api_kiln, tmp_path):
    k, api, _, _ = api_kiln
    status, body = api.put("vm.create", '{"payload":{"kernel":"/k"},"disks":[{"path":"/d",'
                           '"vhost_user":true}]}')
    assert status == 400 and "disks[0].vhost_user" in body
    status, body = api.put("vm.create", '{"payload": ')
    assert status == 400 and "invalid JSON" in body
    # A kernel that does not exist: accepted by vm.create (as Cloud Hypervisor), refused
    # by vm.boot with the reason; the VM stays Created.
    missing = tmp_path / "no-such-kernel"
    assert api.put("vm.create", config(missing))[0] == 204
    status, body = api.put("vm.boot")
    assert status == 500 and "cannot boot" in body
    assert "no-such-kernel" in k.stderr
    assert json.loads(api.get("vm.info")[1])["state"] == "Created"
    assert api.put("vmm.shutdown")[0] == 204
    assert k.wait(10) == 0


@pytest.mark.skipif(not shutil.which("curl"), reason="curl not installed")
def test_curl_and_kiln_remote(api_kiln, guests, tmp_path):
    """The clients users have: curl --unix-socket and kiln-remote (ch-remote's commands)."""
    k, api, sock, _ = api_kiln

    def curl(method, ep, data=None):
        cmd = ["curl", "-sS", "--unix-socket", str(sock), "-X", method, "-w", "\n%{http_code}",
               "http://localhost/api/v1/" + ep]
        if data is not None:
            cmd += ["-H", "Content-Type: application/json", "-d", data]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
        body, _, code = out.rpartition("\n")
        return int(code), body

    def remote(*args):
        return subprocess.run([str(REMOTE), "--api-socket", str(sock)] + list(args),
                              capture_output=True, text=True, timeout=30)

    assert curl("GET", "vmm.ping")[0] == 200
    assert curl("PUT", "vm.create", config(guests["ticker"]))[0] == 204
    assert curl("PUT", "vm.boot")[0] == 204
    wait_ticks(k, 1)
    if not REMOTE.exists():
        pytest.skip("kiln-remote not built next to kiln")
    r = remote("info")
    assert r.returncode == 0 and json.loads(r.stdout)["state"] == "Running"
    assert remote("pause").returncode == 0
    r = remote("pause")
    assert r.returncode != 0 and "405" in r.stderr
    assert json.loads(remote("info").stdout)["state"] == "Paused"
    assert remote("resume").returncode == 0
    assert json.loads(remote("ping").stdout)["pid"] == k.proc.pid
    assert remote("shutdown").returncode == 0
    assert remote("delete").returncode == 0
    cfg = tmp_path / "vm.json"
    cfg.write_text(config(guests["ticker"]))
    assert remote("create", str(cfg)).returncode == 0
    assert remote("boot").returncode == 0
    wait_ticks(k, 1)
    assert remote("shutdown-vmm").returncode == 0
    assert k.wait(10) == 0


def test_api_socket_bad_input(run_kiln, tmp_path, guests):
    f = tmp_path / "regular-file"
    f.write_text("x")
    k = run_kiln("--api-socket", "path=%s" % f)
    assert k.wait(10) == 1
    assert "not a socket" in k.stderr and f.read_text() == "x"
    k = run_kiln("--api-socket", "path=%s" % (tmp_path / "no-dir" / "s"))
    assert k.wait(10) == 1
    assert "cannot listen" in k.stderr
    k = run_kiln("--api-socket", "path=/tmp/" + "x" * 120)
    assert k.wait(10) == 1
    assert "longer than" in k.stderr
    k = run_kiln("--api-socket", "fd=99")
    assert k.wait(10) == 1
    assert "fd=99" in k.stderr
    k = run_kiln("--api-socket", str(tmp_path / "s"), "--event-monitor",
                 "path=%s" % (tmp_path / "no-dir" / "ev"))
    assert k.wait(10) == 1
    assert "--event-monitor" in k.stderr
