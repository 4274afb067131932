#!/usr/bin/env python3
"""Check the ACPI parser against the tables QEMU's firmware really builds.

For each machine below: boot QEMU (SeaBIOS, no disk) until the RSDP shows up
in the BIOS area, dump guest RAM from physical 0 over QMP, run acpi_dump on
the dump (the real parser: BIOS scan, then acpi_parse) and compare what it
reports with what the machine was started with and what QEMU's chipset
models put in their tables. One TAP line per machine; "# SKIP" without QEMU.

Usage: qemu_tables.py ACPI_DUMP_BINARY WORKDIR
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

MEM_MB = 32
BOOT_TIMEOUT = 30.0

# Expected parser output: key -> value as acpi_dump prints it.
COMMON = {
    "parse": "0", "bad_tables": "0", "lapic": "0xfee00000", "pcat": "1",
    "nioapics": "1", "ioapic0": "0xfec00000 0", "nisos": "5",
    "iso0": "0 2 0x0", "iso1": "5 5 0xd", "iso4": "11 11 0xd",
    "fadt": "1", "sci": "9", "smi_cmd": "0xb2", "pm1a_cnt": "0x604",
    "pm1b_cnt": "0x0", "s5": "1 0 0", "hpet": "1 0xfed00000",
}
MACHINES = [
    # i440fx/PIIX4: ACPI 1.0 FADT (no RESET_REG), no MCFG; 2 of 4 CPUs present.
    ("pc", ["-M", "pc", "-smp", "2,maxcpus=4"], dict(COMMON, **{
        "ncpus": "2", "cpu0": "0", "cpu1": "1", "acpi_enable": "0xf1",
        "reset": "0 0 0x0 0x0", "nmcfg": "0"})),
    # q35/ICH9: FADT with RESET_REG 0xCF9, MCFG at 0xB0000000.
    ("q35", ["-M", "q35", "-smp", "3"], dict(COMMON, **{
        "ncpus": "3", "cpu2": "2", "acpi_enable": "0x2", "iapc_boot_arch": "0x2",
        "reset": "1 1 0xcf9 0xf", "nmcfg": "1", "mcfg0": "0xb0000000 0 0 255"})),
]


class Qmp:
    """Minimal synchronous QMP client over a unix socket."""

    def __init__(self, path):
        deadline = time.time() + 10
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.buf = b""
        self.recv()  # greeting
        self.cmd("qmp_capabilities")

    def recv(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("QMP closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        self.sock.sendall(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        while True:
            msg = self.recv()
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise RuntimeError(f"{name}: {msg['error']}")


def has_rsdp(path):
    data = open(path, "rb").read()
    return any(data[i:i + 8] == b"RSD PTR " for i in range(0, len(data), 16))


def dump_machine(name, qemu_args, work):
    """Boot, wait for the RSDP, dump RAM; returns the dump path."""
    tmp = tempfile.mkdtemp(prefix="acpi-qmp-")
    sock = os.path.join(tmp, "qmp.sock")
    dump = os.path.join(work, f"qemu-{name}.bin")
    probe = os.path.join(work, f"qemu-{name}-bios.bin")
    cmd = ["qemu-system-x86_64", *qemu_args, "-m", str(MEM_MB), "-nodefaults",
           "-display", "none", "-serial", "none", "-no-reboot",
           "-qmp", f"unix:{sock},server=on,wait=off"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        qmp = Qmp(sock)
        deadline = time.time() + BOOT_TIMEOUT
        while True:
            qmp.cmd("pmemsave", val=0xE0000, size=0x20000, filename=probe)
            if has_rsdp(probe):
                break
            if time.time() > deadline:
                raise TimeoutError("no RSDP in the BIOS area")
            time.sleep(0.2)
        time.sleep(0.2)  # the RSDP is written last; let POST settle anyway
        qmp.cmd("pmemsave", val=0, size=MEM_MB << 20, filename=dump)
        qmp.cmd("quit")
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.exists(probe):
            os.remove(probe)
    return dump


def check(name, qemu_args, want, tool, work):
    try:
        dump = dump_machine(name, qemu_args, work)
        out = subprocess.run([tool, dump], capture_output=True, text=True, timeout=60)
        os.remove(dump)
    except Exception as e:  # any failure to produce a result is a failed test
        return f"not ok - acpi_qemu_{name}_tables # error: {e}"
    got = {}
    for line in out.stdout.splitlines():
        if line and not line.startswith("#"):
            key, _, val = line.partition(" ")
            got[key] = val
    bad = [f"{k}: want {v!r} got {got.get(k)!r}" for k, v in want.items() if got.get(k) != v]
    if out.returncode != 0:
        bad.append(f"acpi_dump exit {out.returncode}: {out.stderr.strip()[-300:]}")
    if bad:
        for b in bad:
            print(f"# {name}: {b}")
        return f"not ok - acpi_qemu_{name}_tables"
    return f"ok - acpi_qemu_{name}_tables"


def main():
    tool, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    if shutil.which("qemu-system-x86_64") is None:
        for name, _, _ in MACHINES:
            print(f"ok - acpi_qemu_{name}_tables # SKIP qemu-system-x86_64 not installed")
        return 0
    for name, args, want in MACHINES:
        print(check(name, args, want, tool, work), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
