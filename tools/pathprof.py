#!/usr/bin/env python3
"""Path-length profile: where the executed instructions of a stretch of a
run go, function by function.

Runs QEMU under TCG with one instruction per translation block and
`-d exec,nochain`, so every executed instruction is logged with its
address, and counts the instructions executed between the first time
the --start address runs and the first time --stop runs afterwards.
Addresses are named from the kernel symbol map (build/hallows.map) and
from the ELF files given with --elf.

  python3 tools/pathprof.py --initrd build/initrd-kbench.cpio \\
      --elf build/user/kbench --start ipc_rounds --stop hl_thread_set_affinity --per 5000

--per divides the counts (e.g. by the number of round trips in the window).
The run is slow (every instruction is logged); use it on small windows.
"""
import argparse
import bisect
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import qemu  # noqa: E402

TRACE_RX = re.compile(rb"^Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/")


def load_symbols(kernel_map, elfs):
    syms = []
    for line in open(kernel_map):
        f = line.split()
        if len(f) >= 3 and f[1] in "tTwW":
            syms.append((int(f[0], 16), f[2]))
    for e in elfs:
        out = subprocess.run(["nm", "-n", e], capture_output=True, text=True, check=True).stdout
        tag = os.path.basename(e)
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 3 and f[1] in "tTwW":
                syms.append((int(f[0], 16), f"{tag}:{f[2]}"))
    syms.sort()
    return [a for a, _ in syms], [n for _, n in syms]


def lookup(addrs, names, name):
    for a, n in zip(addrs, names):
        if n == name or n.endswith(":" + name):
            return a
    sys.exit(f"pathprof: no symbol {name}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", default="build/hallows.elf")
    ap.add_argument("--map", default="build/hallows.map")
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--append", default="test-exit")
    ap.add_argument("--elf", action="append", default=[])
    ap.add_argument("--start", required=True, help="symbol whose first execution opens the window")
    ap.add_argument("--stop", required=True, help="symbol whose first execution after that closes it")
    ap.add_argument("--per", type=float, default=1.0)
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--annotate", help="also list the instructions of this kernel function with their counts")
    a = ap.parse_args()

    addrs, names = load_symbols(a.map, a.elf)
    start, stop = lookup(addrs, names, a.start), lookup(addrs, names, a.stop)
    cfg = qemu.QemuConfig(kernel=a.kernel, initrd=a.initrd, append=a.append, icount=True, smp=a.smp,
                          cpu="max", extra_args=["-singlestep", "-d", "exec,nochain"])
    with tempfile.TemporaryDirectory() as d:
        fifo = os.path.join(d, "trace")
        os.mkfifo(fifo)
        argv = cfg.argv() + ["-D", fifo]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        counts, total, state = Counter(), 0, 0
        with open(fifo, "rb") as f:
            for line in f:
                m = TRACE_RX.match(line)
                if not m:
                    continue
                pc = int(m.group(1), 16)
                if state == 0:
                    if pc != start:
                        continue
                    state = 1
                elif pc == stop:
                    break
                counts[pc] += 1
                total += 1
        proc.kill()
        proc.wait()
    if state == 0:
        sys.exit("pathprof: the start address never ran")
    per_fn = Counter()
    for pc, n in counts.items():
        i = bisect.bisect_right(addrs, pc) - 1
        per_fn[names[i] if i >= 0 else hex(pc)] += n
    print(f"{total / a.per:10.1f}  total instructions per unit ({total} in the window, per {a.per:g})")
    for name, n in per_fn.most_common(a.top):
        print(f"{n / a.per:10.1f}  {name}")
    if a.annotate:
        dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", f"--disassemble={a.annotate}", a.kernel],
                             capture_output=True, text=True, check=True).stdout
        for line in dis.splitlines():
            m = re.match(r"^\s*([0-9a-f]+):\s*(.*)$", line)
            if m:
                n = counts.get(int(m.group(1), 16), 0)
                print(f"{n / a.per:8.2f}  {m.group(1)}  {m.group(2)}")


if __name__ == "__main__":
    main()
