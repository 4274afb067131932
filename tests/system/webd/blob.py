#!/usr/bin/env python3
"""webd's test file www/blob.bin: 300,000 bytes from a seeded generator (every byte value)."""
import random
import sys

rng = random.Random(20261206)
sys.stdout.buffer.write(bytes(rng.getrandbits(8) for _ in range(300000)))
