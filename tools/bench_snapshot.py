#!/usr/bin/env python3
"""Snapshot benchmarks (user/apps/snapbench, docs/snapshots.md).

Boots the snapbench root task under TCG with -icount shift=0,sleep=off in
the Linux guest's QEMU configuration (tools/bench/qemu.py) with 2 GiB of
RAM, and records its BENCH lines: take, restore and discard of a 64 MiB,
256 MiB and 1 GiB child with 0%, 1% and 10% of its pages written, and the
copy-on-write fault cost per page. Where the Linux guest's fork figures
are in the results file, the ratio of take to fork is added.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "linux-guest"))
from bench import qemu, results  # noqa: E402
import run as lg  # noqa: E402

SIZES = ("64mib", "256mib", "1gib")
PAIRS = [(f"snapshot.hallows.take_{s}_0pct_instructions", f"fork.linux.fork_{s}_instructions",
          f"snapshot.hallows.take_{s}_speedup_vs_linux_fork_ratio") for s in SIZES]
PAIRS += [(f"snapshot.hallows.cow_fault_{s}_{p}_per_page_instructions",
           f"fork.linux.cow_fault_{s}_{p}_per_page_instructions",
           f"snapshot.hallows.cow_fault_{s}_{p}_speedup_vs_linux_ratio") for s in SIZES
          for p in ("1pct", "10pct")]


def linux_fork(out_recs):
    """The Linux guest's fork of a process of the same sizes (tools/linux-guest/init/lg_fork.c)."""
    cfg = lg.guest_config(init_args=["fork"], icount=True, memory="2G")
    g = lg.run_guest(cfg, timeout=1200)
    if g.errors:
        sys.exit("bench_snapshot: Linux guest: " + "; ".join(g.errors))
    recs = g.records({"kernel_release": os.path.basename(lg.DEFAULT_KERNEL)})
    for r in recs:
        print(f"linux: {r['name']} {r['value']}")
    out_recs += recs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", default="build/hallows.elf")
    ap.add_argument("--initrd", default="build/initrd-snapbench.cpio")
    ap.add_argument("--out", default="build/bench/results.jsonl")
    ap.add_argument("--no-linux", action="store_true", help="skip the Linux guest's fork")
    a = ap.parse_args()

    linux_recs = []
    if not a.no_linux:
        linux_fork(linux_recs)

    cfg = qemu.QemuConfig(kernel=a.kernel, initrd=a.initrd, append="test-exit", icount=True, smp=1,
                          cpu="max", memory="2G")
    run = qemu.run_qemu(cfg, timeout=1800, stop_re=r"^BENCH-(DONE|ERROR)")
    for _, t in run.lines:
        if t.startswith("snapbench:") or t.startswith("BENCH-ERROR"):
            print(t)
    recs = linux_recs + results.run_records(run, cfg, "user/apps/snapbench", "bench_snapshot")
    known = results.known_values(a.out, recs)
    for h, l, name in PAIRS:
        if h in known and l in known and known[h]:
            recs.append(results.make_result(name, round(known[l] / known[h], 1), "ratio",
                                            "tcg-icount", {"hallows": h, "linux": l,
                                                           "meaning": "linux / hallows: times fewer instructions"}))
        else:
            print(f"bench_snapshot: no {l} in {a.out}; ratio {name} skipped")
    results.append_results(a.out, recs)
    for r in recs:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
