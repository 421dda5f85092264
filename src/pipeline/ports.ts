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
