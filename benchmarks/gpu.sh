#!/usr/bin/env bash
# benchmarks/gpu.sh: trials 1, 2 and 4 (--quick) on ONNX Runtime's CUDA execution provider, on a lent GPU
# machine, in under 8 minutes. Results go to benchmarks/results/gpu/ (REPORT.md, latest.json, targets.svg).
#
# onnxruntime-node's npm package carries CPU binaries only; its install script fetches the CUDA provider
# (libonnxruntime_providers_cuda.so + _shared.so) from NuGet. So this script first looks for those files,
# tries `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` once if they are missing, checks that
# the CUDA 12 / cuDNN 9 libraries they link against resolve and that a session really starts on CUDA, and
# only then runs the trials. When CUDA cannot be had it says exactly why and exits 0: no GPU numbers is a
# finding, not a failure. Set GPU_SH_BUDGET_S to change the 480 s budget.
set -uo pipefail
cd "$(dirname "$0")/.."

BUDGET_S=${GPU_SH_BUDGET_S:-480}
START=$SECONDS
ORT_BIN=${GPU_SH_ORT_BIN:-node_modules/onnxruntime-node/bin/napi-v6/linux/x64}
CUDA_SO=$ORT_BIN/libonnxruntime_providers_cuda.so
SHARED_SO=$ORT_BIN/libonnxruntime_providers_shared.so
OUT=benchmarks/results/gpu
LOG=$(mktemp -d)/gpu-sh

say() { echo "gpu.sh: $*"; }
left() { echo $((BUDGET_S - (SECONDS - START))); }
unavailable() {
  say "CUDA UNAVAILABLE: $*"
  say "trials 1, 2 and 4 were not run on CUDA; the CPU results in benchmarks/results/ stand. ($((SECONDS - START)) s)"
  exit 0
}

say "machine: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; node $(node --version 2>/dev/null || echo missing)"
command -v node >/dev/null || unavailable "node is not installed on this machine"
[ -d node_modules/onnxruntime-node ] || unavailable "node_modules/onnxruntime-node is missing; run the README's set-up (npm ci) first"
if command -v nvidia-smi >/dev/null 2>&1; then
  GPU=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -n1)
  say "GPU: $GPU"
else
  GPU=""
  say "GPU: nvidia-smi not found"
fi

# --- 1. The CUDA provider binaries.
if [ -f "$CUDA_SO" ] && [ -f "$SHARED_SO" ]; then
  say "found $CUDA_SO"
else
  say "missing $CUDA_SO; trying: ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node (up to 150 s)"
  # The rebuild rewrites the package's bin folder: keep the working CPU binaries to put back if it fails.
  BACKUP=$(mktemp -d)
  cp -a "$ORT_BIN/." "$BACKUP/"
  if timeout 150 env ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node >"$LOG.rebuild" 2>&1 && [ -f "$CUDA_SO" ]; then
    say "the rebuild fetched the CUDA provider"
  else
    RC=$?
    cp -a "$BACKUP/." "$ORT_BIN/"
    WHY=$(grep -Eim3 'error|fail|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|getaddrinfo|timed out' "$LOG.rebuild" | tr -s ' \n' ' ' | cut -c1-400)
    [ "$RC" = 124 ] && WHY="it ran past 150 s (no network?) ${WHY}"
    unavailable "onnxruntime-node $(node -p "require('./node_modules/onnxruntime-node/package.json').version") ships without the CUDA provider, and 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node' could not fetch it from NuGet (exit $RC): ${WHY:-see $LOG.rebuild}. Copy libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so from the Microsoft.ML.OnnxRuntime.Gpu.Linux NuGet package of the same version into $ORT_BIN/ and rerun."
  fi
fi

# --- 2. A GPU and the libraries the provider links against.
[ -n "$GPU" ] || unavailable "the CUDA provider is present but this machine has no NVIDIA driver (nvidia-smi not found)"
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
MISSING=$(LD_LIBRARY_PATH="$ORT_BIN:${LD_LIBRARY_PATH:-}" ldd "$CUDA_SO" 2>/dev/null | awk '/not found/ {print $1}' | tr '\n' ' ')
[ -z "$MISSING" ] || unavailable "the CUDA provider cannot load: ${MISSING}not found (it needs the CUDA 12 runtime, cuBLAS and cuDNN 9 on LD_LIBRARY_PATH)"

# --- 3. Build what the trials need (the addon, dist/), then prove a session starts on CUDA.
if [ ! -f build/Release/crossgate_native.node ]; then
  say "building the native addon"
  npm run build:native >"$LOG.native" 2>&1 || { tail -n 20 "$LOG.native"; say "native build failed"; exit 1; }
fi
say "compiling TypeScript"
npx tsc -p . >"$LOG.tsc" 2>&1 || say "tsc reported type errors (output still emitted): $(head -n 3 "$LOG.tsc" | tr '\n' ' ')"
[ -f dist/benchmarks/run.js ] || { say "dist/benchmarks/run.js is missing after tsc"; exit 1; }
say "generating the MiniLM-L6 cross-encoder if needed, and starting one CUDA session"
if ! timeout 120 node --input-type=module -e "
  const { ensureGenerated } = await import('./dist/models/generate.js');
  const ort = await import('onnxruntime-node');
  const dir = await ensureGenerated('minilm-l6-cross');
  const s = await ort.InferenceSession.create(dir + '/onnx/model.onnx', { executionProviders: ['cuda'] });
  await s.release();
  console.log('CUDA session OK');
" >"$LOG.smoke" 2>&1; then
  unavailable "a session with executionProviders ['cuda'] would not start: $(grep -v '^\s*at ' "$LOG.smoke" | tail -n 4 | tr -s ' \n' ' ' | cut -c1-500)"
fi
say "$(tail -n1 "$LOG.smoke")"

# --- 4. The trials, bounded by what is left of the budget.
T=$(( $(left) - 15 ))
[ "$T" -ge 60 ] || unavailable "only ${T} s of the ${BUDGET_S} s budget left for the trials after set-up"
say "running trials 01, 02, 04 with CROSSGATE_BENCH_EP=cuda (--quick, up to ${T} s) into $OUT/"
CROSSGATE_BENCH_EP=cuda timeout "$T" node dist/benchmarks/run.js --quick --only 01,02,04 --ep cuda --out "$OUT"
RC=$?
if [ "$RC" = 124 ]; then say "the trials ran past ${T} s and were stopped"; exit 1; fi
say "done in $((SECONDS - START)) s (exit $RC); report in $OUT/REPORT.md"
exit "$RC"
