#!/usr/bin/env bash
# The server's OpenAPI document is valid, and a schema-driven fuzz run (schemathesis) finds no
# 5xx (issue #6, Tests).
#
#   SCANOPY_FUZZ=1 SCANOPY_FUZZ_VENV=/tmp/scanopy-fuzz-venv scanopy-server/tests/fuzz.sh
#
# Needs a Python venv with schemathesis and openapi-spec-validator:
#   python3 -m venv /tmp/scanopy-fuzz-venv
#   /tmp/scanopy-fuzz-venv/bin/pip install schemathesis openapi-spec-validator
# Without it the run is skipped (exit 0, said loudly); with SCANOPY_FUZZ=1 a missing venv fails.
#
# It builds the debug server and the seed tool, seeds a data directory (300 devices), starts
# `scanopy-server --no-local-daemon` on 127.0.0.1 (a free port) with every outbound HTTP
# request (webhooks, push daemons) sent to a dead proxy on 127.0.0.1, makes the fixtures the
# id-taking routes need (devices, a leased job, keys, a schedule, a webhook), validates
# /api/v1/openapi.json, then runs schemathesis with the not_a_server_error check over every
# operation but the SSE stream: the API with an admin token, the daemon protocol with a
# daemon key. The server's log must hold no panic. About a minute once built.
#
# Before schemathesis, tests/fuzz_results.py posts random results batches to the leased job as
# its daemon and as another daemon (issue 11): no 5xx, another daemon's batch never taken, a
# refused batch changes no device or event.
#
# Environment: SCANOPY_FUZZ_EXAMPLES (30 per operation), SCANOPY_FUZZ_RESULTS (300 results
# batches), SCANOPY_FUZZ_SEED (random; the seed is printed either way), SCANOPY_FUZZ_KEEP=1
# keeps the work directory.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${SCANOPY_FUZZ_VENV:-/tmp/scanopy-fuzz-venv}
EXAMPLES=${SCANOPY_FUZZ_EXAMPLES:-30}

if ! [ -x "$VENV/bin/schemathesis" ] || ! "$VENV/bin/python" -c 'import openapi_spec_validator' 2>/dev/null; then
    msg="schemathesis and openapi-spec-validator not found in the venv $VENV (set SCANOPY_FUZZ_VENV)"
    if [ "${SCANOPY_FUZZ:-0}" = 1 ]; then
        echo "fuzz: FAILED: $msg" >&2
        exit 1
    fi
    echo "fuzz: SKIPPED: $msg; set SCANOPY_FUZZ=1 to make this an error" >&2
    exit 0
fi

cd "$ROOT"
cargo build -p scanopy-server --bin scanopy-server -p scanopy-benches --bin seed >&2
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug

WORK=$(mktemp -d /tmp/scanopy-fuzz.XXXXXX)
PID=
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    if [ "${SCANOPY_FUZZ_KEEP:-0}" = 1 ]; then echo "fuzz: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

"$BIN/seed" "$WORK/data" 300 5 >&2

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
PASSWORD="fuzz-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
# Nothing leaves the machine: webhooks and push daemons the fuzzer may create are called
# through a proxy on a loopback port where nothing listens.
DEAD=http://127.0.0.1:9
env SCANOPY_ADMIN_PASSWORD="$PASSWORD" RUST_LOG=warn \
    HTTP_PROXY=$DEAD HTTPS_PROXY=$DEAD ALL_PROXY=$DEAD http_proxy=$DEAD https_proxy=$DEAD all_proxy=$DEAD \
    NO_PROXY= no_proxy= \
    "$BIN/scanopy-server" --data-dir "$WORK/data" --no-local-daemon --listen "127.0.0.1:$PORT" \
    2>"$WORK/server.log" &
PID=$!
for _ in $(seq 150); do
    curl -fsS "$BASE/api/v1/health" >/dev/null 2>&1 && break
    kill -0 "$PID" 2>/dev/null || { echo "fuzz: the server exited:" >&2; cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.2
done

# Fixtures, and the schemathesis configuration that uses them.
"$VENV/bin/python" - "$BASE" "$PASSWORD" "$WORK" <<'EOF'
import json, sys, urllib.request

base, password, work = sys.argv[1:4]

def call(method, path, body=None, token=None, cookie=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if cookie:
        req.add_header("Cookie", cookie)
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
        return (json.loads(raw) if raw else None), r.headers

_, headers = call("POST", "/api/v1/auth/login", {"username": "admin", "password": password})
cookie = headers["Set-Cookie"].split(";")[0]
admin = call("POST", "/api/v1/tokens", {"name": "fuzz", "role": "admin"}, cookie=cookie)[0]["token"]
spare_token = call("POST", "/api/v1/tokens", {"name": "spare", "role": "read"}, token=admin)[0]["id"]
net = call("GET", "/api/v1/networks", token=admin)[0]["items"][0]["id"]
devices = [d["device"]["id"] if "device" in d else d["id"]
           for d in call("GET", "/api/v1/devices?limit=3", token=admin)[0]["items"]]
key = call("POST", "/api/v1/daemons/keys", {"name": "fuzz", "network": net}, token=admin)[0]["key"]
spare_key = call("POST", "/api/v1/daemons/keys", {"name": "spare", "network": net}, token=admin)[0]["id"]
call("POST", "/api/v1/daemon/register",
     {"name": "fuzz", "capabilities": {"subnets": ["10.64.0.0/16"], "version": "0", "mode": "pull"}},
     token=key)
scan = call("POST", "/api/v1/scans", {"network": net, "targets": ["10.64.0.0/28"], "ports": "22"},
            token=admin)[0]["id"]
job = call("POST", "/api/v1/daemon/poll", {}, token=key)[0]["job"]
job = job["id"] if job else scan
# Another daemon of the network, for the results fuzzing: its batches must all be refused.
stranger = call("POST", "/api/v1/daemons/keys", {"name": "stranger", "network": net}, token=admin)[0]["key"]
call("POST", "/api/v1/daemon/register",
     {"name": "stranger", "capabilities": {"subnets": ["10.64.0.0/16"], "version": "0", "mode": "pull"}},
     token=stranger)
with open(f"{work}/results-fuzz.args", "w") as f:
    f.write("\n".join([base, admin, key, stranger, job]) + "\n")
other_scan = call("POST", "/api/v1/scans", {"network": net, "targets": ["10.64.0.16/28"]},
                  token=admin)[0]["id"]
schedule = call("POST", "/api/v1/schedules", {"network": net, "every_minutes": 600}, token=admin)[0]["id"]
webhook = call("POST", "/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook"}, token=admin)[0]["id"]

def q(s):
    return json.dumps(s)

# Operations by name ("METHOD path"), each with the id it should use.
ops = [
    (["GET /api/v1/devices/{id}"], devices[0]),
    (["PATCH /api/v1/devices/{id}"], devices[1]),
    (["DELETE /api/v1/devices/{id}"], devices[2]),
    (["GET /api/v1/scans/{id}"], scan),
    (["POST /api/v1/scans/{id}/cancel"], other_scan),
    (["DELETE /api/v1/schedules/{id}"], schedule),
    (["DELETE /api/v1/webhooks/{id}"], webhook),
    (["DELETE /api/v1/tokens/{id}"], spare_token),
    (["DELETE /api/v1/daemons/keys/{id}"], spare_key),
    ([f"POST /api/v1/daemon/jobs/{{id}}/{x}" for x in ("results", "progress", "finish")], job),
]
daemon_auth = f"headers = {{ Authorization = {q('Bearer ' + key)} }}\n"
with open(f"{work}/schemathesis.toml", "w") as f:
    f.write(f"headers = {{ Authorization = {q('Bearer ' + admin)} }}\n")
    f.write("[[operations]]\ninclude-path-regex = \"^/api/v1/daemon/\"\n" + daemon_auth)
    for names, ident in ops:
        f.write(f"[[operations]]\ninclude-name = {q(names)}\n")
        if names[0].startswith("POST /api/v1/daemon/"):
            f.write(daemon_auth)
        f.write(f"parameters = {{ \"path.id\" = {q(ident)} }}\n")
print(f"fuzz: fixtures: network {net}, job {job}, devices {devices}", file=sys.stderr)
EOF

curl -fsS "$BASE/api/v1/openapi.json" -o "$WORK/openapi.json"
"$VENV/bin/python" - "$WORK/openapi.json" <<'EOF'
import json, sys
from openapi_spec_validator import validate
doc = json.load(open(sys.argv[1]))
validate(doc)
print(f"fuzz: the OpenAPI document is valid (OpenAPI {doc['openapi']}, {len(doc['paths'])} paths)", file=sys.stderr)
EOF

# The daemon protocol's results batches: random bodies from the job's holder and from another
# daemon; no 5xx, another daemon's batch never taken, a refused batch changes nothing.
# SCANOPY_FUZZ_RESULTS cases (300; 0 skips the phase). The same property also runs as the
# proptest `arbitrary_results_bodies_never_fail_the_server_and_refusals_change_nothing`
# (tests/it/api.rs). The answers are tallied by caller and status in the output.
if [ "${SCANOPY_FUZZ_RESULTS:-300}" != 0 ]; then
mapfile -t rargs <"$WORK/results-fuzz.args"
python3 "$ROOT/scanopy-server/tests/fuzz_results.py" "${rargs[@]}" \
    "${SCANOPY_FUZZ_RESULTS:-300}" ${SCANOPY_FUZZ_SEED:+"$SCANOPY_FUZZ_SEED"} || {
    echo "fuzz: FAILED: the results batches (server log: $WORK/server.log)" >&2
    SCANOPY_FUZZ_KEEP=1
    exit 1
}
fi

seed_args=()
[ -n "${SCANOPY_FUZZ_SEED:-}" ] && seed_args=(--seed "$SCANOPY_FUZZ_SEED")
status=0
# The coverage phase is left out: in one CI run it crashed inside Python's own parser
# (`SystemError: AST constructor recursion depth mismatch`, schemathesis 4.32.5 on CPython
# 3.11) after every case had passed; the fuzzing phase draws the same operations at random.
cd "$WORK" # schemathesis keeps its example database in the working directory
"$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run "$WORK/openapi.json" \
    --url "$BASE" \
    --checks not_a_server_error \
    --max-examples "$EXAMPLES" \
    --phases examples,fuzzing \
    --exclude-path /api/v1/events/stream \
    --workers 2 \
    --request-timeout 20 \
    --no-color \
    --report junit --report-junit-path "$WORK/junit.xml" \
    "${seed_args[@]}" || status=$?
if [ -n "${SCANOPY_FUZZ_ARTIFACTS:-}" ]; then
    mkdir -p "$SCANOPY_FUZZ_ARTIFACTS"
    cp "$WORK/junit.xml" "$WORK/server.log" "$WORK/openapi.json" "$SCANOPY_FUZZ_ARTIFACTS/" 2>/dev/null || true
fi
if grep -q "panicked" "$WORK/server.log"; then
    echo "fuzz: FAILED: the server panicked:" >&2
    grep -A5 "panicked" "$WORK/server.log" >&2
    status=1
fi
kill -0 "$PID" 2>/dev/null || { echo "fuzz: FAILED: the server died" >&2; status=1; }
if [ "$status" = 0 ]; then
    echo "fuzz: passed: no 5xx"
else
    echo "fuzz: FAILED (schemathesis exit $status); server log: $WORK/server.log" >&2
    SCANOPY_FUZZ_KEEP=1
fi
exit "$status"
