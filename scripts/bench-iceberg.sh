#!/usr/bin/env bash
# End-to-end benchmark of the iceberg destination (issue 14): `hydrant
# bench` sends RECORDS 1 KiB JSON records through the batch door; the
# pipeline (SHARDS shards) appends them to a fresh Iceberg table (SQL
# catalog on the test PostgreSQL, warehouse on the test MinIO), one
# snapshot per flush, exactly once. For each flush size (the
# destination's buffer.size: 1 MiB is about 1,000 rows, 10 MiB 10,000,
# 100 MiB 100,000) it reports ingest and end-to-end rows/s (hydrant
# bench waits until the destination's backlog is empty), then counts the
# rows with chdb's own Iceberg reader.
#
#   scripts/bench-iceberg.sh                 # 1MiB 10MiB 100MiB, 200,000 records
#   RECORDS=500000 SHARDS=4 scripts/bench-iceberg.sh 100MiB
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1MiB 10MiB 100MiB)
records=${RECORDS:-200000}
shards=${SHARDS:-2}
scripts/services.sh up >/dev/null
eval "$(scripts/services.sh env)"
make -s build
mkdir -p var
work=$(mktemp -d "$PWD/var/bench-ice.XXXXXX")
bucket=bench-ice-$(date +%s)
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT
port=4598
s3() { curl -sf --user "$HYDRANT_S3_ACCESS_KEY:$HYDRANT_S3_SECRET_KEY" --aws-sigv4 "aws:amz:us-east-1:s3" "$@"; }
s3 -X PUT "$HYDRANT_S3_ENDPOINT/$bucket" >/dev/null

start() {
  ./bin/hydrant serve --config "$work/hydrant.yaml" >"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.1; done
  echo "server did not start:" >&2; tail -20 "$work/server.log" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

cat >"$work/bench.yaml" <<'YAML'
columns:
  - { name: id, type: int64 }
  - { name: customer, type: string }
  - { name: ts, type: int64 }
  - { name: pad, type: string }
YAML
for size in "${sizes[@]}"; do
  ns=bench_$(date +%s%N)
  rm -rf "$work/data"
  cat >"$work/hydrant.yaml" <<YAML
version: 1
server: { listen: 127.0.0.1:$port, data_dir: $work/data }
stores:
  lake: { type: s3, endpoint: "$HYDRANT_S3_ENDPOINT", access_key_id: "$HYDRANT_S3_ACCESS_KEY", secret_access_key: "$HYDRANT_S3_SECRET_KEY", path_style: true }
  bench: { type: iceberg, catalog: sql, uri: "$HYDRANT_PG_DSN", warehouse: "s3://$bucket/warehouse", store: lake }
pipelines:
  - name: events
    stream: { shards: $shards }
    destinations:
      - name: table
        type: iceberg
        store: bench
        table: $ns.events
        format: { type: parquet, schema: $work/bench.yaml }
        buffer: { size: $size, interval: 5s, max_bytes: 256MiB }
YAML
  echo "== flush $size, $shards shards, $records records"
  start
  ./bin/hydrant bench -endpoint "http://127.0.0.1:$port" -door rest -records "$records"
  stop
  (cd tools/readers && node query.js chdb "SELECT count() AS rows, uniqExact(id) AS ids FROM icebergS3('$HYDRANT_S3_ENDPOINT/$bucket/warehouse/$ns.db/events', '$HYDRANT_S3_ACCESS_KEY', '$HYDRANT_S3_SECRET_KEY')")
done
