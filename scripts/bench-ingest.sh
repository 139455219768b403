#!/usr/bin/env bash
# End-to-end ingest benchmark of the real binary, load from wrk in another
# process on the same cores (as issue 2 measures): 1 KiB JSON records, 500
# per request, 32 connections, each request acknowledged only once fsynced.
# Runs each door with delivery paused (--no-delivery) and running (directory
# sink on the same disk), and reports MiB/s of record data, latency
# percentiles, and the server's peak RSS (VmHWM).
#
#   scripts/bench-ingest.sh [seconds]      # default 20 s per case
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install -y wrk)" >&2; exit 1; }
make -s build
work=$(mktemp -d "$PWD/var/bench.XXXXXX" 2>/dev/null || { mkdir -p var; mktemp -d "$PWD/var/bench.XXXXXX"; })
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
go run ./scripts/benchbody "$work"   # writes ndjson.body and firehose.body

port=4599
for door in rest firehose; do
  for mode in paused running; do
    rm -rf "$work/data" "$work/lake"
    cat > "$work/hydrant.yaml" <<YAML
server:
  listen: 127.0.0.1:$port
  data_dir: $work/data
  limits: { max_backlog_bytes: 1TiB }
stores:
  local: { type: directory, path: $work/lake }
pipelines:
  - name: events
    processors: [{ type: append_delimiter }]
    destinations:
      - { name: lake, type: directory, store: local, buffer: { size: 5MiB, interval: 10s } }
YAML
    flags=()
    [ $mode = paused ] && flags=(--no-delivery)
    ./bin/hydrant serve --config "$work/hydrant.yaml" --log-level warn "${flags[@]}" >"$work/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    if [ $door = rest ]; then
      path=/v1/streams/events/records; body=ndjson.body; ctype=application/x-ndjson
    else
      path=/; body=firehose.body; ctype=application/x-amz-json-1.1
    fi
    cat > "$work/post.lua" <<LUA
wrk.method = "POST"
local f = io.open("$work/$body", "rb"); wrk.body = f:read("*all"); f:close()
wrk.headers["Content-Type"] = "$ctype"
wrk.headers["X-Amz-Target"] = "Firehose_20150804.PutRecordBatch"
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("RESULT req/s=%.1f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, non2xx))
end
LUA
    out=$(wrk -t2 -c32 -d"${secs}s" --timeout 10s -s "$work/post.lua" "http://127.0.0.1:$port$path" | grep RESULT)
    rss=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status)
    kill -TERM $pid; wait $pid || true
    reqs=$(echo "$out" | sed -E 's/.*req\/s=([0-9.]+).*/\1/')
    mibs=$(awk -v r="$reqs" 'BEGIN { printf "%.0f", r * 500 * 1024 / 1048576 }')
    echo "door=$door delivery=$mode MiB/s=$mibs records/s=$(awk -v r="$reqs" 'BEGIN { printf "%.0f", r * 500 }') ${out#RESULT } server_peak_rss_MiB=$rss"
  done
done
