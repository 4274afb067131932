#!/usr/bin/env python3
"""make bench-serve-linux: the appliances beside the same code in a Linux guest,
one run, the same QEMU configuration and the same host clients (issue 14,
Benchmarks; docs/serve.md "Beside a Linux guest", docs/benchmarks.md).

Both systems boot under
    qemu-system-x86_64 -accel tcg -icount shift=0 -machine pc -cpu max -m 512M -smp 1
        -nodefaults ... -netdev tap (a TAP in a namespace this script makes)
        -device virtio-net-pci -device nvme (a fresh sparse 512 MiB raw image)
at 198.18.0.2/24; the host side of the TAP is 198.18.0.1 in the namespace and
every client runs there.

  hallows  brokerd as the root task (build/serve/initrd-brokerd-bench.cpio), then
           webd as the root task (build/initrd-webd-bench.cpio) in a second boot
  linux    Debian's kernel with build/linux-guest/initrd-serve.cpio: the hosted
           broker linked statically on /dev/nvme0n1 (O_DIRECT) and busybox httpd
           (tools/linux-guest/init/lg_serve.c), one boot for both

Phases (the same for both): a warm-up produce (and one record to each topic
the phases use, so no phase creates a topic); produce 200,000 x 100 B and
50,000 x 1 KiB records with rdk_loadgen (acks=1, linger 5 ms, 4 partitions;
counts large enough that each phase lasts about a second or more on either
system: with 20,000 and 10,000 a phase took 50-150 ms and the client's
start-up and its fetch timing set the rate)
and consume them back; produce latency (one record in flight) with acks=1
and acks=all; then a raw TCP stream of STREAM_MIB MiB into the discard port
(webd's; a discard child of lg_serve.c in the Linux guest): the host-to-guest
bytes/s with no work per byte; then HTTP: GET /hello.txt (20 B), a new
connection per request (busybox httpd has no keep-alive), for SECONDS.

Guest instructions per record or request: TSC (one tick per instruction
under -icount shift=0) across a phase less the time the guest did no work.
Linux: the kernel's idle accounting (lg_serve.c "mark" on the console).
Hallows: the TSC brokerd/webd spent in loop iterations that found no work
(empty polls and idle waits), from their "cpu tsc T, idle tsc I" report
lines, taken once the appliance has been quiet for a while after the phase.
-icount without sleep=off: with sleep=off a halted guest's clock jumps to
its next timer, so its TCP timers would run ahead of the host's clients.
"""
import argparse
import json
import os
import platform
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
NS, TAP = "hsl%d" % os.getpid(), ("hslt%d" % os.getpid())[:15]
GUEST, HOST = "198.18.0.2", "198.18.0.1"
RUNS = [("100b", 100, 200000), ("1kib", 1024, 50000)]
LAT_RECORDS = 300
STREAM_MIB = 128
WARMUP = 200
LINUX_CMDLINE = "console=ttyS0 quiet panic=-1 cryptomgr.notests"


def padded(initrd, work):
    """A copy padded to 4 KiB: Hallows ignored an unpadded boot module at the top
    of a 512 MiB or 1 GiB machine ("lies outside the memory map")."""
    out = os.path.join(work, os.path.basename(initrd))
    shutil.copyfile(initrd, out)
    with open(out, "ab") as f:
        f.write(b"\0" * (-os.path.getsize(initrd) % 4096))
    return out


def qemu_argv(kernel, initrd, append, disk, names=False):
    """names: -name debug-threads=on (the vCPU thread is "ALL CPUs/TCG" for perf)."""
    return ["qemu-system-x86_64"] + (["-name", "debug-threads=on"] if names else []) + [
            "-accel", "tcg", "-icount", "shift=0", "-machine", "pc", "-cpu", "max", "-m", "512M",
            "-smp", "1", "-nodefaults", "-display", "none",
            "-serial", "stdio", "-monitor", "none", "-no-reboot",
            "-rtc", "base=2000-01-01T00:00:00,clock=vm",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", kernel, "-initrd", initrd, "-append", append,
            "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no" % TAP,
            "-device", "virtio-net-pci,netdev=n0",
            "-drive", "file=%s,if=none,id=d0,format=raw" % disk,
            "-device", "nvme,drive=d0,serial=hallows-log"]


class Guest:
    """QEMU in the namespace, serial on a pipe: lines in, commands out."""

    def __init__(self, argv, log):
        self.p = subprocess.Popen(["ip", "netns", "exec", NS] + argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines, self.q, self.log = [], queue.Queue(), open(log, "w")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.p.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            self.log.write(line + "\n")
            self.log.flush()
            self.lines.append((time.monotonic(), line))
            self.q.put(line)

    def wait_for(self, pattern, timeout):
        rx, end = re.compile(pattern), time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.q.get(timeout=0.2)
            except queue.Empty:
                if self.p.poll() is not None:
                    return None
                continue
            m = rx.search(line)
            if m:
                return m
        return None

    def send(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self.log.close()


class LinuxMarks:
    """lg_serve.c: "mark" on the console -> MARK tsc mono_ns idle_ns timers."""

    def __init__(self, g):
        self.g = g

    def settle(self):
        time.sleep(1.5)  # the broker's 1 s flush

    def take(self):
        while not self.g.q.empty():
            self.g.q.get_nowait()
        self.g.send("mark\n")
        m = self.g.wait_for(r"^MARK tsc=(\d+) mono_ns=(\d+) idle_ns=(\d+) timers=(\d+)", 30)
        if not m:
            raise RuntimeError("no MARK from the Linux guest")
        return tuple(int(x) for x in m.groups())

    @staticmethod
    def busy(a, b):
        tsc, mono, idle = b[0] - a[0], b[1] - a[1], b[2] - a[2]
        return tsc - (idle * tsc / mono if mono else 0)


class HallowsMarks:
    """brokerd/webd print "cpu tsc T, idle tsc I" with their counters every 2 s
    while frames arrive and before sleeping; a mark is the last such line once
    none has come for QUIET seconds."""
    QUIET = 3.5

    def __init__(self, g, who):
        self.g, self.rx = g, re.compile(r"^%s: cpu tsc (\d+), idle tsc (\d+)" % who)
        self.prof_rx = re.compile(r"^%s: prof (.*)" % who)

    def settle(self):
        pass

    def take(self):
        start = time.monotonic()
        while True:
            hits = [(t, self.rx.search(l)) for t, l in self.g.lines]
            hits = [(t, m) for t, m in hits if m]
            now = time.monotonic()
            if hits and now - hits[-1][0] >= self.QUIET and now - start >= self.QUIET:
                return (int(hits[-1][1].group(1)), int(hits[-1][1].group(2)),
                        self.profile_before(hits[-1][1].string))
            if now - start > 60:
                raise RuntimeError("no quiet cpu line within 60 s")
            time.sleep(0.2)

    def profile_before(self, cpu_line):
        """The profiling build (HL_PROF) prints "prof name=tsc/calls ..." just
        before each cpu line: {name: (tsc, calls)} of the last one before
        cpu_line, or None."""
        last = None
        for _, l in self.g.lines:
            m = self.prof_rx.search(l)
            if m:
                last = m.group(1)
            if l == cpu_line:
                break
        if last is None:
            return None
        return {k: tuple(int(x) for x in v.split("/"))
                for k, v in (f.split("=") for f in last.split())}

    @staticmethod
    def busy(a, b):
        return (b[0] - a[0]) - (b[1] - a[1])


def in_ns(*cmd, timeout=900):
    r = subprocess.run(("ip", "netns", "exec", NS) + cmd, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode:
        raise RuntimeError("%s: %s" % (" ".join(cmd), (r.stderr or r.stdout).strip()[-500:]))
    return {k: float(v) for k, v in (x.split("=") for x in r.stdout.split())}


def profile_table(name, m0, m1, records, busy, emit, cfg):
    """Instructions per record per phase of the profiling build (brokerd's
    HL_PROF phases; idle and disk waits are listed but are not work)."""
    a, b = m0[2], m1[2]
    if not a or not b:
        raise RuntimeError("--profile: no prof line from brokerd (not the HL_PROF build?)")
    rows = [(k, b[k][0] - a[k][0], b[k][1] - a[k][1]) for k in b]
    work = sum(t for k, t, _ in rows if k not in ("idle", "disk_wait"))
    print("profile %s: %d records, %.0f instructions/record of work (cpu - idle: %.0f)" % (
        name, records, work / records, busy / records))
    for k, t, calls in sorted(rows, key=lambda r: -r[1]):
        share = "" if k in ("idle", "disk_wait") else "%5.1f%%" % (100.0 * t / work if work else 0)
        print("  %-10s %10.1f /record %8.2f calls/record %s" % (k, t / records, calls / records,
                                                             share))
        emit("hallows-prof.%s.phase_%s_instructions_per_record" % (name, k), t / records,
             "instructions", dict(cfg, phase=k, calls_per_record=round(calls / records, 3),
                                  build="brokerd -DHL_PROF"))


def helper_crc32_range(qemu):
    """[lo, hi) of QEMU's helper_crc32 (the crc32 instruction, one loop trip per bit) in
    the binary: Debian's qemu-system-x86_64 is stripped, so the function is the one
    holding `mov $0x82f63b78, %edi` (the CRC-32C polynomial), from the end of the
    previous function's padding to its ret."""
    d = subprocess.run(["objdump", "-d", "--no-show-raw-insn", qemu], capture_output=True,
                       text=True, timeout=300).stdout.splitlines()
    rx = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")
    ins = [(int(m.group(1), 16), m.group(2), m.group(3)) for m in map(rx.match, d) if m]
    for i, (_, op, args) in enumerate(ins):
        if op == "mov" and args.startswith("$0x82f63b78,"):
            j = i
            while j > 0 and ins[j - 1][1] not in ("ret", "jmp") and i - j < 40:
                j -= 1
            while ins[j][1].startswith(("nop", "xchg", "data16", "cs")):
                j += 1
            k = i
            while k < len(ins) and ins[k][1] != "ret":
                k += 1
            if k < len(ins):
                return ins[j][0], ins[k][0] + 1
    return None


class PerfRecord:
    """perf record -p <QEMU's pid> around one phase (--perf; QEMU runs with -name
    debug-threads=on so its vCPU thread is named, "ALL CPUs/TCG" under -icount): then
    the samples by thread, object and symbol (QEMU's own addresses unresolved)."""

    def __init__(self, pid, path):
        self.path = path
        self.p = subprocess.Popen(["perf", "record", "-q", "-F", "4999", "-p", str(pid),
                                   "-o", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)  # perf attaches before the phase starts

    def stop(self):
        self.p.send_signal(2)
        err = self.p.communicate(timeout=60)[1]
        if not os.path.exists(self.path):
            raise RuntimeError("perf record: %s" % err.decode(errors="replace").strip()[-300:])
        r = subprocess.run(["perf", "report", "-i", self.path, "--stdio", "--no-children",
                            "--sort", "comm,dso,sym", "-F", "sample,comm,dso,sym", "-t", "|"],
                           capture_output=True, text=True, timeout=300)
        rows = []
        for line in r.stdout.splitlines():
            f = [x.strip() for x in line.split("|")]
            if len(f) == 4 and f[0].isdigit():
                rows.append((int(f[0]), f[1], f[2], f[3].split()[-1]))
        return rows


def perf_shares(sysname, name, rows, emit, cfg):
    """The vCPU thread's time in helper_crc32 (QEMU's crc32 instruction) and in the
    code TCG generated, of its samples (--perf)."""
    qemu = shutil.which("qemu-system-x86_64")
    rng = helper_crc32_range(qemu)
    if not rng:
        raise RuntimeError("perf: helper_crc32 not found in %s" % qemu)
    # "CPU 0/TCG", or "ALL CPUs/TCG": under -icount one thread runs every vCPU
    vcpu = [r for r in rows if r[1].endswith("/TCG")]
    if not vcpu:
        raise RuntimeError("perf report: no vCPU thread among %s" % sorted({r[1] for r in rows}))
    total = sum(r[0] for r in vcpu)
    by = {}
    for n, _, dso, sym in vcpu:
        if sym == "helper_crc32" or (dso.startswith("qemu-system") and sym.startswith("0x")
                                     and rng[0] <= int(sym, 16) < rng[1]):
            key = "helper_crc32"
        elif dso == "[unknown]" or dso.startswith("[JIT]"):
            key = "TCG-generated code"
        elif dso.startswith("[kernel"):
            key = "host kernel"
        elif dso.startswith("qemu-system"):
            key = "QEMU, other"
        else:
            key = dso
        by[key] = by.get(key, 0) + n
    top = sorted(by.items(), key=lambda kv: -kv[1])
    split = ", ".join("%s %.1f%%" % (k, 100 * x / total) for k, x in top)
    print("perf %s %s: vCPU thread %d of QEMU's %d samples: %s" % (
        sysname, name, total, sum(r[0] for r in rows), split))
    c = dict(cfg, perf="perf record -F 4999 -p <qemu pid> over the phase", vcpu_samples=total,
             helper_crc32="0x%x-0x%x in %s" % (rng[0], rng[1], qemu),
             vcpu_share_of_process=round(total / sum(r[0] for r in rows), 3),
             vcpu_split={k: round(x / total, 3) for k, x in top})
    emit("%s.%s_vcpu_helper_crc32_share" % (sysname, name), by.get("helper_crc32", 0) / total,
         "ratio", c)


def broker_phases(sysname, gen, marks, emit, base, profile=False, perf=None):
    addr = GUEST + ":9092"
    in_ns(gen, "produce", addr, "warmup", str(WARMUP), "100", "1")
    # every topic the phases use exists before the first mark: creating one (4 partitions
    # on the store) is not per-record work
    for topic, size in (("bench-100b", 100), ("bench-1kib", 1024), ("lat-acks1", 100),
                        ("lat-acksall", 100)):
        in_ns(gen, "produce", addr, topic, "1", str(size), "1")
    marks.settle()
    m0 = marks.take()

    def phase(name, cmd, records, cfg, emit_rate):
        nonlocal m0
        rec = None
        if perf and name == "produce_1kib":
            rec = PerfRecord(perf[0], os.path.join(perf[1], "perf-%s-%s.data" % (sysname, name)))
        r = in_ns(*cmd)
        if rec:
            perf_shares(sysname, name, rec.stop(), emit, cfg)
        marks.settle()
        m1 = marks.take()
        busy = marks.busy(m0, m1)
        if profile:
            profile_table(name, m0, m1, records, busy, emit, cfg)
        m0 = m1
        emit_rate(r)
        emit("%s.%s_instructions_per_record" % (sysname, name), busy / records, "instructions",
             dict(cfg, busy_instructions=int(busy)))
        return r

    for label, size, n in RUNS:
        cfg = dict(base, record_bytes=size, records=n, acks=1, linger_ms=5)
        topic = "bench-%s" % label

        def rates(kind):
            def f(r):
                if kind == "consume" and int(r["records"]) != n:
                    raise RuntimeError("consume got %d of %d" % (r["records"], n))
                emit("%s.%s_%s_records_per_s" % (sysname, kind, label), r["rps"], "records/s", cfg)
                emit("%s.%s_%s_MB_per_s" % (sysname, kind, label), r["mbps"], "MB/s", cfg)
            return f
        phase("produce_%s" % label, (gen, "produce", addr, topic, str(n), str(size), "1"), n, cfg,
              rates("produce"))
        phase("consume_%s" % label, (gen, "consume", addr, topic, str(n)), n, cfg,
              rates("consume"))
    for acks, tag in (("1", "acks1"), ("-1", "acksall")):
        cfg = dict(base, record_bytes=100, records=LAT_RECORDS, acks=tag, in_flight=1)

        def lat(r, tag=tag, cfg=cfg):
            emit("%s.produce_latency_%s_p50_us" % (sysname, tag), r["p50_us"], "us", cfg)
            emit("%s.produce_latency_%s_p99_us" % (sysname, tag), r["p99_us"], "us", cfg)
        phase("produce_latency_%s" % tag, (gen, "latency", addr, "lat-" + tag, str(LAT_RECORDS),
                                          "100", acks), LAT_RECORDS, cfg, lat)


def http_client(host, port, secs, path):
    """GET path on a new connection per request for secs; prints rate p50 p99 n bytes."""
    req = ("GET %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n" % path).encode()
    lat, nbytes, end = [], 0, time.monotonic() + secs
    t_start = time.monotonic()
    while time.monotonic() < end:
        t0 = time.monotonic()
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(req)
        buf = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            buf += c
        s.close()
        if not buf.startswith(b"HTTP/1.") or b" 200 " not in buf.split(b"\r\n")[0]:
            sys.exit("http: bad response %r" % buf[:80])
        nbytes += len(buf)
        lat.append(time.monotonic() - t0)
    wall = time.monotonic() - t_start
    lat.sort()
    print("rate=%.1f p50=%.1f p99=%.1f n=%d bytes=%d" % (
        len(lat) / wall, lat[len(lat) // 2] * 1e6, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6,
        len(lat), nbytes))


def stream_client(host, port, mib):
    """mib MiB into host:port (discard) in 1 MiB writes, then wait for the server's close;
    prints mbps (10^6 bytes/s from connect to close) and secs."""
    buf = b"\x5a" * (1 << 20)
    t0 = time.monotonic()
    s = socket.create_connection((host, port), timeout=60)
    for _ in range(mib):
        s.sendall(buf)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    t = time.monotonic() - t0
    s.close()
    print("mbps=%.2f secs=%.3f" % (mib * (1 << 20) / t / 1e6, t))


def stream_phase(sysname, emit, base):
    """The raw-stream ceiling: STREAM_MIB MiB from the namespace into the discard port."""
    r = in_ns("python3", os.path.abspath(__file__), "--stream-client", GUEST, "9", str(STREAM_MIB),
              timeout=300)
    emit("%s.raw_stream_mb_s" % sysname, r["mbps"], "MB/s",
         dict(base, port=9, mib=STREAM_MIB, client="python3 sendall of 1 MiB writes"))


def web_phase(sysname, marks, emit, base, secs):
    body = open(os.path.join(ROOT, "user/apps/webd/www/hello.txt"), "rb").read()
    # the file served is the same on both: check it once
    r = subprocess.run(["ip", "netns", "exec", NS, "curl", "-s", "-m", "20",
                        "http://%s/hello.txt" % GUEST], capture_output=True, timeout=60)
    if r.stdout != body:
        raise RuntimeError("%s: /hello.txt is %r" % (sysname, r.stdout[:60]))
    marks.settle()
    m0 = marks.take()
    r = in_ns("python3", os.path.abspath(__file__), "--http-client", GUEST, "80", str(secs),
              "/hello.txt", timeout=secs + 120)
    marks.settle()
    m1 = marks.take()
    cfg = dict(base, path="/hello.txt", body_bytes=len(body), seconds=secs, requests=int(r["n"]),
               client="python3, a new connection per request (Connection: close)")
    emit("%s.http_rate_reqps" % sysname, r["rate"], "reqps", cfg)
    emit("%s.http_p50_us" % sysname, r["p50"], "us", cfg)
    emit("%s.http_p99_us" % sysname, r["p99"], "us", cfg)
    emit("%s.http_instructions_per_request" % sysname, marks.busy(m0, m1) / r["n"],
         "instructions", dict(cfg, busy_instructions=int(marks.busy(m0, m1))))


CRC_KINDS = (("hw", "crc32c", "store_crc32c, brokerd's path: 256-bit VPCLMULQDQ folds from 512 "
               "bytes when CPUID has them, else the SSE4.2 crc32 instruction"),
             ("insn", "crc32c_insn", "store_crc32c_insn: the crc32 instruction at every length"),
             ("sw", "crc32c_sw", "store_crc32c_sw: the portable slicing-by-8 tables"),
             ("copy", "copy", "a plain 8-byte-word copy of the same bytes, for scale"),
             ("movsq", "copy_movsq", "the same copy by rep movsq (Hallows' memcpy)"))


def crc_rates(lines):
    """CRCBENCH lines (timestamped on arrival) -> {kind: (MB/s of host time, instructions
    per KiB, MiB timed, seconds)}. The first round of each kind is a warm-up (QEMU
    translates the loop); the rate is over the rounds after it, timed by the host: the
    guest's clocks count instructions under -icount shift=0."""
    rx = re.compile(r"^CRCBENCH kind=(\w+) mib=(\d+) tsc=(\d+) crc=[0-9a-f]{8}$")
    seen = {}
    for t, line in lines:
        m = rx.match(line)
        if m:
            seen.setdefault(m.group(1), []).append((t, int(m.group(2)), int(m.group(3))))
    out = {}
    for kind, pts in seen.items():
        if len(pts) < 4:
            raise RuntimeError("crc: %d rounds of %s" % (len(pts), kind))
        if any(b[1] <= a[1] or b[0] < a[0] for a, b in zip(pts, pts[1:])):
            raise RuntimeError("crc: the rounds of %s are out of order" % kind)
        (t0, mib0, tsc0), (t1, mib1, tsc1) = pts[1], pts[-1]
        if t1 <= t0 or mib1 <= mib0:
            raise RuntimeError("crc: %s did not advance" % kind)
        out[kind] = ((mib1 - mib0) * (1 << 20) / (t1 - t0) / 1e6,
                     (tsc1 - tsc0) / ((mib1 - mib0) * 1024.0), mib1 - mib0, t1 - t0)
    return out


def crc_phase(sysname, g, emit, base):
    """The CRC-32C throughput figures (user/apps/crcbench/crcbench.h) from a guest
    running the crc benchmark: MB/s of host (wall) time and guest instructions per KiB."""
    if not g.wait_for(r"^CRCBENCH-(DONE|ERROR)", 300):
        raise RuntimeError("%s: no CRCBENCH-DONE" % sysname)
    if any(l.startswith("CRCBENCH-ERROR") for _, l in g.lines):
        raise RuntimeError("%s: crc: store_crc32c and store_crc32c_sw disagree" % sysname)
    rates = crc_rates(g.lines)
    fold = [l for _, l in g.lines if l.startswith("CRCBENCH fold=")]
    for kind, name, what in CRC_KINDS:
        if kind not in rates:
            raise RuntimeError("%s: crc: no %s rounds" % (sysname, kind))
        mbs, ipk, mib, secs = rates[kind]
        cfg = dict(base, code=what, buffer_bytes=1 << 20, mib_timed=mib, seconds=round(secs, 3),
                   fold=fold[0].split("=")[1] == "1" if fold else None,
                   timing="host monotonic clock at the guest's round lines (wall, not icount)")
        emit("%s.%s_mb_s" % (sysname, name), mbs, "MB/s", cfg)
        emit("%s.%s_instructions_per_kib" % (sysname, name), ipk, "instructions", cfg)


def crc_ceilings(recs, emit, commit):
    """The produce ceiling the CRC alone sets: every produced byte is summed once, so
    records/s <= CRC MB/s / record bytes (payload only: the batch's own bytes lower it
    further), against 3x the Linux guest's produce rate of the same run."""
    v = {r["name"]: r["value"] for r in recs}
    crc = v.get("serve.hallows.crc32c_mb_s")
    for label, size, _ in RUNS:
        lin = v.get("serve.linux.produce_%s_records_per_s" % label)
        hal = v.get("serve.hallows.produce_%s_records_per_s" % label)
        if not crc or not lin or not hal:
            continue
        ceiling = crc * 1e6 / size
        cfg = {"crc32c_mb_s": crc, "record_bytes": size, "hallows_records_per_s": hal,
               "linux_records_per_s": lin, "three_times_linux": 3 * lin,
               "ceiling_vs_3x_linux": round(ceiling / (3 * lin), 3), "commit": commit}
        emit("hallows.produce_%s_crc_ceiling_records_per_s" % label, ceiling, "records/s", cfg)
        emit("hallows.produce_%s_crc_share_of_wall" % label, hal / ceiling, "ratio", cfg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http-client", nargs=4, metavar=("HOST", "PORT", "SECS", "PATH"))
    ap.add_argument("--stream-client", nargs=3, metavar=("HOST", "PORT", "MIB"))
    ap.add_argument("--kernel")
    ap.add_argument("--vmlinux")
    ap.add_argument("--linux-initrd")
    ap.add_argument("--brokerd-initrd")
    ap.add_argument("--webd-initrd")
    ap.add_argument("--crc-initrd", help="user/apps/crcbench as the root task (the CRC figures)")
    ap.add_argument("--loadgen")
    ap.add_argument("--out")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--only", choices=["hallows", "linux"])
    ap.add_argument("--no-broker", action="store_true", help="the web comparison only")
    ap.add_argument("--no-web", action="store_true", help="the broker comparison only")
    ap.add_argument("--perf", action="store_true",
                    help="perf record QEMU during produce 1 KiB: the vCPU's share in helper_crc32")
    ap.add_argument("--profile", action="store_true",
                    help="brokerd is the HL_PROF build: instructions per record per phase")
    a = ap.parse_args()
    if a.http_client:
        h, p, s, path = a.http_client
        http_client(h, int(p), float(s), path)
        return 0
    if a.stream_client:
        h, p, mib = a.stream_client
        stream_client(h, int(p), int(mib))
        return 0
    if subprocess.run(["ip", "netns", "add", NS], capture_output=True).returncode:
        print("bench-serve-linux: cannot create network namespaces (needs root); skipped")
        return 0
    work = tempfile.mkdtemp(prefix="serve-linux-bench.")
    logs = os.path.join(ROOT, "build/bench")
    os.makedirs(logs, exist_ok=True)
    out = open(a.out, "a")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip()
    qver = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                          text=True).stdout.split("\n")[0]
    recs = []

    def emit(name, value, unit, cfg):
        mode = "tcg-icount" if unit == "instructions" else "tcg-icount-wall"
        rec = {"name": "serve." + name, "value": round(value, 2), "unit": unit, "mode": mode,
               "config": cfg}
        recs.append(rec)
        out.write(json.dumps(rec) + "\n")
        out.flush()
        print("%-52s %14.1f %s" % (rec["name"], rec["value"], unit))

    common = {"qemu": qver, "qemu_flags": "-accel tcg -icount shift=0 -machine pc -cpu max -m 512M "
              "-smp 1, virtio-net on a TAP in a netns, QEMU NVMe on a sparse raw image",
              "client": "librdkafka rdk_loadgen / python3 in the netns", "partitions": 4,
              "host": platform.node(), "cpus": os.cpu_count(), "commit": commit}
    g = None
    ok = True
    try:
        for c in (("ip", "tuntap", "add", "dev", TAP, "mode", "tap"), ("ip", "link", "set", "lo", "up"),
                  ("ip", "addr", "add", HOST + "/24", "dev", TAP), ("ip", "link", "set", TAP, "up")):
            subprocess.run(("ip", "netns", "exec", NS) + c, check=True, capture_output=True)

        def disk():
            path = os.path.join(work, "disk.img")
            if os.path.exists(path):
                os.unlink(path)
            with open(path, "wb") as f:
                f.truncate(512 << 20)
            return path

        systems = [a.only] if a.only else ["hallows", "linux"]
        for sysname in systems:
            try:
                if sysname == "hallows" and not a.no_broker:
                    g = Guest(qemu_argv(a.kernel, padded(a.brokerd_initrd, work), "", disk(),
                                        a.perf),
                              os.path.join(logs, "serve-linux-brokerd.log"))
                    if not g.wait_for(r"^brokerd: ready on ", 400):
                        raise RuntimeError("brokerd did not come up")
                    broker_phases("hallows-prof" if a.profile else "hallows", a.loadgen, HallowsMarks(g, "brokerd"), emit,
                                  dict(common, system="brokerd (root task), Floo, store on NVMe "
                                       "(polled), irq mode"), profile=a.profile,
                                  perf=(g.p.pid, logs) if a.perf else None)
                    g.kill()
                if sysname == "hallows" and not a.no_web:
                    g = Guest(qemu_argv(a.kernel, padded(a.webd_initrd, work), "", disk()),
                              os.path.join(logs, "serve-linux-webd.log"))
                    if not g.wait_for(r"^webd: ready on ", 400):
                        raise RuntimeError("webd did not come up")
                    stream_phase("hallows", emit, dict(common, system="webd (root task), discard "
                                                       "service, interrupt mode"))
                    web_phase("hallows", HallowsMarks(g, "webd"), emit,
                              dict(common, system="webd (root task), interrupt mode"), a.seconds)
                if sysname == "hallows" and a.crc_initrd:
                    if g:
                        g.kill()
                    g = Guest(qemu_argv(a.kernel, padded(a.crc_initrd, work), "", disk()),
                              os.path.join(logs, "serve-linux-crc-hallows.log"))
                    crc_phase("hallows", g, emit, dict(common, system="crcbench (root task)"))
                kernel = os.path.basename(os.path.realpath(a.vmlinux or ""))
                if sysname == "linux" and not (a.no_broker and a.no_web):
                    g = Guest(qemu_argv(a.vmlinux, a.linux_initrd, LINUX_CMDLINE + " -- serve",
                                        disk(), a.perf),
                              os.path.join(logs, "serve-linux-linux.log"))
                    if not g.wait_for(r"^SERVE-READY", 600):
                        raise RuntimeError("the Linux guest did not come up")
                    lm = LinuxMarks(g)
                    if not a.no_broker:
                        broker_phases("linux", a.loadgen, lm, emit,
                                      dict(common, system="Debian 6.1 guest, hallows-broker (hosted/, "
                                           "static) on /dev/nvme0n1 O_DIRECT", kernel=kernel),
                                      perf=(g.p.pid, logs) if a.perf else None)
                    if not a.no_web:
                        stream_phase("linux", emit, dict(common, system="Debian 6.1 guest, "
                                                         "lg_serve.c's discard child", kernel=kernel))
                        web_phase("linux", lm, emit, dict(common, system="Debian 6.1 guest, "
                                                          "busybox httpd -f", kernel=kernel),
                                  a.seconds)
                    g.send("stop\n")
                    g.wait_for(r"^SERVE-STOPPED", 30)
                if sysname == "linux" and a.crc_initrd:
                    if g:
                        g.kill()
                    # the serve initramfs's /init, its crc benchmark (lg_crc.c)
                    g = Guest(qemu_argv(a.vmlinux, a.linux_initrd, LINUX_CMDLINE + " -- crc",
                                        disk()), os.path.join(logs, "serve-linux-crc-linux.log"))
                    crc_phase("linux", g, emit, dict(common, system="Debian 6.1 guest, /init crc "
                                                     "(lg_crc.c, musl -O2)", kernel=kernel))
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print("bench-serve-linux: %s: %s" % (sysname, e), file=sys.stderr)
                ok = False
            finally:
                if g:
                    g.kill()
                    g = None
        # the ratios the issue asks for: Hallows over Linux (throughput), Linux over Hallows
        # (instructions)
        byname = {r["name"]: r["value"] for r in recs}
        for r in list(recs):
            n = r["name"]
            if not n.startswith("serve.hallows."):
                continue
            lin = byname.get(n.replace("serve.hallows.", "serve.linux."))
            if not lin or not r["value"]:
                continue
            tail = n[len("serve.hallows."):]
            emit("ratio.%s_hallows_vs_linux" % tail, r["value"] / lin, "ratio",
                 {"hallows": r["value"], "linux": lin, "commit": commit})
        crc_ceilings(recs, emit, commit)
    finally:
        if g:
            g.kill()
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
