// The server's one closed set of error types, and how each one reaches a client: an HTTP status with
// the body {error, error_type}, a WebSocket `error` message, or a WebSocket close code.

import { STATUS_CODES } from 'node:http';
import type { ErrorMessage } from '../wire/codec.js';
import { WireError } from '../wire/codec.js';
import { InferenceBackendError, InferenceClosedError } from '../infer/errors.js';

/** WebSocket close codes the server uses (RFC 6455 section 7.4, IANA registry). */
export const WS_CLOSE = {
  normal: 1000,
  goingAway: 1001,       // shutdown / draining
  policy: 1008,          // auth failure, slow consumer over the hard backpressure limit
  tooBig: 1009,          // a frame over ws_max_message_bytes
  internal: 1011,        // a server bug; the connection cannot continue
  tryAgainLater: 1013,   // not ready yet
} as const;

/** The closed set of error kinds: every surface (HTTP, WS, CLI) speaks these names. */
export type ErrorType =
  | 'invalid_input' | 'unauthorized' | 'not_found' | 'method_not_allowed' | 'payload_too_large'
  | 'batch_too_large' | 'validation' | 'input_too_long' | 'overloaded' | 'queue_full' | 'backend'
  | 'internal' | 'not_ready' | 'draining' | 'timeout';

/** Compile-time exhaustiveness: a kind added to ErrorType without a case in every switch below fails the build. */
function unreachable(t: never): never {
  throw new Error(`unknown error type ${String(t)}`);
}

/** The HTTP status each kind answers with. */
export function httpStatus(t: ErrorType): number {
  switch (t) {
    case 'invalid_input': return 400;
    case 'unauthorized': return 401;
    case 'not_found': return 404;
    case 'method_not_allowed': return 405;
    case 'payload_too_large': case 'batch_too_large': return 413;
    case 'validation': case 'input_too_long': return 422;
    case 'overloaded': case 'queue_full': return 429;
    case 'backend': case 'internal': return 500;
    case 'not_ready': case 'draining': return 503;
    case 'timeout': return 504;
    default: return unreachable(t);
  }
}

/**
 * On a WebSocket: null = send an `error` message for that request and keep the connection; a code = send
 * the `error` message (when the socket can still take it), then close with the code.
 */
export function wsCloseCode(t: ErrorType): number | null {
  switch (t) {
    case 'unauthorized': return WS_CLOSE.policy;
    case 'payload_too_large': return WS_CLOSE.tooBig;
    case 'internal': return WS_CLOSE.internal;
    case 'not_ready': return WS_CLOSE.tryAgainLater;
    case 'draining': return WS_CLOSE.goingAway;
    case 'invalid_input': case 'not_found': case 'method_not_allowed': case 'batch_too_large': case 'validation':
    case 'input_too_long': case 'overloaded': case 'queue_full': case 'backend': case 'timeout':
      return null;
    default: return unreachable(t);
  }
}

/** Exit codes of the CLI: 2 = the input or the call was wrong (as a usage error), 3 = busy or not ready (retry), 1 = a failure. */
export const CLI_EXIT = { failure: 1, usage: 2, retry: 3 } as const;

export function cliExitCode(t: ErrorType): number {
  switch (t) {
    case 'invalid_input': case 'not_found': case 'method_not_allowed': case 'payload_too_large':
    case 'batch_too_large': case 'validation': case 'input_too_long': case 'unauthorized':
      return CLI_EXIT.usage;
    case 'overloaded': case 'queue_full': case 'not_ready': case 'draining': case 'timeout':
      return CLI_EXIT.retry;
    case 'backend': case 'internal':
      return CLI_EXIT.failure;
    default: return unreachable(t);
  }
}

/** Seconds for Retry-After when the client should simply come back (429/503), else undefined. */
export function retryAfterS(t: ErrorType): number | undefined {
  switch (t) {
    case 'overloaded': case 'queue_full': return 1;
    case 'not_ready': return 2;
    default: return undefined;
  }
}

/** What each kind means, for the README error table and /openapi.json. */
const MEANING: Record<ErrorType, string> = {
  invalid_input: 'the body or frame is not valid JSON or not a valid crossgate flatbuffer',
  unauthorized: 'an API key is configured and the request has no valid Authorization: Bearer header',
  not_found: 'no such route, or no such request id to cancel',
  method_not_allowed: 'the route exists but not for this HTTP method',
  payload_too_large: 'the body or frame is over max_payload_bytes / ws_max_message_bytes',
  batch_too_large: 'more documents than max_documents_per_request, or more tokens in one request than max_queue_tokens (it could never be queued)',
  validation: 'a field is missing, has the wrong type or an invalid value',
  input_too_long: 'a text is over max_input_tokens and truncation is off',
  overloaded: 'max_concurrent_requests requests are already in flight',
  queue_full: 'the request would fit max_queue_tokens, but not on top of the tokens already queued',
  backend: 'inference failed (e.g. a NaN score); the server is still running',
  internal: 'a server bug; the server is still running',
  not_ready: 'models are still loading or warming up',
  draining: 'the server is shutting down and takes no new requests',
  timeout: 'the request did not finish within request_timeout_ms',
};

interface ErrorTypeSpec { status: number; meaning: string; retryAfterS?: number; wsClose: number | null; cliExit: number }

/** The table view of the switches above (README, OpenAPI, tests); built from them, never edited by hand. */
export const ERROR_TYPES = Object.fromEntries((Object.keys(MEANING) as ErrorType[]).map((t) => {
  const spec: ErrorTypeSpec = { status: httpStatus(t), meaning: MEANING[t], wsClose: wsCloseCode(t), cliExit: cliExitCode(t) };
  const retry = retryAfterS(t);
  if (retry !== undefined) spec.retryAfterS = retry;
  return [t, spec];
})) as Record<ErrorType, ErrorTypeSpec>;

export const ERROR_TYPE_NAMES = Object.keys(MEANING) as ErrorType[];

export function isErrorType(s: string): s is ErrorType {
  return Object.prototype.hasOwnProperty.call(MEANING, s);
}

/** The one error class route handlers and the WS protocol throw. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly retryAfterS: number | undefined;
  /** The request field at fault, when there is one ("texts[3]"). */
  readonly field: string | undefined;
  /** The WS request id, so the error message can be tied to its request. */
  readonly requestId: string | undefined;

  constructor(
    readonly type: ErrorType,
    message: string,
    opts: { field?: string; requestId?: string; retryAfterS?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.status = httpStatus(type);
    this.retryAfterS = opts.retryAfterS ?? retryAfterS(type);
    this.field = opts.field;
    this.requestId = opts.requestId;
  }
}

const grouped = new Intl.NumberFormat('en-US');
/** 9812 -> "9,812": limits in messages read like the README table. */
export function fmt(n: number): string {
  return Number.isFinite(n) ? grouped.format(n) : String(n);
}

/**
 * The house message for a limit: "texts[3] is 9,812 tokens; max_input_tokens is 512; pass truncate=true".
 */
export function limitMessage(o: { subject: string; actual: number; unit: string; limit: string; max: number; fix: string }): string {
  return `${o.subject} is ${fmt(o.actual)} ${o.unit}; ${o.limit} is ${fmt(o.max)}; ${o.fix}`;
}

export function limitError(type: ErrorType, o: Parameters<typeof limitMessage>[0] & { requestId?: string }): ApiError {
  return new ApiError(type, limitMessage(o), { field: o.subject, requestId: o.requestId });
}

/** The caller's own signal aborted (client gone, WS cancel): nothing should be sent for this call. */
export class CallCancelledError extends Error {
  override readonly name = 'CallCancelledError';
  constructor(message = 'the request was cancelled by its client') { super(message); }
}

/**
 * Any thrown value as an ApiError: ApiError passes through, a codec WireError keeps its kind, the infer
 * room's errors map by class (a model that failed or was closed under a running server is `backend`:
 * the other models keep serving), anything else is `fallback` (the process stays up; the message says so).
 */
export function toApiError(e: unknown, fallback: 'backend' | 'internal' = 'backend'): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof WireError) return new ApiError(e.kind, e.message, { field: e.field, requestId: e.id, cause: e });
  if (e instanceof InferenceBackendError || e instanceof InferenceClosedError) {
    return new ApiError('backend', `inference failed: ${e.message}; the server is still running, retry the request or check the server log`, { cause: e });
  }
  const detail = e instanceof Error ? e.message : String(e);
  const what = fallback === 'backend' ? 'inference failed' : 'internal server error';
  return new ApiError(fallback, `${what}: ${detail}; the server is still running, retry the request or check the server log`, { cause: e });
}

/** "422 Unprocessable Entity": uWS wants the whole status line. */
export function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
}

/** The HTTP body, always exactly {error, error_type}. */
export function errorBody(err: ApiError): { error: string; error_type: ErrorType } {
  return { error: err.message, error_type: err.type };
}

/** Extra headers for an error response (Retry-After on 429/503 where coming back later helps). */
export function errorHeaders(err: ApiError): Record<string, string> {
  const h: Record<string, string> = {};
  if (err.retryAfterS !== undefined) h['retry-after'] = String(Math.max(0, Math.ceil(err.retryAfterS)));
  if (err.type === 'unauthorized') h['www-authenticate'] = 'Bearer';
  return h;
}

/** The WS `error` message for a request (id left out when the frame could not be tied to one). */
export function wsErrorMessage(err: ApiError, id?: string): ErrorMessage {
  const rid = id ?? err.requestId;
  return rid === undefined
    ? { type: 'error', error: err.message, error_type: err.type }
    : { type: 'error', id: rid, error: err.message, error_type: err.type };
}

/**
 * A close reason fits in 123 bytes (RFC 6455 5.5: control frame payload 125 minus the code).
 * Cut on a character boundary so the peer's UTF-8 check does not fail the close itself.
 */
export function wsCloseReason(message: string): string {
  const max = 123;
  if (Buffer.byteLength(message) <= max) return message;
  let out = '';
  let bytes = 0;
  for (const ch of message) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > max - 3) break;
    out += ch;
    bytes += n;
  }
  return `${out}...`;
}
