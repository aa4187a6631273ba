#!/usr/bin/env python3
"""The container image, run as compose.yaml runs it (needs root and a Docker engine).

    packaging/image/test.py [TAG]      (default scanopy:local, built by packaging/image/local.sh)

The server container publishes its port on 127.0.0.1 only; the daemon container runs from the
same image with the daemon's entrypoint on the host's network with NET_RAW alone, as compose's
`daemon` service. The server gets a network, a daemon key and a scan job of 127.0.0.1 (the only
address this test may scan from the machine's own namespace), the daemon runs it, and the
server's published port must come back through the API as an open, identified service. Every
container is removed at the end, whatever happens.
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


def logs(name):
    r = docker("logs", name, check=False)
    return r.stdout + r.stderr


def main():
    try:
        docker("run", "-d", "--name", SERVER, "-p", f"127.0.0.1:{PORT}:60072",
               "-e", "SCANOPY_NO_LOCAL_DAEMON=true", "-e", f"SCANOPY_ADMIN_PASSWORD={PASSWORD}",
               "-e", "SCANOPY_DATABASE_URL=", TAG)
        wait("the server container to answer", lambda: call("GET", "/health")[0] == 200, 60)
        _, _, headers = call("POST", "/auth/login", {"username": "admin", "password": PASSWORD})
        cookie = headers["Set-Cookie"].split(";")[0]
        _, t, _ = call("POST", "/tokens", {"name": "image test", "role": "admin"}, cookie=cookie)
        token = t["token"]
        _, n, _ = call("POST", "/networks", {"name": "loopback", "subnets": ["127.0.0.1/32"]},
                       token=token)
        _, k, _ = call("POST", "/daemons/keys", {"name": "image daemon", "network": n["id"]},
                       token=token)
        docker("run", "-d", "--name", DAEMON, "--network", "host", "--user", "0",
               "--cap-drop", "ALL", "--cap-add", "NET_RAW", "--entrypoint", "/usr/bin/scanopy-daemon",
               "-e", f"SCANOPY_SERVER=http://127.0.0.1:{PORT}", "-e", f"SCANOPY_KEY={k['key']}",
               "-e", "SCANOPY_NAME=image-daemon", "-e", "SCANOPY_DATA_DIR=/var/lib/scanopy-daemon",
               TAG, "run")

        def daemon_id():
            _, ds, _ = call("GET", "/daemons", token=token)
            items = ds["items"] if isinstance(ds, dict) and "items" in ds else ds
            return next((d["id"] for d in items if d.get("name") == "image-daemon"), None)

        did = wait("the daemon container to register", daemon_id, 60)
        _, scan, _ = call("POST", "/scans", {"network": n["id"], "daemon": did,
                                              "targets": ["127.0.0.1"], "ports": str(PORT)},
                          token=token)

        def done():
            _, s, _ = call("GET", f"/scans/{scan['id']}", token=token)
            if s["status"] in ("failed", "cancelled"):
                raise SystemExit(f"image test: the scan ended {s['status']}: {s}")
            return s["status"] == "done"

        wait("the scan to finish", done, 120)
        _, devices, _ = call("GET", "/devices?limit=100", token=token)
        items = devices["items"] if isinstance(devices, dict) else devices
        services = [s for d in items for s in d.get("services", [])]
        found = [s for s in services if s.get("port") == PORT]
        if not found:
            _, one, _ = call("GET", f"/devices/{items[0]['id']}", token=token) if items else (0, None, 0)
            raise SystemExit(f"image test: port {PORT} not in the inventory: {items} {one}")
        print(f"image test: the daemon container scanned 127.0.0.1 and the server container "
              f"keeps {PORT}/tcp as {found[0].get('name')}")
    except BaseException:
        print("server log:\n" + logs(SERVER) + "\ndaemon log:\n" + logs(DAEMON), file=sys.stderr)
        raise
    finally:
        docker("rm", "-f", SERVER, DAEMON, check=False)


if __name__ == "__main__":
    main()
