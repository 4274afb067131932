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

The same blktest program on the other two disk controllers (it picks the
driver by PCI class and id):
  ahci_poll   q35's own AHCI HBA (00:1f.2) with an ide-hd disk, NCQ, polled
  ahci_irq    the same HBA with two disks (ports 0 and 2), MSI: both
              written whole and both images checked
  ahci_vtd    ahci_irq's program behind intel-iommu (VT-d, interrupt remapping on), one disk
  ahci_kill   flush, SIGKILL, the image holds the new seed
  vblk_poll   virtio-blk-pci (modern only, 1af4:1042), 2 queues, polled
  vblk_irq    the same, MSI-X per queue, 4 KiB logical blocks
  vblk_vtd    behind intel-iommu (interrupt remapping on) with iommu_platform=on
  vblk_readonly  readonly=on: VIRTIO_BLK_F_RO, every write fails in the
              device with BLKDEV_E_IO, the image stays zero
  vblk_kill   flush, SIGKILL, the image holds the new seed

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


def host_check(a, name, img, log, nsid=1, bs_re=None):
    """blk-check over img with the block size, seed and zeroed range (namespace 1) the run printed."""
    text = open(log, errors="replace").read() if os.path.exists(log) else ""
    bs = re.search(bs_re or rf"nvme0n{nsid}: namespace {nsid}, \d+ blocks of (\d+) bytes", text)
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


def booted_run(a, name, initrd, img, expect_irq, img2=None, readonly=False, props="", expect=(), iommu=False,
               drive=None, driver_expect=None):
    log = os.path.join(a.dir, f"{name}.log")
    if driver_expect is None:
        driver_expect = [r"^nvme: QEMU NVMe Ctrl, serial hallows0", r"^nvme: nvme0n1: namespace 1, ",
                         r"^nvme: \d+ I/O queue pairs of \d+ entries, " + ("MSI-X" if expect_irq else "polled")]
    cmd = ["python3", os.path.join(ROOT, "tools", "qemu_run.py"), "--name", f"drivers-blk.{name}", "--smp", "2",
           "--mem", "512M", "--kernel", a.kernel, "--initrd", initrd, "--append", "", "--timeout", "300",
           "--log", log, "--tap", a.tap,
           "--expect", r"^# blktest: \d+ cases, 0 failed, 0 unexpected controller resets",
           "--reject", r"unhandled fault", "--reject", r'no "init"']
    for x in driver_expect:
        cmd += ["--expect", x]
    if img2:
        cmd += ["--expect", r"^nvme: nvme0n2: namespace 2, \d+ blocks of 4096 bytes"]
    for x in expect:
        cmd += ["--expect", x]
    if iommu:  # the unit first: QEMU puts the devices after it behind it
        # intremap=on: the drivers' MSI (AHCI) and MSI-X (virtio-blk) go through interrupt remapping
        cmd += ["--qemu-arg=-device", "--qemu-arg=intel-iommu,intremap=on", "--expect", r"iommu: VT-d at .*: DMA remapping on",
                "--expect", r"iommu: interrupt remapping on", "--reject", r"iommu: (DMA|interrupt) fault"]
    for x in drive or drive_args(img, img2, readonly, props):
        cmd.append("--qemu-arg=" + x)  # joined: argparse takes "-drive" for an option otherwise
    subprocess.run(cmd)
    return log


def ahci_args(imgs):
    """ide-hd disks on q35's own AHCI HBA: the first on port 0, the second on port 2."""
    out = []
    for i, img in enumerate(imgs):
        out += ["-drive", f"file={img},if=none,id=a{i},format=raw", "-device", f"ide-hd,drive=a{i},bus=ide.{2 * i}"]
    return out


def vblk_args(img, readonly=False, props=""):
    ro = ",readonly=on" if readonly else ""
    return ["-drive", f"file={img},if=none,id=v0,format=raw{ro}",
            "-device", f"virtio-blk-pci,drive=v0,disable-legacy=on,num-queues=2{props}"]


AHCI_BS = r"ahci: port 0: sda: .*, \d+ blocks of (\d+) bytes"
VBLK_BS = r"virtio-blk: .* \d+ blocks of (\d+) bytes"


def ahci_expect(irq, ndisks=1):
    x = [r"^ahci: AHCI 1\.0, 6 ports .*NCQ", r"^ahci: port 0: sda: QEMU HARDDISK, .*, NCQ, 32 slots, .*mode " +
         ("interrupt \(MSI\)" if irq else "polled"), r"ok \d+ device_errors_reported_per_request",
         r"ahci: port 0: NCQ error, status 0x\w+ error 0x04; port reset, \d+ queued commands issued again",
         r"ahci: port 0: task-file error, .* on read of \d+ blocks at \d+"]
    if ndisks > 1:
        x.append(r"^ahci: port 2: sdb: QEMU HARDDISK")
    return x


def vblk_expect(irq, bs=512, readonly=False):
    return [r"^virtio-blk: 00:\w\w\.0 1af4:1042 virtio-blk \(virtio 1\.x modern PCI\), \d+ blocks of " + str(bs) +
            r" bytes .*2 queues of 32 requests \(indirect descriptors\), mode " +
            ("interrupt \(MSI-X per queue\)" if irq else "polled") + (r"" if readonly else r", flush, write-zeroes")] + \
        ([] if readonly else [r"ok \d+ queue_per_cpu_in_parallel$", r"ok \d+ device_errors_reported_per_request"])


def kill_run(a, prefix="", drive=None):
    """Boot the kill configuration, SIGKILL QEMU at the flush line, check the image."""
    img = os.path.join(a.dir, f"{prefix}kill.img")
    make_image(img, 8 << 20)
    log_path = os.path.join(a.dir, f"{prefix}kill.log")
    cmd = ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "512M",
           "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", a.kernel, "-append", "",
           "-initrd", os.path.join(a.dir, "initrd-kill.cpio")] + (drive(img) if drive else drive_args(img))
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
        tap(a, False, f"{prefix}kill.killed_after_flush", f"no flush line; see {log_path}")
        return
    tap(a, True, f"{prefix}kill.killed_after_flush")
    r = subprocess.run([a.check, img, "512", str(SEEDS["kill"])], capture_output=True, text=True)
    tap(a, r.returncode == 0, f"{prefix}kill.flushed_data_survives_sigkill", (r.stdout + r.stderr).strip())


def other_controllers(a):
    """The AHCI and virtio-blk runs (see the module docstring)."""
    poll, irq = os.path.join(a.dir, "initrd-poll.cpio"), os.path.join(a.dir, "initrd-irq.cpio")
    img = os.path.join(a.dir, "ahci_poll.img")
    make_image(img, 8 << 20)
    log = booted_run(a, "ahci_poll", poll, img, False, drive=ahci_args([img]), driver_expect=ahci_expect(False))
    host_check(a, "ahci_poll", img, log, bs_re=AHCI_BS)
    img, img2 = os.path.join(a.dir, "ahci_irq.img"), os.path.join(a.dir, "ahci_irq2.img")
    make_image(img, 8 << 20)
    make_image(img2, 3 << 20)
    log = booted_run(a, "ahci_irq", irq, img, True, drive=ahci_args([img, img2]), driver_expect=ahci_expect(True, 2))
    host_check(a, "ahci_irq", img, log, bs_re=AHCI_BS)
    host_check(a, "ahci_irq.sdb", img2, log, nsid=2, bs_re=r"ahci: port 2: sdb: .*, \d+ blocks of (\d+) bytes")
    img = os.path.join(a.dir, "ahci_vtd.img")
    make_image(img, 4 << 20)
    log = booted_run(a, "ahci_vtd", irq, img, True, iommu=True, drive=ahci_args([img]),
                     driver_expect=ahci_expect(True))
    host_check(a, "ahci_vtd", img, log, bs_re=AHCI_BS)
    kill_run(a, "ahci_", lambda i: ahci_args([i]))
    img = os.path.join(a.dir, "vblk_poll.img")
    make_image(img, 8 << 20)
    log = booted_run(a, "vblk_poll", poll, img, False, drive=vblk_args(img), driver_expect=vblk_expect(False))
    host_check(a, "vblk_poll", img, log, bs_re=VBLK_BS)
    img = os.path.join(a.dir, "vblk_irq.img")
    make_image(img, 8 << 20)
    log = booted_run(a, "vblk_irq", irq, img, True,
                     drive=vblk_args(img, props=",logical_block_size=4096,physical_block_size=4096"),
                     driver_expect=vblk_expect(True, 4096))
    host_check(a, "vblk_irq", img, log, bs_re=VBLK_BS)
    img = os.path.join(a.dir, "vblk_vtd.img")
    make_image(img, 4 << 20)
    log = booted_run(a, "vblk_vtd", irq, img, True, iommu=True, drive=vblk_args(img, props=",iommu_platform=on"),
                     driver_expect=vblk_expect(True))
    host_check(a, "vblk_vtd", img, log, bs_re=VBLK_BS)
    img = os.path.join(a.dir, "vblk_readonly.img")
    make_image(img, 1 << 20)
    booted_run(a, "vblk_readonly", os.path.join(a.dir, "initrd-readonly.cpio"), img, False,
               drive=vblk_args(img, readonly=True), driver_expect=vblk_expect(False, readonly=True) + [r", read-only,"])
    r = subprocess.run([a.check, img, "512", "0", "0", str(2048)], capture_output=True, text=True)
    tap(a, r.returncode == 0, "vblk_readonly.image_untouched", (r.stdout + r.stderr).strip())
    kill_run(a, "vblk_", lambda i: vblk_args(i))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--dir", required=True, help="build directory with initrd-{poll,irq,kill}.cpio")
    ap.add_argument("--check", required=True, help="the blk-check program")
    ap.add_argument("--tap", required=True)
    ap.add_argument("--only", choices=["nvme", "others"], help="only the NVMe runs, or only AHCI and virtio-blk")
    a = ap.parse_args()
    if a.only != "nvme":
        other_controllers(a)
    if a.only == "others":
        return
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
