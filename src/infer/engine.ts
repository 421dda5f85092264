// What CrossEncoder and BiEncoder share around the Scheduler: input checks, encode options bounded by
// the model, splitting ScheduleOptions, and the scheduler + pool pair each loaded model owns.
import { Tokenizer, type EncodeOptions, type RaggedEncoding, type TokenSpan } from '../tokenize/index.js';
import { loadModelDir, type ModelSpec } from '../models/model-dir.js';
import type { BatchStats } from './batcher.js';
import { InputTooLongError, RequestCancelledError } from './errors.js';
import { kindOptions, resolveInferOptions, type LoadOptions, type ResolvedInferOptions } from './options.js';
import { WorkerPool } from './pool.js';
import type { WorkerTask } from './protocol.js';
import { Scheduler, type ScheduleOptions, type SchedulerStats } from './scheduler.js';

/** Encode options bounded by the model: maxLength defaults to, and may not exceed, spec.maxLength. */
export function boundedEncodeOptions(spec: ModelSpec, opts: EncodeOptions | undefined): EncodeOptions {
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) throw new TypeError(`encode options must be an object, got ${opts === null ? 'null' : typeof opts}`);
  const maxLength = opts?.maxLength ?? spec.maxLength;
  if (!Number.isInteger(maxLength) || maxLength < 2 || maxLength > spec.maxLength) {
    throw new RangeError(`maxLength ${String(maxLength)} is out of range for ${spec.name}: it must be an integer from 2 to the model's max length ${spec.maxLength}`);
  }
  return { ...opts, maxLength };
}

/** Rejects anything but an array of strings, naming the first bad index. */
export function checkTexts(name: string, texts: unknown): asserts texts is string[] {
  if (!Array.isArray(texts)) throw new TypeError(`${name} must be an array of strings, got ${texts === null ? 'null' : typeof texts}`);
  for (let i = 0; i < texts.length; i++) {
    const t: unknown = texts[i];
    if (typeof t !== 'string') throw new TypeError(`${name}[${i}] is ${t === null ? 'null' : typeof t}; expected a string`);
  }
}

export function emptyStats(): BatchStats { return { batches: 0, realTokens: 0, paddedTokens: 0 }; }

/** The scheduler in front of a model's worker pool. */
export function schedulerFor(pool: WorkerPool, o: ResolvedInferOptions, padId: number, label: string): Scheduler {
  return new Scheduler(pool, {
    capacity: pool.size,
    maxBatchTokens: o.maxBatchTokens,
    maxBatchRows: o.maxBatchRows,
    batchOverheadTokens: o.batchOverheadTokens,
    maxQueueTokens: o.maxQueueTokens,
    padId,
    label,
    attentionCostLength: o.attentionCostLength,
  });
}

/** Splits ScheduleOptions into the tokenizer's part and the scheduler's part, checking the latter. */
export function splitScheduleOptions(opts: ScheduleOptions | undefined): { encode: EncodeOptions | undefined; signal?: AbortSignal; onPartial?: ScheduleOptions['onPartial']; refuseTruncated?: boolean } {
  if (opts === undefined) return { encode: undefined };
  if (opts === null || typeof opts !== 'object') return { encode: opts };
  const { signal, onPartial, refuseTruncated, ...encode } = opts;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`'signal' must be an AbortSignal, got ${signal === null ? 'null' : typeof signal}`);
  if (onPartial !== undefined && typeof onPartial !== 'function') throw new TypeError(`'onPartial' must be a function, got ${onPartial === null ? 'null' : typeof onPartial}`);
  return { encode, signal, onPartial, refuseTruncated: refuseTruncated === true };
}

/**
 * ScheduleOptions.refuseTruncated: the first input the encoding cut is refused with its full length
 * (measured again for that one input only, so the common path tokenizes once).
 */
export function refuseIfTruncated(tokenizer: Tokenizer, enc: RaggedEncoding, texts: string[], pairs: string[] | null, maxLength: number): void {
  const i = enc.truncated.indexOf(1);
  if (i < 0) return;
  const full = tokenizer.encodeRaggedSync([texts[i]], pairs ? [pairs[i]] : null, { maxLength: Infinity });
  throw new InputTooLongError(i, full.offsets[1] - full.offsets[0], maxLength);
}

/** Throws RequestCancelledError when the signal has fired (before tokenizing, and after it). */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new RequestCancelledError('crossgate: the request was cancelled before it was queued', { cause: signal.reason });
}

/** What a loaded model owns: its spec, tokenizer, worker pool and the scheduler every call goes through. */
export interface ModelParts { spec: ModelSpec; tokenizer: Tokenizer; pool: WorkerPool; scheduler: Scheduler; options: ResolvedInferOptions }

/** Loads a model directory, its tokenizer and its worker sessions (the task says what the workers compute). */
export async function startModel(dir: string, kind: 'cross-encoder' | 'bi-encoder', opts: LoadOptions | undefined,
  check: (spec: ModelSpec) => void, task: (spec: ModelSpec) => WorkerTask): Promise<ModelParts> {
  const o = resolveInferOptions(opts);
  const spec = loadModelDir(dir, { quantized: o.quantized, ...kindOptions(kind, opts) });
  check(spec);
  const tokenizer = Tokenizer.fromFile(spec.tokenizerPath);
  const pool = await WorkerPool.create({
    modelPath: spec.onnxPath,
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionProvider: o.executionProvider,
    cudaFallbackToCpu: o.cudaFallbackToCpu,
    task: task(spec),
  }, o.workers);
  return { spec, tokenizer, pool, scheduler: schedulerFor(pool, o, tokenizer.padId, spec.name), options: o };
}

/**
 * What CrossEncoder and BiEncoder share: the parts, and the model seam (ModelPort in src/pipeline/ports.ts,
 * checked structurally there; infer never imports upward).
 */
export abstract class LoadedModel {
  readonly spec: ModelSpec;
  readonly tokenizer: Tokenizer;
  /**
   * Every call goes through this one scheduler, so concurrent callers share micro-batches.
   * Exposes queuedRows / queuedTokens and a settable `onBatch` hook for metrics.
   */
  readonly scheduler: Scheduler;
  readonly #pool: WorkerPool;
  /** Workers, threads, batch budget and the rest, as resolved at load. */
  readonly options: ResolvedInferOptions;

  protected constructor(parts: ModelParts) {
    this.spec = parts.spec;
    this.tokenizer = parts.tokenizer;
    this.scheduler = parts.scheduler;
    this.#pool = parts.pool;
    this.options = parts.options;
  }

  /**
   * Runs the model's largest micro-batches once on every worker: rows of maxLength tokens, enough of them
   * to fill each worker's batch budget (within maxQueueTokens, which bounds what a client can send too). ONNX Runtime keeps the memory its largest
   * shape needed (its CPU arena grows and is not given back), so after this the process sits at its
   * resident-memory plateau: RSS stays flat under traffic, growth then means a leak, and the first large
   * client call does not pay for the allocation. Takes about one full micro-batch of time (workers run in
   * parallel). The server runs it before turning ready.
   */
  async warmUp(): Promise<void> {
    const o = this.options;
    // No client call can make a batch longer than maxLength per row or bigger than the queue admits.
    const rowLen = Math.max(1, Math.min(this.maxLength, o.maxQueueTokens));
    const perBatch = Math.max(1, Math.min(o.maxBatchRows, Math.ceil(o.maxBatchTokens / rowLen)));
    const rows = Math.max(1, Math.min(perBatch * o.workers, Math.floor(o.maxQueueTokens / rowLen)));
    // "the" is one token in any WordPiece vocabulary (or [UNK], also one). At the full length the pair is
    // cut to maxLength; below it, room is left for the query and the special tokens.
    const words = rowLen === this.maxLength ? this.maxLength : Math.max(1, rowLen - 16);
    const text = 'the '.repeat(words);
    await this.runWarmUp(Array.from({ length: rows }, () => text));
  }

  /** Runs `texts` through the model the way its kind does (pairs with a fixed query, or embeddings). */
  protected abstract runWarmUp(texts: string[]): Promise<void>;

  get modelName(): string { return this.spec.name; }
  get dir(): string { return this.spec.dir; }
  get maxLength(): number { return this.spec.maxLength; }
  get queue(): Scheduler { return this.scheduler; }
  specialTokenCount(pair: boolean): number { return this.tokenizer.specialTokenCount(pair); }
  countTokens(texts: string[], pairs: string[] | null, opts?: EncodeOptions): Promise<Int32Array> { return this.tokenizer.countTokens(texts, pairs, opts); }
  countTokensSync(texts: string[], pairs: string[] | null, opts?: EncodeOptions): Int32Array { return this.tokenizer.countTokensSync(texts, pairs, opts); }
  tokenize(texts: string[], addSpecialTokens: boolean): Promise<TokenSpan[][]> { return this.tokenizer.spans(texts, addSpecialTokens); }

  /** Queue counters now (rows and tokens waiting, batches running). */
  stats(): SchedulerStats { return this.scheduler.stats(); }

  /** Providers the sessions run on (['cpu'] after an allowed CUDA fall back). */
  get executionProviders(): readonly string[] { return this.#pool.info.executionProviders; }

  /**
   * Stops the worker threads after their current run; the process can then exit. Calls with rows
   * still queued reject with InferenceClosedError; calls whose rows are all running complete. Idempotent.
   */
  close(): Promise<void> {
    this.scheduler.close();
    return this.#pool.close();
  }
}
