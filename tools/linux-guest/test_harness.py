#!/usr/bin/env python3
"""Quick tests of the Linux-guest harness (make test-linux-harness).

Writes one TAP line per test to --tap (and stdout). Host-side: extractor,
initramfs packer, result parsing, QEMU command line. Guest-side: the probe
kernel proves TSC = instructions under icount, and one Linux boot under
TCG + icount must print the ready line and a plausible getpid figure.
Every test is bounded (one boot, timeouts on every QEMU run).
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

import run as lg
import extract_vmlinux as ex
import mkinitramfs as mk
from bench import qemu, results

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(lg.REPO, "build", "linux-guest")
PROBE = os.path.join(BUILD, "probe.elf")
TESTS = []


def test(fn):
    """Register a test; it returns None (pass) or raises AssertionError."""
    TESTS.append(fn)
    return fn


@test
def extract_vmlinux_is_elf_with_pvh_note():
    out = subprocess.run(["readelf", "-hnW", lg.DEFAULT_KERNEL], capture_output=True,
                         text=True, check=True).stdout
    assert "ELF64" in out and "X86-64" in out, "not an x86-64 ELF64"
    pvh = [l for l in out.splitlines() if "Xen" in l and "(0x00000012)" in l]
    assert pvh, "no Xen note of type 18 (XEN_ELFNOTE_PHYS32_ENTRY)"


def fake_elf():
    """64 bytes that pass is_x86_64_elf."""
    return b"\x7fELF\x02\x01\x01" + b"\0" * 11 + b"\x3e\x00" + b"\0" * 44


def xz(data):
    return subprocess.run(["xz", "-c", "--format=xz"], input=data,
                          capture_output=True, check=True).stdout


@test
def extract_vmlinux_finds_xz_by_header_and_by_scan():
    payload = xz(fake_elf())
    img = bytearray(0x1000)
    img[0x1F1] = 1                      # setup_sects: pm code at 0x400
    img[0x202:0x206] = b"HdrS"
    img[0x206:0x208] = (0x20F).to_bytes(2, "little")
    img[0x248:0x24C] = (0x100).to_bytes(4, "little")
    img[0x24C:0x250] = len(payload).to_bytes(4, "little")
    img[0x500:0x500 + len(payload)] = payload
    assert ex.header_payload(bytes(img)) == (0x500, len(payload))
    assert ex.extract(bytes(img + b"\0\0\0\0")) == fake_elf()
    scan_only = b"junk" * 100 + payload + b"\x00\x10\x00\x00"
    assert ex.header_payload(scan_only) is None
    assert ex.extract(scan_only) == fake_elf()


@test
def extract_vmlinux_rejects_garbage_without_crashing():
    rng = random.Random(1234)
    samples = [b"", b"HdrS", bytes(0x250), ex.XZ_MAGIC + b"garbage",
               xz(b"not an elf at all")]
    samples += [bytes(rng.getrandbits(8) for _ in range(rng.randrange(600)))
                for _ in range(40)]
    for s in samples:
        ex.header_payload(s)
        try:
            ex.extract(s)
        except ex.ExtractError:
            continue
        raise AssertionError(f"garbage accepted: {s[:16]!r}")


@test
def mkinitramfs_archive_is_newc_and_deterministic():
    a = mk.build_archive(b"\x7fELF-init", [("/etc/x", b"hello", 0o644)], ["/tmp"])
    assert a == mk.build_archive(b"\x7fELF-init", [("/etc/x", b"hello", 0o644)], ["/tmp"])
    assert len(a) % 512 == 0 and a.startswith(b"070701")
    listing = subprocess.run(["cpio", "-itv", "--quiet"], input=a, capture_output=True,
                             check=True).stdout.decode()
    names = {l.split()[-1]: l for l in listing.splitlines()}
    for n in ("init", "dev/console", "etc/x", "etc", "tmp", "proc", "sys"):
        assert n in names, f"{n} missing from {sorted(names)}"
    assert names["dev/console"].startswith("c"), "dev/console not a char device"
    assert names["init"].startswith("-rwxr-xr-x"), "init not executable"
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["cpio", "-id", "--quiet", "-D", d, "etc/x"], input=a, check=True)
        with open(os.path.join(d, "etc", "x"), "rb") as f:
            assert f.read() == b"hello"


@test
def results_parse_bench_lines():
    p = results.parse_bench_line("BENCH syscall.linux.getpid_instructions 306.1 "
                                 "instructions iters=200000 note=x")
    assert p == {"name": "syscall.linux.getpid_instructions", "value": 306.1,
                 "unit": "instructions", "extra": {"iters": 200000, "note": "x"}}
    for bad in ["BENCH a b c", "BENCH x nan ns", "BENCH x 1", "xBENCH a 1 ns",
                "BENCH a 1 ns junk", "", "BENCH a inf ns", None, 17]:
        assert results.parse_bench_line(bad) is None, f"accepted {bad!r}"
    rng = random.Random(99)
    alphabet = "BENCH .=_-0123456789abcxyz\t\x00\xff"
    for _ in range(2000):
        line = "".join(rng.choice(alphabet) for _ in range(rng.randrange(40)))
        results.parse_bench_line(line)


@test
def results_make_result_enforces_naming():
    r = results.make_result("ipc.hallows.call_instructions", 587, "instructions",
                            "tcg-icount", {"k": 1})
    assert r["config"] == {"k": 1} and r["mode"] == "tcg-icount"
    bad = [("ipc.freebsd.call_instructions", 1, "instructions", "tcg"),
           ("ipc.linux.call_instructions", 1, "ns", "tcg"),
           ("ipc.linux.call_ns", 1, "ns", "kvm"),
           ("ipc.linux.call_ns", float("nan"), "ns", "tcg"),
           ("ipc.linux.call_ns", True, "ns", "tcg"),
           ("IPC.linux.call_ns", 1, "ns", "tcg")]
    for args in bad:
        try:
            results.make_result(*args)
        except results.ResultError:
            continue
        raise AssertionError(f"accepted {args}")


@test
def fuzz_parsers_briefly():
    p = subprocess.run([sys.executable, os.path.join(HERE, "fuzz_parsers.py"),
                        "--seconds", "2", "--seed", "1"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr


@test
def qemu_argv_has_standard_flags():
    cfg = lg.guest_config(init_args=["getpid"], smp=2, icount=True)
    a = cfg.argv()
    s = " ".join(a)
    assert a[:3] == ["qemu-system-x86_64", "-accel", "tcg"]
    assert "-icount shift=0,sleep=off" in s and "-smp 2" in s and "-m 512M" in s
    assert "-no-reboot" in s and "-serial stdio" in s and "kvm" not in s
    assert a[a.index("-append") + 1].endswith("-- getpid")
    assert "-icount" not in lg.guest_config(icount=False).argv()


@test
def init_host_sanitized_run_and_bad_arguments():
    """The /init built with ASan+UBSan for the host: every benchmark runs
    clean with small counts, and bad arguments give BENCH-ERROR, not a
    number and not a crash."""
    args = ["loop=1000", "getpid=1000", "futex=200", "yield=200",
            "yield_alone=200", "pipe=200", "signal=20", "ring=300", "bogus", "getpid=0", "getpid=x",
            "pipe=99999999999"]
    p = subprocess.run([os.path.join(BUILD, "init-host-san")] + args,
                       capture_output=True, text=True, timeout=60)
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    lines = p.stdout.splitlines()
    names = [b["name"] for b in results.parse_bench_lines(lines)]
    assert names == ["syscall.linux.getpid_instructions",
                     "ipc.linux.futex_roundtrip_instructions",
                     "sched.linux.yield_switch_instructions",
                     "sched.linux.yield_noswitch_instructions",
                     "ipc.linux.pipe_roundtrip_instructions",
                     "upcall.linux.signal_delivery_instructions",
                     "upcall.linux.sigreturn_instructions",
                     "ring.linux.pipe_msg_unbatched_same_cpu_instructions",
                     "ring.linux.pipe_msg_batched_same_cpu_instructions",
                     "ring.linux.eventfd_msg_unbatched_same_cpu_instructions",
                     "ring.linux.eventfd_msg_batched_same_cpu_instructions"], names
    assert len(results.bench_errors(lines)) == 4, lines
    assert lines[0].startswith("LINUX-GUEST-READY tsc=")
    assert lines[-1].startswith("LINUX-GUEST-DONE failed=4 "), lines[-1]
    assert p.returncode == 1


@test
def crc_host_sanitized_and_timed_by_its_lines():
    """The crc benchmark (lg_crc.c over user/apps/crcbench and user/storage/crc32c.c) under
    ASan+UBSan on the host: it checks its CRC paths against each other, prints a CRCBENCH line
    per round of every kind, and bench_linux.py's crc_rates turns the lines, timed as they
    arrive, into MB/s and ticks per KiB."""
    sys.path.insert(0, os.path.join(lg.REPO, "tests", "system", "serve"))
    import bench_linux
    import time
    p = subprocess.Popen([os.path.join(BUILD, "init-host-san"), "crc"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    lines = [(time.monotonic(), l.rstrip("\n")) for l in p.stdout]
    err = p.stderr.read()
    assert p.wait(timeout=120) == 0, err
    assert "Sanitizer" not in err and "runtime error" not in err, err
    text = [l for _, l in lines]
    assert "CRCBENCH-DONE" in text and not any("ERROR" in l for l in text), text[-3:]
    rates = bench_linux.crc_rates(lines)
    assert sorted(rates) == sorted(k for k, _, _ in bench_linux.CRC_KINDS), rates
    assert all(r[0] > 0 and r[1] > 0 and r[2] > 0 for r in rates.values()), rates
    # the rate is over the rounds after the first, from the host's times
    fake = [(10.0 + i, "CRCBENCH kind=hw mib=%d tsc=%d crc=0badcafe" % (4 * i, 1000 * i))
            for i in range(5)]
    mbs, per_kib, mib, secs = bench_linux.crc_rates(fake)["hw"]
    assert (mib, secs) == (12, 3.0) and abs(mbs - 12 * 1048576 / 3e6) < 1e-9, (mbs, mib, secs)
    assert abs(per_kib - 3000 / (12 * 1024.0)) < 1e-9, per_kib
    # too few rounds; a round repeated (mib not rising); the rounds not advancing in time
    for bad in (fake[:3], fake[:3] + [fake[2]] + fake[3:], [(10.0, l) for _, l in fake]):
        try:
            bench_linux.crc_rates(bad)
        except RuntimeError:
            continue
        assert False, "crc_rates accepted %r" % bad


@test
def guest_code_builds_with_clang():
    flags = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fsyntax-only"]
    init = [os.path.join(HERE, "init", f) for f in ("lg_init.c", "lg_micro.c", "lg_pipe.c",
                                                        "lg_signal.c", "lg_ring.c", "lg_tail.c")]
    subprocess.run(["clang", "-D_GNU_SOURCE"] + flags + init, check=True,
                   capture_output=True)
    subprocess.run(["clang", "-m32", "-ffreestanding", "-fno-pic", "-mgeneral-regs-only"]
                   + flags + [os.path.join(HERE, "probe", "probe.c")], check=True,
                   capture_output=True)


CUSTOM_INIT = """#!/bin/busybox sh
echo CUSTOM-READY
echo "BENCH test.linux.custom_count 42 count k=v"
/bin/busybox poweroff -f
"""


@test
def run_py_boots_a_custom_init_and_flags_a_missing_ready_line():
    """Another fragment's init (here a busybox script) through run.py's CLI."""
    with tempfile.TemporaryDirectory() as d:
        init = os.path.join(d, "init")
        with open(init, "w") as f:
            f.write(CUSTOM_INIT)
        os.chmod(init, 0o755)
        rd = os.path.join(d, "initrd.cpio")
        assert mk.main(["--init", init, "--out", rd,
                        "--file", "/bin/busybox=/bin/busybox"]) == 0
        base = [sys.executable, os.path.join(HERE, "run.py"), "--no-icount",
                "--dry-run", "--timeout", "40", "--initrd", rd]
        ok = subprocess.run(base + ["--ready-re", "^CUSTOM-READY", "x"],
                            capture_output=True, text=True, timeout=60)
        assert ok.returncode == 0, ok.stderr
        assert "test.linux.custom_count 42 count (tcg)" in ok.stdout, ok.stdout
        bad = subprocess.run(base + ["--ready-re", "^NEVER-PRINTED"],
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode == 1 and "no ready line" in bad.stderr, bad.stderr


def probe_loops(run):
    """[(per_iter, iters, delta)] from the probe's loop lines."""
    out = []
    for line in run.text():
        if line.startswith("PROBE loop "):
            kv = dict(x.split("=", 1) for x in line.split()[2:])
            out.append((int(kv["per_iter"]), int(kv["iters"], 16), int(kv["delta"], 16)))
    return out


@test
def icount_tsc_ticks_once_per_instruction():
    cfg = lg.guest_config(kernel=PROBE, icount=True)
    run = qemu.run_qemu(cfg, timeout=60, ready_re=r"^PROBE entry_tsc=(0x[0-9a-f]+)",
                        stop_re=r"^PROBE done")
    loops = probe_loops(run)
    assert run.ready_match and len(loops) == 6, f"probe output: {run.text()}"
    consts = {delta - per * iters for per, iters, delta in loops}
    assert len(consts) == 1, f"TSC delta is not per_iter*N + c: {loops}"
    assert 0 < consts.pop() < 16


@test
def linux_guest_boots_and_reports_getpid():
    cfg = lg.guest_config(init_args=["loop=1000000", "getpid=20000"], icount=True)
    g = lg.run_guest(cfg, timeout=50)
    assert g.ready, f"no ready line; last lines: {g.run.text()[-5:]}"
    assert not g.errors, g.errors
    recs = {r["name"]: r for r in g.records()}
    v = recs["syscall.linux.getpid_instructions"]["value"]
    assert 50 <= v <= 100000, f"getpid {v} instructions is implausible"
    m = g.run.search(r"^VERIFY loop iters=(\d+) delta=(\d+)")
    n, d = int(m.group(1)), int(m.group(2))
    assert 2 * n <= d <= 2 * n * 1.02, f"loop of {2 * n} instructions took {d} ticks"
    assert g.run.returncode == 0, f"QEMU exit {g.run.returncode} (power-off expected)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tap", required=True)
    a = ap.parse_args()
    lines = []
    for fn in TESTS:
        name = fn.__name__
        try:
            fn()
            lines.append(f"ok - {name}")
        except Exception as err:  # a failing test must never stop the others
            lines.append(f"not ok - {name}")
            print(f"# {name}: {type(err).__name__}: {err}", file=sys.stderr)
        print(lines[-1], flush=True)
    with open(a.tap, "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
