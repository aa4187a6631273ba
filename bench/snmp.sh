#!/usr/bin/env bash
# SNMP's benchmark (issue 12), on the test LAN's campus, as root:  sudo bench/snmp.sh [RUNS]
#
# 1. Walk time per agent: a release `scanopy-daemon scan SWITCH --scanners snmp` (one GET of the
#    scalars, then every subtree the scanner reads, GETBULK 40 at a time) against Debian's
#    `snmpbulkwalk` (net-snmp, its default 10 repetitions) of the same subtrees, run one after
#    another; median of RUNS (default 5) each, measured in the same run.
# 2. A forwarding table of 10,000 MACs: that many static entries are added to sw1's bridge (the
#    kernel's own table, which bridge_mib.py serves), then both are timed again and the
#    daemon's peak memory (GNU time's maximum resident set) is printed; the entries are removed.
# 3. Placement accuracy on the campus: the test testlan_snmp_places_every_campus_host_on_its_switch_port
#    (release) prints how many hosts it placed on their real port.
# 4. SNMPv3 (authPriv, SHA-256 and AES) walks of the router against `snmpbulkwalk -v3` with the
#    same user and subtrees.
# 5. snmpsim (Debian's) playing a generated forwarding table of 10,000 MACs on the scanner
#    namespace's loopback: both timed, the daemon's peak memory printed.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
[ "$(id -u)" = 0 ] || { echo "snmp.sh: run as root (the test LAN)" >&2; exit 1; }
command -v snmpbulkwalk >/dev/null || { echo "snmp.sh: needs snmpbulkwalk (apt-get install snmp)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "snmp.sh: needs GNU time (apt-get install time)" >&2; exit 1; }
testlan/testlan.sh status >/dev/null 2>&1 || testlan/testlan.sh up
cargo build --release -q -p scanopy-daemon
BIN=$PWD/target/release/scanopy-daemon
ROOTS=(.1.3.6.1.2.1.1 .1.3.6.1.6.3.10.2.1.1 .1.3.6.1.2.1.2.2.1 .1.3.6.1.2.1.31.1.1.1
       .1.3.6.1.2.1.4.20.1 .1.3.6.1.2.1.4.22.1 .1.0.8802.1.1.2.1.4.1.1 .1.0.8802.1.1.2.1.4.2.1
       .1.0.8802.1.1.2.1.3.7.1 .1.3.6.1.4.1.9.9.23.1.2.1.1 .1.3.6.1.2.1.17.1.4.1
       .1.3.6.1.2.1.17.7.1.4.3.1 .1.3.6.1.2.1.17.7.1.4.5.1 .1.3.6.1.2.1.17.7.1.2.2.1
       .1.3.6.1.2.1.17.4.3.1)
ns() { ip netns exec sclan-scan "$@"; }
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# What `ours` and `peer` pass: the community (or, with V3 set, the v3 user) of the agent.
COMMUNITY=lab-ro
V3=
ours() {
  if [ -n "$V3" ]; then
    ns "$BIN" scan "$1" --scanners snmp --snmp-v3 "$V3" -p 1 -f json > /tmp/snmp-bench.json
  else
    ns "$BIN" scan "$1" --scanners snmp --snmp-community "$COMMUNITY" -p 1 -f json > /tmp/snmp-bench.json
  fi
}
peer() {
  local r auth
  if [ -n "$V3" ]; then
    local v3user v3auth v3authpw v3priv v3privpw
    IFS=: read -r v3user v3auth v3authpw v3priv v3privpw <<< "$V3"
    auth=(-v3 -l authPriv -u "$v3user" -a "$v3auth" -A "$v3authpw" -x "$v3priv" -X "$v3privpw")
  else
    auth=(-v2c -c "$COMMUNITY")
  fi
  for r in "${ROOTS[@]}"; do ns snmpbulkwalk "${auth[@]}" -On -Cc "$1" "$r" > /dev/null; done
}
compare() {
  local ip=$1 label=$2 a b i
  : > /tmp/snmp-a; : > /tmp/snmp-b
  for i in $(seq 1 "$RUNS"); do
    a=$(now); ours "$ip"; b=$(now); echo "$b - $a" | bc -l >> /tmp/snmp-a
    a=$(now); peer "$ip"; b=$(now); echo "$b - $a" | bc -l >> /tmp/snmp-b
  done
  local ma mb
  ma=$(median < /tmp/snmp-a); mb=$(median < /tmp/snmp-b)
  printf '%s: scanopy %.3f s, snmpbulkwalk %.3f s (median of %d): %.2fx\n' \
    "$label" "$ma" "$mb" "$RUNS" "$(echo "$mb / $ma" | bc -l)"
}

compare 10.77.4.3 "sw1 (walk)"
compare 10.77.4.4 "sw2 (walk)"

# 10,000 static MACs on sw1's ge2.
batch=$(mktemp)
for i in $(seq 0 9999); do
  printf 'fdb add 02:bb:%02x:%02x:00:01 dev ge2 master static\n' $((i / 256)) $((i % 256))
done > "$batch"
cleanup() { sed 's/^fdb add/fdb del/' "$batch" > "$batch.del"; ip netns exec sclan-sw1 bridge -batch "$batch.del" >/dev/null 2>&1 || true; rm -f "$batch" "$batch.del"; }
trap cleanup EXIT
ip netns exec sclan-sw1 bridge -batch "$batch"
sleep 1.5  # bridge_mib.py re-reads the table once a second
compare 10.77.4.3 "sw1 with 10,000 MACs"
/usr/bin/time -f "%M" -o /tmp/snmp-rss ip netns exec sclan-scan "$BIN" scan 10.77.4.3 --scanners snmp \
  --snmp-community lab-ro -p 1 -f json > /tmp/snmp-bench.json
learnt=$(python3 -c 'import json; d=json.load(open("/tmp/snmp-bench.json")); print(max(len((x.get("l2") or {}).get("learnt", [])) for x in d["devices"]))')
printf 'sw1 with 10,000 MACs: %s learnt entries read, daemon peak RSS %.1f MiB\n' \
  "$learnt" "$(echo "$(cat /tmp/snmp-rss) / 1024" | bc -l)"
cleanup
trap - EXIT

# 4. SNMPv3 on the router (testlan/src/lib.rs ROUTER_V3_USERS[1]).
V3='lab-256:SHA-256:rtr-auth-sha256:AES:rtr-priv-sha256'
compare 10.77.0.1 "router, SNMPv3 authPriv SHA-256/AES (walk)"
V3=

# 5. snmpsim with 10,000 MACs on the scanner namespace's loopback.
if command -v snmpsimd >/dev/null; then
  sim=$(mktemp -d); mkdir -p "$sim/data" "$sim/cache"; chmod 755 "$sim" "$sim/data"; chmod 777 "$sim/cache"
  python3 - "$sim/data/fdb10k.snmprec" <<'PY'
import sys
rows = [((1,3,6,1,2,1,1,5,0), "4|fdb.lab.test"), ((1,3,6,1,2,1,17,1,1,0), "4x|027706000000")]
for p in range(1, 49):
    rows += [((1,3,6,1,2,1,2,2,1,3,p), "2|6"), ((1,3,6,1,2,1,31,1,1,1,1,p), f"4|ge{p}"),
             ((1,3,6,1,2,1,17,1,4,1,2,p), f"2|{p}")]
for i in range(10000):
    mac = (2, 0x66, 0, i >> 16 & 255, i >> 8 & 255, i & 255)
    rows += [((1,3,6,1,2,1,17,4,3,1,2) + mac, f"2|{i % 48 + 1}"), ((1,3,6,1,2,1,17,4,3,1,3) + mac, "2|3")]
rows.sort()
open(sys.argv[1], "w").write("".join(".".join(map(str, o)) + "|" + v + "\n" for o, v in rows))
PY
  ns snmpsimd --data-dir="$sim/data" --cache-dir="$sim/cache" --agent-udpv4-endpoint=127.0.0.1:161 \
    --process-user=nobody --process-group=nogroup > "$sim/log" 2>&1 &
  simpid=$!
  for _ in $(seq 1 100); do ns snmpget -v2c -c fdb10k -t 0.3 -r 0 127.0.0.1 1.3.6.1.2.1.1.5.0 >/dev/null 2>&1 && break; sleep 0.3; done
  COMMUNITY=fdb10k
  compare 127.0.0.1 "snmpsim, 10,000 MACs"
  /usr/bin/time -f "%M" -o /tmp/snmp-rss ip netns exec sclan-scan "$BIN" scan 127.0.0.1 --scanners snmp \
    --snmp-community fdb10k -p 1 -f json > /tmp/snmp-bench.json
  learnt=$(python3 -c 'import json; d=json.load(open("/tmp/snmp-bench.json")); print(max(len((x.get("l2") or {}).get("learnt", [])) for x in d["devices"]))')
  printf 'snmpsim, 10,000 MACs: %s learnt entries read, daemon peak RSS %.1f MiB\n' \
    "$learnt" "$(echo "$(cat /tmp/snmp-rss) / 1024" | bc -l)"
  kill "$simpid" 2>/dev/null || true; wait "$simpid" 2>/dev/null || true
  rm -rf "$sim"
  COMMUNITY=lab-ro
else
  echo "snmp.sh: snmpsim is not installed: the snmpsim measure is skipped"
fi

out=$(SCANOPY_TESTLAN=1 cargo test --release -q -p scanopy-scanners --test it -- \
  testlan_snmp_places_every_campus_host_on_its_switch_port --nocapture 2>&1) \
  || { echo "$out" | tail -30; exit 1; }
echo "$out" | grep '^snmp campus:'
