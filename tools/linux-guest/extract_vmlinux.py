#!/usr/bin/env python3
"""Extract the ELF vmlinux from an x86 bzImage whose payload is xz-compressed.

Usage: extract_vmlinux.py [--image /boot/vmlinuz-X] --out build/linux-guest/vmlinux

How: the bzImage setup header (Linux boot protocol >= 2.08) gives
payload_offset (0x248) and payload_length (0x24c) relative to the start of
the protected-mode code, which begins at (setup_sects + 1) * 512 (setup_sects
at 0x1f1; 0 means 4). The payload must start with the xz stream magic
FD 37 7A 58 5A 00. If the header does not describe an xz payload we fall back
to scanning the image for the xz magic and try each candidate in turn. The
stream is decompressed with Debian's `xz -dc --single-stream`, which stops at
the end of the first stream and so ignores the 4-byte size the kernel build
appends. The result must be an x86-64 ELF file; it is written atomically.
"""
import argparse
import glob
import os
import struct
import subprocess
import sys

XZ_MAGIC = b"\xfd7zXZ\x00"
HDRS_MAGIC = b"HdrS"
ELF_MAGIC = b"\x7fELF"
EM_X86_64 = 62


class ExtractError(Exception):
    """The image is not a bzImage with an xz payload we can decompress."""


def header_payload(image):
    """Return (offset, length) of the payload named by the setup header, or None.

    Never raises on malformed input: a short or odd image just yields None.
    """
    if len(image) < 0x250 or image[0x202:0x206] != HDRS_MAGIC:
        return None
    version = struct.unpack_from("<H", image, 0x206)[0]
    if version < 0x208:
        return None
    setup_sects = image[0x1F1] or 4
    start = (setup_sects + 1) * 512
    off, length = struct.unpack_from("<II", image, 0x248)
    begin = start + off
    if length == 0 or begin + length > len(image):
        return None
    return begin, length


def xz_candidates(image):
    """Yield (offset, length) candidates for the xz stream, best first."""
    hp = header_payload(image)
    if hp and image[hp[0]:hp[0] + len(XZ_MAGIC)] == XZ_MAGIC:
        yield hp
    pos = image.find(XZ_MAGIC)
    while pos >= 0:
        if not hp or pos != hp[0]:
            yield pos, len(image) - pos
        pos = image.find(XZ_MAGIC, pos + 1)


def xz_decompress(data):
    """Decompress one xz stream with Debian's xz; return bytes or None on error."""
    try:
        proc = subprocess.run(["xz", "-dc", "--single-stream"], input=data,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=False)
    except OSError as err:
        raise ExtractError(f"cannot run xz: {err}") from err
    return proc.stdout if proc.returncode == 0 else None


def is_x86_64_elf(blob):
    """True when blob starts with an ELF64 little-endian x86-64 header."""
    if len(blob) < 64 or blob[:4] != ELF_MAGIC:
        return False
    if blob[4] != 2 or blob[5] != 1:
        return False
    return struct.unpack_from("<H", blob, 18)[0] == EM_X86_64


def extract(image):
    """Return the vmlinux ELF bytes inside bzImage bytes; raise ExtractError."""
    tried = 0
    for off, length in xz_candidates(image):
        tried += 1
        if tried > 16:
            break
        out = xz_decompress(image[off:off + length])
        if out and is_x86_64_elf(out):
            return out
    raise ExtractError(f"no xz stream decompressing to an x86-64 ELF "
                       f"({tried} candidate(s) tried)")


def default_image():
    """The newest /boot/vmlinuz-* (Debian's linux-image-amd64 installs one)."""
    found = sorted(glob.glob("/boot/vmlinuz-*"))
    if not found:
        raise ExtractError("no /boot/vmlinuz-*; install linux-image-amd64")
    return found[-1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", help="bzImage (default: newest /boot/vmlinuz-*)")
    ap.add_argument("--out", required=True, help="where to write the ELF vmlinux")
    args = ap.parse_args(argv)
    try:
        path = args.image or default_image()
        with open(path, "rb") as f:
            image = f.read()
        elf = extract(image)
    except (OSError, ExtractError) as err:
        print(f"extract_vmlinux: {err}", file=sys.stderr)
        return 1
    tmp = args.out + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(tmp, "wb") as f:
        f.write(elf)
    os.replace(tmp, args.out)
    print(f"extract_vmlinux: {path} -> {args.out} ({len(elf)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
