// The shared state every HTTP route and the WebSocket protocol see: config, metrics, the served models,
// the optional collection, the lifecycle phase, admission (max_concurrent_requests) and auth.
import type { Embedder, Reranker } from '../pipeline/ports.js';
import type { Collection } from '../pipeline/collection.js';
import type { PrecisionPipeline } from '../pipeline/precision.js';
import type { RetrieverLink } from '../retrievers/link.js';
import type { GapLog } from '../pipeline/gaps.js';
import type { LlmClient } from '../llm/client.js';
import type { ServerConfig } from './limits.js';
import type { ServerMetrics } from './metrics.js';

export interface ServedReranker {
  readonly name: string;
  readonly kind: 'cross-encoder';
  readonly dir: string;
  readonly encoder: Reranker;
}

export interface ServedEmbedder {
  readonly name: string;
  readonly kind: 'bi-encoder';
  readonly dir: string;
  readonly encoder: Embedder;
}

export type ServedModel = ServedReranker | ServedEmbedder;

/**
 * loading -> warming -> ready -> draining -> closed. /ready answers 200 only in `ready`; new requests
 * are refused (503 not_ready / draining) in every other phase.
 */
export type ServerPhase = 'loading' | 'warming' | 'ready' | 'draining' | 'closed';

export interface ServerContext {
  readonly config: ServerConfig;
  readonly metrics: ServerMetrics;
  /** Served cross-encoders by name; the first one is the default for requests that name no model. */
  readonly rerankers: ReadonlyMap<string, ServedReranker>;
  /** Served bi-encoders by name (may be empty). */
  readonly embedders: ReadonlyMap<string, ServedEmbedder>;
  /** The collection `/search` and WS `search` query, with the pipeline over it; null when none is served. */
  readonly collection: Collection | null;
  /** The outside engine `/search` retrieves from instead of a collection (serve --retriever); null when none. */
  readonly retriever: RetrieverLink | null;
  readonly pipeline: PrecisionPipeline | null;
  /** Where the pipeline records unanswered decisions (GET /gaps reads it); null when off or no collection is served. */
  readonly gapLog: GapLog | null;
  /** The LLM POST /ask and WS ask generate with; null: ask returns the decision and the prompt. */
  readonly llm: LlmClient | null;
  readonly phase: ServerPhase;

  /** The named reranker, or the default; throws ApiError('validation') listing the served names. */
  reranker(name?: string | null): ServedReranker;
  /** The named embedder, or the default; throws ApiError('validation') when none or unknown. */
  embedder(name?: string | null): ServedEmbedder;
  /** Throws ApiError('not_ready' | 'draining') unless the phase is `ready`. */
  checkServing(): void;
  /** Throws ApiError('unauthorized') when an API key is configured and the header does not carry it. */
  checkAuth(authorization: string | undefined): void;
  /**
   * Takes one of max_concurrent_requests slots (HTTP request or WS request alike) or throws
   * ApiError('overloaded'). Call the returned function exactly once when the request ends.
   */
  admit(): () => void;
  /** Registers in-flight work so a graceful shutdown can wait for it (within shutdown_grace_ms). */
  track<T>(work: Promise<T>): Promise<T>;
}
