#!/usr/bin/env python3
"""Writes test packets for prog-cost.sh: Ethernet+IPv4+TCP/UDP frames of 64 and 1500 bytes,
and two Ethernet+IPv6+UDP frames of 64 bytes, one to the host's own /64 and one to the
internet (the socket programs are fed the same frames: see prog-cost.sh)."""
import socket, struct, sys
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
# IPv6 UDP, 64 bytes on the wire: fd00::1 -> fd00::2 (the private class; on the development
# VM fd00::2 is the host's own address, so its /64 is left to the trie), and
# 2001:db8::1 -> 2001:db8:100::10 (the internet class: the cells alone).
for name, src, dst in (("udp6_64", "fd00::1", "fd00::2"), ("udp6i_64", "2001:db8::1", "2001:db8:100::10")):
    l4 = struct.pack("!HHHH", 40000, 8080, 64 - 14 - 40, 0)
    payload = b"x" * (64 - 14 - 40 - 8)
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, 8 + len(payload), 17, 64,
                      socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst))
    open(f"{out}/{name}.l2", "wb").write(b"\x02" * 6 + b"\x04" * 6 + b"\x86\xdd" + ip6 + l4 + payload)
# Five more TCP frames to 10.0.0.3 .. 10.0.0.7: run once each, the first makes the cgroup take
# its slot, the next four peer lanes of the pool, so that the test frames' peers are a
# workload's sixth; and 70 to 10.0.1.1 .. 10.0.1.70, which take the rest of the slot's share
# of the pool (64 lanes) and more, so that the test frames' peers are past the share (a lane
# while the pool has room, the peer hash once half of it is claimed: prog-cost.sh).
tcp = open(f"{out}/tcp64.l2", "rb").read()
for last in (3, 4, 5, 6, 7):
    frame = bytearray(tcp)
    frame[14 + 19] = last
    open(f"{out}/fill{last}.l2", "wb").write(bytes(frame))
for last in range(1, 71):
    frame = bytearray(tcp)
    frame[14 + 18] = 1
    frame[14 + 19] = last
    open(f"{out}/cap{last}.l2", "wb").write(bytes(frame))
