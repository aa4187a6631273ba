#!/usr/bin/env python3
"""Fuzzes the daemon protocol's results batches against a running server (issue 11).

    fuzz_results.py BASE ADMIN_TOKEN HOLDER_KEY STRANGER_KEY JOB [CASES] [SEED]

JOB is a job HOLDER_KEY's daemon holds. Each case posts a random body to
/api/v1/daemon/jobs/{JOB}/results (batch-shaped with odd ids, addresses, times and facts; or not
a batch; or not JSON) as the holder or as another daemon. It fails when an answer is a 5xx,
when another daemon's batch is taken, or when a refused batch changed the devices or events.
Only the standard library: run by tests/fuzz.sh, or by hand.
"""
import json
import random
import sys
import urllib.error
import urllib.request
import uuid


def call(base, method, path, token, raw=None):
    req = urllib.request.Request(base + path, method=method, data=raw)
    req.add_header("Authorization", "Bearer " + token)
    if raw is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def text(rng):
    pool = ["", "x", "http", "\x1b[2J", "é" * 40, "a" * 300, "null", "0", "'; DROP TABLE devices; --"]
    return rng.choice(pool) if rng.random() < 0.6 else "".join(
        chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(0, 30)))


def ip(rng):
    return rng.choice([
        f"10.64.0.{rng.randrange(0, 40)}",
        ".".join(str(rng.randrange(0, 256)) for _ in range(4)),
        "::1", "fe80::1", "10.64.0.300", text(rng), 7,
    ])


def at(rng):
    return rng.choice([
        "2099-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2026-06-01T12:00:00+02:00",
        "+275760-09-13T00:00:00Z", "2026-13-40T99:99:99Z", text(rng), 0,
    ])


def fact(rng):
    mac = ":".join(f"{rng.randrange(0, 256):02x}" for _ in range(6))
    return rng.choice([
        {"kind": "mac", "mac": rng.choice([mac, text(rng), "ff:ff:ff:ff:ff:ff"])},
        {"kind": "port", "port": rng.choice([22, 80, 0, 65535, 70000, -1]),
         "transport": rng.choice(["tcp", "udp", "sctp"]),
         "state": rng.choice(["open", "closed", "filtered", "?"]), "name": text(rng),
         "product": text(rng), "extra": {text(rng): text(rng)}, "confidence": "high",
         "evidence": text(rng)},
        {"kind": "hostname", "name": text(rng), "source": text(rng)},
        {"kind": "vendor", "vendor": text(rng)},
        {"kind": "identity", "rule": text(rng), "value": text(rng)},
        {"kind": "device_type", "device_type": text(rng), "evidence": text(rng)},
        {"kind": "gateway"},
        {"kind": "alive", "method": text(rng), "rtt_us": rng.choice([None, 1, 2**64])},
        {"kind": text(rng)},
    ])


def body(rng):
    shape = rng.random()
    if shape < 0.75:
        batch_id = rng.choice([str(uuid.UUID(int=rng.getrandbits(128))), text(rng), None])
        obs = [{"ip": ip(rng), "scanner": text(rng), "at": at(rng), "fact": fact(rng)}
               for _ in range(rng.randrange(0, 8))]
        return json.dumps({"batch_id": batch_id, "observations": obs}).encode()
    if shape < 0.85:
        return json.dumps({"batch_id": text(rng)}).encode()
    if shape < 0.95:
        return text(rng).encode("utf-8", "surrogatepass")
    return b"[]"


def snapshot(base, admin):
    _, devices = call(base, "GET", "/api/v1/devices?limit=1000", admin)
    _, events = call(base, "GET", "/api/v1/events?limit=1000", admin)
    return devices, len(json.loads(events)["items"])


def main():
    base, admin, holder, stranger, job = sys.argv[1:6]
    cases = int(sys.argv[6]) if len(sys.argv) > 6 else 200
    seed = int(sys.argv[7]) if len(sys.argv) > 7 else random.randrange(2**32)
    rng = random.Random(seed)
    print(f"fuzz_results: {cases} cases, seed {seed}", file=sys.stderr)
    failures = 0
    tally = {}
    for n in range(cases):
        who = rng.choice(["holder", "stranger"])
        raw = body(rng)
        before = snapshot(base, admin)
        status, answer = call(base, "POST", f"/api/v1/daemon/jobs/{job}/results",
                              holder if who == "holder" else stranger, raw)
        tally[(who, status)] = tally.get((who, status), 0) + 1
        problem = None
        if status >= 500:
            problem = f"answered {status}"
        elif status == 200 and who == "stranger":
            problem = "took another daemon's batch"
        elif status != 200 and snapshot(base, admin) != before:
            problem = f"a refused batch ({status}) changed the devices or events"
        if problem:
            failures += 1
            print(f"fuzz_results: case {n} ({who}): {problem}: {raw[:300]!r} -> {answer[:300]!r}",
                  file=sys.stderr)
    seen = ", ".join(f"{w} {s}: {c}" for (w, s), c in sorted(tally.items()))
    print(f"fuzz_results: answers: {seen}", file=sys.stderr)
    if failures:
        print(f"fuzz_results: FAILED: {failures} of {cases} (seed {seed})", file=sys.stderr)
        sys.exit(1)
    print(f"fuzz_results: passed: {cases} cases, no 5xx, refusals changed nothing", file=sys.stderr)


if __name__ == "__main__":
    main()
