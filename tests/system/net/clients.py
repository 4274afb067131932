#!/usr/bin/env python3
"""Linux-side clients for the Floo namespace tests.

Each subcommand exits 0 on success and prints one line saying what it saw.
Every loop is bounded by a deadline.
"""
import hashlib
import os
import selectors
import socket
import sys
import time

HOST = "198.18.0.2"


def pattern(n):
    """Bytes 0..n-1 of floo-demo's /bytes/N body (byte i = i mod 251)."""
    block = bytes(range(251))
    return (block * (n // 251 + 1))[:n]


def udp_echo():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    for i in range(20):
        msg = b"floo-udp-%d-" % i + bytes(range(256)) * 4
        for _ in range(3):
            s.sendto(msg, (HOST, 7))
            try:
                data, _ = s.recvfrom(4096)
            except socket.timeout:
                continue
            if data != msg:
                print("udp echo mismatch")
                return 1
            break
        else:
            print("udp echo: no reply")
            return 1
    print("udp echo: 20 datagrams ok")
    return 0


def recv_exact(s, n, deadline):
    buf = bytearray()
    while len(buf) < n and time.time() < deadline:
        chunk = s.recv(min(65536, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def tcp_echo(size=1_000_000):
    data = pattern(size)
    s = socket.create_connection((HOST, 7), timeout=10)
    sel = selectors.DefaultSelector()
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    sent, got = 0, bytearray()
    deadline = time.time() + 60
    while len(got) < size and time.time() < deadline:
        for key, ev in sel.select(timeout=1):
            if ev & selectors.EVENT_WRITE and sent < size:
                sent += s.send(data[sent:sent + 65536])
                if sent == size:
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                chunk = s.recv(65536)
                if not chunk:
                    deadline = 0
                got += chunk
    s.setblocking(True)
    s.settimeout(30)
    s.shutdown(socket.SHUT_WR)
    rest = s.recv(10)  # expect EOF: the server closes after our FIN
    s.close()
    if bytes(got) != data or rest:
        print("tcp echo: got %d of %d bytes (match=%s)" % (len(got), size, bytes(got) == data))
        return 1
    print("tcp echo: %d bytes intact, clean close" % size)
    return 0


def stream_echo(size, rounds=1, port=7, host=None, limit=120):
    """What `nc -N` does: send size random bytes, shut down the sending
    side at the end, read until the server closes; compare SHA-256.
    Repeated rounds times on fresh connections; prints the seconds each
    round took."""
    times = []
    for r in range(rounds):
        data = os.urandom(size)
        s = socket.create_connection((host or HOST, port), timeout=10)
        if os.environ.get("FLOO_BENCH_CC"):  # as floo-bench server's
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION,
                         os.environ["FLOO_BENCH_CC"].encode())
        s.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        sent, got, eof = 0, hashlib.sha256(), False
        n = 0
        t0 = time.time()
        while not eof and time.time() < t0 + limit:
            for key, ev in sel.select(timeout=1):
                if ev & selectors.EVENT_WRITE and sent < size:
                    sent += s.send(data[sent:sent + 65536])
                    if sent == size:
                        s.shutdown(socket.SHUT_WR)
                        sel.modify(s, selectors.EVENT_READ)
                if ev & selectors.EVENT_READ:
                    try:
                        chunk = s.recv(65536)
                    except ConnectionResetError:
                        chunk = b""
                    if not chunk:
                        eof = True
                    got.update(chunk)
                    n += len(chunk)
        times.append(time.time() - t0)
        s.close()
        if n != size or got.digest() != hashlib.sha256(data).digest():
            print("stream echo round %d: got %d of %d bytes, sha256 %s" %
                  (r + 1, n, size, "differs" if n == size else "-"))
            return 1
    print("stream echo: %d x %d random bytes intact (sha256); seconds %s" %
          (rounds, size, " ".join("%.3f" % t for t in times)))
    return 0


def tcp_discard(size=4_000_000):
    s = socket.create_connection((HOST, 9), timeout=10)
    s.sendall(pattern(size))
    s.shutdown(socket.SHUT_WR)
    rest = s.recv(10)
    s.close()
    if rest:
        print("discard: server sent data")
        return 1
    print("discard: %d bytes sent, clean close" % size)
    return 0


def http_keepalive():
    s = socket.create_connection((HOST, 80), timeout=10)
    req = b"GET /bytes/1000 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
    s.sendall(req)
    deadline = time.time() + 10
    buf = b""
    while buf.count(b"HTTP/1.1 200 OK") < 2 or not buf.endswith(b"</html>\n"):
        if time.time() > deadline:
            break
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    first_body = buf.split(b"\r\n\r\n", 1)[1][:1000] if b"\r\n\r\n" in buf else b""
    ok = buf.count(b"HTTP/1.1 200 OK") == 2 and first_body == pattern(1000) and b"Floo" in buf
    # A third request on the same connection after a pause, then close.
    s.sendall(b"GET /bytes/10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    tail = recv_exact(s, 100000, time.time() + 5)
    s.close()
    ok = ok and tail.endswith(pattern(10)) and b"Connection: close" in tail
    print("http keep-alive + pipelining: %s" % ("ok" if ok else "FAILED"))
    return 0 if ok else 1


def many(n=1000):
    """n concurrent connections to the echo port, all open at once."""
    sel = selectors.DefaultSelector()
    socks = []
    deadline = time.time() + 60
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((HOST, 7))
        socks.append(s)
    pending = set(range(n))
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_WRITE, i)
    connected = 0
    while connected < n and time.time() < deadline:
        for key, ev in sel.select(timeout=1):
            i = key.data
            s = socks[i]
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                print("connection %d failed" % i)
                return 1
            sel.unregister(s)
            connected += 1
    if connected < n:
        print("only %d of %d connected" % (connected, n))
        return 1
    # All n are established at the same time; now each echoes its tag.
    got = {}
    for i, s in enumerate(socks):
        s.send(b"conn-%05d;" % i)
        sel.register(s, selectors.EVENT_READ, i)
    while pending and time.time() < deadline:
        for key, ev in sel.select(timeout=1):
            i = key.data
            chunk = socks[i].recv(100)
            got[i] = got.get(i, b"") + chunk
            if got[i] == b"conn-%05d;" % i:
                pending.discard(i)
                sel.unregister(socks[i])
    for s in socks:
        s.close()
    if pending:
        print("%d of %d connections did not echo" % (len(pending), n))
        return 1
    print("%d concurrent connections echoed" % n)
    return 0


def dhcp_server(ifname, offer="198.18.0.77"):
    """Minimal DHCP server on ifname: OFFER then ACK one lease; exit 0 once
    the ACK is out. Bounded to 20 s."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    s.bind(("0.0.0.0", 67))
    s.settimeout(1)
    deadline = time.time() + 20
    yi = socket.inet_aton(offer)
    me = socket.inet_aton("198.18.0.1")
    while time.time() < deadline:
        try:
            m, _ = s.recvfrom(2048)
        except socket.timeout:
            continue
        if len(m) < 244 or m[0] != 1 or m[236:240] != bytes([99, 130, 83, 99]):
            continue
        opts, i, mtype = m[240:], 0, 0
        while i + 1 < len(opts) and opts[i] != 255:
            if opts[i] == 0:
                i += 1
                continue
            if opts[i] == 53:
                mtype = opts[i + 2]
            i += 2 + opts[i + 1]
        reply = {1: 2, 3: 5}.get(mtype)
        if not reply:
            continue
        r = bytearray(240)
        r[0], r[1], r[2] = 2, 1, 6
        r[4:8] = m[4:8]
        r[10:12] = m[10:12]
        r[16:20] = yi
        r[20:24] = me
        r[28:44] = m[28:44]
        r[236:240] = bytes([99, 130, 83, 99])
        r += bytes([53, 1, reply, 54, 4]) + me + bytes([1, 4, 255, 255, 255, 0, 51, 4, 0, 0, 14, 16, 255])
        s.sendto(bytes(r), ("255.255.255.255", 68))
        if reply == 5:
            print("dhcp: leased %s" % offer)
            return 0
    print("dhcp: no REQUEST seen")
    return 1


def sha_http(n):
    """sha256 of /bytes/N expected body (for the curl checks)."""
    print(hashlib.sha256(pattern(n)).hexdigest())
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "dhcp_server":
        return dhcp_server(*sys.argv[2:])
    args = [int(a) if a.isdigit() else a for a in sys.argv[2:]]
    return {"udp_echo": udp_echo, "tcp_echo": tcp_echo,
            "stream_echo": stream_echo, "discard": tcp_discard,
            "keepalive": http_keepalive, "many": many, "sha": sha_http}[cmd](*args)


if __name__ == "__main__":
    sys.exit(main())
