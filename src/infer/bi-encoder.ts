// BiEncoder: sentence embeddings from an encoder ONNX model run in worker threads; pooling (mean over
// the attention mask, CLS or max) and L2 normalisation happen in the worker, per the model's config.
import { loadModelDir, type ModelSpec } from '../models/model-dir.js';
import { Tokenizer, type EncodeOptions } from '../tokenize/index.js';
import type { BatchStats } from './batcher.js';
import { boundedEncodeOptions, checkTexts, emptyStats, runPlanned } from './engine.js';
import { InferenceBackendError, InferenceClosedError } from './errors.js';
import { resolveInferOptions, type InferOptions, type ResolvedInferOptions } from './options.js';
import { WorkerPool } from './pool.js';

export interface Embeddings {
  dim: number;
  /** One vector per text, in input order (unit length when spec.normalize). */
  vectors: Float32Array[];
  truncated: Uint8Array;
  stats: BatchStats;
}

export class BiEncoder {
  readonly spec: ModelSpec;
  readonly tokenizer: Tokenizer;
  readonly dim: number;
  readonly #pool: WorkerPool;
  readonly #opts: ResolvedInferOptions;

  private constructor(spec: ModelSpec, tokenizer: Tokenizer, pool: WorkerPool, opts: ResolvedInferOptions) {
    this.spec = spec;
    this.tokenizer = tokenizer;
    this.dim = spec.hiddenSize;
    this.#pool = pool;
    this.#opts = opts;
  }

  /** Loads a bi-encoder model directory (sentence-transformers layout) and starts its worker sessions. */
  static async load(dir: string, opts?: InferOptions): Promise<BiEncoder> {
    const o = resolveInferOptions(opts);
    const spec = loadModelDir(dir, { quantized: o.quantized, kind: 'bi-encoder' });
    const tokenizer = Tokenizer.fromFile(spec.tokenizerPath);
    const pool = await WorkerPool.create({
      modelPath: spec.onnxPath,
      intraOpNumThreads: o.threads,
      interOpNumThreads: 1,
      executionProvider: o.executionProvider,
      cudaFallbackToCpu: o.cudaFallbackToCpu,
      task: { kind: 'embed', pooling: spec.pooling, normalize: spec.normalize },
    }, o.workers);
    return new BiEncoder(spec, tokenizer, pool, o);
  }

  get executionProviders(): readonly string[] { return this.#pool.info.executionProviders; }

  /** Embeds each text (truncated to spec.maxLength, sentence-transformers' max_seq_length). */
  async embed(texts: string[], opts?: EncodeOptions): Promise<Float32Array[]> {
    return (await this.embedDetailed(texts, opts)).vectors;
  }

  async embedDetailed(texts: string[], opts?: EncodeOptions): Promise<Embeddings> {
    if (this.#pool.closed) throw new InferenceClosedError();
    checkTexts('texts', texts);
    const encOpts = boundedEncodeOptions(this.spec, opts);
    const n = texts.length;
    if (n === 0) return { dim: this.dim, vectors: [], truncated: new Uint8Array(0), stats: emptyStats() };
    const enc = await this.tokenizer.encodeRagged(texts, null, encOpts);
    const out = await runPlanned(this.#pool, enc, this.tokenizer.padId, this.#opts);
    if (out.cols !== this.dim) {
      throw new InferenceBackendError(`crossgate: ${this.spec.name} returned ${out.cols}-dim embeddings; config hidden_size is ${this.dim}`);
    }
    const vectors = new Array<Float32Array>(n);
    // Each vector gets its own buffer so callers can keep or transfer one without pinning the rest.
    for (let i = 0; i < n; i++) vectors[i] = out.data.slice(i * this.dim, (i + 1) * this.dim);
    return { dim: this.dim, vectors, truncated: enc.truncated.slice(), stats: out.stats };
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
