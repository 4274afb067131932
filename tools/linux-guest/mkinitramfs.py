#!/usr/bin/env python3
"""Pack a minimal initramfs as a newc ("070701") cpio archive.

Usage:
  mkinitramfs.py --out build/x.cpio --init path/to/static-binary \
      [--file /dest=src ...] [--dir /dest ...]

The archive always holds /dev, /dev/console (char 5:1, so the kernel can
give /init its stdin/stdout/stderr before anything is mounted), /proc, /sys
and /init (mode 0755). All entries are owned by root with mtime 0, so the
same inputs give a byte-identical archive. Written by this script rather
than by cpio(1) because cpio cannot create device nodes without root and
takes metadata from the host file system.
"""
import argparse
import os
import stat
import sys

NEWC_MAGIC = b"070701"


def newc_entry(ino, name, mode, data=b"", rdev=(0, 0)):
    """Return one newc header + name + data, each padded to 4 bytes."""
    namez = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data),
              0, 0, rdev[0], rdev[1], len(namez), 0]
    hdr = NEWC_MAGIC + b"".join(b"%08X" % v for v in fields)
    out = hdr + namez
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
    return out


def build_archive(init_bytes, files=(), dirs=()):
    """Return the archive bytes.

    files: iterable of (dest_path, bytes, mode); dirs: iterable of dest paths.
    Parent directories of every file are created automatically.
    """
    entries = {}
    for d in ["dev", "proc", "sys"] + [x.strip("/") for x in dirs]:
        entries[d] = ("dir", None, 0o755)
    entries["dev/console"] = ("chr", (5, 1), 0o600)
    entries["init"] = ("file", init_bytes, 0o755)
    for dest, data, mode in files:
        dest = dest.strip("/")
        parts = dest.split("/")
        for i in range(1, len(parts)):
            entries.setdefault("/".join(parts[:i]), ("dir", None, 0o755))
        entries[dest] = ("file", data, mode)
    out = bytearray()
    kinds = {"dir": stat.S_IFDIR, "chr": stat.S_IFCHR, "file": stat.S_IFREG}
    for ino, name in enumerate(sorted(entries), start=1):
        kind, payload, perm = entries[name]
        mode = kinds[kind] | perm
        if kind == "file":
            out += newc_entry(ino, name, mode, payload)
        elif kind == "chr":
            out += newc_entry(ino, name, mode, rdev=payload)
        else:
            out += newc_entry(ino, name, mode)
    out += newc_entry(0, "TRAILER!!!", 0)
    out += b"\0" * (-len(out) % 512)
    return bytes(out)


def parse_file_arg(arg):
    """Split '/dest=src' into (dest, bytes, mode) reading src from disk."""
    if "=" not in arg:
        raise ValueError(f"--file wants /dest=src, got {arg!r}")
    dest, src = arg.split("=", 1)
    with open(src, "rb") as f:
        data = f.read()
    mode = 0o755 if os.access(src, os.X_OK) else 0o644
    return dest, data, mode


def main(argv=None):
    ap = argparse.ArgumentParser(description="pack a minimal newc initramfs")
    ap.add_argument("--out", required=True)
    ap.add_argument("--init", required=True, help="static binary to run as /init")
    ap.add_argument("--file", action="append", default=[], help="/dest=src")
    ap.add_argument("--dir", action="append", default=[], help="/dest")
    args = ap.parse_args(argv)
    try:
        with open(args.init, "rb") as f:
            init_bytes = f.read()
        files = [parse_file_arg(a) for a in args.file]
    except (OSError, ValueError) as err:
        print(f"mkinitramfs: {err}", file=sys.stderr)
        return 1
    blob = build_archive(init_bytes, files, args.dir)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
