#!/usr/bin/env python3
"""Recordings for deterministic replay (hallows/replay.h, docs/snapshots.md).

  replay.py extract LOG OUT   write the recording a run printed ("rec OFFSET HEX" lines, then
                              "rec end LENGTH FNV1A64") on its console log LOG into file OUT,
                              checking its length and checksum; exits 1 when there is none or
                              it is damaged.
"""
import re
import sys


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def extract(log, out):
    chunks, end = [], None
    line_re = re.compile(r"\brec ([0-9a-f]+) ([0-9a-f]+)\s*$")
    end_re = re.compile(r"\brec end ([0-9a-f]+) ([0-9a-f]{16})\s*$")
    with open(log, "rb") as f:
        for raw in f:
            line = raw.decode("ascii", "replace")
            m = end_re.search(line)
            if m:
                end = (int(m.group(1), 16), int(m.group(2), 16))
                break
            m = line_re.search(line)
            if m:
                chunks.append((int(m.group(1), 16), bytes.fromhex(m.group(2))))
    if end is None:
        sys.exit(f"replay.py: no complete recording in {log}")
    data = bytearray(end[0])
    for off, b in chunks:
        if off + len(b) > len(data):
            sys.exit(f"replay.py: a line at {off:#x} runs past the end ({len(data):#x})")
        data[off:off + len(b)] = b
    if fnv1a64(data) != end[1]:
        sys.exit("replay.py: the recording's checksum does not match (lost console lines?)")
    with open(out, "wb") as f:
        f.write(data)
    print(f"replay.py: {out}: {len(data)} bytes from {len(chunks)} lines")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "extract":
        sys.exit(__doc__)
    extract(sys.argv[2], sys.argv[3])
