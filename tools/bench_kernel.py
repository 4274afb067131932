#!/usr/bin/env python3
"""Hallows kernel micro-benchmarks beside their Linux counterparts.

Boots the kbench root task (user/apps/kbench) under TCG with
-icount shift=0,sleep=off in the Linux guest's QEMU configuration
(tools/bench/qemu.py), records its BENCH lines, the ring-0 line count,
and the ratio of each Hallows figure to its nearest Linux equivalent when
that figure is already in the results file (make bench runs the Linux
guest's steps first).
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import qemu, results  # noqa: E402

PAIRS = [  # hallows figure, linux figure, ratio name
    ("syscall.hallows.null_instructions", "syscall.linux.getpid_instructions",
     "syscall.hallows.null_vs_linux_getpid_ratio"),
    ("ipc.hallows.roundtrip_instructions", "ipc.linux.pipe_roundtrip_instructions",
     "ipc.hallows.roundtrip_vs_linux_pipe_ratio"),
    ("ipc.hallows.roundtrip_instructions", "ipc.linux.futex_roundtrip_instructions",
     "ipc.hallows.roundtrip_vs_linux_futex_ratio"),
    ("notify.hallows.wake_instructions", "ipc.linux.futex_roundtrip_instructions",
     "notify.hallows.wake_vs_linux_futex_roundtrip_ratio"),
    ("sched.hallows.yield_switch_instructions", "sched.linux.yield_switch_instructions",
     "sched.hallows.yield_switch_vs_linux_ratio"),
] + [  # ring messages beside a pipe and an eventfd hand-off (tools/linux-guest/init/lg_ring.c)
    (f"ring.hallows.msg_{mode}_same_cpu_instructions",
     f"ring.linux.{kind}_msg_{mode}_same_cpu_instructions",
     f"ring.hallows.msg_{mode}_same_cpu_vs_linux_{kind}_ratio")
    for mode in ("unbatched", "batched") for kind in ("pipe", "eventfd")
]


def ring0_lines():
    """Lines of C, assembly and headers under kernel/ and arch/x86_64/."""
    files = subprocess.run(["git", "ls-files", "kernel", "arch/x86_64"], capture_output=True,
                           text=True, check=True).stdout.split()
    files = [f for f in files if f.endswith((".c", ".S", ".h", ".ld"))]
    return sum(sum(1 for _ in open(f, errors="replace")) for f in files), len(files)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", default="build/hallows.elf")
    ap.add_argument("--initrd", default="build/initrd-kbench.cpio")
    ap.add_argument("--out", default="build/bench/results.jsonl")
    ap.add_argument("--smp", type=int, default=2)
    a = ap.parse_args()

    cfg = qemu.QemuConfig(kernel=a.kernel, initrd=a.initrd, append="test-exit", icount=True, smp=a.smp,
                          cpu="max", extra_args=("-device", "edu"))  # edu: the MSI delivery figure
    run = qemu.run_qemu(cfg, timeout=300, stop_re=r"^BENCH-DONE")
    recs = results.run_records(run, cfg, "user/apps/kbench", "bench_kernel")
    lines, nfiles = ring0_lines()
    recs.append(results.make_result("size.hallows.ring0_lines", lines, "lines", "host",
                                    {"dirs": "kernel/ arch/x86_64/", "files": nfiles}))
    known = results.known_values(a.out, recs)
    for h, l, name in PAIRS:
        if h in known and l in known and known[l]:
            recs.append(results.make_result(name, round(known[h] / known[l], 4), "ratio", "tcg-icount",
                                            {"hallows": h, "linux": l}))
        else:
            print(f"bench_kernel: no {l} in {a.out}; ratio {name} skipped (run make bench)")
    results.append_results(a.out, recs)
    for r in recs:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
