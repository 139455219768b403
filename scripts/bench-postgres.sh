#!/usr/bin/env bash
# End-to-end benchmark of the postgres destination (issue 12): `hydrant
# bench` sends RECORDS 1 KiB JSON records through the batch door; the
# pipeline (SHARDS shards) loads them into a fresh PostgreSQL table, six
# columns, one COPY per flush, exactly once. For each flush size (the
# destination's buffer.size: 1 MiB is about 1,000 rows, 10 MiB 10,000,
# 100 MiB 100,000) it reports ingest and end-to-end rows/s.
#
#   scripts/bench-postgres.sh                 # 1MiB 10MiB 100MiB, 200,000 records
#   RECORDS=500000 SHARDS=4 scripts/bench-postgres.sh 10MiB
#
# With DRAIN=1 the records are first stored with `serve --no-delivery`,
# then the server restarts with delivery on and the time to load the
# backlog is measured alone (no load generator competing for the cores).
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
work=$(mktemp -d "$PWD/var/bench-pg.XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT
port=4597

start() { # $1: extra serve flags
  ./bin/hydrant serve --config "$work/hydrant.yaml" $1 >"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.1; done
  echo "server did not start:" >&2; tail -20 "$work/server.log" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

for size in "${sizes[@]}"; do
  schema=bench_$(date +%s%N)
  rm -rf "$work/data"
  cat >"$work/hydrant.yaml" <<YAML
version: 1
server: { listen: 127.0.0.1:$port, data_dir: $work/data }
stores:
  pg: { type: postgres, dsn: "$HYDRANT_PG_DSN" }
pipelines:
  - name: events
    stream: { shards: $shards }
    destinations:
      - name: db
        type: postgres
        store: pg
        table: $schema.events
        create_table: true
        columns:
          id: { query: .id, type: bigint NOT NULL }
          customer: { query: .customer, type: text }
          ts: { query: .ts, type: bigint }
          pad: { query: .pad, type: text }
          customer_key: { query: .customer, type: varchar(16) }
          id_text: { query: .id, type: text }
        buffer: { size: $size, interval: 5s, max_bytes: 256MiB }
YAML
  echo "== flush $size, $shards shards, $records records"
  if [ "${DRAIN:-}" = 1 ]; then
    start --no-delivery
    ./bin/hydrant bench -endpoint "http://127.0.0.1:$port" -door rest -records "$records" -wait=false
    stop
    t0=$(date +%s.%N)
    start ""
    until [ "$(psql "$HYDRANT_PG_DSN" -Atc "SELECT count(*) FROM $schema.events" 2>/dev/null || echo 0)" -ge "$records" ]; do sleep 0.2; done
    t1=$(date +%s.%N)
    echo "drain: $(echo "$records / ($t1 - $t0)" | bc) rows/s (server start included)"
  else
    start ""
    ./bin/hydrant bench -endpoint "http://127.0.0.1:$port" -door rest -records "$records"
  fi
  rows=$(psql "$HYDRANT_PG_DSN" -Atc "SELECT count(*), count(DISTINCT id) FROM $schema.events")
  echo "rows, distinct ids: $rows"
  stop
  psql "$HYDRANT_PG_DSN" -qc "DROP SCHEMA $schema CASCADE" >/dev/null
done
