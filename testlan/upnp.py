#!/usr/bin/env python3
"""Registers the test LAN TV's UPnP services with minissdpd through its unix socket.

    upnp.py SOCKET LOCATION

minissdpd then answers SSDP searches (1900/udp) for them: the root device, its UUID and a
MediaRenderer, each pointing at LOCATION (the device description busybox httpd serves).
The socket protocol (minissdpd.c): request type 4 "submit", then ST, USN, SERVER and LOCATION,
each prefixed with its length in 7-bit groups, most significant first, high bit on all but the
last.
"""

import socket
import sys

UUID = "uuid:4d696e69-444c-164e-9d41-b827eb000001"
SERVER = "Linux/6.1 UPnP/1.0 ScreenCast/2.1"


def encoded(text):
    b = text.encode()
    n, groups = len(b), []
    while True:
        groups.append(n & 0x7F)
        n >>= 7
        if not n:
            break
    groups.reverse()
    head = bytes(g | (0x80 if i < len(groups) - 1 else 0) for i, g in enumerate(groups))
    return head + b


def submit(path, st, usn, location):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b"\x04" + b"".join(encoded(x) for x in (st, usn, SERVER, location)))
    s.close()


def main():
    path, location = sys.argv[1], sys.argv[2]
    for st in ("upnp:rootdevice", UUID, "urn:schemas-upnp-org:device:MediaRenderer:1"):
        submit(path, st, UUID if st == UUID else f"{UUID}::{st}", location)


if __name__ == "__main__":
    main()
