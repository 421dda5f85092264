// The decision flow: retrieve -> rerank with a cross-encoder -> gate at a threshold; when nothing passes,
// retrieve again with the fallback mode (keyword or hybrid), rerank and gate those candidates the same way;
// when that fails too, say so and flag the collection for augmenting. One GateDecision says which way it went.
import type { CrossEncoderScores } from '../infer/cross-encoder.js';
import type { PartialResult, ScheduleOptions } from '../infer/scheduler.js';
import type { EncodeOptions } from '../tokenize/tokenizer.js';
import type { Collection } from './collection.js';
import type { ListRank, Reranker, RetrievalMode, RetrievedCandidate, Retriever } from './ports.js';
import { AMBIGUOUS_MESSAGE, buildPrompt, NO_RELEVANT_MESSAGE } from './prompt.js';

/** Candidates retrieved before reranking. 5 as in the original example: enough recall for a short answer. */
export const DEFAULT_TOP_K = 5;
/**
 * Minimum cross-encoder probability for a passage to reach the LLM. 0.2 is the original example's value
 * for ms-marco-MiniLM; it is a property of the model's calibration, so tune it per model.
 */
export const DEFAULT_THRESHOLD = 0.2;

/**
 * - answer: passages from the first retrieval passed the gate;
 * - answer_from_fallback: nothing did, the fallback retrieval (keyword or hybrid) found passages that did;
 * - ambiguous: (only with an `ambiguous` band) the best probability sits between its lower and upper bound,
 *   so the passages above the lower bound go out, marked uncertain;
 * - no_relevant: nothing passed either way; nothing should be generated, and `augment` is true.
 */
export type GateOutcome = 'answer' | 'answer_from_fallback' | 'ambiguous' | 'no_relevant';
export const GATE_OUTCOMES: readonly GateOutcome[] = ['answer', 'answer_from_fallback', 'ambiguous', 'no_relevant'];

/** The second retrieval when the first finds nothing that passes: keyword (BM25), hybrid (RRF), or none. */
export type FallbackMode = 'keyword' | 'hybrid' | 'off';
export const FALLBACK_MODES: readonly FallbackMode[] = ['keyword', 'hybrid', 'off'];
/**
 * Keyword by default: it finds what embeddings miss (error codes, part numbers, rare names), and it runs
 * only when the first retrieval found nothing, so the common path pays nothing for it.
 */
export const DEFAULT_FALLBACK: FallbackMode = 'keyword';

/**
 * CRAG-style two thresholds. A passage is kept at `lower`; the decision is confident (answer) when the best
 * probability reaches `upper`, and `ambiguous` when it sits in [lower, upper).
 */
export interface AmbiguousBand {
  lower: number;
  upper: number;
}

/** What the decision recorder (the gap log) did with a decision; it never fails the search. */
export interface GapRecordStatus {
  path: string;
  /** 'gap' for no_relevant, ambiguous and fallback decisions; 'tally' for answers (no query stored). */
  kind: 'gap' | 'tally';
  /** True once the line is written (and, for a gap, fsynced): acknowledged, it survives a crash. */
  recorded: boolean;
  /** Why it was not recorded. */
  error: string | null;
}

/** Where decisions are recorded (GapLog is the implementation); record() never throws. */
export interface DecisionRecorder {
  record(decision: GateDecision, collection: string): Promise<GapRecordStatus>;
}

/** One reranked passage. */
export interface GateCandidate {
  /** Position in `candidates`: retrieval order (the first retrieval's, then the fallback's new ones), or input position for rerank(). */
  index: number;
  /** Document id (retrieved candidates only). */
  id?: string;
  text: string;
  metadata?: Record<string, unknown>;
  /** The retriever's own score (cosine for dense, BM25 for keyword, RRF for hybrid); null for caller passages. */
  retrievalScore: number | null;
  logit: number;
  probability: number;
  /** True when query + passage exceeded the cross-encoder's max length and the pair was cut. */
  truncated: boolean;
  /** probability >= threshold. */
  kept: boolean;
  /** The retriever that found it ('collection', 'chroma', ...); null for caller passages (rerank()). */
  retriever: string | null;
  /** The mode it was found with; null for caller passages. */
  mode: RetrievalMode | null;
  /** Which lists found it and at which rank, when the retriever says (hybrid). */
  sources?: Partial<Record<'dense' | 'keyword', ListRank>>;
}

/** One retrieval the flow ran (or wanted to run), in order. */
export interface PathStep {
  retriever: string;
  mode: RetrievalMode;
  role: 'primary' | 'fallback';
  /** ran; unavailable (the retriever has no such mode); skipped (same mode as the first retrieval). */
  status: 'ran' | 'unavailable' | 'skipped';
  /** Why it did not run; null when it ran. */
  note: string | null;
  /** Candidates the retriever returned. */
  retrieved: number;
  /** Of those, the ones reranked here: a document an earlier step already scored is not scored twice. */
  scored: number;
  kept: number;
  bestProbability: number | null;
  retrieveMs: number;
  rerankMs: number;
}

/** Why the collection should be augmented: what the flow tried and how close it came. */
export interface AugmentReason {
  bestProbability: number | null;
  /** Distinct candidates reranked over every retrieval. */
  candidates: number;
  /** 'retriever:mode' of every retrieval that ran, in order. */
  retrievers: string[];
  /** The same, as one sentence for people. */
  summary: string;
}

/** Everything the gate decided, in a form a caller can log, show, or send to an LLM. */
export interface GateDecision {
  query: string;
  /** The probability a passage needs to be kept (the band's lower bound when `ambiguous` is set). */
  threshold: number;
  outcome: GateOutcome;
  /** True when the collection lacks a confident answer to this query (no_relevant, ambiguous). */
  augment: boolean;
  /** Why `augment` is true; null otherwise. */
  reason: AugmentReason | null;
  /** The retrievals, in order, with what each found; empty for rerank() of caller passages. */
  path: PathStep[];
  /** The highest probability over every candidate; null when there was none. */
  bestProbability: number | null;
  /** The fallback this decision was made with. */
  fallback: FallbackMode;
  /** The CRAG band, when one was set. */
  ambiguous: AmbiguousBand | null;
  /** Passages that passed, by probability, highest first. */
  kept: GateCandidate[];
  /** Passages below the threshold, by probability, highest first. */
  dropped: GateCandidate[];
  /** Every candidate in retrieval (or input) order. */
  candidates: GateCandidate[];
  /** The grounded prompt built from `kept`; null when nothing passed, so no answer is made up. */
  prompt: string | null;
  /** Why there is no prompt (no_relevant), or why the answer is uncertain (ambiguous); null otherwise. */
  message: string | null;
  /** Sums over the path, and the whole call (gap-log write included). */
  timings: { retrieveMs: number; rerankMs: number; totalMs: number };
  /** Whether the gap log recorded the decision; null when no gap log is configured. */
  gap: GapRecordStatus | null;
}

export interface GateOptions {
  threshold?: number;
  /** Tokenizer options for the query/passage pairs (max length, truncation strategy). */
  encode?: EncodeOptions;
  /** Cancels the rerank: pairs not yet scored are dropped before inference and the call rejects. */
  signal?: AbortSignal;
  /** Called as each micro-batch holding candidates of this call finishes (indices = candidate positions). */
  onPartial?: (p: PartialResult) => void;
  /** Receives the cross-encoder's raw result (token counts, per-stage timings) before gating, once per retrieval. */
  onScores?: (scores: CrossEncoderScores) => void;
  /** Refuse over-long pairs (InputTooLongError) instead of cutting them; see ScheduleOptions.refuseTruncated. */
  refuseTruncated?: boolean;
}

/** Where a batch of candidates handed to onCandidates sits in the decision's `candidates`. */
export interface CandidateBatchInfo {
  /** Index in `candidates` of hits[0] (0 for the first retrieval). */
  offset: number;
  retriever: string;
  mode: RetrievalMode;
  role: 'primary' | 'fallback';
}

export interface SearchOptions extends GateOptions {
  topK?: number;
  /** The first retrieval's mode; default the pipeline's (the retriever's first mode). */
  mode?: RetrievalMode;
  fallback?: FallbackMode;
  /** CRAG band; replaces `threshold` (pass one or the other). null turns off a band set on the pipeline. */
  ambiguous?: AmbiguousBand | null;
  /** Metadata equality filter, passed to the retriever. */
  filter?: Record<string, unknown>;
  /**
   * Called with each retrieval's new candidates (documents an earlier retrieval already returned are left
   * out), in retrieval order, before they are reranked. Throwing here fails the search.
   */
  onCandidates?: (hits: readonly RetrievedCandidate[], info: CandidateBatchInfo) => void;
}

export interface PipelineOptions {
  /** Where candidates come from: a Collection or any other Retriever. */
  retriever?: Retriever;
  /** Accepted for compatibility: the same as `retriever`. */
  collection?: Collection;
  crossEncoder: Reranker;
  topK?: number;
  threshold?: number;
  mode?: RetrievalMode;
  fallback?: FallbackMode;
  ambiguous?: AmbiguousBand | null;
  /** Records no_relevant, ambiguous and fallback decisions; null or absent: nothing is recorded. */
  gapLog?: DecisionRecorder | null;
  /** What the gap log calls this collection (its directory, a URL); default the retriever's name. */
  collectionLabel?: string;
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

/** Throws unless `fallback` is keyword, hybrid or off. */
export function checkFallback(fallback: unknown, name = 'fallback'): FallbackMode {
  if (typeof fallback !== 'string' || !(FALLBACK_MODES as readonly string[]).includes(fallback)) {
    throw new RangeError(`${name} is ${JSON.stringify(fallback)}; expected one of ${FALLBACK_MODES.join(', ')} (default ${DEFAULT_FALLBACK})`);
  }
  return fallback as FallbackMode;
}

/** Throws unless `band` is {lower, upper} with 0 <= lower <= upper <= 1. */
export function checkAmbiguous(band: unknown, name = 'ambiguous'): AmbiguousBand {
  if (band === null || typeof band !== 'object' || Array.isArray(band)) {
    throw new TypeError(`${name} is ${band === null ? 'null' : typeof band}; expected {lower, upper}, two probabilities with lower <= upper`);
  }
  const b = band as Record<string, unknown>;
  const lower = checkThreshold(b.lower, `${name}.lower`);
  const upper = checkThreshold(b.upper, `${name}.upper`);
  if (lower > upper) throw new RangeError(`${name}.lower is ${lower} but ${name}.upper is ${upper}; lower must not exceed upper`);
  return { lower, upper };
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

function best(list: readonly GateCandidate[]): number | null {
  let b: number | null = null;
  for (const c of list) if (b === null || c.probability > b) b = c.probability;
  return b;
}

/** Scores `items` with the cross-encoder; `kept` is probability >= keepAt. onPartial indices are shifted to `candidates` positions. */
async function scoreItems(crossEncoder: Reranker, query: string, items: Unscored[], keepAt: number, opts: GateOptions): Promise<GateCandidate[]> {
  if (items.length === 0) return [];
  const scheduleOpts: ScheduleOptions = { ...opts.encode };
  if (opts.signal) scheduleOpts.signal = opts.signal;
  if (opts.refuseTruncated) scheduleOpts.refuseTruncated = true;
  const offset = items[0].index;
  const onPartial = opts.onPartial;
  if (onPartial) {
    scheduleOpts.onPartial = offset === 0 ? onPartial : (p) => onPartial({ ...p, indices: p.indices.map((i) => i + offset) });
  }
  const scores = await crossEncoder.score(query, items.map((c) => c.text), scheduleOpts);
  opts.onScores?.(scores);
  return items.map((c, i) => {
    const probability = scores.probabilities[i];
    return { ...c, logit: scores.logits[i], probability, truncated: scores.truncated[i] === 1, kept: probability >= keepAt };
  });
}

interface Verdict {
  outcome: GateOutcome;
  keepAt: number;
  band: AmbiguousBand | null;
  fallback: FallbackMode;
  path: PathStep[];
  augmentable: boolean;
}

function describeReason(d: { bestProbability: number | null; candidates: number; retrievers: string[] }, outcome: GateOutcome, keepAt: number, band: AmbiguousBand | null): string {
  const tried = d.retrievers.length > 0 ? d.retrievers.join(' then ') : 'no retriever';
  const bestText = d.bestProbability === null ? 'no candidate was found' : `the best of ${d.candidates} candidate${d.candidates === 1 ? '' : 's'} reached probability ${d.bestProbability.toFixed(4)}`;
  const need = outcome === 'ambiguous' && band ? `below the confident bound ${band.upper}` : `below the threshold ${keepAt}`;
  return `${tried}: ${bestText}${d.bestProbability === null ? '' : `, ${need}`}; add a document that answers this query`;
}

/** Assembles the decision from the scored candidates and the path. */
function decide(query: string, candidates: GateCandidate[], v: Verdict, retrieveMs: number, rerankMs: number, t0: number): GateDecision {
  const kept = candidates.filter((c) => c.kept).sort(byProbability);
  const dropped = candidates.filter((c) => !c.kept).sort(byProbability);
  const bestProbability = best(candidates);
  const augment = v.augmentable && (v.outcome === 'no_relevant' || v.outcome === 'ambiguous');
  let reason: AugmentReason | null = null;
  if (augment) {
    const r = { bestProbability, candidates: candidates.length, retrievers: v.path.filter((s) => s.status === 'ran').map((s) => `${s.retriever}:${s.mode}`) };
    reason = { ...r, summary: describeReason(r, v.outcome, v.keepAt, v.band) };
  }
  const answered = v.outcome !== 'no_relevant';
  return {
    query,
    threshold: v.keepAt,
    outcome: v.outcome,
    augment,
    reason,
    path: v.path,
    bestProbability,
    fallback: v.fallback,
    ambiguous: v.band,
    kept,
    dropped,
    candidates,
    prompt: answered ? buildPrompt(query, kept, { uncertain: v.outcome === 'ambiguous' }) : null,
    message: v.outcome === 'no_relevant' ? NO_RELEVANT_MESSAGE : v.outcome === 'ambiguous' ? AMBIGUOUS_MESSAGE : null,
    timings: { retrieveMs, rerankMs, totalMs: performance.now() - t0 },
    gap: null,
  };
}

/**
 * Reranks caller-supplied passages (no collection) and gates them. An empty list is a valid,
 * empty result (outcome no_relevant); a non-string item is an error naming its index.
 */
export async function rerank(crossEncoder: Reranker, query: string, passages: readonly string[], opts: GateOptions = {}): Promise<GateDecision> {
  const t0 = performance.now();
  checkQuery(query);
  const texts = checkPassages(passages);
  const threshold = checkThreshold(opts.threshold ?? crossEncoder.calibration?.threshold ?? DEFAULT_THRESHOLD);
  const items: Unscored[] = texts.map((text, index) => ({ index, text, retrievalScore: null, retriever: null, mode: null }));
  const t1 = performance.now();
  const candidates = await scoreItems(crossEncoder, query, items, threshold, opts);
  const rerankMs = performance.now() - t1;
  const outcome: GateOutcome = candidates.some((c) => c.kept) ? 'answer' : 'no_relevant';
  // No collection stands behind caller passages, so there is nothing to augment.
  return decide(query, candidates, { outcome, keepAt: threshold, band: null, fallback: 'off', path: [], augmentable: false }, 0, rerankMs, t0);
}

/** retrieve -> rerank -> gate, with a fallback retrieval, over any Retriever (a Collection included). */
export class PrecisionPipeline {
  readonly retriever: Retriever;
  readonly crossEncoder: Reranker;
  readonly topK: number;
  readonly threshold: number;
  readonly mode: RetrievalMode;
  readonly fallback: FallbackMode;
  readonly ambiguous: AmbiguousBand | null;
  readonly gapLog: DecisionRecorder | null;
  readonly collectionLabel: string;

  constructor(opts: PipelineOptions) {
    const retriever = opts.retriever ?? opts.collection;
    if (!retriever) throw new TypeError('PrecisionPipeline needs a retriever (a Collection or any Retriever); pass {retriever, crossEncoder}');
    if (opts.retriever && opts.collection && opts.retriever !== opts.collection) {
      throw new TypeError('PrecisionPipeline got both retriever and collection; pass one (collection is the old name of retriever)');
    }
    this.retriever = retriever;
    this.crossEncoder = opts.crossEncoder;
    this.topK = checkTopK(opts.topK ?? DEFAULT_TOP_K);
    if (opts.ambiguous && opts.threshold !== undefined) {
      throw new RangeError('threshold and ambiguous were both given; with an ambiguous band passages are kept at ambiguous.lower, so pass one or the other');
    }
    // A calibrated reranker's threshold (chosen on held-out labels by `crossgate calibrate`) is the default.
    this.threshold = checkThreshold(opts.threshold ?? opts.crossEncoder.calibration?.threshold ?? DEFAULT_THRESHOLD);
    this.ambiguous = opts.ambiguous ? checkAmbiguous(opts.ambiguous) : null;
    this.mode = opts.mode ?? retriever.modes[0];
    this.#checkMode(this.mode, 'mode');
    this.fallback = checkFallback(opts.fallback ?? DEFAULT_FALLBACK);
    this.gapLog = opts.gapLog ?? null;
    this.collectionLabel = opts.collectionLabel ?? retriever.name;
  }

  /** The old name of `retriever`, kept for callers written before the Retriever seam. */
  get collection(): Retriever {
    return this.retriever;
  }

  #checkMode(mode: unknown, name: string): RetrievalMode {
    if (typeof mode !== 'string' || !(this.retriever.modes as readonly string[]).includes(mode)) {
      throw new RangeError(`${name} is ${JSON.stringify(mode)}; retriever "${this.retriever.name}" supports ${this.retriever.modes.join(', ')}`);
    }
    return mode as RetrievalMode;
  }

  /**
   * Retrieves the top-k candidates for `query`, reranks them and applies the gate; when nothing is
   * confident, runs the fallback retrieval and gates its new candidates the same way. Records the
   * decision in the gap log (when one is set) before returning; a failing log never fails the search.
   */
  async search(query: string, opts: SearchOptions = {}): Promise<GateDecision> {
    const t0 = performance.now();
    checkQuery(query);
    const topK = checkTopK(opts.topK ?? this.topK);
    if (opts.ambiguous && opts.threshold !== undefined) {
      throw new RangeError('threshold and ambiguous were both given; with an ambiguous band passages are kept at ambiguous.lower, so pass one or the other');
    }
    const band = opts.ambiguous === null ? null : opts.ambiguous ? checkAmbiguous(opts.ambiguous) : opts.threshold !== undefined ? null : this.ambiguous;
    const threshold = checkThreshold(opts.threshold ?? this.threshold);
    const keepAt = band ? band.lower : threshold;
    const confidentAt = band ? band.upper : threshold;
    const primary = opts.mode === undefined ? this.mode : this.#checkMode(opts.mode, 'mode');
    const fallback = opts.fallback === undefined ? this.fallback : checkFallback(opts.fallback);
    const r = this.retriever;

    const candidates: GateCandidate[] = [];
    const seen = new Set<string>();
    const path: PathStep[] = [];
    let retrieveMs = 0;
    let rerankMs = 0;
    const run = async (mode: RetrievalMode, role: 'primary' | 'fallback'): Promise<GateCandidate[]> => {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const tr = performance.now();
      const retrieveOpts: Parameters<Retriever['retrieve']>[1] = { k: topK, mode };
      if (opts.filter) retrieveOpts.filter = opts.filter;
      if (opts.signal) retrieveOpts.signal = opts.signal;
      const hits = await r.retrieve(query, retrieveOpts);
      const stepRetrieveMs = performance.now() - tr;
      const fresh = hits.filter((h) => !seen.has(h.id));
      for (const h of fresh) seen.add(h.id);
      const offset = candidates.length;
      opts.onCandidates?.(fresh, { offset, retriever: r.name, mode, role });
      const items: Unscored[] = fresh.map((h, j) => {
        const item: Unscored = { index: offset + j, id: h.id, text: h.text, retrievalScore: h.score, retriever: r.name, mode };
        if (h.metadata !== undefined) item.metadata = h.metadata;
        if (h.sources !== undefined) item.sources = h.sources;
        return item;
      });
      const ts = performance.now();
      const scored = await scoreItems(this.crossEncoder, query, items, keepAt, opts);
      const stepRerankMs = performance.now() - ts;
      candidates.push(...scored);
      retrieveMs += stepRetrieveMs;
      rerankMs += stepRerankMs;
      path.push({
        retriever: r.name, mode, role, status: 'ran', note: null, retrieved: hits.length, scored: scored.length,
        kept: scored.filter((c) => c.kept).length, bestProbability: best(scored), retrieveMs: stepRetrieveMs, rerankMs: stepRerankMs,
      });
      return scored;
    };

    const first = await run(primary, 'primary');
    let outcome: GateOutcome | null = null;
    const firstBest = best(first);
    if (firstBest !== null && firstBest >= confidentAt) outcome = 'answer';
    if (outcome === null && fallback !== 'off') {
      const skip = (status: 'unavailable' | 'skipped', note: string): void => {
        path.push({ retriever: r.name, mode: fallback, role: 'fallback', status, note, retrieved: 0, scored: 0, kept: 0, bestProbability: null, retrieveMs: 0, rerankMs: 0 });
      };
      if (fallback === primary) {
        skip('skipped', `the first retrieval already used ${fallback}`);
      } else if (!r.modes.includes(fallback)) {
        skip('unavailable', `retriever "${r.name}" has no ${fallback} mode (it supports ${r.modes.join(', ')})`);
      } else {
        const second = await run(fallback, 'fallback');
        const secondBest = best(second);
        if (secondBest !== null && secondBest >= confidentAt) outcome = 'answer_from_fallback';
      }
    }
    if (outcome === null) {
      const overall = best(candidates);
      outcome = overall !== null && overall >= keepAt ? 'ambiguous' : 'no_relevant';
    }
    const decision = decide(query, candidates, { outcome, keepAt, band, fallback, path, augmentable: true }, retrieveMs, rerankMs, t0);
    if (this.gapLog) {
      decision.gap = await this.gapLog.record(decision, this.collectionLabel);
      decision.timings.totalMs = performance.now() - t0;
    }
    return decision;
  }
}

/**
 * The two-valued outcome of surfaces that predate the decision flow (the WS `final` frame, its flatbuffers
 * enum): every outcome that sends passages on is 'answer'.
 */
export function coarseOutcome(outcome: GateOutcome): 'answer' | 'no_relevant' {
  return outcome === 'no_relevant' ? 'no_relevant' : 'answer';
}
