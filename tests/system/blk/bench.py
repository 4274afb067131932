#!/usr/bin/env python3
"""Bench step blk: instructions per 4 KiB read through each ring-3 block
driver (NVMe, AHCI with NCQ, virtio-blk) at queue depth 1 and 32, polled,
under TCG -icount shift=0 in the standard bench QEMU configuration
(tools/bench/qemu.py, -machine pc) plus one disk: -device nvme, an
ich9-ahci HBA with an ide-hd disk, or virtio-blk-pci (modern). blktest
(bench=1) picks the driver by PCI class and prints the BENCH lines; they
are appended to --out.

The Linux guest's side of the comparison (O_DIRECT or io_uring reads from
a static program in its initramfs) is not written yet; no ratio is
recorded until it is.
"""
import argparse
import os
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from bench import qemu, results  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    drive = ["-drive", f"file={a.image},if=none,id=d0,format=raw"]
    devices = {
        "nvme": ["-device", "nvme,serial=hallows0,drive=d0"],
        "ahci": ["-device", "ich9-ahci,id=ahci", "-device", "ide-hd,drive=d0,bus=ahci.0"],
        "virtio_blk": ["-device", "virtio-blk-pci,drive=d0,disable-legacy=on"],
    }
    failed = []
    for drv, dev in devices.items():
        with open(a.image, "wb") as f:
            f.truncate(8 << 20)
        cfg = qemu.QemuConfig(kernel=a.kernel, initrd=a.initrd, append="", icount=True, smp=1, cpu="max",
                              extra_args=drive + dev)
        run = qemu.run_qemu(cfg, timeout=600, stop_re=r"^BENCH-(DONE|ERROR)")
        lines = [t for _, t in run.lines]
        errs = results.bench_errors(lines)
        recs = [results.make_result(b["name"], b["value"], b["unit"], cfg.mode(),
                                    dict(cfg.describe(), program="user/apps/blktest (bench=1)", mode="polled",
                                         reads=2000, counted="submit + polls that found completions"))
                for b in results.parse_bench_lines(lines)]
        if errs or len(recs) != 2 or not all(r["name"].startswith(drv + ".") for r in recs):
            failed.append(f"{drv}: blktest did not finish:\n" + "\n".join(errs + lines[-20:]))
            continue
        results.append_results(a.out, recs)
        for r in recs:
            print(r["name"], r["value"], r["unit"])
    if failed:
        sys.exit("bench blk: " + "\n".join(failed))


if __name__ == "__main__":
    main()
