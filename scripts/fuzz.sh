#!/usr/bin/env bash
# Runs every Go fuzz target of the module for FUZZTIME each (a duration
# such as 30s, or an execution count such as 5000x), starting from its seed
# corpus. Used by `make fuzz` and `make test`.
#
# Go's fuzzer sometimes ends a time-limited run with "context deadline
# exceeded" and no failing input (the deadline hits a worker mid-call); that
# run is repeated once rather than failing CI. A real failure writes its
# input under testdata/fuzz and fails.
#
# FUZZ_ONLY (an extended regexp matched against "package target") picks
# some targets; FUZZ_PARALLEL sets the fuzzer's worker count (default: one
# per core).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-3s}
only=${FUZZ_ONLY:-.}
parallel=()
if [ -n "${FUZZ_PARALLEL:-}" ]; then parallel=(-parallel "$FUZZ_PARALLEL"); fi
for pkg in $(go list ./...); do
  # A package that does not build must fail the run, not lose its targets.
  if ! listing=$(go test -list '^Fuzz' "$pkg" 2>&1); then
    echo "fuzz: cannot list the fuzz targets of $pkg:"
    echo "$listing"
    exit 1
  fi
  targets=$(echo "$listing" | grep '^Fuzz' || true)
  for t in $targets; do
    echo "$pkg $t" | grep -Eq -- "$only" || continue
    echo "fuzz $pkg $t ($fuzztime) $(date -u +%H:%M:%S)"
    for try in 1 2; do
      # -timeout 0: go test's default 10m would cut a 10m fuzz run short.
      if out=$(go test -run '^$' -fuzz "^${t}\$" -fuzztime "$fuzztime" -timeout 0 "${parallel[@]}" "$pkg" 2>&1); then
        echo "$out" | tail -1
        break
      fi
      if [ $try = 1 ] && echo "$out" | grep -q 'context deadline exceeded' && ! echo "$out" | grep -q 'Failing input written'; then
        echo "fuzz $t: the fuzzer's deadline flake (no failing input); running it again"
        continue
      fi
      echo "$out"
      exit 1
    done
  done
done
