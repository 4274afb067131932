"""Start QEMU with the project's standard benchmark flags and watch its serial.

Generic: used for the Linux guest (tools/linux-guest) and for Hallows. The
standard configuration (docs/benchmarks.md, "QEMU configuration"):

  qemu-system-x86_64 -accel tcg [-icount shift=0,sleep=off]
      -machine pc -m 512M -smp 1 -nodefaults -display none
      -serial stdio -monitor none -no-reboot
      -rtc base=2000-01-01T00:00:00,clock=vm
      -device isa-debug-exit,iobase=0xf4,iosize=0x04
      -kernel K [-initrd I] [-append A] [extra args]

Never KVM: the /dev/kvm of these machines is paravirtual without VT-x.
sleep=off makes icount runs deterministic: when every vCPU is halted the
virtual clock jumps straight to the next timer instead of following the
host clock. The RTC follows the virtual clock from a fixed date for the same
reason. Under icount the guest TSC is the virtual clock: one tick per
executed instruction, plus the virtual time skipped while all vCPUs halt.
"""
import dataclasses
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import socket
from typing import Callable, List, Optional, Sequence, Tuple

ICOUNT_OPTS = "shift=0,sleep=off"
DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04"


@dataclasses.dataclass
class QemuConfig:
    """Everything that decides how one QEMU run looks."""
    kernel: str
    initrd: Optional[str] = None
    append: Optional[str] = None
    icount: bool = False
    machine: str = "pc"
    memory: str = "512M"
    smp: int = 1
    cpu: Optional[str] = None          # None: QEMU's default (qemu64)
    rtc_base: str = "2000-01-01T00:00:00"
    debug_exit: bool = True
    extra_args: Sequence[str] = ()
    qemu: str = "qemu-system-x86_64"

    def mode(self) -> str:
        """Result "mode" field: tcg-icount or tcg."""
        return "tcg-icount" if self.icount else "tcg"

    def argv(self, icount_opts: str = ICOUNT_OPTS) -> List[str]:
        """The full QEMU command line."""
        a = [self.qemu, "-accel", "tcg"]
        if self.icount:
            a += ["-icount", icount_opts]
        a += ["-machine", self.machine, "-m", self.memory, "-smp", str(self.smp)]
        if self.cpu:
            a += ["-cpu", self.cpu]
        a += ["-nodefaults", "-display", "none", "-serial", "stdio",
              "-monitor", "none", "-no-reboot",
              "-rtc", f"base={self.rtc_base},clock=vm"]
        if self.debug_exit:
            a += ["-device", DEBUG_EXIT]
        a += ["-kernel", self.kernel]
        if self.initrd:
            a += ["-initrd", self.initrd]
        if self.append is not None:
            a += ["-append", self.append]
        return a + list(self.extra_args)

    def describe(self) -> dict:
        """A JSON-able summary for the "config" field of a result."""
        d = {"accel": "tcg", "icount": ICOUNT_OPTS if self.icount else None,
             "machine": self.machine, "memory": self.memory, "smp": self.smp,
             "cpu": self.cpu or "qemu64", "kernel": os.path.basename(self.kernel),
             "qemu": qemu_version(self.qemu)}
        if self.initrd:
            d["initrd"] = os.path.basename(self.initrd)
        if self.append is not None:
            d["cmdline"] = self.append
        if self.extra_args:
            d["extra_args"] = list(self.extra_args)
        return d


@dataclasses.dataclass
class QemuRun:
    """What one run produced. Times are seconds since the QEMU process start."""
    argv: List[str]
    lines: List[Tuple[float, str]]
    ready_time: Optional[float]
    ready_match: Optional["re.Match"]
    returncode: Optional[int]
    timed_out: bool
    wall_time: float
    stderr: str

    def text(self) -> List[str]:
        """The serial lines without timestamps."""
        return [l for _, l in self.lines]

    def search(self, pattern: str) -> Optional["re.Match"]:
        """First match of pattern (re.search) over the serial lines."""
        rx = re.compile(pattern)
        for _, line in self.lines:
            m = rx.search(line)
            if m:
                return m
        return None


_versions = {}


def qemu_version(qemu: str = "qemu-system-x86_64") -> str:
    """'7.2.22' or 'unknown'; cached."""
    if qemu not in _versions:
        try:
            out = subprocess.run([qemu, "--version"], capture_output=True,
                                 text=True, timeout=10).stdout
            m = re.search(r"version (\S+)", out)
            _versions[qemu] = m.group(1) if m else "unknown"
        except (OSError, subprocess.SubprocessError):
            _versions[qemu] = "unknown"
    return _versions[qemu]


def _kill(proc: subprocess.Popen) -> None:
    """Kill the QEMU we started (its own process group) if still alive."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _reader(proc, t0, out, ready_rx, stop_rx, state, echo, log, on_line):
    """Collect stdout lines with timestamps; note the ready line; stop on stop_rx."""
    for raw in iter(proc.stdout.readline, b""):
        now = time.monotonic() - t0
        line = raw.decode("utf-8", "replace").rstrip("\r\n").replace("\r", "")
        out.append((now, line))
        if log:
            log.write(f"{now:10.6f} {line}\n")
        if echo:
            print(line, flush=True)
        if on_line:
            on_line(now, line)
        if ready_rx and state["ready_time"] is None:
            m = ready_rx.search(line)
            if m:
                state["ready_time"], state["ready_match"] = now, m
        if stop_rx and stop_rx.search(line):
            _kill(proc)


def run_qemu(cfg: QemuConfig, timeout: float = 120.0,
             ready_re: Optional[str] = None, stop_re: Optional[str] = None,
             serial_log: Optional[str] = None, echo: bool = False,
             argv: Optional[List[str]] = None,
             on_line: Optional[Callable[[float, str], None]] = None) -> QemuRun:
    """Run QEMU until it exits, stop_re matches a line, or timeout seconds pass.

    ready_re: the first serial line matching it (re.search) sets ready_time,
    the seconds from QEMU process start to the moment the line was read.
    serial_log: also write "<seconds> <line>" lines to this file.
    on_line(seconds, line): called from the reader thread for every line as
    it arrives (streaming); keep it short, it must not raise.
    argv: run this command line instead of cfg.argv() (cfg still describes it).
    """
    argv = argv or cfg.argv()
    ready_rx = re.compile(ready_re) if ready_re else None
    stop_rx = re.compile(stop_re) if stop_re else None
    lines: List[Tuple[float, str]] = []
    state = {"ready_time": None, "ready_match": None}
    log = open(serial_log, "w") if serial_log else None
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    err_chunks: List[bytes] = []
    th_out = threading.Thread(target=_reader, args=(proc, t0, lines, ready_rx,
                                                    stop_rx, state, echo, log,
                                                    on_line))
    th_err = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()))
    th_out.start()
    th_err.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(proc)
        proc.wait()
    wall = time.monotonic() - t0
    th_out.join()
    th_err.join()
    if log:
        log.close()
    return QemuRun(argv, lines, state["ready_time"], state["ready_match"],
                   proc.returncode, timed_out, wall,
                   b"".join(err_chunks).decode("utf-8", "replace"))


def _hmp(sock_path: str, command: str, wait: float = 0.3) -> str:
    """Send one HMP command over the monitor socket; return what came back."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(sock_path)
        time.sleep(0.1)
        s.recv(65536)                      # banner and prompt
        s.sendall(command.encode() + b"\n")
        time.sleep(wait)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                data += chunk
                if not chunk or b"(qemu)" in chunk:
                    break
        except socket.timeout:
            pass
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", data.decode("utf-8", "replace"))


def count_instructions_at_stop(cfg: QemuConfig, timeout: float = 120.0,
                               ready_re: Optional[str] = None):
    """Boot with icount record/replay; when the guest stops the VM, read
    QEMU's executed-instruction counter and the vCPU registers.

    The guest stops the VM by powering off (ACPI S5; the run adds
    -no-shutdown so QEMU pauses instead of exiting) or, if cfg adds
    "-device pvpanic -action panic=pause", by a pvpanic write. The counter
    ("info replay" in record mode) counts executed guest instructions only,
    without the virtual time that passes while all vCPUs halt, so comparing
    it with a TSC value the guest left in a register measures that time.

    Returns (instructions or None, "info registers" text, QemuRun).
    """
    tmp = tempfile.mkdtemp(prefix="hallows-rr-")
    sock = os.path.join(tmp, "mon.sock")
    argv = cfg.argv(icount_opts=f"{ICOUNT_OPTS},rr=record,"
                                f"rrfile={os.path.join(tmp, 'rec.bin')}")
    i = argv.index("-monitor")
    argv[i + 1] = f"unix:{sock},server,nowait"
    argv.insert(i + 2, "-no-shutdown")
    result = {}
    th = threading.Thread(target=lambda: result.setdefault(
        "run", run_qemu(cfg, timeout, ready_re, argv=argv)))
    th.start()
    count, regs = None, ""
    deadline = time.monotonic() + timeout
    while th.is_alive() and time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            status = _hmp(sock, "info status")
            if "shutdown" not in status and "panicked" not in status:
                continue
            m = re.search(r"instruction count = (\d+)", _hmp(sock, "info replay"))
            count = int(m.group(1)) if m else None
            regs = _hmp(sock, "info registers")
            _hmp(sock, "quit", wait=0)
        except OSError:
            continue
        break
    th.join()
    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    return count, regs, result["run"]


def register(regs: str, name: str) -> Optional[int]:
    """Value of one register (e.g. "RSI") from "info registers" text."""
    m = re.search(rf"\b{name}=([0-9a-fA-F]+)", regs)
    return int(m.group(1), 16) if m else None
