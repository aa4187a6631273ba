#!/usr/bin/env bash
# Builds the container image scanopy:local without a base image or a registry: a root file
# system of the dist binaries, the shared libraries `ldd` lists for them, CA certificates and a
# `scanopy` user, imported with `docker import`. It runs what the Dockerfile's image runs (the
# same entrypoint, user, variables and volume), so the image test proves both.
#
#   cargo build --profile dist -p scanopy-server -p scanopy-daemon
#   packaging/image/local.sh [TAG]            (default scanopy:local; BIN_DIR=target/dist)
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=${1:-scanopy:local}
BIN_DIR=${BIN_DIR:-$PWD/target/dist}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -d "$root/usr/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/var/lib/scanopy"
chmod 1777 "$root/tmp"
for b in scanopy-server scanopy-daemon; do
  [ -x "$BIN_DIR/$b" ] || { echo "image: $BIN_DIR/$b is missing (cargo build --profile dist)" >&2; exit 1; }
  install -m 0755 "$BIN_DIR/$b" "$root/usr/bin/$b"
  # Every library the binary loads, and the loader, at the paths ldd names.
  ldd "$BIN_DIR/$b" | grep -o '/[^ ]*' | while read -r lib; do
    install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
  done
done
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
echo "root:x:0:0:root:/root:/sbin/nologin" > "$root/etc/passwd"
echo "scanopy:x:999:999:scanopy:/var/lib/scanopy:/sbin/nologin" >> "$root/etc/passwd"
printf 'root:x:0:\nscanopy:x:999:\n' > "$root/etc/group"
echo "hosts: files dns" > "$root/etc/nsswitch.conf"
chown 999:999 "$root/var/lib/scanopy"
tar -C "$root" --numeric-owner -c . | docker import \
  --change 'USER scanopy' \
  --change 'ENV SCANOPY_DATA_DIR=/var/lib/scanopy SCANOPY_LISTEN=0.0.0.0:60072' \
  --change 'VOLUME /var/lib/scanopy' \
  --change 'EXPOSE 60072' \
  --change 'ENTRYPOINT ["/usr/bin/scanopy-server"]' \
  - "$TAG" >/dev/null
echo "image: $TAG"
