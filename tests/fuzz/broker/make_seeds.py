#!/usr/bin/env python3
"""Write the small seed corpora for the broker fuzz targets (committed;
rerun only when the request shapes change)."""
import os
import sys
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
# The corpus folder: the committed one, or the argument (make's seed check).
CORPUS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
BATCH = bytes.fromhex(
    "0000000000000000" "00000045" "00000000" "02" "96b7adf3" "0000" "00000000"
    "000001a2014fae8a" "000001a2014fae8a" "ffffffffffffffff" "ffff" "ffffffff"
    "00000001" "26000000" "046b31" "0a68656c6c6f" "02" "046831" "047631")


def s(x):
    return struct.pack(">h", len(x)) + x


def frame(key, ver, corr, body):
    b = struct.pack(">hhi", key, ver, corr) + s(b"rdkafka") + body
    return struct.pack(">i", len(b)) + b


def meta(corr, topic, auto=1):
    return frame(3, 4, corr, struct.pack(">i", 1) + s(topic) + bytes([auto]))


def produce(corr, topic, acks=-1):
    return frame(0, 7, corr, b"\xff\xff" + struct.pack(">hi", acks, 30000) +
                 struct.pack(">i", 1) + s(topic) + struct.pack(">iii", 1, 0, len(BATCH)) + BATCH)


def fetch(corr, topic, off, wait=100):
    return frame(1, 11, corr, struct.pack(">iiiibii", -1, wait, 1, 52428800, 1, 0, -1) +
                 struct.pack(">i", 1) + s(topic) + struct.pack(">iiiqqi", 1, 0, -1, off, -1, 1048576) +
                 struct.pack(">i", 0) + s(b""))


def join(corr, member=b""):
    return frame(11, 5, corr, s(b"g") + struct.pack(">ii", 6000, 10000) + s(member) +
                 b"\xff\xff" + s(b"consumer") + struct.pack(">i", 1) + s(b"range") +
                 struct.pack(">i", 4) + b"META")


def write(d, name, data):
    os.makedirs(os.path.join(CORPUS, d), exist_ok=True)
    with open(os.path.join(CORPUS, d, name), "wb") as f:
        f.write(data)


apiv3 = frame(18, 3, 1, b"")[:-0 or None]
apiv3 = struct.pack(">hhi", 18, 3, 1) + s(b"rdkafka") + b"\x00" + b"\x04abc\x021\x00"
apiv3 = struct.pack(">i", len(apiv3)) + apiv3
write("request", "apiversions_v3", apiv3)
write("request", "metadata_v4", meta(2, b"t1"))
write("request", "produce_fetch", meta(1, b"t") + produce(2, b"t") + produce(3, b"t", 1) +
      produce(4, b"t", 0) + fetch(5, b"t", 0) + fetch(6, b"t", 3))
# fuzz_gather: a cut seed, then requests (each cut into pieces; a produce of two partitions)
two = frame(0, 7, 7, b"\xff\xff" + struct.pack(">hi", 1, 30000) + struct.pack(">i", 1) + s(b"t") +
            struct.pack(">iii", 2, 0, len(BATCH)) + BATCH + struct.pack(">ii", 1, len(BATCH)) + BATCH)
for seed in (0, 1, 200):
    write("gather", "produce_%d" % seed, bytes([seed]) + meta(1, b"t") + produce(2, b"t") +
          produce(3, b"t", 1) + two + fetch(5, b"t", 0))
write("request", "list_offsets", meta(1, b"t") + frame(2, 2, 2, struct.pack(">ib", -1, 1) +
      struct.pack(">i", 1) + s(b"t") + struct.pack(">iiq", 1, 0, -2)))
write("request", "group", join(1) + frame(10, 2, 2, s(b"g") + b"\x00") +
      frame(12, 3, 3, s(b"g") + struct.pack(">i", 1) + s(b"hallows-1-0") + b"\xff\xff") +
      frame(14, 3, 4, s(b"g") + struct.pack(">i", 1) + s(b"hallows-1-0") + b"\xff\xff" +
            struct.pack(">i", 1) + s(b"hallows-1-0") + struct.pack(">i", 2) + b"AA") +
      frame(8, 7, 5, s(b"g") + struct.pack(">i", 1) + s(b"hallows-1-0") + b"\xff\xff" +
            struct.pack(">i", 1) + s(b"t") + struct.pack(">iiqi", 1, 0, 5, -1) + s(b"")) +
      frame(9, 5, 6, s(b"g") + struct.pack(">i", 1) + s(b"t") + struct.pack(">ii", 1, 0)) +
      frame(13, 1, 7, s(b"g") + s(b"hallows-1-0")))


def ns(x):
    return b"\xff\xff" if x is None else s(x)


def i32(*v):
    return struct.pack(">" + "i" * len(v), *v)


# Admin APIs (key, version as librdkafka 2.0.2 sends them).
create = frame(19, 4, 1, i32(2) + s(b"ct") + struct.pack(">ih", 3, 1) + i32(0) + i32(2) +
               s(b"retention.ms") + s(b"1000") + s(b"cleanup.policy") + s(b"compact") +
               s(b"as") + struct.pack(">ih", -1, -1) + i32(1, 0, 1, 1) + i32(0) +
               i32(1000) + b"\x00")
configs = (frame(32, 1, 2, i32(2) + b"\x02" + s(b"ct") + i32(-1) + b"\x04" + s(b"1") +
                 i32(1) + s(b"num.partitions") + b"\x01") +
           frame(33, 1, 3, i32(1) + b"\x02" + s(b"ct") + i32(1) + s(b"retention.bytes") +
                 s(b"100") + b"\x00") +
           frame(44, 0, 4, i32(1) + b"\x02" + s(b"ct") + i32(2) + s(b"cleanup.policy") +
                 b"\x02" + s(b"delete") + s(b"retention.ms") + b"\x01" + ns(None) + b"\x00"))
write("request", "admin_topics", meta(9, b"t") + produce(10, b"t") + create + configs +
      frame(37, 1, 5, i32(1) + s(b"ct") + i32(5) + i32(-1) + i32(1000) + b"\x00") +
      frame(21, 1, 6, i32(1) + s(b"t") + i32(1, 0) + struct.pack(">q", 1) + i32(1000)) +
      frame(20, 1, 7, i32(2) + s(b"ct") + s(b"nope") + i32(1000)))
write("request", "admin_groups", join(1) +
      frame(8, 7, 2, s(b"solo") + i32(-1) + s(b"") + b"\xff\xff" + i32(1) + s(b"t") +
            struct.pack(">iiqi", 1, 0, 5, -1) + s(b"m")) +
      frame(16, 2, 3, b"") + frame(15, 4, 4, i32(2) + s(b"g") + s(b"solo") + b"\x00") +
      frame(47, 0, 5, s(b"solo") + i32(1) + s(b"t") + i32(1, 0)) +
      frame(42, 1, 6, i32(2) + s(b"solo") + s(b"g")))


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def idem_batch(pid, epoch, seq):
    b = bytearray(BATCH)
    b[43:57] = struct.pack(">qhi", pid, epoch, seq)
    b[17:21] = struct.pack(">I", crc32c(bytes(b[21:])))
    return bytes(b)


def produce_idem(corr, topic, pid, epoch, seq):
    bt = idem_batch(pid, epoch, seq)
    return frame(0, 7, corr, b"\xff\xff" + struct.pack(">hi", -1, 30000) +
                 struct.pack(">i", 1) + s(topic) + struct.pack(">iii", 1, 0, len(bt)) + bt)


write("request", "idempotent", meta(1, b"t") + frame(22, 1, 2, b"\xff\xff" + i32(60000)) +
      produce_idem(3, b"t", 0, 0, 0) + produce_idem(4, b"t", 0, 0, 0) +
      produce_idem(5, b"t", 0, 0, 1) + produce_idem(6, b"t", 0, 0, 5) +
      produce_idem(7, b"t", 0, 1, 0) + produce_idem(8, b"t", 0, 0, 2))
write("recovery", "none", b"")
write("recovery", "superblock_flip", struct.pack("<HHB", 0, 300, 1) + b"\x55")
write("recovery", "seg_header", struct.pack("<HHB", 64, 12, 4) + b"\x01\x00\x00\x00")
write("recovery", "frame_data", struct.pack("<HHB", 65, 100, 8) + b"\xde\xad\xbe\xef" * 2 +
      struct.pack("<HHB", 577, 0, 4) + b"HLWF")


# Flexible versions (request header v2, compact types, tag buffers).
def uv(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def cs(x):
    return b"\x00" if x is None else uv(len(x) + 1) + x


def carr(n):
    return uv(n + 1)


T = b"\x00"  # empty tag buffer


def fframe(key, ver, corr, body):
    b = struct.pack(">hhi", key, ver, corr) + s(b"rdkafka") + T + body
    return struct.pack(">i", len(b)) + b


def fetch12(corr, sid, epoch, parts, forget=()):
    body = i32(-1, 0, 1, 52428800) + b"\x00" + i32(sid, epoch) + carr(1 if parts else 0)
    if parts:
        body += cs(b"t") + carr(len(parts))
        for p, off in parts:
            body += i32(p, -1) + struct.pack(">qiqi", off, -1, -1, 1048576) + T
        body += T
    body += carr(1 if forget else 0)
    if forget:
        body += cs(b"t") + carr(len(forget)) + i32(*forget) + T
    return fframe(1, 12, corr, body + cs(b"") + T)


meta12 = fframe(3, 12, 1, carr(1) + b"\x00" * 16 + cs(b"t") + T + b"\x01\x00" + T)
produce9 = fframe(0, 9, 2, cs(None) + struct.pack(">hi", 1, 30000) + carr(1) + cs(b"t") +
                  carr(1) + i32(0) + uv(len(BATCH) + 1) + BATCH + T + T + T)
list7 = fframe(2, 7, 3, i32(-1) + b"\x00" + carr(1) + cs(b"t") + carr(2) +
               i32(0, -1) + struct.pack(">q", 1000) + T + i32(0, -1) + struct.pack(">q", -3) + T +
               T + T)
write("request", "flex_data", meta12 + produce9 + list7 + fetch12(4, 0, 0, [(0, 0), (1, 0)]) +
      fetch12(5, 1, 1, [(0, 1)]) + fetch12(6, 1, 2, [], [1]) + fetch12(7, 1, -1, [(0, 0)]))
join9 = fframe(11, 9, 1, cs(b"g") + i32(6000, 10000) + cs(b"") + cs(b"i1") + cs(b"consumer") +
               carr(1) + cs(b"range") + uv(5) + b"META" + T + cs(None) + T)
write("request", "flex_group", join9 +
      fframe(10, 4, 2, b"\x00" + carr(2) + cs(b"g") + cs(b"h") + T) +
      fframe(12, 4, 3, cs(b"g") + i32(1) + cs(b"rdkafka-x") + cs(b"i1") + T) +
      fframe(14, 5, 4, cs(b"g") + i32(1) + cs(b"rdkafka-x") + cs(b"i1") + cs(b"consumer") +
             cs(b"range") + carr(1) + cs(b"rdkafka-x") + uv(3) + b"AA" + T + T) +
      fframe(8, 8, 5, cs(b"g") + i32(1) + cs(b"rdkafka-x") + cs(b"i1") + carr(1) + cs(b"t") +
             carr(1) + i32(0) + struct.pack(">qi", 5, -1) + cs(b"m") + T + T + T) +
      fframe(9, 7, 6, cs(b"g") + carr(1) + cs(b"t") + carr(1) + i32(0) + T + b"\x01" + T) +
      fframe(13, 5, 7, cs(b"g") + carr(1) + cs(b"") + cs(b"i1") + cs(b"bye") + T + T))
write("request", "flex_admin",
      fframe(19, 7, 1, carr(1) + cs(b"ct") + i32(2) + struct.pack(">h", 1) + carr(0) + carr(1) +
             cs(b"retention.ms") + cs(b"1000") + T + T + i32(1000) + b"\x00" + T) +
      fframe(32, 4, 2, carr(1) + b"\x02" + cs(b"ct") + carr(-1) + T + b"\x01\x01" + T) +
      fframe(44, 1, 3, carr(1) + b"\x02" + cs(b"ct") + carr(1) + cs(b"cleanup.policy") + b"\x02" +
             cs(b"compact") + T + T + b"\x00" + T) +
      fframe(33, 2, 4, carr(1) + b"\x02" + cs(b"ct") + carr(1) + cs(b"retention.bytes") +
             cs(b"100") + T + T + b"\x00" + T) +
      fframe(37, 3, 5, carr(1) + cs(b"ct") + i32(4) + carr(-1) + T + i32(1000) + b"\x00" + T) +
      fframe(21, 2, 6, carr(1) + cs(b"ct") + carr(1) + i32(0) + struct.pack(">q", -1) + T + T +
             i32(1000) + T) +
      fframe(16, 4, 7, carr(1) + cs(b"Stable") + T) + fframe(60, 0, 8, b"\x00" + T) +
      fframe(15, 5, 9, carr(1) + cs(b"g") + b"\x00" + T) +
      fframe(42, 2, 10, carr(1) + cs(b"g") + T) +
      fframe(20, 5, 11, carr(1) + cs(b"ct") + i32(1000) + T))


# Transactions: a committed and an aborted transaction, offsets with it,
# read_committed fetches, in the classic and the flexible versions.
def txn_batch(pid, epoch, seq):
    b = bytearray(idem_batch(pid, epoch, seq))
    b[22] |= 0x10
    b[17:21] = struct.pack(">I", crc32c(bytes(b[21:])))
    return bytes(b)


def produce_txn(corr, topic, part, pid, epoch, seq):
    bt = txn_batch(pid, epoch, seq)
    return frame(0, 7, corr, s(b"tx") + struct.pack(">hi", -1, 30000) +
                 struct.pack(">i", 1) + s(topic) + struct.pack(">iii", 1, part, len(bt)) + bt)


PE = struct.pack(">qh", 0, 0)
write("request", "transactions",
      meta(1, b"t") + frame(10, 1, 2, s(b"tx") + b"\x01") +
      frame(22, 1, 3, s(b"tx") + i32(60000)) +
      frame(24, 0, 4, s(b"tx") + PE + i32(1) + s(b"t") + i32(2, 0, 1)) +
      produce_txn(5, b"t", 0, 0, 0, 0) + produce_txn(6, b"t", 1, 0, 0, 0) +
      fetch(7, b"t", 0, 0) +
      frame(25, 0, 8, s(b"tx") + PE + s(b"g")) +
      frame(28, 2, 9, s(b"tx") + s(b"g") + PE + i32(1) + s(b"t") + i32(1, 0) +
            struct.pack(">qi", 5, -1) + s(b"m")) +
      frame(26, 1, 10, s(b"tx") + PE + b"\x01") + fetch(11, b"t", 0, 0) +
      frame(24, 2, 12, s(b"tx") + PE + i32(1) + s(b"t") + i32(1, 0)) +
      produce_txn(13, b"t", 0, 0, 0, 1) + frame(26, 2, 14, s(b"tx") + PE + b"\x00") +
      fetch(15, b"t", 0, 0))
PE1 = struct.pack(">qh", 0, 1)
write("request", "flex_txn",
      meta(1, b"t") + fframe(22, 4, 2, cs(b"tx") + i32(60000) + struct.pack(">qh", -1, -1) + T) +
      fframe(22, 4, 3, cs(b"tx") + i32(60000) + PE + T) +
      fframe(24, 3, 4, cs(b"tx") + PE1 + carr(1) + cs(b"t") + carr(2) + i32(0, 1) + T + T) +
      fframe(25, 3, 5, cs(b"tx") + PE1 + cs(b"g") + T) +
      fframe(28, 3, 6, cs(b"tx") + cs(b"g") + PE1 + i32(-1) + cs(b"") + b"\x00" + carr(1) +
             cs(b"t") + carr(1) + i32(0) + struct.pack(">qi", 3, -1) + cs(b"m") + T + T + T) +
      produce_txn(7, b"t", 0, 0, 1, 0) +
      fframe(26, 3, 8, cs(b"tx") + PE1 + b"\x00" + T) + fetch12(9, 0, -1, [(0, 0)]))

# fuzz_zbatch: chunks of a 2-byte length, a mode byte (bit 7: the target
# compresses the records itself; low 2 bits: codec - 1) and the batch.
# The raw streams are written by hand (stored/literal blocks) so that
# no codec module is needed here.


def xxh32(data, seed=0):
    p1, p2, p3, p5 = 2654435761, 2246822519, 3266489917, 374761393
    m = 0xffffffff
    h = (seed + p5 + len(data)) & m
    for c in data:  # inputs shorter than 4 bytes only
        h = (h + c * p5) & m
        h = (((h << 11) | (h >> 21)) & m) * p1 & m
    h ^= h >> 15
    h = h * p2 & m
    h ^= h >> 13
    h = h * p3 & m
    return h ^ (h >> 16)


def zchunk(mode, hdr, payload):
    b = hdr + payload
    return struct.pack(">HB", len(b), mode) + b


RECS = BATCH[61:]
RECS2 = RECS.replace(b"hello", b"world")  # the same key, a later value
HDR = BATCH[:61]
HDR2 = struct.pack(">q", 1) + BATCH[8:61]
for codec, name in ((1, "gzip"), (2, "snappy"), (3, "lz4"), (4, "zstd")):
    write("zbatch", "self_" + name,
          zchunk(0x80 | (codec - 1), HDR, RECS) + zchunk(0x80 | (codec - 1), HDR2, RECS2))
gz = zlib.compressobj(6, zlib.DEFLATED, 31)
gzs = gz.compress(RECS) + gz.flush()
snap = bytes([len(RECS), (len(RECS) - 1) << 2]) + RECS
fd = bytes([0x60, 0x40])
lz4 = (struct.pack("<I", 0x184D2204) + fd + bytes([(xxh32(fd) >> 8) & 0xff]) +
       struct.pack("<I", len(RECS) | 0x80000000) + RECS + struct.pack("<I", 0))
zst = (struct.pack("<I", 0xFD2FB528) + bytes([0x20, len(RECS)]) +
       struct.pack("<I", (len(RECS) << 3) | 1)[:3] + RECS)
for codec, name, raw in ((1, "gzip", gzs), (2, "snappy", snap), (3, "lz4", lz4), (4, "zstd", zst)):
    write("zbatch", "raw_" + name, zchunk(codec - 1, HDR, raw) + zchunk(codec - 1, HDR2, raw))
