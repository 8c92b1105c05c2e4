# Copyright 2026 The PiNet Authors. Licensed under the Apache License, Version 2.0.
#
# One build, two images:
#   docker build --target manager   -t pinet-manager .    controllers, EC2 API, S3 store (non-root)
#   docker build --target nodeagent -t pinet-nodeagent .  the per-hypervisor agent (privileged, root)
# The node agent links libvirt (cgo), so its image carries libvirt's client library; the manager
# and pinetctl are static. internal/layering's test checks that the COPY lines below cover every
# package the binaries import.
FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libvirt-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cloud/ cloud/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY dashboard/ dashboard/
COPY ec2shim/ ec2shim/
COPY internal/ internal/
COPY nodeagent/ nodeagent/
COPY objectstore/ objectstore/
ARG VERSION=v0.0.0-dev
ENV LDFLAGS="-X pinet.io/pinet/internal/version.gitVersion=${VERSION}"
RUN CGO_ENABLED=0 go build -ldflags "${LDFLAGS}" -o /out/manager ./cmd/manager && \
    CGO_ENABLED=0 go build -ldflags "${LDFLAGS}" -o /out/pinetctl ./cmd/pinetctl && \
    go build -ldflags "${LDFLAGS}" -o /out/nodeagent ./cmd/nodeagent

FROM debian:bookworm-slim AS nodeagent
# The agent drives libvirt, netlink and nftables on its node: it runs as root in a privileged,
# host-network pod (config/nodeagent).
RUN apt-get update && apt-get install -y --no-install-recommends libvirt0 ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/nodeagent /nodeagent
ENTRYPOINT ["/nodeagent"]

FROM debian:bookworm-slim AS manager
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/manager /out/pinetctl /
USER 65532:65532
ENTRYPOINT ["/manager"]
