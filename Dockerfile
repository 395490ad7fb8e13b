# openai-dify-proxy on Debian 12: built in one stage, run in another that
# holds only the binary and the shared libraries it links.
#
#   docker build -t openai-dify-proxy .
#   docker run --rm -p 8223:8223 -e DIFY_API_URL=https://dify.example/v1 openai-dify-proxy
#
# Configuration is by environment (ODP_<KEY>, DIFY_API_URL, REDIS_URL, ...),
# or a JSON file mounted at /etc/openai-dify-proxy/config.json and named
# with -c (README.md, "Docker").  scripts/check-docker.sh (make test-docker)
# checks this file against the binary and the README.

FROM debian:bookworm-slim AS build
# scripts/deps.sh's build list, and libc6-dev (gcc only recommends it).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	gcc make pkg-config libc6-dev \
	libevent-dev libssl-dev libjansson-dev libhiredis-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY scripts/ scripts/
COPY include/ include/
COPY src/ src/
# The build/.deps-build stamp runs scripts/deps.sh, which finds everything
# installed above and installs nothing.
RUN make build/openai-dify-proxy

FROM debian:bookworm-slim
# The packages of the libraries the binary links (ldd + dpkg -S), CA
# certificates for Dify over https.  No curl: the healthcheck uses bash.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	libevent-core-2.1-7 libevent-extra-2.1-7 libevent-openssl-2.1-7 \
	libssl3 libjansson4 libhiredis0.14 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 odp \
 && useradd --uid 10001 --gid 10001 --no-create-home \
	--home-dir /nonexistent --shell /usr/sbin/nologin odp \
 && mkdir -p /etc/openai-dify-proxy
COPY --from=build /src/build/openai-dify-proxy /usr/local/bin/openai-dify-proxy

# Docker's stop gives 10 s before SIGKILL: drain for 8 of them (raise both
# together: docker stop -t, compose's stop_grace_period).  The environment
# wins over a -c file: change these with -e, not in the file.
ENV HOST=0.0.0.0 \
    PORT=8223 \
    ODP_DRAIN_TIMEOUT=8
# A .env here is read too (the proxy reads one in its working directory).
WORKDIR /etc/openai-dify-proxy
USER 10001:10001
EXPOSE 8223
STOPSIGNAL SIGTERM
# GET /healthz over bash's /dev/tcp (bash and grep are in every Debian
# image), on the port the environment gives.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
	CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PORT:-8223} && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && grep -q '\"status\":\"ok\"' <&3"]
# The proxy is PID 1: its master handles SIGTERM and SIGHUP itself and
# reaps its workers, and the workers check for their master's pid, not
# for PID 1 (scripts/check-docker.sh runs it as PID 1 to hold it to that).
ENTRYPOINT ["/usr/local/bin/openai-dify-proxy"]
