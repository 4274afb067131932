#!/usr/bin/env python3
"""Run the boot scenarios of a scenario file (tests/system/boot/scenarios.txt)
through tools/qemu_run.py, one after the other, each appending its TAP lines.

    run.py --tap FILE [--set NAME=value]... [--only NAME]... SCENARIOS

A scenario line is a name followed by qemu_run.py arguments in shell
syntax; @NAME@ is replaced by a --set value and @READY@ by the expectation
that the boot reached "hallows: ready". A line the runner cannot use (an
unknown @NAME@, bad quoting, a repeated name) becomes a "not ok" line of
its own, and the others still run. Exits 1 if any scenario failed.
"""
import argparse
import re
import shlex
import subprocess
import sys

READY = ["--expect", "^hallows: ready"]


def scenarios(path):
    """(line number, name, argument text) for each scenario, continuations joined."""
    out, buf, start = [], "", 0
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not buf:
            start = n
        buf += line.rstrip("\n")
        if buf.endswith("\\"):
            buf = buf[:-1] + " "
            continue
        name, _, rest = buf.strip().partition(" ")
        out.append((start, name, rest))
        buf = ""
    if buf:
        out.append((start, buf.split()[0], None))  # continued past the end
    return out


def expand(text, values):
    """The argument list, or a reason why the line cannot be used."""
    if text is None:
        return "the last line ends in a backslash"
    try:
        words = shlex.split(text)
    except ValueError as e:
        return f"bad quoting: {e}"
    args = []
    for w in words:
        if w == "@READY@":
            args += READY
            continue
        missing = [m for m in re.findall(r"@([A-Z_]+)@", w) if m not in values]
        if missing:
            return f"no value for @{missing[0]}@"
        args.append(re.sub(r"@([A-Z_]+)@", lambda m: values[m.group(1)], w))
    return args


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tap", required=True)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=value")
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--runner", default="tools/qemu_run.py")
    ap.add_argument("file")
    a = ap.parse_args()
    values = dict(s.split("=", 1) for s in a.set)
    failed, seen = 0, set()
    for line, name, text in scenarios(a.file):
        if a.only and name not in a.only:
            continue
        args = expand(text, values)
        if name in seen:
            args = "the name is used twice"
        seen.add(name)
        if isinstance(args, str):
            with open(a.tap, "a") as t:
                t.write(f"# {a.file}:{line}: {args}\nnot ok - boot.{name}\n")
            failed += 1
            continue
        r = subprocess.run([sys.executable, a.runner, "--tap", a.tap, "--name", name] + args)
        failed += r.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
