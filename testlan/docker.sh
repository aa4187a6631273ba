#!/usr/bin/env bash
# A Docker engine for the project's tests: starts dockerd (Debian's docker.io) if none answers,
# and makes the test image locally with `docker import` (no registry is reachable).
#
#   sudo testlan/docker.sh up     start dockerd if needed, build the image scanopy-test/busybox
#   sudo testlan/docker.sh down   remove test containers and networks; stop dockerd if we started it
#
# Published test ports go to 127.0.0.1 only (dockerd --ip=127.0.0.1), and no test scans a
# container address: the Docker scanner reads the engine's API.
set -euo pipefail
STATE=${SCANOPY_DOCKER_STATE:-/run/scanopy-docker}
IMAGE=scanopy-test/busybox:latest
die() { echo "docker.sh: $*" >&2; exit 1; }

up() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  command -v dockerd >/dev/null || die "missing dockerd (install: docker.io)"
  command -v busybox >/dev/null || die "missing busybox (install: busybox-static)"
  mkdir -p "$STATE"
  if ! docker info >/dev/null 2>&1; then
    setsid dockerd --host=unix:///var/run/docker.sock --ip=127.0.0.1 --iptables=false --pidfile="$STATE/dockerd.pid" \
      > "$STATE/dockerd.log" 2>&1 < /dev/null &
    echo started > "$STATE/started-by-us"
    for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || die "dockerd did not come up; see $STATE/dockerd.log"
  fi
  if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    local root; root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/www"
    cp "$(command -v busybox)" "$root/bin/busybox"
    for a in sh httpd sleep true cat echo; do ln -s busybox "$root/bin/$a"; done
    echo '<html><head><title>container web</title></head></html>' > "$root/www/index.html"
    tar -C "$root" -c . | docker import - "$IMAGE" >/dev/null
    rm -rf "$root"
  fi
  echo "docker.sh: engine up, image $IMAGE ready"
}

down() {
  if docker info >/dev/null 2>&1; then
    docker ps -aq --filter name=scanopy-test- | xargs -r docker rm -f >/dev/null 2>&1 || true
    docker network ls -q --filter name=scanopy-test- | xargs -r docker network rm >/dev/null 2>&1 || true
  fi
  if [ -f "$STATE/started-by-us" ] && [ -f "$STATE/dockerd.pid" ]; then
    kill "$(cat "$STATE/dockerd.pid")" 2>/dev/null || true
    for _ in $(seq 1 40); do [ -e "/proc/$(cat "$STATE/dockerd.pid" 2>/dev/null)" ] || break; sleep 0.25; done
  fi
  rm -rf "$STATE"
  echo "docker.sh: down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
