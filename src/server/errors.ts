// The server's one closed set of error types, and how each one reaches a client: an HTTP status with
// the body {error, error_type}, a WebSocket `error` message, or a WebSocket close code.

import { STATUS_CODES } from 'node:http';
import type { ErrorMessage } from '../wire/codec.js';
import { WireError } from '../wire/codec.js';

/** WebSocket close codes the server uses (RFC 6455 section 7.4, IANA registry). */
export const WS_CLOSE = {
  normal: 1000,
  goingAway: 1001,       // shutdown / draining
  policy: 1008,          // auth failure, slow consumer over the hard backpressure limit
  tooBig: 1009,          // a frame over ws_max_message_bytes
  internal: 1011,        // a server bug; the connection cannot continue
  tryAgainLater: 1013,   // not ready yet
} as const;

interface ErrorTypeSpec {
  status: number;
  /** What the error means, for the README error table and /openapi.json. */
  meaning: string;
  /** Seconds for Retry-After when the client should simply come back (429/503). */
  retryAfterS?: number;
  /**
   * On a WebSocket: null = send an `error` message for that request and keep the connection;
   * a code = send the `error` message (when the socket can still take it), then close with the code.
   */
  wsClose: number | null;
}

/** The closed set. Adding a type means adding a row here; nothing else invents error types. */
export const ERROR_TYPES = {
  invalid_input: { status: 400, meaning: 'the body or frame is not valid JSON or not a valid crossgate flatbuffer', wsClose: null },
  unauthorized: { status: 401, meaning: 'an API key is configured and the request has no valid Authorization: Bearer header', wsClose: WS_CLOSE.policy },
  not_found: { status: 404, meaning: 'no such route, or no such request id to cancel', wsClose: null },
  method_not_allowed: { status: 405, meaning: 'the route exists but not for this HTTP method', wsClose: null },
  payload_too_large: { status: 413, meaning: 'the body or frame is over max_payload_bytes / ws_max_message_bytes', wsClose: WS_CLOSE.tooBig },
  batch_too_large: { status: 413, meaning: 'more documents than max_documents_per_request, or more tokens in one request than max_queue_tokens (it could never be queued)', wsClose: null },
  validation: { status: 422, meaning: 'a field is missing, has the wrong type or an invalid value', wsClose: null },
  input_too_long: { status: 422, meaning: 'a text is over max_input_tokens and truncation is off', wsClose: null },
  overloaded: { status: 429, meaning: 'max_concurrent_requests requests are already in flight', retryAfterS: 1, wsClose: null },
  queue_full: { status: 429, meaning: 'the request would fit max_queue_tokens, but not on top of the tokens already queued', retryAfterS: 1, wsClose: null },
  backend: { status: 500, meaning: 'inference failed (e.g. a NaN score); the server is still running', wsClose: null },
  internal: { status: 500, meaning: 'a server bug; the server is still running', wsClose: WS_CLOSE.internal },
  not_ready: { status: 503, meaning: 'models are still loading or warming up', retryAfterS: 2, wsClose: WS_CLOSE.tryAgainLater },
  draining: { status: 503, meaning: 'the server is shutting down and takes no new requests', wsClose: WS_CLOSE.goingAway },
  timeout: { status: 504, meaning: 'the request did not finish within request_timeout_ms', wsClose: null },
} as const satisfies Record<string, ErrorTypeSpec>;

export type ErrorType = keyof typeof ERROR_TYPES;
export const ERROR_TYPE_NAMES = Object.keys(ERROR_TYPES) as ErrorType[];

export function isErrorType(s: string): s is ErrorType {
  return Object.prototype.hasOwnProperty.call(ERROR_TYPES, s);
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
    const spec: ErrorTypeSpec = ERROR_TYPES[type];
    this.status = spec.status;
    this.retryAfterS = opts.retryAfterS ?? spec.retryAfterS;
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

/**
 * Any thrown value as an ApiError: ApiError passes through, a codec WireError keeps its kind, anything
 * else is a backend failure (the process stays up; the message says so).
 */
export function toApiError(e: unknown, fallback: 'backend' | 'internal' = 'backend'): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof WireError) return new ApiError(e.kind, e.message, { field: e.field, requestId: e.id, cause: e });
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

/** Close code for the connection, or null when only the one request failed. */
export function wsCloseCode(type: ErrorType): number | null {
  return ERROR_TYPES[type].wsClose;
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
