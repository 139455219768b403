#!/usr/bin/env bash
# Builds the example wasm processors (examples/wasm/*) with the standard Go
# toolchain into bin/wasm/<name>.wasm, as WASI reactors (docs/wasm-abi.md).
# Usage: scripts/build-wasm.sh [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bin/wasm}
mkdir -p "$out"
for dir in examples/wasm/*/; do
  name=$(basename "$dir")
  echo "wasm $name -> $out/$name.wasm"
  GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 ${GO:-go} build -trimpath -buildmode=c-shared -o "$out/$name.wasm" "./$dir"
done
