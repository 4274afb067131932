#!/usr/bin/env python3
"""Linux-guest driver benchmarks for `make bench-linux-drivers` (docs/benchmarks.md).

  bench_drivers.py --initrd build/linux-guest/initrd-blk.cpio --out build/bench/results.jsonl
      nvme.linux.read_4k_qd{1,32}_instructions
      ahci.linux.read_4k_qd{1,32}_instructions
      virtio_blk.linux.read_4k_qd{1,32}_instructions
      netdrv.linux.<virtio|e1000|e1000e>_tx_rx_instructions  (60-byte frame out and back, AF_PACKET, lg_net.c)
      netdrv.linux.<virtio|e1000|e1000e>_tx_instructions     (sent alone: to a MAC the device filters out)
      netdrv.linux.<virtio|e1000|e1000e>_rx_instructions     (tx_rx - tx)
      <drv>.hallows.read_4k_qd<N>_vs_linux_ratio   (Hallows / Linux)

The same QEMU disk as tests/system/blk/bench.py (the Hallows figures): an
8 MiB sparse raw image, -device nvme / ich9-ahci + ide-hd / virtio-blk-pci,disable-legacy=on,
-cpu max, -machine pc -m 512M -smp 1, -icount shift=0,sleep=off. The guest
/init (lg_blk.c) loads the driver modules, does 64 warm-up reads then 2,000
random 4 KiB O_DIRECT reads (QD1: pread; QD32: Linux AIO) and prints the
TSC delta less the idle time per read. Each device is booted RUNS times and
the smallest value recorded: timer interrupts that land in the interval
only ever add instructions (more of them when the host is loaded and the
I/O takes longer in host time), so the minimum is the least disturbed run;
every run's value is in the record's config.
The ratios use the newest Hallows figure of the same name in --out (from
`make bench-blk`, `make bench-drivers-net`); a missing one is reported and
its ratio skipped. virtio-net, e1000 and e1000e: -netdev socket looped back
to itself on 127.0.0.1, as tools/bench_drivers_net.py.
"""
import argparse
import dataclasses
import json
import os
import socket
import sys

import run as lg

from bench import results

RUNS = 3


def free_udp_port():
    """A UDP port on loopback that nothing uses now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def net_args(model):
    """A callable: NIC model with a -netdev socket looped back to itself (tools/bench_drivers_net.py)."""
    def args():
        loop = f"127.0.0.1:{free_udp_port()}"
        return ["-netdev", f"socket,id=n0,udp={loop},localaddr={loop}", "-device", f"{model},netdev=n0"]
    return args


# Linux figure -> Hallows figure of the same path, where the names differ.
# A tuple: the Hallows figures summed (ratio named after the Linux figure).
HALLOWS_OF = {}
for _dev in ("virtio", "e1000", "e1000e"):
    HALLOWS_OF[f"netdrv.linux.{_dev}_tx_rx_instructions"] = (f"netdrv.hallows.{_dev}_tx_batch1_instructions",
                                                             f"netdrv.hallows.{_dev}_rx_instructions")
    HALLOWS_OF[f"netdrv.linux.{_dev}_tx_instructions"] = (f"netdrv.hallows.{_dev}_tx_batch1_instructions",)
DEVICES = {  # name prefix -> (QEMU device args, /init benchmarks); a callable for fresh args per boot
    "nvme": (["-device", "nvme,serial=hallows0,drive=d0"], ["nvme_qd1", "nvme_qd32"]),
    "ahci": (["-device", "ich9-ahci,id=ahci", "-device", "ide-hd,drive=d0,bus=ahci.0"], ["ahci_qd1", "ahci_qd32"]),
    "virtio_blk": (["-device", "virtio-blk-pci,drive=d0,disable-legacy=on"], ["vblk_qd1", "vblk_qd32"]),
    "virtio_net": (net_args("virtio-net-pci"), ["vnet"]),
    "e1000": (net_args("e1000"), ["e1000"]),
    "e1000e": (net_args("e1000e"), ["e1000e"]),
}


def run_device(initrd, image, dev, benches, timeout):
    """RUNS boots; returns ({name: [values]}, {name: extra of the first run}, cfg)."""
    values, extras, cfg = {}, {}, None
    for _ in range(RUNS):
        with open(image, "wb") as f:
            f.truncate(8 << 20)
        if callable(dev):
            extra = dev()
        else:
            extra = ["-drive", f"file={image},if=none,id=d0,format=raw"] + dev
        cfg = lg.guest_config(initrd, benches, extra_args=extra)
        cfg = dataclasses.replace(cfg, cpu="max")
        g = lg.run_guest(cfg, timeout=timeout)
        if g.errors:
            raise RuntimeError("; ".join(g.errors))
        for b in g.benches:
            values.setdefault(b["name"], []).append(b["value"])
            extras.setdefault(b["name"], b["extra"])
    return values, extras, cfg


def latest(path):
    known = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                known[r.get("name")] = r.get("value")
    return known


def main(argv=None):
    ap = argparse.ArgumentParser(description="Linux-guest driver benchmarks")
    ap.add_argument("--initrd", default=os.path.join(lg.REPO, "build", "linux-guest", "initrd-blk.cpio"))
    ap.add_argument("--image", default=os.path.join(lg.REPO, "build", "linux-guest", "bench-blk.img"))
    ap.add_argument("--out", default=os.path.join(lg.REPO, "build", "bench", "results.jsonl"))
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--device", action="append", choices=sorted(DEVICES),
                    help="only these devices (default: all)")
    a = ap.parse_args(argv)
    os.makedirs(os.path.dirname(os.path.abspath(a.image)), exist_ok=True)
    recs, failed = [], []
    for drv in a.device or list(DEVICES):
        dev, benches = DEVICES[drv]
        try:
            values, extras, cfg = run_device(a.initrd, a.image, dev, benches, a.timeout)
        except RuntimeError as e:
            failed.append(f"{drv}: {e}")
            continue
        if len(values) < len(benches) or any(len(v) != RUNS for v in values.values()):
            failed.append(f"{drv}: expected {len(benches)} figures x {RUNS} runs, got {values}")
            continue
        for name, vals in sorted(values.items()):
            conf = cfg.describe()
            conf.update(extras[name])
            prog = "lg_net.c" if name.startswith("netdrv.") else "lg_blk.c"
            conf.update(runs=vals, statistic=f"min of {RUNS} boots", program=f"tools/linux-guest/init/{prog}",
                        counted="TSC delta less kernel idle+iowait time (/proc/timer_list)")
            recs.append(results.make_result(name, min(vals), "instructions", cfg.mode(), conf))
    known = latest(a.out)
    for r in list(recs):
        hnames = HALLOWS_OF.get(r["name"], (r["name"].replace(".linux.", ".hallows."),))
        missing = [h for h in hnames if h not in known]
        if missing or not r["value"]:
            print(f"bench_drivers: no {', '.join(missing)} in {a.out}; ratio skipped "
                  "(run make bench-blk and bench-drivers-net)")
            continue
        hvalue = sum(known[h] for h in hnames)
        ratio_name = r["name"].replace(".linux.", ".hallows.").replace("_instructions", "_vs_linux_ratio")
        recs.append(results.make_result(ratio_name, round(hvalue / r["value"], 4), "ratio", "tcg-icount",
                                        {"hallows": " + ".join(hnames), "hallows_value": hvalue,
                                         "linux": r["name"], "goal": "<= 0.2 (5x fewer)"}))
    results.append_results(a.out, recs)
    for r in recs:
        print(f"{r['name']} {r['value']} {r['unit']}")
    for f in failed:
        print(f"bench_drivers: {f}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
