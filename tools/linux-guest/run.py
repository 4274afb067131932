#!/usr/bin/env python3
"""Boot the Linux guest under QEMU TCG and collect its BENCH lines.

Command line (from the repository root):
  python3 tools/linux-guest/run.py [--icount|--no-icount] [--smp N]
      [--memory 512M] [--machine pc] [--kernel build/linux-guest/vmlinux]
      [--initrd build/linux-guest/initrd.cpio] [--timeout 300]
      [--ready-re REGEX] [--cmdline-extra "..."] [--serial-log FILE]
      [--out build/bench/results.jsonl | --dry-run] [--echo] [INIT_ARG ...]

INIT_ARGs go to /init (kernel command line after "--"); for the stock
benchmark /init they are benchmark names, "name" or "name=iterations":
loop getpid futex yield pipe pipe_xcpu. Any other static /init works too
(pack it with mkinitramfs.py): it must print a line matching --ready-re,
then "BENCH <name> <value> <unit> [k=v ...]" lines, then power off.
Exit status 0 only if the ready line came, QEMU exited by itself, no
BENCH-ERROR line was printed and (when INIT_ARGs were given) at least one
BENCH line parsed. Python callers use guest_config() and run_guest().
"""
import argparse
import dataclasses
import os
import sys
from typing import List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))

from bench import qemu, results  # noqa: E402

DEFAULT_KERNEL = os.path.join(REPO, "build", "linux-guest", "vmlinux")
DEFAULT_INITRD = os.path.join(REPO, "build", "linux-guest", "initrd.cpio")
READY_RE = r"^LINUX-GUEST-READY tsc=(\d+)"
# quiet: every console line costs serial emulation; cryptomgr.notests:
# skips the crypto API self-tests, 874 M of the 1,571 M instructions a
# default boot executes before /init (docs/benchmarks.md).
BASE_CMDLINE = "console=ttyS0 quiet panic=-1 cryptomgr.notests"


def guest_config(initrd: str = DEFAULT_INITRD, init_args: Sequence[str] = (),
                 icount: bool = True, smp: int = 1, memory: str = "512M",
                 machine: str = "pc", kernel: str = DEFAULT_KERNEL,
                 cmdline_extra: str = "",
                 extra_args: Sequence[str] = ()) -> qemu.QemuConfig:
    """The standard QEMU configuration for a Linux-guest run."""
    append = BASE_CMDLINE + (" " + cmdline_extra if cmdline_extra else "")
    if init_args:
        append += " -- " + " ".join(init_args)
    return qemu.QemuConfig(kernel=kernel, initrd=initrd, append=append,
                           icount=icount, machine=machine, memory=memory,
                           smp=smp, extra_args=tuple(extra_args))


@dataclasses.dataclass
class GuestRun:
    """One boot: the raw QEMU run plus what its serial output means."""
    cfg: qemu.QemuConfig
    run: qemu.QemuRun
    benches: List[dict]          # parsed BENCH lines (results.parse_bench_line)
    errors: List[str]            # BENCH-ERROR lines and harness problems

    @property
    def ready(self) -> bool:
        return self.run.ready_match is not None

    def ready_tsc(self) -> Optional[int]:
        """The TSC printed on the ready line (group 1 of the ready regex)."""
        m = self.run.ready_match
        return int(m.group(1)) if m and m.groups() else None

    def records(self, extra_config: Optional[dict] = None) -> List[dict]:
        """Result records for every BENCH line of this run.

        Figures in instructions are only meaningful under icount; from a
        plain-TCG run they are dropped (and reported in errors).
        """
        out = []
        base = self.cfg.describe()
        base.update(extra_config or {})
        for b in self.benches:
            if b["unit"] == "instructions" and not self.cfg.icount:
                self.errors.append(f"{b['name']}: instructions need --icount")
                continue
            conf = dict(base)
            conf.update(b["extra"])
            out.append(results.make_result(b["name"], b["value"], b["unit"],
                                           self.cfg.mode(), conf))
        return out


def run_guest(cfg: qemu.QemuConfig, timeout: float = 300.0,
              ready_re: str = READY_RE, serial_log: Optional[str] = None,
              echo: bool = False) -> GuestRun:
    """Boot once and parse the serial output; never raises on guest failure."""
    run = qemu.run_qemu(cfg, timeout=timeout, ready_re=ready_re,
                        serial_log=serial_log, echo=echo)
    lines = run.text()
    errors = results.bench_errors(lines)
    if run.timed_out:
        errors.append(f"timeout after {timeout:.0f} s")
    if run.ready_match is None:
        errors.append("no ready line")
    return GuestRun(cfg, run, results.parse_bench_lines(lines), errors)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="boot the Linux guest, collect BENCH lines")
    ap.add_argument("--icount", dest="icount", action="store_true", default=True)
    ap.add_argument("--no-icount", dest="icount", action="store_false")
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--memory", default="512M")
    ap.add_argument("--machine", default="pc")
    ap.add_argument("--kernel", default=DEFAULT_KERNEL)
    ap.add_argument("--initrd", default=DEFAULT_INITRD)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--ready-re", default=READY_RE)
    ap.add_argument("--cmdline-extra", default="")
    ap.add_argument("--serial-log")
    ap.add_argument("--out", default=os.path.join(REPO, "build", "bench", "results.jsonl"),
                    help="append result JSON lines here (default: %(default)s)")
    ap.add_argument("--dry-run", action="store_true", help="print, do not append")
    ap.add_argument("--echo", action="store_true", help="copy serial to stdout")
    ap.add_argument("init_args", nargs="*")
    a = ap.parse_args(argv)
    cfg = guest_config(a.initrd, a.init_args, a.icount, a.smp, a.memory,
                       a.machine, a.kernel, a.cmdline_extra)
    g = run_guest(cfg, a.timeout, a.ready_re, a.serial_log, a.echo)
    recs = g.records()
    for r in recs:
        print(f"{r['name']} {r['value']} {r['unit']} ({r['mode']})")
    if not a.dry_run:
        results.append_results(a.out, recs)
    if a.init_args and not recs:
        g.errors.append("no BENCH line parsed")
    for e in g.errors:
        print(f"run.py: {e}", file=sys.stderr)
    if g.run.ready_time is not None:
        print(f"ready after {g.run.ready_time * 1000:.0f} ms wall")
    return 1 if g.errors else 0


if __name__ == "__main__":
    sys.exit(main())
