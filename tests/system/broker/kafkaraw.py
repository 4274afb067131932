"""Minimal raw Kafka wire client for the system tests: hand-built frames
so tests can inspect stored batches and send malformed input."""
import socket
import struct


def kstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">h", len(b)) + b


def frame(key, ver, corr, body, client=b"raw"):
    b = struct.pack(">hhi", key, ver, corr) + kstr(client) + body
    return struct.pack(">i", len(b)) + b


def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def recv_frame(sock):
    n = struct.unpack(">i", recv_exact(sock, 4))[0]
    return recv_exact(sock, n)


def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def request(sock, key, ver, corr, body):
    sock.sendall(frame(key, ver, corr, body))
    resp = recv_frame(sock)
    got = struct.unpack(">i", resp[:4])[0]
    assert got == corr, f"correlation {got} != {corr}"
    return resp[4:]


class Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.o)
        self.o += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def str(self):
        n = self.take(">h")
        if n < 0:
            return None
        v = self.b[self.o:self.o + n]
        self.o += n
        return v.decode()

    def bytes(self):
        n = self.take(">i")
        if n < 0:
            return None
        v = self.b[self.o:self.o + n]
        self.o += n
        return v


def fetch_v4(sock, corr, topic, part, offset):
    body = struct.pack(">iiiib", -1, 100, 1, 50 << 20, 0) + struct.pack(">i", 1) + kstr(topic)
    body += struct.pack(">i", 1) + struct.pack(">iqi", part, offset, 8 << 20)
    r = Reader(request(sock, 1, 4, corr, body))
    r.take(">i")                     # throttle
    assert r.take(">i") == 1
    r.str()
    assert r.take(">i") == 1
    _, err, hwm, _lso = r.take(">ihqq")
    naborted = r.take(">i")
    r.o += max(naborted, 0) * 16
    records = r.bytes() or b""
    assert r.o == len(r.b), "trailing bytes in fetch response"
    return err, hwm, records


def batches(records):
    """Yield (base_offset, attributes, last_offset_delta, raw) per batch."""
    o = 0
    while o + 61 <= len(records):
        base, blen = struct.unpack_from(">qi", records, o)
        total = blen + 12
        if o + total > len(records):
            break
        attrs = struct.unpack_from(">h", records, o + 21)[0]
        lod = struct.unpack_from(">i", records, o + 23)[0]
        yield base, attrs, lod, records[o:o + total]
        o += total


def all_batches(port, topic, parts, shards=1):
    """Every stored batch of every partition, read with Fetch v4. With a
    broker of several shards (--threads), each partition is read from the
    shard (port + i) that leads it: the others answer NOT_LEADER (6)."""
    out = []
    socks = [connect(port + i) for i in range(shards)]
    with socks[0]:
        corr = 1
        for p in range(parts):
            off = 0
            s = socks[0]
            while True:
                corr += 1
                err, hwm, rec = fetch_v4(s, corr, topic, p, off)
                if err == 6 and off == 0 and socks.index(s) + 1 < len(socks):
                    s = socks[socks.index(s) + 1]
                    continue
                assert err == 0, f"fetch error {err}"
                got = list(batches(rec))
                if not got:
                    break
                out.extend((p,) + b for b in got)
                off = got[-1][0] + got[-1][2] + 1
                if off >= hwm:
                    break
    for s in socks[1:]:
        s.close()
    return out


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


EXAMPLE_BATCH = bytes.fromhex(
    "0000000000000000" "00000045" "00000000" "02" "96b7adf3" "0000" "00000000"
    "000001a2014fae8a" "000001a2014fae8a" "ffffffffffffffff" "ffff" "ffffffff"
    "00000001" "26000000" "046b31" "0a68656c6c6f" "02" "046831" "047631")


def idem_batch(pid, epoch, seq):
    """The one-record example batch as an idempotent producer's batch."""
    b = bytearray(EXAMPLE_BATCH)
    b[43:57] = struct.pack(">qhi", pid, epoch, seq)
    b[17:21] = struct.pack(">I", crc32c(bytes(b[21:])))
    return bytes(b)


def init_producer_id(sock, corr):
    r = Reader(request(sock, 22, 1, corr, b"\xff\xff" + struct.pack(">i", 60000)))
    _thr, err, pid, epoch = r.take(">ihqh")
    assert err == 0, f"InitProducerId error {err}"
    return pid, epoch


def produce_one(sock, corr, topic, part, batch, acks=-1):
    """Produce v7 of one batch; returns (error, base offset)."""
    body = b"\xff\xff" + struct.pack(">hi", acks, 30000) + struct.pack(">i", 1) + kstr(topic)
    body += struct.pack(">iii", 1, part, len(batch)) + batch
    r = Reader(request(sock, 0, 7, corr, body))
    assert r.take(">i") == 1 and r.str() == topic and r.take(">i") == 1
    _p, err, base = r.take(">ihq")
    return err, base
