#!/usr/bin/env python3
"""Linux-guest benchmark steps for `make bench` (docs/benchmarks.md).

  benchmarks.py boot  --out build/bench/results.jsonl
      boot.linux.reset_to_entry_instructions   firmware + PVH option ROM (probe)
      boot.linux.entry_to_ready_instructions   kernel entry -> /init ready line
      boot.linux.wall_ms                       QEMU start -> ready line, plain TCG
      image.linux.kernel_bytes                 vmlinux + initramfs
  benchmarks.py micro --out build/bench/results.jsonl
      syscall.linux.getpid_instructions, ipc.linux.pipe_roundtrip_instructions,
      ipc.linux.futex_roundtrip_instructions, sched.linux.yield_switch_instructions,
      sched.linux.yield_noswitch_instructions, upcall.linux.*,
      ring.linux.{pipe,eventfd}_msg_{unbatched,batched}_same_cpu_instructions (icount, -smp 1)
      and ipc.linux.pipe_roundtrip_xcpu_ns,
      ring.linux.{pipe,eventfd}_msg_{unbatched,batched}_xcpu_ns (plain TCG, -smp 2)
"""
import argparse
import dataclasses
import os
import re
import statistics
import sys

import run as lg

from bench import qemu, results

PROBE = os.path.join(lg.REPO, "build", "linux-guest", "probe.elf")
PROBE_READY_RE = r"^PROBE entry_tsc=(0x[0-9a-f]+)"
WALL_RUNS = 3


class BenchError(Exception):
    """A run that did not give a usable figure."""


def probe_entry_tsc(cfg, timeout=60.0):
    """Instructions from reset to kernel entry (firmware + PVH option ROM)
    in the configuration cfg (any qemu.QemuConfig: its kernel is swapped for
    the probe, icount forced on, initrd and command line kept).

    Returns (instructions, QemuRun). Measured: independent of initrd size,
    command-line length and ELF class (docs/benchmarks.md).
    """
    pcfg = dataclasses.replace(cfg, kernel=PROBE, icount=True)
    run = qemu.run_qemu(pcfg, timeout=timeout, ready_re=PROBE_READY_RE,
                        stop_re=r"^PROBE done")
    if run.ready_match is None:
        raise BenchError(f"probe printed no entry TSC: {run.text()[-3:]}")
    return int(run.ready_match.group(1), 16), run


def linux_ready(cfg, timeout=300.0):
    """Boot the guest once; return the GuestRun, raise if not ready/clean."""
    g = lg.run_guest(cfg, timeout=timeout)
    if g.errors:
        raise BenchError("; ".join(g.errors))
    return g


def idle_cross_check(initrd=lg.DEFAULT_INITRD, timeout=300.0):
    """How far the TSC has run ahead of executed instructions by the time
    /init is ready: the idle virtual time included in TSC figures.

    Boots the same guest with -device pvpanic -action panic=pause and the
    init argument pvpanic_stop: /init reads the TSC into esi:edi and pauses
    the VM four instructions later; QEMU's record/replay counter gives the
    instructions executed until then. Returns a dict for "config".
    """
    cfg = lg.guest_config(initrd=initrd, init_args=["pvpanic_stop"], icount=True,
                          extra_args=["-device", "pvpanic", "-action", "panic=pause"])
    count, regs, _ = qemu.count_instructions_at_stop(cfg, timeout, lg.READY_RE)
    lo, hi = qemu.register(regs, "RSI"), qemu.register(regs, "RDI")
    if count is None or lo is None or hi is None:
        raise BenchError("idle cross-check: VM did not pause at pvpanic")
    tsc = ((hi & 0xffffffff) << 32) | (lo & 0xffffffff)
    return {"xcheck_tsc_at_stop": tsc, "xcheck_instructions_at_stop": count,
            "xcheck_idle_virtual_ns": tsc - (count - 5)}


def bench_boot(out):
    """Boot figures; returns the records written."""
    recs = []
    cfg = lg.guest_config(icount=True)
    entry, _ = probe_entry_tsc(cfg)
    conf = cfg.describe()
    conf["probe"] = "tools/linux-guest/probe (rdtsc at PVH entry)"
    recs.append(results.make_result("boot.linux.reset_to_entry_instructions",
                                    entry, "instructions", "tcg-icount", conf))
    ready, again = linux_ready(cfg).ready_tsc(), linux_ready(cfg).ready_tsc()
    conf = dict(cfg.describe(), reset_to_ready_tsc=ready, reset_to_entry=entry,
                repeat_reset_to_ready_tsc=again, deterministic=ready == again,
                method="TSC read first thing in /init minus probe entry TSC")
    conf.update(idle_cross_check())
    recs.append(results.make_result("boot.linux.entry_to_ready_instructions",
                                    ready - entry, "instructions", "tcg-icount", conf))
    wall_cfg = lg.guest_config(icount=False)
    walls = [linux_ready(wall_cfg).run.ready_time * 1000.0 for _ in range(WALL_RUNS)]
    conf = dict(wall_cfg.describe(), runs_ms=[round(w, 1) for w in walls],
                statistic="median")
    recs.append(results.make_result("boot.linux.wall_ms",
                                    round(statistics.median(walls), 1), "ms", "tcg", conf))
    vm, rd = os.path.getsize(lg.DEFAULT_KERNEL), os.path.getsize(lg.DEFAULT_INITRD)
    recs.append(results.make_result("image.linux.kernel_bytes", vm + rd, "bytes", "host",
                                    {"vmlinux_bytes": vm, "initramfs_bytes": rd,
                                     "kernel": kernel_release()}))
    results.append_results(out, recs)
    return recs


def kernel_release():
    """Debian kernel release the vmlinux came from, e.g. 6.1.0-56-amd64."""
    names = sorted(f for f in os.listdir("/boot") if f.startswith("vmlinuz-"))
    return names[-1][len("vmlinuz-"):] if names else "unknown"


def bench_micro(out):
    """Micro-benchmarks; returns the records written."""
    recs = []
    g = linux_ready(lg.guest_config(
        init_args=["loop", "getpid", "futex", "yield", "yield_alone", "pipe", "signal", "ring"],
        icount=True))
    recs += g.records({"kernel_release": kernel_release()})
    if len(recs) != 11:
        raise BenchError(f"expected 11 icount figures, got {len(recs)}")
    g = linux_ready(lg.guest_config(init_args=["pipe_xcpu_ns", "ring_xcpu_ns"], icount=False, smp=2))
    recs += g.records({"kernel_release": kernel_release(),
                       "note": "wall clock: QEMU 7.2 TCG cannot boot -smp 2 "
                               "Linux under -icount"})
    results.append_results(out, recs)
    return recs


def main(argv=None):
    ap = argparse.ArgumentParser(description="Linux-guest benchmark steps")
    ap.add_argument("step", choices=["boot", "micro"])
    ap.add_argument("--out", default=os.path.join(lg.REPO, "build/bench/results.jsonl"))
    a = ap.parse_args(argv)
    try:
        recs = bench_boot(a.out) if a.step == "boot" else bench_micro(a.out)
    except (BenchError, OSError, results.ResultError) as err:
        print(f"benchmarks.py {a.step}: {err}", file=sys.stderr)
        return 1
    for r in recs:
        print(f"  {r['name']} = {r['value']} {r['unit']} ({r['mode']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
