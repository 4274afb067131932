#!/usr/bin/env python3
"""Accept one TCP connection on ADDR PORT, read N bytes (deadline 60 s) and
check netecho's pattern (byte i = i*7+3 mod 256). Meanwhile watch IFACE
with an AF_PACKET socket that asks for the virtio-net header of each frame
(PACKET_VNET_HDR), so the TCP frame carrying the data shows whether it
arrived as one TSO frame and with which MSS. Prints "ok N bytes" or
"bad: why", then "frame LEN gso_type T gso_size S" for the largest data
frame seen. Used by net.sh's TSO run."""
import socket
import struct
import sys
import threading
import time

addr, port, n, iface = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
SOL_PACKET, PACKET_VNET_HDR, ETH_P_ALL = 263, 15, 3
seen = {"len": 0, "gso_type": None, "gso_size": None}
sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
sniff.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
sniff.bind((iface, ETH_P_ALL))
sniff.settimeout(1)


def watch():
    """The virtio_net_hdr (10 bytes, host order) of each TCP frame from the guest to port."""
    end = time.monotonic() + 240
    while time.monotonic() < end:
        try:
            b = sniff.recv(70000)
        except OSError:
            continue
        _, gso_type, _, gso_size = struct.unpack_from("<BBHH", b, 0)
        f = b[10:]
        if len(f) > 54 and f[12:14] == b"\x08\x00" and f[23] == 6 and struct.unpack_from("!H", f, 36)[0] == port:
            if len(f) > seen["len"]:
                seen.update(len=len(f), gso_type=gso_type, gso_size=gso_size)


threading.Thread(target=watch, daemon=True).start()
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((addr, port))
srv.listen(1)
srv.settimeout(180)
try:
    c, _ = srv.accept()
except OSError as e:
    print(f"bad: no connection ({e})", flush=True)
    sys.exit(1)
c.settimeout(60)
data, end = b"", time.monotonic() + 60
while len(data) < n and time.monotonic() < end:
    try:
        chunk = c.recv(65536)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
want = bytes((i * 7 + 3) & 0xff for i in range(n))
if data == want:
    print(f"ok {n} bytes", flush=True)
    time.sleep(0.5)
    print(f"frame {seen['len']} gso_type {seen['gso_type']} gso_size {seen['gso_size']}", flush=True)
else:
    first = next((i for i in range(min(len(data), n)) if data[i] != want[i]), None)
    print(f"bad: {len(data)} of {n} bytes, first difference at {first}", flush=True)
    sys.exit(1)
