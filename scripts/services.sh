#!/usr/bin/env bash
# Installs and starts, idempotently, every service the tests need, on
# 127.0.0.1 only. Binaries are cached under $CACHE, state (data, logs, pid
# files) under $STATE. `up` waits until each service answers; `down` stops
# them by pid file.
#
# The spine (stream core + directory sink) needs no external service. The
# sinks that do (MinIO, PostgreSQL, the search server, NATS) add themselves
# here as they are built, following ../shared/services.md.
set -euo pipefail
CACHE=${HYDRANT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hydrant}
STATE=${HYDRANT_STATE:-$CACHE/state}
mkdir -p "$CACHE/bin" "$STATE"

cmd=${1:-up}
case $cmd in
  up)
    echo "services: none needed yet (state in $STATE)"
    ;;
  down)
    for pidfile in "$STATE"/*.pid; do
      [ -e "$pidfile" ] || continue
      kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    done
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
