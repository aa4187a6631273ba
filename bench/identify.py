#!/usr/bin/env python3
"""Side-by-side identification benchmark (issue 13): scanopy's default scan against
`nmap -sT -sV -O --top-ports 1000` and `avahi-browse -a` on the test LAN, in one run.

Run as root from a clone:  sudo python3 bench/identify.py [--no-build]

It builds scanopy-daemon (release), brings up the test LAN, runs each tool from the scanner's
namespace against the ordinary, routed and home segments (10.77.0.0/24, 10.77.1.0/24,
10.77.3.0/24), and prints, per tool: time, devices, devices with a name, with a model or product,
with an OS, services named and products named. avahi-browse needs an avahi-daemon on the
scanner's side: the script starts one (with a private D-Bus, in a mount namespace of its own, so
the machine's own avahi and D-Bus are untouched) and stops it after. It sends packets only to
the test LAN. Peers: `apt-get install nmap avahi-utils avahi-daemon`.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer import DAEMON, NS, ROOT, run  # noqa: E402

TARGETS = ["10.77.0.0/24", "10.77.1.0/24", "10.77.3.0/24"]


def ours():
    secs, rss, out = run([DAEMON, "scan", "-f", "json"] + TARGETS)
    devs = json.loads(out)["devices"]
    svcs = [s for d in devs for s in d["services"]]

    def has_model(d):
        return any(s.get("product") or any(k.endswith(".model") or k == "hw.product" for k in s.get("extra", {}))
                   for s in d["services"])
    return {
        "secs": secs, "devices": len(devs),
        "named": sum(1 for d in devs if d.get("hostname")),
        "model": sum(1 for d in devs if has_model(d)),
        "os": sum(1 for d in devs if d.get("os")),
        "services": sum(1 for s in svcs if s["name"] != "unknown"),
        "products": sum(1 for s in svcs if s.get("product")),
    }


def nmap():
    secs, rss, out = run(["nmap", "-oX", "-", "-sT", "-sV", "-O", "--top-ports", "1000"] + TARGETS)
    r = {"secs": secs, "devices": 0, "named": 0, "model": 0, "os": 0, "services": 0, "products": 0}
    for h in ET.fromstring(out).findall("host"):
        if h.find("status").get("state") != "up":
            continue
        r["devices"] += 1
        if h.find("hostnames/hostname") is not None:
            r["named"] += 1
        if h.find("os/osmatch") is not None:
            r["os"] += 1
        product = False
        for p in h.findall("ports/port"):
            if p.find("state").get("state") != "open":
                continue
            svc = p.find("service")
            if svc is not None and svc.get("method") == "probed":
                r["services"] += 1
                if svc.get("product"):
                    r["products"] += 1
                    product = True
        r["model"] += product
    return r


class Avahi:
    """An avahi-daemon on the scanner's home leg, on a private D-Bus."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="scanopy-bench-avahi-")
        d = self.dir
        with open(f"{d}/bus.conf", "w") as f:
            f.write(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path={d}/bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/>
<allow receive_sender="*"/></policy></busconfig>
""")
        with open(f"{d}/avahi-daemon.conf", "w") as f:
            f.write("[server]\nhost-name=scanner\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=eth3\n"
                    "[publish]\ndisable-publishing=yes\n")
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={d}/bus")
        self.procs = [subprocess.Popen(["ip", "netns", "exec", NS, "dbus-daemon", f"--config-file={d}/bus.conf", "--nofork"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
        for _ in range(50):
            if os.path.exists(f"{d}/bus"):
                break
            time.sleep(0.1)
        # Its own /run/avahi-daemon, so the test LAN's avahi (same mount namespace) is not in the way.
        script = (f"mount -t tmpfs none /run/avahi-daemon && exec avahi-daemon --no-drop-root --no-chroot "
                  f"--no-rlimits -f {d}/avahi-daemon.conf")
        self.procs.append(subprocess.Popen(["ip", "netns", "exec", NS, "unshare", "-m", "sh", "-c", script], env=self.env,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        time.sleep(3)  # its start-up probing
        return self

    def browse(self):
        start = time.monotonic()
        p = subprocess.run(["ip", "netns", "exec", NS, "avahi-browse", "-a", "-r", "-t", "-p"], env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=60)
        secs = time.monotonic() - start
        hosts, resolved = {}, 0
        for line in p.stdout.splitlines():
            f = line.split(";")
            if f[0] != "=" or len(f) < 10:
                continue
            resolved += 1
            h = hosts.setdefault(f[6], {"model": False})
            if any(t.strip('"').split("=")[0] in ("model", "md", "ty", "usb_MDL", "product") for t in f[9].split('" "')):
                h["model"] = True
        return {"secs": secs, "devices": len(hosts), "named": len(hosts),
                "model": sum(1 for h in hosts.values() if h["model"]), "os": 0,
                "services": resolved, "products": 0}

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            p.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--keep-lan", action="store_true", help="the LAN is up already; leave it up")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the test LAN needs network namespaces")
    for tool in ("nmap", "avahi-browse", "avahi-daemon", "dbus-daemon"):
        if not shutil.which(tool):
            sys.exit(f"missing {tool}: apt-get install nmap avahi-utils avahi-daemon")
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "scanopy-daemon"], cwd=ROOT, check=True)
    if not a.keep_lan:
        subprocess.run([os.path.join(ROOT, "testlan", "testlan.sh"), "up"], check=True)
    try:
        rows = [("scanopy (default scan)", ours()),
                ("nmap -sT -sV -O --top-ports 1000", nmap())]
        with Avahi() as av:
            rows.append(("avahi-browse -a -r -t", av.browse()))
    finally:
        if not a.keep_lan:
            subprocess.run([os.path.join(ROOT, "testlan", "testlan.sh"), "down"], stdout=subprocess.DEVNULL)
    us = rows[0][1]["secs"]
    print(f"\nidentification on the test LAN ({', '.join(TARGETS)}), {time.strftime('%Y-%m-%d')}, "
          f"{os.uname().machine}, {os.cpu_count()} cores\n")
    print("| tool | time (s) | scanopy's speed-up | devices | with a name | with a model or product | with an OS | services named | products named |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        up = "" if r is rows[0][1] else f"{r['secs'] / us:.1f}x"
        print(f"| {name} | {r['secs']:.2f} | {up} | {r['devices']} | {r['named']} | {r['model']} | {r['os']} | {r['services']} | {r['products']} |")


if __name__ == "__main__":
    main()
