// The seams the pipeline, the decision flow, the CLI and the server depend on: where candidates come from
// (a Retriever), never a concrete index or database client. The built-in Collection is one implementation.

/** How a retriever finds candidates: by embedding similarity, by keyword (BM25), or both fused (RRF). */
export type RetrievalMode = 'dense' | 'keyword' | 'hybrid';

/** Where a candidate came from in one list: its 1-based rank there and that list's own score. */
export interface ListRank {
  rank: number;
  score: number;
}

/** One retrieved candidate, before reranking. */
export interface RetrievedCandidate {
  id: string;
  text: string;
  metadata?: Record<string, unknown>;
  /** The retriever's own score: cosine for dense, BM25 for keyword, the fused RRF score for hybrid. */
  score: number;
  /** Which lists found it and at which rank (hybrid fills both when both found it). */
  sources?: Partial<Record<'dense' | 'keyword', ListRank>>;
}

export interface RetrieveOptions {
  /** Candidates wanted (a positive integer). */
  k: number;
  /** Default: the retriever's first mode. */
  mode?: RetrievalMode;
  /**
   * Hybrid only: per-list weights for reciprocal rank fusion (score = sum of weight / (rrfK + rank)).
   * Default 1 each.
   */
  weights?: Partial<Record<'dense' | 'keyword', number>>;
  /** Hybrid only: the RRF rank constant. Default 60, as Elasticsearch and LangChain use. */
  rrfK?: number;
  /** Metadata equality filter, passed through to engines that support one. */
  filter?: Record<string, unknown>;
  signal?: AbortSignal;
}

/** Anything that can turn a query into ranked candidates. */
export interface Retriever {
  /** Short name for decisions, logs and metrics: 'collection', 'chroma', 'postgres'. */
  readonly name: string;
  /** The modes this retriever can run, the default first. */
  readonly modes: readonly RetrievalMode[];
  retrieve(query: string, opts: RetrieveOptions): Promise<RetrievedCandidate[]>;
}

// ---------------------------------------------------------------------------------------------
// The model seams: what the server and the pipeline ask of a cross-encoder and a bi-encoder. The
// concrete CrossEncoder and BiEncoder (src/infer) implement them; nothing above infer reaches into
// their scheduler, spec or tokenizer.
// ---------------------------------------------------------------------------------------------

import type { Calibration } from '../infer/calibration.js';
import type { CrossEncoderScores } from '../infer/cross-encoder.js';
import type { Embeddings } from '../infer/bi-encoder.js';
import type { BatchEvent, RequestTimings, ScheduleOptions } from '../infer/scheduler.js';
import type { EncodeOptions, TokenSpan } from '../tokenize/tokenizer.js';

/** Queue counters and a per-batch hook, for metrics. */
export interface QueueObserver {
  readonly queuedRows: number;
  readonly queuedTokens: number;
  onBatch: ((b: BatchEvent) => void) | undefined;
}

/** What every served model offers, whatever it computes. */
export interface ModelPort {
  /** The model's own name (config / folder). */
  readonly modelName: string;
  /** The folder that was loaded (a hub repo id shows as its cache snapshot). */
  readonly dir: string;
  /** Longest input (or pair) the model takes, in tokens. */
  readonly maxLength: number;
  readonly executionProviders: readonly string[];
  readonly queue: QueueObserver;
  /** Special tokens added to one text (pair=false) or one pair (pair=true). */
  specialTokenCount(pair: boolean): number;
  /** Tokens per text, or per (text, pairs[i]) pair, as encoded with `opts`; long inputs off the event loop. */
  countTokens(texts: string[], pairs: string[] | null, opts?: EncodeOptions): Promise<Int32Array>;
  /** countTokens, synchronously (small inputs only). */
  countTokensSync(texts: string[], pairs: string[] | null, opts?: EncodeOptions): Int32Array;
  /** Each text's tokens with their UTF-8 byte offsets (no truncation). */
  tokenize(texts: string[], addSpecialTokens: boolean): Promise<TokenSpan[][]>;
  /** Runs the largest micro-batches once on every worker, so memory reaches its plateau before traffic. */
  warmUp(): Promise<void>;
  close(): Promise<void>;
}

/** Scores (query, passage) pairs: a relevance logit and probability per passage. */
export interface Reranker extends ModelPort {
  readonly kind: 'cross-encoder';
  readonly numLabels: number;
  readonly activation: string;
  /**
   * The calibration its probabilities go through (`crossgate calibrate` wrote calibration.json), or
   * null/absent for the raw expit. `describe()` gives what /info reports: method, a, b, threshold, data
   * size, date and file; its `threshold` is the default gate threshold for this model.
   */
  readonly calibration?: Calibration | null;
  score(query: string, passages: string[], opts?: ScheduleOptions): Promise<CrossEncoderScores & { timings: RequestTimings }>;
}

/** Turns texts into vectors. */
export interface Embedder extends ModelPort {
  readonly kind: 'bi-encoder';
  readonly dim: number;
  readonly pooling: string;
  /** True when the model L2-normalises its vectors itself. */
  readonly normalizes: boolean;
  embed(texts: string[], opts?: ScheduleOptions): Promise<Float32Array[]>;
  embedDetailed(texts: string[], opts?: ScheduleOptions): Promise<Embeddings & { timings: RequestTimings }>;
}

// The concrete encoders fit the seams (checked by the compiler; infer itself never imports upward).
import type { CrossEncoder } from '../infer/cross-encoder.js';
import type { BiEncoder } from '../infer/bi-encoder.js';
type Fits<T extends U, U> = T;
export type CrossEncoderIsAReranker = Fits<CrossEncoder, Reranker>;
export type BiEncoderIsAnEmbedder = Fits<BiEncoder, Embedder>;
