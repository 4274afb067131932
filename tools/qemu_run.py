#!/usr/bin/env python3
"""Boot Hallows in QEMU (or Bochs) under a time limit and judge the run.

Streams the serial console to a log (and optionally to stdout), parses the
KTAP that the in-kernel tests print, and tells apart:
  pass    - QEMU left through isa-debug-exit with code 0 (exit status 1),
            every expected line was seen and no KTAP case failed;
  fail    - a KTAP case failed, an expected line is missing, or the exit
            code says a test failed (status 3);
  panic   - the kernel printed "*** PANIC" / "*** FATAL" or exited with
            code 3 (status 7);
  hang    - the time limit passed without an exit (the last line is shown);
            with --settle S, a run meant to hang (--want hang) stops S
            seconds after the last of its --expect lines appeared.
With --emulator bochs the image (--iso) boots in Bochs on the CPU model
--bochs-cpu: a second, stricter emulator with PCID and without SMAP. Bochs
has no isa-debug-exit device, so the run ends at the kernel's line
"hallows: test-exit N" or the ring-3 suites' "# utest: ... N failed cases",
and N stands in for the exit code.
Results are appended as TAP lines ("ok - NAME" / "not ok - NAME") to --tap:
one for the boot itself and one per KTAP case, as NAME.suite.case.
"""
import argparse
import os
import re
import select
import subprocess
import sys
import time

OVMF_CANDIDATES = ["/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/ovmf/OVMF.fd"]


def qemu_command(a):
    cmd = ["qemu-system-x86_64", "-machine", a.machine, "-accel", "tcg", "-cpu", a.cpu,
           "-smp", str(a.smp), "-m", a.mem, "-display", "none", "-serial", "stdio",
           "-monitor", "none", "-no-reboot",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    if a.firmware == "ovmf":
        code = next((p for p in OVMF_CANDIDATES if os.path.exists(p)), None)
        if not code:
            sys.exit("qemu_run: OVMF firmware not found (install the ovmf package)")
        cmd += ["-drive", f"if=pflash,format=raw,readonly=on,file={code}"]
        vars_src = "/usr/share/OVMF/OVMF_VARS.fd"
        if os.path.exists(vars_src) and code.endswith("OVMF_CODE.fd"):
            vars_copy = os.path.join(os.path.dirname(a.log) or ".", f"{a.name}.vars.fd")
            with open(vars_src, "rb") as s, open(vars_copy, "wb") as d:
                d.write(s.read())
            cmd += ["-drive", f"if=pflash,format=raw,file={vars_copy}"]
    if a.iso:
        cmd += ["-cdrom", a.iso, "-boot", "d"]
    else:
        cmd += ["-kernel", a.kernel, "-append", a.append]
        if a.initrd:
            cmd += ["-initrd", a.initrd]
    if a.icount:
        cmd += ["-icount", "shift=0"]
    return cmd + a.qemu_arg


def take_line(a, raw, start, lines, log, marks):
    """Record one console line: kept, logged with its time, echoed; marks the first ready line."""
    line = raw.decode("utf-8", "replace").rstrip("\r")
    now = time.monotonic() - start
    lines.append(line)
    log.write(f"[{now:8.3f}] {line}\n")
    if a.echo:
        print(line, flush=True)
    if "hallows: ready" in line and "hallows: ready" not in marks:
        marks["hallows: ready"] = now
    return line


def bochs_command(a):
    """Write a bochsrc for this run; the serial console goes to a file."""
    base = os.path.splitext(a.log)[0]
    serial, rc, dbg = base + ".serial", base + ".bochsrc", base + ".bochs-dbg"
    with open(rc, "w") as f:
        f.write(f"""megs: {int(a.mem.rstrip('M'))}
cpu: model={a.bochs_cpu}, count={a.smp}, ips=50000000
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest
ata0-master: type=cdrom, path={a.iso}, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev={serial}
display_library: rfb, options="timeout=0"
log: {base}.bochs.log
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
clock: sync=none, time0=local
""")
    with open(dbg, "w") as f:
        f.write("c\n")  # Debian's Bochs starts in its debugger: continue at once
    if os.path.exists(serial):
        os.remove(serial)
    cmd = ["bochs", "-q", "-f", rc, "-rc", dbg]
    # Debian's build has no "nogui"; rfb serves the screen on port 5900 of
    # every interface, so as root it runs in a network namespace of its own.
    # (The text display on a pseudo-terminal blocked now and then in curses.)
    if os.geteuid() == 0:
        cmd = ["unshare", "--net"] + cmd
    return cmd, serial


BOCHS_END = [(re.compile(r"^hallows: test-exit (\d+)"), lambda n: 2 * n + 1),
             (re.compile(r"^# utest: \d+ suites, (\d+) failed cases"), lambda n: 1 if n == 0 else 3)]


def run_bochs(a):
    cmd, serial = bochs_command(a)
    log = open(a.log, "w")
    log.write("# " + " ".join(cmd) + "\n")
    start = time.monotonic()
    out = open(os.path.splitext(a.log)[0] + ".bochs.out", "w")
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    lines, buf, pos, status, timed_out, marks = [], b"", 0, None, False, {}
    while status is None:
        if time.monotonic() - start > a.timeout:
            timed_out = True
            break
        chunk = b""
        if os.path.exists(serial):
            with open(serial, "rb") as f:
                f.seek(pos)
                chunk = f.read()
            pos += len(chunk)
        if not chunk:
            if p.poll() is not None:
                break  # Bochs ended before an end line: never a pass (status -1)
            time.sleep(0.2)
            continue
        buf += chunk
        while b"\n" in buf and status is None:
            raw, buf = buf.split(b"\n", 1)
            line = take_line(a, raw, start, lines, log, marks)
            for rx, code in BOCHS_END:
                m = rx.search(line)
                if m:
                    status = code(int(m.group(1)))
    if p.poll() is None:
        p.kill()
    p.wait()
    log.close()
    out.close()
    return lines, -1 if status is None else status, timed_out, marks, time.monotonic() - start


def run(a):
    if a.emulator == "bochs":
        return run_bochs(a)
    cmd = qemu_command(a)
    os.makedirs(os.path.dirname(a.log) or ".", exist_ok=True)
    log = open(a.log, "w")
    log.write("# " + " ".join(cmd) + "\n")
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    lines, buf, timed_out = [], b"", False
    marks = {}
    # --settle: a run meant to hang ends that many seconds after the last of its expected lines.
    pending = [re.compile(e) for e in a.expect] if a.settle is not None and a.want == "hang" else []
    settle_end = None
    while True:
        left = a.timeout - (time.monotonic() - start)
        if settle_end is not None:
            left = min(left, settle_end - time.monotonic())
        if left <= 0:
            timed_out = True
            p.kill()
            break
        r, _, _ = select.select([p.stdout], [], [], min(left, 0.5))
        if r:
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = take_line(a, raw, start, lines, log, marks)
                if pending:
                    pending = [rx for rx in pending if not rx.search(line)]
                    if not pending:
                        settle_end = time.monotonic() + a.settle
        elif p.poll() is not None:
            break
    status = p.wait()
    log.close()
    return lines, status, timed_out, marks, time.monotonic() - start


def parse_ktap(lines):
    """Return [(suite, case, ok, skipped)] from nested KTAP subtests."""
    cases, suite = [], None
    for line in lines:
        m = re.match(r"^\s{4}# Subtest: (\S+)", line)
        if m:
            suite = m.group(1)
            continue
        m = re.match(r"^\s{4}(not ok|ok) \d+ (\S+)(.*)$", line)
        if m and suite:
            cases.append((suite, m.group(2), m.group(1) == "ok", "# SKIP" in m.group(3)))
    return cases


def verdict(a, lines, status, timed_out):
    text = "\n".join(lines)
    # A run meant to hang (--want hang) must still show its expected lines
    # and none of its rejected ones: it used to pass unchecked.
    if not timed_out or a.want == "hang":
        for exp in a.expect:
            if not re.search(exp, text, re.M):
                return "fail", f"expected output missing: {exp}"
        for bad in a.reject:
            if re.search(bad, text, re.M):
                return "fail", f"unexpected output: {bad}"
    if timed_out:
        last = lines[-1] if lines else "(no output)"
        if a.settle is not None and a.want == "hang":
            return "hang", f"no exit; stopped {a.settle}s after its expected lines; last line: {last}"
        return "hang", f"no exit within {a.timeout}s; last line: {last}"
    if "*** PANIC" in text or "*** FATAL" in text or status == 7:
        first = next((l for l in lines if "*** PANIC" in l or "*** FATAL" in l), "exit status 7")
        return "panic", first.strip()
    if status == 3:
        return "fail", "kernel reported failed tests (exit status 3)"
    if status != a.ok_status:
        return "fail", f"QEMU exit status {status} (expected {a.ok_status})"
    return "pass", "ok"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--kernel", default="build/hallows.elf")
    ap.add_argument("--initrd")
    ap.add_argument("--iso")
    ap.add_argument("--append", default="test-exit")
    ap.add_argument("--firmware", choices=["seabios", "ovmf"], default="seabios")
    ap.add_argument("--machine", default="q35")
    ap.add_argument("--cpu", default="max")
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--mem", default="256M")
    ap.add_argument("--icount", action="store_true")
    ap.add_argument("--emulator", choices=["qemu", "bochs"], default="qemu")
    ap.add_argument("--bochs-cpu", default="corei7_haswell_4770",
                    help="Bochs CPU model (Haswell: PCID and x2APIC, no SMAP)")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--expect", action="append", default=[], help="regex that must appear")
    ap.add_argument("--reject", action="append", default=[], help="regex that must not appear")
    ap.add_argument("--settle", type=float,
                    help="with --want hang: stop this many seconds after every --expect line was seen")
    ap.add_argument("--want", choices=["pass", "fail", "panic", "hang"], default="pass",
                    help="the verdict this run must produce (to test failure detection)")
    ap.add_argument("--ok-status", type=int, default=1,
                    help="QEMU exit status of a passing run (1 = isa-debug-exit code 0; 0 = power-off/reset)")
    ap.add_argument("--tap", help="append TAP lines here")
    ap.add_argument("--log", help="serial log file (default build/results/logs/NAME.log)")
    ap.add_argument("--echo", action="store_true")
    ap.add_argument("--qemu-arg", action="append", default=[])
    a = ap.parse_args()
    a.log = a.log or f"build/results/logs/{a.name}.log"
    if a.emulator == "bochs" and not a.iso:
        ap.error("--emulator bochs boots an image: give --iso")
    os.makedirs(os.path.dirname(a.log) or ".", exist_ok=True)

    lines, status, timed_out, marks, wall = run(a)
    v, why = verdict(a, lines, status, timed_out)
    ok = v == a.want
    out = [f"{'ok' if ok else 'not ok'} - boot.{a.name} (verdict {v}: {why}; {wall:.1f}s)"]
    if a.want == "pass":
        for suite, case, cok, skipped in parse_ktap(lines):
            line = f"{'ok' if cok else 'not ok'} - {a.name}.{suite}.{case}"
            out.append(line + (" # SKIP" if skipped else ""))
    for l in out:
        print(l)
    if not ok:
        print(f"  log: {a.log}")
        for l in lines[-15:]:
            print("  | " + l)
    if a.tap:
        with open(a.tap, "a") as f:
            f.write("\n".join(out) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
