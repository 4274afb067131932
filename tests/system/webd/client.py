#!/usr/bin/env python3
"""Host-side checks of webd (tests/system/webd/run.sh): raw HTTP over sockets,
TCP echo and discard. Usage: client.py CHECK HTTP_PORT ECHO_PORT DISCARD_PORT.
Exit status 0 when the check passes; what differed goes to stdout."""
import os
import socket
import sys
import time

HOST = os.environ.get("WEBD_HOST", "127.0.0.1")
HERE = os.path.dirname(os.path.abspath(__file__))


def pattern(n):
    return bytes(i % 251 for i in range(n))


def recv_until_closed(s, limit, deadline):
    buf = b""
    while len(buf) < limit and time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def response(s, deadline, head_only=False):
    """One response (head + Content-Length body, none for HEAD) read off s: (status, headers, body, rest)."""
    buf = b""
    while b"\r\n\r\n" not in buf and time.time() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    if b"\r\n\r\n" not in buf:
        return None, {}, b"", buf
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    n = 0 if head_only else int(hdrs.get("content-length", "0"))
    while len(rest) < n and time.time() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, hdrs, rest[:n], rest[n:]


def ask(port, raw, timeout=10):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.sendall(raw)
    r = response(s, time.time() + timeout)
    tail = recv_until_closed(s, 1 << 20, time.time() + timeout) if r[1].get("connection") == "close" else b""
    s.close()
    return r, tail


def expect(cond, what):
    if not cond:
        print("FAILED: " + what)
        sys.exit(1)


def check_pipelined(http, *_):
    """Three requests in one segment on one connection, answered in order; then one more after a pause."""
    s = socket.create_connection((HOST, http), timeout=10)
    s.sendall(b"GET /bytes/1000 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    d = time.time() + 10
    st1, h1, b1, rest = response(s, d)
    expect(st1 == 200 and b1 == pattern(1000), "first pipelined response: %s %r" % (st1, b1[:40]))
    # The next responses may already be in rest.
    class Pre:
        def __init__(self, data, sock):
            self.data, self.sock = data, sock

        def recv(self, n):
            if self.data:
                d, self.data = self.data, b""
                return d
            return self.sock.recv(n)
    p = Pre(rest, s)
    st2, h2, b2, rest = response(p, d, head_only=True)
    expect(st2 == 200 and h2.get("content-length") == "20" and b2 == b"" and b"Hello" not in rest,
           "HEAD in a pipeline: %s %s" % (st2, h2))
    p = Pre(rest, s)
    st3, _, _, _ = response(p, d)
    expect(st3 == 404, "third pipelined response: %s" % st3)
    time.sleep(0.5)
    s.sendall(b"GET /bytes/10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    st4, h4, b4, _ = response(s, time.time() + 10)
    expect(st4 == 200 and b4 == pattern(10) and h4.get("connection") == "close", "request after a pause")
    expect(recv_until_closed(s, 10, time.time() + 5) == b"", "the connection closes after Connection: close")
    s.close()
    print("pipelined GET, HEAD, 404, then GET after a pause: ok")


def check_malformed(http, *_):
    """Malformed heads get 400 (405, 431, 505 for their cases) and a close; the server serves on."""
    cases = [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),                        # 1.1 without Host
        (b"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400),              # no colon
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),            # space before the colon
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: \x01\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431),
        (b"\x00\xff\x10binary\r\n\r\n", 400),
    ]
    for raw, want in cases:
        (st, hdrs, _, _), _ = ask(http, raw)
        expect(st == want, "%r: got %s, want %s" % (raw[:40], st, want))
        expect(hdrs.get("connection") == "close", "%r: connection not closed" % raw[:40])
        if want == 405:
            expect(hdrs.get("allow") == "GET, HEAD", "405 without Allow: GET, HEAD")
    # A head cut short, then the peer's FIN: closed without an answer.
    s = socket.create_connection((HOST, http), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHo")
    s.shutdown(socket.SHUT_WR)
    expect(recv_until_closed(s, 100, time.time() + 10) == b"", "a truncated request was answered")
    s.close()
    (st, _, body, _), _ = ask(http, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    expect(st == 200 and body == b"Hello from Hallows.\n", "serving after the bad requests")
    print("%d malformed or refused requests answered and closed, then served: ok" % len(cases))


def check_echo(http, echo, discard):
    data = os.urandom(200000)
    s = socket.create_connection((HOST, echo), timeout=20)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = recv_until_closed(s, len(data) + 1, time.time() + 30)
    s.close()
    expect(got == data, "echo returned %d of %d bytes (equal: %s)" % (len(got), len(data), got == data[:len(got)]))
    print("echo: %d bytes back intact: ok" % len(data))


def check_discard(http, echo, discard):
    s = socket.create_connection((HOST, discard), timeout=20)
    s.sendall(os.urandom(1000000))
    s.shutdown(socket.SHUT_WR)
    rest = recv_until_closed(s, 10, time.time() + 30)
    s.close()
    expect(rest == b"", "discard sent data back")
    print("discard: 1000000 bytes, clean close: ok")


def check_many(http, *_, n=1000):
    """n connections open at once, each with a request sent; every one answered in full."""
    import selectors
    sel = selectors.DefaultSelector()
    socks, got = [], {}
    for i in range(n):
        s = socket.create_connection((HOST, http), timeout=30)
        socks.append(s)
    req = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    for i, s in enumerate(socks):
        s.sendall(req)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        got[i] = b""
    open_ = set(range(n))
    deadline = time.time() + 60
    while open_ and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            i = key.data
            try:
                chunk = key.fileobj.recv(65536)
            except (BlockingIOError, ConnectionResetError):
                chunk = b"" if i in open_ else None
            if chunk is None:
                continue
            if not chunk:
                sel.unregister(key.fileobj)
                open_.discard(i)
            else:
                got[i] += chunk
    for s in socks:
        s.close()
    good = sum(1 for v in got.values() if v.startswith(b"HTTP/1.1 200 OK") and v.endswith(b"Hello from Hallows.\n"))
    expect(good == n, "%d of %d connections answered in full (%d still open)" % (good, n, len(open_)))
    print("%d concurrent connections, every one answered: ok" % n)


def csum(data):
    """RFC 1071 Internet checksum, as two bytes."""
    if len(data) % 2:
        data += b"\x00"
    t = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return (~t & 0xffff).to_bytes(2, "big")


def check_garbage(iface, mac_file, *_):
    """Raw frames at webd from the TAP (AF_PACKET): random bytes, and IPv4/TCP/UDP/ARP
    headers cut short or with lying lengths, to webd's MAC. Only sends; run.sh checks webd
    still serves afterwards."""
    import random
    rng = random.Random(14)
    dst = bytes.fromhex(open(mac_file).read().strip().replace(":", ""))
    src = bytes.fromhex("02aabbccdd01")
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    ip_src, ip_dst = socket.inet_aton("198.18.0.1"), socket.inet_aton("198.18.0.2")
    sent = 0
    for i in range(3000):
        kind = i % 6
        if kind == 0:  # random bytes after an Ethernet header of any type
            body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 1500)))
            f = dst + src + bytes([rng.getrandbits(8), rng.getrandbits(8)]) + body
        elif kind == 1:  # IPv4 header cut short
            f = dst + src + b"\x08\x00" + bytes([0x45, 0]) + bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 19)))
        elif kind in (2, 3):  # IPv4 with lying lengths, TCP or UDP inside, random rest
            tot = rng.choice([0, 19, 20, 40, 1500, 65535])
            ihl = rng.choice([0x45, 0x4f, 0x44, 0x46])
            hdr = bytes([ihl, 0]) + tot.to_bytes(2, "big") + b"\x00\x01\x40\x00\x40" + \
                bytes([6 if kind == 2 else 17]) + b"\x00\x00" + ip_src + ip_dst
            body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 60)))
            f = dst + src + b"\x08\x00" + hdr + body
        elif kind == 4:  # TCP to port 80, valid checksums, random flags, offset, options, data
            tcp = bytearray(rng.getrandbits(16).to_bytes(2, "big") + (80).to_bytes(2, "big") +
                            bytes(rng.getrandbits(8) for _ in range(8)) +
                            bytes([rng.getrandbits(8), rng.getrandbits(8)]) +
                            bytes(rng.getrandbits(8) for _ in range(4)) +
                            bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 40))))
            tcp[16:18] = b"\x00\x00"
            tcp[16:18] = csum(ip_src + ip_dst + b"\x00\x06" + len(tcp).to_bytes(2, "big") + bytes(tcp))
            tot = 20 + len(tcp)
            hdr = bytearray(bytes([0x45, 0]) + tot.to_bytes(2, "big") + b"\x00\x01\x40\x00\x40\x06\x00\x00" + ip_src + ip_dst)
            hdr[10:12] = csum(bytes(hdr))
            f = dst + src + b"\x08\x00" + bytes(hdr) + bytes(tcp)
        else:  # ARP cut short or with odd lengths
            f = dst + src + b"\x08\x06" + bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 40)))
        if len(f) < 14:
            continue
        s.send(f[:1514])
        sent += 1
        if i % 200 == 0:
            time.sleep(0.01)  # let the guest drain its ring now and then
    s.close()
    print("sent %d malformed frames" % sent)


IDLE_RE = (r"^webd: .*wakeups (\d+) \(timer (\d+), idle sleeps (\d+)\), idle calls (\d+), "
           r"yields (\d+)")


def check_idle(http, log):
    """A keep-alive connection stays open and silent for 3 s: webd sleeps in the kernel's timed
    wait until Floo's next real deadline instead of polling or yielding, and an idle connection
    arms none, so the silence costs almost no wakeup (the old 10 ms timer scan woke webd 100
    times a second: over 300 here). Its counter lines (printed every 2 s while frames arrive)
    before and after the silence: nothing yielded, fewer than 40 wakeups in all (the second
    request's own frames and timers included)."""
    import re

    def last():
        v = re.findall(IDLE_RE, open(log, errors="replace").read(), re.M)
        return (tuple(int(x) for x in v[-1]) if v else None), len(v)

    def get_and_report(s):
        before = last()[1]
        s.sendall(b"GET / HTTP/1.1\r\nHost: hallows\r\n\r\n")
        st, hdr, body, _ = response(s, time.time() + 20)
        expect(st == 200, "GET on the kept-alive connection: %s" % st)
        for _ in range(100):
            c, n = last()
            if n > before:
                return c, time.time()
            time.sleep(0.1)
        expect(False, "no counter line within 10 s")

    s = socket.create_connection((HOST, http), timeout=20)
    c1, t1 = get_and_report(s)
    time.sleep(3)
    c2, t2 = get_and_report(s)
    s.close()
    d = [b - a for a, b in zip(c1, c2)]
    rate = d[3] / max(t2 - t1, 0.1)
    print("# over %.1f s: wakeups %d (timer %d), idle calls %d (%.0f/s), yields %d"
          % (t2 - t1, d[0], d[1], d[3], rate, d[4]))
    expect(d[4] == 0 and rate < 1000, "webd did not sleep until its timers")
    expect(d[0] < 40, "an idle connection woke webd %d times in %.1f s" % (d[0], t2 - t1))


if __name__ == "__main__":
    if sys.argv[1] == "garbage":
        check_garbage(sys.argv[2], sys.argv[3])
        sys.exit(0)
    if sys.argv[1] == "idle":
        check_idle(int(sys.argv[2]), sys.argv[3])
        sys.exit(0)
    checks = {"pipelined": check_pipelined, "malformed": check_malformed,
              "echo": check_echo, "discard": check_discard, "many": check_many}
    ports = [int(p) for p in sys.argv[2:5]]
    checks[sys.argv[1]](*ports)
