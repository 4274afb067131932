#!/usr/bin/env python3
"""Count TAP-style result lines in build/results/*.tap and print the verdict.

Each test group writes lines `ok - name`, `not ok - name`, or
`ok - name # SKIP reason`. Prints failures, then `N passed, N failed[, N skipped]`
and exits 1 on any failure or if no test ran.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build/results")
passed = failed = skipped = 0
fails = []
for f in sorted(root.glob("*.tap")):
    for line in f.read_text(errors="replace").splitlines():
        m = re.match(r"^\s*(not ok|ok)\b(.*)$", line)
        if not m:
            continue
        rest = m.group(2)
        if m.group(1) == "not ok":
            failed += 1
            fails.append(f"{f.stem}:{rest}")
        elif re.search(r"#\s*SKIP", rest, re.I):
            skipped += 1
        else:
            passed += 1
for x in fails:
    print("FAILED", x)
tail = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{tail}")
sys.exit(1 if failed or passed == 0 else 0)
