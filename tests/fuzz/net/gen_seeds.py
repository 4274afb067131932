#!/usr/bin/env python3
"""Write the seed corpora for the Floo fuzz targets (committed output).

Input format (fuzz_net.c): flags byte, then records [u16 len][u8 step][bytes].
"""
import os
import sys
import struct

MY_IP = bytes([10, 0, 0, 1])
PEER_IP = bytes([10, 0, 0, 9])
MY_MAC = bytes([2, 0, 0, 0, 0, 1])
PEER_MAC = bytes([2, 0, 0, 0, 0, 9])
here = os.path.dirname(os.path.abspath(__file__))
# The corpus folder: the committed one, or the argument (make's seed check).
corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def rec(payload, step=0):
    return struct.pack("!HB", len(payload), step) + payload


def ip(proto, payload, ident=1, frag=0x4000):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64,
                    proto, 0, PEER_IP, MY_IP)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def icmp_echo(n=32):
    m = struct.pack("!BBHI", 8, 0, 0, 0x12340001) + bytes(i % 256 for i in range(n))
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


def arp(op=1):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, PEER_MAC, PEER_IP,
                       bytes(6), MY_IP)


def udp(dport, data):
    return struct.pack("!HHHH", 5000, dport, 8 + len(data), 0) + data


def tcp(flags, seq=1000, ack=0, opts=b"", data=b""):
    hl = 20 + len(opts)
    return struct.pack("!HHIIBBHHH", 40000, 80, seq, ack, (hl // 4) << 4, flags,
                       65535, 0, 0) + opts + data


def dhcp(msgtype):
    m = bytearray(240)
    m[0], m[1], m[2] = 2, 1, 6
    m[16:20] = bytes([10, 0, 0, 50])
    m[28:34] = MY_MAC
    m[236:240] = bytes([99, 130, 83, 99])
    m += bytes([53, 1, msgtype, 54, 4, 10, 0, 0, 254, 1, 4, 255, 255, 255, 0,
                3, 4, 10, 0, 0, 254, 51, 4, 0, 0, 0, 100, 255])
    return bytes(m)


def vnet(flags, gso=0, hdr_len=0, gso_size=0, cs_start=0, cs_off=0):
    return struct.pack("<BBHHHH", flags, gso, hdr_len, gso_size, cs_start, cs_off)


def eth(etype, payload):
    return MY_MAC + PEER_MAC + struct.pack("!H", etype) + payload


SYN_OPTS = bytes([2, 4, 5, 0xb4, 1, 3, 3, 7, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0])
# MSS, SACK permitted (RFC 2018), window scale
SACK_SYN = bytes([2, 4, 5, 0xb4, 4, 2, 1, 3, 3, 7])


def sack(*blocks, bad=False):
    """SACK option (kind 5) with (left, right) blocks; bad: a length that
    is not 2 + 8n."""
    body = b"".join(struct.pack("!II", a, b) for a, b in blocks)
    return bytes([1, 1, 5, 2 + len(body) + (1 if bad else 0)]) + body + (b"\0\0\0" if bad else b"")
big = icmp_echo(2000)
seeds = {
    "eth": [b"\0" + rec(eth(0x0806, arp())), b"\0" + rec(eth(0x0800, ip(1, icmp_echo())))],
    "arp": [b"\0" + rec(arp(1)), b"\0" + rec(arp(2))],
    "ipv4": [b"\0" + rec(ip(1, icmp_echo())),
             b"\0" + rec(ip(1, big[:1480], 9, 0x2000)) + rec(ip(1, big[1480:], 9, 185)),
             b"\x01" + rec(ip(99, b"abcd"))],
    "icmp": [b"\0" + rec(icmp_echo()), b"\x02" + rec(bytes([3, 3, 0, 0]) + bytes(32))],
    "udp": [b"\x02" + rec(udp(7, b"hello")), b"\x02" + rec(udp(9, b"closed"))],
    "tcp": [b"\x02" + rec(tcp(0x02, opts=SYN_OPTS)) + rec(tcp(0x10, 1001, 0, data=b"GET /"), 1),
            b"\x02" + rec(tcp(0x02)) + rec(tcp(0x04, 1001)),
            # flag 8: the harness acknowledges what the stack sent, so these
            # reach ESTABLISHED, exchange data and close.
            b"\x0a" + rec(tcp(0x02, opts=SYN_OPTS)) + rec(tcp(0x10, 1001))
            + rec(tcp(0x18, 1001, data=b"hello")) + rec(tcp(0x10, 1006), 20)
            + rec(tcp(0x11, 1006)) + rec(tcp(0x10, 1007), 5),
            b"\x0a" + rec(tcp(0x02)) + rec(tcp(0x10, 1001)) + rec(tcp(0x10, 1500, data=b"ooo"))
            + rec(tcp(0x10, 1001, data=bytes(499))) + rec(tcp(0x04, 2000)),
            b"\x02" + rec(tcp(0x10, data=b"no connection")),
            # SACK: negotiated, out-of-order data (the stack SACKs it),
            # ACKs carrying blocks (valid, beyond SND.MAX, malformed).
            b"\x0a" + rec(tcp(0x02, opts=SACK_SYN)) + rec(tcp(0x10, 1001))
            + rec(tcp(0x10, 1501, data=b"y" * 100)) + rec(tcp(0x10, 2001, data=b"z" * 100))
            + rec(tcp(0x10, 1001, opts=sack((1, 1000)))) + rec(tcp(0x10, 1001, opts=sack((5000, 6000), (7000, 7100))))
            + rec(tcp(0x10, 1001, opts=sack((1, 2), bad=True))) + rec(tcp(0x18, 1001, data=b"GET /"), 30)],
    # virtio-net header (flags, gso_type, hdr_len, gso_size, csum_start,
    # csum_offset; little-endian) in front of each TCP segment.
    "vnet": [b"\x02" + rec(vnet(2) + tcp(0x02, opts=SYN_OPTS)) + rec(vnet(1, 0, 0, 0, 34, 16) + tcp(0x10, 1001, data=b"GET /")),
             b"\x00" + rec(vnet(1, 1, 54, 1448, 34, 16) + tcp(0x02)) + rec(vnet(1, 0, 0, 0, 34, 40) + tcp(0x02)),
             b"\x0a" + rec(vnet(2) + tcp(0x02)) + rec(vnet(2) + tcp(0x10, 1001)) + rec(vnet(0) + tcp(0x18, 1001, data=b"x" * 100))],
    "dhcp": [b"\x04" + rec(dhcp(2)) + rec(dhcp(5), 1), b"\x04" + rec(dhcp(6))],
}
for target, items in seeds.items():
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    for i, s in enumerate(items):
        with open(os.path.join(d, "seed%d" % i), "wb") as f:
            f.write(s)
