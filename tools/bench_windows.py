#!/usr/bin/env python3
"""Partition-window switch cost and jitter (make bench-windows; docs/scheduling.md).

Boots the window suite (tests/user/windows, build/initrd-windows.cpio) under
TCG with -icount shift=0,sleep=off and two CPUs: one instruction is one TSC
tick, so the time from a window's boundary to the first instruction of the
partition that owns it is an instruction count, and every figure repeats
exactly. The suite prints, per case, the median of that delay over the
measured windows (switch_instructions), max - min (switch_jitter_instructions)
and the largest (switch_max_instructions): "idle" (two partitions, an idle
gap), "spare" (a background partition in the gaps) and "misbehaving" (a
third partition spinning at a higher priority, faulting in a loop and
flooding IPC in its own window). They go to --out as windows.hallows.*.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import qemu, results  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", default="build/hallows.elf")
    ap.add_argument("--initrd", default="build/initrd-windows.cpio")
    ap.add_argument("--out", default="build/bench/results.jsonl")
    a = ap.parse_args()
    cfg = qemu.QemuConfig(kernel=a.kernel, initrd=a.initrd, append="test-exit", icount=True,
                          smp=2, cpu="max")
    run = qemu.run_qemu(cfg, timeout=300, stop_re=r"^# utest: ")
    text = [t for _, t in run.lines]
    if not run.search(r"^# utest: 1 suites, 0 failed"):
        sys.exit("bench_windows: the window suite failed:\n" + "\n".join(text[-30:]))
    config = dict(cfg.describe(), program="tests/user/windows/window_test.c",
                  measure="window boundary to the owner's first instruction, frames 1-6")
    recs = []
    for b in results.parse_bench_lines(text):
        case, metric = b["name"].split(".", 2)[1:]  # windows.<case>.<metric>
        name = f"windows.hallows.{case}_{metric}"
        recs.append(results.make_result(name, b["value"], b["unit"], cfg.mode(), config))
    if not recs:
        sys.exit("bench_windows: no BENCH lines")
    results.append_results(a.out, recs)
    for r in recs:
        print(f"{r['name']:55s} {r['value']:>8} {r['unit']}")


if __name__ == "__main__":
    main()
