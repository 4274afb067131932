#!/usr/bin/env python3
"""make bench-serve: produce and consume throughput of brokerd (the make run
configuration under QEMU TCG, reached through user-mode networking) beside
the hosted broker (build/hosted/hallows-broker on loopback), driven in the
same run by the same librdkafka load generator (tests/system/broker/
rdk_loadgen.c) with the same record counts. One JSON line per figure.

The two are not the same machine: brokerd runs on emulated CPUs (TCG) behind
slirp, the hosted broker natively on the host's loopback. The pair shows
what the emulation costs today, not what Hallows is worth on hardware
(docs/serve.md, docs/benchmarks.md)."""
import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the test's boot helpers)

RUNS = [("100b", 100, 20000), ("1kib", 1024, 10000)]


def kv(line):
    return {k: float(v) for k, v in (x.split("=") for x in line.split())}


def drive(gen, addr, tag, emit, base):
    for label, size, n in RUNS:
        topic = "bench-%s-%s" % (tag, label)
        cfg = dict(base, record_bytes=size, records=n, acks=1)
        r = subprocess.run([gen, "produce", addr, topic, str(n), str(size), "1"],
                           capture_output=True, text=True, timeout=600)
        if r.returncode:
            print("produce failed: %s" % r.stderr, file=sys.stderr)
            return False
        p = kv(r.stdout)
        emit("%s.produce_%s_records_per_s" % (tag, label), p["rps"], "records/s", cfg)
        emit("%s.produce_%s_MB_per_s" % (tag, label), p["mbps"], "MB/s", cfg)
        r = subprocess.run([gen, "consume", addr, topic, str(n)], capture_output=True, text=True,
                           timeout=600)
        c = kv(r.stdout) if r.returncode == 0 else {"records": 0}
        if c["records"] != n:
            print("consume got %s of %d: %s" % (c.get("records"), n, r.stderr), file=sys.stderr)
            return False
        emit("%s.consume_%s_records_per_s" % (tag, label), c["rps"], "records/s", cfg)
        emit("%s.consume_%s_MB_per_s" % (tag, label), c["mbps"], "MB/s", cfg)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--hosted", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="serve-bench.")
    out = open(a.out, "a")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()

    def emit(name, value, unit, cfg):
        rec = {"name": "serve." + name, "value": round(value, 2), "unit": unit, "config": cfg}
        out.write(json.dumps(rec) + "\n")
        out.flush()
        print(json.dumps(rec))

    common = {"client": "librdkafka (rdk_loadgen)", "partitions": 4, "linger_ms": 5,
              "host": platform.node(), "cpus": os.cpu_count(), "commit": commit}
    ok = True
    b = q = None
    try:
        # the hosted broker, natively on loopback
        data = os.path.join(work, "hosted.img")
        b = subprocess.Popen([a.hosted, "--listen", "127.0.0.1:0", "--data", data, "--size",
                              str(1 << 30), "--threads", "1"], stdout=subprocess.PIPE,
                             stderr=open(os.path.join(work, "hosted.log"), "w"), text=True)
        line = b.stdout.readline()
        addr = line.split("listening on ")[1].split()[0]
        ok &= drive(a.loadgen, addr, "hosted", emit,
                    dict(common, mode="host", transport="tcp loopback", device="sparse file"))
        b.send_signal(signal.SIGTERM)
        b.wait(timeout=60)
        b = None
        # brokerd: the make run configuration under TCG
        hport, kport = run.free_ports(2)
        initrd = run.make_initrd(work, kport)
        disk = os.path.join(work, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(512 << 20)
        log = os.path.join(work, "boot.log")
        q = run.Qemu(a.kernel, initrd, disk, hport, kport, log)
        if not q.wait_for(r"^brokerd: ready on ", 180):
            print("brokerd did not come up:\n" + q.text()[-2000:], file=sys.stderr)
            return 1
        ok &= drive(a.loadgen, "127.0.0.1:%d" % kport, "brokerd", emit,
                    dict(common, mode="qemu tcg, -smp 4, partition on its own cpu",
                         transport="virtio-net, QEMU user-mode networking (slirp) hostfwd",
                         device="QEMU NVMe, raw sparse image, polled"))
        m = run.counters(q, sum(size * n for _, size, n in RUNS), 0)
        if m:
            emit("brokerd.fetch_payload_by_reference_bytes", m[0], "bytes", common)
            emit("brokerd.fetch_payload_copied_by_cpu_bytes", m[1], "bytes", common)
    finally:
        if b:
            b.kill()
        if q:
            q.kill()
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
