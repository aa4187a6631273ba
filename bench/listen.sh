#!/usr/bin/env bash
# Listening's benchmark (issue 18), on the test LAN, as root:  sudo bench/listen.sh [JOINS]
#
# 1. JOINS hosts (default 20) join the home segment one after another (testlan.sh join:
#    busybox udhcpc, then a gratuitous ARP) while a release daemon listens; each is timed from
#    its link going up to its `device_new` on the server's SSE stream (median and worst);
# 2. the daemon's CPU and memory at idle and under an ARP storm of 10,000 packets a second
#    from random MACs for 10 s;
# 3. beside them, what a scheduled sweep would take: arp-scan of the home /24, timed in the
#    same run (when installed), and the wait a sweep every 5 minutes (NetAlertX's default) or
#    every hour (our local daemon's default) adds on average: half its interval.
# It runs the e2e test testlan_a_device_that_joins_is_heard_named_and_scanned in release.
set -euo pipefail
cd "$(dirname "$0")/.."
JOINS=${1:-20}
[ "$(id -u)" = 0 ] || { echo "listen.sh: run as root (the test LAN)" >&2; exit 1; }
testlan/testlan.sh status >/dev/null 2>&1 || testlan/testlan.sh up
out=$(SCANOPY_TESTLAN=1 SCANOPY_JOINS=$JOINS SCANOPY_STORM=1 \
  cargo test --release -q -p scanopy-server --test e2e -- \
  testlan_a_device_that_joins_is_heard_named_and_scanned --nocapture 2>&1) \
  || { echo "$out" | tail -40; exit 1; }
echo "$out" | grep '^listen:'
median=$(echo "$out" | sed -n 's/.*median \([0-9.]*\) s.*/\1/p' | head -1)
if command -v arp-scan >/dev/null; then
  t0=$(date +%s.%N)
  n=$(ip netns exec sclan-scan arp-scan -q -x -I eth3 10.77.3.0/24 | wc -l)
  t1=$(date +%s.%N)
  sweep=$(echo "$t1 - $t0" | bc -l)
  printf 'arp-scan of 10.77.3.0/24: %.2f s (%d hosts)\n' "$sweep" "$n"
else
  sweep=0
  echo "arp-scan not installed: the sweep time is left out (apt-get install arp-scan)"
fi
for interval in 300 3600; do
  wait=$(echo "$interval / 2 + $sweep" | bc -l)
  printf 'a sweep every %d s sees a join after %.1f s on average: listening is %.0fx sooner\n' \
    "$interval" "$wait" "$(echo "$wait / $median" | bc -l)"
done
