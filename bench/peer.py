#!/usr/bin/env python3
"""Side-by-side benchmark: scanopy against arp-scan and nmap on the project's test LAN.

Run as root from a clone:  sudo python3 bench/peer.py [--skip-slow]

It builds scanopy-daemon (release), brings up the test LAN (testlan/testlan.sh up), runs each
tool on the same targets from the scanner's namespace, in the same run, and prints a table of
time, hosts found, ports found and services named, with scanopy's ratio to each peer. It sends
packets only to the test LAN. Install the peers with `apt-get install nmap arp-scan`.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NS = "sclan-scan"
DAEMON = os.environ.get("SCANOPY_BENCH_DAEMON") or os.path.join(ROOT, "target", "release", "scanopy-daemon")


def run(cmd, ns=True):
    """Runs cmd (in the scanner namespace), returns (seconds, peak RSS KiB, stdout)."""
    full = (["ip", "netns", "exec", NS] if ns else []) + ["/usr/bin/time", "-f", "%e %M", "-o", "/tmp/peer-time"] + cmd
    start = time.monotonic()
    p = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - start
    if p.returncode not in (0,):
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
    with open("/tmp/peer-time") as f:
        _, rss = f.read().split()[-2:]
    return wall, int(rss), p.stdout


def ours(args):
    secs, rss, out = run([DAEMON, "scan", "-f", "json"] + args)
    doc = json.loads(out)
    hosts = len(doc["devices"])
    ports = sum(len(d["services"]) for d in doc["devices"])
    named = sum(1 for d in doc["devices"] for s in d["services"] if s["name"] != "unknown")
    products = sum(1 for d in doc["devices"] for s in d["services"] if s.get("product"))
    return {"secs": secs, "rss": rss, "hosts": hosts, "ports": ports, "named": named, "products": products}


def nmap(args):
    secs, rss, out = run(["nmap", "-oX", "-"] + args)
    root = ET.fromstring(out)
    hosts = ports = named = products = 0
    for h in root.findall("host"):
        if h.find("status").get("state") != "up":
            continue
        hosts += 1
        for p in h.findall("ports/port"):
            if p.find("state").get("state") != "open":
                continue
            ports += 1
            svc = p.find("service")
            if svc is not None and svc.get("method") == "probed":
                named += 1
                if svc.get("product"):
                    products += 1
    return {"secs": secs, "rss": rss, "hosts": hosts, "ports": ports, "named": named, "products": products}


def arp_scan(args):
    secs, rss, out = run(["arp-scan"] + args)
    hosts = len([l for l in out.splitlines() if re.match(r"^\d+\.\d+\.\d+\.\d+\s", l)])
    return {"secs": secs, "rss": rss, "hosts": hosts, "ports": 0, "named": 0, "products": 0}


def ratio(peer, us):
    return f"{peer / us:.1f}x" if us > 0 else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-slow", action="store_true", help="skip nmap -sV on two /24s (~100 s)")
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the test LAN needs network namespaces")
    for tool in ("nmap", "arp-scan"):
        if not shutil.which(tool):
            sys.exit(f"missing {tool}: apt-get install nmap arp-scan")
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "scanopy-daemon"], cwd=ROOT, check=True)
    subprocess.run([os.path.join(ROOT, "testlan", "testlan.sh"), "up"], check=True)
    rows = []
    try:
        lan = "10.77.0.0/24"
        rows.append(("ARP sweep of a /24", ours([lan, "--scanners", "arp"]),
                     [("arp-scan", arp_scan(["-I", "eth0", lan])), ("nmap -sn -n", nmap(["-sn", "-n", lan]))]))
        rows.append(("65,535 TCP ports, 200 open (open/closed only)",
                     ours(["10.77.0.21", "--scanners", "arp,tcp", "-p", "all", "--no-identify"]),
                     [("nmap -sT -p-", nmap(["-sT", "-p-", "-n", "10.77.0.21"]))]))
        rows.append(("65,535 TCP ports, 200 open, identified",
                     ours(["10.77.0.21", "--scanners", "arp,tcp", "-p", "all"]),
                     [("nmap -sT -sV -p-", nmap(["-sT", "-sV", "-p-", "-n", "10.77.0.21"]))]))
        rows.append(("1,000 ports, host drops all", ours(["10.77.0.13", "--scanners", "arp,tcp"]),
                     [("nmap -sT", nmap(["-sT", "-Pn", "-n", "--top-ports", "1000", "10.77.0.13"]))]))
        rows.append(("ARP sweep of a /16 (65,534 addresses)", ours(["10.78.0.0/16", "--scanners", "arp"]), []))
        if not a.skip_slow:
            both = ["10.77.0.0/24", "10.77.1.0/24"]
            rows.append(("2 x /24, top 1000, identification", ours(both),
                         [("nmap -sT -sV", nmap(["-sT", "-sV", "-n", "--top-ports", "1000"] + both))]))
    finally:
        subprocess.run([os.path.join(ROOT, "testlan", "testlan.sh"), "down"], stdout=subprocess.DEVNULL)

    print(f"\nscanopy vs peers on the test LAN, {time.strftime('%Y-%m-%d')}, {os.uname().machine}, {os.cpu_count()} cores\n")
    print("| task | tool | time (s) | speed-up | hosts | open ports | services named | products | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for task, us, peers in rows:
        print(f"| {task} | scanopy | {us['secs']:.2f} | | {us['hosts']} | {us['ports']} | {us['named']} | {us['products']} | {us['rss'] / 1024:.1f} |")
        for name, p in peers:
            print(f"| | {name} | {p['secs']:.2f} | {ratio(p['secs'], us['secs'])} | {p['hosts']} | {p['ports']} | {p['named']} | {p['products']} | {p['rss'] / 1024:.1f} |")


if __name__ == "__main__":
    main()
