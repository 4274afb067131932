#!/usr/bin/env python3
"""Mutation fuzzer for the harness's parsers of outside bytes (Python).

  fuzz_parsers.py --seconds N [--seed S]

Targets: results.parse_bench_line (guest serial output) and
extract_vmlinux.header_payload / extract (bzImage bytes). Inputs start from
the seed corpus in fuzz_corpus/ and are mutated (bit flips, byte sets,
insertions, deletions, splices). The contract checked: the parsers never
raise anything but their documented error, and what they accept is
well-formed (a parsed BENCH line has a finite number and a name without
spaces; an extracted kernel is an x86-64 ELF). libFuzzer is for C; these
parsers are Python, so this is the equivalent. Exit 1 on the first
violation, printing the input as hex.
"""
import argparse
import math
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE)))

import extract_vmlinux as ex  # noqa: E402
from bench import results  # noqa: E402

CORPUS = os.path.join(HERE, "fuzz_corpus")


def mutate(rng, data, corpus):
    """One to four random edits of data (bytes)."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        pos = rng.randrange(len(b) + 1)
        if op == 0 and b:
            b[pos % len(b)] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            b[pos % len(b)] = rng.choice([0, 0xFF, 0x20, 0x3D, 0x0A, rng.randrange(256)])
        elif op == 2:
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3 and b:
            del b[pos:pos + rng.randint(1, 8)]
        else:
            other = rng.choice(corpus)
            cut = rng.randrange(len(other) + 1)
            b[pos:] = other[cut:]
    return bytes(b)


def check_bench(data):
    """parse_bench_line must not raise and must only accept sane lines."""
    p = results.parse_bench_line(data.decode("utf-8", "replace"))
    if p is None:
        return
    assert isinstance(p["value"], (int, float)) and math.isfinite(p["value"])
    assert p["name"] and not any(c.isspace() for c in p["name"])
    assert p["unit"] and not any(c.isspace() for c in p["unit"])


def check_image(data):
    """header_payload must stay in bounds; extract accepts only x86-64 ELF."""
    hp = ex.header_payload(data)
    if hp is not None:
        assert 0 <= hp[0] and hp[0] + hp[1] <= len(data)
    try:
        out = ex.extract(data)
    except ex.ExtractError:
        return
    assert ex.is_x86_64_elf(out)


def load(kind):
    d = os.path.join(CORPUS, kind)
    return [open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d))]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args(argv)
    seed = a.seed if a.seed is not None else int(time.time())
    rng = random.Random(seed)
    targets = [(check_bench, load("bench")), (check_image, load("image"))]
    end = time.monotonic() + a.seconds
    runs = 0
    while time.monotonic() < end:
        check, corpus = targets[runs % 2]
        data = mutate(rng, rng.choice(corpus), corpus)
        try:
            check(data)
        except Exception as err:  # any escape is a finding
            print(f"fuzz_parsers: {check.__name__} seed={seed} run={runs}: "
                  f"{type(err).__name__}: {err}\ninput: {data.hex()}", file=sys.stderr)
            return 1
        runs += 1
    print(f"fuzz_parsers: {runs} inputs, seed {seed}, no findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
