# The coordinator image. The build stage makes the Debian package on Debian 12 with the project's
# own scripts; the runtime stage installs that package on debian:12-slim, so the image holds
# exactly the binary and the runtime libraries of the package's Depends, and runs it as the
# unprivileged lmcache-coordinator user with its state file on a volume.
#
#   docker build -t lmcache-coordinator:0.1.0 .
#   docker run -d -p 9300:9300 -v lmcache-state:/var/lib/lmcache-coordinator lmcache-coordinator:0.1.0
#
# Settings are the binary's env fallbacks (LMCACHE_MP_COORDINATOR_*, `docker run -e`) or flags
# after the image name (`... lmcache-coordinator:0.1.0 --default-quota-gb none`). The health check
# asks /healthz on LMCACHE_MP_COORDINATOR_PORT; change the port through that variable, not --port.

FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/
RUN ./scripts/install-deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN ./scripts/build-deb.sh

FROM debian:12-slim
# A fixed UID, so Kubernetes can check runAsNonRoot and a volume can be prepared for it; the
# package's postinst finds the user and keeps it.
ARG UID=10001
RUN groupadd --system --gid "$UID" lmcache-coordinator \
 && useradd --system --uid "$UID" --gid lmcache-coordinator --home-dir /var/lib/lmcache-coordinator \
      --no-create-home --shell /usr/sbin/nologin lmcache-coordinator
COPY --from=build /src/build-release/package/lmcache-coordinator_*_amd64.deb /tmp/
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl /tmp/lmcache-coordinator_*_amd64.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/lmcache-coordinator_*_amd64.deb \
 && install -d -o lmcache-coordinator -g lmcache-coordinator -m 0750 /var/lib/lmcache-coordinator

ENV LMCACHE_MP_COORDINATOR_HOST=0.0.0.0 \
    LMCACHE_MP_COORDINATOR_PORT=9300 \
    LMCACHE_MP_COORDINATOR_STATE_PATH=/var/lib/lmcache-coordinator/lmcache-coordinator.db
USER 10001:10001
WORKDIR /var/lib/lmcache-coordinator
VOLUME /var/lib/lmcache-coordinator
EXPOSE 9300
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${LMCACHE_MP_COORDINATOR_PORT}/healthz" || exit 1
# SIGTERM: stop accepting, drain in-flight requests for up to 2 s, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/lmcache", "coordinator"]
