# syntax=docker/dockerfile:1
#
# nordkapp42 container image: a static binary on distroless, running as the
# unprivileged "nonroot" user (uid 65532).
#
#   docker build -t nordkapp42:dev --build-arg VERSION=dev .
#   docker run -p 8080:8080 -v nordkapp42-data:/data nordkapp42:dev
#
# The cache mounts need BuildKit (the default builder of current Docker).

ARG GO_VERSION=1.26

# The builder runs on the build machine's platform and cross-compiles for the
# target one, so a multi-arch build (docker buildx --platform
# linux/amd64,linux/arm64) needs no emulation: the binary is pure Go.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src

# Modules first, so editing the code does not invalidate this layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
ARG VERSION=dev
ARG TARGETOS=linux
ARG TARGETARCH
# CGO_ENABLED=0: the SQLite driver is pure Go (modernc.org/sqlite), so the
# binary is static and runs on an image without a C library. -trimpath keeps
# the build machine's paths out of the binary; -s -w drop the symbol table
# and DWARF (stack traces keep their function names and lines).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/nordkapp42 ./cmd/nordkapp42

# distroless/static has no shell to mkdir with, so the data directory is made
# here and copied with the right owner.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="nordkapp42" \
      org.opencontainers.image.description="Self-hosted real-time messaging and reminders over GraphQL" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/nordkapp42/nordkapp42"

COPY --from=build /out/nordkapp42 /nordkapp42
COPY --from=build --chown=65532:65532 /out/data /data

# The SQLite database and the generated JWT secret live in /data when no
# PostgreSQL URL and no JWT secret are configured. SQLite is single-node:
# replicas that share users need NORDKAPP42_DATABASE_URL and
# NORDKAPP42_REDIS_URL.
ENV NORDKAPP42_DATA_DIR=/data
VOLUME ["/data"]

# 8080: GraphQL over HTTP/WebSocket/SSE, /healthz, /readyz, /metrics.
# 9090: the internal gRPC/Connect listener (h2c).
EXPOSE 8080 9090

# No HEALTHCHECK on purpose: the image has no shell or curl to run one, and
# orchestrators probe the process themselves (Kubernetes liveness /healthz,
# readiness /readyz; see deploy/helm). Docker's HEALTHCHECK is also ignored by
# Kubernetes and would only duplicate those probes.
USER nonroot:nonroot
ENTRYPOINT ["/nordkapp42"]
CMD ["serve"]
