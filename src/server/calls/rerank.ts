// Rerank and search as the server runs them (HTTP and WS alike): per-request limits, the deadline, the
// truncate=false length check, the gate, and the metrics. Inputs arrive typed (validated at the edge);
// only the checks that need the model or the config happen here.
import { RetrieverError } from '../../retrievers/errors.js';
import { DEFAULT_THRESHOLD, DEFAULT_TOP_K, rerank, type FallbackMode, type GateDecision } from '../../pipeline/precision.js';
import type { RetrievalMode } from '../../pipeline/ports.js';
import type { CrossEncoderScores } from '../../infer/cross-encoder.js';
import { InputTooLongError } from '../../infer/errors.js';
import type { EncodeOptions } from '../../tokenize/tokenizer.js';
import type { ServedReranker, ServerContext } from '../context.js';
import { ApiError, fmt, limitError } from '../errors.js';
import { checkDocumentCount, shown } from '../validate.js';
import {
  callError, checkFiniteScores, checkLengths, deadline, raceSignal, recordTimings, timingsOf, tokenLimit, tooLongError,
  type PartialResult, type RequestTimings, type TokenLimit, type WithTimings,
} from './common.js';

export interface RerankCall {
  /** Metrics label, e.g. '/rerank', '/v2/rerank', 'ws:rerank'. */
  route: string;
  model?: string | null;
  query: string;
  documents: string[];
  /** Default: config.autoTruncate. false + too long -> ApiError input_too_long (422) naming documents[i]. */
  truncate?: boolean | null;
  truncationDirection?: 'left' | 'right';
  /** Cohere max_tokens_per_doc. */
  maxTokensPerDoc?: number;
  /** Gate threshold, default 0.2. */
  threshold?: number;
  /** Cancel / client gone: pending rows dropped before inference. */
  signal?: AbortSignal;
  onPartial?: (p: PartialResult) => void;
  /** How the request names its list, for error messages: 'texts' (TEI), 'documents' (Cohere), 'passages' (WS). */
  documentsField?: string;
  /** WS request id, carried into ApiErrors. */
  requestId?: string;
}

export interface RerankResult {
  decision: GateDecision;
  timings: RequestTimings;
  model: string;
  /** Real (unpadded) tokens scored, query included in every pair. */
  tokens: number;
}

function checkQueryField(query: string, requestId?: string): string {
  if (query.trim().length === 0) throw new ApiError('validation', 'query is empty; pass the text to rank the documents against', { field: 'query', requestId });
  return query;
}

/** The request's threshold, else the reranker's calibrated one (calibration.json), else DEFAULT_THRESHOLD. */
function checkThresholdField(t: unknown, requestId: string | undefined, calibrated: number | undefined): number {
  if (t === undefined || t === null) return calibrated ?? DEFAULT_THRESHOLD;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > 1) {
    throw new ApiError('validation', `threshold must be a probability from 0 to 1 (default ${DEFAULT_THRESHOLD}); got ${shown(t)}`, { field: 'threshold', requestId });
  }
  return t;
}

/**
 * Encode options for a rerank: the pair limit, the cut side, and Cohere's per-document cap. `check` is
 * what a request with truncation off is measured with: the documents cut to max_tokens_per_doc (that is
 * asked for, so it is no reason to refuse) but nothing cut for the pair limit.
 */
function rerankEncodeOptions(served: ServedReranker, query: string, lim: TokenLimit, call: RerankCall): { encode: EncodeOptions; check: EncodeOptions } {
  const model = served.encoder;
  const special = model.specialTokenCount(true);
  const encode: EncodeOptions = { maxLength: Math.max(lim.max, special + 1) };
  const check: EncodeOptions = { maxLength: Infinity };
  if (call.truncationDirection) encode.side = check.side = call.truncationDirection;
  if (call.maxTokensPerDoc === undefined) return { encode, check };
  const m = call.maxTokensPerDoc;
  if (!Number.isInteger(m) || m < 1) throw new ApiError('validation', `max_tokens_per_doc must be an integer >= 1; got ${shown(m)}`, { field: 'max_tokens_per_doc', requestId: call.requestId });
  // Cohere's semantics: each document is cut to max_tokens_per_doc; the query is not. only_second cuts the
  // document alone, so the pair is the whole query + at most m document tokens + the special tokens; the
  // pair limit (model max, max_input_tokens) then cuts the document further, never the query.
  const queryTokens = model.countTokensSync([query], null, { maxLength: Infinity })[0] - model.specialTokenCount(false);
  const cut = queryTokens + m + special;
  check.maxLength = cut;
  check.truncation = 'only_second';
  if (queryTokens + special < lim.max) {
    encode.maxLength = Math.min(lim.max, cut);
    encode.truncation = 'only_second';
  }
  // Otherwise the query alone fills the pair limit: it has to be cut anyway, and the pair is cut as any
  // over-long pair is (longest_first at the limit).
  return { encode, check };
}

/** The result of a gated call, with its timings recorded and its outcome counted. */
function finish(ctx: ServerContext, model: string, decision: GateDecision, scores: WithTimings<CrossEncoderScores> | null, wallMs: number): RerankResult {
  const timings = timingsOf(scores ?? {}, wallMs);
  if (scores) recordTimings(ctx, model, timings);
  ctx.metrics.gateOutcomes.inc({ outcome: decision.outcome });
  return { decision, timings, model, tokens: scores?.stats.realTokens ?? 0 };
}

export async function runRerank(ctx: ServerContext, call: RerankCall): Promise<RerankResult> {
  const rid = call.requestId;
  const field = call.documentsField ?? 'documents';
  const served = ctx.reranker(call.model);
  const query = checkQueryField(call.query, rid);
  const documents = call.documents;
  checkDocumentCount(ctx.config, field, documents.length, rid);
  const threshold = checkThresholdField(call.threshold, rid, served.encoder.calibration?.threshold);
  const lim = tokenLimit(ctx, served.name, served.encoder.maxLength);
  const { encode, check } = rerankEncodeOptions(served, query, lim, call);
  const truncate = call.truncate ?? ctx.config.autoTruncate;

  const d = deadline(ctx, call.signal, `rerank of ${fmt(documents.length)} ${field}`);
  const t0 = performance.now();
  let scores: WithTimings<CrossEncoderScores> | null = null;
  // truncate=false: the encoder refuses an over-long pair as it tokenizes (one pass). With Cohere's
  // max_tokens_per_doc the documents are cut on purpose, so the pair limit is measured separately.
  const refuseTruncated = !truncate && call.maxTokensPerDoc === undefined && encode.maxLength === lim.max;
  try {
    if (!truncate && !refuseTruncated && documents.length > 0) {
      await raceSignal(checkLengths(served.encoder, new Array<string>(documents.length).fill(query), documents, field, lim, rid, undefined, check), d.signal);
    }
    const decision = await raceSignal(rerank(served.encoder, query, documents, {
      threshold, encode, signal: d.signal, onPartial: call.onPartial, refuseTruncated,
      onScores: (s) => {
        checkFiniteScores(s, field, served.name);
        scores = s;
      },
    }), d.signal);
    return finish(ctx, served.name, decision, scores, performance.now() - t0);
  } catch (e) {
    if (e instanceof InputTooLongError) throw tooLongError(e, `${field}[${e.index}]`, 'tokens with the query', lim, rid);
    throw callError(e, d, call.signal, served.name, { field, count: documents.length, requestId: rid });
  } finally {
    d.dispose();
  }
}

export interface SearchCall {
  route: string;
  query: string;
  topK?: number;
  threshold?: number;
  truncate?: boolean | null;
  signal?: AbortSignal;
  /** Right after retrieval, before reranking. `index` is what partial results and the decision refer to. */
  onCandidates?: (hits: { index: number; id: string; text: string; score: number }[]) => void;
  /** Indices are candidate indices. */
  onPartial?: (p: PartialResult) => void;
  requestId?: string;
  /** Default: the served pipeline's (serve --fallback). */
  fallback?: FallbackMode;
  /** The first retrieval's mode; default the served retriever's first mode. */
  mode?: RetrievalMode;
}

export async function runSearch(ctx: ServerContext, call: SearchCall): Promise<RerankResult> {
  const rid = call.requestId;
  const pipeline = ctx.pipeline;
  if (!pipeline || (!ctx.collection && !ctx.retriever)) {
    throw new ApiError('validation', 'no collection is served, so there is nothing to search; start `crossgate serve` with --collection PATH (built by `crossgate index build`) or --retriever URL (Chroma, PostgreSQL), or use /rerank with your own documents', { field: 'query', requestId: rid });
  }
  const query = checkQueryField(call.query, rid);
  const threshold = checkThresholdField(call.threshold, rid, pipeline.crossEncoder.calibration?.threshold);
  if (call.mode !== undefined && !(pipeline.retriever.modes as readonly string[]).includes(call.mode)) {
    const modes = pipeline.retriever.modes;
    throw new ApiError('validation',
      `mode is "${call.mode}"; the served retriever "${pipeline.retriever.name}" supports ${modes.join(', ')}; pass mode ${modes.map((m) => `"${m}"`).join(' or ')}` +
      (call.mode !== 'dense' ? ', or serve a collection built with a keyword index (crossgate index build without --dense-only)' : ', or serve a collection built with a bi-encoder'),
      { field: 'mode', requestId: rid });
  }
  let topK = DEFAULT_TOP_K;
  if (call.topK !== undefined && call.topK !== null) {
    checkDocumentCount(ctx.config, 'top_k', call.topK, rid);
    topK = call.topK;
  }
  // The pipeline reranks with the default (first) cross-encoder.
  const served = ctx.reranker(null);
  const lim = tokenLimit(ctx, served.name, served.encoder.maxLength);
  const truncate = call.truncate ?? ctx.config.autoTruncate;
  const model = served.encoder;

  const d = deadline(ctx, call.signal, `search for top_k=${topK}`);
  const t0 = performance.now();
  let scores: WithTimings<CrossEncoderScores> | null = null;
  let candidates = topK;
  try {
    const decision = await raceSignal(pipeline.search(query, {
      topK, threshold, encode: { maxLength: lim.max }, signal: d.signal, onPartial: call.onPartial,
      ...(call.fallback !== undefined ? { fallback: call.fallback } : {}),
      ...(call.mode !== undefined ? { mode: call.mode } : {}),
      // The fallback retrieval hands over its new candidates too, at `offset` in the decision's candidates.
      onCandidates: (hits, { offset }) => {
        candidates = offset + hits.length;
        if (!truncate && hits.length > 0) {
          // Retrieval hits are few (top_k); a synchronous length check keeps the error inside search().
          const lengths = model.countTokensSync(new Array<string>(hits.length).fill(query), hits.map((h) => h.text), { maxLength: Infinity });
          for (let i = 0; i < lengths.length; i++) {
            const n = lengths[i];
            if (n > lim.max) {
              throw limitError('input_too_long', { subject: `candidates[${offset + i}] (document "${hits[i].id}")`, actual: n, unit: 'tokens with the query', limit: lim.limit, max: lim.max, fix: lim.fix, requestId: rid });
            }
          }
        }
        call.onCandidates?.(hits.map((h, j) => ({ index: offset + j, id: h.id, text: h.text, score: h.score })));
      },
      onScores: (s) => {
        checkFiniteScores(s, 'candidates', served.name);
        // Once per retrieval: the fallback's scoring adds to the first one's tokens and stage times.
        const prev = scores as WithTimings<CrossEncoderScores> | null;
        const next = s as WithTimings<CrossEncoderScores>;
        if (prev === null) {
          scores = next;
        } else {
          const t = (k: keyof RequestTimings): number => (prev.timings?.[k] ?? 0) + (next.timings?.[k] ?? 0);
          scores = {
            ...next,
            stats: { batches: prev.stats.batches + next.stats.batches, realTokens: prev.stats.realTokens + next.stats.realTokens, paddedTokens: prev.stats.paddedTokens + next.stats.paddedTokens },
            timings: { tokenizationMs: t('tokenizationMs'), queueMs: t('queueMs'), inferenceMs: t('inferenceMs') },
          };
        }
      },
    }), d.signal);
    ctx.metrics.decisions.inc({ outcome: decision.outcome });
    return finish(ctx, served.name, decision, scores, performance.now() - t0 - decision.timings.retrieveMs);
  } catch (e) {
    // The engine's words say what is wrong and what to do; /ready and /metrics report the same.
    if (e instanceof RetrieverError) throw new ApiError('backend', `retriever ${e.engine}: ${e.message}`, { cause: e, requestId: rid });
    throw callError(e, d, call.signal, served.name, { field: 'candidates', count: candidates, requestId: rid, fewer: (fit) => `pass top_k ${fmt(fit)} or less` });
  } finally {
    d.dispose();
  }
}
