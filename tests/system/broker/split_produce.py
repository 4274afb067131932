#!/usr/bin/env python3
"""Produce requests cut into TCP segments at every byte boundary of their
first bytes (and every size from 1 to 64 bytes after), then a corrupted
batch: run against the broker on Floo (floo_run.sh), where large Produce
requests are decoded in the packet buffers they arrived in
(docs/broker.md "Transport over Floo"). Usage: split_produce.py ADDR.

Every request must be answered with error 0 and consecutive base offsets,
the corrupted one with CORRUPT_MESSAGE (2); a Fetch then returns exactly
the batches produced, the corrupted one absent."""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kafkaraw as kr  # noqa: E402

ADDR = sys.argv[1]
TOPIC = b"split"
CASTAGNOLI = 0x82F63B78
TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ CASTAGNOLI if c & 1 else c >> 1
    TABLE.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def s(x):
    return kr.kstr(x)


def batch(n, fill):
    """A v2 batch of n bytes, one record's header and arbitrary bytes (the broker stores it
    verbatim after checking the header and CRC)."""
    body = bytes((fill + i * 7) & 0xFF for i in range(n - 61))
    after_crc = (struct.pack(">hiqqqhii", 0, 0, 1000, 1000, -1, -1, -1, 1) + body)
    head = struct.pack(">qii", 0, n - 12, 0) + b"\x02"
    return head + struct.pack(">I", crc32c(after_crc)) + after_crc


def frame(key, ver, corr, body):
    return kr.frame(key, ver, corr, body, client=b"split")


def produce(corr, rec):
    return frame(0, 3, corr, b"\xff\xff" + struct.pack(">hi", 1, 30000) + struct.pack(">i", 1) +
                 s(TOPIC) + struct.pack(">iii", 1, 0, len(rec)) + rec)


def metadata(corr):
    return frame(3, 4, corr, struct.pack(">i", 1) + s(TOPIC) + b"\x01")


def fetch(corr, off):
    return frame(1, 4, corr, struct.pack(">iiiib", -1, 100, 1, 8 << 20, 0) + struct.pack(">i", 1) +
                 s(TOPIC) + struct.pack(">iiqi", 1, 0, off, 8 << 20))


def recv_resp(sock):
    return kr.recv_frame(sock)


def produce_result(r):
    # corr, [topic [partition error base]]
    off = 4 + 4
    tl = struct.unpack(">h", r[off:off + 2])[0]
    off += 2 + tl + 4
    part, err, base = struct.unpack(">ihq", r[off:off + 14])
    return err, base


def send_cut(sock, req, cuts):
    at = 0
    for c in cuts + [len(req)]:
        if c > at:
            sock.sendall(req[at:c])
            time.sleep(0.0005)  # one segment per piece (TCP_NODELAY)
            at = c


def main():
    sock = socket.create_connection((ADDR, 9092), timeout=20)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(metadata(1))
    recv_resp(sock)
    sent, corr = [], 10
    rec = batch(12000, 5)
    # every cut in the first 40 bytes (size field, header, topic, records length), then pieces
    # of every size from 1 to 64 bytes over the whole request
    plans = [[c] for c in range(1, 41)]
    plans += [list(range(1, 300)), list(range(7, 12200, 7))]
    plans += [list(range(k, 12200, k)) for k in (64, 1000)]
    for cuts in plans:
        req = produce(corr, rec)
        send_cut(sock, req, cuts)
        err, base = produce_result(recv_resp(sock))
        if err != 0 or base != len(sent):
            raise SystemExit("request %d (cuts %s...): error %d base %d, want 0 and %d" %
                             (corr, cuts[:3], err, base, len(sent)))
        sent.append(rec)
        corr += 1
    bad = bytearray(produce(corr, batch(12000, 9)))
    bad[-100] ^= 0x40
    send_cut(sock, bytes(bad), list(range(1000, 12100, 1000)))
    err, base = produce_result(recv_resp(sock))
    if err != 2 or base != -1:
        raise SystemExit("corrupted batch: error %d base %d, want 2 (CORRUPT_MESSAGE) and -1" %
                         (err, base))
    got, off = b"", 0
    while off < len(sent):
        sock.sendall(fetch(corr + 1 + off, off))
        r = recv_resp(sock)
        # corr, throttle, topics, topic, partitions, idx err hwm lso, aborted, records bytes
        o = 4 + 4 + 4
        tl = struct.unpack(">h", r[o:o + 2])[0]
        o += 2 + tl + 4
        idx, err, hwm, lso = struct.unpack(">ihqq", r[o:o + 22])
        o += 22
        na = struct.unpack(">i", r[o:o + 4])[0]
        o += 4 + max(na, 0) * 16
        n = struct.unpack(">i", r[o:o + 4])[0]
        blob = r[o + 4:o + 4 + n]
        if err or hwm != len(sent) or n <= 0:
            raise SystemExit("fetch at %d: error %d hwm %d bytes %d" % (off, err, hwm, n))
        while len(blob) >= 12:
            bl = struct.unpack(">i", blob[8:12])[0] + 12
            if bl > len(blob):
                break
            got += blob[:bl]
            blob = blob[bl:]
            off += 1
    want = b"".join(struct.pack(">q", i) + b[8:] for i, b in enumerate(sent))
    if got != want:
        raise SystemExit("fetched batches differ from the produced ones")
    print("%d requests cut at every byte boundary of their first 40 (and 300) bytes and into "
          "pieces of 7, 64 and 1000 bytes: stored and fetched byte-identical; the corrupted batch refused"
          % len(sent))


main()
