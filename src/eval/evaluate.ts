// Runs a test collection's judged queries through a Retriever (and optionally a cross-encoder rerank of
// the top N), builds the TREC run, scores it with trec_eval's metrics and sweeps the gate's threshold.
import type { RetrievalMode, Retriever } from '../pipeline/ports.js';
import { gateSweep, DEFAULT_SWEEP, type GateQuery, type GateSweep } from './gate-sweep.js';
import { countRelevant, evaluateRun, type Qrels, type Run, type RunEvaluation, type ScoredDoc } from './metrics.js';

/** What the evaluation needs from a cross-encoder (CrossEncoder satisfies it). */
export interface EvalReranker {
  score(query: string, passages: string[]): Promise<{ logits: Float32Array; probabilities: Float32Array }>;
}

/** Documents retrieved per query without a rerank: enough for Recall@100 and MAP@100. */
export const DEFAULT_DEPTH = 100;
/** Documents reranked per query: BEIR's rerank depth, which keeps Recall@100 a first-stage measure. */
export const DEFAULT_RERANK_TOP = 100;
/** Queries in flight at once: lets the cross-encoder's scheduler pack pairs of several queries per batch. */
const CONCURRENCY = 4;

export interface EvaluateOptions {
  retriever: Retriever;
  mode: RetrievalMode;
  /** Query texts by id; only queries in `qrels` run. */
  queries: ReadonlyMap<string, { text: string }>;
  qrels: Qrels;
  /** Retrieval depth without a rerank (default 100). */
  depth?: number;
  rerank?: { reranker: EvalReranker; top?: number; gateTopK: number; thresholds?: readonly number[] };
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface EvaluateResult {
  /** The run the metrics are computed on: retrieval scores, or with a rerank the top N by raw logit. */
  run: Run;
  evaluation: RunEvaluation;
  /** The retrieval run's metrics when a rerank ran (what the rerank changed); null otherwise. */
  firstStage: RunEvaluation | null;
  gate: GateSweep | null;
  /** Documents retrieved per query. */
  depth: number;
  /** Pairs scored by the cross-encoder. */
  pairsScored: number;
  elapsedMs: number;
}

/** Runs `work` over `items`, `limit` at a time; after the first failure no new item starts. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !failed) {
      const item = items[next++];
      try {
        await work(item);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  });
  await Promise.all(runners);
}

export async function evaluate(opts: EvaluateOptions): Promise<EvaluateResult> {
  const t0 = performance.now();
  const rerank = opts.rerank;
  const top = rerank?.top ?? DEFAULT_RERANK_TOP;
  if (rerank) {
    if (!Number.isInteger(top) || top < 1) throw new RangeError(`rerank top is ${top}; expected a positive integer (default ${DEFAULT_RERANK_TOP})`);
    if (!Number.isInteger(rerank.gateTopK) || rerank.gateTopK < 1 || rerank.gateTopK > top) {
      throw new RangeError(`the gate's top-k is ${rerank.gateTopK}; it must be between 1 and the rerank depth ${top} (the gate sees the first k retrieved, all of them reranked)`);
    }
  }
  const depth = rerank ? top : opts.depth ?? DEFAULT_DEPTH;
  // Only queries that can be evaluated run: the others are excluded from every mean anyway.
  const qids = [...opts.qrels.keys()].filter((q) => countRelevant(opts.qrels.get(q)!) > 0);
  for (const q of qids) if (!opts.queries.has(q)) throw new Error(`query "${q}" is judged but has no text; pass the queries file of the same collection`);
  const firstRun: Run = new Map();
  const finalRun: Run = new Map();
  const gateQueries = new Map<string, GateQuery>();
  let done = 0;
  let pairsScored = 0;
  opts.onProgress?.(0, qids.length);
  await pool(qids, CONCURRENCY, async (qid) => {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const text = opts.queries.get(qid)!.text;
    const hits = await opts.retriever.retrieve(text, { k: depth, mode: opts.mode, signal: opts.signal });
    const first: ScoredDoc[] = hits.map((h) => ({ docId: h.id, score: h.score }));
    firstRun.set(qid, first);
    if (rerank && hits.length > 0) {
      const scores = await rerank.reranker.score(text, hits.map((h) => h.text));
      pairsScored += hits.length;
      finalRun.set(qid, hits.map((h, i) => ({ docId: h.id, score: scores.logits[i] })));
      gateQueries.set(qid, { qid, candidates: hits.slice(0, rerank.gateTopK).map((h, i) => ({ docId: h.id, probability: scores.probabilities[i] })) });
    } else {
      finalRun.set(qid, first);
      if (rerank) gateQueries.set(qid, { qid, candidates: [] });
    }
    opts.onProgress?.(++done, qids.length);
  });
  // Runs and the gate list keep the qrels' query order, whatever order the concurrent queries finished in.
  const ordered = (run: Run): Run => new Map(qids.filter((q) => run.has(q)).map((q) => [q, run.get(q)!]));
  const run = ordered(finalRun);
  const evaluation = evaluateRun(opts.qrels, run);
  return {
    run,
    evaluation,
    firstStage: rerank ? evaluateRun(opts.qrels, ordered(firstRun)) : null,
    gate: rerank ? gateSweep(qids.map((q) => gateQueries.get(q)!), opts.qrels, rerank.thresholds ?? DEFAULT_SWEEP) : null,
    depth,
    pairsScored,
    elapsedMs: performance.now() - t0,
  };
}
