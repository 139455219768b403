# syntax=docker/dockerfile:1
# Hydrant server image: a static binary on distroless, run as nonroot.
#   docker build -t hydrant .
#   docker run -p 127.0.0.1:4575:4575 -v $PWD/configs/compose.yaml:/etc/hydrant/hydrant.yaml hydrant

FROM golang:1.26 AS build
WORKDIR /src
# Modules first so that source edits do not refetch them.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/hydrant ./cmd/hydrant
# The data directory must exist in the image, owned by the runtime user, so
# that a named volume mounted there starts out writable.
RUN mkdir -p /out/var/lib/hydrant

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hydrant /usr/local/bin/hydrant
COPY --from=build --chown=65532:65532 /out/var/lib/hydrant /var/lib/hydrant
# The built-in pipeline as a fallback config; its relative paths resolve
# under the working directory, which is the writable data volume.
COPY configs/default.yaml /etc/hydrant/hydrant.yaml
WORKDIR /var/lib/hydrant
ENV HYDRANT_LISTEN=0.0.0.0:4575
EXPOSE 4575
VOLUME ["/var/lib/hydrant"]
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/hydrant", "serve", "--config", "/etc/hydrant/hydrant.yaml"]
