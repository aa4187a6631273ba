#!/usr/bin/env bash
# Installs the two Debian packages on this machine (as root), checks what they put where, runs
# the installed server as the `scanopy` user on 127.0.0.1 (no local daemon: it would scan the
# machine's own network), and purges both, checking that nothing is left.
#
#   packaging/deb/test.sh target/deb/scanopy-server_*.deb target/deb/scanopy-daemon_*.deb
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "deb test: must run as root" >&2; exit 1; }
[ $# = 2 ] || { echo "usage: $0 SERVER.deb DAEMON.deb" >&2; exit 2; }
fail() { echo "deb test: $*" >&2; exit 1; }
status() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true; }
for p in scanopy-server scanopy-daemon; do
  case "$(status "$p")" in ""|not-installed) ;; *) fail "$p is already installed here; purge it first" ;; esac
done
getent passwd scanopy >/dev/null && fail "a user scanopy exists before the install"

cleanup() { dpkg --purge scanopy-server scanopy-daemon >/dev/null 2>&1 || true; }
trap cleanup EXIT

dpkg -i "$1" "$2" >/dev/null
for f in /usr/bin/scanopy-server /usr/bin/scanopy-daemon /lib/systemd/system/scanopy-server.service \
         /lib/systemd/system/scanopy-daemon.service /etc/scanopy/server.toml /etc/scanopy/daemon.toml \
         /usr/share/bash-completion/completions/scanopy-daemon /usr/share/zsh/vendor-completions/_scanopy-server \
         /usr/share/fish/vendor_completions.d/scanopy-daemon.fish /usr/share/doc/scanopy-daemon/copyright; do
  [ -s "$f" ] || fail "$f is missing or empty"
done
getent passwd scanopy | grep -q ':/usr/sbin/nologin$' || fail "no system user scanopy with nologin"
[ "$(stat -c '%U:%G %a' /etc/scanopy)" = "root:scanopy 750" ] || fail "/etc/scanopy: $(stat -c '%U:%G %a' /etc/scanopy)"
getcap /usr/bin/scanopy-daemon | grep -q 'cap_net_raw[=+]ep' || fail "the daemon lacks CAP_NET_RAW: $(getcap /usr/bin/scanopy-daemon)"
[ -z "$(getcap /usr/bin/scanopy-server)" ] || fail "the server has capabilities"
grep -q '^AmbientCapabilities=$' /lib/systemd/system/scanopy-server.service || fail "the server unit grants capabilities"
grep -q '^ExecStart=/usr/bin/scanopy-daemon' /lib/systemd/system/scanopy-daemon.service || fail "the daemon unit runs another path"
dpkg-query -W -f='${Conffiles}\n' scanopy-daemon | grep -q /etc/scanopy/daemon.toml || fail "daemon.toml is no conffile"
for b in scanopy-server scanopy-daemon; do
  "$b" --version | grep -Eq "^$b [0-9.]+ \(commit [0-9a-f]{12}(-dirty)?\)$" || fail "$b --version: $("$b" --version)"
  MANWIDTH=80 man -l "/usr/share/man/man1/$b.1.gz" 2>/dev/null | grep -q "^NAME" || fail "man -l $b.1.gz"
done

# The installed server, as its unit runs it, on a free loopback port.
data=$(mktemp -d)
chown scanopy:scanopy "$data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
runuser -u scanopy -- env SCANOPY_CONFIG=/etc/scanopy/server.toml SCANOPY_DATA_DIR="$data" \
  SCANOPY_ADMIN_PASSWORD=deb-test-password-1 \
  /usr/bin/scanopy-server --no-local-daemon --listen "127.0.0.1:$port" > "$data.log" 2>&1 &
pid=$!
ok=""
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/api/v1/health" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.1
done
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ -n "$ok" ] || { cat "$data.log" >&2; fail "the installed server did not answer /api/v1/health"; }
rm -rf "$data" "$data.log"

dpkg --purge scanopy-server scanopy-daemon >/dev/null
trap - EXIT
for f in /usr/bin/scanopy-server /usr/bin/scanopy-daemon /etc/scanopy /lib/systemd/system/scanopy-server.service \
         /usr/share/man/man1/scanopy-daemon.1.gz /usr/share/doc/scanopy-server /var/lib/scanopy-server \
         /var/lib/scanopy-daemon; do
  [ ! -e "$f" ] || fail "$f is left after purge"
done
getent passwd scanopy >/dev/null && fail "the user scanopy is left after purge"
getent group scanopy >/dev/null && fail "the group scanopy is left after purge"
for p in scanopy-server scanopy-daemon; do
  case "$(status "$p")" in ""|not-installed) ;; *) fail "$p is still known to dpkg: $(status "$p")" ;; esac
done
echo "deb test: installed, checked, ran the server, purged; nothing left"
