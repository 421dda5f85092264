// Request semantics shared by the HTTP routes and the WebSocket protocol: the request schemas (also the
// source of /openapi.json), their validator, every per-request limit, and runRerank/runSearch/runEmbed/runTokenize.
import { readFileSync } from 'node:fs';
import type { CrossEncoderScores } from '../infer/cross-encoder.js';
import type { PartialResult, RequestTimings } from '../infer/scheduler.js';
import { DEFAULT_THRESHOLD, DEFAULT_TOP_K, rerank, type GateDecision } from '../pipeline/precision.js';
import type { EncodeOptions, TruncationSide } from '../tokenize/tokenizer.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';
import type { ServedEmbedder, ServedReranker, ServerContext } from './context.js';
import { ApiError, fmt, limitError } from './errors.js';

export type { PartialResult, RequestTimings } from '../infer/scheduler.js';
type WithTimings<T> = T & { timings?: RequestTimings };

/** The caller's own signal aborted (client gone, WS cancel): nothing should be sent for this call. */
export class CallCancelledError extends Error {
  override readonly name = 'CallCancelledError';
  constructor(message = 'the request was cancelled by its client') { super(message); }
}

// ---------------------------------------------------------------------------------------------
// A JSON Schema subset: the request schemas below are validated with it, /openapi.json serves them,
// and the OpenAPI test checks real responses against the response schemas with it.
// ---------------------------------------------------------------------------------------------

export type JsonType = 'object' | 'array' | 'string' | 'boolean' | 'integer' | 'number' | 'null';
export interface JsonSchema {
  $ref?: string;
  type?: JsonType | JsonType[];
  /** Words for error messages ("a string or an object {text}"); also shown in the OpenAPI document. */
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  minimum?: number;
  maximum?: number;
  enum?: readonly (string | number | boolean | null)[];
  oneOf?: JsonSchema[];
  default?: unknown;
  examples?: unknown[];
  format?: string;
}

function typeOf(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as JsonType;
}

function shown(v: unknown): string {
  const t = typeOf(v);
  if (t === 'string') { const s = v as string; return `string ${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}...` : s)}`; }
  if (t === 'integer' || t === 'number' || t === 'boolean') return `${t === 'integer' ? 'number' : t} ${String(v)}`;
  return t === 'array' ? 'an array' : t === 'object' ? 'an object' : t;
}

function describe(s: JsonSchema, root: JsonSchema | undefined): string {
  if (s.$ref) return describe(resolveRef(s.$ref, root), root);
  if (s.title) return s.title;
  if (s.enum) return `one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  if (s.oneOf) return s.oneOf.map((o) => describe(o, root)).join(' or ');
  const types = s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
  const words = types.map((t) => {
    if (t === 'array') return s.items ? `an array of ${plural(describe(s.items, root))}` : 'an array';
    if (t === 'integer') return `an integer${range(s)}`;
    if (t === 'number') return `a number${range(s)}`;
    if (t === 'string') return s.minLength ? 'a non-empty string' : 'a string';
    if (t === 'boolean') return 'true or false';
    if (t === 'object') return 'an object';
    return t;
  });
  return words.join(' or ') || 'any value';
}
function plural(d: string): string {
  return d.replace(/^an? (non-empty )?string$/, '$1strings').replace(/^an? (\w+)$/, '$1s');
}
function range(s: JsonSchema): string {
  if (s.minimum !== undefined && s.maximum !== undefined) return ` from ${s.minimum} to ${s.maximum}`;
  if (s.minimum !== undefined) return ` >= ${s.minimum}`;
  if (s.maximum !== undefined) return ` <= ${s.maximum}`;
  return '';
}

export function resolveRef(ref: string, root: JsonSchema | Record<string, unknown> | undefined): JsonSchema {
  if (!ref.startsWith('#/') || root === undefined) throw new Error(`schema $ref ${ref} cannot be resolved`);
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) node = (node as Record<string, unknown> | undefined)?.[part];
  if (node === undefined) throw new Error(`schema $ref ${ref} points nowhere`);
  return node as JsonSchema;
}

function fieldPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path || 'body'}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/**
 * The first way `value` breaks `schema`, as { field, message }, or null when it conforms. Unknown object
 * keys are allowed unless additionalProperties is false (clients of TEI/Cohere/OpenAI send extra fields).
 */
export function schemaError(value: unknown, schema: JsonSchema, path = '', root?: JsonSchema | Record<string, unknown>): { field: string; message: string } | null {
  const s = schema.$ref ? resolveRef(schema.$ref, root) : schema;
  const at = path || 'body';
  if (s.oneOf) {
    const matches = s.oneOf.filter((o) => schemaError(value, o, path, root) === null).length;
    if (matches === 1) return null;
    // One alternative of the right JSON type: report its error, which is more precise than "X or Y".
    const sameType = s.oneOf.filter((o) => typeMatches(value, o, root));
    if (matches === 0 && sameType.length === 1) return schemaError(value, sameType[0], path, root);
    return { field: at, message: `${at} must be ${describe(s, root)}; got ${shown(value)}` };
  }
  if (s.enum) {
    if (!s.enum.some((e) => e === value)) return { field: at, message: `${at} must be ${describe(s, root)}; got ${shown(value)}` };
    return null;
  }
  if (!typeMatches(value, s, root)) return { field: at, message: `${at} must be ${describe(s, root)}; got ${shown(value)}` };
  const t = typeOf(value);
  if (t === 'string' && s.minLength !== undefined && (value as string).length < s.minLength) {
    return { field: at, message: `${at} is empty; pass a non-empty string` };
  }
  if ((t === 'integer' || t === 'number') && ((s.minimum !== undefined && (value as number) < s.minimum) || (s.maximum !== undefined && (value as number) > s.maximum))) {
    return { field: at, message: `${at} must be ${describe(s, root)}; got ${String(value)}` };
  }
  if (t === 'array') {
    const arr = value as unknown[];
    if (s.minItems !== undefined && arr.length < s.minItems) return { field: at, message: `${at} has ${arr.length} items; it needs at least ${s.minItems}` };
    if (s.maxItems !== undefined && arr.length > s.maxItems) return { field: at, message: `${at} has ${fmt(arr.length)} items; at most ${fmt(s.maxItems)} are allowed` };
    if (s.items) {
      for (let i = 0; i < arr.length; i++) {
        const e = schemaError(arr[i], s.items, fieldPath(path, i), root);
        if (e) return e;
      }
    }
  }
  if (t === 'object') {
    const obj = value as Record<string, unknown>;
    for (const k of s.required ?? []) {
      if (obj[k] === undefined) return { field: fieldPath(path, k), message: `${fieldPath(path, k)} is required${s.properties?.[k] ? `: ${describe(s.properties[k], root)}` : ''}` };
    }
    for (const [k, v] of Object.entries(obj)) {
      const ps = s.properties?.[k];
      if (ps) {
        if (v === undefined) continue;
        const e = schemaError(v, ps, fieldPath(path, k), root);
        if (e) return e;
      } else if (s.additionalProperties === false) {
        return { field: fieldPath(path, k), message: `${fieldPath(path, k)} is not a known field; the fields are ${Object.keys(s.properties ?? {}).join(', ')}` };
      } else if (typeof s.additionalProperties === 'object') {
        const e = schemaError(v, s.additionalProperties, fieldPath(path, k), root);
        if (e) return e;
      }
    }
  }
  return null;
}

function typeMatches(value: unknown, s: JsonSchema, root: JsonSchema | Record<string, unknown> | undefined): boolean {
  if (s.$ref) return typeMatches(value, resolveRef(s.$ref, root), root);
  if (s.type === undefined) return true;
  const t = typeOf(value);
  const types = Array.isArray(s.type) ? s.type : [s.type];
  return types.some((want) => want === t || (want === 'number' && t === 'integer'));
}

/** Checks a parsed JSON body against a request schema; throws ApiError('validation') naming the field. */
export function validateBody<T>(body: unknown, schema: JsonSchema): T {
  const e = schemaError(body, schema);
  if (e) throw new ApiError('validation', e.message, { field: e.field });
  return body as T;
}

/** Parses a request body; malformed JSON is 400 invalid_input, as TEI and the issue's error table say. */
export function parseJsonBody(buf: Buffer): unknown {
  if (buf.length === 0) throw new ApiError('invalid_input', 'the request body is empty; send a JSON object (Content-Type: application/json)', { field: 'body' });
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new ApiError('invalid_input', `the request body is not valid JSON (${(e as Error).message}); send a JSON object`, { field: 'body' });
  }
}

/**
 * The document-count limit, checked before the per-item schema so a 100k-item request gets 413 at once.
 * `field` is the request's name for the list (texts, documents, inputs, passages).
 */
export function checkDocumentCount(ctx: ServerContext, field: string, n: number, requestId?: string): void {
  const max = ctx.config.maxDocumentsPerRequest;
  if (n > max) {
    throw limitError('batch_too_large', {
      subject: field, actual: n, unit: 'items', limit: 'max_documents_per_request', max,
      fix: `split the request into batches of at most ${fmt(max)} or raise --max-documents-per-request`, requestId,
    });
  }
}

/** checkDocumentCount for a raw JSON body whose list may be an array or a single string. */
export function precheckCount(ctx: ServerContext, body: unknown, field: string): void {
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const v = (body as Record<string, unknown>)[field];
    if (Array.isArray(v)) checkDocumentCount(ctx, field, v.length);
  }
}

// ---------------------------------------------------------------------------------------------
// Request schemas (one per route body). Descriptions say where each field comes from.
// ---------------------------------------------------------------------------------------------

const TRUNCATE: JsonSchema = {
  type: ['boolean', 'null'],
  description: 'Cut over-long inputs to the token limit (min of max_input_tokens and the model max length). Default: the server\'s auto_truncate. false + too long = 422 input_too_long.',
};
const TRUNCATION_DIRECTION: JsonSchema = {
  enum: ['left', 'right', 'Left', 'Right'],
  default: 'right',
  description: 'Which end of an over-long input is cut (TEI).',
};
const MODEL: JsonSchema = {
  type: ['string', 'null'],
  description: 'Name of a served model (see GET /info); omitted or null = the first one served.',
};
const INPUTS: JsonSchema = {
  oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }],
  title: 'a string or a non-empty array of strings',
};

export const REQUEST_SCHEMAS = {
  teiRerank: {
    type: 'object', required: ['query', 'texts'],
    properties: {
      query: { type: 'string', minLength: 1, examples: ['What is Deep Learning?'] },
      texts: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'Passages to score; at most max_documents_per_request (413 batch_too_large).' },
      truncate: TRUNCATE,
      truncation_direction: TRUNCATION_DIRECTION,
      raw_scores: { type: 'boolean', default: false, description: 'Return the logit instead of the probability.' },
      return_text: { type: 'boolean', default: false, description: 'Echo each passage as `text`.' },
      model: { ...MODEL, description: 'crossgate extension: the cross-encoder to use. ' + MODEL.description },
    },
  },
  cohereRerank: {
    type: 'object', required: ['query', 'documents'],
    properties: {
      model: { ...MODEL, description: 'Cross-encoder name (Cohere/Jina require it; crossgate accepts it missing). ' + MODEL.description },
      query: { type: 'string', minLength: 1 },
      documents: {
        type: 'array', minItems: 1,
        items: { oneOf: [{ type: 'string' }, { type: 'object', required: ['text'], properties: { text: { type: 'string' } } }], title: 'a string or an object {text: string}' },
        description: 'Strings or {text} objects; at most max_documents_per_request (413 batch_too_large).',
      },
      top_n: { type: 'integer', minimum: 1, description: 'Return only the best N results (default: all).' },
      max_tokens_per_doc: { type: 'integer', minimum: 1, description: 'Each document is cut to this many tokens; the query is not cut by it (Cohere default 4096). The pair limit (min of max_input_tokens and the model max length) still applies and cuts the document further.' },
      return_documents: { type: 'boolean', description: 'Include {text} per result. Default false on /v2/rerank (Cohere), true on /v1/rerank (Jina).' },
    },
  },
  teiEmbed: {
    type: 'object', required: ['inputs'],
    properties: {
      inputs: INPUTS,
      truncate: TRUNCATE,
      truncation_direction: TRUNCATION_DIRECTION,
      normalize: { type: 'boolean', default: true, description: 'L2-normalise each vector.' },
      prompt_name: { type: 'null', description: 'Not supported (no sentence-transformers prompts); must be absent or null.' },
      model: { ...MODEL, description: 'crossgate extension: the bi-encoder to use. ' + MODEL.description },
    },
  },
  openaiEmbeddings: {
    type: 'object', required: ['input'],
    properties: {
      input: INPUTS,
      model: { ...MODEL, description: 'Bi-encoder name. ' + MODEL.description },
      encoding_format: { enum: ['float', 'base64'], default: 'float', description: 'base64 = little-endian float32 bytes, base64-encoded.' },
      dimensions: { type: 'integer', minimum: 1, description: 'Must equal the model dimension when given (no Matryoshka truncation).' },
      user: { type: 'string', description: 'Accepted and ignored.' },
    },
  },
  tokenize: {
    type: 'object', required: ['inputs'],
    properties: {
      inputs: INPUTS,
      add_special_tokens: { type: 'boolean', default: true },
      prompt_name: { type: 'null', description: 'Not supported; must be absent or null.' },
      model: { ...MODEL, description: 'crossgate extension: any served model (rerankers first). ' + MODEL.description },
    },
  },
  search: {
    type: 'object', required: ['query'],
    properties: {
      query: { type: 'string', minLength: 1 },
      top_k: { type: 'integer', minimum: 1, default: DEFAULT_TOP_K, description: 'Candidates to retrieve and rerank; at most max_documents_per_request.' },
      threshold: { type: 'number', minimum: 0, maximum: 1, default: DEFAULT_THRESHOLD, description: 'Minimum probability for a passage to be kept.' },
      truncate: TRUNCATE,
    },
  },
} satisfies Record<string, JsonSchema>;

export interface TeiRerankBody { query: string; texts: string[]; truncate?: boolean | null; truncation_direction?: string; raw_scores?: boolean; return_text?: boolean; model?: string | null }
export interface CohereRerankBody { model?: string | null; query: string; documents: (string | { text: string })[]; top_n?: number; max_tokens_per_doc?: number; return_documents?: boolean }
export interface TeiEmbedBody { inputs: string | string[]; truncate?: boolean | null; truncation_direction?: string; normalize?: boolean; model?: string | null }
export interface OpenAiEmbeddingsBody { input: string | string[]; model?: string | null; encoding_format?: 'float' | 'base64'; dimensions?: number; user?: string }
export interface TokenizeBody { inputs: string | string[]; add_special_tokens?: boolean; model?: string | null }
export interface SearchBody { query: string; top_k?: number; threshold?: number; truncate?: boolean | null }

export function truncationSide(v: string | undefined | null): TruncationSide | undefined {
  return v === undefined || v === null ? undefined : (v.toLowerCase() as TruncationSide);
}

// ---------------------------------------------------------------------------------------------
// Deadlines and cancellation
// ---------------------------------------------------------------------------------------------

interface Deadline { signal: AbortSignal; dispose(): void }

/** The caller's signal plus request_timeout_ms: whichever fires first aborts the scheduler's pending rows. */
function deadline(ctx: ServerContext, outer: AbortSignal | undefined, what: string): Deadline {
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
function raceSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
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
interface CallSize {
  field: string;
  count: number;
  requestId?: string;
  /** The words for "make the request smaller", given how many items would fit (default: send fewer per request). */
  fewer?: (fit: number) => string;
}

/** Any failure of a scheduled call as the error the client should see. */
function callError(e: unknown, d: Deadline, outer: AbortSignal | undefined, model: string, size: CallSize): unknown {
  if (d.signal.aborted) {
    const reason: unknown = d.signal.reason;
    if (reason instanceof ApiError) return reason;                // timeout, or an ApiError the caller aborted with
    if (outer?.aborted) return new CallCancelledError();
  }
  if (e instanceof ApiError || e instanceof CallCancelledError) return e;
  const type = (e as { errorType?: unknown } | null)?.errorType;
  if (type === 'queue_full') return queueFullError(e, model, size);
  if (type === 'cancelled') return new CallCancelledError();
  return e;
}

/**
 * The scheduler refused the call's rows. A call bigger than the whole queue could never be queued, however
 * long the client waits: that is 413 batch_too_large with no Retry-After. Only a call that would fit an
 * emptier queue gets 429 queue_full (Retry-After: come back once the queue has drained).
 */
function queueFullError(e: unknown, model: string, size: CallSize): ApiError {
  const q = e as { requestTokens?: unknown; queuedTokens?: unknown; maxQueueTokens?: unknown };
  const rid = size.requestId;
  if (typeof q.requestTokens !== 'number' || typeof q.queuedTokens !== 'number' || typeof q.maxQueueTokens !== 'number') {
    return new ApiError('queue_full', `model "${model}": ${e instanceof Error ? e.message : String(e)}; retry after the Retry-After delay or raise --max-queue-tokens`, { cause: e, requestId: rid });
  }
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

// ---------------------------------------------------------------------------------------------
// Token limits
// ---------------------------------------------------------------------------------------------

/** The effective per-input token limit and the words that name where it comes from. */
function tokenLimit(ctx: ServerContext, modelName: string, modelMax: number): { max: number; limit: string; fix: string } {
  const cfg = ctx.config.maxInputTokens;
  if (modelMax < cfg) {
    return { max: modelMax, limit: `model "${modelName}"'s max length`, fix: 'pass truncate=true or shorten it' };
  }
  return { max: cfg, limit: 'max_input_tokens', fix: 'pass truncate=true, shorten it, or raise --max-input-tokens' };
}

/** With truncation off: the first input whose full length is over the limit fails the request (422). */
async function checkLengths(
  ctx: ServerContext, tok: Tokenizer, texts: string[], pairs: string[] | null, field: string,
  lim: { max: number; limit: string; fix: string }, requestId?: string, label?: (i: number) => string,
  measure: EncodeOptions = { maxLength: Infinity },
): Promise<void> {
  if (texts.length === 0) return;
  const enc = await tok.encodeRagged(texts, pairs, measure);
  for (let i = 0; i < enc.count; i++) {
    const n = enc.offsets[i + 1] - enc.offsets[i];
    if (n > lim.max) {
      throw limitError('input_too_long', {
        subject: label ? label(i) : `${field}[${i}]`, actual: n, unit: pairs ? 'tokens with the query' : 'tokens',
        limit: lim.limit, max: lim.max, fix: lim.fix, requestId,
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Metrics recorded per call
// ---------------------------------------------------------------------------------------------

function recordTimings(ctx: ServerContext, model: string, t: RequestTimings): void {
  ctx.metrics.stageSeconds.observe({ model, stage: 'tokenization' }, t.tokenizationMs / 1000);
  ctx.metrics.stageSeconds.observe({ model, stage: 'queue' }, t.queueMs / 1000);
  ctx.metrics.stageSeconds.observe({ model, stage: 'inference' }, t.inferenceMs / 1000);
}

/** The scheduler's timings, or (before it reports them) the whole call counted as inference. */
function timingsOf(r: { timings?: RequestTimings }, wallMs: number): RequestTimings {
  const t = r.timings;
  if (t && Number.isFinite(t.tokenizationMs) && Number.isFinite(t.queueMs) && Number.isFinite(t.inferenceMs)) return t;
  return { tokenizationMs: 0, queueMs: 0, inferenceMs: wallMs };
}

function checkFiniteScores(scores: CrossEncoderScores, field: string, model: string, label?: (i: number) => string): void {
  for (let i = 0; i < scores.probabilities.length; i++) {
    if (!Number.isFinite(scores.logits[i]) || Number.isNaN(scores.probabilities[i])) {
      throw new ApiError('backend',
        `inference failed: model "${model}" returned a non-finite score (${scores.logits[i]}) for ${label ? label(i) : `${field}[${i}]`}; the server is still running; the model file may be broken`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Rerank and search
// ---------------------------------------------------------------------------------------------

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

function checkQueryField(query: unknown, requestId?: string): string {
  if (typeof query !== 'string') throw new ApiError('validation', `query must be a string; got ${shown(query)}`, { field: 'query', requestId });
  if (query.trim().length === 0) throw new ApiError('validation', 'query is empty; pass the text to rank the documents against', { field: 'query', requestId });
  return query;
}

function checkThresholdField(t: unknown, requestId?: string): number {
  if (t === undefined || t === null) return DEFAULT_THRESHOLD;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > 1) {
    throw new ApiError('validation', `threshold must be a probability from 0 to 1 (default ${DEFAULT_THRESHOLD}); got ${shown(t)}`, { field: 'threshold', requestId });
  }
  return t;
}

function checkStrings(list: unknown, field: string, requestId?: string): string[] {
  if (!Array.isArray(list)) throw new ApiError('validation', `${field} must be an array of strings; got ${shown(list)}`, { field, requestId });
  for (let i = 0; i < list.length; i++) {
    if (typeof list[i] !== 'string') throw new ApiError('validation', `${field}[${i}] must be a string; got ${shown(list[i])}`, { field: `${field}[${i}]`, requestId });
  }
  return list as string[];
}

/**
 * Encode options for a rerank: the pair limit, the cut side, and Cohere's per-document cap. `check` is
 * what a request with truncation off is measured with: the documents cut to max_tokens_per_doc (that is
 * asked for, so it is no reason to refuse) but nothing cut for the pair limit.
 */
function rerankEncodeOptions(served: ServedReranker, query: string, lim: { max: number }, call: RerankCall): { encode: EncodeOptions; check: EncodeOptions } {
  const tok = served.encoder.tokenizer;
  const special = tok.specialTokenCount(true);
  const encode: EncodeOptions = { maxLength: Math.max(lim.max, special + 1) };
  const check: EncodeOptions = { maxLength: Infinity };
  if (call.truncationDirection) encode.side = check.side = call.truncationDirection;
  if (call.maxTokensPerDoc === undefined) return { encode, check };
  const m = call.maxTokensPerDoc;
  if (!Number.isInteger(m) || m < 1) throw new ApiError('validation', `max_tokens_per_doc must be an integer >= 1; got ${shown(m)}`, { field: 'max_tokens_per_doc', requestId: call.requestId });
  // Cohere's semantics: each document is cut to max_tokens_per_doc; the query is not. only_second cuts the
  // document alone, so the pair is the whole query + at most m document tokens + the special tokens; the
  // pair limit (model max, max_input_tokens) then cuts the document further, never the query.
  const queryTokens = tok.encode(query, null, { maxLength: Infinity }).ids.length - tok.specialTokenCount(false);
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

export async function runRerank(ctx: ServerContext, call: RerankCall): Promise<RerankResult> {
  const rid = call.requestId;
  const field = call.documentsField ?? 'documents';
  const served = ctx.reranker(call.model);
  const query = checkQueryField(call.query, rid);
  const documents = checkStrings(call.documents, field, rid);
  checkDocumentCount(ctx, field, documents.length, rid);
  const threshold = checkThresholdField(call.threshold, rid);
  if (call.truncationDirection !== undefined && call.truncationDirection !== 'left' && call.truncationDirection !== 'right') {
    throw new ApiError('validation', `truncation_direction must be "left" or "right"; got ${shown(call.truncationDirection)}`, { field: 'truncation_direction', requestId: rid });
  }
  const lim = tokenLimit(ctx, served.name, served.encoder.spec.maxLength);
  const { encode, check } = rerankEncodeOptions(served, query, lim, call);
  const truncate = call.truncate ?? ctx.config.autoTruncate;

  const d = deadline(ctx, call.signal, `rerank of ${fmt(documents.length)} ${field}`);
  const t0 = performance.now();
  let scores: WithTimings<CrossEncoderScores> | null = null;
  try {
    if (!truncate && documents.length > 0) {
      await raceSignal(checkLengths(ctx, served.encoder.tokenizer, new Array<string>(documents.length).fill(query), documents, field, lim, rid, undefined, check), d.signal);
    }
    const decision = await raceSignal(rerank(served.encoder, query, documents, {
      threshold, encode, signal: d.signal, onPartial: call.onPartial,
      onScores: (s) => {
        checkFiniteScores(s, field, served.name);
        scores = s;
      },
    }), d.signal);
    const got = scores as WithTimings<CrossEncoderScores> | null;
    const timings = timingsOf(got ?? {}, performance.now() - t0);
    if (got) recordTimings(ctx, served.name, timings);
    ctx.metrics.gateOutcomes.inc({ outcome: decision.outcome });
    return { decision, timings, model: served.name, tokens: got?.stats.realTokens ?? 0 };
  } catch (e) {
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
}

export async function runSearch(ctx: ServerContext, call: SearchCall): Promise<RerankResult> {
  const rid = call.requestId;
  const pipeline = ctx.pipeline;
  if (!pipeline || !ctx.collection) {
    throw new ApiError('validation', 'no collection is served, so there is nothing to search; start `crossgate serve` with --collection PATH (built by `crossgate index build`), or use /rerank with your own documents', { field: 'query', requestId: rid });
  }
  const query = checkQueryField(call.query, rid);
  const threshold = checkThresholdField(call.threshold, rid);
  let topK = DEFAULT_TOP_K;
  if (call.topK !== undefined && call.topK !== null) {
    if (typeof call.topK !== 'number' || !Number.isInteger(call.topK) || call.topK < 1) {
      throw new ApiError('validation', `top_k must be an integer >= 1 (default ${DEFAULT_TOP_K}); got ${shown(call.topK)}`, { field: 'top_k', requestId: rid });
    }
    checkDocumentCount(ctx, 'top_k', call.topK, rid);
    topK = call.topK;
  }
  // The pipeline reranks with the default (first) cross-encoder.
  const served = ctx.reranker(null);
  const lim = tokenLimit(ctx, served.name, served.encoder.spec.maxLength);
  const truncate = call.truncate ?? ctx.config.autoTruncate;
  const tok = served.encoder.tokenizer;

  const d = deadline(ctx, call.signal, `search for top_k=${topK}`);
  const t0 = performance.now();
  let scores: WithTimings<CrossEncoderScores> | null = null;
  let candidates = topK;
  try {
    const decision = await raceSignal(pipeline.search(query, {
      topK, threshold, encode: { maxLength: lim.max }, signal: d.signal, onPartial: call.onPartial,
      onCandidates: (hits) => {
        candidates = hits.length;
        if (!truncate && hits.length > 0) {
          // Retrieval hits are few (top_k); a synchronous length check keeps the error inside search().
          const enc = tok.encodeRaggedSync(new Array<string>(hits.length).fill(query), hits.map((h) => h.text), { maxLength: Infinity });
          for (let i = 0; i < enc.count; i++) {
            const n = enc.offsets[i + 1] - enc.offsets[i];
            if (n > lim.max) {
              throw limitError('input_too_long', { subject: `candidates[${i}] (document "${hits[i].id}")`, actual: n, unit: 'tokens with the query', limit: lim.limit, max: lim.max, fix: lim.fix, requestId: rid });
            }
          }
        }
        call.onCandidates?.(hits.map((h, index) => ({ index, id: h.id, text: h.text, score: h.score })));
      },
      onScores: (s) => {
        checkFiniteScores(s, 'candidates', served.name);
        scores = s;
      },
    }), d.signal);
    const got = scores as WithTimings<CrossEncoderScores> | null;
    const timings = timingsOf(got ?? {}, performance.now() - t0 - decision.timings.retrieveMs);
    if (got) recordTimings(ctx, served.name, timings);
    ctx.metrics.gateOutcomes.inc({ outcome: decision.outcome });
    return { decision, timings, model: served.name, tokens: got?.stats.realTokens ?? 0 };
  } catch (e) {
    throw callError(e, d, call.signal, served.name, { field: 'candidates', count: candidates, requestId: rid, fewer: (fit) => `pass top_k ${fmt(fit)} or less` });
  } finally {
    d.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Embeddings and tokenization
// ---------------------------------------------------------------------------------------------

export interface EmbedCall {
  route: string;
  model?: string | null;
  inputs: string[];
  /** How the request names its list ('inputs' for TEI, 'input' for OpenAI). */
  inputsField?: string;
  truncate?: boolean | null;
  truncationDirection?: 'left' | 'right';
  /** L2-normalise each vector (TEI's default is true). */
  normalize?: boolean;
  signal?: AbortSignal;
}

export interface EmbedResult { vectors: Float32Array[]; dim: number; model: string; tokens: number; timings: RequestTimings }

export async function runEmbed(ctx: ServerContext, call: EmbedCall): Promise<EmbedResult> {
  const field = call.inputsField ?? 'inputs';
  const served: ServedEmbedder = ctx.embedder(call.model);
  const inputs = checkStrings(call.inputs, field);
  checkDocumentCount(ctx, field, inputs.length);
  const lim = tokenLimit(ctx, served.name, served.encoder.spec.maxLength);
  const truncate = call.truncate ?? ctx.config.autoTruncate;
  const encode: EncodeOptions = { maxLength: lim.max };
  if (call.truncationDirection) encode.side = call.truncationDirection;

  const d = deadline(ctx, call.signal, `embedding of ${fmt(inputs.length)} ${field}`);
  const t0 = performance.now();
  try {
    if (!truncate) await raceSignal(checkLengths(ctx, served.encoder.tokenizer, inputs, null, field, lim), d.signal);
    const out = await raceSignal(served.encoder.embedDetailed(inputs, { ...encode, signal: d.signal }), d.signal);
    const timings = timingsOf(out, performance.now() - t0);
    recordTimings(ctx, served.name, timings);
    let vectors = out.vectors;
    for (let i = 0; i < vectors.length; i++) {
      for (let j = 0; j < vectors[i].length; j++) {
        if (!Number.isFinite(vectors[i][j])) {
          throw new ApiError('backend', `inference failed: model "${served.name}" returned a non-finite embedding for ${field}[${i}]; the server is still running; the model file may be broken`);
        }
      }
    }
    if (call.normalize !== false && !served.encoder.spec.normalize) vectors = vectors.map(l2normalize);
    return { vectors, dim: out.dim, model: served.name, tokens: out.stats.realTokens, timings };
  } catch (e) {
    throw callError(e, d, call.signal, served.name, { field, count: inputs.length });
  } finally {
    d.dispose();
  }
}

function l2normalize(v: Float32Array): Float32Array {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i] * v[i];
  if (n === 0) return v;
  const inv = 1 / Math.sqrt(n);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * inv;
  return out;
}

/** One token in TEI's /tokenize shape. start/stop are UTF-8 byte offsets into the input (null when unknown). */
export interface SimpleToken { id: number; text: string; special: boolean; start: number | null; stop: number | null }

/** What the tokenizer's BertNormalizer does to text before WordPiece, as far as offsets care. */
interface Normalization { lowercase: boolean; stripAccents: boolean }
interface Vocab { tokens: string[]; special: Set<number>; unk: number; norm: Normalization; prefix: string }
const VOCABS = new Map<string, Vocab>();

/**
 * The normalizer settings the native tokenizer reads from the same tokenizer.json: no normalizer = text
 * as is; BertNormalizer lowercase defaults to true, and a null/absent strip_accents follows lowercase
 * (as in HF tokenizers). A cased model (lowercase false) keeps case and accents.
 */
export function normalizationOf(normalizer: { type?: string; lowercase?: boolean | null; strip_accents?: boolean | null } | null | undefined): Normalization {
  if (!normalizer) return { lowercase: false, stripAccents: false };
  const lowercase = typeof normalizer.lowercase === 'boolean' ? normalizer.lowercase : true;
  const stripAccents = typeof normalizer.strip_accents === 'boolean' ? normalizer.strip_accents : lowercase;
  return { lowercase, stripAccents };
}

/** id -> token string from tokenizer.json (the native tokenizer exposes ids only), and its normalizer settings. */
function vocabOf(path: string): Vocab {
  let v = VOCABS.get(path);
  if (v) return v;
  const json = JSON.parse(readFileSync(path, 'utf8')) as {
    model?: { vocab?: Record<string, number> | [string, number][]; unk_token?: string; continuing_subword_prefix?: string };
    added_tokens?: { id: number; content: string; special?: boolean }[];
    normalizer?: { type?: string; lowercase?: boolean | null; strip_accents?: boolean | null } | null;
  };
  const tokens: string[] = [];
  const vocab = json.model?.vocab ?? {};
  if (Array.isArray(vocab)) vocab.forEach(([t], i) => { tokens[i] = t; });
  else for (const [t, id] of Object.entries(vocab)) tokens[id] = t;
  const special = new Set<number>();
  for (const a of json.added_tokens ?? []) {
    tokens[a.id] = a.content;
    if (a.special) special.add(a.id);
  }
  const unkToken = json.model?.unk_token ?? '[UNK]';
  v = { tokens, special, unk: tokens.indexOf(unkToken), norm: normalizationOf(json.normalizer), prefix: json.model?.continuing_subword_prefix ?? '##' };
  VOCABS.set(path, v);
  return v;
}

/**
 * Byte offsets of each token in `text`, found by matching the WordPiece pieces against a copy of the
 * text normalised as the tokenizer does (accents stripped and/or lower-cased only where its normalizer
 * says so) that remembers which input character each normalised character came from.
 */
export function alignOffsets(text: string, pieces: (string | null)[], norm: Normalization): { start: number | null; stop: number | null }[] {
  let normed = '';
  const from: number[] = []; const to: number[] = [];
  let byte = 0;
  for (const ch of text) {
    const len = Buffer.byteLength(ch);
    // strip_accents is NFD then dropping nonspacing marks (Mn), as the native normalizer does.
    let n = norm.stripAccents ? ch.normalize('NFD').replace(/\p{Mn}/gu, '') : ch;
    if (norm.lowercase) n = n.toLowerCase();
    for (let i = 0; i < n.length; i++) { from.push(byte); to.push(byte + len); }
    normed += n;
    byte += len;
  }
  let cursor = 0;
  return pieces.map((p) => {
    if (p === null || p.length === 0) return { start: null, stop: null };
    const at = normed.indexOf(p, cursor);
    if (at < 0) return { start: null, stop: null };
    cursor = at + p.length;
    return { start: from[at], stop: to[at + p.length - 1] };
  });
}

export async function runTokenize(ctx: ServerContext, body: { inputs: string[]; addSpecialTokens: boolean; model?: string | null }): Promise<SimpleToken[][]> {
  checkDocumentCount(ctx, 'inputs', body.inputs.length);
  const name = body.model ?? null;
  const served = name !== null && !ctx.rerankers.has(name) && ctx.embedders.has(name) ? ctx.embedder(name) : ctx.reranker(name);
  const tok = served.encoder.tokenizer;
  const vocab = vocabOf(served.encoder.spec.tokenizerPath);
  const specials = tok.specialTokenCount(false);
  // Large inputs are encoded off the event loop (encodeRagged goes async past a size threshold).
  const enc = await tok.encodeRagged(body.inputs, null, { maxLength: Infinity });
  return body.inputs.map((text, item) => {
    let ids = Array.from(enc.ids.subarray(enc.offsets[item], enc.offsets[item + 1]));
    // The post-processor's tokens sit at the ends ([CLS] ... [SEP]); without them only the text's own remain.
    if (!body.addSpecialTokens && specials > 0) ids = ids.slice(1, ids.length - (specials - 1));
    const pieces = ids.map((id) => {
      if (vocab.special.has(id) || id === vocab.unk) return null;
      const t = vocab.tokens[id] ?? '';
      return t.startsWith(vocab.prefix) ? t.slice(vocab.prefix.length) : t;
    });
    const offsets = alignOffsets(text, pieces, vocab.norm);
    return ids.map((id, i) => ({ id, text: vocab.tokens[id] ?? '', special: vocab.special.has(id), start: offsets[i].start, stop: offsets[i].stop }));
  });
}
