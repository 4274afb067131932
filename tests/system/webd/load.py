#!/usr/bin/env python3
"""HTTP load for bench-webd: one keep-alive connection sending GET PATH one
after another for SECONDS (the next request once the previous response is
complete). Prints "rate=R p50=US p99=US n=N".

    load.py HOST PORT SECONDS PATH
"""
import socket
import sys
import time


def main():
    host, port, secs, path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    req = ("GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % path).encode()
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lat, buf = [], b""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        t0 = time.monotonic()
        s.sendall(req)
        while True:
            i = buf.find(b"\r\n\r\n")
            if i >= 0:
                head = buf[:i].decode("latin-1").lower()
                n = int(head.split("content-length:")[1].split("\r\n")[0])
                if len(buf) >= i + 4 + n:
                    buf = buf[i + 4 + n:]
                    break
            chunk = s.recv(65536)
            if not chunk:
                sys.exit("load: connection closed")
            buf += chunk
        lat.append(time.monotonic() - t0)
    s.close()
    lat.sort()
    total = sum(lat)
    print("rate=%.1f p50=%.1f p99=%.1f n=%d" % (len(lat) / total, lat[len(lat) // 2] * 1e6,
                                                lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6, len(lat)))


if __name__ == "__main__":
    main()
