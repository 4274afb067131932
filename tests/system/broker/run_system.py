#!/usr/bin/env python3
"""End-to-end tests of hallows-broker with the real Debian clients (kcat
and a librdkafka program). Writes one TAP line per test. Every broker and
client runs with a timeout; brokers listen on 127.0.0.1 port 0 (the
kernel picks a free port, the broker prints it)."""
import argparse
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kafkaraw as kr  # noqa: E402

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
CODEC_ID = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
ARGS = None
THREADS = 1  # event loops (--threads) of the brokers the tests start


class Broker:
    def __init__(self, name, data=None, extra=(), threads=None):
        self.data = data or os.path.join(ARGS.work, name + ".img")
        self.threads = threads or THREADS
        self.extra = list(extra)
        self.log = open(os.path.join(ARGS.work, name + ".log"), "a")
        self.proc = None
        self.port = None

    def start(self, size=256 << 20, port=0):
        cmd = [ARGS.broker, "--listen", f"127.0.0.1:{port}", "--data", self.data,
               "--size", str(size), "--group-delay-ms", "300",
               "--threads", str(self.threads)] + self.extra
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
                   TSAN_OPTIONS="exitcode=66")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, env=env)
        deadline = time.time() + 20
        line = ""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if "listening on" in line or not line:
                break
        if "listening on" not in line:
            raise AssertionError(f"broker did not start: {line!r}")
        self.port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
        self.addr = f"127.0.0.1:{self.port}"
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("broker did not stop on SIGTERM")
            if rc != 0:
                raise AssertionError(f"broker exited {rc} (sanitizer report in log?)")
        self.proc = None

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


def run(cmd, timeout=60, inp=None, check=True):
    p = subprocess.run(cmd, input=inp, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd[0]} {' '.join(cmd[1:4])}... exited {p.returncode}: "
                             f"{p.stderr[-500:]}")
    return p


def rdk(*a, timeout=90, check=True):
    return run([os.path.join(ARGS.tools, "rdk_client")] + [str(x) for x in a],
               timeout=timeout, check=check)


def consume_set(addr, topic, timeout=20):
    out = rdk("consume", addr, topic, timeout).stdout.split()
    return out


# ----------------------------------------------------------------- tests

def t_kcat_list(b):
    run(["kcat", "-b", b.addr, "-P", "-t", "listme"], inp="x\n", timeout=30)
    out = run(["kcat", "-b", b.addr, "-L"], timeout=30).stdout
    assert f"broker 1 at {b.addr}" in out, out
    assert 'topic "listme" with 4 partitions' in out, out


def t_kcat_roundtrip(b):
    lines = [f"key{i}:value-{i}-" + "z" * (i % 50) for i in range(300)]
    run(["kcat", "-b", b.addr, "-P", "-t", "kc1", "-K", ":"], inp="\n".join(lines) + "\n",
        timeout=30)
    out = run(["kcat", "-b", b.addr, "-C", "-t", "kc1", "-o", "beginning", "-e", "-q",
               "-f", "%k:%s\n"], timeout=30).stdout.splitlines()
    assert sorted(out) == sorted(lines), f"{len(out)} of {len(lines)} back"
    p0 = run(["kcat", "-b", b.addr, "-C", "-t", "kc1", "-p", "0", "-o", "beginning", "-e",
              "-q"], timeout=30).stdout.splitlines()
    assert 0 < len(p0) < 300


def t_kcat_missing_topic_not_created(b):
    p = run(["kcat", "-b", b.addr, "-C", "-t", "never-made", "-p", "0", "-e"],
            timeout=30, check=False)
    assert p.returncode != 0
    out = run(["kcat", "-b", b.addr, "-L"], timeout=30).stdout
    assert "never-made" not in out


def t_fetch_out_of_range_resets(b):
    """Bug fetch_error_record_set_null: an OFFSET_OUT_OF_RANGE partition was
    sent with record-set length -1 and librdkafka rejected the response, so
    auto.offset.reset never took effect and the consumer hung."""
    lines = [f"oor-{i}" for i in range(5)]
    run(["kcat", "-b", b.addr, "-P", "-t", "oor", "-p", "0"], inp="\n".join(lines) + "\n",
        timeout=30)
    out = run(["kcat", "-b", b.addr, "-C", "-t", "oor", "-p", "0", "-o", "1000", "-e", "-q",
               "-X", "auto.offset.reset=smallest"], timeout=30).stdout.splitlines()
    assert out == lines, out


def t_fetch_max_bytes_respected(b):
    """Bug fetch_response_max_bytes_ignored: every partition got at least one
    batch whatever the response max_bytes, so a 1 MB fetch came back far
    larger than librdkafka's receive limit and was discarded."""
    big = "x" * 900_000
    for p in range(4):
        run(["kcat", "-b", b.addr, "-P", "-t", "bigfetch", "-p", str(p)],
            inp=f"{p}{big}\n", timeout=30)
    out = run(["kcat", "-b", b.addr, "-C", "-t", "bigfetch", "-o", "beginning", "-e", "-q",
               "-f", "%p %S\n", "-X", "fetch.max.bytes=1000000",
               "-X", "receive.message.max.bytes=1000600"], timeout=40).stdout.split()
    got = sorted(zip(out[0::2], out[1::2]))
    assert got == [(str(p), "900001") for p in range(4)], got


def admin(scenario):
    """rdk_admin (librdkafka's Admin API) checks every result itself."""
    def t(b):
        p = run([os.path.join(ARGS.tools, "rdk_admin"), b.addr, scenario], timeout=120,
                check=False)
        assert p.returncode == 0 and f"PASS {scenario}" in p.stdout, \
            (p.stdout + p.stderr)[-400:]
    return t


def t_admin_survives_restart(b):
    """Topics created, configured, partly deleted and recreated through the
    admin API keep their state across a broker restart."""
    out = run(["kcat", "-b", b.addr, "-L"], timeout=30).stdout
    assert 'topic "adm-a" with 1 partitions' in out, out
    b.stop()
    b.start()
    out = run(["kcat", "-b", b.addr, "-L"], timeout=30).stdout
    assert 'topic "adm-a" with 1 partitions' in out, out
    assert "adm-rf" not in out and "adm-vo" not in out


def t_idempotent_producer(b):
    """librdkafka with enable.idempotence=true: InitProducerId, every record
    delivered and consumed exactly once, batches stored with the id."""
    p = run([os.path.join(ARGS.tools, "rdk_admin"), b.addr, "idempotent", "5000", "idem"],
            timeout=120, check=False)
    assert p.returncode == 0 and "PASS idempotent" in p.stdout, (p.stdout + p.stderr)[-400:]
    bs = kr.all_batches(b.port, "idem", 4, b.threads)
    pids = {struct.unpack(">q", raw[43:51])[0] for (_p, _b, _a, _l, raw) in bs}
    assert len(pids) == 1 and min(pids) >= 0, f"producer ids in batches: {pids}"
    assert sum(lod + 1 for (_p, _b, _a, lod, _r) in bs) == 5000


def t_idempotent_kill9(_b):
    """Bug-class test for idempotence: the broker is killed with -9 while an
    idempotent librdkafka producer runs and restarted on the same port; the
    producer retries its in-flight batches with the same sequences, and the
    broker (its producer state rebuilt from the log) stores each once."""
    nb = Broker("idemkill").start()
    port = nb.port
    total = 60000
    prod = subprocess.Popen([os.path.join(ARGS.tools, "rdk_admin"), nb.addr, "idempotent",
                             str(total), "idemk"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        # kill once a third is acknowledged, while batches are in flight
        seen = []
        for line in prod.stdout:  # to the end of its output, not just while it runs
            seen.append(line)
            if line.startswith("progress") and int(line.split()[2]) >= total // 3:
                break
        assert prod.poll() is None, f"producer ended before the kill: {''.join(seen[-5:])!r}"
        nb.kill9()
        nb.start(port=port)
        out, _ = prod.communicate(timeout=180)
        assert prod.returncode == 0 and "PASS idempotent" in out, out[-400:]
        bs = kr.all_batches(nb.port, "idemk", 4, nb.threads)
        assert sum(lod + 1 for (_p, _b, _a, lod, _r) in bs) == total
    finally:
        if prod.poll() is None:
            prod.kill()
            prod.wait()
        nb.stop()


def t_idempotent_retry_after_crash(_b):
    """A batch acknowledged just before a kill -9 and retried (same producer
    id, epoch and sequence) after the restart is acknowledged with its
    original offset and stored once; the next sequence continues."""
    nb = Broker("idemretry").start()
    try:
        with kr.connect(nb.port) as s:
            kr.request(s, 3, 4, 1, struct.pack(">i", 1) + kr.kstr("retry") + b"\x01")
            pid, epoch = kr.init_producer_id(s, 2)
            assert kr.produce_one(s, 3, "retry", 0, kr.idem_batch(pid, epoch, 0)) == (0, 0)
            assert kr.produce_one(s, 4, "retry", 0, kr.idem_batch(pid, epoch, 1)) == (0, 1)
        nb.kill9()
        nb.start()
        with kr.connect(nb.port) as s:
            assert kr.produce_one(s, 1, "retry", 0, kr.idem_batch(pid, epoch, 1)) == (0, 1)
            assert kr.produce_one(s, 2, "retry", 0, kr.idem_batch(pid, epoch, 3))[0] == 45
            assert kr.produce_one(s, 3, "retry", 0, kr.idem_batch(pid, epoch, 2)) == (0, 2)
            err, hwm, _rec = kr.fetch_v4(s, 4, "retry", 0, 0)
            assert err == 0 and hwm == 3, f"hwm {hwm}"
    finally:
        nb.stop()


def t_no_auto_create(_b):
    """--no-auto-create: a producer's Metadata does not create the topic."""
    nb = Broker("noauto", extra=["--no-auto-create"]).start()
    try:
        p = run(["kcat", "-b", nb.addr, "-P", "-t", "never", "-X",
                 "topic.metadata.propagation.max.ms=2000", "-X", "message.timeout.ms=3000"],
                inp="x\n", timeout=30, check=False)
        assert p.returncode != 0, "produce to a missing topic succeeded"
        out = run(["kcat", "-b", nb.addr, "-L"], timeout=30).stdout
        assert "never" not in out, out
    finally:
        nb.stop()


def make_roundtrip(acks, codec):
    def t(b):
        topic = f"rt-{acks}-{codec}".replace("-1-", "all-")
        out = rdk("produce", b.addr, topic, 400, 500, acks, codec, "r").stdout
        assert "delivered 400 failed 0" in out, out
        got = consume_set(b.addr, topic)
        want = [f"r-{i}" for i in range(400)]
        assert sorted(got) == sorted(want), f"{len(got)} records back, want 400"
        bs = kr.all_batches(b.port, topic, 4, b.threads)
        codecs = {attrs & 7 for (_p, _base, attrs, _lod, _raw) in bs}
        assert codecs == {CODEC_ID[codec]}, f"stored codecs {codecs}"
        assert sum(lod + 1 for (_p, _b, _a, lod, _r) in bs) == 400
    return t


def t_kcat_codec(b):
    lines = [f"line-{i}-" + "abcabc" * 40 for i in range(100)]
    run(["kcat", "-b", b.addr, "-P", "-t", "kz", "-z", "lz4"], inp="\n".join(lines) + "\n",
        timeout=30)
    out = run(["kcat", "-b", b.addr, "-C", "-t", "kz", "-o", "beginning", "-e", "-q"],
              timeout=30).stdout.splitlines()
    assert sorted(out) == sorted(lines)
    assert {a & 7 for (_p, _b, a, _l, _r) in kr.all_batches(b.port, "kz", 4, b.threads)} == {3}


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def t_group_rebalance(b):
    rdk("produce", b.addr, "grp1", 300, 100, 1, "none", "a")
    stop = os.path.join(ARGS.work, "grp1.stop")
    if os.path.exists(stop):
        os.remove(stop)
    outs = [open(os.path.join(ARGS.work, f"member{i}.out"), "w+") for i in range(2)]
    cmd = [os.path.join(ARGS.tools, "rdk_client"), "group", b.addr, "grp1", "g-two", "60", stop]
    read = lambda i: open(outs[i].name).read()  # noqa: E731
    procs = [subprocess.Popen(cmd, stdout=outs[0], stderr=subprocess.DEVNULL)]
    try:
        wait_for(lambda: "ASSIGN 4" in read(0), 30, "first member to own 4 partitions")
        procs.append(subprocess.Popen(cmd, stdout=outs[1], stderr=subprocess.DEVNULL))
        wait_for(lambda: "ASSIGN 2" in read(0) and "ASSIGN 2" in read(1), 30,
                 "rebalance to 2+2 partitions")
        rdk("produce", b.addr, "grp1", 300, 100, 1, "none", "b")
        want = {f"a-{i}" for i in range(300)} | {f"b-{i}" for i in range(300)}

        def seen():
            got = set()
            for i in range(2):
                got |= {ln[4:] for ln in read(i).splitlines() if ln.startswith("MSG ")}
            return got
        wait_for(lambda: want <= seen(), 30, "both members to consume everything")
        b_msgs = [ln for ln in read(1).splitlines() if ln.startswith("MSG b-")]
        assert b_msgs, "second member consumed nothing after the rebalance"
    finally:
        open(stop, "w").close()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    for i in range(2):
        assert "CLOSED" in read(i)


def t_group_member_killed(b):
    """kill -9 of one member: its session (6 s) expires and the survivor
    takes over all partitions and consumes what is produced afterwards."""
    rdk("produce", b.addr, "grp2", 100, 100, 1, "none", "x")
    stop = os.path.join(ARGS.work, "grp2.stop")
    outs = [os.path.join(ARGS.work, f"kmember{i}.out") for i in range(2)]
    cmd = [os.path.join(ARGS.tools, "rdk_client"), "group", b.addr, "grp2", "g-kill", "60", stop]
    read = lambda i: open(outs[i]).read()  # noqa: E731
    procs = [subprocess.Popen(cmd, stdout=open(outs[0], "w"), stderr=subprocess.DEVNULL)]
    try:
        wait_for(lambda: "ASSIGN 4" in read(0), 30, "first member to own 4 partitions")
        procs.append(subprocess.Popen(cmd, stdout=open(outs[1], "w"), stderr=subprocess.DEVNULL))
        wait_for(lambda: "ASSIGN 2" in read(0) and "ASSIGN 2" in read(1), 30, "2+2 split")
        procs[1].kill()
        procs[1].wait(timeout=10)
        wait_for(lambda: read(0).count("ASSIGN 4") >= 2, 30,
                 "survivor to take all partitions after the session timeout")
        rdk("produce", b.addr, "grp2", 100, 100, 1, "none", "y")
        wait_for(lambda: all(f"MSG y-{i}" in read(0) for i in range(100)), 30,
                 "survivor to consume the new records")
    finally:
        open(stop, "w").close()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def t_kcat_group(b):
    run(["kcat", "-b", b.addr, "-P", "-t", "kg"], inp="".join(f"m{i}\n" for i in range(50)),
        timeout=30)
    out = run(["kcat", "-b", b.addr, "-G", "kcat-grp", "-o", "beginning", "-e", "-q", "kg"],
              timeout=60).stdout.split()
    assert sorted(out) == sorted(f"m{i}" for i in range(50)), out[:5]
    # committed offsets: a second run of the group without -o sees nothing new
    out2 = run(["kcat", "-b", b.addr, "-G", "kcat-grp", "-e", "-q", "kg"], timeout=60).stdout
    assert out2.strip() == "", out2[:200]


def t_flexible_versions_negotiated(b):
    """librdkafka 2.0.2 (Debian's) picks the flexible versions it knows
    (InitProducerId v4, OffsetFetch v7) from our ApiVersions, and the
    exchanges succeed: an idempotent produce and a group consume."""
    p = run(["kcat", "-b", b.addr, "-P", "-t", "flexv", "-X", "enable.idempotence=true",
             "-d", "protocol"], inp="".join(f"f{i}\n" for i in range(10)), timeout=30)
    assert "Sent InitProducerIdRequest (v4" in p.stderr, p.stderr[-400:]
    assert "Received InitProducerIdResponse (v4" in p.stderr, p.stderr[-400:]
    p = run(["kcat", "-b", b.addr, "-G", "flexv-grp", "-X", "auto.offset.reset=earliest",
             "-e", "-q", "-d", "protocol", "flexv"], timeout=60)
    assert sorted(p.stdout.split()) == sorted(f"f{i}" for i in range(10)), p.stdout[:200]
    assert "Received OffsetFetchResponse (v7" in p.stderr, p.stderr[-400:]


def t_bad_input(b):
    run(["kcat", "-b", b.addr, "-P", "-t", "safe"], inp="".join(f"s{i}\n" for i in range(20)),
        timeout=30)
    before = sorted(consume_set(b.addr, "safe"))
    rnd = random.Random(5)
    # unsupported versions / keys get error 35 on a live connection
    with kr.connect(b.port) as s:
        r = kr.request(s, 18, 7, 1, b"")
        assert struct.unpack(">h", r[:2])[0] == 35
        r = kr.request(s, 40, 0, 2, b"")
        assert struct.unpack(">h", r[:2])[0] == 35
        # a produce whose batch CRC is wrong is refused with CORRUPT_MESSAGE
        batch = bytearray(bytes.fromhex(
            "0000000000000000000000450000000002" "96b7adf3" "000000000000"
            "000001a2014fae8a000001a2014fae8affffffffffffffffffffffffffff00000001"
            "26000000046b310a68656c6c6f02046831047631"))
        batch[70] ^= 1
        body = b"\xff\xff" + struct.pack(">hi", 1, 1000) + struct.pack(">i", 1) + kr.kstr("safe")
        body += struct.pack(">iii", 1, 0, len(batch)) + bytes(batch)
        errs = []
        for i in range(b.threads):  # the shard leading safe/0 checks the batch
            with kr.connect(b.port + i) as s2:
                r = kr.Reader(kr.request(s2, 0, 7, 3, body))
                assert r.take(">i") == 1 and r.str() == "safe" and r.take(">i") == 1
                errs.append(r.take(">ih"))
        assert sorted(errs) == [(0, 2)] + [(0, 6)] * (b.threads - 1), errs
    # garbage, truncated and oversized frames: connection closed, no crash
    payloads = [b"\x7f\xff\xff\xff", b"\x00\x00\x00\x02ab", b"\xff\xff\xff\xf0abcd",
                kr.frame(0, 7, 9, b"\xff\xff\x00\x01\x00\x00\x03\xe8\x00\x00\x00\x01")]
    payloads += [kr.frame(rnd.randrange(20), rnd.randrange(12), i,
                          bytes(rnd.randrange(256) for _ in range(rnd.randrange(80))))
                 for i in range(200)]
    for n, p in enumerate(payloads):
        try:
            with kr.connect(b.port + n % b.threads, timeout=2) as s:
                s.sendall(p)
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
        except (ConnectionError, socket.timeout, OSError):
            pass
    assert b.alive(), "broker died on bad input"
    after = sorted(consume_set(b.addr, "safe"))
    assert after == before, "stored data changed"
    run(["kcat", "-b", b.addr, "-L"], timeout=30)


def t_restart_preserves(b):
    rdk("produce", b.addr, "persist", 500, 200, -1, "snappy", "p")
    got = run(["kcat", "-b", b.addr, "-G", "pgrp", "-o", "beginning", "-e", "-q", "persist"],
              timeout=60).stdout.split()
    assert len(got) == 500
    b.stop()
    b.start()
    out = run(["kcat", "-b", b.addr, "-L"], timeout=30).stdout
    assert 'topic "persist" with 4 partitions' in out
    assert "__hallows" not in out
    assert sorted(consume_set(b.addr, "persist")) == sorted(f"p-{i}" for i in range(500))
    # the group's committed offsets survived the restart: nothing to re-read
    again = run(["kcat", "-b", b.addr, "-G", "pgrp", "-e", "-q", "persist"], timeout=60).stdout
    assert again.strip() == "", f"re-consumed {len(again.split())} records after restart"


def t_advertise(_b):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    b = Broker("advertise", extra=["--advertise", f"localhost:{port}"])
    b.extra = ["--advertise", f"localhost:{port}"]
    cmd_listen = f"127.0.0.1:{port}"
    b.start_args = cmd_listen
    # listen on the chosen port so the advertised one is reachable
    b.proc = None
    b.data = os.path.join(ARGS.work, "advertise.img")
    proc = subprocess.Popen([ARGS.broker, "--listen", cmd_listen, "--data", b.data,
                             "--size", str(64 << 20), "--advertise", f"localhost:{port}",
                             "--partitions", "3", "--threads", str(THREADS)],
                            stdout=subprocess.PIPE,
                            stderr=b.log, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening" in line, line
        out = run(["kcat", "-b", cmd_listen, "-L"], timeout=30).stdout
        assert f"broker 1 at localhost:{port}" in out, out
        run(["kcat", "-b", cmd_listen, "-P", "-t", "adv"], inp="a\nb\n", timeout=30)
        out = run(["kcat", "-b", cmd_listen, "-L", "-t", "adv"], timeout=30).stdout
        assert "with 3 partitions" in out, out
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def t_crash_kill9(_b):
    """Records acknowledged (acks=-1, then acks=1) before kill -9 are
    served after the restart."""
    data = os.path.join(ARGS.work, "crash.img")
    if os.path.exists(data):
        os.remove(data)
    acked = os.path.join(ARGS.work, "crash.acked")
    if os.path.exists(acked):
        os.remove(acked)
    b = Broker("crash", data=data)
    total_acked = set()
    for rnd, delay in enumerate((1.5, 2.0)):
        b.start()
        tag = f"c{rnd}"
        # round 0: acks=-1 (durable before the ack); round 1: acks=1
        # (handed to the device before the ack: survives a process kill)
        prod = subprocess.Popen([os.path.join(ARGS.tools, "rdk_client"), "produce", b.addr,
                                 "crash", "0", "300", "1" if rnd else "-1",
                                 "lz4" if rnd else "none", tag,
                                 acked + tag], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        time.sleep(delay)
        b.kill9()
        # No acknowledgement can arrive from a dead broker: every index in
        # the acked file was confirmed before the kill. Stop the producer.
        time.sleep(0.3)
        prod.kill()
        prod.wait(timeout=10)
        with open(acked + tag) as f:
            idx = [ln.strip() for ln in f if ln.strip()]
        assert len(idx) > 20, f"too few acknowledged records ({len(idx)}) before the kill"
        total_acked |= {f"{tag}-{i}" for i in idx}
        b.start()
        got = set(consume_set(b.addr, "crash", timeout=30))
        missing = total_acked - got
        assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:3]}"
        b.stop()


def create_compacted(port, topic, configs):
    """CreateTopics v4 of a one-partition topic with configs (raw client)."""
    body = struct.pack(">i", 1) + kr.kstr(topic) + struct.pack(">ihi", 1, 1, 0)
    body += struct.pack(">i", len(configs))
    for k, v in configs.items():
        body += kr.kstr(k) + kr.kstr(v)
    body += struct.pack(">ib", 10000, 0)
    with kr.connect(port) as s:
        r = kr.Reader(kr.request(s, 19, 4, 1, body))
        r.take(">i")  # throttle
        assert r.take(">i") == 1
        r.str()
        err = r.take(">h")
        assert err == 0, f"CreateTopics {topic}: error {err}"


def compact_produce(addr, topic, rounds, keys, tag):
    """kcat -K: every key once per round (1.2 s apart, so that segment.ms=1000
    closes a segment per round); in the last round every 5th key gets a
    tombstone (-Z: an empty value is sent as null). Returns the expected
    last value per key (None: deleted)."""
    want = {}
    for rnd in range(rounds):
        lines = []
        for k in range(keys):
            tomb = rnd == rounds - 1 and k % 5 == 0
            val = "" if tomb else f"{tag}{rnd}-{k}-" + "x" * 200
            lines.append(f"k{k}:{val}")
            want[f"k{k}"] = None if tomb else val
        run(["kcat", "-b", addr, "-P", "-t", topic, "-p", "0", "-K", ":", "-Z"],
            inp="\n".join(lines) + "\n", timeout=30)
        time.sleep(1.2)
    return want


def compact_consume(addr, topic, offsets=False):
    """kcat (librdkafka) from offset 0 to the end: (records, last value per
    key, or (offset, value) with offsets); tombstones read as None. Offsets
    must only grow."""
    p = run(["kcat", "-b", addr, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q",
             "-Z", "-f", "%o %k %S %s\n"], timeout=60)
    assert "ERROR" not in p.stderr and "rror" not in p.stderr, p.stderr[-300:]
    last, n, prev = {}, 0, -1
    for ln in p.stdout.splitlines():
        parts = ln.split(" ", 3)
        off, key, size = int(parts[0]), parts[1], int(parts[2])
        assert off > prev, f"offset {off} after {prev}"
        prev = off
        last[key] = None if size < 0 else (parts[3] if len(parts) > 3 else "")
        if offsets:
            last[key] = (off, last[key])
        n += 1
    return n, last


def compacted_view(last):
    return {k: v for k, v in last.items() if v is not None}


def t_compaction_kcat(b):
    """cleanup.policy=compact: keyed records produced with kcat -K over
    several closed segments are compacted in the background; kcat
    consumes the topic from offset 0 without error (offsets with gaps) and
    sees the last value of every key, also after a restart."""
    create_compacted(b.port, "cmpk", {"cleanup.policy": "compact", "segment.ms": "1000",
                                      "min.cleanable.dirty.ratio": "0.01"})
    want = compact_produce(b.addr, "cmpk", 5, 60, "a")
    produced = 5 * 60
    n, last = produced, {}
    deadline = time.time() + 30
    while time.time() < deadline:
        n, last = compact_consume(b.addr, "cmpk")
        if n <= 2 * 60:
            break
        time.sleep(1)
    assert n <= 2 * 60, f"{n} of {produced} records left: not compacted"
    assert compacted_view(last) == compacted_view(want), "last values differ"
    b.stop()
    b.start()
    n2, last2 = compact_consume(b.addr, "cmpk")
    assert n2 == n and compacted_view(last2) == compacted_view(want)


def t_compaction_kcat_codecs(_b):
    """Producers that compress (kcat -z gzip|snappy|lz4|zstd -K, one topic
    each): the compactor decompresses their batches, keeps the last record
    per key and writes the survivors with the same codec. kcat from offset
    0 sees the last value of every key at the offset it was produced at
    (round * keys + key), and every stored batch still has the codec. Its
    own broker: a segment per round and topic would fill the shared one."""
    data = os.path.join(ARGS.work, "zcodecs.img")
    if os.path.exists(data):
        os.remove(data)
    b = Broker("zcodecs", data=data)
    b.start()
    try:
        compaction_kcat_codecs(b)
    finally:
        b.stop()


def compaction_kcat_codecs(b):
    keys, rounds = 40, 3
    codecs = ("gzip", "snappy", "lz4", "zstd")
    for c in codecs:
        create_compacted(b.port, f"zc-{c}", {"cleanup.policy": "compact", "segment.ms": "1000",
                                             "min.cleanable.dirty.ratio": "0.01"})
    want = {}
    for rnd in range(rounds):
        lines = []
        for k in range(keys):
            tomb = rnd == rounds - 1 and k % 5 == 0
            val = "" if tomb else f"z{rnd}-{k}-" + "y" * 200
            lines.append(f"k{k}:{val}")
            want[f"k{k}"] = (rnd * keys + k, None if tomb else val)
        for c in codecs:
            run(["kcat", "-b", b.addr, "-P", "-t", f"zc-{c}", "-p", "0", "-K", ":", "-Z",
                 "-z", c], inp="\n".join(lines) + "\n", timeout=30)
        time.sleep(1.2)
    for c in codecs:
        topic = f"zc-{c}"
        got, n = {}, rounds * keys
        deadline = time.time() + 30
        while time.time() < deadline:
            n, got = compact_consume(b.addr, topic, offsets=True)
            if n <= 2 * keys:
                break
            time.sleep(1)
        assert n <= 2 * keys, f"{c}: {n} of {rounds * keys} records left: not compacted"
        assert got == want, f"{c}: last values or their offsets differ"
        bs = kr.all_batches(b.port, topic, 1, b.threads)
        stored = {attrs & 7 for (_p, _base, attrs, _lod, _raw) in bs}
        assert stored == {CODEC_ID[c]}, f"{c}: stored codecs {stored}"


def t_compaction_kill9(_b):
    """The broker is killed (SIGKILL) at moments spread over its compaction
    of a topic, and restarted on the same file: every key keeps its last
    value and offsets stay in order."""
    data = os.path.join(ARGS.work, "ckill.img")
    if os.path.exists(data):
        os.remove(data)
    b = Broker("ckill", data=data)
    b.start()
    create_compacted(b.port, "ck", {"cleanup.policy": "compact", "segment.ms": "1000",
                                    "min.cleanable.dirty.ratio": "0.01"})
    want = compact_produce(b.addr, "ck", 4, 2000, "b")
    # the pass starts within 0.2 s of a start (the check interval)
    for delay in (0.1, 0.2, 0.25, 0.3, 0.4, 0.6):
        b.kill9()
        b.start()
        time.sleep(delay)
    b.kill9()
    b.start()
    n, last = compact_consume(b.addr, "ck")
    assert compacted_view(last) == compacted_view(want)
    deadline = time.time() + 30
    while n > 2 * 2000 and time.time() < deadline:
        time.sleep(1)
        n, last = compact_consume(b.addr, "ck")
    assert n <= 2 * 2000, f"{n} of {4 * 2000} records left: not compacted"
    assert compacted_view(last) == compacted_view(want)
    b.stop()
def t_partitions_exactly_once_in_order(_b):
    """Three librdkafka producers on their own connections write 16
    partitions at once (with --threads 2 the partitions are spread over
    both loops); every record comes back exactly once, each partition's
    offsets are dense and each producer's records are in its order."""
    nb = Broker("spread", extra=["--partitions", "16"])
    if os.path.exists(nb.data):  # from a run with other --threads
        os.remove(nb.data)
    nb.start()
    try:
        n = 3000
        procs = [subprocess.Popen([os.path.join(ARGS.tools, "rdk_client"), "produce", nb.addr,
                                   "spread", str(n), "64", "1", "none", tag],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for tag in "abc"]
        for pr in procs:
            out, err = pr.communicate(timeout=120)
            assert f"delivered {n} failed 0" in out, (out + err)[-300:]
        out = run(["kcat", "-b", nb.addr, "-C", "-t", "spread", "-o", "beginning", "-e", "-q",
                   "-f", "%p %o %s\n"], timeout=60).stdout.split("\n")
        recs = [ln.split(" ") for ln in out if ln]
        vals = [v.split("-")[0] + "-" + v.split("-")[1] for (_p, _o, v) in recs]
        assert sorted(vals) == sorted(f"{t}-{i}" for t in "abc" for i in range(n)), \
            f"{len(vals)} records back (duplicates or losses), want {3 * n}"
        parts = {}
        for p, o, v in recs:
            parts.setdefault(int(p), []).append((int(o), v.split("-")[0], int(v.split("-")[1])))
        assert len(parts) == 16, f"records in {len(parts)} partitions"
        for p, rs in parts.items():
            assert [o for (o, _t, _i) in rs] == list(range(len(rs))), f"partition {p} offsets"
            for t in "abc":
                idx = [i for (_o, tt, i) in rs if tt == t]
                assert idx == sorted(idx), f"partition {p}: producer {t} out of order"
        if nb.threads > 1:
            meta = run(["kcat", "-b", nb.addr, "-L", "-t", "spread"], timeout=30).stdout
            leaders = {ln.split("leader ")[1].split(",")[0] for ln in meta.splitlines()
                       if "leader " in ln}
            assert len(leaders) == nb.threads, f"leaders {leaders}"
    finally:
        nb.stop()


def t_connection_order_with_forwarding(b):
    """One write of pipelined requests on a connection to the last loop:
    ApiVersions and Produce (answered by that loop) between Metadata,
    FindCoordinator and OffsetFetch (answered by shard 0 through the
    rings when there are several loops): every response comes back in
    request order, the produce to a partition the loop leads succeeds."""
    port = b.port + b.threads - 1
    with kr.connect(port) as s:  # the topic, and which partition this loop leads
        kr.request(s, 3, 4, 1, struct.pack(">i", 1) + kr.kstr("order") + b"\x01")
        part = next(p for p in range(4)
                    if kr.fetch_v4(s, 2 + p, "order", p, 0)[0] == 0)
    meta = struct.pack(">i", 1) + kr.kstr("order") + b"\x01"
    prod = b"\xff\xff" + struct.pack(">hi", 1, 30000) + struct.pack(">i", 1) + kr.kstr("order")
    prod += struct.pack(">iii", 1, part, len(kr.EXAMPLE_BATCH)) + kr.EXAMPLE_BATCH
    reqs = [(18, 0, b""), (3, 4, meta), (0, 7, prod), (10, 0, kr.kstr("order-g")),
            (18, 0, b""), (9, 1, kr.kstr("order-g") + struct.pack(">i", 0)), (0, 7, prod),
            (3, 4, meta)] * 5
    with kr.connect(port) as s:
        s.sendall(b"".join(kr.frame(k, v, 100 + i, body) for i, (k, v, body) in
                           enumerate(reqs)))
        for i, (k, _v, _body) in enumerate(reqs):
            r = kr.recv_frame(s)
            assert struct.unpack(">i", r[:4])[0] == 100 + i, f"response {i} out of order"
            if k == 0:
                rd = kr.Reader(r[4:])
                assert rd.take(">i") == 1 and rd.str() == "order" and rd.take(">i") == 1
                assert rd.take(">ih") == (part, 0), "produce refused"


def t_parked_join_holds_up_nothing(b):
    """A JoinGroup that waits for a rebalance (a second member joins a
    group whose first member does not come back) parks on the coordinator;
    meanwhile Metadata through the same loop is answered at once: requests
    forwarded to shard 0 do not wait for one another."""
    port = b.port + b.threads - 1

    def join(s, corr, member):
        body = kr.kstr("parked") + struct.pack(">ii", 10000, 8000) + kr.kstr(member)
        body += kr.kstr("consumer") + struct.pack(">i", 1) + kr.kstr("range")
        body += struct.pack(">i", 0)
        s.sendall(kr.frame(11, 1, corr, body))

    with kr.connect(port, timeout=10) as x, kr.connect(port) as y, kr.connect(port) as z:
        join(x, 1, "")
        r = kr.Reader(kr.recv_frame(x)[4:])
        assert r.take(">h") == 0, "first join failed"
        join(y, 2, "")  # rebalance: waits up to 8 s for the first member
        time.sleep(0.3)
        t0 = time.time()
        meta = struct.pack(">i", 1) + kr.kstr("parked-t") + b"\x01"
        kr.request(z, 3, 4, 3, meta)
        assert time.time() - t0 < 2.0, f"Metadata took {time.time() - t0:.1f} s"


def txn(*args, timeout=120, check=True):
    return run([os.path.join(ARGS.tools, "rdk_txn")] + [str(a) for a in args],
               timeout=timeout, check=check)


def txn_values(addr, topic, committed=True, timeout_s=40):
    """Values a read_committed (or read_uncommitted) consumer sees, in a
    Counter keyed by the value's tag (the part before the first '-')."""
    args = [addr, "consume", topic, timeout_s] + ([] if committed else ["uncommitted"])
    p = txn(*args, timeout=timeout_s + 30, check=False)
    assert p.returncode == 0 and "PASS consume" in p.stdout, (p.stdout + p.stderr)[-400:]
    vals = [v for v in p.stdout.splitlines() if v and not v.startswith("PASS")]
    tags = {}
    for v in vals:
        tags[v.split("-")[0]] = tags.get(v.split("-")[0], 0) + 1
    return vals, tags


def t_txn_commit_abort(b):
    """librdkafka transactional producer: a committed transaction is seen
    by a read_committed consumer, an aborted one only by read_uncommitted;
    every record once."""
    kr_topic = "txa"
    with kr.connect(b.port) as s:
        kr.request(s, 3, 4, 1, struct.pack(">i", 1) + kr.kstr(kr_topic) + b"\x01")
    assert "PASS commit" in txn(b.addr, "commit", kr_topic, "tx-a", 300, "c").stdout
    assert "PASS abort" in txn(b.addr, "abort", kr_topic, "tx-a", 200, "a").stdout
    assert "PASS commit" in txn(b.addr, "commit", kr_topic, "tx-a", 50, "d").stdout
    vals, tags = txn_values(b.addr, kr_topic)
    assert tags == {"c": 300, "d": 50} and len(set(vals)) == 350, tags
    _vals, tags = txn_values(b.addr, kr_topic, committed=False)
    assert tags == {"c": 300, "a": 200, "d": 50}, tags


def t_txn_fencing(b):
    """A second producer with the same transactional.id fences the first:
    the first one's commit fails (fatal, fenced), its records are aborted,
    the second one's are committed."""
    p = txn(b.addr, "fence", "txf", "tx-f", "f", check=False)
    assert p.returncode == 0 and "PASS fence" in p.stdout, (p.stdout + p.stderr)[-400:]
    _vals, tags = txn_values(b.addr, "txf")
    assert tags == {"f": 10}, tags
    vals, _tags = txn_values(b.addr, "txf")
    assert all(v.startswith("f-b-") for v in vals), vals[:5]


def t_txn_vanished_client_times_out(b):
    """A client that exits with its transaction open (transaction.timeout.ms
    8 s): read_committed consumers stop at the LSO (their end of the
    partition) before the open transaction, so even the records committed
    after it stay invisible until the broker aborts it; then they see
    exactly those."""
    t0 = time.time()
    p = txn(b.addr, "hang", "txh", "tx-h", 40, "h", 8000)
    assert "PASS hang" in p.stdout, p.stdout
    assert "PASS commit" in txn(b.addr, "commit", "txh", "tx-h2", 30, "k").stdout
    _vals, tags = txn_values(b.addr, "txh")
    assert time.time() - t0 < 8 and tags == {}, (tags, time.time() - t0)
    time.sleep(max(0.0, 9.5 - (time.time() - t0)))
    _vals, tags = txn_values(b.addr, "txh")
    assert tags == {"k": 30}, tags
    _vals, tags = txn_values(b.addr, "txh", committed=False)
    assert tags == {"h": 40, "k": 30}, tags
    print(f"  read_committed consumer done {time.time() - t0:.1f}s after the hung client")


def t_txn_consume_transform_produce(b):
    """send_offsets_to_transaction (AddOffsetsToTxn, TxnOffsetCommit): each
    record of the source is copied once and the group's offsets move with
    the transactions."""
    assert "PASS commit" in txn(b.addr, "commit", "cpt-src", "tx-s", 60, "s").stdout
    p = txn(b.addr, "cpt", "cpt-src", "cpt-dst", "cpt-g", "tx-cpt", check=False)
    assert p.returncode == 0 and "PASS cpt 60" in p.stdout, (p.stdout + p.stderr)[-400:]
    vals, tags = txn_values(b.addr, "cpt-dst")
    assert tags == {"s": 60} and len(set(vals)) == 60, tags


def txn_kill_case(name, point):
    """The broker kills itself (SIGKILL) at a point of a commit over four
    partitions; restarted, a read_committed consumer sees every record of
    the transaction exactly once (the PREPARE record was durable), or, cut
    before it (point "open": kill -9 from outside with the transaction
    still open), none once its timeout aborts it."""
    def t(_b, name=name):
        name = f"{name}-t{THREADS}"  # the data file's layout follows --threads
        extra = ["--crash-at", point] if point != "open" else []
        nb = Broker(name, extra=extra).start()
        port = nb.port
        topic = "txk-" + point
        try:
            with kr.connect(nb.port) as s:
                kr.request(s, 3, 4, 1, struct.pack(">i", 1) + kr.kstr(topic) + b"\x01")
            if point == "open":
                p = txn(nb.addr, "hang", topic, "tx-k", 200, "k", 4000)
                assert "PASS hang" in p.stdout, p.stdout
                nb.kill9()
            else:
                cl = subprocess.Popen([os.path.join(ARGS.tools, "rdk_txn"), nb.addr, "commit",
                                       topic, "tx-k", "200", "k", "10000"],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                nb.proc.wait(timeout=60)
                nb.proc = None
                assert "reached" in open(os.path.join(ARGS.work, name + ".log")).read()
            nb.extra = []
            nb.start(port=port)
            if point != "open":
                # the client retries EndTxn against the restarted broker (a
                # retry of the commit just recovered succeeds) or gives up
                out, _ = cl.communicate(timeout=90)
                assert cl.returncode in (0, 3), out[-400:]
            if point == "open":
                # after the timeout (4 s from the restart) the broker aborts
                # it: records committed later become visible, k's never
                time.sleep(4.5)
                assert "PASS commit" in txn(nb.addr, "commit", topic, "tx-z", 20, "z").stdout
            vals, tags = txn_values(nb.addr, topic)
            want = {"z": 20} if point == "open" else {"k": 200}
            assert tags == want and len(set(vals)) == len(vals), tags
            # the same after a clean restart: markers are not written twice
            nb.stop()
            nb.start(port=port)
            vals2, _tags = txn_values(nb.addr, topic)
            assert sorted(vals2) == sorted(vals)
            _vals, tags = txn_values(nb.addr, topic, committed=False)
            assert tags.get("k") == 200, tags
        finally:
            nb.stop()
    return t


TESTS = [
    ("kcat_list_shows_broker_and_topics", t_kcat_list),
    ("kcat_produce_consume_roundtrip", t_kcat_roundtrip),
    ("kcat_consumer_does_not_autocreate", t_kcat_missing_topic_not_created),
    ("kcat_lz4_passthrough", t_kcat_codec),
    ("kcat_fetch_out_of_range_applies_auto_offset_reset", t_fetch_out_of_range_resets),
    ("kcat_fetch_max_bytes_respected_across_partitions", t_fetch_max_bytes_respected),
]
TESTS += [(f"rdkafka_roundtrip_acks{a}_{c}".replace("acks-1", "acks_all"), make_roundtrip(a, c))
          for a in (0, 1, -1) for c in CODECS]
TESTS += [
    ("kcat_group_consume_and_commit", t_kcat_group),
    ("rdkafka_negotiates_flexible_versions", t_flexible_versions_negotiated),
    ("rdkafka_group_two_members_rebalance", t_group_rebalance),
    ("rdkafka_group_member_kill9_session_expiry", t_group_member_killed),
    ("bad_input_keeps_broker_and_data", t_bad_input),
    ("restart_preserves_topics_data_and_offsets", t_restart_preserves),
    ("advertised_address_in_metadata", t_advertise),
    ("crash_kill9_keeps_acknowledged_records", t_crash_kill9),
    ("rdkafka_admin_topics_create_configs_partitions_records_delete",
     admin("topics")),
    ("rdkafka_admin_topics_state_survives_restart", t_admin_survives_restart),
    ("rdkafka_admin_groups_commit_metadata_list_describe_delete", admin("groups")),
    ("no_auto_create_option_refuses_unknown_topics", t_no_auto_create),
    ("rdkafka_idempotent_producer_exactly_once", t_idempotent_producer),
    ("rdkafka_idempotent_producer_broker_kill9_no_duplicates", t_idempotent_kill9),
    ("idempotent_retry_after_kill9_stored_once", t_idempotent_retry_after_crash),
    ("rdkafka_txn_commit_and_abort_read_committed", t_txn_commit_abort),
    ("rdkafka_txn_fencing_same_transactional_id", t_txn_fencing),
    ("rdkafka_txn_vanished_client_times_out_and_aborts", t_txn_vanished_client_times_out),
    ("rdkafka_txn_consume_transform_produce_offsets", t_txn_consume_transform_produce),
    ("txn_broker_killed_after_prepare_all_committed",
     txn_kill_case("txnkill-prep", "txn-prepared")),
    ("txn_broker_killed_after_first_marker_all_committed",
     txn_kill_case("txnkill-mark", "txn-marker")),
    ("txn_broker_killed_with_txn_open_none_visible", txn_kill_case("txnkill-open", "open")),
    ("kcat_compacted_topic_last_value_per_key_from_offset_0", t_compaction_kcat),
    ("kcat_compressed_compacted_topics_last_value_per_key_original_offsets",
     t_compaction_kcat_codecs),
    ("compaction_broker_kill9_keeps_last_values", t_compaction_kill9),
    ("partitions_exactly_once_in_order", t_partitions_exactly_once_in_order),
    ("pipelined_requests_answered_in_order_across_loops", t_connection_order_with_forwarding),
    ("parked_join_group_holds_up_no_other_request", t_parked_join_holds_up_nothing),
]


# The subset run again against a broker with --threads 2 (names get
# "_threads2"): real clients route by the leaders of Metadata.
TESTS_THREADS2 = [
    "kcat_list_shows_broker_and_topics", "kcat_produce_consume_roundtrip",
    "kcat_consumer_does_not_autocreate", "kcat_lz4_passthrough",
    "kcat_fetch_out_of_range_applies_auto_offset_reset",
    "kcat_fetch_max_bytes_respected_across_partitions", "rdkafka_roundtrip_acks1_none",
    "rdkafka_roundtrip_acks_all_lz4", "kcat_group_consume_and_commit",
    "rdkafka_negotiates_flexible_versions", "rdkafka_group_two_members_rebalance",
    "bad_input_keeps_broker_and_data", "restart_preserves_topics_data_and_offsets",
    "rdkafka_admin_topics_create_configs_partitions_records_delete",
    "rdkafka_admin_topics_state_survives_restart",
    "rdkafka_admin_groups_commit_metadata_list_describe_delete",
    "rdkafka_idempotent_producer_exactly_once", "partitions_exactly_once_in_order",
    "pipelined_requests_answered_in_order_across_loops",
    "parked_join_group_holds_up_no_other_request",
    # transactions across loops: coordinator on loop 0, markers written by
    # each partition's loop (docs/broker.md, "Transactions across loops")
    "rdkafka_txn_commit_and_abort_read_committed", "rdkafka_txn_fencing_same_transactional_id",
    "rdkafka_txn_vanished_client_times_out_and_aborts",
    "rdkafka_txn_consume_transform_produce_offsets",
    "txn_broker_killed_after_prepare_all_committed",
    "txn_broker_killed_after_first_marker_all_committed",
]


# A few of them under ThreadSanitizer (--tsan-broker): the loops, the
# rings between them (forwarded and replicated requests) and the flushers.
TESTS_TSAN = ["kcat_produce_consume_roundtrip", "bad_input_keeps_broker_and_data",
              "rdkafka_txn_commit_and_abort_read_committed",
              "rdkafka_admin_topics_create_configs_partitions_records_delete",
              "partitions_exactly_once_in_order",
              "pipelined_requests_answered_in_order_across_loops",
              "parked_join_group_holds_up_no_other_request"]


def run_tests(tap, b, tests, suffix=""):
    for name, fn in tests:
        if ARGS.only and ARGS.only not in name:
            continue
        t0 = time.time()
        try:
            if not b.alive():
                b.start()
            fn(b)
            line = f"ok - {name}{suffix}"
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            line = f"not ok - {name}{suffix} ({str(e)[:200]})"
        line = line.replace("\n", " ")
        print(f"{line}  [{time.time() - t0:.1f}s]", flush=True)
        tap.write(line + "\n")
        tap.flush()


def run_parallel(names):
    """Each run in a child process of this script (--select NAME), in
    WORK/NAME with its own brokers, data files and TAP file: the runs
    mostly wait on clients and timeouts, so they overlap well. The TAP
    lines and the console output are gathered in run order."""
    argv = [sys.executable, os.path.abspath(__file__), "--broker", ARGS.broker, "--tools", ARGS.tools,
            "--only", ARGS.only]
    if ARGS.threads2 or ARGS.threads2_only:
        argv.append("--threads2-only" if ARGS.threads2_only else "--threads2")
    if ARGS.tsan_broker:
        argv += ["--tsan-broker", ARGS.tsan_broker]
    kids = []
    for name in names:
        work = os.path.join(ARGS.work, name)
        out = open(os.path.join(ARGS.work, name + ".out"), "w")
        kids.append((name, work, out, subprocess.Popen(
            argv + ["--work", work, "--tap", work + ".tap", "--select", name],
            stdout=out, stderr=subprocess.STDOUT)))
    with open(ARGS.tap, "w") as tap:
        for name, work, out, p in kids:
            rc = p.wait()
            out.close()
            with open(os.path.join(ARGS.work, name + ".out")) as f:
                sys.stdout.write(f.read())
            try:
                with open(work + ".tap") as f:
                    tap.write(f.read())
            except OSError:
                pass
            if rc != 0:
                tap.write(f"not ok - broker_system_run_{name} (runner exited {rc})\n")
    sys.stdout.flush()
    return 0


def main():
    global ARGS, THREADS
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--tap", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--threads2", action="store_true",
                    help="also run TESTS_THREADS2 against a broker with --threads 2")
    ap.add_argument("--threads2-only", action="store_true", help="only that second run")
    ap.add_argument("--tsan-broker", default="",
                    help="ThreadSanitizer build: TESTS_TSAN against it with --threads 2")
    ap.add_argument("--parallel", action="store_true",
                    help="the runs (main, threads2, tsan) at once, each in a process and a "
                    "work folder of its own; their TAP lines in the usual order")
    ap.add_argument("--select", default="", help=argparse.SUPPRESS)
    ARGS = ap.parse_args()
    shutil.rmtree(ARGS.work, ignore_errors=True)
    os.makedirs(ARGS.work)
    runs = [(1, "main", "", TESTS)]
    if ARGS.threads2_only:
        runs = []
    if ARGS.threads2 or ARGS.threads2_only:
        runs.append((2, "main2", "_threads2", [t for t in TESTS if t[0] in TESTS_THREADS2]))
    if ARGS.tsan_broker:
        runs.append((2, "tsan", "_tsan", [t for t in TESTS if t[0] in TESTS_TSAN]))
    if ARGS.select:
        runs = [r for r in runs if r[1] == ARGS.select]
    elif ARGS.parallel and len(runs) > 1:
        return run_parallel([r[1] for r in runs])
    tap = open(ARGS.tap, "w")
    sanitized = ARGS.broker
    for threads, bname, suffix, tests in runs:
        THREADS = threads
        ARGS.broker = ARGS.tsan_broker if suffix == "_tsan" else sanitized
        b = Broker(bname)
        try:
            b.start()
        except Exception as e:  # noqa: BLE001
            tap.write(f"not ok - broker_starts{suffix} ({e})\n")
            continue
        run_tests(tap, b, tests, suffix)
        try:
            b.stop()
            tap.write(f"ok - broker_clean_shutdown_no_sanitizer_errors{suffix}\n")
        except Exception as e:  # noqa: BLE001
            tap.write(f"not ok - broker_clean_shutdown_no_sanitizer_errors{suffix} ({e})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
