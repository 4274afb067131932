#!/usr/bin/env python3
"""Build a compilation database (compile_commands.json) for the static
checkers from the compiler command lines `make -n -B` prints.

    make -n -B TARGETS | tools/compdb.py DIR > compile_commands.json

Each C file gets the flags of a command that compiles it (commands that
compile and link several files at once give each of them their flags);
-o, dependency-file and linker-only arguments are dropped. A file that no
command compiles is not listed: the checkers borrow the flags of its
neighbours (clang's interpolation) and make check names such files.
"""
import glob
import json
import os
import shlex
import sys

COMPILERS = {"gcc", "clang", "cc", "musl-gcc"}
DROP_WITH_ARG = {"-o", "-MF", "-MT", "-MQ"}
DROP = {"-MMD", "-MP", "-MD", "-c", "-static", "-nostdlib", "-no-pie", "-pie"}


def joined(lines):
    """Recipe lines as make runs them: a line ending in a backslash goes on with the next."""
    held = ""
    for line in lines:
        line = line.rstrip("\n")
        if line.endswith("\\"):
            held += line[:-1] + " "
            continue
        yield held + line
        held = ""
    if held:
        yield held


def commands(lines):
    for line in joined(lines):
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if words and os.path.basename(words[0]) in COMPILERS:
            yield words


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    seen = {}
    for words in commands(sys.stdin):
        flags, files = [], []
        skip = False
        for w in words[1:]:
            if skip:
                skip = False
                continue
            if w in DROP_WITH_ARG:
                skip = True
            elif w in DROP or w.startswith(("-Wl,", "-l", "-L")) or w.endswith((".o", ".a", ".ld")):
                continue
            elif w.endswith(".c"):
                files.extend(sorted(glob.glob(w)) if any(c in w for c in "*?[") else [w])
            else:
                flags.append(w)
        for f in files:
            if f.startswith(("build/", "/")):  # generated sources
                continue
            seen.setdefault(f, []).append(["clang"] + flags + ["-c", f])
    # A file built by several rules (freestanding and hosted, fuzz) gets the
    # smallest of its commands: the same one whatever order make printed them in.
    db = [{"directory": root, "file": f, "arguments": min(cmds)} for f, cmds in sorted(seen.items())]
    json.dump(db, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
