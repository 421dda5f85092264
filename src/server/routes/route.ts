// What a route is: its OpenAPI facts, its request declaration (validated once, in http.ts, before the
// handler runs) and a handler that takes the typed body. Adding a route = one `post`/`get` declaration in
// its family's file (tei.ts, cohere.ts, openai.ts, crossgate.ts, operations.ts) + the shapes in schemas.ts.
import type { Static, TSchema } from '@sinclair/typebox';
import type { RequestTimings } from '../../infer/scheduler.js';
import type { ServerContext } from '../context.js';
import type { ErrorType } from '../errors.js';
import type { ErrorFamily } from './family.js';
import type { ResponseName } from '../schemas.js';
import type { RequestHead } from '../uws.js';

/** What the routes need besides the ServerContext. */
export interface HttpDeps {
  ctx: ServerContext;
  /** Aborts every in-flight request (a shutdown whose grace period ran out). */
  shutdownSignal: AbortSignal;
  /** The GET /info body. */
  info(): unknown;
  version: string;
  /** Where 5xx failures are logged (one line each). */
  log(line: string): void;
}

/** What the OpenAPI document needs to know about one route. */
export interface RouteDoc {
  method: 'get' | 'post';
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth: boolean;
  request?: TSchema;
  /** Name of the 200 body's declaration in schemas.ts. */
  response: ResponseName;
  /** Content type of the 200 body (default application/json). */
  contentType?: string;
  /** Error types this route can answer with, besides 401 (auth routes) and 500 internal. */
  errors: ErrorType[];
  /** True when the 200 response carries the x-*-time headers. */
  timingHeaders?: boolean;
  /** The error shape and statuses (family.ts); default TEI's {error, error_type}. */
  family?: ErrorFamily;
}

export interface HandlerInput<B> {
  deps: HttpDeps;
  ctx: ServerContext;
  head: RequestHead;
  /** The body, already validated against the route's request declaration. */
  body: B;
  signal: AbortSignal;
  /** The route path, the metrics label. */
  route: string;
  /** Every route's doc (for /openapi.json). */
  routes: readonly RouteDoc[];
}

export interface HandlerOutput {
  status?: number;
  json?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
  timings?: RequestTimings;
  tokens?: number;
  /**
   * A streamed body (Server-Sent Events): http.ts sends the status and these headers, then `run` writes
   * the chunks (each write waits out backpressure and says false once the client is gone), then ends it.
   */
  stream?: { headers: Record<string, string>; run(write: (chunk: string) => Promise<boolean>): Promise<void> };
}

export interface Route {
  doc: RouteDoc;
  /** Refused with 503 unless the server is ready (inference routes). */
  needsReady: boolean;
  /** Takes a max_concurrent_requests slot. */
  admits: boolean;
  /** The request list checked against max_documents_per_request before the schema (413 first). */
  countField?: string;
  handler(x: HandlerInput<unknown>): Promise<HandlerOutput> | HandlerOutput;
}

/** The errors an inference route can answer with. */
export const INFER_ERRORS: ErrorType[] = ['invalid_input', 'payload_too_large', 'batch_too_large', 'validation', 'input_too_long', 'overloaded', 'queue_full', 'backend', 'not_ready', 'draining', 'timeout'];

type Facts = Omit<RouteDoc, 'method' | 'request'> & Pick<Route, 'needsReady' | 'admits' | 'countField'>;

function route(method: 'get' | 'post', facts: Facts, request: TSchema | undefined, handler: Route['handler']): Route {
  const { needsReady, admits, countField, ...doc } = facts;
  return { doc: { method, ...(request ? { request } : {}), ...doc }, needsReady, admits, countField, handler };
}

/** A POST route whose handler gets the body typed by its declaration. */
export function post<S extends TSchema>(request: S, facts: Facts, handler: (x: HandlerInput<Static<S>>) => Promise<HandlerOutput> | HandlerOutput): Route {
  return route('post', facts, request, handler as Route['handler']);
}

/** A GET route (no body). */
export function get(facts: Facts, handler: (x: HandlerInput<undefined>) => Promise<HandlerOutput> | HandlerOutput): Route {
  return route('get', facts, undefined, handler as Route['handler']);
}
