#!/usr/bin/env bash
# Regenerates src/wire/generated/ from src/wire/crossgate.fbs with flatc 2.0.8 (Debian 12: apt-get install flatbuffers-compiler).
# The output is committed, so building and testing crossgate never needs flatc; rerun this after editing the schema.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
flatc_bin="${FLATC:-flatc}"
want="2.0.8"
have="$("$flatc_bin" --version | awk '{print $3}')"
if [ "$have" != "$want" ]; then
  echo "gen.sh: flatc $have found; the committed code comes from flatc $want (set FLATC=/path/to/flatc-$want)" >&2
  exit 1
fi
out="${1:-$here/generated}"
mkdir -p "$out"
# --ts-flat-files: one ESM file for the whole schema (no per-type files, no relative imports to fix up for NodeNext).
"$flatc_bin" --ts --ts-flat-files -o "$out" "$here/crossgate.fbs"
