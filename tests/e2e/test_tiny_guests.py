"""Tiny PVH guests (tests/guests/*.S): serial I/O, power off, reset, faults, and the
instructions this host's KVM cannot emulate in guest kernel mode."""
import re

import pytest

from conftest import on_kvm_pvm

# A kiln log line; debug and trace lines carry a "[seconds] " time stamp first.
LOG_LINE = r"(?im)^(?:\[[0-9.]+\] )?kiln: "
T = 30  # seconds: a tiny guest runs a few thousand instructions; kiln starts in well under 1 s

pvm_only = pytest.mark.skipif(not on_kvm_pvm(), reason="needs a kvm_pvm host "
                              "(/sys/module/kvm_pvm): elsewhere the instruction runs natively")


def assert_insn_report(k, insn_hex):
    """kiln's report of an instruction KVM could not emulate: RIP, CPL and the bytes."""
    err = k.stderr
    assert re.search(r"(?m)^kiln: ", err), "no 'kiln: ' line on stderr"
    assert "RIP" in err and "CPL" in err, "report lacks RIP/CPL"
    pat = r"(?i)(?<![0-9a-f])%s(?![0-9a-f])" % re.escape(insn_hex)
    assert re.search(pat, err), "report lacks instruction bytes '%s'" % insn_hex


def boot(run_kiln, guest, *extra, name=None):
    return run_kiln("--kernel", guest, "--memory", "size=64M", *extra, name=name)


def test_hello_powers_off(run_kiln, guests):
    k = boot(run_kiln, guests["hello"])
    k.expect(r"hello from a tiny kiln guest\n", T)
    assert k.wait(T) == 0


def test_hello_two_vcpus(run_kiln, guests):
    """The BSP powers off while the AP still waits for INIT/SIPI: kiln must end cleanly."""
    k = boot(run_kiln, guests["hello"], "--cpus", "boot=2")
    k.expect(r"hello from a tiny kiln guest\n", T)
    assert k.wait(T) == 0


def test_serial_to_file(run_kiln, guests, tmp_path):
    out = tmp_path / "serial.txt"
    k = boot(run_kiln, guests["hello"], "--serial", "file=%s" % out)
    assert k.wait(T) == 0
    assert "hello from a tiny kiln guest" in out.read_text(errors="replace")
    assert "hello" not in k.stdout


@pytest.mark.parametrize("mode", ["null", "off"])
def test_serial_silenced(run_kiln, guests, mode):
    """No guest output on stdout; the debug-port codes (-vv) show that the guest did run."""
    k = boot(run_kiln, guests["debug_port"], "--serial", mode, "-vv")
    assert k.wait(T) == 0
    assert k.stdout == ""
    assert re.search(LOG_LINE + r".*(?<![0-9a-z])(?:0x)?a5(?![0-9a-z])", k.stderr), \
        "guest did not run to its last debug-port write"


def test_serial_input_round_trip(run_kiln, guests):
    k = boot(run_kiln, guests["echo"])
    k.expect(r"echo-ready\n", T)
    k.send("ping kiln 0123456789\n")
    k.expect(r"ping kiln 0123456789\n", T)
    assert k.wait(T) == 0


@pytest.mark.parametrize("how", ["r", "k"], ids=["acpi-reset-0x3c0", "i8042-reset-0x64"])
def test_reset_reboots_same_guest(run_kiln, guests, how):
    k = boot(run_kiln, guests["reset"])
    k.expect(r"^boot\n", T)
    k.send(how)
    k.expect(r"^boot\n", T)  # the same kernel booted again
    k.send("p")
    assert k.wait(T) == 0
    assert k.stdout.count("boot") == 2


def test_triple_fault_fails_vm(run_kiln, guests):
    k = boot(run_kiln, guests["triple_fault"])
    k.expect(r"triple-fault-next\n", T)
    assert k.wait(T) == 1
    assert "survived" not in k.stdout
    assert re.search(r"(?m)^kiln: ", k.stderr), "no 'kiln: ' report"


def test_bad_insn_reported(run_kiln, guests):
    """xsavec in guest kernel mode: this host's KVM cannot emulate it and kiln does not
    complete it. On hosts with hardware virtualization it raises #UD (CR4.OSXSAVE is off) and
    the guest's exception handler triple-faults: exit 1 either way."""
    k = boot(run_kiln, guests["bad_insn"])
    k.expect(r"bad-insn-next\n", T)
    assert k.wait(T) == 1
    assert "survived" not in k.stdout
    if on_kvm_pvm():
        assert_insn_report(k, "0f c7 23")


def test_int3_completed(run_kiln, guests):
    k = boot(run_kiln, guests["int3"])
    k.expect(r"after-int3\n", T)
    assert k.wait(T) == 0
    assert k.stdout.count("bp\n") == 1, "#BP delivered with a wrong return address?"
    assert "guest-exception" not in k.stdout


def test_fwait_completed(run_kiln, guests):
    k = boot(run_kiln, guests["fwait"])
    k.expect(r"after-fwait\n", T)
    assert k.wait(T) == 0


def test_ldmxcsr_completed(run_kiln, guests):
    k = boot(run_kiln, guests["ldmxcsr"])
    m = k.expect(r"^mxcsr=([0-9a-f]{8})\n|guest-exception vector=\w+", T)
    assert m.group(1) == "00007f80", "ldmxcsr did not load MXCSR (fxsave): %s" % m.group(0)
    m = k.expect(r"^stmxcsr=([0-9a-f]{8})\n|guest-exception vector=\w+", T)
    assert m.group(1) == "00007f80", "stmxcsr did not store MXCSR: %s" % m.group(0)
    assert k.wait(T) == 0


def test_xsave_xrstor_completed(run_kiln, guests):
    """xsave stores XMM1 and XSTATE_BV; xrstor loads a changed XMM1 back (kiln completes both
    on kvm_pvm hosts, where guest kernels need them to keep user AVX state)."""
    k = boot(run_kiln, guests["xsave"])
    m = k.expect(r"^xsave-xmm1=([0-9a-f]{8})\n|guest-exception vector=\w+", T)
    assert m.group(1) == "12345678", "xsave did not store XMM1: %s" % m.group(0)
    m = k.expect(r"^xsave-bv=([0-9a-f]{8})\n|guest-exception vector=\w+", T)
    assert m.group(1) and int(m.group(1), 16) & 2, "XSTATE_BV lacks SSE: %s" % m.group(0)
    m = k.expect(r"^xrstor-xmm1=([0-9a-f]{8})\n|guest-exception vector=\w+", T)
    assert m.group(1) == "600dcafe", "xrstor did not load XMM1: %s" % m.group(0)
    assert k.wait(T) == 0


@pvm_only
@pytest.mark.parametrize("guest,insn", [("int3", "cc"), ("fwait", "9b"), ("ldmxcsr", "0f ae 15"),
                                        ("xsave", "0f ae 25")])
def test_quirks_off_reports_insn(run_kiln, guests, guest, insn):
    k = boot(run_kiln, guests[guest], "--host-quirks", "off")
    assert k.wait(T) == 1
    assert_insn_report(k, insn)
    assert "after-" not in k.stdout and "mxcsr=" not in k.stdout and "xsave-" not in k.stdout


def test_debug_port_logged_with_vv(run_kiln, guests):
    k = boot(run_kiln, guests["debug_port"], "-vv")
    k.expect(r"debug-port-done\n", T)
    assert k.wait(T) == 0
    codes = [m.group(1).lower() for m in re.finditer(
        LOG_LINE + r".*(?<![0-9a-z])(?:0x)?(5a|a5)(?![0-9a-z])", k.stderr)]
    assert codes[:2] == ["5a", "a5"], "debug-port codes 0x5a, 0xa5 not logged"


def test_debug_port_quiet_by_default(run_kiln, guests):
    k = boot(run_kiln, guests["debug_port"])
    k.expect(r"debug-port-done\n", T)
    assert k.wait(T) == 0
    assert not re.search(LOG_LINE + r".*(?<![0-9a-z])(0x)?5a(?![0-9a-z])", k.stderr)
