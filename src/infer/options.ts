// InferOptions: the knobs of the inference room, each with a default and the reason it exists.
// resolveInferOptions() validates user input once so workers and the batcher see only sane numbers.
import { availableParallelism } from 'node:os';
import { DEFAULT_BATCH_OVERHEAD_TOKENS } from './batcher.js';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface InferOptions {
  /** Intra-op threads per ORT session. Default: the cores split evenly over the workers, at least 1
   *  (more would oversubscribe the cores: the workers are already the parallelism). */
  threads?: number;
  /** Worker threads, one ORT session each. ORT's `run()` blocks the thread that calls it, so every
   *  session lives in a worker and the caller's event loop keeps turning. Default on CPU: 2 (1 on a
   *  1-core machine); with 'cuda', 1. Measured for MiniLM-L6 (score(), 100-passage calls) on a 2-core
   *  machine: 2 workers x 1 thread gave 1.20x the pairs/s of 1 worker x 2 threads for one caller and
   *  1.05x for 8 concurrent callers on idle cores, and 1.3-1.6x while other work held a core (as a
   *  sidecar's neighbours do): one session's intra-op threads stall on each other when a core is
   *  busy, two sessions each keep a core fed. Beyond 2 the gain is unmeasured and every worker holds
   *  a copy of the weights, so bigger machines get 2 workers with more threads each. */
  workers?: number;
  /** 'cpu' (default) or 'cuda'. 'cuda' fails loudly when ORT's CUDA binaries are missing unless
   *  `cudaFallbackToCpu` is set. */
  executionProvider?: ExecutionProvider;
  /** Allow a silent fall back to the CPU provider when 'cuda' cannot load. Default false: a
   *  deployment that asked for a GPU should not run 50x slower without saying so. */
  cudaFallbackToCpu?: boolean;
  /** Token budget per micro-batch, counted in padded tokens (rows x longest row). Bounds the
   *  activation memory of one `run()` (hidden states are rows x seqLen x hidden floats). Default 8192.
   *  With attentionCostLength the budget bounds the rows' cost, which is never below their tokens. */
  maxBatchTokens?: number;
  /** Row cap per micro-batch: very short inputs would otherwise make huge batches whose per-row
   *  output buffers and latency grow without benefit. Default 256. */
  maxBatchRows?: number;
  /** What one extra `run()` costs, in padded tokens; the batcher only splits a micro-batch where the
   *  padding it saves is worth more. Measured for MiniLM-L6 on CPU (1 thread, ~5 tokens/ms): a run costs
   *  1-2 ms beyond its tokens, about 5-10 tokens; and bigger batches do not run faster per token on CPU.
   *  Default 32 on CPU (padding waste ~2.5% on a rerank load); 512 for CUDA, where a launch is worth far
   *  more tokens (an unmeasured guess: tune it on your GPU). */
  batchOverheadTokens?: number;
  /** Sequence length past which a row's attention (scores and softmax over length x length per head)
   *  costs more than its dense layers. The batcher counts a row of L tokens as L + L^2 / this when it
   *  splits work across workers and sizes batches, so long rows get smaller batches and a request's
   *  long rows do not all land on one worker. Measured for MiniLM-L6 int8 on 1 CPU thread: 65 us per
   *  token at 64 tokens, 79-107 alone and 110-135 in batches at 256-512; fp32 grows less. With 256, the
   *  slowest of 40 ten-passage requests ran 1.2-1.3x faster and 100-passage calls 8% faster (int8); fp32
   *  unchanged. Default 256 on CPU; Infinity (tokens only) for CUDA, where it is unmeasured. */
  attentionCostLength?: number;
  /** Run the quantized ONNX file (onnx/model_quantized.onnx) instead of fp32. Default false. */
  quantized?: boolean;
  /** Tokens (real, unpadded) that may wait in the scheduler's queue across all callers. A call whose rows
   *  would push it over fails at once with QueueFullError and queues nothing: under overload a server
   *  answers 429 in microseconds instead of letting latency and memory grow without bound. Default
   *  262144 (about 2,000 typical rerank pairs; 30 s of work for MiniLM-L6 on 2 CPU cores). Library
   *  callers embedding a large corpus in one call should chunk it (as Collection.add does) or raise it. */
  maxQueueTokens?: number;
}

/** CrossEncoder.load / BiEncoder.load: the inference knobs plus how the directory is checked. */
export interface LoadOptions extends InferOptions {
  /** Load the directory as this class's kind without detecting it from config.json / modules.json, for
   *  exports whose config misdescribes them. Default false: a directory that is the other kind is refused
   *  at load with a message naming the class to use. The ONNX outputs are checked either way. */
  assumeKind?: boolean;
}

/** The loadModelDir options for a class that runs `kind`. */
export function kindOptions(kind: 'cross-encoder' | 'bi-encoder', opts: LoadOptions | undefined): { kind?: typeof kind; expectKind?: typeof kind } {
  const assume = opts?.assumeKind;
  if (assume !== undefined && typeof assume !== 'boolean') throw new TypeError(`'assumeKind' is invalid: ${String(assume)}; expected true or false`);
  return assume ? { kind } : { expectKind: kind };
}

export interface ResolvedInferOptions {
  threads: number;
  workers: number;
  executionProvider: ExecutionProvider;
  cudaFallbackToCpu: boolean;
  maxBatchTokens: number;
  maxBatchRows: number;
  batchOverheadTokens: number;
  attentionCostLength: number;
  quantized: boolean;
  maxQueueTokens: number;
}

export const DEFAULT_MAX_QUEUE_TOKENS = 262_144;
export const DEFAULT_MAX_BATCH_TOKENS = 8192;
export const DEFAULT_MAX_BATCH_ROWS = 256;
/** batchOverheadTokens default under CUDA (the CPU one is DEFAULT_BATCH_OVERHEAD_TOKENS). */
export const CUDA_BATCH_OVERHEAD_TOKENS = 512;
/** attentionCostLength default on CPU (see there for the measurement). */
export const DEFAULT_ATTENTION_COST_LENGTH = 256;
/** attentionCostLength when none is asked for: DEFAULT_ATTENTION_COST_LENGTH on CPU, Infinity on CUDA. */
export function defaultAttentionCostLength(ep: ExecutionProvider = 'cpu'): number {
  return ep === 'cuda' ? Infinity : DEFAULT_ATTENTION_COST_LENGTH;
}

/** Default worker count on CPU (see InferOptions.workers for the measurement). */
export const DEFAULT_CPU_WORKERS = 2;
/** Upper bound on workers: each holds a full copy of the model weights. */
export const MAX_WORKERS = 64;

/** Workers when none are asked for: 1 on CUDA (one GPU stream), else DEFAULT_CPU_WORKERS capped by the cores. */
export function defaultWorkers(ep: ExecutionProvider = 'cpu', cores = availableParallelism()): number {
  return ep === 'cuda' ? 1 : Math.max(1, Math.min(cores, DEFAULT_CPU_WORKERS));
}

/** Intra-op threads when none are asked for: the cores split evenly over the workers, at least 1. */
export function defaultThreads(workers: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / workers));
}

function positiveInt(name: string, v: unknown, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new RangeError(`'${name}' is invalid: ${String(v)}; expected an integer from 1 to ${max}`);
  }
  return v;
}

function atLeastOne(name: string, v: unknown): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v < 1) throw new RangeError(`'${name}' is invalid: ${String(v)}; expected a number >= 1, or Infinity to count tokens only`);
  return v;
}

function nonNegative(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`'${name}' is invalid: ${String(v)}; expected a finite number >= 0`);
  return v;
}

export function resolveInferOptions(opts: InferOptions = {}): ResolvedInferOptions {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`InferOptions must be an object, got ${opts === null ? 'null' : typeof opts}`);
  const cores = availableParallelism();
  const ep = opts.executionProvider ?? 'cpu';
  if (ep !== 'cpu' && ep !== 'cuda') throw new RangeError(`'executionProvider' is invalid: ${String(ep)}; expected 'cpu' or 'cuda'`);
  const workers = opts.workers === undefined ? defaultWorkers(ep, cores) : positiveInt('workers', opts.workers, MAX_WORKERS);
  const threads = opts.threads === undefined ? defaultThreads(workers, cores) : positiveInt('threads', opts.threads, 1024);
  return {
    threads,
    workers,
    executionProvider: ep,
    cudaFallbackToCpu: opts.cudaFallbackToCpu === true,
    maxBatchTokens: opts.maxBatchTokens === undefined ? DEFAULT_MAX_BATCH_TOKENS : positiveInt('maxBatchTokens', opts.maxBatchTokens, 1 << 24),
    maxBatchRows: opts.maxBatchRows === undefined ? DEFAULT_MAX_BATCH_ROWS : positiveInt('maxBatchRows', opts.maxBatchRows, 1 << 16),
    batchOverheadTokens: opts.batchOverheadTokens === undefined ? (ep === 'cuda' ? CUDA_BATCH_OVERHEAD_TOKENS : DEFAULT_BATCH_OVERHEAD_TOKENS) : nonNegative('batchOverheadTokens', opts.batchOverheadTokens),
    attentionCostLength: opts.attentionCostLength === undefined ? defaultAttentionCostLength(ep) : atLeastOne('attentionCostLength', opts.attentionCostLength),
    quantized: opts.quantized === true,
    maxQueueTokens: opts.maxQueueTokens === undefined ? DEFAULT_MAX_QUEUE_TOKENS : positiveInt('maxQueueTokens', opts.maxQueueTokens, 2 ** 31 - 1),
  };
}
