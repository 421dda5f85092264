// BiEncoder: sentence embeddings from an encoder ONNX model run in worker threads; pooling (mean over
// the attention mask, CLS or max) and L2 normalisation happen in the worker, per the model's config.
import { loadModelDir, type ModelSpec } from '../models/model-dir.js';
import { Tokenizer, type EncodeOptions, type TokenSpan } from '../tokenize/index.js';
import type { BatchStats } from './batcher.js';
import { boundedEncodeOptions, checkTexts, emptyStats, refuseIfTruncated, schedulerFor, splitScheduleOptions, throwIfCancelled } from './engine.js';
import { InferenceBackendError, InferenceClosedError } from './errors.js';
import { kindOptions, resolveInferOptions, type LoadOptions } from './options.js';
import { WorkerPool } from './pool.js';
import type { RequestTimings, ScheduleOptions, Scheduler, SchedulerStats } from './scheduler.js';

export interface Embeddings {
  dim: number;
  /** One vector per text, in input order (unit length when spec.normalize). */
  vectors: Float32Array[];
  truncated: Uint8Array;
  stats: BatchStats;
}

export class BiEncoder {
  readonly kind = 'bi-encoder' as const;
  get pooling(): string { return this.spec.pooling; }
  get normalizes(): boolean { return this.spec.normalize; }

  readonly spec: ModelSpec;
  readonly tokenizer: Tokenizer;
  readonly dim: number;
  /** Every embed() call goes through this one scheduler (queue counters, `onBatch` hook for metrics). */
  readonly scheduler: Scheduler;
  readonly #pool: WorkerPool;

  private constructor(spec: ModelSpec, tokenizer: Tokenizer, pool: WorkerPool, scheduler: Scheduler) {
    this.spec = spec;
    this.tokenizer = tokenizer;
    this.dim = spec.hiddenSize;
    this.#pool = pool;
    this.scheduler = scheduler;
  }

  /** Loads a bi-encoder model directory (sentence-transformers layout) and starts its worker sessions. */
  static async load(dir: string, opts?: LoadOptions): Promise<BiEncoder> {
    const o = resolveInferOptions(opts);
    const spec = loadModelDir(dir, { quantized: o.quantized, ...kindOptions('bi-encoder', opts) });
    const tokenizer = Tokenizer.fromFile(spec.tokenizerPath);
    const pool = await WorkerPool.create({
      modelPath: spec.onnxPath,
      intraOpNumThreads: o.threads,
      interOpNumThreads: 1,
      executionProvider: o.executionProvider,
      cudaFallbackToCpu: o.cudaFallbackToCpu,
      task: { kind: 'embed', pooling: spec.pooling, normalize: spec.normalize },
    }, o.workers);
    return new BiEncoder(spec, tokenizer, pool, schedulerFor(pool, o, tokenizer.padId, spec.name));
  }

  // The model seam (Embedder in src/pipeline/ports.ts, checked structurally there: infer never imports upward).
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

  get executionProviders(): readonly string[] { return this.#pool.info.executionProviders; }

  /** Embeds each text (truncated to spec.maxLength, sentence-transformers' max_seq_length). */
  async embed(texts: string[], opts?: ScheduleOptions): Promise<Float32Array[]> {
    return (await this.embedDetailed(texts, opts)).vectors;
  }

  /** embed() with truncation flags, batch stats and timings; onPartial / signal as in CrossEncoder.score. */
  async embedDetailed(texts: string[], opts?: ScheduleOptions): Promise<Embeddings & { timings: RequestTimings }> {
    if (this.scheduler.closed) throw new InferenceClosedError();
    checkTexts('texts', texts);
    const { encode, signal, onPartial, refuseTruncated } = splitScheduleOptions(opts);
    const encOpts = boundedEncodeOptions(this.spec, encode);
    const n = texts.length;
    if (n === 0) return { dim: this.dim, vectors: [], truncated: new Uint8Array(0), stats: emptyStats(), timings: { tokenizationMs: 0, queueMs: 0, inferenceMs: 0 } };
    throwIfCancelled(signal);
    const t0 = performance.now();
    const enc = await this.tokenizer.encodeRagged(texts, null, encOpts);
    if (refuseTruncated) refuseIfTruncated(this.tokenizer, enc, texts, null, encOpts.maxLength ?? this.spec.maxLength);
    const tokenizationMs = performance.now() - t0;
    throwIfCancelled(signal);
    const out = await this.scheduler.submit(enc, {
      signal,
      tokenizationMs,
      onRows: onPartial && ((indices, data, cols) => onPartial({ indices, vectors: this.#split(data, cols, indices.length) })),
    });
    return { dim: this.dim, vectors: this.#split(out.data, out.cols, n), truncated: enc.truncated.slice(), stats: out.stats, timings: out.timings };
  }

  /** Row-major [n, dim] -> n vectors, each with its own buffer so callers can keep or transfer one without pinning the rest. */
  #split(data: Float32Array, cols: number, n: number): Float32Array[] {
    if (cols !== this.dim) {
      throw new InferenceBackendError(`crossgate: ${this.spec.name} returned ${cols}-dim embeddings; config hidden_size is ${this.dim}`);
    }
    const vectors = new Array<Float32Array>(n);
    for (let i = 0; i < n; i++) vectors[i] = data.slice(i * cols, (i + 1) * cols);
    return vectors;
  }

  /** Stops the workers after their current run; queued calls reject with InferenceClosedError. Idempotent. */
  close(): Promise<void> {
    this.scheduler.close();
    return this.#pool.close();
  }
}
