#!/usr/bin/env python3
"""Hallows boot benchmarks, appended as JSON lines to the results file.

  boot.hallows.entry_to_ready_instructions  TSC at the first kernel
      instruction (boot.S) to "hallows: ready", under TCG with
      -icount shift=0, where the guest TSC counts executed instructions.
  boot.hallows.wall_ms  QEMU process start to "hallows: ready" on the
      serial console, plain TCG (median of --runs).
  image.hallows.kernel_bytes, image.hallows.iso_bytes  file sizes.
The QEMU configuration matches the Linux guest's (tools/linux-guest).
"""
import argparse
import json
import os
import re
import selectors
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def boot_once(kernel, initrd, icount, smp, mem, timeout=60):
    cmd = ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", str(smp),
           "-m", mem, "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-kernel", kernel, "-initrd", initrd, "-append", "test-exit bench-boot"]
    if icount:
        cmd += ["-icount", "shift=0"]
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    ready_ms, tsc = None, None
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    try:
        # The boot module's programs keep running after "ready": stop at the
        # two lines we need, or at the time limit (never wait for more output).
        while (ready_ms is None or tsc is None) and time.monotonic() - start < timeout:
            if not sel.select(timeout=1.0):
                continue
            raw = p.stdout.readline()
            if not raw:
                break
            line = raw.decode("utf-8", "replace").strip()
            if line == "hallows: ready" and ready_ms is None:
                ready_ms = (time.monotonic() - start) * 1000
            m = re.match(r"bench: boot tsc entry=(\d+) ready=(\d+)", line)
            if m:
                tsc = int(m.group(2)) - int(m.group(1))
    finally:
        p.kill()
        p.wait()
    if ready_ms is None or tsc is None:
        sys.exit("bench_boot: the kernel never reached 'hallows: ready'")
    return ready_ms, tsc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", default="build/hallows.elf")
    ap.add_argument("--initrd", default="build/initrd.cpio")
    ap.add_argument("--iso", default="build/hallows.iso")
    ap.add_argument("--out", default="build/bench/results.jsonl")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--mem", default="512M")
    a = ap.parse_args()
    config = {"machine": "q35", "cpu": "max", "smp": a.smp, "mem": a.mem, "boot": "pvh -kernel"}
    _, instr = boot_once(a.kernel, a.initrd, True, a.smp, a.mem)
    walls = [boot_once(a.kernel, a.initrd, False, a.smp, a.mem)[0] for _ in range(a.runs)]
    res = [
        ("boot.hallows.entry_to_ready_instructions", instr, "instructions", "tcg-icount", config),
        ("boot.hallows.wall_ms", round(statistics.median(walls), 1), "ms", "tcg", dict(config, runs=a.runs)),
        ("image.hallows.kernel_bytes", os.path.getsize(a.kernel), "bytes", "host",
         {"file": a.kernel, "initrd_bytes": os.path.getsize(a.initrd)}),
        ("image.hallows.iso_bytes", os.path.getsize(a.iso), "bytes", "host", {"file": a.iso}),
    ]
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "a") as f:
        for name, value, unit, mode, cfg in res:
            line = json.dumps({"name": name, "value": value, "unit": unit, "mode": mode, "config": cfg})
            f.write(line + "\n")
            print(line)


if __name__ == "__main__":
    main()
