#!/usr/bin/env bash
# Runs every fuzz harness built in the given build folder for a bounded number of inputs.
set -euo pipefail
dir=${1:-build-asan}
export CROSSGATE_FUZZ_RUNS=${CROSSGATE_FUZZ_RUNS:-20000}
shopt -s nullglob
for f in "$dir"/fuzz_*; do
  [ -x "$f" ] || continue
  echo "== $f"
  "$f" native/tests/corpus/* 2>&1 | tail -n 3
done
