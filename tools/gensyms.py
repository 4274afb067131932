#!/usr/bin/env python3
"""Emit the kernel symbol table (assembly for the .ksyms section) from `nm -n` output on stdin."""
import sys

syms = []
for line in sys.stdin:
    parts = line.split()
    if len(parts) != 3 or parts[1] not in "tTwW":
        continue
    addr = int(parts[0], 16)
    if addr < 0xffffffff80000000:
        continue
    syms.append((addr, parts[2]))
syms.sort()
out = ['\t.section .ksyms, "a"', "\t.balign 8", "\t.global ksyms_count, ksyms_table",
       f"ksyms_count:\n\t.quad {len(syms)}", "ksyms_table:"]
for i, (a, _) in enumerate(syms):
    out.append(f"\t.quad {a:#x}, .Lname{i}")
for i, (_, n) in enumerate(syms):
    out.append(f'.Lname{i}:\t.asciz "{n}"')
print("\n".join(out))
