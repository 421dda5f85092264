// BiEncoder: sentence embeddings from an encoder ONNX model run in worker threads; pooling (mean over
// the attention mask, CLS or max) and L2 normalisation happen in the worker, per the model's config.
import type { BatchStats } from './batcher.js';
import {
  boundedEncodeOptions, checkTexts, emptyStats, LoadedModel, refuseIfTruncated, splitScheduleOptions, startModel, throwIfCancelled, type ModelParts,
} from './engine.js';
import { InferenceBackendError, InferenceClosedError } from './errors.js';
import type { LoadOptions } from './options.js';
import type { RequestTimings, ScheduleOptions } from './scheduler.js';

export interface Embeddings {
  dim: number;
  /** One vector per text, in input order (unit length when spec.normalize). */
  vectors: Float32Array[];
  truncated: Uint8Array;
  stats: BatchStats;
}

export class BiEncoder extends LoadedModel {
  readonly kind = 'bi-encoder' as const;
  readonly dim: number;
  get pooling(): string { return this.spec.pooling; }
  get normalizes(): boolean { return this.spec.normalize; }

  private constructor(parts: ModelParts) {
    super(parts);
    this.dim = parts.spec.hiddenSize;
  }

  /** Loads a bi-encoder model directory (sentence-transformers layout) and starts its worker sessions. */
  static async load(dir: string, opts?: LoadOptions): Promise<BiEncoder> {
    return new BiEncoder(await startModel(dir, 'bi-encoder', opts, () => undefined,
      (spec) => ({ kind: 'embed', pooling: spec.pooling, normalize: spec.normalize })));
  }

  /** Embeds each text (truncated to spec.maxLength, sentence-transformers' max_seq_length). */
  protected async runWarmUp(texts: string[]): Promise<void> {
    await this.embed(texts);
  }

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
}
