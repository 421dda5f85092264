#!/usr/bin/env bash
# Coverage-guided fuzzing of every native harness with clang's libFuzzer under ASan+UBSan:
#   bash native/tests/run-libfuzzer.sh [seconds per harness, default 600] [harness ...]
# Builds build-libfuzzer/ with clang++ (CROSSGATE_LIBFUZZER=ON, CROSSGATE_SANITIZE=ON), then runs each
# harness for the given wall seconds on one core (CROSSGATE_FUZZ_JOBS harnesses at a time, default the
# number of cores), starting from native/tests/corpus/<harness>/ plus the shared seeds in
# native/tests/corpus/. Afterwards the inputs that reached new edges are merged (libFuzzer -merge=1, edges
# only: -use_counters=0 keeps the corpus small) into native/tests/corpus/<harness>/, so the g++ replay in
# `npm run test:asan` runs them from then on.
# A crash, leak, sanitizer report or an input slower than 10 s stops that harness; the input is kept as
# build-libfuzzer/crash-*/timeout-*/leak-* (move it into native/tests/corpus/<harness>/ once fixed) and
# the script exits 1. Logs: build-libfuzzer/<harness>.log. Needs clang (Debian: clang-14 libclang-rt-14-dev).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
shift || true
cxx=${CROSSGATE_FUZZ_CXX:-$(command -v clang++ || command -v clang++-14 || true)}
if [ -z "$cxx" ]; then
  echo "run-libfuzzer: no clang++ found; install clang (Debian: apt-get install clang-14 libclang-rt-14-dev) or set CROSSGATE_FUZZ_CXX" >&2
  exit 2
fi
out=build-libfuzzer
CXX=$cxx cmake -S . -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCROSSGATE_SANITIZE=ON -DCROSSGATE_LIBFUZZER=ON >/dev/null
cmake --build "$out" >/dev/null

harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  for f in "$out"/fuzz_*; do [ -x "$f" ] && harnesses+=("$(basename "$f")"); done
fi
jobs=${CROSSGATE_FUZZ_JOBS:-$(nproc)}

run_one() {
  local h=$1 name=${1#fuzz_}
  local corpus=native/tests/corpus/$name work=$out/work-$name
  mkdir -p "$corpus"
  rm -rf "$work" && mkdir -p "$work/seeds"
  find native/tests/corpus -maxdepth 1 -type f -exec cp {} "$work/seeds/" \;
  # libFuzzer writes what it finds into the first folder; the repo's corpus is only read here.
  mkdir -p "$work/new"
  local TIMEFORMAT='%U %S' cpu
  cpu=$( { time "$out/$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
       -artifact_prefix="$out/" "$work/new" "$corpus" "$work/seeds" >"$out/$h.log" 2>&1; } 2>&1 ) || true
  cpu=$(awk '{ printf "%.1f", ($1 + $2) / 60 }' <<<"$cpu")
  local status=ok
  grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|==ERROR|SUMMARY: ' "$out/$h.log" && status=FAILED
  "$out/$h" -merge=1 -use_counters=0 -timeout=10 -rss_limit_mb=2048 -max_len=65536 "$corpus" "$work/new" >"$out/$h.merge.log" 2>&1 || status=FAILED
  local runs cov
  runs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$out/$h.log" | grep -oE '[0-9]+$' || echo '?')
  cov=$(grep -oE 'cov: [0-9]+' "$out/$h.log" | tail -n1 | grep -oE '[0-9]+' || echo '?')
  echo "$h: $status, ${seconds} s wall, $cpu CPU-minutes, $runs inputs, coverage $cov edges, corpus $(ls "$corpus" | wc -l) files"
  [ "$status" = ok ]
}

rc=0
pids=()
names=()
for h in "${harnesses[@]}"; do
  run_one "$h" > "$out/$h.summary" 2>&1 &
  pids+=($!); names+=("$h")
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || rc=1; cat "$out/${names[0]}.summary"; pids=("${pids[@]:1}"); names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do wait "${pids[$i]}" || rc=1; cat "$out/${names[$i]}.summary"; done
exit $rc
