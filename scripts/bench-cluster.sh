#!/usr/bin/env bash
# End-to-end benchmark of the JetStream backend (docs/scaling.md): a 3-node
# NATS cluster (3 nats-server processes on loopback, every stream and lease
# bucket replicated 3 times) and 1, 2 or 3 Hydrant nodes sharing one
# pipeline (SHARDS shards, a directory destination, buffer 64MiB / 5 s).
# Nodes are named bench-N, lease_ttl LEASE_TTL (3s).
# One `hydrant bench` per Hydrant node sends its share of RECORDS 1 KiB
# records through the Firehose door (CLIENTS concurrent clients in all,
# split over the bench processes), all at once. Reported per run:
#   ingest MiB/s      record bytes / wall time from the first send to the
#                     last acknowledgement (the slowest bench process)
#   end-to-end MiB/s  record bytes / wall time from the first send until
#                     the nodes' delivered_records (GET /v1/pipelines/NAME on
#                     every node, summed: each counts only the shards it
#                     leases) reach the records sent
#   peak RSS          VmHWM of each hydrant and each nats-server, in MiB
#   lines in the lake - records
#                     after a clean stop, what the directory holds beyond
#                     the records sent (duplicates: a lease that moved
#                     under load); when not 0, the nodes' log lines since
#                     the load started are printed, and end-to-end is
#                     flattered (delivered_records counts the copies)
# Every run starts a fresh NATS cluster and a fresh pipeline name, so runs
# share no data; the load starts once every node is ready and the leases
# are spread (each node holds its fair share). A line per run on stderr
# gives the CPU seconds the hydrants, the nats-servers, the bench
# processes and the whole machine used from the first send to the last
# acknowledgement and to the end.
#
#   scripts/bench-cluster.sh                          # 1, 2 and 3 nodes, 200,000 records
#   NODES_LIST="1 3" RECORDS=1000000 RUNS=3 SHARDS=6 CLIENTS=32 LEASE_TTL=10s scripts/bench-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
records=${RECORDS:-200000}
shards=${SHARDS:-6}
runs=${RUNS:-1}
clients=${CLIENTS:-32}
lease_ttl=${LEASE_TTL:-3s}
size=1024
read -r -a nodes_list <<<"${NODES_LIST:-1 2 3}"
CACHE=${HYDRANT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hydrant}
nats_bin=$CACHE/bin/nats-server
command -v jq >/dev/null || { echo "needs jq (apt-get install -y jq)" >&2; exit 1; }
mkdir -p var "$CACHE/bin"
work=$(mktemp -d "$PWD/var/bench-cluster.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The binary is built into the work directory (not bin/), so a build of
# the tree by someone else meanwhile does not change it under the run.
hydrant=$work/hydrant
CGO_ENABLED=0 go build -trimpath -o "$hydrant" ./cmd/hydrant
if [ ! -x "$nats_bin" ]; then
  go build -o "$nats_bin" github.com/nats-io/nats-server/v2   # the version go.mod pins
fi

nats_port() { echo $((4620 + $1)); }    # client port of nats-N
route_port() { echo $((4630 + $1)); }   # cluster port
mon_port() { echo $((4640 + $1)); }     # monitoring port
node_port() { echo $((4610 + $1)); }    # hydrant bench-N
routes=nats://127.0.0.1:$(route_port 1),nats://127.0.0.1:$(route_port 2),nats://127.0.0.1:$(route_port 3)
urls="nats://127.0.0.1:$(nats_port 1), nats://127.0.0.1:$(nats_port 2), nats://127.0.0.1:$(nats_port 3)"

now() { echo "$EPOCHREALTIME"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }   # kB -> MiB
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }        # kB
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }      # utime + stime
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
hz=$(getconf CLK_TCK)
fail() {
  echo "$1" >&2
  local f
  for f in "$work"/run/*.log; do
    [ -e "$f" ] && { echo "--- $(basename "$f") (last lines)" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}

# start_nats: a fresh 3-node JetStream cluster, ready when every server's
# /healthz answers ok and the meta leader sees its two peers current.
nats_pids=()
start_nats() {
  nats_pids=()
  local i
  for i in 1 2 3; do
    "$nats_bin" -a 127.0.0.1 -p "$(nats_port $i)" -m "$(mon_port $i)" -js -sd "$work/run/nats-$i" \
      --cluster_name hydrant-bench --cluster "nats://127.0.0.1:$(route_port $i)" --routes "$routes" \
      -n "nats-$i" >"$work/run/nats-$i.log" 2>&1 &
    nats_pids+=($!)
    pids+=($!)
  done
  for _ in $(seq 300); do
    local ok=0
    for i in 1 2 3; do
      curl -sf "http://127.0.0.1:$(mon_port $i)/healthz" >/dev/null && ok=$((ok + 1))
    done
    # (healthz alone once let hydrant fail on "no suitable peers for placement")
    if [ $ok = 3 ]; then
      for i in 1 2 3; do
        curl -sf "http://127.0.0.1:$(mon_port $i)/jsz" | jq -e --arg me "nats-$i" \
          '.meta_cluster | .leader == $me and ([.replicas[]? | select(.current)] | length) == 2' >/dev/null && return
      done
    fi
    sleep 0.1
  done
  fail "the NATS cluster did not become healthy in 30 s"
}

# start_nodes N PIPELINE: N hydrant processes, ready and holding their
# fair share of the leases. Node 1 starts alone and the others once it is
# ready: started at once on a fresh NATS cluster, all but one (sometimes
# all) died with "jetstream: checkpoint bucket: context deadline exceeded"
# (or "lease bucket: ...") after 5 s, each creating the same key-value
# buckets at the same time.
node_pids=()
start_node() {   # start_node I PIPELINE
  local i=$1 pipe=$2
  mkdir -p "$work/run/h$i"
  cat >"$work/run/h$i/hydrant.yaml" <<YAML
version: 1
server:
  listen: 127.0.0.1:$(node_port "$i")
  data_dir: $work/run/h$i/data
  stream_backend: { type: jetstream, urls: [$urls], replicas: 3, node: bench-$i, lease_ttl: $lease_ttl }
stores:
  local: { type: directory, path: $work/run/lake }
pipelines:
  - name: $pipe
    stream: { shards: $shards }
    processors: [{ type: append_delimiter }]
    destinations:
      - { name: lake, type: directory, store: local, buffer: { size: 64MiB, interval: 5s } }
YAML
  "$hydrant" serve --config "$work/run/h$i/hydrant.yaml" --log-level info >"$work/run/hydrant-$i.log" 2>&1 &
  node_pids+=($!)
  pids+=($!)
}
wait_nodes() {   # wait_nodes N PIPELINE: ready, leases spread; 2 if a node exited
  local n=$1 pipe=$2 i ready fair=$(((shards + $1 - 1) / $1))
  for _ in $(seq 600); do
    ready=0
    for i in $(seq "$n"); do
      kill -0 "${node_pids[$((i - 1))]}" 2>/dev/null || return 2
      curl -sf "http://127.0.0.1:$(node_port "$i")/readyz" >/dev/null && ready=$((ready + 1))
    done
    if [ "$ready" = "$n" ] && curl -sf "http://127.0.0.1:$(node_port 1)/v1/cluster" |
      jq -e --arg p "$pipe" --argjson n "$n" --argjson s "$shards" --argjson f "$fair" '
        (.nodes | length) == $n and
        ([.leases[] | select(.pipeline == $p)] | length == $s and (group_by(.owner) | all(length <= $f)))' >/dev/null; then
      return
    fi
    sleep 0.1
  done
  fail "the $n hydrant node(s) were not ready with their leases spread in 60 s"
}
start_nodes() {
  local n=$1 pipe=$2 i try
  for try in 1 2 3; do   # node 1 creates the buckets and the stream; it does not retry
    node_pids=()
    start_node 1 "$pipe"
    wait_nodes 1 "$pipe" && break
    echo "  hydrant node 1 exited at startup (try $try): $(tail -n 1 "$work/run/hydrant-1.log")" >&2
    [ "$try" = 3 ] && fail "hydrant node 1 did not start"
    sleep 2
  done
  for i in $(seq 2 "$n"); do start_node "$i" "$pipe"; done
  wait_nodes "$n" "$pipe" || fail "a hydrant node exited at startup"
}

delivered() {   # records pipeline $1 delivered, summed over the first $2 nodes
  local i u=()
  for i in $(seq "$2"); do u+=("http://127.0.0.1:$(node_port "$i")/v1/pipelines/$1"); done
  local out
  out=$(curl -sf "${u[@]}") || { echo 0; return; }
  jq -s '[.[].destinations[] | select(.name == "lake") | .stats.delivered_records] | add // 0' <<<"$out"
}

stop_all() {   # the nodes first (they drain through NATS), then NATS
  local p
  for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${node_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for p in "${nats_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${nats_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}

rows=()
declare -A res_in res_e2e res_hrss res_nrss res_extra
for n in "${nodes_list[@]}"; do
  for r in $(seq "$runs"); do
    rm -rf "$work/run"
    mkdir -p "$work/run"
    pipe=bench-n$n-r$r
    echo "== $n hydrant node(s), run $r: $records records of $size bytes, $shards shards, pipeline $pipe" >&2
    start_nats
    start_nodes "$n" "$pipe"
    per=$((records / n))
    c=$(((clients + n - 1) / n))
    declare -A cpu0=()
    for p in "${node_pids[@]}" "${nats_pids[@]}"; do cpu0[$p]=$(cpu_ticks "$p"); done
    busy0=$(busy_ticks)
    t0=$(now)
    bench_pids=()
    for i in $(seq "$n"); do
      cnt=$per
      [ "$i" = "$n" ] && cnt=$((records - per * (n - 1)))
      (
        rc=0 me=$BASHPID
        "$hydrant" bench -endpoint "http://127.0.0.1:$(node_port "$i")" -stream "$pipe" -records "$cnt" \
          -size "$size" -concurrency "$c" -wait=false >"$work/run/bench-$i.out" 2>"$work/run/bench-$i.log" || rc=$?
        # when, exit code, CPU ticks of the bench process (the subshell's waited-for children)
        echo "$EPOCHREALTIME $rc $(awk '{ print $16 + $17 }' "/proc/$me/stat")" >"$work/run/bench-$i.end"
      ) &
      bench_pids+=($!)
      pids+=($!)
    done
    # Poll the nodes until they delivered every record (or give up).
    deadline=$((SECONDS + ${TIMEOUT:-300}))
    got=0 acked=""
    while :; do
      got=$(delivered "$pipe" "$n" || echo 0)
      if [ -z "$acked" ] && [ "$(find "$work/run" -name 'bench-*.end' | wc -l)" = "$n" ]; then
        acked=1   # CPU used by the ingest phase, up to this poll after the last ack
        hcpu_i=0 ncpu_i=0 busy_i=$(busy_ticks) t_i=$(now)
        for p in "${node_pids[@]}"; do hcpu_i=$((hcpu_i + $(cpu_ticks "$p") - cpu0[$p])); done
        for p in "${nats_pids[@]}"; do ncpu_i=$((ncpu_i + $(cpu_ticks "$p") - cpu0[$p])); done
      fi
      [ "$got" -ge "$records" ] && break
      for i in $(seq "$n"); do
        if [ -e "$work/run/bench-$i.end" ] && [ "$(cut -d' ' -f2 "$work/run/bench-$i.end")" != 0 ]; then
          fail "hydrant bench against node $i failed: $(tail -n 3 "$work/run/bench-$i.log")"
        fi
      done
      [ $SECONDS -lt "$deadline" ] || fail "gave up after ${TIMEOUT:-300} s: delivered $got of $records records"
      if [ -n "$acked" ]; then sleep 0.1; else sleep 0.5; fi   # poll lightly while the benches run
    done
    t_e2e=$(now)
    for p in "${bench_pids[@]}"; do wait "$p"; done
    for i in $(seq "$n"); do
      [ "$(cut -d' ' -f2 "$work/run/bench-$i.end")" = 0 ] || fail "hydrant bench against node $i failed: $(tail -n 3 "$work/run/bench-$i.log")"
    done
    busy1=$(busy_ticks)
    hcpu=0 ncpu=0
    for p in "${node_pids[@]}"; do hcpu=$((hcpu + $(cpu_ticks "$p") - cpu0[$p])); done
    for p in "${nats_pids[@]}"; do ncpu=$((ncpu + $(cpu_ticks "$p") - cpu0[$p])); done
    unset cpu0
    t_ack=$(cat "$work"/run/bench-*.end | sort -n | tail -n 1 | cut -d' ' -f1)
    bcpu=$(cat "$work"/run/bench-*.end | awk '{ t += $3 } END { print t }')
    hrss=() nrss=()
    for p in "${node_pids[@]}"; do hrss+=("$(mib "$(hwm "$p")")"); done
    for p in "${nats_pids[@]}"; do nrss+=("$(mib "$(hwm "$p")")"); done
    final=$(delivered "$pipe" "$n")
    stop_all   # a clean stop flushes what the buffers still hold
    lines=$(find "$work/run/lake" -type f -exec cat {} + | wc -l)
    extra=$((lines - records))
    if [ "$extra" != 0 ] || [ "$final" != "$records" ]; then
      # Duplicates (or losses): show what the nodes logged after the load started.
      since=$(date -u -d "@$t0" +%Y-%m-%dT%H:%M:%S.%3N)
      echo "  WARNING: $records records sent, delivered_records $final at the end, $lines lines in the lake; the nodes logged:" >&2
      for i in $(seq "$n"); do
        awk -v s="time=$since" -v node="$i" '$1 >= s && /level=(INFO|WARN|ERROR)/ { print "    node " node ": " $0 }' "$work/run/hydrant-$i.log" >&2
      done
    fi
    for i in $(seq "$n"); do sed "s/^/  node $i bench: /" "$work/run/bench-$i.out" >&2; done
    read -r in e2e < <(awk -v b=$((records * size)) -v t0="$t0" -v ta="$t_ack" -v te="$t_e2e" \
      'BEGIN { printf "%.1f %.1f\n", b / 1048576 / (ta - t0), b / 1048576 / (te - t0) }')
    awk -v t0="$t0" -v ta="$t_ack" -v te="$t_e2e" -v h="$hcpu" -v s="$ncpu" -v b=$((busy1 - busy0)) -v hz="$hz" \
      -v ti="${t_i:-$t_e2e}" -v hi="${hcpu_i:-$hcpu}" -v si="${ncpu_i:-$ncpu}" -v bi=$((${busy_i:-$busy1} - busy0)) \
      -v got="$got" -v fin="$final" -v lines="$lines" -v cores="$(nproc)" -v bc="$bcpu" 'BEGIN {
        printf "  last ack %.1f s, delivered_records reached the records sent at %.1f s (%d then, %d at the end; lines in the lake after a clean stop %d)\n", ta - t0, te - t0, got, fin, lines
        printf "  cpu s to the last ack (%.1f s): hydrants %.1f, nats-servers %.1f, bench processes %.1f, whole machine %.1f of %.1f\n", ti - t0, hi / hz, si / hz, bc / hz, bi / hz, cores * (ti - t0)
        printf "  cpu s to the end (%.1f s): hydrants %.1f, nats-servers %.1f, whole machine %.1f of %.1f\n", te - t0, h / hz, s / hz, b / hz, cores * (te - t0)
      }' >&2
    unset t_i hcpu_i ncpu_i busy_i
    hr=$(IFS=/; echo "${hrss[*]}")
    nr=$(IFS=/; echo "${nrss[*]}")
    rows+=("| $n | $records | $in | $e2e | $hr | $nr | $extra |")
    echo "${rows[-1]}" >&2
    res_in[$n]+="$in "
    res_e2e[$n]+="$e2e "
    res_extra[$n]+="$extra "
    res_hrss[$n]+="$(printf '%s\n' "${hrss[@]}" | sort -n | tail -n 1) "
    res_nrss[$n]+="$(printf '%s\n' "${nrss[@]}" | sort -n | tail -n 1) "
  done
done

header="| nodes | records | ingest MiB/s | end-to-end MiB/s | peak RSS per hydrant (MiB) | peak RSS per nats-server (MiB) | lines in the lake - records |
| ---: | ---: | ---: | ---: | --- | --- | ---: |"
echo "$header"
printf '%s\n' "${rows[@]}"
if [ "$runs" -gt 1 ]; then
  median() {
    local v
    read -r -a v <<<"$1"
    printf '%s\n' "${v[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
  }
  echo
  echo "median of $runs runs (RSS: the median of each run's largest process; last column: every run's)"
  echo
  echo "$header"
  for n in "${nodes_list[@]}"; do
    echo "| $n | $records | $(median "${res_in[$n]}") | $(median "${res_e2e[$n]}") | $(median "${res_hrss[$n]}") | $(median "${res_nrss[$n]}") | $(x=${res_extra[$n]% }; echo "${x// //}") |"
  done
fi
