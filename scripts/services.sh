#!/usr/bin/env bash
# Installs and starts, idempotently, every service the tests need, on
# 127.0.0.1 only (see ../shared/services.md). Binaries are cached under
# $CACHE, state (data, logs, pid files) under $STATE. Safe to run again at
# any time: what is installed is not reinstalled, what answers is reused.
#
#   scripts/services.sh up          install what is missing, start, wait until ready
#   scripts/services.sh down        stop every service started here (by pid file)
#   scripts/services.sh minio-stop  stop only MinIO (the S3 outage tests use it)
#   scripts/services.sh minio-start start only MinIO and wait until ready
#   scripts/services.sh postgres-stop / postgres-start   the same for PostgreSQL
#   scripts/services.sh search-stop / search-start       the same for ZincSearch
#   scripts/services.sh env         print the test environment as `export` lines:
#                                   eval "$(scripts/services.sh env)"
#
# MinIO: built once with `go install` into $CACHE/bin/minio (about 10 min
# cold), data in $STATE/minio, log $STATE/minio.log, pid $STATE/minio.pid,
# listening on 127.0.0.1:9000 (S3) and :9001 (console) with the fixed test
# credentials minioadmin/minioadmin. If something already answers
# $MINIO_URL/minio/health/ready, it is reused and never stopped by this
# script (no pid file is written for it).
#
# PostgreSQL (Debian's, 15 here): a private trust cluster run as the
# `postgres` user (Postgres refuses root) in $PG_DIR, listening on
# 127.0.0.1:5432; DSN postgres://postgres@127.0.0.1:5432/postgres. If a
# Postgres already answers on 5432 it is reused and never stopped here.
#
# Search: ZincSearch v0.4.10 (no OpenSearch can run here; it serves the
# Elasticsearch-compatible subset the tests use under /es, see "Search" in
# services.md). `go install` cannot build it, so the module source from
# `go mod download` is copied to a temporary directory, given a stub
# web/dist/index.html, stripped of the pyroscope profiler (which no longer
# compiles) and built with CGO_ENABLED=0 into $CACHE/bin/zincsearch (about
# 3 min cold, log $CACHE/logs/zinc-build.log); nothing of it enters the repo.
# Data in $STATE/zinc, log $STATE/zinc.log, pid $STATE/zinc.pid, listening on
# 127.0.0.1:4080 with admin/Complexpass#123, Sentry and telemetry off. If
# something already answers $ZINC_URL/healthz, it is reused and never
# stopped by this script (no pid file is written for it).
#
# Also makes sure the CLI tools the compression tests decode with (gzip,
# unzip, zstd) and the headless browser of the dashboard test (Debian's
# chromium) are installed, with apt-get on Debian.
set -euo pipefail
CACHE=${HYDRANT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hydrant}
STATE=${HYDRANT_STATE:-$CACHE/state}
mkdir -p "$CACHE/bin" "$CACHE/logs" "$STATE"

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_BIN=$CACHE/bin/minio
MINIO_PID=$STATE/minio.pid
MINIO_LOG=$STATE/minio.log
MINIO_URL=http://127.0.0.1:9000
MINIO_USER=minioadmin
MINIO_PASSWORD=minioadmin
READY_TIMEOUT=${HYDRANT_READY_TIMEOUT:-60}
PG_DIR=${HYDRANT_PG_DIR:-/var/lib/postgresql/hydrant-test}
PG_PORT=5432
PG_DSN=postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable
PG_MARK=$STATE/postgres.started # names PG_DIR when this script started it
ZINC_VERSION=v0.4.10
ZINC_BIN=$CACHE/bin/zincsearch
ZINC_PID=$STATE/zinc.pid
ZINC_LOG=$STATE/zinc.log
ZINC_URL=http://127.0.0.1:4080
ZINC_USER=admin
ZINC_PASSWORD='Complexpass#123'

log() { echo "services: $*" >&2; }

# as_root runs a command as root (directly, or through sudo when available).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_tools installs the decompression CLIs the tests use, running
# `apt-get update` once and only when something is missing.
ensure_tools() {
  local missing=() pkg
  command -v gzip >/dev/null || missing+=(gzip)
  command -v unzip >/dev/null || missing+=(unzip)
  command -v zstd >/dev/null || missing+=(zstd)
  command -v curl >/dev/null || missing+=(curl)
  command -v chromium >/dev/null || missing+=(chromium) # the dashboard's browser test
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  for pkg in "${missing[@]}"; do
    command -v "$pkg" >/dev/null || { log "could not install $pkg"; exit 1; }
  done
}

# ensure_readers installs the independent file readers the format tests
# query with (chdb and DuckDB from npm, pinned by tools/readers'
# package-lock.json): nodejs/npm with apt-get only when missing, `npm ci`
# only when node_modules is missing or the lock changed since the last
# install (its checksum is kept beside node_modules).
ensure_readers() {
  local dir stamp sum
  dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools/readers" && pwd)
  stamp=$dir/node_modules/.hydrant-lock.sha256
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "installing nodejs npm"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
  sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ -d "$dir/node_modules" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then
    return 0
  fi
  log "installing readers (chdb, DuckDB, snappy-stream) into $dir/node_modules"
  # npm ci refuses a lock that lacks some of chdb's optional per-platform
  # packages, which is what a registry serving only linux-x64 produces;
  # `npm install --no-save` then installs the same locked versions and
  # leaves the lock untouched.
  if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=silent >/dev/null 2>&1); then
    (cd "$dir" && npm install --no-save --no-audit --no-fund --loglevel=error >/dev/null) || { log "npm install in $dir failed"; exit 1; }
  fi
  echo "$sum" >"$stamp"
}

# ensure_minio_binary builds MinIO into the cache when it is missing. A lock
# keeps two concurrent runs from building twice; the build goes to a
# temporary GOBIN and is renamed into place, so a half-written binary is
# never seen.
ensure_minio_binary() {
  [ -x "$MINIO_BIN" ] && return 0
  command -v go >/dev/null || { log "go is needed to build MinIO"; exit 1; }
  exec 9>"$CACHE/minio-build.lock"
  flock 9
  if [ ! -x "$MINIO_BIN" ]; then
    local tmp=$CACHE/bin/.minio-build.$$ start=$SECONDS
    log "building MinIO $MINIO_VERSION (about 10 min the first time; log in $CACHE/logs/minio-build.log)"
    if ! GOBIN="$tmp" go install "github.com/minio/minio@$MINIO_VERSION" >"$CACHE/logs/minio-build.log" 2>&1; then
      tail -n 30 "$CACHE/logs/minio-build.log" >&2
      rm -rf "$tmp"
      log "MinIO build failed"
      exit 1
    fi
    mv -f "$tmp/minio" "$MINIO_BIN"
    rm -rf "$tmp"
    log "MinIO built in $((SECONDS - start)) s"
  fi
  flock -u 9
  exec 9>&-
}

minio_ready() { curl -sf -o /dev/null --max-time 2 "$MINIO_URL/minio/health/ready"; }

# pid_alive PIDFILE BINARY reports whether the pid file names a live process
# started here from BINARY (checking the command line guards against a
# recycled pid).
pid_alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$2"
}

minio_start() {
  if minio_ready; then
    log "MinIO already answers on $MINIO_URL, reusing it"
    return 0
  fi
  ensure_minio_binary
  if ! pid_alive "$MINIO_PID" "$MINIO_BIN"; then
    rm -f "$MINIO_PID"
    mkdir -p "$STATE/minio"
    MINIO_ROOT_USER=$MINIO_USER MINIO_ROOT_PASSWORD=$MINIO_PASSWORD \
      MINIO_BROWSER=off MINIO_UPDATE=off \
      nohup "$MINIO_BIN" server --quiet --address 127.0.0.1:9000 \
      --console-address 127.0.0.1:9001 "$STATE/minio" \
      >>"$MINIO_LOG" 2>&1 </dev/null &
    echo $! >"$MINIO_PID"
  fi
  local deadline=$((SECONDS + READY_TIMEOUT))
  until minio_ready; do
    if [ $SECONDS -ge $deadline ] || ! pid_alive "$MINIO_PID" "$MINIO_BIN"; then
      log "MinIO did not become ready within ${READY_TIMEOUT}s; last lines of $MINIO_LOG:"
      tail -n 30 "$MINIO_LOG" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
  log "MinIO ready on $MINIO_URL (pid $(cat "$MINIO_PID"))"
}

# stop_pidfile stops the process a pid file names (TERM, then KILL after
# 10 s) and waits until it is gone.
stop_pidfile() {
  local pidfile=$1 pid i
  [ -s "$pidfile" ] || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

minio_stop() {
  if pid_alive "$MINIO_PID" "$MINIO_BIN"; then
    stop_pidfile "$MINIO_PID"
    log "MinIO stopped"
    return 0
  fi
  rm -f "$MINIO_PID"
  if minio_ready; then
    log "MinIO on $MINIO_URL was not started by this script (no live $MINIO_PID); not stopping it"
    exit 1
  fi
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }

# pg_bin finds the server binaries (initdb, pg_ctl), installing Debian's
# postgresql when they are missing.
pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$bin" ]; then
    log "installing postgresql"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$bin"
}

# as_postgres runs a command as the postgres user.
as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else as_root runuser -u postgres -- "$@"; fi
}

postgres_start() {
  if pg_ready; then
    log "PostgreSQL already answers on 127.0.0.1:$PG_PORT, reusing it"
    return 0
  fi
  local bin
  bin=$(pg_bin)
  as_root mkdir -p "$PG_DIR"
  as_root chown postgres:postgres "$PG_DIR"
  as_root chmod 700 "$PG_DIR"
  if [ ! -s "$PG_DIR/PG_VERSION" ]; then
    as_postgres "$bin/initdb" -D "$PG_DIR" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  echo "$PG_DIR" >"$PG_MARK"
  if ! as_postgres "$bin/pg_ctl" -D "$PG_DIR" -l "$PG_DIR/server.log" -w -t "$READY_TIMEOUT" \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$PG_DIR -c fsync=on" start >/dev/null; then
    log "PostgreSQL did not start; last lines of $PG_DIR/server.log:"
    as_root tail -n 30 "$PG_DIR/server.log" >&2 || true
    exit 1
  fi
  log "PostgreSQL ready on 127.0.0.1:$PG_PORT ($PG_DIR)"
}

postgres_stop() {
  if [ ! -s "$PG_MARK" ]; then
    if pg_ready; then
      log "PostgreSQL on $PG_PORT was not started by this script; not stopping it"
      exit 1
    fi
    return 0
  fi
  local bin
  bin=$(pg_bin)
  as_postgres "$bin/pg_ctl" -D "$(cat "$PG_MARK")" -m fast -w stop >/dev/null 2>&1 || true
  rm -f "$PG_MARK"
  log "PostgreSQL stopped"
}

# patch_zinc_main removes the pyroscope profiler (its import, the profiling()
# call and the profiling function that starts it) from ZincSearch's
# cmd/zincsearch/main.go, then drops the "strings" import if only that
# function used it. It fails when the source does not look as expected, so a
# patch that did not apply is never built silently.
patch_zinc_main() {
  local main=$1
  awk '
    /^[ \t]*"github\.com\/pyroscope-io\/client\/pyroscope"[ \t]*$/ { imp++; next }
    /^[ \t]*\/\/ Continuous profiling[ \t]*$/ { next }
    /^[ \t]*profiling\(\)[ \t]*$/ { call++; next }
    /^func profiling\(\) \{/ { fn++; skip = 1; next }
    skip && /^}/ { skip = 0; next }
    skip { next }
    { print }
    END { if (imp != 1 || call != 1 || fn != 1 || skip) exit 3 }
  ' "$main" >"$main.new" || { log "could not patch the profiler out of $main"; return 1; }
  if ! grep -q 'strings\.' "$main.new"; then
    sed -i '/^[[:space:]]*"strings"[[:space:]]*$/d' "$main.new"
  fi
  if grep -qi 'pyroscope\|profiling' "$main.new"; then
    log "the profiler is still referenced in $main after patching"
    return 1
  fi
  gofmt -e "$main.new" >/dev/null || { log "patched $main does not parse"; return 1; }
  mv -f "$main.new" "$main"
}

# ensure_zinc_binary builds ZincSearch into the cache when it is missing
# (see the header: module source, stub UI, profiler removed). A lock keeps
# two concurrent runs from building twice; the binary is built to a
# temporary name and renamed into place.
ensure_zinc_binary() {
  [ -x "$ZINC_BIN" ] && return 0
  command -v go >/dev/null || { log "go is needed to build ZincSearch"; exit 1; }
  exec 8>"$CACHE/zinc-build.lock"
  flock 8
  if [ ! -x "$ZINC_BIN" ]; then
    local tmp dir buildlog=$CACHE/logs/zinc-build.log start=$SECONDS
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/hydrant-zinc.XXXXXX")
    log "building ZincSearch $ZINC_VERSION (about 3 min the first time; log in $buildlog)"
    # set -e does not apply inside an `if` condition: every step checks itself.
    if ! (
      cd "$tmp" || exit 1 # outside any module: `go mod download` touches no go.mod
      dir=$(GOWORK=off GOFLAGS=-mod=mod go mod download -json "github.com/zincsearch/zincsearch@$ZINC_VERSION" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') || exit 1
      [ -n "$dir" ] && [ -f "$dir/cmd/zincsearch/main.go" ] || { echo "no module directory from go mod download"; exit 1; }
      echo "source: $dir"
      cp -R "$dir/." "$tmp/src" && chmod -R u+w "$tmp/src" || exit 1
      mkdir -p "$tmp/src/web/dist" || exit 1
      echo '<!doctype html><title>ZincSearch</title>' >"$tmp/src/web/dist/index.html" || exit 1
      patch_zinc_main "$tmp/src/cmd/zincsearch/main.go" || exit 1
      echo "patched cmd/zincsearch/main.go (pyroscope profiler removed)"
      cd "$tmp/src" || exit 1
      GOWORK=off CGO_ENABLED=0 go build -o "$tmp/zincsearch" ./cmd/zincsearch || exit 1
    ) >"$buildlog" 2>&1; then
      tail -n 30 "$buildlog" >&2
      chmod -R u+w "$tmp" 2>/dev/null || true
      rm -rf "$tmp"
      log "ZincSearch build failed"
      exit 1
    fi
    mv -f "$tmp/zincsearch" "$ZINC_BIN"
    chmod -R u+w "$tmp" 2>/dev/null || true
    rm -rf "$tmp"
    log "ZincSearch built in $((SECONDS - start)) s"
  fi
  flock -u 8
  exec 8>&-
}

zinc_ready() { curl -sf -o /dev/null --max-time 2 "$ZINC_URL/healthz"; }

search_start() {
  if zinc_ready; then
    log "ZincSearch already answers on $ZINC_URL, reusing it"
    return 0
  fi
  ensure_zinc_binary
  if ! pid_alive "$ZINC_PID" "$ZINC_BIN"; then
    rm -f "$ZINC_PID"
    mkdir -p "$STATE/zinc"
    ZINC_FIRST_ADMIN_USER=$ZINC_USER ZINC_FIRST_ADMIN_PASSWORD=$ZINC_PASSWORD \
      ZINC_DATA_PATH=$STATE/zinc ZINC_SERVER_ADDRESS=127.0.0.1 ZINC_SERVER_PORT=4080 \
      ZINC_SENTRY=false ZINC_TELEMETRY=false ZINC_WAL_SYNC_INTERVAL=100ms GIN_MODE=release \
      nohup "$ZINC_BIN" >>"$ZINC_LOG" 2>&1 </dev/null &
    echo $! >"$ZINC_PID"
  fi
  local deadline=$((SECONDS + READY_TIMEOUT))
  until zinc_ready; do
    if [ $SECONDS -ge $deadline ] || ! pid_alive "$ZINC_PID" "$ZINC_BIN"; then
      log "ZincSearch did not become ready within ${READY_TIMEOUT}s; last lines of $ZINC_LOG:"
      tail -n 30 "$ZINC_LOG" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
  log "ZincSearch ready on $ZINC_URL (pid $(cat "$ZINC_PID"))"
}

search_stop() {
  if pid_alive "$ZINC_PID" "$ZINC_BIN"; then
    stop_pidfile "$ZINC_PID"
    log "ZincSearch stopped"
    return 0
  fi
  rm -f "$ZINC_PID"
  if zinc_ready; then
    log "ZincSearch on $ZINC_URL was not started by this script (no live $ZINC_PID); not stopping it"
    exit 1
  fi
}

# shq quotes a value for the shell (single quotes, embedded ones escaped).
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

cmd=${1:-up}
case $cmd in
  up)
    ensure_tools
    ensure_readers
    minio_start
    postgres_start
    search_start
    ;;
  down)
    if pid_alive "$ZINC_PID" "$ZINC_BIN"; then stop_pidfile "$ZINC_PID"; else rm -f "$ZINC_PID"; fi
    [ -s "$PG_MARK" ] && postgres_stop
    if pid_alive "$MINIO_PID" "$MINIO_BIN"; then stop_pidfile "$MINIO_PID"; else rm -f "$MINIO_PID"; fi
    for pidfile in "$STATE"/*.pid; do
      [ -e "$pidfile" ] || continue
      stop_pidfile "$pidfile"
    done
    ;;
  minio-start)
    minio_start
    ;;
  minio-stop)
    minio_stop
    ;;
  postgres-start)
    postgres_start
    ;;
  postgres-stop)
    postgres_stop
    ;;
  search-start)
    search_start
    ;;
  search-stop)
    search_stop
    ;;
  env)
    echo "export HYDRANT_S3_ENDPOINT=${HYDRANT_S3_ENDPOINT:-$MINIO_URL}"
    echo "export HYDRANT_S3_ACCESS_KEY=${HYDRANT_S3_ACCESS_KEY:-$MINIO_USER}"
    echo "export HYDRANT_S3_SECRET_KEY=${HYDRANT_S3_SECRET_KEY:-$MINIO_PASSWORD}"
    echo "export HYDRANT_PG_DSN='${HYDRANT_PG_DSN:-$PG_DSN}'"
    echo "export HYDRANT_SEARCH_URL=${HYDRANT_SEARCH_URL:-$ZINC_URL/es}"
    echo "export HYDRANT_SEARCH_USER=$(shq "${HYDRANT_SEARCH_USER:-$ZINC_USER}")"
    echo "export HYDRANT_SEARCH_PASSWORD=$(shq "${HYDRANT_SEARCH_PASSWORD:-$ZINC_PASSWORD}")"
    ;;
  *)
    echo "usage: $0 up|down|minio-start|minio-stop|postgres-start|postgres-stop|search-start|search-stop|env" >&2
    exit 2
    ;;
esac
