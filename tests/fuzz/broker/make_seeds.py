#!/usr/bin/env python3
"""Write the small seed corpora for the broker fuzz targets (committed;
rerun only when the request shapes change)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
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
    os.makedirs(os.path.join(HERE, d), exist_ok=True)
    with open(os.path.join(HERE, d, name), "wb") as f:
        f.write(data)


apiv3 = frame(18, 3, 1, b"")[:-0 or None]
apiv3 = struct.pack(">hhi", 18, 3, 1) + s(b"rdkafka") + b"\x00" + b"\x04abc\x021\x00"
apiv3 = struct.pack(">i", len(apiv3)) + apiv3
write("request", "apiversions_v3", apiv3)
write("request", "metadata_v4", meta(2, b"t1"))
write("request", "produce_fetch", meta(1, b"t") + produce(2, b"t") + produce(3, b"t", 1) +
      produce(4, b"t", 0) + fetch(5, b"t", 0) + fetch(6, b"t", 3))
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
write("recovery", "none", b"")
write("recovery", "superblock_flip", struct.pack("<HHB", 0, 300, 1) + b"\x55")
write("recovery", "seg_header", struct.pack("<HHB", 64, 12, 4) + b"\x01\x00\x00\x00")
write("recovery", "frame_data", struct.pack("<HHB", 65, 100, 8) + b"\xde\xad\xbe\xef" * 2 +
      struct.pack("<HHB", 577, 0, 4) + b"HLWF")
