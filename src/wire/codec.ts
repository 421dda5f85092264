// The WebSocket message model and its two encodings: JSON text frames and flatbuffers binary frames
// (schema: src/wire/crossgate.fbs, generated code: src/wire/generated/). Binary frames are verified
// before any generated accessor reads them, because the TypeScript flatbuffers runtime has no verifier.

import { isUtf8 } from 'node:buffer';
import * as flatbuffers from 'flatbuffers';
import {
  Accepted, CancelRequest, Candidates, Envelope, ErrorReply, Final, Hit, Message, Outcome, Partial,
  RerankRequest, Score, SearchRequest,
} from './generated/crossgate_generated.js';

// ---------------------------------------------------------------------------------------------
// The model: one plain object per message, the same for both encodings.
// Field names are the JSON names (snake_case), so a JSON frame is this object as-is.
// ---------------------------------------------------------------------------------------------

export interface RerankMessage {
  type: 'rerank'; id: string; query: string; passages: string[];
  threshold?: number; top_n?: number; truncate?: boolean;
}
export type SearchMode = 'dense' | 'keyword' | 'hybrid';
export type SearchFallback = 'keyword' | 'hybrid' | 'off';
export interface SearchMessage {
  type: 'search'; id: string; query: string;
  top_k?: number; threshold?: number; top_n?: number; truncate?: boolean;
  /** JSON frames only (binary SearchRequest has no slot for them): the first retrieval's mode, the fallback. */
  mode?: SearchMode; fallback?: SearchFallback;
}
/** search, then the answer streamed from the server's LLM (JSON frames only). */
export interface AskMessage {
  type: 'ask'; id: string; query: string;
  top_k?: number; threshold?: number; truncate?: boolean; mode?: SearchMode; fallback?: SearchFallback;
}
export interface CancelMessage { type: 'cancel'; id: string }

export interface AcceptedMessage { type: 'accepted'; id: string }
/**
 * One dense-retrieval hit. `index` is what partial/final results refer to; `doc_id` is the collection's
 * document id, the string it was stored under (a non-empty string, as Collection requires).
 */
export interface CandidateHit { index: number; doc_id: string; retrieval_score: number; text?: string }
export interface CandidatesMessage { type: 'candidates'; id: string; hits: CandidateHit[] }
/** Scores travel as float32 in binary frames (the model computes float32), so JSON and binary agree. */
export interface ScoredPassage { index: number; logit: number; probability: number }
export interface PartialMessage { type: 'partial'; id: string; results: ScoredPassage[] }
export type GateOutcome = 'answer' | 'answer_from_fallback' | 'ambiguous' | 'no_relevant';
export const GATE_OUTCOMES: readonly GateOutcome[] = ['answer', 'answer_from_fallback', 'ambiguous', 'no_relevant'];
/** One retrieval the decision ran (or wanted to run): the library's PathStep without its timings. */
export interface WirePathStep {
  retriever: string; mode: SearchMode; role: 'primary' | 'fallback'; status: 'ran' | 'unavailable' | 'skipped';
  note: string | null; retrieved: number; scored: number; kept: number; best_probability: number | null;
}
export interface FinalMessage {
  type: 'final'; id: string;
  results: ScoredPassage[];   // sorted by probability, descending
  kept: number[];             // indices that passed the threshold, best first
  outcome: GateOutcome;
  threshold?: number;
  /** True for no_relevant and ambiguous (the collection lacks a confident answer). Binary frames: derived from outcome. */
  augment?: boolean;
  /** The retrievals of a search, in order. JSON frames only; absent for rerank. */
  path?: WirePathStep[];
  /** ask only (JSON): HTTP /ask's final event: the full answer text, citations mapped to document ids. */
  answer?: Record<string, unknown>;
}
/** ask: the decision (the GateDecision as HTTP /search returns it), after the candidates and partials. */
export interface DecisionMessage { type: 'decision'; id: string; decision: Record<string, unknown> }
/** ask: one piece of the answer text as the LLM generates it. */
export interface DeltaMessage { type: 'delta'; id: string; text: string }

export interface ErrorMessage {
  type: 'error'; id?: string; error: string; error_type: string;
  /** ask (JSON): the answer text streamed before the LLM failed. */
  partial_text?: string;
}

export type ClientMessage = RerankMessage | SearchMessage | AskMessage | CancelMessage;
export type ServerMessage = AcceptedMessage | CandidatesMessage | PartialMessage | DecisionMessage | DeltaMessage | FinalMessage | ErrorMessage;
export type WireMessage = ClientMessage | ServerMessage;
export type WireMessageType = WireMessage['type'];
export type FrameEncoding = 'json' | 'binary';

export const CLIENT_MESSAGE_TYPES: readonly ClientMessage['type'][] = ['rerank', 'search', 'ask', 'cancel'];
export const SERVER_MESSAGE_TYPES: readonly ServerMessage['type'][] = ['accepted', 'candidates', 'partial', 'decision', 'delta', 'final', 'error'];
/** Messages that only JSON text frames carry (crossgate.fbs has no table for them). */
export const JSON_ONLY_TYPES: readonly WireMessageType[] = ['ask', 'decision', 'delta'];

/** Four bytes at offset 4 of every binary frame (crossgate.fbs `file_identifier`). */
export const FILE_IDENTIFIER = 'CGW1';
/** Request ids are echoed in every reply; a bound keeps a hostile id from inflating every message. */
export const MAX_ID_BYTES = 256;
/** Used when the caller passes no maxBytes; the server passes its ws_max_message_bytes limit. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/**
 * Why a frame was refused. `kind` is one of the server's error types (src/server/errors.ts):
 * invalid_input (400: not JSON / not a well-formed flatbuffer), validation (422: a field has the wrong
 * type or value), payload_too_large (413). `id` is set when the request id could be read, so the reply
 * can be tied to the request.
 */
export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(
    readonly kind: 'invalid_input' | 'validation' | 'payload_too_large',
    message: string,
    readonly field?: string,
    readonly id?: string,
  ) { super(message); }
}

export interface DecodeOptions {
  /** Frame size limit in bytes; a binary frame's decoded strings are held to it too. */
  maxBytes?: number;
}

// ---------------------------------------------------------------------------------------------
// Validation shared by both decoders (the JSON decoder also checks JS types first).
// ---------------------------------------------------------------------------------------------

const FIELDS: Record<WireMessageType, { required: string[]; optional: string[] }> = {
  rerank: { required: ['id', 'query', 'passages'], optional: ['threshold', 'top_n', 'truncate'] },
  search: { required: ['id', 'query'], optional: ['top_k', 'threshold', 'top_n', 'truncate', 'mode', 'fallback'] },
  ask: { required: ['id', 'query'], optional: ['top_k', 'threshold', 'truncate', 'mode', 'fallback'] },
  decision: { required: ['id', 'decision'], optional: [] },
  delta: { required: ['id', 'text'], optional: [] },
  cancel: { required: ['id'], optional: [] },
  accepted: { required: ['id'], optional: [] },
  candidates: { required: ['id', 'hits'], optional: [] },
  partial: { required: ['id', 'results'], optional: [] },
  final: { required: ['id', 'results', 'kept', 'outcome'], optional: ['threshold', 'augment', 'path', 'answer'] },
  error: { required: ['error', 'error_type'], optional: ['id', 'partial_text'] },
};

const UINT32_MAX = 0xffffffff;
const utf8 = new TextEncoder();

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function invalid(field: string, want: string, got: unknown, id?: string): never {
  const shown = typeof got === 'number' || typeof got === 'boolean' ? `${typeName(got)} ${String(got)}` : typeName(got);
  throw new WireError('validation', `${field} must be ${want}; got ${shown}`, field, id);
}

function checkId(v: unknown, field: string, id?: string): string {
  if (typeof v !== 'string' || v.length === 0) invalid(field, `a non-empty string of at most ${MAX_ID_BYTES} bytes`, v, id);
  const bytes = utf8.encode(v).length;
  if (bytes > MAX_ID_BYTES) {
    throw new WireError('validation', `${field} is ${bytes} bytes; ids are at most ${MAX_ID_BYTES} bytes; use a shorter request id`, field, id);
  }
  return v;
}
function checkString(v: unknown, field: string, id?: string): string {
  if (typeof v !== 'string') invalid(field, 'a string', v, id);
  return v;
}
function checkUint(v: unknown, field: string, min: number, id?: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > UINT32_MAX) {
    invalid(field, `an integer in ${min}..${UINT32_MAX}`, v, id);
  }
  return v;
}
function checkFinite(v: unknown, field: string, id?: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) invalid(field, 'a finite number', v, id);
  return v;
}
function checkBool(v: unknown, field: string, id?: string): boolean {
  if (typeof v !== 'boolean') invalid(field, 'true or false', v, id);
  return v;
}
function checkDocId(v: unknown, field: string, id?: string): string {
  if (typeof v !== 'string' || v.length === 0) invalid(field, 'a non-empty string (the collection\'s document id)', v, id);
  return v;
}
function checkArray(v: unknown, field: string, id?: string): unknown[] {
  if (!Array.isArray(v)) invalid(field, 'an array', v, id);
  return v;
}
function checkObject(v: unknown, field: string, id?: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) invalid(field, 'an object', v, id);
  return v as Record<string, unknown>;
}

const SEARCH_MODES: readonly SearchMode[] = ['dense', 'keyword', 'hybrid'];
const SEARCH_FALLBACKS: readonly SearchFallback[] = ['keyword', 'hybrid', 'off'];

function checkEnum<T extends string>(v: unknown, field: string, allowed: readonly T[], id?: string): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new WireError('validation', `${field} must be one of ${allowed.join(', ')}; got ${typeof v === 'string' ? `'${v}'` : typeName(v)}`, field, id);
  }
  return v as T;
}

function checkPathStep(v: unknown, f: string, id?: string): WirePathStep {
  const o = checkObject(v, f, id);
  const keys = ['retriever', 'mode', 'role', 'status', 'note', 'retrieved', 'scored', 'kept', 'best_probability'];
  rejectUnknown(o, keys, f, id);
  return {
    retriever: checkString(o.retriever, `${f}.retriever`, id),
    mode: checkEnum(o.mode, `${f}.mode`, SEARCH_MODES, id),
    role: checkEnum(o.role, `${f}.role`, ['primary', 'fallback'] as const, id),
    status: checkEnum(o.status, `${f}.status`, ['ran', 'unavailable', 'skipped'] as const, id),
    note: o.note === null || o.note === undefined ? null : checkString(o.note, `${f}.note`, id),
    retrieved: checkUint(o.retrieved, `${f}.retrieved`, 0, id),
    scored: checkUint(o.scored, `${f}.scored`, 0, id),
    kept: checkUint(o.kept, `${f}.kept`, 0, id),
    best_probability: o.best_probability === null || o.best_probability === undefined ? null : checkFinite(o.best_probability, `${f}.best_probability`, id),
  };
}

function checkScores(v: unknown, field: string, id?: string): ScoredPassage[] {
  return checkArray(v, field, id).map((item, i) => {
    const f = `${field}[${i}]`;
    const o = checkObject(item, f, id);
    rejectUnknown(o, ['index', 'logit', 'probability'], f, id);
    return {
      index: checkUint(o.index, `${f}.index`, 0, id),
      logit: checkFinite(o.logit, `${f}.logit`, id),
      probability: checkFinite(o.probability, `${f}.probability`, id),
    };
  });
}

function rejectUnknown(o: Record<string, unknown>, allowed: string[], where: string, id?: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw new WireError('validation', `${where} has unknown field '${k}'; allowed fields: ${allowed.join(', ')}`, `${where}.${k}`, id);
    }
  }
}

/** Present and not null (JSON clients often send null for "not set"). */
function has(o: Record<string, unknown>, k: string): boolean {
  return o[k] !== undefined && o[k] !== null;
}

/**
 * Checks a message object (from JSON, from a flatbuffer, or built by the server) against the model
 * and returns a clean copy with only the known fields. Throws WireError naming the field.
 */
export function validateMessage(raw: unknown): WireMessage {
  const o = checkObject(raw, 'message');
  const type = o.type;
  if (typeof type !== 'string' || !(type in FIELDS)) {
    const known = [...CLIENT_MESSAGE_TYPES, ...SERVER_MESSAGE_TYPES].join(', ');
    throw new WireError('validation', `type must be one of ${known}; got ${typeof type === 'string' ? `'${type}'` : typeName(type)}`, 'type');
  }
  const t = type as WireMessageType;
  // Read the id first so that every later error can be tied to the request.
  const id = typeof o.id === 'string' && o.id.length > 0 && o.id.length <= MAX_ID_BYTES ? o.id : undefined;
  const spec = FIELDS[t];
  rejectUnknown(o, ['type', ...spec.required, ...spec.optional], t, id);
  for (const k of spec.required) {
    if (!has(o, k)) throw new WireError('validation', `${t} is missing required field '${k}'`, k, id);
  }
  switch (t) {
    case 'rerank': {
      const m: RerankMessage = {
        type: t, id: checkId(o.id, 'id', id), query: checkString(o.query, 'query', id),
        passages: checkArray(o.passages, 'passages', id).map((p, i) => checkString(p, `passages[${i}]`, id)),
      };
      if (has(o, 'threshold')) m.threshold = checkFinite(o.threshold, 'threshold', id);
      if (has(o, 'top_n')) m.top_n = checkUint(o.top_n, 'top_n', 1, id);
      if (has(o, 'truncate')) m.truncate = checkBool(o.truncate, 'truncate', id);
      return m;
    }
    case 'search':
    case 'ask': {
      const m: SearchMessage | AskMessage = { type: t, id: checkId(o.id, 'id', id), query: checkString(o.query, 'query', id) };
      if (has(o, 'top_k')) m.top_k = checkUint(o.top_k, 'top_k', 1, id);
      if (has(o, 'threshold')) m.threshold = checkFinite(o.threshold, 'threshold', id);
      if (t === 'search' && has(o, 'top_n')) (m as SearchMessage).top_n = checkUint(o.top_n, 'top_n', 1, id);
      if (has(o, 'truncate')) m.truncate = checkBool(o.truncate, 'truncate', id);
      if (has(o, 'mode')) m.mode = checkEnum(o.mode, 'mode', SEARCH_MODES, id);
      if (has(o, 'fallback')) m.fallback = checkEnum(o.fallback, 'fallback', SEARCH_FALLBACKS, id);
      return m;
    }
    case 'decision':
      return { type: t, id: checkId(o.id, 'id', id), decision: checkObject(o.decision, 'decision', id) };
    case 'delta':
      return { type: t, id: checkId(o.id, 'id', id), text: checkString(o.text, 'text', id) };

    case 'cancel':
    case 'accepted':
      return { type: t, id: checkId(o.id, 'id', id) };
    case 'candidates':
      return {
        type: t, id: checkId(o.id, 'id', id),
        hits: checkArray(o.hits, 'hits', id).map((item, i) => {
          const f = `hits[${i}]`;
          const h = checkObject(item, f, id);
          rejectUnknown(h, ['index', 'doc_id', 'retrieval_score', 'text'], f, id);
          const hit: CandidateHit = {
            index: checkUint(h.index, `${f}.index`, 0, id),
            doc_id: checkDocId(h.doc_id, `${f}.doc_id`, id),
            retrieval_score: checkFinite(h.retrieval_score, `${f}.retrieval_score`, id),
          };
          if (has(h, 'text')) hit.text = checkString(h.text, `${f}.text`, id);
          return hit;
        }),
      };
    case 'partial':
      return { type: t, id: checkId(o.id, 'id', id), results: checkScores(o.results, 'results', id) };
    case 'final': {
      const m: FinalMessage = {
        type: t, id: checkId(o.id, 'id', id), results: checkScores(o.results, 'results', id),
        kept: checkArray(o.kept, 'kept', id).map((k, i) => checkUint(k, `kept[${i}]`, 0, id)),
        outcome: checkEnum(o.outcome, 'outcome', GATE_OUTCOMES, id),
      };
      if (has(o, 'threshold')) m.threshold = checkFinite(o.threshold, 'threshold', id);
      if (has(o, 'augment')) m.augment = checkBool(o.augment, 'augment', id);
      if (has(o, 'answer')) m.answer = checkObject(o.answer, 'answer', id);
      if (has(o, 'path')) m.path = checkArray(o.path, 'path', id).map((p, i) => checkPathStep(p, `path[${i}]`, id));
      return m;
    }
    case 'error': {
      const m: ErrorMessage = { type: t, error: checkString(o.error, 'error', id), error_type: checkString(o.error_type, 'error_type', id) };
      if (has(o, 'id')) m.id = checkId(o.id, 'id', id);
      if (has(o, 'partial_text')) m.partial_text = checkString(o.partial_text, 'partial_text', id);
      return m;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// JSON text frames
// ---------------------------------------------------------------------------------------------

function byteLength(frame: string | Uint8Array | ArrayBuffer): number {
  return typeof frame === 'string' ? Buffer.byteLength(frame, 'utf8') : frame.byteLength;
}

function tooBig(size: number, max: number, what: string): WireError {
  return new WireError('payload_too_large',
    `${what} is ${size.toLocaleString('en-US')} bytes; the limit is ${max.toLocaleString('en-US')} bytes (ws_max_message_bytes); ` +
    'send fewer or shorter passages per request, or raise --ws-max-message-bytes');
}

/** Parses and validates one JSON text frame. */
export function decodeJson(frame: string | Uint8Array | ArrayBuffer, opts: DecodeOptions = {}): WireMessage {
  const max = opts.maxBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const size = byteLength(frame);
  if (size > max) throw tooBig(size, max, 'text frame');
  let text: string;
  if (typeof frame === 'string') {
    text = frame;
  } else {
    const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
    if (!isUtf8(bytes)) throw new WireError('invalid_input', 'text frame is not valid UTF-8; send JSON text frames as UTF-8');
    text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new WireError('invalid_input', `text frame is not valid JSON (${(e as Error).message}); send one JSON object per text frame`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new WireError('invalid_input', `text frame must hold a JSON object with a "type" field; got ${typeName(parsed)}`);
  }
  return validateMessage(parsed);
}

/** The JSON text of a message; fields in a fixed order, unset optionals left out. */
export function encodeJson(msg: WireMessage): string {
  return JSON.stringify(jsonShape(msg));
}

function jsonShape(msg: WireMessage): Record<string, unknown> {
  const finite = (v: number, f: string): number => {
    // JSON.stringify would silently write null; a NaN score is a backend error to report, not to send.
    if (!Number.isFinite(v)) throw new TypeError(`cannot encode ${msg.type}.${f} = ${v}: not a finite number`);
    return v;
  };
  const scores = (rs: ScoredPassage[], f: string) => rs.map((r, i) => ({
    index: r.index, logit: finite(r.logit, `${f}[${i}].logit`), probability: finite(r.probability, `${f}[${i}].probability`),
  }));
  switch (msg.type) {
    case 'rerank':
      return { type: msg.type, id: msg.id, query: msg.query, passages: msg.passages, threshold: msg.threshold, top_n: msg.top_n, truncate: msg.truncate };
    case 'search':
      return { type: msg.type, id: msg.id, query: msg.query, top_k: msg.top_k, threshold: msg.threshold, top_n: msg.top_n, truncate: msg.truncate, mode: msg.mode, fallback: msg.fallback };
    case 'ask':
      return { type: msg.type, id: msg.id, query: msg.query, top_k: msg.top_k, threshold: msg.threshold, truncate: msg.truncate, mode: msg.mode, fallback: msg.fallback };
    case 'decision':
      return { type: msg.type, id: msg.id, decision: msg.decision };
    case 'delta':
      return { type: msg.type, id: msg.id, text: msg.text };

    case 'cancel':
    case 'accepted':
      return { type: msg.type, id: msg.id };
    case 'candidates':
      return {
        type: msg.type, id: msg.id,
        hits: msg.hits.map((h, i) => ({ index: h.index, doc_id: h.doc_id, retrieval_score: finite(h.retrieval_score, `hits[${i}].retrieval_score`), text: h.text })),
      };
    case 'partial':
      return { type: msg.type, id: msg.id, results: scores(msg.results, 'results') };
    case 'final':
      return { type: msg.type, id: msg.id, results: scores(msg.results, 'results'), kept: msg.kept, outcome: msg.outcome, threshold: msg.threshold, augment: msg.augment, path: msg.path, answer: msg.answer };
    case 'error':
      return { type: msg.type, id: msg.id, error: msg.error, error_type: msg.error_type, partial_text: msg.partial_text };
  }
}

// ---------------------------------------------------------------------------------------------
// Flatbuffers binary frames: encoding
// ---------------------------------------------------------------------------------------------

/** The flatbuffers binary frame of a message (a view into a fresh buffer; safe to keep). */
export function encodeBinary(msg: WireMessage): Uint8Array {
  const b = new flatbuffers.Builder(256);
  // flatc 2.0.8 emits `addFieldFloat64(slot, v, 0)` for optional scalars, so without forced defaults
  // threshold=0, top_n=0 or truncate=false would be left out and read back as "not set".
  b.forceDefaults(true);
  const str = (s: string) => b.createString(s);
  let type: Message;
  let off: flatbuffers.Offset;
  const opt = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
  switch (msg.type) {
    case 'ask':
    case 'decision':
    case 'delta':
      throw new TypeError(`cannot encode ${msg.type} as a binary frame: crossgate.fbs has no ${msg.type} message; send it as a JSON text frame`);
    case 'rerank': {
      const id = str(msg.id), q = str(msg.query);
      const ps = RerankRequest.createPassagesVector(b, msg.passages.map(str));
      off = RerankRequest.createRerankRequest(b, id, q, ps, opt(msg.threshold), opt(msg.top_n), opt(msg.truncate));
      type = Message.RerankRequest;
      break;
    }
    case 'search': {
      if (msg.mode !== undefined || msg.fallback !== undefined) {
        throw new TypeError(`cannot encode search.${msg.mode !== undefined ? 'mode' : 'fallback'} in a binary frame: crossgate.fbs SearchRequest has no such field; send the search as a JSON text frame`);
      }
      const id = str(msg.id), q = str(msg.query);
      off = SearchRequest.createSearchRequest(b, id, q, opt(msg.top_k), opt(msg.threshold), opt(msg.top_n), opt(msg.truncate));
      type = Message.SearchRequest;
      break;
    }
    case 'cancel':
      off = CancelRequest.createCancelRequest(b, str(msg.id));
      type = Message.CancelRequest;
      break;
    case 'accepted':
      off = Accepted.createAccepted(b, str(msg.id));
      type = Message.Accepted;
      break;
    case 'candidates': {
      const id = str(msg.id);
      const hits = msg.hits.map((h, i) => {
        if (typeof h.doc_id !== 'string' || h.doc_id.length === 0) {
          throw new TypeError(`cannot encode candidates.hits[${i}].doc_id ${JSON.stringify(h.doc_id)}: not a non-empty string`);
        }
        // Built by hand: with forced defaults the generated createHit would write offset 0 for a missing text.
        const docId = str(h.doc_id);
        const text = h.text === undefined ? 0 : str(h.text);
        Hit.startHit(b);
        Hit.addIndex(b, h.index);
        Hit.addDocId(b, docId);
        Hit.addRetrievalScore(b, h.retrieval_score);
        if (text !== 0) Hit.addText(b, text);
        return Hit.endHit(b);
      });
      off = Candidates.createCandidates(b, id, Candidates.createHitsVector(b, hits));
      type = Message.Candidates;
      break;
    }
    case 'partial': {
      const id = str(msg.id);
      off = Partial.createPartial(b, id, scoreVector(b, msg.results, Partial.startResultsVector));
      type = Message.Partial;
      break;
    }
    case 'final': {
      const id = str(msg.id);
      const results = scoreVector(b, msg.results, Final.startResultsVector);
      const kept = Final.createKeptVector(b, msg.kept);
      off = Final.createFinal(b, id, results, kept, OUTCOME_CODE[msg.outcome], opt(msg.threshold));
      type = Message.Final;
      break;
    }
    case 'error': {
      const id = msg.id === undefined ? 0 : str(msg.id);
      const err = str(msg.error), et = str(msg.error_type);
      ErrorReply.startErrorReply(b);
      if (id !== 0) ErrorReply.addId(b, id); // see Hit above: never write a 0 offset
      ErrorReply.addError(b, err);
      ErrorReply.addErrorType(b, et);
      off = ErrorReply.endErrorReply(b);
      type = Message.ErrorReply;
      break;
    }
  }
  Envelope.finishEnvelopeBuffer(b, Envelope.createEnvelope(b, type, off));
  return b.asUint8Array();
}

const OUTCOME_CODE: Record<GateOutcome, Outcome> = {
  answer: Outcome.answer, no_relevant: Outcome.no_relevant, answer_from_fallback: Outcome.answer_from_fallback, ambiguous: Outcome.ambiguous,
};
const OUTCOME_NAME: Record<number, GateOutcome> = Object.fromEntries(Object.entries(OUTCOME_CODE).map(([k, v]) => [v, k as GateOutcome]));

function scoreVector(b: flatbuffers.Builder, rs: ScoredPassage[], start: (b: flatbuffers.Builder, n: number) => void): flatbuffers.Offset {
  start(b, rs.length);
  for (let i = rs.length - 1; i >= 0; i--) {
    const r = rs[i];
    if (!Number.isFinite(r.logit) || !Number.isFinite(r.probability)) {
      throw new TypeError(`cannot encode results[${i}]: logit ${r.logit}, probability ${r.probability} must be finite`);
    }
    Score.createScore(b, r.index, r.logit, r.probability);
  }
  return b.endVector();
}

// ---------------------------------------------------------------------------------------------
// Flatbuffers binary frames: verification
//
// Checks what the C++ flatbuffers::Verifier checks, for this schema only: every offset lands inside
// the buffer, every vtable/table/vector/string fits, strings are NUL-terminated valid UTF-8, the union
// type is known, required fields are present. Shared strings are counted each time they are referenced,
// against the frame limit, so a small frame cannot make the reader decode gigabytes.
// ---------------------------------------------------------------------------------------------

type FieldKind =
  | { k: 'scalar'; size: 1 | 4 | 8 }
  | { k: 'string' }
  | { k: 'strings' }                        // [string]
  | { k: 'structs'; size: number }          // [Score]
  | { k: 'scalars'; size: number }          // [uint32]
  | { k: 'tables'; of: TableSpec }          // [Hit]
  | { k: 'utype' }
  | { k: 'union' };
interface FieldSpec { name: string; kind: FieldKind; required?: boolean }
interface TableSpec { name: string; fields: FieldSpec[] }

const S1 = { k: 'scalar', size: 1 } as const, S4 = { k: 'scalar', size: 4 } as const, S8 = { k: 'scalar', size: 8 } as const;
const STR = { k: 'string' } as const;
const ID = { name: 'id', kind: STR, required: true };

const HIT: TableSpec = { name: 'Hit', fields: [
  { name: 'index', kind: S4 }, { name: 'doc_id', kind: STR, required: true }, { name: 'retrieval_score', kind: S4 }, { name: 'text', kind: STR },
] };
const SCORE_SIZE = 12;

/** Union member tables by Message value; field order = slot order in crossgate.fbs. */
const UNION_TABLES: Record<number, TableSpec> = {
  [Message.RerankRequest]: { name: 'RerankRequest', fields: [
    ID, { name: 'query', kind: STR, required: true }, { name: 'passages', kind: { k: 'strings' }, required: true },
    { name: 'threshold', kind: S8 }, { name: 'top_n', kind: S4 }, { name: 'truncate', kind: S1 },
  ] },
  [Message.SearchRequest]: { name: 'SearchRequest', fields: [
    ID, { name: 'query', kind: STR, required: true }, { name: 'top_k', kind: S4 },
    { name: 'threshold', kind: S8 }, { name: 'top_n', kind: S4 }, { name: 'truncate', kind: S1 },
  ] },
  [Message.CancelRequest]: { name: 'CancelRequest', fields: [ID] },
  [Message.Accepted]: { name: 'Accepted', fields: [ID] },
  [Message.Candidates]: { name: 'Candidates', fields: [ID, { name: 'hits', kind: { k: 'tables', of: HIT }, required: true }] },
  [Message.Partial]: { name: 'Partial', fields: [ID, { name: 'results', kind: { k: 'structs', size: SCORE_SIZE }, required: true }] },
  [Message.Final]: { name: 'Final', fields: [
    ID, { name: 'results', kind: { k: 'structs', size: SCORE_SIZE }, required: true },
    { name: 'kept', kind: { k: 'scalars', size: 4 }, required: true }, { name: 'outcome', kind: S1 }, { name: 'threshold', kind: S8 },
  ] },
  [Message.ErrorReply]: { name: 'ErrorReply', fields: [
    { name: 'id', kind: STR }, { name: 'error', kind: STR, required: true }, { name: 'error_type', kind: STR, required: true },
  ] },
};
const ENVELOPE: TableSpec = { name: 'Envelope', fields: [
  { name: 'message_type', kind: { k: 'utype' }, required: true }, { name: 'message', kind: { k: 'union' }, required: true },
] };

class FrameVerifier {
  private readonly view: DataView;
  private readonly len: number;
  /** Bytes the generated reader will materialise (strings per reference, vector elements). */
  private expanded = 0;

  constructor(private readonly bytes: Uint8Array, private readonly maxExpanded: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.len = bytes.byteLength;
  }

  private fail(what: string): never {
    throw new WireError('invalid_input', `binary frame is not a valid crossgate flatbuffer: ${what}; build frames with the code generated from src/wire/crossgate.fbs`);
  }

  private within(pos: number, size: number, what: string): void {
    if (!(pos >= 0 && size >= 0 && pos + size <= this.len)) {
      this.fail(`${what} at byte ${pos} (+${size}) runs past the end of the ${this.len}-byte frame`);
    }
  }

  private aligned(pos: number, align: number, what: string): void {
    if (pos % align !== 0) this.fail(`${what} at byte ${pos} is not ${align}-byte aligned`);
  }

  private charge(n: number, what: string): void {
    this.expanded += n;
    if (this.expanded > this.maxExpanded) {
      throw new WireError('payload_too_large',
        `binary frame ${what} expands past ${this.maxExpanded.toLocaleString('en-US')} bytes (ws_max_message_bytes; shared strings count once per reference); send a smaller request`);
    }
  }

  /** Follows the uoffset stored at `pos`; returns the absolute target. */
  private deref(pos: number, what: string): number {
    this.within(pos, 4, what);
    this.aligned(pos, 4, what);
    const off = this.view.getUint32(pos, true);
    // Offsets point forward (the builder writes back to front); 0 would point at itself.
    if (off === 0 || off >= 0x80000000) this.fail(`${what} has offset ${off}`);
    const target = pos + off;
    this.within(target, 1, `${what} target`);
    return target;
  }

  verify(): void {
    if (this.len < 12) this.fail(`${this.len} bytes is too short for a root offset, file identifier and table`);
    for (let i = 0; i < 4; i++) {
      if (this.bytes[4 + i] !== FILE_IDENTIFIER.charCodeAt(i)) this.fail(`file identifier is not "${FILE_IDENTIFIER}"`);
    }
    const root = this.deref(0, 'root table offset');
    this.table(root, ENVELOPE, 0);
  }

  private table(pos: number, spec: TableSpec, depth: number): void {
    if (depth > 4) this.fail(`${spec.name} nested too deeply`);
    const what = `${spec.name} table`;
    this.within(pos, 4, what);
    this.aligned(pos, 4, what);
    const vt = pos - this.view.getInt32(pos, true);
    this.within(vt, 4, `${spec.name} vtable`);
    this.aligned(vt, 2, `${spec.name} vtable`);
    // The runtime reads vtable entries as int16, so anything with the top bit set is out.
    const vsize = this.view.getUint16(vt, true);
    const tsize = this.view.getUint16(vt + 2, true);
    if (vsize < 4 || vsize % 2 !== 0 || vsize > 0x7fff) this.fail(`${spec.name} vtable size ${vsize}`);
    if (tsize < 4 || tsize > 0x7fff) this.fail(`${spec.name} table size ${tsize}`);
    this.within(vt, vsize, `${spec.name} vtable`);
    this.within(pos, tsize, what);

    let utype = 0;
    spec.fields.forEach((field, slot) => {
      const entry = 4 + 2 * slot;
      const voff = entry < vsize ? this.view.getUint16(vt + entry, true) : 0;
      const fname = `${spec.name}.${field.name}`;
      if (voff === 0) {
        if (field.required) this.fail(`required field ${fname} is missing`);
        return;
      }
      const kind = field.kind;
      const size = kind.k === 'scalar' ? kind.size : kind.k === 'utype' ? 1 : 4;
      if (voff < 4 || voff > 0x7fff || voff + size > tsize) this.fail(`${fname} at table offset ${voff} lies outside the ${tsize}-byte table`);
      const fpos = pos + voff;
      this.aligned(fpos, size, fname);
      switch (kind.k) {
        case 'scalar':
          return;
        case 'utype':
          utype = this.bytes[fpos];
          if (!(utype in UNION_TABLES)) this.fail(`${fname} ${utype} is not a known message type (1..${Object.keys(UNION_TABLES).length})`);
          return;
        case 'union':
          // Slot order puts message_type before message, so utype is known (required) here.
          this.table(this.deref(fpos, fname), UNION_TABLES[utype], depth + 1);
          return;
        case 'string':
          this.string(this.deref(fpos, fname), fname);
          return;
        case 'strings': {
          const [n, start] = this.vector(this.deref(fpos, fname), 4, fname);
          for (let i = 0; i < n; i++) this.string(this.deref(start + 4 * i, `${fname}[${i}]`), `${fname}[${i}]`);
          return;
        }
        case 'structs':
        case 'scalars':
          this.vector(this.deref(fpos, fname), kind.size, fname);
          return;
        case 'tables': {
          const [n, start] = this.vector(this.deref(fpos, fname), 4, fname);
          for (let i = 0; i < n; i++) this.table(this.deref(start + 4 * i, `${fname}[${i}]`), kind.of, depth + 1);
          return;
        }
      }
    });
  }

  /** Returns [length, first element position]. */
  private vector(pos: number, elemSize: number, what: string): [number, number] {
    this.within(pos, 4, `${what} length`);
    this.aligned(pos, 4, `${what} vector`);
    const n = this.view.getUint32(pos, true);
    const bytes = n * elemSize; // at most 2^32 * 12: exact in a double
    this.within(pos + 4, bytes, `${what} (${n} elements of ${elemSize} bytes)`);
    this.charge(bytes, what);
    return [n, pos + 4];
  }

  private string(pos: number, what: string): void {
    this.within(pos, 4, `${what} length`);
    this.aligned(pos, 4, `${what} string`);
    const n = this.view.getUint32(pos, true);
    this.within(pos + 4, n + 1, `${what} (${n}-byte string + NUL)`);
    if (this.bytes[pos + 4 + n] !== 0) this.fail(`${what} is not NUL-terminated`);
    this.charge(n, what);
    if (!isUtf8(this.bytes.subarray(pos + 4, pos + 4 + n))) this.fail(`${what} is not valid UTF-8`);
  }
}

// ---------------------------------------------------------------------------------------------
// Flatbuffers binary frames: decoding (only after FrameVerifier passed)
// ---------------------------------------------------------------------------------------------

function toBytes(frame: Uint8Array | ArrayBuffer): Uint8Array {
  return frame instanceof Uint8Array ? frame : new Uint8Array(frame);
}

/** Verifies, reads and validates one binary frame. Never throws anything but WireError. */
export function decodeBinary(frame: Uint8Array | ArrayBuffer, opts: DecodeOptions = {}): WireMessage {
  const max = opts.maxBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const bytes = toBytes(frame);
  if (bytes.byteLength > max) throw tooBig(bytes.byteLength, max, 'binary frame');
  try {
    new FrameVerifier(bytes, max).verify();
    return validateMessage(readVerified(bytes));
  } catch (e) {
    // The verifier covers everything the reader touches; this is a second net, not a path we expect.
    if (e instanceof WireError) throw e;
    throw new WireError('invalid_input', `binary frame could not be read: ${(e as Error).message}`);
  }
}

function readVerified(bytes: Uint8Array): Record<string, unknown> {
  const bb = new flatbuffers.ByteBuffer(bytes);
  const env = Envelope.getRootAsEnvelope(bb);
  const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
  switch (env.messageType()) {
    case Message.RerankRequest: {
      const m = env.message(new RerankRequest()) as RerankRequest;
      const passages: string[] = new Array(m.passagesLength());
      for (let i = 0; i < passages.length; i++) passages[i] = m.passages(i);
      return { type: 'rerank', id: m.id(), query: m.query(), passages, threshold: opt(m.threshold()), top_n: opt(m.topN()), truncate: opt(m.truncate()) };
    }
    case Message.SearchRequest: {
      const m = env.message(new SearchRequest()) as SearchRequest;
      return { type: 'search', id: m.id(), query: m.query(), top_k: opt(m.topK()), threshold: opt(m.threshold()), top_n: opt(m.topN()), truncate: opt(m.truncate()) };
    }
    case Message.CancelRequest:
      return { type: 'cancel', id: (env.message(new CancelRequest()) as CancelRequest).id() };
    case Message.Accepted:
      return { type: 'accepted', id: (env.message(new Accepted()) as Accepted).id() };
    case Message.Candidates: {
      const m = env.message(new Candidates()) as Candidates;
      const hits: Record<string, unknown>[] = [];
      const h = new Hit();
      for (let i = 0, n = m.hitsLength(); i < n; i++) {
        m.hits(i, h);
        hits.push({
          index: h.index(),
          doc_id: h.docId(),
          retrieval_score: h.retrievalScore(),
          text: opt(h.text()),
        });
      }
      return { type: 'candidates', id: m.id(), hits };
    }
    case Message.Partial: {
      const m = env.message(new Partial()) as Partial;
      return { type: 'partial', id: m.id(), results: readScores(m.resultsLength(), (i, s) => m.results(i, s)) };
    }
    case Message.Final: {
      const m = env.message(new Final()) as Final;
      const kept: number[] = new Array(m.keptLength());
      for (let i = 0; i < kept.length; i++) kept[i] = m.kept(i)!;
      const outcome = OUTCOME_NAME[m.outcome()];
      if (outcome === undefined) {
        throw new WireError('invalid_input', `binary frame Final.outcome ${m.outcome()} is not a known Outcome (0 answer, 1 no_relevant, 2 answer_from_fallback, 3 ambiguous)`, 'outcome', m.id() ?? undefined);
      }
      return {
        type: 'final', id: m.id(), results: readScores(m.resultsLength(), (i, s) => m.results(i, s)), kept,
        outcome, threshold: opt(m.threshold()),
        // Not in the binary Final: it follows from the outcome (the collection lacks a confident answer).
        augment: outcome === 'no_relevant' || outcome === 'ambiguous',
      };
    }
    case Message.ErrorReply: {
      const m = env.message(new ErrorReply()) as ErrorReply;
      return { type: 'error', id: opt(m.id()), error: m.error(), error_type: m.errorType() };
    }
    default:
      throw new WireError('invalid_input', `binary frame message_type ${env.messageType()} is not known`);
  }
}

function readScores(n: number, at: (i: number, s: Score) => Score | null): ScoredPassage[] {
  const out: ScoredPassage[] = new Array(n);
  const s = new Score();
  for (let i = 0; i < n; i++) {
    at(i, s);
    out[i] = { index: s.index(), logit: s.logit(), probability: s.probability() };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Frames, as the server sees them
// ---------------------------------------------------------------------------------------------

/** Decodes one WebSocket frame; `isBinary` picks the encoding, which the reply should reuse. */
export function decodeFrame(frame: Uint8Array | ArrayBuffer | string, isBinary: boolean, opts: DecodeOptions = {}): WireMessage {
  if (isBinary) {
    if (typeof frame === 'string') throw new TypeError('decodeFrame: a binary frame must be bytes');
    return decodeBinary(frame, opts);
  }
  return decodeJson(frame, opts);
}

/** Decodes a frame a client sent; a server-to-client message type is refused by name. */
export function decodeClientFrame(frame: Uint8Array | ArrayBuffer | string, isBinary: boolean, opts: DecodeOptions = {}): ClientMessage {
  const m = decodeFrame(frame, isBinary, opts);
  if (!(CLIENT_MESSAGE_TYPES as readonly string[]).includes(m.type)) {
    throw new WireError('validation', `type '${m.type}' is sent by the server; clients send ${CLIENT_MESSAGE_TYPES.join(', ')}`, 'type', 'id' in m ? m.id : undefined);
  }
  return m as ClientMessage;
}

/** Decodes a frame the server sent (for clients, tests and the load generator). */
export function decodeServerFrame(frame: Uint8Array | ArrayBuffer | string, isBinary: boolean, opts: DecodeOptions = {}): ServerMessage {
  const m = decodeFrame(frame, isBinary, opts);
  if (!(SERVER_MESSAGE_TYPES as readonly string[]).includes(m.type)) {
    throw new WireError('validation', `type '${m.type}' is sent by clients; servers send ${SERVER_MESSAGE_TYPES.join(', ')}`, 'type', 'id' in m ? m.id : undefined);
  }
  return m as ServerMessage;
}

export function encodeFrame(msg: WireMessage, encoding: 'json'): string;
export function encodeFrame(msg: WireMessage, encoding: 'binary'): Uint8Array;
export function encodeFrame(msg: WireMessage, encoding: FrameEncoding): string | Uint8Array;
export function encodeFrame(msg: WireMessage, encoding: FrameEncoding): string | Uint8Array {
  return encoding === 'binary' ? encodeBinary(msg) : encodeJson(msg);
}
