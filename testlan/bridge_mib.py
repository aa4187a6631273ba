#!/usr/bin/env python3
"""BRIDGE-MIB and Q-BRIDGE-MIB for net-snmp's snmpd, from a Linux bridge (a pass_persist
script: snmpd runs it in its own network namespace and asks it for .1.3.6.1.2.1.17).

    pass_persist .1.3.6.1.2.1.17 /usr/bin/python3 bridge_mib.py BRIDGE VLANS

The forwarding table is the kernel's own (`bridge -j fdb show br BRIDGE`), learnt from real
traffic on the test LAN; port numbers are the kernel's (`brport/port_no`), each mapped to its
interface index. This machine's kernel has no 802.1Q, so VLANs come from VLANS, a file the test
LAN writes: one line per port, `PORT PVID NAME` (the untagged VLAN of that port and its name);
a MAC's VLAN is the PVID of the port it was learnt on.
"""

import bisect
import json
import os
import subprocess
import sys
import time

BRIDGE = sys.argv[1]
VLANS = sys.argv[2] if len(sys.argv) > 2 else None
ROOT = (1, 3, 6, 1, 2, 1, 17)


def read(path):
    with open(path) as f:
        return f.read().strip()


def mac_bytes(mac):
    return [int(x, 16) for x in mac.split(":")]


def table():
    """The rows: {oid tuple: (type, value text)}."""
    rows = {}
    sysfs = f"/sys/class/net/{BRIDGE}"
    rows[ROOT + (1, 1, 0)] = ("octet", " ".join(read(f"{sysfs}/address").split(":")))
    ports = {}  # name -> (port number, ifindex)
    for name in sorted(os.listdir(f"{sysfs}/brif")):
        base = f"/sys/class/net/{name}"
        ports[name] = (int(read(f"{base}/brport/port_no"), 16), int(read(f"{base}/ifindex")))
    rows[ROOT + (1, 2, 0)] = ("integer", str(len(ports)))
    for name, (no, ifindex) in ports.items():
        rows[ROOT + (1, 4, 1, 1, no)] = ("integer", str(no))
        rows[ROOT + (1, 4, 1, 2, no)] = ("integer", str(ifindex))
    pvid, names = {}, {}
    if VLANS and os.path.exists(VLANS):
        for line in open(VLANS):
            parts = line.split()
            if len(parts) >= 2 and parts[0] in ports:
                pvid[parts[0]] = int(parts[1])
                if len(parts) >= 3:
                    names[int(parts[1])] = parts[2]
    for name, vid in pvid.items():
        rows[ROOT + (7, 1, 4, 5, 1, 1, ports[name][0])] = ("gauge", str(vid))
    for vid, vname in names.items():
        rows[ROOT + (7, 1, 4, 3, 1, 1, vid)] = ("string", vname)
    out = subprocess.run(["bridge", "-j", "fdb", "show", "br", BRIDGE],
                         capture_output=True, text=True, timeout=5).stdout
    for e in json.loads(out or "[]"):
        mac, dev = e.get("mac"), e.get("ifname")
        if not mac or dev not in ports or "vlan" in e:
            continue
        b = mac_bytes(mac)
        if b[0] & 1:
            continue
        no = ports[dev][0]
        # A port's own address (permanent) is self(4); learnt ones learned(3).
        status = 4 if e.get("state") == "permanent" else 3
        idx = tuple(b)
        rows[ROOT + (4, 3, 1, 1) + idx] = ("octet", " ".join(f"{x:02x}" for x in b))
        rows[ROOT + (4, 3, 1, 2) + idx] = ("integer", str(no))
        rows[ROOT + (4, 3, 1, 3) + idx] = ("integer", str(status))
        if dev in pvid:
            q = (pvid[dev],) + idx
            rows[ROOT + (7, 1, 2, 2, 1, 2) + q] = ("integer", str(no))
            rows[ROOT + (7, 1, 2, 2, 1, 3) + q] = ("integer", str(status))
    return rows


def parse(oid):
    try:
        return tuple(int(x) for x in oid.strip().strip(".").split("."))
    except ValueError:
        return None


def main():
    cache, at = {}, 0.0
    keys = []
    out = sys.stdout
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "PING":
            out.write("PONG\n")
        elif cmd in ("get", "getnext"):
            oid = parse(sys.stdin.readline())
            if time.monotonic() - at > 1.0:
                try:
                    cache = table()
                except Exception:  # a vanished port mid-read: serve the last table
                    pass
                keys = sorted(cache)
                at = time.monotonic()
            found = None
            if oid is not None:
                if cmd == "get":
                    found = oid if oid in cache else None
                else:
                    i = bisect.bisect_right(keys, oid)
                    found = keys[i] if i < len(keys) else None
            if found is None:
                out.write("NONE\n")
            else:
                t, v = cache[found]
                out.write("." + ".".join(map(str, found)) + f"\n{t}\n{v}\n")
        elif cmd == "set":
            sys.stdin.readline()
            sys.stdin.readline()
            out.write("not-writable\n")
        elif cmd == "":
            break
        out.flush()


if __name__ == "__main__":
    main()
