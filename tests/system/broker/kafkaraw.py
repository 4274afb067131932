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


def all_batches(port, topic, parts):
    """Every stored batch of every partition, read with Fetch v4."""
    out = []
    with connect(port) as s:
        corr = 1
        for p in range(parts):
            off = 0
            while True:
                corr += 1
                err, hwm, rec = fetch_v4(s, corr, topic, p, off)
                assert err == 0, f"fetch error {err}"
                got = list(batches(rec))
                if not got:
                    break
                out.extend((p,) + b for b in got)
                off = got[-1][0] + got[-1][2] + 1
                if off >= hwm:
                    break
    return out
