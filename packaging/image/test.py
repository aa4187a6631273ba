#!/usr/bin/env python3
"""The container image, run as compose.yaml runs it (needs root, a Docker engine and the test
LAN: testlan/testlan.sh up).

    packaging/image/test.py [TAG]      (default scanopy:local, built by packaging/image/local.sh)

The server container publishes its port on 127.0.0.1 only. The daemon container runs from the
same image with the daemon's entrypoint, as root holding NET_RAW alone, as compose's `daemon`
service; compose gives it the host's network, which here is the machine's own and must not be
scanned, so the test gives it the test LAN instead: a veth on the LAN's bridge moved into the
container (10.77.0.3; the server container gets one too, 10.77.0.4, and the daemon reaches the
server there). The server gets a network, a daemon key and a scan job of the LAN's web host; the
daemon runs it, and nginx on web must come back through the API, found by ARP with its MAC.
Every container is removed at the end, whatever happens (their veths go with them).
"""

import json
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

TAG = sys.argv[1] if len(sys.argv) > 1 else "scanopy:local"
PASSWORD = "image-test-password-1"
RUN = uuid.uuid4().hex[:8]
SERVER = f"scanopy-test-server-{RUN}"
DAEMON = f"scanopy-test-daemon-{RUN}"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}/api/v1"


def docker(*args, check=True):
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True)


def call(method, path, body=None, token=None, cookie=None):
    req = urllib.request.Request(BASE + path, method=method)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if cookie:
        req.add_header("Cookie", cookie)
    with urllib.request.urlopen(req, data, timeout=10) as r:
        text = r.read().decode()
        return r.status, (json.loads(text) if text else None), r.headers


def wait(what, f, secs):
    end = time.time() + secs
    while time.time() < end:
        try:
            v = f()
            if v:
                return v
        except Exception:  # not up yet
            pass
        time.sleep(0.5)
    raise SystemExit(f"image test: {what} within {secs} s")


def on_lan(container, ip, veth):
    """Moves a new veth of the test LAN's bridge into `container` with address `ip`."""
    pid = docker("inspect", "-f", "{{.State.Pid}}", container).stdout.strip()
    subprocess.run(["ip", "-n", "sclan-sw", "link", "add", veth, "type", "veth", "peer", "name",
                    "lan0", "netns", pid], check=True)
    subprocess.run(["ip", "-n", "sclan-sw", "link", "set", veth, "master", "br0", "up"], check=True)
    for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{ip}/24", "dev", "lan0"],
                ["ip", "link", "set", "lan0", "up"]):
        subprocess.run(["nsenter", "-t", pid, "-n", *cmd], check=True)


def logs(name):
    r = docker("logs", name, check=False)
    return r.stdout + r.stderr


def main():
    try:
        docker("run", "-d", "--name", SERVER, "-p", f"127.0.0.1:{PORT}:60072",
               "-e", "SCANOPY_NO_LOCAL_DAEMON=true", "-e", f"SCANOPY_ADMIN_PASSWORD={PASSWORD}",
               "-e", "SCANOPY_DATABASE_URL=", TAG)
        wait("the server container to answer", lambda: call("GET", "/health")[0] == 200, 60)
        on_lan(SERVER, "10.77.0.4", f"p-is{RUN[:6]}")
        _, _, headers = call("POST", "/auth/login", {"username": "admin", "password": PASSWORD})
        cookie = headers["Set-Cookie"].split(";")[0]
        _, t, _ = call("POST", "/tokens", {"name": "image test", "role": "admin"}, cookie=cookie)
        token = t["token"]
        _, n, _ = call("POST", "/networks", {"name": "test LAN", "subnets": ["10.77.0.0/24"]},
                       token=token)
        _, k, _ = call("POST", "/daemons/keys", {"name": "image daemon", "network": n["id"]},
                       token=token)
        docker("create", "--name", DAEMON, "--network", "none", "--user", "0",
               "--cap-drop", "ALL", "--cap-add", "NET_RAW", "--entrypoint", "/usr/bin/scanopy-daemon",
               "-e", "SCANOPY_SERVER=http://10.77.0.4:60072", "-e", f"SCANOPY_KEY={k['key']}",
               "-e", "SCANOPY_NAME=image-daemon", "-e", "SCANOPY_NO_PASSIVE=1", "-e", "SCANOPY_DATA_DIR=/var/lib/scanopy-daemon",
               TAG, "run")
        docker("start", DAEMON)
        on_lan(DAEMON, "10.77.0.3", f"p-id{RUN[:6]}")

        def daemon_id():
            _, ds, _ = call("GET", "/daemons", token=token)
            items = ds["items"] if isinstance(ds, dict) and "items" in ds else ds
            return next((d["id"] for d in items if d.get("name") == "image-daemon"), None)

        did = wait("the daemon container to register", daemon_id, 60)
        _, scan, _ = call("POST", "/scans", {"network": n["id"], "daemon": did,
                                              "targets": ["10.77.0.10"], "ports": "80"},
                          token=token)

        def done():
            _, s, _ = call("GET", f"/scans/{scan['id']}", token=token)
            if s["status"] in ("failed", "cancelled"):
                raise SystemExit(f"image test: the scan ended {s['status']}: {s}")
            return s["status"] == "done"

        wait("the scan to finish", done, 120)
        _, devices, _ = call("GET", "/devices?limit=100", token=token)
        items = devices["items"] if isinstance(devices, dict) else devices
        web = [d for d in items if any(i.get("ip") == "10.77.0.10" for i in d.get("interfaces", []))]
        if not web:
            raise SystemExit(f"image test: 10.77.0.10 not in the inventory: {items}")
        _, dev, _ = call("GET", f"/devices/{web[0]['id']}", token=token)
        http = [s for s in dev.get("services", []) if s.get("port") == 80]
        mac = next((i.get("mac") for i in dev.get("interfaces", []) if i.get("mac")), None)
        if not http or http[0].get("product") != "nginx" or mac != "00:11:32:77:00:10":
            raise SystemExit(f"image test: web is not as the LAN has it: {dev}")
        print("image test: the daemon container scanned the test LAN; the server container keeps "
              f"10.77.0.10 ({mac}) with 80/tcp {http[0].get('name')} {http[0].get('product')}")
    except BaseException:
        print("server log:\n" + logs(SERVER) + "\ndaemon log:\n" + logs(DAEMON), file=sys.stderr)
        raise
    finally:
        docker("rm", "-f", SERVER, DAEMON, check=False)


if __name__ == "__main__":
    main()
