# syntax=docker/dockerfile:1
#
# Video Tutorials: one static, non-root image of the whole system (web, components, aggregators).
#
#   docker build -t videotutorials .                              # default: distroless, no ffmpeg
#   docker build --target with-ffmpeg -t videotutorials:ffmpeg .  # alpine + ffmpeg, still non-root
#
# The video-publishing component transcodes uploads with ffmpeg when it is on PATH and otherwise keeps
# them as they are: the default image has no ffmpeg (and no shell); build the with-ffmpeg target for
# transcoding. compose.yaml picks the target with APP_TARGET=with-ffmpeg.
#
# Running it:
#   DATABASE_URL is required in practice. Without it the program starts its private dev PostgreSQL,
#   whose server binaries are not in the image, so it stops with an error. Give a postgres:// URL
#   (compose.yaml points it at its db service).
#   SESSION_SECRET (32+ characters) should be given; none is baked in. Without it the process signs
#   sessions with a random secret of its own: everyone is logged out when it restarts, and several
#   replicas don't share sessions.
#   /data is a volume owned by the non-root user: uploaded/transcoded media in /data/media and outgoing
#   email as .eml files in /data/email (unless SMTP_URL is set).
#   Every other setting is a flag with an environment default: `docker run --rm videotutorials -h`.
#
# Health: distroless has no shell nor HTTP client, so the default image has no HEALTHCHECK; probe
# GET /healthz (alive) and /readyz (ready) from outside: an orchestrator's HTTP probe, or compose's
# depends_on on the db healthcheck. The with-ffmpeg target has a shell and checks /healthz itself.

ARG GO_VERSION=1.26

# ---- builder: a static binary --------------------------------------------------------------------
FROM golang:${GO_VERSION} AS builder
WORKDIR /src
# Modules in their own layer: re-downloaded only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/videotutorials .
# The volume's directories, copied with the non-root owner into the final stages.
RUN mkdir -p /out/data/media /out/data/email

# ---- with-ffmpeg: alpine + ffmpeg, non-root ------------------------------------------------------
FROM alpine:3.22 AS with-ffmpeg
RUN apk add --no-cache ffmpeg ca-certificates tzdata \
    && addgroup -S -g 65532 nonroot \
    && adduser -S -D -H -u 65532 -G nonroot -h /data -s /sbin/nologin nonroot
COPY --from=builder --chown=65532:65532 /out/data /data
COPY --from=builder /out/videotutorials /usr/local/bin/videotutorials
ENV HOST=0.0.0.0 \
    PORT=8080 \
    MEDIA_DIRECTORY=/data/media \
    EMAIL_DIRECTORY=/data/email \
    DEV_DATA_DIR=/data/dev \
    LOG_FORMAT=json
WORKDIR /data
VOLUME /data
EXPOSE 8080
USER 65532:65532
# Every role serves /healthz (a process without the web role serves only /healthz, /readyz, /metrics).
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s \
    CMD wget -q -O /dev/null "http://127.0.0.1:${PORT}/healthz" || exit 1
ENTRYPOINT ["/usr/local/bin/videotutorials"]

# ---- runtime (default, last stage): distroless static, non-root ---------------------------------
FROM gcr.io/distroless/static-debian12:nonroot AS runtime
COPY --from=builder --chown=65532:65532 /out/data /data
COPY --from=builder /out/videotutorials /videotutorials
ENV HOST=0.0.0.0 \
    PORT=8080 \
    MEDIA_DIRECTORY=/data/media \
    EMAIL_DIRECTORY=/data/email \
    DEV_DATA_DIR=/data/dev \
    LOG_FORMAT=json
WORKDIR /data
VOLUME /data
EXPOSE 8080
USER 65532:65532
ENTRYPOINT ["/videotutorials"]
