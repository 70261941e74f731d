#!/usr/bin/env python3
"""Writes test packets for prog-cost.sh: Ethernet+IPv4+TCP/UDP frames of 64 and 1500 bytes
(the socket programs are fed the same frames: see prog-cost.sh)."""
import struct, sys
out = sys.argv[1]
for proto, pnum in (("tcp", 6), ("udp", 17)):
    for size in (64, 1500):
        l4 = struct.pack("!HHIIBBHHH", 40000, 8080, 1, 0, 5 << 4, 0x18, 65535, 0, 0) if pnum == 6 \
            else struct.pack("!HHHH", 40000, 8080, size - 34, 0)
        payload = b"x" * (size - 14 - 20 - len(l4))
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4) + len(payload), 1, 0, 64, pnum, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        eth = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00"
        open(f"{out}/{proto}{size}.l2", "wb").write(eth + ip + l4 + payload)
