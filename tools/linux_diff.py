#!/usr/bin/env python3
"""Differential check of the Linux personality (docs/linux.md).

Reads the serial log of a run of the personality, where each command of
the run file appears framed as
    @@lx-begin N COMMAND
    ...output...
    @@lx-end N exit=CODE[ nonl]
runs the same command on the host in a chroot of the same file tree (the
boot module's root), and compares output and exit status byte for byte.
One TAP line per command: "ok - linux.diff.N-argv0-argv1".
"""
import argparse
import os
import re
import shutil
import subprocess
import sys


def commands(run_file):
    out = []
    for line in open(run_file):
        line = line.rstrip("\n")
        if line and not line.startswith("#") and not line.startswith("@"):  # directives
            out.append(line)
    return out


def proc_commands(run_file):
    """Commands a "#proc COMMAND" line marks: they read /proc, which the host's run of them
    gets mounted in the chroot, in mount and pid namespaces of their own."""
    return {line[6:].rstrip("\n") for line in open(run_file) if line.startswith("#proc ")}


def proc_prefix(root, pre):
    """pre inside new mount and pid namespaces with /proc mounted in root, or None."""
    p = ["unshare", "--fork", "--pid", "--mount", "--mount-proc=" + os.path.join(root, "proc")]
    p[0] = shutil.which(p[0]) or p[0]
    try:
        r = subprocess.run(p + pre + ["/bin/busybox", "test", "-e", "/proc/self/maps"],
                           capture_output=True, timeout=10)
        return p + pre if r.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def sections(log):
    text = open(log, "rb").read().decode("utf-8", "replace").replace("\r\n", "\n")
    text = re.sub(r"^\[ *[0-9.]+\] ", "", text, flags=re.M)  # the runner's timestamps
    text = re.sub(r"^\[ *[0-9]+\.[0-9]{6}\] [DIWE] .*\n", "", text, flags=re.M)  # kernel log
    found = {}
    for m in re.finditer(r"^@@lx-begin (\d+) ([^\n]*)\n(.*?)^@@lx-end \1 exit=(-?\d+)( nonl)?$",
                         text, re.S | re.M):
        body = m.group(3)
        if m.group(5):
            body = body[:-1]  # the newline the server added before its marker
        found[int(m.group(1))] = (m.group(2), body, int(m.group(4)))
    return found


def host_prefix(root):
    """A command prefix that runs a program inside root, or None (no way to chroot here)."""
    for pre in (["chroot", root], ["unshare", "-r", "--root=" + root]):
        pre[0] = shutil.which(pre[0]) or pre[0]  # the command runs with PATH=/bin
        try:
            r = subprocess.run(pre + ["/bin/busybox", "true"], capture_output=True, timeout=10)
            if r.returncode == 0:
                return pre
        except (OSError, subprocess.TimeoutExpired):
            pass
    return None


def make_dev(root):
    """/dev/null, /dev/zero and /dev/urandom in the host's chroot, as the personality has them."""
    dev = os.path.join(root, "dev")
    os.makedirs(dev, exist_ok=True)
    for name, minor in (("null", 3), ("zero", 5), ("urandom", 9)):
        path = os.path.join(dev, name)
        if not os.path.exists(path):
            try:
                os.mknod(path, 0o20666, os.makedev(1, minor))
                os.chmod(path, 0o666)
            except OSError:
                pass  # not root: commands that use them will differ


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--tap", required=True)
    a = ap.parse_args()
    cmds = commands(a.run)
    got = sections(a.log) if os.path.exists(a.log) else {}
    pre = host_prefix(os.path.abspath(a.root))
    make_dev(os.path.abspath(a.root))
    with_proc = proc_commands(a.run)
    ppre = proc_prefix(os.path.abspath(a.root), pre) if pre and with_proc else None
    env = {"PATH": "/bin", "HOME": "/", "TERM": "dumb"}
    lines, failed = [], 0
    for i, cmd in enumerate(cmds, 1):
        name = "linux.diff.%d-%s" % (i, re.sub(r"[^A-Za-z0-9_.-]+", "-", cmd.strip("!/"))[:40])
        if i not in got:
            lines.append("not ok - %s (no output framed in the log)" % name)
            failed += 1
            continue
        shown, body, code = got[i]
        if cmd.startswith("!"):  # Hallows only: framed and finished is all it must be
            lines.append("ok - %s # exit %d, not compared with Linux" % (name, code))
            continue
        if pre is None or (cmd in with_proc and ppre is None):
            lines.append("ok - %s # SKIP no chroot%s on this host" %
                         (name, " with /proc" if pre else ""))
            continue
        try:
            r = subprocess.run((ppre if cmd in with_proc else pre) + cmd.split(), capture_output=False, stdout=subprocess.PIPE,
                               stdin=subprocess.DEVNULL,  # the console reads end of file
                               stderr=subprocess.STDOUT, env=env, timeout=30,
                               cwd=os.path.abspath(a.root))  # cwd "/" inside the chroot
        except subprocess.TimeoutExpired:
            failed += 1
            lines.append("not ok - %s (timed out on Linux)" % name)
            continue
        host = r.stdout.decode("utf-8", "replace")
        if host == body and r.returncode == code:
            lines.append("ok - %s" % name)
            continue
        failed += 1
        lines.append("not ok - %s (exit %d on Hallows, %d on Linux)" % (name, code, r.returncode))
        for tag, t in (("hallows", body), ("linux", host)):
            for ln in t.splitlines()[:20]:
                lines.append("#   %s| %s" % (tag, ln))
    with open(a.tap, "a") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
