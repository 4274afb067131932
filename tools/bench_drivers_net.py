#!/usr/bin/env python3
"""Ring-3 NIC driver path length: instructions per sent and per received packet.

Boots netecho in benchmark mode (etc/netecho.conf "bench N", see
user/apps/netecho/bench.c) under TCG with -icount shift=0,sleep=off in the
standard benchmark configuration (tools/bench/qemu.py), once per NIC
(--nic: virtio-net-pci, e1000, e1000e; netecho picks the driver by PCI
ID), each with its backend a UDP socket on 127.0.0.1 sending to itself,
so every frame the driver sends comes back to it. Records the guest's
BENCH lines (netdrv.hallows.<virtio|e1000|e1000e>_...).

With --irq-initrd (netecho "mode irq", "bench N") it also boots the e1000
and e1000e in interrupt mode on the q35 machine (the kernel derives INTx
routing for q35's ICH9 only): the 82540EM's INTx line and the 82574L's
MSI-X, each interrupt raised through the device's cause-set register and
timed to the waiting driver thread (netdrv.hallows.e1000_intx_to_thread_...,
e1000e_msix_to_thread_..., and the re-arm after each).

The Linux-guest counterpart for virtio-net
(a raw-socket program in the Linux guest's initramfs) and the ratios are
tools/linux-guest/bench_drivers.py (`make bench-linux-drivers`).
"""
import argparse
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import qemu, results  # noqa: E402


def free_udp_port():
    """A UDP port on loopback that nothing uses now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", default="build/hallows.elf")
    ap.add_argument("--initrd", default="build/initrd-netecho-bench.cpio")
    ap.add_argument("--out", default="build/bench/results.jsonl")
    ap.add_argument("--nic", action="append", help="QEMU NIC model (repeat; default: all three)")
    ap.add_argument("--irq-initrd", help="netecho's interrupt-mode bench module (e1000, e1000e on q35)")
    a = ap.parse_args()

    for nic in a.nic or ["virtio-net-pci", "e1000", "e1000e"]:
        bench_nic(a, nic, a.initrd, "pc",
                  "driver calls only: tx + tx_reclaim per sent, rx_poll + rx_post per received")
    if a.irq_initrd:
        for nic in [n for n in (a.nic or ["e1000", "e1000e"]) if n.startswith("e1000")]:
            bench_nic(a, nic, a.irq_initrd, "q35",
                      "from the write of the device's cause-set register (ICS) to the waiting driver "
                      "thread's first instruction; re-arm = irq_arm (ICR cleared, INTx acknowledged)")


def bench_nic(a, nic, initrd, machine, counted):
    port = free_udp_port()
    loop = f"127.0.0.1:{port}"
    cfg = qemu.QemuConfig(kernel=a.kernel, initrd=initrd, append="", icount=True, smp=1, cpu="max",
                          machine=machine,
                          extra_args=["-netdev", f"socket,id=n0,udp={loop},localaddr={loop}",
                                      "-device", f"{nic},netdev=n0"])
    run = qemu.run_qemu(cfg, timeout=300, stop_re=r"^(BENCH-DONE|netecho: bench:)")
    config = dict(cfg.describe(), program="user/apps/netecho (bench mode)",
                  device=f"{nic}, -netdev socket looped back on 127.0.0.1", counted=counted)
    recs = []
    for b in results.parse_bench_lines([t for _, t in run.lines]):
        recs.append(results.make_result(b["name"], b["value"], b["unit"], cfg.mode(), dict(config, **b.get("extra", {}))))
    if not recs or not run.search(r"^BENCH-DONE"):
        sys.exit(f"bench_drivers_net: netecho did not finish on {nic}:\n" + "\n".join(t for _, t in run.lines[-20:]))
    results.append_results(a.out, recs)
    for r in recs:
        print(f"{r['name']} {r['value']} {r['unit']}")


if __name__ == "__main__":
    main()
