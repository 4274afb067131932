#!/usr/bin/env python3
"""Test group drivers-blk: blktest (user/apps/blktest) drives QEMU's NVMe
disk through the ring-3 NVMe driver, then the host checks the raw image.

  poll, irq   one boot each (blktest.conf mode=poll / mode=irq; irq with
              mdts=0, so the largest request chains PRP list pages): the
              program's own KTAP cases, then blk-check over the image
              (pattern of the run's seed everywhere, zeros where
              write-zeroes went)
  readonly    a disk QEMU opens read-only: every write completes with an
              I/O error (no reset), reads still work, the image stays zero
  kill        blktest writes the whole disk with a new seed, flushes and
              prints "blktest: flush completed"; QEMU is killed with
              SIGKILL at that line and the image must hold the new seed's
              pattern on every block
  small       the poll program on a disk of 64 blocks: whole device, edges,
              errors, still right
  two_namespaces  the irq program on a controller with two namespaces
              (512-byte and 4 KiB blocks): every active namespace is
              found and written whole; both images checked

Images live under --dir and are made fresh per run (truncate). TAP lines
"ok - drivers-blk.<run>.<case>" are appended to --tap.
"""
import argparse
import os
import re
import select
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
SEEDS = {"poll": 1001, "irq": 2002, "kill": 3003}  # as mk/blk.mk writes them into blktest.conf


def tap(a, ok, name, why=""):
    line = f"{'ok' if ok else 'not ok'} - drivers-blk.{name}" + (f" # {why}" if why and ok else "")
    with open(a.tap, "a") as f:
        f.write(line + "\n")
    print(line + ("" if ok or not why else f"  ({why})"))


def make_image(path, size):
    if os.path.exists(path):
        os.unlink(path)
    with open(path, "wb") as f:
        f.truncate(size)


def drive_args(img, img2=None, readonly=False, props=""):
    if not img2:
        ro = ",readonly=on" if readonly else ""
        return ["-drive", f"file={img},if=none,id=d0,format=raw{ro}",
                "-device", f"nvme,serial=hallows0,drive=d0{props}"]
    # Two namespaces on one controller, the second with 4 KiB blocks.
    return ["-drive", f"file={img},if=none,id=d0,format=raw", "-drive", f"file={img2},if=none,id=d1,format=raw",
            "-device", "nvme,id=nvme0,serial=hallows0", "-device", "nvme-ns,drive=d0,bus=nvme0,nsid=1",
            "-device", "nvme-ns,drive=d1,bus=nvme0,nsid=2,logical_block_size=4096,physical_block_size=4096"]


def host_check(a, name, img, log, nsid=1):
    """blk-check over img with the block size, seed and zeroed range (namespace 1) the run printed."""
    text = open(log, errors="replace").read() if os.path.exists(log) else ""
    bs = re.search(rf"nvme0n{nsid}: namespace {nsid}, \d+ blocks of (\d+) bytes", text)
    seed = re.search(r"blktest: mode \w+, seed (\d+)", text)
    if not bs or not seed:
        tap(a, False, f"{name}.image_checked_from_host", "the run did not print its block size and seed")
        return
    cmd = [a.check, img, bs.group(1), seed.group(1)]
    z = re.search(r"blktest: zeroed blocks (\d+)-(\d+)", text)
    if z and nsid == 1:
        cmd += [z.group(1), str(int(z.group(2)) - int(z.group(1)) + 1)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    tap(a, r.returncode == 0, f"{name}.image_checked_from_host", (r.stdout + r.stderr).strip())


def booted_run(a, name, initrd, img, expect_irq, img2=None, readonly=False, props="", expect=(), iommu=False):
    log = os.path.join(a.dir, f"{name}.log")
    cmd = ["python3", os.path.join(ROOT, "tools", "qemu_run.py"), "--name", f"drivers-blk.{name}", "--smp", "2",
           "--mem", "512M", "--kernel", a.kernel, "--initrd", initrd, "--append", "", "--timeout", "300",
           "--log", log, "--tap", a.tap,
           "--expect", r"^nvme: QEMU NVMe Ctrl, serial hallows0", "--expect", r"^nvme: nvme0n1: namespace 1, ",
           "--expect", r"^nvme: \d+ I/O queue pairs of \d+ entries, " + ("MSI-X" if expect_irq else "polled"),
           "--expect", r"^# blktest: \d+ cases, 0 failed, 0 unexpected controller resets",
           "--reject", r"unhandled fault", "--reject", r'no "init"']
    if img2:
        cmd += ["--expect", r"^nvme: nvme0n2: namespace 2, \d+ blocks of 4096 bytes"]
    for x in expect:
        cmd += ["--expect", x]
    if iommu:  # the unit first: QEMU puts the devices after it behind it
        cmd += ["--qemu-arg=-device", "--qemu-arg=intel-iommu,intremap=off", "--expect", r"iommu: VT-d at .*: DMA remapping on",
                "--reject", r"iommu: DMA fault"]
    for x in drive_args(img, img2, readonly, props):
        cmd.append("--qemu-arg=" + x)  # joined: argparse takes "-drive" for an option otherwise
    subprocess.run(cmd)
    return log


def kill_run(a):
    """Boot the kill configuration, SIGKILL QEMU at the flush line, check the image."""
    img = os.path.join(a.dir, "kill.img")
    make_image(img, 8 << 20)
    log_path = os.path.join(a.dir, "kill.log")
    cmd = ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "512M",
           "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", a.kernel, "-append", "",
           "-initrd", os.path.join(a.dir, "initrd-kill.cpio")] + drive_args(img)
    with open(log_path, "w") as log:
        log.write("# " + " ".join(cmd) + "\n")
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        buf, killed, end = b"", False, time.monotonic() + 300
        while not killed and time.monotonic() < end and p.poll() is None:
            r, _, _ = select.select([p.stdout], [], [], 0.5)
            if not r:
                continue
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            log.write(chunk.decode(errors="replace"))
            buf += chunk
            if re.search(rb"blktest: flush completed \(seed \d+\)\r?\n", buf):
                os.kill(p.pid, signal.SIGKILL)
                killed = True
        if p.poll() is None:
            p.kill()
        p.wait()
    if not killed:
        tap(a, False, "kill.killed_after_flush", f"no flush line; see {log_path}")
        return
    tap(a, True, "kill.killed_after_flush")
    r = subprocess.run([a.check, img, "512", str(SEEDS["kill"])], capture_output=True, text=True)
    tap(a, r.returncode == 0, "kill.flushed_data_survives_sigkill", (r.stdout + r.stderr).strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--dir", required=True, help="build directory with initrd-{poll,irq,kill}.cpio")
    ap.add_argument("--check", required=True, help="the blk-check program")
    ap.add_argument("--tap", required=True)
    a = ap.parse_args()
    for mode in ("poll", "irq"):
        img = os.path.join(a.dir, f"{mode}.img")
        make_image(img, 8 << 20)
        # The irq run lifts QEMU's transfer limit (mdts=0): the largest request then needs a
        # chained PRP list (more than 512 entries).
        props, expect = (",mdts=0", [r"max transfer 4088 KiB"]) if mode == "irq" else ("", [])
        log = booted_run(a, mode, os.path.join(a.dir, f"initrd-{mode}.cpio"), img, mode == "irq",
                         props=props, expect=expect)
        host_check(a, mode, img, log)
    # Behind VT-d: the controller reaches only the pages the driver mapped for it, and no DMA faults.
    img = os.path.join(a.dir, "iommu.img")
    make_image(img, 8 << 20)
    log = booted_run(a, "iommu", os.path.join(a.dir, "initrd-irq.cpio"), img, True, iommu=True)
    host_check(a, "iommu", img, log)
    img = os.path.join(a.dir, "small.img")
    make_image(img, 64 * 512)
    log = booted_run(a, "small", os.path.join(a.dir, "initrd-poll.cpio"), img, False)
    host_check(a, "small", img, log)
    img, img2 = os.path.join(a.dir, "ns1.img"), os.path.join(a.dir, "ns2.img")
    make_image(img, 2 << 20)
    make_image(img2, 4 << 20)
    log = booted_run(a, "two_namespaces", os.path.join(a.dir, "initrd-irq.cpio"), img, True, img2)
    host_check(a, "two_namespaces", img, log)
    host_check(a, "two_namespaces.ns2", img2, log, nsid=2)
    img = os.path.join(a.dir, "readonly.img")
    make_image(img, 1 << 20)
    log = booted_run(a, "readonly", os.path.join(a.dir, "initrd-readonly.cpio"), img, False, readonly=True)
    r = subprocess.run([a.check, img, "512", "0", "0", str(2048)], capture_output=True, text=True)
    tap(a, r.returncode == 0, "readonly.image_untouched", (r.stdout + r.stderr).strip())
    kill_run(a)


if __name__ == "__main__":
    sys.exit(main())
