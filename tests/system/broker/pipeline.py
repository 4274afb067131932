#!/usr/bin/env python3
"""pipeline.py ADDR N: N ApiVersions requests (200-byte client id) sent in
one go by a thread while nobody reads for a second, so both TCP windows
fill and the broker's transport must hold input back; then every response
must arrive, in order. Exits non-zero otherwise."""
import socket
import struct
import sys
import threading
import time

addr, n = sys.argv[1], int(sys.argv[2])


def req(i):
    body = struct.pack(">hhih", 18, 0, i, 200) + b"c" * 200
    return struct.pack(">i", len(body)) + body



data = b"".join(req(i) for i in range(n))
s = socket.create_connection((addr, 9092), timeout=30)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
t = threading.Thread(target=lambda: s.sendall(data))
t.start()
time.sleep(1.0)  # neither side reads: both windows fill
buf, got = b"", 0
while got < n:
    chunk = s.recv(1 << 20)
    if not chunk:
        sys.exit(f"closed after {got} responses")
    buf += chunk
    while len(buf) >= 8:
        size, corr = struct.unpack(">ii", buf[:8])
        if len(buf) < 4 + size:
            break
        if corr != got:
            sys.exit(f"response {got} has correlation id {corr}")
        got += 1
        buf = buf[4 + size:]
t.join()
s.close()
print(f"{got} responses in order ({len(data)} request bytes)")
