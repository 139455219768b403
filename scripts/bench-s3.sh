#!/usr/bin/env bash
# End-to-end delivery benchmark to MinIO (issue 3): wrk sends 1 KiB JSON
# records through the Firehose door (500 per request, 32 connections) for
# SECONDS; the pipeline extracts a partition key with jq_metadata and
# delivers to S3 with dynamic partitioning on it. The script then waits
# until the destination has resolved every record and reports ingest and
# end-to-end throughput and the server's peak RSS.
#
#   scripts/bench-s3.sh [seconds] [keys...] [-- compressions...]
#   scripts/bench-s3.sh 20 1 100 10000 -- none gzip     # the default
#
# With DRAIN=1 the records are first stored with `serve --no-delivery`, then
# the server restarts with delivery on and the time to deliver the backlog
# is measured alone: delivery throughput without ingest and the load
# generator competing for the two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}; shift || true
keys=(); comps=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do keys+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
comps=("$@")
[ ${#keys[@]} -gt 0 ] || keys=(1 100 10000)
[ ${#comps[@]} -gt 0 ] || comps=(none gzip)
command -v wrk >/dev/null || { echo "needs wrk (apt-get install -y wrk)" >&2; exit 1; }
scripts/services.sh up >/dev/null
make -s build
mkdir -p var
work=$(mktemp -d "$PWD/var/bench-s3.XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT
port=4598
bucket=bench-$(date +%s)
go run ./scripts/benchbody -bucket "$bucket"

for k in "${keys[@]}"; do
  bodies=$(( k > 500 ? k / 500 : 1 ))
  rm -f "$work"/body-*
  go run ./scripts/benchbody -keys "$k" -bodies "$bodies" "$work"
  for comp in "${comps[@]}"; do
    rm -rf "$work/data"
    cat > "$work/hydrant.yaml" <<YAML
server:
  listen: 127.0.0.1:$port
  data_dir: $work/data
  limits: { max_backlog_bytes: 1TiB }
stores:
  lake: { type: s3, endpoint: "http://127.0.0.1:9000", access_key_id: minioadmin, secret_access_key: minioadmin, path_style: true }
pipelines:
  - name: events
    processors:
      - { type: jq_metadata, partition_keys: { customer: .customer } }
      - { type: append_delimiter }
    destinations:
      - name: lake
        type: s3
        store: lake
        bucket: $bucket
        prefix: "k$k-$comp/customer=!{partitionKeyFromQuery:customer}/"
        compression: $comp
        max_active_partitions: 10000
        buffer: { size: 5MiB, interval: 10s }
YAML
    flags=()
    [ "${DRAIN:-}" = 1 ] && flags=(--no-delivery)
    ./bin/hydrant serve --config "$work/hydrant.yaml" --log-level warn "${flags[@]}" >"$work/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
wrk.headers["X-Amz-Target"] = "Firehose_20150804.PutRecordBatch"
local bodies, n = {}, 0
for i = 0, $bodies - 1 do
  local f = io.open("$work/body-" .. i .. ".firehose", "rb"); bodies[i] = f:read("*all"); f:close()
end
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[n % $bodies])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d secs=%.2f p99_ms=%.1f non2xx=%d\n", summary.requests,
    summary.duration / 1e6, latency:percentile(99) / 1000, summary.errors.status))
end
LUA
    start=$(date +%s.%N)
    out=$(wrk -t2 -c32 -d"${secs}s" --timeout 10s -s "$work/post.lua" "http://127.0.0.1:$port/" | grep RESULT)
    reqs=$(echo "$out" | sed -E 's/.*requests=([0-9]+).*/\1/')
    wsecs=$(echo "$out" | sed -E 's/.*secs=([0-9.]+).*/\1/')
    sent=$((reqs * 500))
    if [ "${DRAIN:-}" = 1 ]; then
      kill -TERM $pid; wait $pid || true
      ./bin/hydrant serve --config "$work/hydrant.yaml" --log-level warn >"$work/server.log" 2>&1 &
      pid=$!
      start=$(date +%s.%N)
      for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    fi
    # Resolved = delivered + backed up, from the status API.
    while :; do
      resolved=$(curl -sf "http://127.0.0.1:$port/v1/pipelines/events" | python3 -c '
import json, sys
d = json.load(sys.stdin)["destinations"][0]["stats"]
print(d["delivered_records"] + sum(d["backed_up_records"].values()))')
      [ "$resolved" -ge "$sent" ] && break
      sleep 0.5
    done
    end=$(date +%s.%N)
    rss=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status)
    backed=$(curl -sf "http://127.0.0.1:$port/v1/pipelines/events" | python3 -c 'import json,sys; print(json.load(sys.stdin)["destinations"][0]["stats"]["backed_up_records"])')
    kill -TERM $pid; wait $pid || true; pid=""
    awk -v k="$k" -v c="$comp" -v s="$sent" -v ws="$wsecs" -v t0="$start" -v t1="$end" -v rss="$rss" -v b="$backed" -v o="$out" 'BEGIN {
      e2e = t1 - t0; mib = s * 1024 / 1048576
      printf "keys=%s compression=%s records=%d ingest_MiB/s=%.0f end_to_end_MiB/s=%.0f end_to_end_s=%.1f server_peak_rss_MiB=%s backed_up=%s %s\n",
        k, c, s, mib / ws, mib / e2e, e2e, rss, b, substr(o, 8) }'
  done
done
