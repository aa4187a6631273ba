# The scanopy image: server and daemon in one slim Debian image (multi-stage build).
#
#   docker build -t scanopy .
#   docker compose up -d                     (compose.yaml: server, daemon, optional PostgreSQL)
#
# The entrypoint is the server; the daemon runs from the same image with
# `--entrypoint /usr/bin/scanopy-daemon`. packaging/image/local.sh builds an image that runs the
# same way from locally built binaries, for machines without a registry (CI), and
# packaging/image/test.py exercises it.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --locked --profile dist -p scanopy-server -p scanopy-daemon

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 999 scanopy \
 && useradd --system --uid 999 --gid scanopy --home-dir /var/lib/scanopy --shell /usr/sbin/nologin scanopy \
 && install -d -o scanopy -g scanopy /var/lib/scanopy
COPY --from=build /src/target/dist/scanopy-server /src/target/dist/scanopy-daemon /usr/bin/
USER scanopy
ENV SCANOPY_DATA_DIR=/var/lib/scanopy SCANOPY_LISTEN=0.0.0.0:60072
VOLUME /var/lib/scanopy
EXPOSE 60072
ENTRYPOINT ["/usr/bin/scanopy-server"]
