#!/usr/bin/env python3
"""make bench for the broker: start the release hallows-broker on a fresh
data file, drive it with rdk_loadgen (librdkafka) over loopback and append
one JSON line per figure to the bench output, with the configuration."""
import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys

RUNS = [
    # (label, record bytes, records, acks, producer mode): "" plain;
    # "idempotent" enable.idempotence=true (librdkafka then keeps at most 5
    # requests in flight); "inflight5" plain with that same in-flight limit,
    # the like-for-like baseline of the idempotent figures
    ("100b", 100, 500000, "1", ""),
    ("1kib", 1024, 200000, "1", ""),
    ("100b_acksall", 100, 500000, "-1", ""),
    ("1kib_acksall", 1024, 200000, "-1", ""),
    ("100b_acksall_inflight5", 100, 500000, "-1", "inflight5"),
    ("100b_idempotent", 100, 500000, "-1", "idempotent"),
    ("1kib_acksall_inflight5", 1024, 200000, "-1", "inflight5"),
    ("1kib_idempotent", 1024, 200000, "-1", "idempotent"),
    # transactional.id set: transactions of 10000 records, each committed
    # (AddPartitionsToTxn, markers, EndTxn with its flushes)
    ("100b_transactional", 100, 500000, "-1", "transactional"),
    ("1kib_transactional", 1024, 200000, "-1", "transactional"),
]
LAT_RECORDS = 2000
# compaction: keyed records over few keys, segments closed by segment.ms
CMP_RECORDS, CMP_KEYS, CMP_VALUE = 200000, 1000, 100
# 1- versus 2-loop scaling (--threads): records, record bytes, partitions
SCALE_RECORDS, SCALE_BYTES, SCALE_PARTS = 2000000, 100, 8
RAW_SECONDS, RAW_BATCH = 5, 100  # raw_loadgen: run time, records per batch
RAW_REPS = 5  # raw_loadgen runs per loop count (alternating 1, 2 / 2, 1); medians reported
# requests in flight per raw_loadgen connection: enough that a loop still
# has input queued while the client waits for a CPU on this shared host
RAW_INFLIGHT = 32


def kv(line):
    return {k: float(v) for k, v in (x.split("=") for x in line.split())}


def compaction(a, addr, emit):
    """broker.linux.compaction_MB_per_s: bytes of closed segments rewritten
    by the compactor per second of its passes (key map and rewrite, in
    slices between event-loop turns), from the broker's pass lines."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import run_system
    import time
    port = int(addr.rsplit(":", 1)[1])
    run_system.create_compacted(port, "bench-compact", {
        "cleanup.policy": "compact", "segment.ms": "1000", "min.cleanable.dirty.ratio": "0.01"})
    log = os.path.join(a.work, "broker.log")
    mark = os.path.getsize(log)
    val = "v" * CMP_VALUE
    lines = "".join(f"k{i % CMP_KEYS}:{val}\n" for i in range(CMP_RECORDS))
    subprocess.run(["kcat", "-b", addr, "-P", "-t", "bench-compact", "-p", "0", "-K", ":"],
                   input=lines, text=True, timeout=300, check=True)
    time.sleep(1.5)
    subprocess.run(["kcat", "-b", addr, "-P", "-t", "bench-compact", "-p", "0", "-K", ":"],
                   input="k0:end\n", text=True, timeout=60, check=True)
    nbytes = ms = 0
    deadline = time.time() + 60
    while time.time() < deadline:
        with open(log) as f:
            f.seek(mark)
            got = [ln.split()[-1] for ln in f if "compact: pass done" in ln]
        if len(got) >= 2:
            nbytes = sum(int(x) for x in got[0::2])
            ms = sum(int(x) for x in got[1::2])
            break
        time.sleep(0.5)
    if not nbytes:
        print("compaction bench: no pass finished", file=sys.stderr)
        return
    cfg = {"records": CMP_RECORDS, "keys": CMP_KEYS, "value_bytes": CMP_VALUE,
           "client": "kcat -K (librdkafka)", "partitions": 1, "bytes_rewritten": nbytes,
           "pass_ms": ms}
    emit("compaction_MB_per_s", nbytes / 1e6 / max(ms, 1) * 1000, "MB/s", cfg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--scaling-only", action="store_true",
                    help="only the 1- versus 2-loop figures (make bench-broker-scaling)")
    ap.add_argument("--raw-reps", type=int, default=RAW_REPS)
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    data = os.path.join(a.work, "bench.img")
    size = 4 << 30
    b = subprocess.Popen([a.broker, "--listen", "127.0.0.1:0", "--data", data, "--size", str(size),
                          "--threads", "1"],
                         stdout=subprocess.PIPE, stderr=open(os.path.join(a.work, "broker.log"), "w"),
                         text=True)
    line = b.stdout.readline()
    if "listening on" not in line:
        print("broker failed to start", file=sys.stderr)
        return 1
    addr = line.split("listening on ")[1].split()[0]
    direct = "O_DIRECT" in line
    gen = os.path.join(a.tools, "rdk_loadgen")
    base = {"client": "librdkafka 2.0.2 (rdk_loadgen)", "transport": "tcp loopback 127.0.0.1",
            "partitions": 4, "compression": "none", "linger_ms": 5,
            "device": f"sparse file {size >> 30} GiB" + (" O_DIRECT" if direct else " page cache"),
            "flush_policy": "acks=-1: group fdatasync on a flusher thread before the ack; "
                            "else every 1000 ms or 16 MiB",
            "broker_build": "gcc -O2", "cpus": os.cpu_count(), "host": platform.node(),
            "broker_threads": 1,
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                     text=True).stdout.strip()}
    out = open(a.out, "a")

    def emit(name, value, unit, cfg):
        rec = {"name": f"broker.linux.{name}", "value": round(value, 2), "unit": unit,
               "mode": "host", "config": dict(base, **cfg)}
        out.write(json.dumps(rec) + "\n")
        print(json.dumps(rec))

    if a.scaling_only:
        b.send_signal(signal.SIGTERM)
        b.wait(timeout=60)
        os.remove(data)
        raw_scaling(a, base, emit)
        return 0
    try:
        for label, rsize, n, acks, mode in RUNS:
            topic = f"bench-{label}"
            cfg = {"record_bytes": rsize, "records": n, "acks": int(acks),
                   "enable_idempotence": mode in ("idempotent", "transactional"),
                   "transactional": mode == "transactional",
                   "records_per_transaction": 10000 if mode == "transactional" else 0,
                   "max_in_flight": 5 if mode else 1000000}
            cmd = [gen, "produce", addr, topic, str(n), str(rsize), acks]
            r = kv(subprocess.run(cmd + ([mode] if mode else []),
                                  capture_output=True, text=True, timeout=300, check=True).stdout)
            emit(f"produce_{label}_records_per_s", r["rps"], "records/s", cfg)
            emit(f"produce_{label}_MB_per_s", r["mbps"], "MB/s", cfg)
            if acks == "1":
                r = kv(subprocess.run([gen, "consume", addr, topic, str(n + 1)],
                                      capture_output=True, text=True, timeout=300,
                                      check=True).stdout)
                emit(f"consume_{label}_records_per_s", r["rps"], "records/s", cfg)
                emit(f"consume_{label}_MB_per_s", r["mbps"], "MB/s", cfg)
        for acks in ("1", "-1"):
            cfg = {"record_bytes": 100, "records": LAT_RECORDS, "acks": int(acks),
                   "linger_ms": 0, "in_flight": 1}
            r = kv(subprocess.run([gen, "latency", addr, f"bench-lat{acks}", str(LAT_RECORDS),
                                   "100", acks], capture_output=True, text=True, timeout=300,
                                  check=True).stdout)
            tag = "acksall" if acks == "-1" else "acks1"
            emit(f"produce_latency_{tag}_p50_us", r["p50_us"], "us", cfg)
            emit(f"produce_latency_{tag}_p99_us", r["p99_us"], "us", cfg)
        compaction(a, addr, emit)
    finally:
        b.send_signal(signal.SIGTERM)
        b.wait(timeout=60)
        os.remove(data)
    scaling(a, gen, base, emit)
    raw_scaling(a, base, emit)
    return 0


def cpu_s(pid, field=0):
    """CPU seconds each thread of pid ran (schedstat field 0: nanoseconds on
    a CPU, user and kernel; field 1: nanoseconds runnable but waiting for
    a CPU), keyed by thread name and id."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            name = f.read().strip()
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            out[f"{name}.{tid}"] = int(f.read().split()[field]) / 1e9
    return out


def start_broker(a, data, threads, log):
    b = subprocess.Popen([a.broker, "--listen", "127.0.0.1:0", "--data", data, "--size",
                          str(4 << 30), "--threads", str(threads), "--partitions",
                          str(SCALE_PARTS)], stdout=subprocess.PIPE,
                         stderr=open(os.path.join(a.work, log), "w"), text=True)
    return b, b.stdout.readline().split("listening on ")[1].split()[0]


def measured(b, cmd):
    """Run cmd against broker b: its key=value output and the CPU seconds
    of the broker's threads over the run (total, per loop)."""
    before = cpu_s(b.pid)
    r = kv(subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True).stdout)
    after = cpu_s(b.pid)
    used = {k: after[k] - before.get(k, 0.0) for k in after}
    return r, sum(used.values()), sorted(v for k, v in used.items() if k.startswith("loop"))


def scaling(a, gen, base, emit):
    """Produce and consume through --threads 1 and --threads 2 with
    rdk_loadgen (librdkafka, a real client) on the sparse file as the
    other figures; on this 2-core machine the client shares the cores and
    needs far more CPU per record than the broker, so its records/s
    measure the client (the broker-bound figure is raw_scaling's).
    The broker's CPU time is read per thread from /proc (schedstat); the
    1-loop broker's loop time over the busier loop's time for the same
    records is the speed-up with a core per loop (docs/broker.md, "One
    event loop per core")."""
    res = {}
    for threads in (1, 2):
        data = os.path.join(a.work, f"scale{threads}.img")
        b, addr = start_broker(a, data, threads, f"scale{threads}.log")
        try:
            for what in ("produce", "consume"):
                cmd = [gen, what, addr, "scale", str(SCALE_RECORDS)]
                cmd += [str(SCALE_BYTES), "1"] if what == "produce" else []
                r, cpu, loops = measured(b, cmd)
                res[(what, threads)] = (r["rps"], r["records"] if "records" in r else
                                        SCALE_RECORDS, cpu, loops)
        finally:
            b.send_signal(signal.SIGTERM)
            b.wait(timeout=60)
            os.remove(data)
    common = dict(base, record_bytes=SCALE_BYTES, acks=1, partitions=SCALE_PARTS,
                  load_generator_cpu="shares the same 2 cores, unpinned",
                  partition_assignment="leader loop = (topic id + partition) mod threads")
    cfgs = {
        "produce": dict(common, records=SCALE_RECORDS, client="one rdk_loadgen process "
                        "(librdkafka: a connection per broker node, i.e. per loop)"),
        "consume": dict(common, records=SCALE_RECORDS, client="one rdk_loadgen process"),
    }
    for what, label in (("produce", "produce"), ("consume", "consume")):
        cfg = cfgs[what]
        for threads in (1, 2):
            rps, n, cpu, loops = res[(what, threads)]
            c = dict(cfg, broker_threads=threads,
                     loop_cpu_s=[round(x, 3) for x in loops], broker_cpu_s=round(cpu, 3))
            emit(f"{label}_scale_threads{threads}_records_per_s", rps, "records/s", c)
            emit(f"{label}_scale_threads{threads}_broker_cpu_ns_per_record", cpu * 1e9 / n, "ns",
                 c)
        (r1, n1, _c1, l1), (r2, n2, _c2, l2) = res[(what, 1)], res[(what, 2)]
        emit(f"{label}_scale_threads2_over_1", r2 / r1, "ratio",
             dict(cfg, method="records/s seen by the client, 2 loops / 1 loop, client and "
                  "broker sharing 2 cores"))
        emit(f"{label}_scale_threads2_over_1_core_per_loop", (n2 / l2[-1]) / (n1 / l1[-1]),
             "ratio", dict(cfg, method="records per CPU-second of the busier loop, 2 loops / "
                           "1 loop: the speed-up with a core per loop when the loops are the "
                           "bottleneck"))



def raw_once(a, threads, tag):
    """One raw_loadgen run (RAW_SECONDS) against a fresh --threads broker
    whose store is on tmpfs: records, wall seconds, per-loop CPU seconds
    and run-queue waits (schedstat), the client's CPU seconds."""
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else a.work
    data = os.path.join(shm, f"hallows-bench-raw{threads}-{os.getpid()}.img")
    b, addr = start_broker(a, data, threads, f"raw{threads}.log")
    try:
        host, port = addr.rsplit(":", 1)
        wait0 = cpu_s(b.pid, 1)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        r, _cpu, loops = measured(b, [os.path.join(a.tools, "raw_loadgen"), host, port,
                                      f"raw{tag}", str(RAW_SECONDS), str(RAW_BATCH),
                                      str(SCALE_BYTES), "4", str(RAW_INFLIGHT), "2"])
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        wait1 = cpu_s(b.pid, 1)
    finally:
        b.send_signal(signal.SIGTERM)
        b.wait(timeout=60)
        os.remove(data)
    waits = sorted(v - wait0.get(k, 0.0) for k, v in wait1.items() if k.startswith("loop"))
    client = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {"records": r["records"], "seconds": r["seconds"], "loops": loops, "waits": waits,
            "client_cpu_s": client}


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def raw_scaling(a, base, emit):
    """The broker-bound scaling figure (docs/broker.md, "Scaling"):
    raw_loadgen (prebuilt Produce requests: 2 connections, 4 partitions
    of RAW_BATCH records a request, 8 in flight each, whatever the loop
    count) against --threads 1 and --threads 2, the store on tmpfs, in
    RAW_REPS pairs whose order alternates (1 then 2, 2 then 1) so that a
    drift of the machine's load hits both alike. Per pair two ratios:
    - wall: records/s 2 loops over 1 (client and loops share the 2 cores);
    - core per loop: records per CPU-second of the busier loop, 2 over 1
      (schedstat), the speed-up when each loop has a core of its own.
    The medians are the figures; every pair is in the configuration."""
    runs = {1: [], 2: []}
    for rep in range(a.raw_reps):
        for threads in ((1, 2) if rep % 2 == 0 else (2, 1)):
            runs[threads].append(raw_once(a, threads, f"{rep}"))
    wall, core = [], []
    for r1, r2 in zip(runs[1], runs[2]):
        wall.append((r2["records"] / r2["seconds"]) / (r1["records"] / r1["seconds"]))
        core.append((r2["records"] / r2["loops"][-1]) / (r1["records"] / r1["loops"][-1]))
    cfg = dict(base, record_bytes=SCALE_BYTES, acks=1, partitions=SCALE_PARTS,
               seconds=RAW_SECONDS, records_per_batch=RAW_BATCH, repetitions=a.raw_reps,
               order="pairs alternating 1,2 / 2,1; median of the pairs' ratios",
               client=f"raw_loadgen: 2 connections, 4 partitions a request, {RAW_INFLIGHT} "
               "requests in flight each, prebuilt batches",
               load_generator_cpu="shares the same 2 cores, unpinned",
               device="sparse file on tmpfs, page cache: the loops measured, not the disk",
               partition_assignment="leader loop = (topic id + partition) mod threads",
               load_average=round(os.getloadavg()[0], 2),
               pair_ratios_wall=[round(x, 3) for x in wall],
               pair_ratios_core_per_loop=[round(x, 3) for x in core])
    for threads in (1, 2):
        rs = runs[threads]
        c = dict(cfg, broker_threads=threads,
                 records_per_s_each=[round(r["records"] / r["seconds"]) for r in rs],
                 loop_cpu_s_each=[[round(x, 3) for x in r["loops"]] for r in rs],
                 loop_runqueue_wait_s_each=[[round(x, 3) for x in r["waits"]] for r in rs],
                 # on a CPU or waiting for one: 1.0 = never blocked (on input or a lock)
                 loop_runnable_fraction_median=round(median(
                     [(c + w) / r["seconds"] for r in rs for c, w in zip(r["loops"], r["waits"])]),
                     3),
                 client_cpu_s_each=[round(r["client_cpu_s"], 3) for r in rs])
        emit(f"produce_raw_scale_threads{threads}_records_per_s",
             median([r["records"] / r["seconds"] for r in rs]), "records/s", c)
        emit(f"produce_raw_scale_threads{threads}_loop_ns_per_record",
             median([r["loops"][-1] * 1e9 / r["records"] for r in rs]), "ns", c)
    emit("produce_raw_scale_threads2_over_1", median(wall), "ratio",
         dict(cfg, method="median over the pairs of records/s 2 loops / 1 loop, client and "
              "broker sharing 2 cores"))
    emit("produce_raw_scale_threads2_over_1_core_per_loop", median(core), "ratio",
         dict(cfg, method="median over the pairs of records per CPU-second of the busier loop, "
              "2 loops / 1 loop: the speed-up with a core per loop when the loops are the "
              "bottleneck"))


if __name__ == "__main__":
    sys.exit(main())
