#!/usr/bin/env python3
"""Linux system calls, Hallows personality beside the Linux guest.

The same static binary (tests/linux/bench_getpid.c) runs under the Linux
personality on Hallows and as /init of the Linux guest, both under
-icount shift=0; each prints
    BENCH lxabi.<hallows|linux>.<figure>_instructions <n> instructions
for getpid, pipe_roundtrip, unix_roundtrip (an AF_UNIX socketpair),
fork_exit_wait, fork_execve_wait, file_read_4k and busybox_script_1000, which go to --out as JSON lines
(tools/bench/results.py). The guest gets /bin/busybox and the script
/etc/bench1000.sh as the personality's file tree has them.
"""
FIGURES = 7
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "linux-guest"))
sys.path.insert(0, os.path.dirname(__file__))
import run as lg  # noqa: E402
from bench import qemu, results  # noqa: E402


def hallows(kernel, initrd):
    """The personality's figure, in the kernel benchmarks' QEMU configuration (machine pc)."""
    cfg = qemu.QemuConfig(kernel=kernel, initrd=initrd, append="test-exit", icount=True, smp=1,
                          cpu="max")
    run = qemu.run_qemu(cfg, timeout=300, stop_re=r"^linux: all [0-9]+ commands done")
    config = dict(cfg.describe(), program="tests/linux/bench_getpid.c under user/linux")
    return [results.make_result(b["name"], b["value"], b["unit"], cfg.mode(), config)
            for b in results.parse_bench_lines([t for _, t in run.lines])
            if ".hallows." in b["name"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True, help="Hallows boot module running bench_getpid")
    ap.add_argument("--binary", required=True, help="the static benchmark binary")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs("build/linux/bench", exist_ok=True)
    recs = hallows(a.kernel, a.initrd)
    guest_initrd = "build/linux/bench/guest-initrd.cpio"
    subprocess.run([sys.executable, "tools/linux-guest/mkinitramfs.py", "--init", a.binary,
                    "--file", "/bin/busybox=/bin/busybox",
                    "--file", "/etc/bench1000.sh=tests/linux/root/etc/bench1000.sh",
                    "--out", guest_initrd], check=True)
    g = lg.run_guest(lg.guest_config(initrd=guest_initrd, icount=True, smp=1), timeout=300,
                     ready_re=r"^BENCH", serial_log="build/linux/bench/guest.log")
    recs += g.records({"smp": 1})
    if g.errors or len(recs) != 2 * FIGURES:
        print("bench-linux-personality: missing figures: %s" % (g.errors or recs), file=sys.stderr)
        return 1
    results.append_results(a.out, recs)
    for r in recs:
        print("%s %s %s" % (r["name"], r["value"], r["unit"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
