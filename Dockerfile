# Builds the manager and node agent. The node agent links libvirt (cgo), so the runtime image
# carries libvirt's client library.
FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libvirt-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
COPY nodeagent/ nodeagent/
ARG VERSION=v0.0.0-dev
RUN go build -ldflags "-X pinet.io/pinet/internal/version.gitVersion=${VERSION}" -o /out/manager ./cmd/manager && \
    go build -ldflags "-X pinet.io/pinet/internal/version.gitVersion=${VERSION}" -o /out/nodeagent ./cmd/nodeagent

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libvirt0 ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/manager /out/nodeagent /
USER 65532:65532
ENTRYPOINT ["/manager"]
