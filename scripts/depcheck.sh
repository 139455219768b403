#!/usr/bin/env bash
# Enforces the import directions of docs/architecture.md: data flows
# ingest -> streams -> delivery (buffer, transform) -> sinks. streams holds the
# log and imports nothing above it; delivery knows only the stage interfaces;
# sinks never import one another or a processor; processors never import a
# sink. Only cmd/ and integration/ know concrete components (and a sink's
# test helpers, sinks/<name>/<x>test, which only tests import). internal/*
# holds leaf libraries (no project imports) that sinks and processors share.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
listing=$(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./...)
fail=0
while read -r pkg imports; do
  p=${pkg#"$mod"/}
  for imp in $imports; do
    case $imp in "$mod"/*) ;; *) continue ;; esac
    i=${imp#"$mod"/}
    bad=""
    case $p in
      streams/record|streams/wal|configs|ingest/api|internal/*) bad="imports no project package" ;;
      streams/internal/*) [ "$i" = streams/record ] || bad="the stream core's shared internals import only streams/record" ;;
      # The JetStream backend shares routing and the record codec with the
      # local log, nothing else; its test helper (jstest) imports nothing.
      streams/jetstream) case $i in streams/record|streams/internal/*) ;; *) bad="the JetStream backend imports only streams/record and streams/internal/*" ;; esac ;;
      streams/jetstream/jstest) bad="imports no project package" ;;
      buffer|sinks) [ "$i" = streams/record ] || bad="imports only streams/record" ;;
      transform) [ "$i" = streams/record ] || bad="the processor seam imports only streams/record" ;;
      # Test helpers of a sink (sinks/s3/s3test, sinks/iceberg/icetest):
      # imported only by tests, they may set up and read back any sink.
      sinks/*/*test) case $i in streams/record|sinks|sinks/*) ;; *) bad="a sink's test helpers import only sinks/* and streams/record" ;; esac ;;
      sinks/*) case $i in streams/record|sinks|sinks/prefix|sinks/internal/*|sinks/encode|sinks/encode/*|sinks/columnar|sinks/columnar/*|internal/*) ;; *) bad="a sink imports only sinks, sinks/prefix, sinks/encode*, sinks/columnar*, sinks/internal/*, internal/* and streams/record" ;; esac ;;
      transform/*) case $i in streams/record|transform|internal/*) ;; *) bad="a processor imports only transform, internal/* and streams/record (never a sink)" ;; esac ;;
      ingest) case $i in streams/record|ingest/api) ;; *) bad="ingest depends on its own interface, not the stream implementation" ;; esac ;;
      ingest/*) case $i in streams/record|ingest|ingest/api) ;; *) bad="ingest/* imports only ingest, ingest/api and streams/record" ;; esac ;;
      streams|streams/checkpoint) case $i in streams/record|streams/wal|streams/checkpoint|streams/internal/*) ;; *) bad="the stream core imports only its own sub-packages" ;; esac ;;
      delivery) case $i in streams|streams/jetstream|streams/record|buffer|transform|sinks) ;; *) bad="the runtime knows the stage interfaces and the stream seam, never a concrete sink or processor" ;; esac ;;
    esac
    if [ -n "$bad" ]; then echo "depcheck: $p imports $i: $bad"; fail=1; fi
  done
done <<<"$listing"
exit $fail
