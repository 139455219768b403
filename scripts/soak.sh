#!/usr/bin/env bash
# The soak test (`make soak`; not part of `make test`): builds bin/hydrant,
# makes sure the services are installed and up (scripts/services.sh up,
# which also builds the MinIO binary the soak runs a private copy of),
# then runs integration/soak: load on both doors, CYCLES kill -9 /
# restart cycles (default 100), one MinIO stop/start and one disk-full
# episode, and a final count of acknowledged, missing and duplicate
# records per destination. See docs/reliability.md, "Soak".
#
#   CYCLES=5 scripts/soak.sh            a short run
#   scripts/soak.sh -seed 42 -workers 6  flags go to the soak program
#
# Other knobs (environment or flags): SOAK_WORKERS, SOAK_BATCH, SOAK_PAD,
# SOAK_MIN_LOAD, SOAK_MAX_LOAD, SOAK_MINIO_OUTAGE, SOAK_DISK_FULL,
# SOAK_TMPFS_SIZE, SOAK_DRAIN_TIMEOUT, SOAK_SEED, SOAK_KEEP=1 (keep the
# work directory). The disk-full episode mounts a tmpfs and so needs
# root; without it the episode is skipped and the output says so.
set -euo pipefail
cd "$(dirname "$0")/.."
export CYCLES=${CYCLES:-100}
mkdir -p bin
go build -o bin/hydrant ./cmd/hydrant
./scripts/services.sh up
exec go run ./integration/soak -hydrant bin/hydrant "$@"
