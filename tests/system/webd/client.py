#!/usr/bin/env python3
"""Host-side checks of webd (tests/system/webd/run.sh): raw HTTP over sockets,
TCP echo and discard. Usage: client.py CHECK HTTP_PORT ECHO_PORT DISCARD_PORT.
Exit status 0 when the check passes; what differed goes to stdout."""
import os
import socket
import sys
import time

HOST = "127.0.0.1"
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


if __name__ == "__main__":
    checks = {"pipelined": check_pipelined, "malformed": check_malformed,
              "echo": check_echo, "discard": check_discard}
    ports = [int(p) for p in sys.argv[2:5]]
    checks[sys.argv[1]](*ports)
