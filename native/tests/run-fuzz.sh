#!/usr/bin/env bash
# Runs every fuzz harness built in the given build folder, each on its own corpus folder
# (native/tests/corpus/<harness without fuzz_>/) plus the shared seeds, for a bounded number of inputs
# (CROSSGATE_FUZZ_RUNS, default 20000) or seconds (CROSSGATE_FUZZ_SECONDS). A failing input is written to
# CROSSGATE_FUZZ_CRASH_DIR (default: the build folder) as crash-*.bin.
set -euo pipefail
dir=${1:-build-asan}
if [ -z "${CROSSGATE_FUZZ_SECONDS:-}" ]; then export CROSSGATE_FUZZ_RUNS=${CROSSGATE_FUZZ_RUNS:-20000}; fi
export CROSSGATE_FUZZ_CRASH_DIR=${CROSSGATE_FUZZ_CRASH_DIR:-$dir}
shopt -s nullglob
for f in "$dir"/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f"); name=${name#fuzz_}
  echo "== $f"
  "$f" native/tests/corpus/*.* native/tests/corpus/"$name"/* 2>&1 | tail -n 3
done
