// The precision gate: retrieve top-k by cosine, rerank them with a cross-encoder, keep those whose
// probability clears a threshold, and return a GateDecision that says why each passage stayed or went.
import type { CrossEncoderScores } from '../infer/cross-encoder.js';
import type { Reranker } from './ports.js';
import type { PartialResult, ScheduleOptions } from '../infer/scheduler.js';
import type { EncodeOptions } from '../tokenize/tokenizer.js';
import type { Collection, RetrievedDocument } from './collection.js';
import type { RetrievalMode } from './ports.js';
import { buildPrompt, NO_RELEVANT_MESSAGE } from './prompt.js';

/** Candidates retrieved before reranking. 5 as in the original example: enough recall for a short answer. */
export const DEFAULT_TOP_K = 5;
/**
 * Minimum cross-encoder probability for a passage to reach the LLM. 0.2 is the original example's value
 * for ms-marco-MiniLM; it is a property of the model's calibration, so tune it per model.
 */
export const DEFAULT_THRESHOLD = 0.2;

export type GateOutcome = 'answer' | 'no_relevant';

/** One reranked passage. */
export interface GateCandidate {
  /** Position in the candidate list: retrieval rank for a collection search, input position for rerank(). */
  index: number;
  /** Document id (collection searches only). */
  id?: string;
  text: string;
  metadata?: Record<string, unknown>;
  /** Cosine similarity from the bi-encoder; null when the passages did not come from retrieval. */
  retrievalScore: number | null;
  logit: number;
  probability: number;
  /** True when query + passage exceeded the cross-encoder's max length and the pair was cut. */
  truncated: boolean;
  /** probability >= threshold. */
  kept: boolean;
}

/** Everything the gate decided, in a form a caller can log, show, or send to an LLM. */
export interface GateDecision {
  query: string;
  threshold: number;
  outcome: GateOutcome;
  /** Passages that passed, by probability, highest first. */
  kept: GateCandidate[];
  /** Passages below the threshold, by probability, highest first. */
  dropped: GateCandidate[];
  /** Every candidate in retrieval (or input) order. */
  candidates: GateCandidate[];
  /** The grounded prompt built from `kept`; null when nothing passed, so no answer is made up. */
  prompt: string | null;
  /** Why there is no prompt (no_relevant only). */
  message: string | null;
  timings: { retrieveMs: number; rerankMs: number };
}

export interface GateOptions {
  threshold?: number;
  /** Tokenizer options for the query/passage pairs (max length, truncation strategy). */
  encode?: EncodeOptions;
  /** Cancels the rerank: pairs not yet scored are dropped before inference and the call rejects. */
  signal?: AbortSignal;
  /** Called as each micro-batch holding candidates of this call finishes (indices = candidate positions). */
  onPartial?: (p: PartialResult) => void;
  /** Receives the cross-encoder's raw result (token counts, per-stage timings) before gating. */
  onScores?: (scores: CrossEncoderScores) => void;
  /** Refuse over-long pairs (InputTooLongError) instead of cutting them; see ScheduleOptions.refuseTruncated. */
  refuseTruncated?: boolean;
}

export interface SearchOptions extends GateOptions {
  topK?: number;
  /** How the collection retrieves: dense, keyword or hybrid. Default: the pipeline's mode. */
  mode?: RetrievalMode;
  /** Called with the retrieved documents, in retrieval order, before reranking starts. */
  onCandidates?: (hits: readonly RetrievedDocument[]) => void;
}

/** Throws unless `threshold` is a probability in [0, 1]. */
export function checkThreshold(threshold: unknown, name = 'threshold'): number {
  if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < 0 || threshold > 1) {
    throw new RangeError(`${name} is ${String(threshold)}; expected a probability between 0 and 1 (default ${DEFAULT_THRESHOLD})`);
  }
  return threshold;
}

/** Throws unless `topK` is a positive integer. */
export function checkTopK(topK: unknown): number {
  if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 1) {
    throw new RangeError(`topK is ${String(topK)}; expected a positive integer (default ${DEFAULT_TOP_K})`);
  }
  return topK;
}

/** Throws unless `query` is a non-blank string. */
export function checkQuery(query: unknown): string {
  if (typeof query !== 'string') throw new TypeError(`query is ${query === null ? 'null' : typeof query}; expected a string`);
  if (query.trim().length === 0) throw new RangeError('query is empty; pass the question to rank passages against');
  return query;
}

/** Throws unless `passages` is an array of strings, naming the first bad item. */
export function checkPassages(passages: unknown): string[] {
  if (!Array.isArray(passages)) throw new TypeError(`passages is ${passages === null ? 'null' : typeof passages}; expected an array of strings`);
  passages.forEach((p, i) => {
    if (typeof p !== 'string') {
      throw new TypeError(`passages[${i}] is ${p === null ? 'null' : Array.isArray(p) ? 'an array' : typeof p}; expected a string`);
    }
  });
  return passages as string[];
}

type Unscored = Omit<GateCandidate, 'logit' | 'probability' | 'truncated' | 'kept'>;

const byProbability = (a: GateCandidate, b: GateCandidate): number => b.probability - a.probability || a.index - b.index;

/** Scores `items` with the cross-encoder and splits them at `threshold`. */
async function scoreAndGate(
  crossEncoder: Reranker,
  query: string,
  items: Unscored[],
  threshold: number,
  opts: GateOptions,
  retrieveMs: number,
): Promise<GateDecision> {
  const t0 = performance.now();
  const candidates: GateCandidate[] = [];
  if (items.length > 0) {
    const scheduleOpts: ScheduleOptions = { ...opts.encode };
    if (opts.signal) scheduleOpts.signal = opts.signal;
    if (opts.onPartial) scheduleOpts.onPartial = opts.onPartial;
    if (opts.refuseTruncated) scheduleOpts.refuseTruncated = true;
    const scores = await crossEncoder.score(query, items.map((c) => c.text), scheduleOpts);
    opts.onScores?.(scores);
    items.forEach((c, i) => {
      const probability = scores.probabilities[i];
      candidates.push({ ...c, logit: scores.logits[i], probability, truncated: scores.truncated[i] === 1, kept: probability >= threshold });
    });
  }
  const rerankMs = performance.now() - t0;
  const kept = candidates.filter((c) => c.kept).sort(byProbability);
  const dropped = candidates.filter((c) => !c.kept).sort(byProbability);
  const outcome: GateOutcome = kept.length > 0 ? 'answer' : 'no_relevant';
  return {
    query,
    threshold,
    outcome,
    kept,
    dropped,
    candidates,
    prompt: outcome === 'answer' ? buildPrompt(query, kept) : null,
    message: outcome === 'answer' ? null : NO_RELEVANT_MESSAGE,
    timings: { retrieveMs, rerankMs },
  };
}

/**
 * Reranks caller-supplied passages (no collection) and gates them. An empty list is a valid,
 * empty result (outcome no_relevant); a non-string item is an error naming its index.
 */
export async function rerank(crossEncoder: Reranker, query: string, passages: readonly string[], opts: GateOptions = {}): Promise<GateDecision> {
  checkQuery(query);
  const texts = checkPassages(passages);
  const threshold = checkThreshold(opts.threshold ?? DEFAULT_THRESHOLD);
  const items: Unscored[] = texts.map((text, index) => ({ index, text, retrievalScore: null }));
  return scoreAndGate(crossEncoder, query, items, threshold, opts, 0);
}

/** retrieve -> rerank -> gate over a Collection. */
export class PrecisionPipeline {
  readonly collection: Collection;
  readonly crossEncoder: Reranker;
  readonly topK: number;
  readonly threshold: number;
  /** Retrieval mode passed to the collection; undefined: the collection's default. */
  readonly mode: RetrievalMode | undefined;

  constructor(opts: { collection: Collection; crossEncoder: Reranker; topK?: number; threshold?: number; mode?: RetrievalMode }) {
    this.collection = opts.collection;
    this.crossEncoder = opts.crossEncoder;
    this.topK = checkTopK(opts.topK ?? DEFAULT_TOP_K);
    this.threshold = checkThreshold(opts.threshold ?? DEFAULT_THRESHOLD);
    this.mode = opts.mode;
  }

  /** Retrieves the top-k documents for `query`, reranks them and applies the threshold. */
  async search(query: string, opts: SearchOptions = {}): Promise<GateDecision> {
    checkQuery(query);
    const topK = checkTopK(opts.topK ?? this.topK);
    const threshold = checkThreshold(opts.threshold ?? this.threshold);
    const t0 = performance.now();
    if (opts.signal?.aborted) throw opts.signal.reason;
    const hits = await this.collection.search(query, topK, opts.mode ?? this.mode);
    const retrieveMs = performance.now() - t0;
    opts.onCandidates?.(hits);
    const items: Unscored[] = hits.map((h, index) => {
      const item: Unscored = { index, id: h.id, text: h.text, retrievalScore: h.score };
      if (h.metadata !== undefined) item.metadata = h.metadata;
      return item;
    });
    return scoreAndGate(this.crossEncoder, query, items, threshold, opts, retrieveMs);
  }
}
