#!/usr/bin/env python3
"""A MAC flood for the passive listener's tests (testlan.sh flood): ARP packets (gratuitous
requests) from random locally administered MACs and random addresses of the home segment
(10.77.3.160-250), sent on eth0 of the namespace it runs in.

usage: flood.py COUNT RATE   -- COUNT frames at RATE frames a second (0: as fast as it can)
Prints what it sent and how long it took."""
import os
import socket
import struct
import sys
import time

count, rate = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
t0 = time.monotonic()
for i in range(count):
    mac = bytes([0x02]) + os.urandom(5)
    ip = bytes([10, 77, 3, 160 + int.from_bytes(os.urandom(1), "big") % 91])
    frame = (b"\xff" * 6 + mac + b"\x08\x06"
             + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
             + mac + ip + b"\x00" * 6 + ip)
    s.send(frame)
    if rate > 0:
        due = t0 + (i + 1) / rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
took = time.monotonic() - t0
print(f"flood: {count} frames in {took:.2f} s ({count / max(took, 1e-9):.0f}/s)")
