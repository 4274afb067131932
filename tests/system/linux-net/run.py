#!/usr/bin/env python3
"""test-linux-net: sockets of the Linux personality on Floo (issue 15 item 7).

Boots the personality with a virtio-net NIC behind QEMU user networking
inside a network namespace this script creates and removes (so the fixed
ports below collide with nothing), and plays the other end:

  in the namespace, on 127.0.0.1 = the guest's 10.0.2.2:
    TCP and UDP echo on port 7 (nothing on port 1: ECONNREFUSED),
    an HTTP server on 8000 (busybox wget fetches hello.txt),
    a line server on 9000 (busybox nc connects, sends a line, reads one);
  through QEMU's forwards to the guest:
    7070 -> t_socket's listener, 8081 -> busybox httpd, 9001 -> busybox nc -l.

While t_socket runs, 3,000 broken frames (cut, runt, bad lengths and checksums, unknown
types) come onto the guest's link through a QEMU datagram netdev on the same hub as slirp;
Floo's drop counters (printed at the end) must show them refused at every layer.

Writes TAP lines to --tap: the boot (tools/qemu_run.py's verdict with the
expected lines) and one line per exchange this side checks.
"""
import argparse
import http.server
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
HELLO = os.path.join(ROOT, "tests", "linux", "root", "etc", "hello.txt")
INDEX = os.path.join(ROOT, "tests", "linux", "root", "etc", "www", "index.html")


class Results:
    def __init__(self, tap):
        self.tap = tap
        self.lines = []

    def add(self, ok, name, detail=""):
        line = ("ok - " if ok else "not ok - ") + "linux-net: " + name
        self.lines.append(line)
        print(line + ("" if ok or not detail else "\n#   " + detail), flush=True)
        with open(self.tap, "a") as f:
            f.write(line + "\n")


def serve_forever(server):
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return server


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


class UdpEcho(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data, self.client_address)


class LineServer(socketserver.StreamRequestHandler):
    got = []

    def handle(self):
        LineServer.got.append(self.rfile.readline())
        self.wfile.write(b"the host's answer\n")


class Quiet(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=os.path.dirname(HELLO), **k)

    def log_message(self, *a):
        pass


class Threaded(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


CONSOLE = []  # the guest's console lines so far (qemu_run.py --echo)


def read_console(pipe, copy):
    with open(copy, "w") as out:
        for raw in pipe:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            CONSOLE.append(line)
            out.write(line + "\n")
            out.flush()
    CONSOLE.append("@@console-closed")


def wait_for(pattern, deadline, stop=None):
    """pattern on the console before deadline, and before stop if given."""
    while time.time() < deadline:
        lines = list(CONSOLE)
        if any(pattern in line for line in lines):
            return True
        if stop and any(stop in line for line in lines) or lines[-1:] == ["@@console-closed"]:
            return False
        time.sleep(0.2)
    return False


GUEST_MAC = bytes.fromhex("525400123456")


def garbage_frames(port, count=3000):
    """Broken frames onto the guest's link (QEMU's dgram netdev on the same hub as slirp):
    cut headers, bad lengths and checksums, options, fragments, random bytes, to the
    guest's MAC and to broadcast, ARP, IPv4 with TCP, UDP and ICMP, unknown types."""
    import random
    import struct
    rnd = random.Random(15)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    src = bytes.fromhex("02deadbeef01")
    for i in range(count):
        dst = GUEST_MAC if i % 4 else b"\xff" * 6
        kind = i % 6
        if kind == 0:  # ARP, mangled
            body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, rnd.choice([1, 2, 9])) + bytes(
                rnd.getrandbits(8) for _ in range(rnd.randrange(0, 30)))
            et = 0x0806
        elif kind in (1, 2, 3):  # IPv4 with a random header length, total length, protocol
            proto = (6, 17, 1)[kind - 1]
            l4 = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(8, 80)))
            if proto == 6 and rnd.random() < 0.5:  # to t_socket's ports
                l4 = struct.pack("!HH", 7, rnd.choice([7070, 49152, 49153])) + l4[4:]
            if rnd.random() < 0.6:
                # A sound IPv4 header (its checksum right): the frame reaches TCP, UDP, ICMP with
                # a wrong checksum of theirs (QEMU's slirp on the same hub crashes on sound
                # headers over fragments and odd lengths, so those keep a wrong IP checksum).
                hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), rnd.getrandbits(16), 0,
                                  64, proto, 0, bytes([10, 0, 2, 2]), bytes([10, 0, 2, 15]))
                words = sum(struct.unpack("!10H", hdr))
                while words >> 16:
                    words = (words & 0xffff) + (words >> 16)
                hdr = hdr[:10] + struct.pack("!H", ~words & 0xffff) + hdr[12:]
                if proto == 17:  # a UDP checksum that is not 0 ("none") and not right
                    l4 = l4[:6] + b"\x12\x34" + l4[8:]
            else:
                ihl = rnd.choice([5, 6, 15, 2])
                tot = rnd.choice([20, 40, 1500, 65535, rnd.randrange(0, 2000)])
                frag = rnd.choice([0, 0x2000, 0x2000 | rnd.randrange(1, 8000), rnd.randrange(1, 8000)])
                hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tot, rnd.getrandbits(16), frag, 64,
                                  proto, rnd.getrandbits(16) | 1, bytes([10, 0, 2, 2]),
                                  bytes([10, 0, 2, 15]))
            body = hdr + l4
            et = 0x0800
        elif kind == 4:
            body = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 1500)))
            et = rnd.choice([0x86dd, 0x8100, 0x88cc, rnd.getrandbits(16)])
        else:  # runt frames
            body, et = b"", 0x0800
        frame = dst + src + struct.pack("!H", et) + body
        s.sendto(frame[: rnd.choice([len(frame), len(frame), rnd.randrange(1, 20)])],
                 ("127.0.0.1", port))
        if i % 100 == 99:
            time.sleep(0.05)
    s.close()


def connect_retry(port, deadline):
    while time.time() < deadline:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            time.sleep(0.5)
    return None


def inside(args):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    res = Results(args.tap)
    serve_forever(Threaded(("0.0.0.0", 7), Echo))
    serve_forever(socketserver.ThreadingUDPServer(("0.0.0.0", 7), UdpEcho))
    serve_forever(Threaded(("0.0.0.0", 8000), Quiet))
    serve_forever(Threaded(("0.0.0.0", 9000), LineServer))
    fwd = ",".join("hostfwd=tcp:127.0.0.1:%d-:%d" % (p, p) for p in (7070, 8081, 9001))
    # One emulated hub joins the guest's NIC, slirp and a datagram link the garbage comes on.
    hub = ["--qemu-arg=-netdev", "--qemu-arg=hubport,id=hu,hubid=0,netdev=n0",
           "--qemu-arg=-netdev",
           "--qemu-arg=dgram,id=g0,local.type=inet,local.host=127.0.0.1,local.port=5600,"
           "remote.type=inet,remote.host=127.0.0.1,remote.port=5601",
           "--qemu-arg=-netdev", "--qemu-arg=hubport,id=hg,hubid=0,netdev=g0",
           "--qemu-arg=-netdev", "--qemu-arg=hubport,id=hn,hubid=0"]
    log = args.log
    qemu = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tools", "qemu_run.py"), "--name", "linux-net",
         "--kernel", args.kernel, "--initrd", args.initrd, "--append", "test-exit", "--smp", "1",
         "--timeout", str(args.timeout), "--tap", args.tap, "--log", log, "--echo",
         "--qemu-arg=-netdev", "--qemu-arg=user,id=n0," + fwd,
         ] + hub + ["--qemu-arg=-device", "--qemu-arg=virtio-net-pci,netdev=hn",
         "--expect", r"^linux: net: virtio-net up \(interrupt mode\)",
         "--expect", r"^t_socket: [0-9]+ checks, 0 failed$",
         "--expect", r"^from the Hallows boot module$", "--expect", r"^@@lx-end 2 exit=0$",
         "--expect", r"^the host's answer$",
         "--expect", r"^from the host to nc$",
         "--expect", r"^httpd: stopped$",
         "--expect", r"^linux: all 4 commands done",
         "--expect", r"^linux: net: frames rx [0-9]+ .*dropped: eth [1-9][0-9]* arp [1-9][0-9]* "
         r"ip [1-9].* udp [1-9][0-9]* .* tcp [1-9]",
         "--reject", "t_socket: FAIL", "--reject", "W thread", "--reject", "SIGSEGV"],
        stdout=subprocess.PIPE)
    threading.Thread(target=read_console, args=(qemu.stdout, log + ".live"), daemon=True).start()
    deadline = time.time() + args.timeout
    if wait_for("@@lx-begin 1 ", deadline):  # broken frames while t_socket runs
        threading.Thread(target=garbage_frames, args=(5600,), daemon=True).start()

    # t_socket's listener: one line each way, then our close.
    ok, detail = False, "t_socket never listened"
    if wait_for("t_socket: listening on 7070", deadline, "@@lx-end 1 "):
        s = connect_retry(7070, min(deadline, time.time() + 60))
        detail = "no connection"
        if s:
            try:
                s.sendall(b"hello from the host\n")
                got = b""
                while len(got) < 19:
                    d = s.recv(64)
                    if not d:
                        break
                    got += d
                ok, detail = got == b"hello from hallows\n", repr(got)
            except OSError as e:
                detail = str(e)
            s.close()
    res.add(ok, "a host client talks to t_socket's accept4ed connection", detail)

    # busybox nc as a client: its line reached our line server.
    ok = wait_for("@@lx-end 3 ", deadline)
    res.add(ok and LineServer.got[:1] == [b"from hallows to the host\n"],
            "busybox nc (client) sends a line to the host", repr(LineServer.got))

    # busybox httpd: GET /index.html through the forward, byte for byte.
    ok, detail = False, "httpd never started"
    if wait_for("httpd: started", deadline, "@@lx-end 4 "):
        want = open(INDEX, "rb").read()
        t_end = min(deadline, time.time() + 90)
        while time.time() < t_end:
            r = subprocess.run(["curl", "-sS", "--max-time", "20", "http://127.0.0.1:8081/index.html"],
                               capture_output=True)
            if r.returncode == 0:
                ok, detail = r.stdout == want, repr(r.stdout[:80])
                break
            detail = r.stderr.decode(errors="replace").strip()
            time.sleep(1)
    res.add(ok, "curl fetches index.html from busybox httpd in Hallows", detail)

    # busybox nc -l: a line from us, then our close ends it (and the script stops httpd).
    s = connect_retry(9001, min(deadline, time.time() + 60))
    if s:
        s.sendall(b"from the host to nc\n")
        s.close()
    res.add(s is not None, "the host connects to busybox nc -l")

    rc = qemu.wait(timeout=max(10, deadline - time.time() + 30))
    text = "\n".join(CONSOLE)
    res.add("Hello, world\nfrom the Hallows boot module\n@@lx-end 2 exit=0" in text,
            "busybox wget fetches hello.txt from the host")
    if args.serve_root:
        serve_nic(args, res)
    return 0 if rc == 0 else 1


def serve_nic(args, res):
    """make run's configuration (build/serve/root, the manifest's linux partition given the
    NIC at 00:07.0 as make run does): busybox sh on the console starts httpd on port 80,
    and the host fetches /index.html through the forward of 127.0.0.1:8081."""
    import shutil
    import tempfile
    tmp = tempfile.mkdtemp(prefix="lxnet-serve.")
    root = os.path.join(tmp, "root")
    shutil.copytree(args.serve_root, root, symlinks=True)
    man = os.path.join(root, "etc", "manifest")
    text = open(man).read().replace("\npartition linux\n", "\npartition linux\n    device at 00:07.0\n")
    open(man, "w").write(text)
    names = subprocess.run("cd %s && find * | LC_ALL=C sort" % root, shell=True, check=True,
                           capture_output=True).stdout
    initrd = os.path.join(tmp, "initrd.cpio")
    with open(initrd, "wb") as f:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=names, stdout=f,
                       check=True)
        f.write(b"\0" * ((-f.tell()) % 4096))
    disk = os.path.join(tmp, "disk.img")
    open(disk, "wb").truncate(64 << 20)
    log = open(args.log.replace(".log", "-serve.log"), "wb")
    q = subprocess.Popen(
        ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "4",
         "-m", "3G", "-display", "none", "-no-reboot", "-serial", "stdio", "-monitor", "none",
         "-kernel", args.kernel, "-initrd", initrd, "-append", "",
         "-netdev", "user,id=web", "-device", "virtio-net-pci,netdev=web,addr=0x4",
         "-netdev", "user,id=kafka", "-device", "virtio-net-pci,netdev=kafka,addr=0x5",
         "-drive", "file=%s,if=none,id=disk,format=raw" % disk,
         "-device", "nvme,drive=disk,serial=hallows-log,addr=0x6",
         "-netdev", "user,id=linux,hostfwd=tcp:127.0.0.1:8081-:80",
         "-device", "virtio-net-pci,netdev=linux,addr=0x7"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = []

    def reader():
        for raw in q.stdout:
            log.write(raw)
            log.flush()
            seen.append(raw.decode("utf-8", "replace"))
    threading.Thread(target=reader, daemon=True).start()

    def expect(pattern, secs):
        end = time.time() + secs
        while time.time() < end:
            if pattern in "".join(seen):
                return True
            time.sleep(0.3)
        return False
    try:
        up = expect("linux: net: virtio-net up", 240)
        res.add(up, "make run: the Linux partition brings up its own NIC")
        ok, detail = False, "no shell prompt"
        if up and expect("press Enter to start it", 120):
            q.stdin.write(b"\r")
            q.stdin.flush()
            if expect("console session: /bin/sh", 60):
                time.sleep(3)
                q.stdin.write(b"httpd -p 80 -h /etc/www\r")
                q.stdin.flush()
                want = open(INDEX, "rb").read()
                end = time.time() + 120
                while time.time() < end:
                    r = subprocess.run(["curl", "-sS", "--max-time", "20",
                                        "http://127.0.0.1:8081/index.html"], capture_output=True)
                    if r.returncode == 0:
                        ok, detail = r.stdout == want, repr(r.stdout[:80])
                        break
                    detail = r.stderr.decode(errors="replace").strip()
                    time.sleep(1)
        res.add(ok, "make run: httpd started from the console shell serves 127.0.0.1:8081",
                detail)
    finally:
        q.kill()
        q.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--tap", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--serve-root", help="make run's file tree (build/serve/root): boot it too")
    ap.add_argument("--inside", action="store_true")
    args = ap.parse_args()
    if args.inside:
        return inside(args)
    open(args.tap, "w").close()
    if os.geteuid() != 0:
        with open(args.tap, "a") as f:
            f.write("ok - linux-net: # SKIP needs root for a network namespace\n")
        return 0
    ns = "lxnet%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        cmd = ["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__), "--inside"]
        for k in ("kernel", "initrd", "tap", "log"):
            cmd += ["--" + k, os.path.abspath(getattr(args, k))]
        cmd += ["--timeout", str(args.timeout)]
        if args.serve_root:
            cmd += ["--serve-root", os.path.abspath(args.serve_root)]
        return subprocess.run(cmd).returncode
    finally:
        subprocess.run(["ip", "netns", "del", ns])


if __name__ == "__main__":
    sys.exit(main())
