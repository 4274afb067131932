#!/usr/bin/env python3
"""Test group brokerfl-store: the log store on QEMU's NVMe disk through the
ring-3 NVMe driver and user/storage/blk (user/apps/storetest).

  phase1  format, append, flush (sync and async), read back; at the line
          "storetest: flushed N records" the program keeps appending
          without flushing and QEMU is killed with SIGKILL a moment later
  phase2  a second boot on the same image: recovery finds every flushed
          record intact, the tail holds whole records only, appends work

Each KTAP case the program prints becomes "ok - brokerfl-store.<phase>.<case>".
"""
import argparse
import os
import re
import select
import subprocess
import sys
import time


def tap(a, ok, name, why=""):
    line = f"{'ok' if ok else 'not ok'} - brokerfl-store.{name}"
    with open(a.tap, "a") as f:
        f.write(line + "\n")
    print(line + (f"  ({why})" if why and not ok else ""))


def boot(a, phase, img, kill_after=None):
    """Boot the phase's module on img; returns (log text, exit status or None when killed)."""
    initrd = os.path.join(a.dir, f"initrd-store{phase}.cpio")
    cmd = ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "512M",
           "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", a.kernel, "-append", "",
           "-initrd", initrd, "-drive", f"file={img},if=none,id=d0,format=raw",
           "-device", "nvme,serial=hallows0,drive=d0"]
    log_path = os.path.join(a.dir, f"store{phase}.log")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    buf, end, kill_at, rc = b"", time.monotonic() + a.timeout, None, None
    while time.monotonic() < end:
        if kill_at and time.monotonic() >= kill_at:
            p.kill()
            break
        r, _, _ = select.select([p.stdout], [], [], 0.05)
        if r:
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            if kill_after is not None and kill_at is None and re.search(rb"storetest: flushed \d+ records", buf):
                kill_at = time.monotonic() + kill_after
        elif p.poll() is not None:
            break
    if p.poll() is None:
        p.kill()
    rc = p.wait()
    text = buf.decode(errors="replace")
    with open(log_path, "w") as f:
        f.write("# " + " ".join(cmd) + "\n" + text)
    return text, (None if kill_at else rc)


def cases(a, phase, text):
    found = re.findall(r"^    (ok|not ok) \d+ (\S+)", text, re.M)
    for res, name in found:
        tap(a, res == "ok", f"{phase}.{name}")
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--tap", required=True)
    ap.add_argument("--timeout", type=int, default=240)
    a = ap.parse_args()
    img = os.path.join(a.dir, "store.img")
    if os.path.exists(img):
        os.unlink(img)
    with open(img, "wb") as f:
        f.truncate(64 << 20)

    t0 = time.monotonic()
    text, _ = boot(a, 1, img, kill_after=0.3)
    found = cases(a, "phase1", text)
    flushed = re.search(r"storetest: flushed (\d+) records", text)
    tap(a, bool(found) and flushed is not None, "phase1.reached_flush_and_killed",
        f"see {a.dir}/store1.log")
    stats = re.search(r"storetest: read .*", text)
    if stats:
        print("# " + stats.group(0))
    t1 = time.monotonic()
    text, rc = boot(a, 2, img)
    found = cases(a, "phase2", text)
    tap(a, bool(found) and rc == 1 and "# storetest: " in text and ", 0 failed" in text,
        "phase2.recovery_boot_passes", f"exit {rc}, see {a.dir}/store2.log")
    for m in re.findall(r"storetest: partition \d+: .*", text):
        print("# " + m)
    print(f"# phase1 {t1 - t0:.1f} s, phase2 {time.monotonic() - t1:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
