// CrossEncoder: scores (query, passage) pairs with a sequence-classification ONNX model run in a pool
// of worker threads, batched by token budget. Semantics follow sentence-transformers' CrossEncoder.
import { loadModelDir, type ModelSpec } from '../models/model-dir.js';
import { Tokenizer, type EncodeOptions } from '../tokenize/index.js';
import type { BatchStats } from './batcher.js';
import { boundedEncodeOptions, checkTexts, emptyStats, runPlanned } from './engine.js';
import { InferenceClosedError } from './errors.js';
import { resolveInferOptions, type InferOptions, type ResolvedInferOptions } from './options.js';
import { expit } from './pooling.js';
import { WorkerPool } from './pool.js';

export interface CrossEncoderScores {
  /**
   * One relevance logit per passage. For a 1-logit model it is the raw logit. For a 2-logit model
   * (softmax, positive class = index 1) it is l1 - l0, the log-odds of the positive class, so that
   * for both kinds expit(logit) == probability.
   */
  logits: Float32Array;
  /** expit(logit) for 1-logit models; softmax(...)[1] for 2-logit models. */
  probabilities: Float32Array;
  /** 1 where the pair was cut to the max length. */
  truncated: Uint8Array;
  stats: BatchStats;
}

export class CrossEncoder {
  readonly spec: ModelSpec;
  readonly tokenizer: Tokenizer;
  readonly #pool: WorkerPool;
  readonly #opts: ResolvedInferOptions;

  private constructor(spec: ModelSpec, tokenizer: Tokenizer, pool: WorkerPool, opts: ResolvedInferOptions) {
    this.spec = spec;
    this.tokenizer = tokenizer;
    this.#pool = pool;
    this.#opts = opts;
  }

  /** Loads a cross-encoder model directory (HF layout) and starts its worker sessions. */
  static async load(dir: string, opts?: InferOptions): Promise<CrossEncoder> {
    const o = resolveInferOptions(opts);
    const spec = loadModelDir(dir, { quantized: o.quantized, kind: 'cross-encoder' });
    if (spec.numLabels !== 1 && spec.numLabels !== 2) {
      throw new RangeError(`${spec.dir}: config num_labels is ${spec.numLabels}; a cross-encoder must have 1 logit (sigmoid) or 2 (softmax, positive class = index 1)`);
    }
    const tokenizer = Tokenizer.fromFile(spec.tokenizerPath);
    const pool = await WorkerPool.create({
      modelPath: spec.onnxPath,
      intraOpNumThreads: o.threads,
      interOpNumThreads: 1,
      executionProvider: o.executionProvider,
      cudaFallbackToCpu: o.cudaFallbackToCpu,
      task: { kind: 'logits', numLabels: spec.numLabels },
    }, o.workers);
    return new CrossEncoder(spec, tokenizer, pool, o);
  }

  /** Providers the sessions run on (['cpu'] after an allowed CUDA fall back). */
  get executionProviders(): readonly string[] { return this.#pool.info.executionProviders; }

  /**
   * Scores each passage against the query. Pairs are encoded as [CLS] query [SEP] passage [SEP] and
   * truncated longest-first to the model's max length (override with opts). An empty passage list
   * returns empty arrays.
   */
  async score(query: string, passages: string[], opts?: EncodeOptions): Promise<CrossEncoderScores> {
    if (this.#pool.closed) throw new InferenceClosedError();
    if (typeof query !== 'string') throw new TypeError(`query is ${query === null ? 'null' : typeof query}; expected a non-empty string`);
    if (query.trim().length === 0) throw new RangeError('query is empty; pass the text to rank the passages against');
    checkTexts('passages', passages);
    const encOpts = boundedEncodeOptions(this.spec, opts);
    const n = passages.length;
    if (n === 0) return { logits: new Float32Array(0), probabilities: new Float32Array(0), truncated: new Uint8Array(0), stats: emptyStats() };

    const queries = new Array<string>(n).fill(query);
    const enc = await this.tokenizer.encodeRagged(queries, passages, encOpts);
    const out = await runPlanned(this.#pool, enc, this.tokenizer.padId, this.#opts);
    const logits = new Float32Array(n);
    const probabilities = new Float32Array(n);
    if (out.cols === 1) {
      for (let i = 0; i < n; i++) {
        logits[i] = out.data[i];
        probabilities[i] = expit(out.data[i]);
      }
    } else {
      for (let i = 0; i < n; i++) {
        // softmax([l0, l1])[1] == expit(l1 - l0), computed without overflow for any logits.
        const d = out.data[2 * i + 1] - out.data[2 * i];
        logits[i] = d;
        probabilities[i] = expit(d);
      }
    }
    return { logits, probabilities, truncated: enc.truncated.slice(), stats: out.stats };
  }

  /** Stops the worker threads after their current run; the process can then exit. Idempotent. */
  close(): Promise<void> {
    return this.#pool.close();
  }
}
