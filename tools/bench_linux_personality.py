#!/usr/bin/env python3
"""Linux system-call round trip, Hallows personality beside the Linux guest.

The same static binary (tests/linux/bench_getpid.c) runs under the Linux
personality on Hallows and as /init of the Linux guest, both under
-icount shift=0; each prints
    BENCH lxabi.<hallows|linux>.getpid_instructions <n> instructions
which goes to --out as JSON lines (tools/bench/results.py).
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "linux-guest"))
sys.path.insert(0, os.path.dirname(__file__))
import run as lg  # noqa: E402
from bench import results  # noqa: E402


def hallows(kernel, initrd, log):
    subprocess.run([sys.executable, "tools/qemu_run.py", "--name", "linux-personality-bench",
                    "--kernel", kernel, "--initrd", initrd, "--smp", "1", "--icount",
                    "--append", "test-exit", "--timeout", "180", "--log", log], check=False)
    text = open(log, errors="replace").read() if os.path.exists(log) else ""
    recs = []
    for m in re.finditer(r"BENCH (lxabi\.hallows\.\S+) (\d+) (\S+)", text):
        recs.append(results.make_result(m.group(1), int(m.group(2)), m.group(3), "tcg-icount",
                                        {"smp": 1, "server": "root task, same CPU"}))
    return recs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True, help="Hallows boot module running bench_getpid")
    ap.add_argument("--binary", required=True, help="the static benchmark binary")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs("build/linux/bench", exist_ok=True)
    recs = hallows(a.kernel, a.initrd, "build/linux/bench/hallows.log")
    guest_initrd = "build/linux/bench/guest-initrd.cpio"
    subprocess.run([sys.executable, "tools/linux-guest/mkinitramfs.py", "--init", a.binary,
                    "--out", guest_initrd], check=True)
    g = lg.run_guest(lg.guest_config(initrd=guest_initrd, icount=True, smp=1), timeout=300,
                     ready_re=r"^BENCH", serial_log="build/linux/bench/guest.log")
    recs += g.records({"smp": 1})
    if g.errors or len(recs) != 2:
        print("bench-linux-personality: missing figures: %s" % (g.errors or recs), file=sys.stderr)
        return 1
    results.append_results(a.out, recs)
    for r in recs:
        print("%s %s %s" % (r["name"], r["value"], r["unit"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
