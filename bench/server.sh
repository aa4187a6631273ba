#!/usr/bin/env bash
# Server benchmark (issues #6 and #14): with 10,000 devices stored (DEVICES=100000 for issue
# #14's large case), GET /api/v1/devices at 100
# connections (wrk), the topology of the 10,000 devices (JSON, DOT, SVG), and the server's peak
# RSS. Everything stays on 127.0.0.1; the server runs with --no-local-daemon, so nothing is
# scanned. Load is bounded (15 s of wrk).
#
#   bench/server.sh            # from a clone; installs wrk with apt-get when missing (root)
#
# Environment: DEVICES (10000), PORTS_PER_DEVICE (10), PORT (60181), DURATION (15s),
# CONNECTIONS (100), RUNS (topology timings per format, 7), KEEP=1 keeps the data directory.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEVICES=${DEVICES:-10000}
PORTS_PER_DEVICE=${PORTS_PER_DEVICE:-10}
PORT=${PORT:-60181}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-100}
RUNS=${RUNS:-7}
BASE="http://127.0.0.1:$PORT"
PASSWORD="bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"

if ! command -v wrk >/dev/null; then
    echo "installing wrk (apt-get)" >&2
    apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
command -v curl >/dev/null || { echo "server.sh needs curl" >&2; exit 1; }

cd "$ROOT"
cargo build --release -p scanopy-server -p scanopy-benches >&2
SERVER="$ROOT/target/release/scanopy-server"
SEED="$ROOT/target/release/seed"

DATA=$(mktemp -d /tmp/scanopy-server-bench.XXXXXX)
WORK=$(mktemp -d /tmp/scanopy-server-bench-work.XXXXXX)
PID=
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    [ "${KEEP:-0}" = 1 ] && echo "kept $DATA" >&2 || rm -rf "$DATA"
    rm -rf "$WORK"
}
trap cleanup EXIT

"$SEED" "$DATA" "$DEVICES" "$PORTS_PER_DEVICE" >&2

SCANOPY_ADMIN_PASSWORD="$PASSWORD" RUST_LOG=warn "$SERVER" --data-dir "$DATA" --no-local-daemon \
    --listen "127.0.0.1:$PORT" 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 100); do
    curl -fsS "$BASE/api/v1/health" >/dev/null 2>&1 && break
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.1
done
curl -fsS "$BASE/api/v1/health" >/dev/null

# Sign in, then make a read-only API token for wrk.
curl -fsS -c "$WORK/jar" -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" "$BASE/api/v1/auth/login" >/dev/null
TOKEN=$(curl -fsS -b "$WORK/jar" -H 'Content-Type: application/json' \
    -d '{"name":"bench","role":"read"}' "$BASE/api/v1/tokens" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
AUTH="Authorization: Bearer $TOKEN"

count=$(curl -fsS -H "$AUTH" "$BASE/api/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["devices"])')
echo "server has $count devices" >&2
[ "$count" -ge "$DEVICES" ] || { echo "seeding failed" >&2; exit 1; }
curl -fsS -o /dev/null -H "$AUTH" "$BASE/api/v1/devices" # warm-up

rss_mib() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$PID/status"; }
rss_idle=$(rss_mib VmRSS)

# wrk's latency figures come as 1.23ms, 456.78us or 1.02s: in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
        printf "%.2f", n }'
}
# 1. The same page over and over (what a dashboard polling the list does): the server keeps
#    the answer until the next write (or 2 s).
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "$AUTH" "$BASE/api/v1/devices" | tee "$WORK/wrk.txt" >&2
p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$WORK/wrk.txt")")
p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$WORK/wrk.txt")")
rps=$(awk '/^Requests\/sec/ { print $2 }' "$WORK/wrk.txt")
non2xx=$(awk '/Non-2xx/ { print $NF }' "$WORK/wrk.txt")
errors=$(awk '/Socket errors/ { print }' "$WORK/wrk.txt")

# 2. Every request a different page (a random cursor among all device ids): no answer comes
#    from the cache, every one is read from the database.
python3 - "$BASE" "$TOKEN" "$WORK/cursors.lua" <<'PY'
import json, sys, urllib.request
base, token, out = sys.argv[1:4]
ids, cursor = [], None
while True:
    url = f"{base}/api/v1/devices?limit=1000" + (f"&cursor={cursor}" if cursor else "")
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    page = json.load(urllib.request.urlopen(req))
    ids += [d["id"] for d in page["items"]]
    cursor = page["next_cursor"]
    if not cursor:
        break
with open(out, "w") as f:
    f.write("local ids = {" + ",".join(f'"{i}"' for i in ids) + "}\n")
    f.write('request = function() return wrk.format("GET", "/api/v1/devices?cursor=" .. ids[math.random(#ids)]) end\n')
PY
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "$AUTH" -s "$WORK/cursors.lua" "$BASE" | tee "$WORK/wrk-uncached.txt" >&2
u_p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$WORK/wrk-uncached.txt")")
u_p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$WORK/wrk-uncached.txt")")
u_rps=$(awk '/^Requests\/sec/ { print $2 }' "$WORK/wrk-uncached.txt")
rss_after_wrk=$(rss_mib VmHWM)

# The topology of every device in every format, one request at a time; the median of RUNS.
median_ms() {
    local format=$1 times=()
    curl -fsS -o "$WORK/topology.$format" -H "$AUTH" "$BASE/api/v1/topology?format=$format"
    for _ in $(seq "$RUNS"); do
        sleep 2.1 # past the cache's 2 s: every timed request builds the map afresh
        times+=("$(curl -fsS -o /dev/null -w '%{time_total}' -H "$AUTH" "$BASE/api/v1/topology?format=$format")")
    done
    printf '%s\n' "${times[@]}" | sort -g | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] * 1000 }'
}
topo_json=$(median_ms json)
topo_dot=$(median_ms dot)
topo_svg=$(median_ms svg)
topo_mermaid=$(median_ms mermaid)
topo_layout=$(median_ms layout)
topo_nodes=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["nodes"]))' "$WORK/topology.json" 2>/dev/null || echo "?")

rss_peak=$(rss_mib VmHWM)
rss_now=$(rss_mib VmRSS)

# Issue #14's targets: the topology of 10,000 devices in 150 ms, of 100,000 in 1.5 s (linear
# in between, and 150 ms below 10,000).
topo_target=$(awk -v n="$count" 'BEGIN { t = n <= 10000 ? 150 : 150 * n / 10000; printf "%d", t }')
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 < t + 0) ? "PASS" : "MISS" }'; }
echo
echo "scanopy-server, $count devices ($PORTS_PER_DEVICE open ports each), SQLite, 127.0.0.1, $(nproc) cores"
echo "wrk -t2 -c$CONNECTIONS -d$DURATION --latency $BASE/api/v1/devices (a page of 50): $rps req/s, p50 $p50 ms${non2xx:+, non-2xx $non2xx}${errors:+, $errors}"
echo "the same with a random cursor per request (no cache): $u_rps req/s, p50 $u_p50 ms"
echo "topology JSON bytes: $(wc -c <"$WORK/topology.json"), nodes: $topo_nodes; SVG bytes: $(wc -c <"$WORK/topology.svg")"
echo
printf '| %-44s | %10s | %8s | %-6s |\n' "measure" "measured" "target" "result"
printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "------------" "----------" "--------"
printf '| %-44s | %7s ms | %5s ms | %-6s |\n' "GET /api/v1/devices p99, same page (cached)" "$p99" 50 "$(verdict "$p99" 50)"
printf '| %-44s | %7s ms | %5s ms | %-6s |\n' "GET /api/v1/devices p99, random pages" "$u_p99" 50 "$(verdict "$u_p99" 50)"
printf '| %-44s | %7s ms | %5s ms | %-6s |\n' "GET /api/v1/topology?format=json (median)" "$topo_json" "$topo_target" "$(verdict "$topo_json" "$topo_target")"
printf '| %-44s | %7s ms | %5s ms | %-6s |\n' "GET /api/v1/topology?format=dot (median)" "$topo_dot" "$topo_target" "$(verdict "$topo_dot" "$topo_target")"
printf '| %-44s | %7s ms | %5s ms | %-6s |\n' "GET /api/v1/topology?format=svg (median)" "$topo_svg" "$topo_target" "$(verdict "$topo_svg" "$topo_target")"
printf '| %-44s | %7s ms | %5s ms | %-6s |\n' "GET /api/v1/topology?format=mermaid (median)" "$topo_mermaid" "$topo_target" "$(verdict "$topo_mermaid" "$topo_target")"
printf '| %-44s | %7s ms | %5s ms | %-6s |\n' "GET /api/v1/topology?format=layout (median)" "$topo_layout" "$topo_target" "$(verdict "$topo_layout" "$topo_target")"
printf '| %-44s | %6s MiB | %4s MB | %-6s |\n' "server peak RSS (VmHWM) after the load" "$rss_peak" 150 "$(verdict "$(awk -v m="$rss_peak" 'BEGIN { print m * 1.048576 }')" 150)"
echo
echo "RSS: $rss_idle MiB before the load; peak $rss_after_wrk MiB after wrk, $rss_peak MiB after the topology; $rss_now MiB now."
echo "No peer server is measured: the issue names none."
