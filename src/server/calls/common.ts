// What every engine call shares: the deadline (request_timeout_ms + the caller's signal), the mapping of
// scheduler failures to client errors, the effective token limit, and the per-call metrics.
import type { CrossEncoderScores } from '../../infer/cross-encoder.js';
import { QueueFullError, RequestCancelledError, type InputTooLongError } from '../../infer/errors.js';
import type { RequestTimings } from '../../infer/scheduler.js';
import type { ModelPort } from '../../pipeline/ports.js';
import type { EncodeOptions } from '../../tokenize/tokenizer.js';
import type { ServerContext } from '../context.js';
import { ApiError, CallCancelledError, fmt, limitError } from '../errors.js';

export type { PartialResult, RequestTimings } from '../../infer/scheduler.js';
export type WithTimings<T> = T & { timings?: RequestTimings };

export interface Deadline { signal: AbortSignal; dispose(): void }

/** The caller's signal plus request_timeout_ms: whichever fires first aborts the scheduler's pending rows. */
export function deadline(ctx: ServerContext, outer: AbortSignal | undefined, what: string): Deadline {
  const ac = new AbortController();
  const ms = ctx.config.requestTimeoutMs;
  const timer = setTimeout(() => {
    ac.abort(new ApiError('timeout',
      `${what} did not finish within request_timeout_ms (${fmt(ms)} ms); its queued work was dropped; send fewer or shorter documents, retry when the server is less busy, or raise --request-timeout-ms`));
  }, ms);
  const onOuter = (): void => ac.abort(outer?.reason);
  if (outer?.aborted) ac.abort(outer.reason);
  else outer?.addEventListener('abort', onOuter, { once: true });
  return {
    signal: ac.signal,
    dispose() { clearTimeout(timer); outer?.removeEventListener('abort', onOuter); },
  };
}

/** Settles with `work`, or rejects as soon as `signal` aborts (the work's late result is dropped). */
export function raceSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

/** What a call queues, for the error that says it can never fit the queue: "1,000 texts". */
export interface CallSize {
  field: string;
  count: number;
  requestId?: string;
  /** The words for "make the request smaller", given how many items would fit (default: send fewer per request). */
  fewer?: (fit: number) => string;
}

/** Any failure of a scheduled call as the error the client should see. */
export function callError(e: unknown, d: Deadline, outer: AbortSignal | undefined, model: string, size: CallSize): unknown {
  if (d.signal.aborted) {
    const reason: unknown = d.signal.reason;
    if (reason instanceof ApiError) return reason;                // timeout, or an ApiError the caller aborted with
    if (outer?.aborted) return new CallCancelledError();
  }
  if (e instanceof ApiError || e instanceof CallCancelledError) return e;
  if (e instanceof QueueFullError) return queueFullError(e, model, size);
  if (e instanceof RequestCancelledError) return new CallCancelledError();
  return e;
}

/**
 * The scheduler refused the call's rows. A call bigger than the whole queue could never be queued, however
 * long the client waits: that is 413 batch_too_large with no Retry-After. Only a call that would fit an
 * emptier queue gets 429 queue_full (Retry-After: come back once the queue has drained).
 */
function queueFullError(q: QueueFullError, model: string, size: CallSize): ApiError {
  const e = q;
  const rid = size.requestId;
  if (q.requestTokens > q.maxQueueTokens) {
    // Tokens per document on average, so the fix can say how many documents fit.
    const fit = size.count > 0 ? Math.max(1, Math.floor(q.maxQueueTokens / (q.requestTokens / size.count))) : 0;
    const fewer = size.count <= 1 ? 'send shorter text' : size.fewer ? size.fewer(fit) : `send at most about ${fmt(fit)} ${size.field} per request`;
    return new ApiError('batch_too_large',
      `the ${fmt(size.count)} ${size.field} of this request are ${fmt(q.requestTokens)} tokens for model "${model}"; max_queue_tokens is ${fmt(q.maxQueueTokens)}, ` +
      `so the request can never be queued; ${fewer} or raise --max-queue-tokens`, { cause: e, field: size.field, requestId: rid });
  }
  return new ApiError('queue_full',
    `model "${model}" has ${fmt(q.queuedTokens)} tokens queued and this request adds ${fmt(q.requestTokens)}; max_queue_tokens is ${fmt(q.maxQueueTokens)}; ` +
    'retry after the Retry-After delay, or raise --max-queue-tokens', { cause: e, requestId: rid });
}

/** The effective per-input token limit and the words that name where it comes from. */
export interface TokenLimit { max: number; limit: string; fix: string }

export function tokenLimit(ctx: ServerContext, modelName: string, modelMax: number): TokenLimit {
  const cfg = ctx.config.maxInputTokens;
  if (modelMax < cfg) {
    return { max: modelMax, limit: `model "${modelName}"'s max length`, fix: 'pass truncate=true or shorten it' };
  }
  return { max: cfg, limit: 'max_input_tokens', fix: 'pass truncate=true, shorten it, or raise --max-input-tokens' };
}

/** With truncation off: the first input whose full length is over the limit fails the request (422). */
export async function checkLengths(
  model: ModelPort, texts: string[], pairs: string[] | null, field: string,
  lim: TokenLimit, requestId?: string, label?: (i: number) => string,
  measure: EncodeOptions = { maxLength: Infinity },
): Promise<void> {
  if (texts.length === 0) return;
  const lengths = await model.countTokens(texts, pairs, measure);
  for (let i = 0; i < lengths.length; i++) {
    const n = lengths[i];
    if (n > lim.max) {
      throw limitError('input_too_long', {
        subject: label ? label(i) : `${field}[${i}]`, actual: n, unit: pairs ? 'tokens with the query' : 'tokens',
        limit: lim.limit, max: lim.max, fix: lim.fix, requestId,
      });
    }
  }
}

/** The encoder refused an over-long input (truncate=false): the house message, naming it and its length. */
export function tooLongError(e: InputTooLongError, subject: string, unit: string, lim: TokenLimit, requestId?: string): ApiError {
  return limitError('input_too_long', { subject, actual: e.tokens, unit, limit: lim.limit, max: lim.max, fix: lim.fix, requestId });
}

export function recordTimings(ctx: ServerContext, model: string, t: RequestTimings): void {
  ctx.metrics.stageSeconds.observe({ model, stage: 'tokenization' }, t.tokenizationMs / 1000);
  ctx.metrics.stageSeconds.observe({ model, stage: 'queue' }, t.queueMs / 1000);
  ctx.metrics.stageSeconds.observe({ model, stage: 'inference' }, t.inferenceMs / 1000);
}

/** The scheduler's timings, or (before it reports them) the whole call counted as inference. */
export function timingsOf(r: { timings?: RequestTimings }, wallMs: number): RequestTimings {
  const t = r.timings;
  if (t && Number.isFinite(t.tokenizationMs) && Number.isFinite(t.queueMs) && Number.isFinite(t.inferenceMs)) return t;
  return { tokenizationMs: 0, queueMs: 0, inferenceMs: wallMs };
}

export function checkFiniteScores(scores: CrossEncoderScores, field: string, model: string, label?: (i: number) => string): void {
  for (let i = 0; i < scores.probabilities.length; i++) {
    if (!Number.isFinite(scores.logits[i]) || Number.isNaN(scores.probabilities[i])) {
      throw new ApiError('backend',
        `inference failed: model "${model}" returned a non-finite score (${scores.logits[i]}) for ${label ? label(i) : `${field}[${i}]`}; the server is still running; the model file may be broken`);
    }
  }
}

