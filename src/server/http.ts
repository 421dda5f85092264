// The HTTP routes: one table (method, path, auth, the request schema, the handler) that mounts on uWS,
// feeds /openapi.json, and answers 404/405 for everything else. Handlers turn bodies into service calls
// and service results into the TEI / Cohere / OpenAI shapes.
import { randomUUID } from 'node:crypto';
import type { ServerContext } from './context.js';
import { ApiError, ERROR_TYPES, toApiError, type ErrorType } from './errors.js';
import { PROMETHEUS_CONTENT_TYPE } from './metrics.js';
import { buildOpenApi, type RouteDoc } from './openapi.js';
import {
  CallCancelledError, parseJsonBody, precheckCount, REQUEST_SCHEMAS, runEmbed, runRerank, runSearch, runTokenize,
  truncationSide, validateBody,
  type CohereRerankBody, type OpenAiEmbeddingsBody, type RequestTimings, type SearchBody, type TeiEmbedBody,
  type TeiRerankBody, type TokenizeBody,
} from './service.js';
import { readBody, readHead, Reply, type RequestHead, type TemplatedApp } from './uws.js';

/** Status recorded for a request whose client went away before the answer (nginx's 499). */
export const STATUS_CLIENT_GONE = 499;

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

interface HandlerInput {
  deps: HttpDeps;
  ctx: ServerContext;
  head: RequestHead;
  body: unknown;
  signal: AbortSignal;
  route: string;
}

interface HandlerOutput {
  status?: number;
  json?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
  timings?: RequestTimings;
  tokens?: number;
}

interface Route {
  doc: RouteDoc;
  /** Refused with 503 unless the server is ready (inference routes). */
  needsReady: boolean;
  /** Takes a max_concurrent_requests slot. */
  admits: boolean;
  /** The request list checked against max_documents_per_request before the schema (413 first). */
  countField?: string;
  handler(x: HandlerInput): Promise<HandlerOutput> | HandlerOutput;
}

const INFER_ERRORS: ErrorType[] = ['invalid_input', 'payload_too_large', 'batch_too_large', 'validation', 'input_too_long', 'overloaded', 'queue_full', 'backend', 'not_ready', 'draining', 'timeout'];

function sortedRerank(body: TeiRerankBody, r: Awaited<ReturnType<typeof runRerank>>): unknown[] {
  const raw = body.raw_scores === true;
  const rows = r.decision.candidates.map((c) => {
    const row: { index: number; text?: string; score: number } = { index: c.index, score: raw ? c.logit : c.probability };
    if (body.return_text === true) row.text = c.text;
    return row;
  });
  rows.sort((a, b) => b.score - a.score || a.index - b.index);
  return rows;
}

function cohereRerank(defaultReturnDocuments: boolean) {
  return async ({ ctx, body, signal, route }: HandlerInput): Promise<HandlerOutput> => {
    const b = validateBody<CohereRerankBody>(body, REQUEST_SCHEMAS.cohereRerank);
    const documents = b.documents.map((d) => (typeof d === 'string' ? d : d.text));
    const r = await runRerank(ctx, {
      route, model: b.model, query: b.query, documents, documentsField: 'documents',
      maxTokensPerDoc: b.max_tokens_per_doc, signal,
    });
    // kept and dropped are each sorted by probability and split at the threshold: together, sorted.
    let ranked = [...r.decision.kept, ...r.decision.dropped];
    if (b.top_n !== undefined) ranked = ranked.slice(0, b.top_n);
    const withDocs = b.return_documents ?? defaultReturnDocuments;
    return {
      json: {
        id: randomUUID(),
        results: ranked.map((c) => (withDocs
          ? { index: c.index, relevance_score: c.probability, document: { text: c.text } }
          : { index: c.index, relevance_score: c.probability })),
        meta: {
          api_version: { version: '2' },
          billed_units: { search_units: Math.max(1, Math.ceil(documents.length / 100)) },
          tokens: { input_tokens: r.tokens, output_tokens: 0 },
        },
        model: r.model,
        usage: { total_tokens: r.tokens },
      },
      timings: r.timings,
      tokens: r.tokens,
    };
  };
}

function asList(v: string | string[]): string[] {
  return typeof v === 'string' ? [v] : v;
}

/** float32 little-endian bytes, base64 (OpenAI encoding_format=base64). */
function base64Vector(v: Float32Array): string {
  const buf = Buffer.allocUnsafe(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i], i * 4);
  return buf.toString('base64');
}

export function routes(): Route[] {
  return [
    {
      doc: { method: 'post', path: '/rerank', operationId: 'rerank', tag: 'TEI', auth: true, request: REQUEST_SCHEMAS.teiRerank, response: 'teiRerank', errors: INFER_ERRORS, timingHeaders: true,
        summary: 'Rerank texts against a query (TEI-compatible)', description: 'Scores every (query, text) pair with a cross-encoder; sorted by score, highest first.' },
      needsReady: true, admits: true, countField: 'texts',
      async handler({ ctx, body, signal, route }) {
        const b = validateBody<TeiRerankBody>(body, REQUEST_SCHEMAS.teiRerank);
        const r = await runRerank(ctx, {
          route, model: b.model, query: b.query, documents: b.texts, documentsField: 'texts',
          truncate: b.truncate, truncationDirection: truncationSide(b.truncation_direction), signal,
        });
        return { json: sortedRerank(b, r), timings: r.timings, tokens: r.tokens };
      },
    },
    {
      doc: { method: 'post', path: '/v2/rerank', operationId: 'rerankCohere', tag: 'Cohere/Jina', auth: true, request: REQUEST_SCHEMAS.cohereRerank, response: 'cohereRerank', errors: INFER_ERRORS, timingHeaders: true,
        summary: 'Rerank documents (Cohere v2-compatible)', description: 'return_documents defaults to false, as in Cohere.' },
      needsReady: true, admits: true, countField: 'documents', handler: cohereRerank(false),
    },
    {
      doc: { method: 'post', path: '/v1/rerank', operationId: 'rerankJina', tag: 'Cohere/Jina', auth: true, request: REQUEST_SCHEMAS.cohereRerank, response: 'cohereRerank', errors: INFER_ERRORS, timingHeaders: true,
        summary: 'Rerank documents (Jina/Cohere v1-compatible)', description: 'The /v2/rerank shape; return_documents defaults to true, as in Jina.' },
      needsReady: true, admits: true, countField: 'documents', handler: cohereRerank(true),
    },
    {
      doc: { method: 'post', path: '/embed', operationId: 'embed', tag: 'TEI', auth: true, request: REQUEST_SCHEMAS.teiEmbed, response: 'teiEmbed', errors: INFER_ERRORS, timingHeaders: true,
        summary: 'Embed texts with the bi-encoder (TEI-compatible)' },
      needsReady: true, admits: true, countField: 'inputs',
      async handler({ ctx, body, signal, route }) {
        const b = validateBody<TeiEmbedBody>(body, REQUEST_SCHEMAS.teiEmbed);
        const r = await runEmbed(ctx, {
          route, model: b.model, inputs: asList(b.inputs), inputsField: 'inputs', truncate: b.truncate,
          truncationDirection: truncationSide(b.truncation_direction), normalize: b.normalize, signal,
        });
        return { json: r.vectors.map((v) => Array.from(v)), timings: r.timings, tokens: r.tokens };
      },
    },
    {
      doc: { method: 'post', path: '/v1/embeddings', operationId: 'embeddingsOpenAI', tag: 'OpenAI', auth: true, request: REQUEST_SCHEMAS.openaiEmbeddings, response: 'openaiEmbeddings', errors: INFER_ERRORS, timingHeaders: true,
        summary: 'Embed texts (OpenAI-compatible, with usage)' },
      needsReady: true, admits: true, countField: 'input',
      async handler({ ctx, body, signal, route }) {
        const b = validateBody<OpenAiEmbeddingsBody>(body, REQUEST_SCHEMAS.openaiEmbeddings);
        const served = ctx.embedder(b.model);
        if (b.dimensions !== undefined && b.dimensions !== served.encoder.dim) {
          throw new ApiError('validation', `dimensions is ${b.dimensions} but model "${served.name}" makes ${served.encoder.dim}-dimensional vectors; leave dimensions out or pass ${served.encoder.dim}`, { field: 'dimensions' });
        }
        const r = await runEmbed(ctx, { route, model: served.name, inputs: asList(b.input), inputsField: 'input', signal });
        const b64 = b.encoding_format === 'base64';
        return {
          json: {
            object: 'list',
            data: r.vectors.map((v, index) => ({ object: 'embedding', index, embedding: b64 ? base64Vector(v) : Array.from(v) })),
            model: r.model,
            usage: { prompt_tokens: r.tokens, total_tokens: r.tokens },
          },
          timings: r.timings,
          tokens: r.tokens,
        };
      },
    },
    {
      doc: { method: 'post', path: '/tokenize', operationId: 'tokenize', tag: 'TEI', auth: true, request: REQUEST_SCHEMAS.tokenize, response: 'tokenize',
        errors: ['invalid_input', 'payload_too_large', 'batch_too_large', 'validation', 'overloaded', 'not_ready', 'draining'],
        summary: 'Tokenize texts (TEI-compatible)', description: 'No truncation. Rerankers are listed first; `model` picks any served model.' },
      needsReady: true, admits: true, countField: 'inputs',
      async handler({ ctx, body }) {
        const b = validateBody<TokenizeBody>(body, REQUEST_SCHEMAS.tokenize);
        return { json: await runTokenize(ctx, { inputs: asList(b.inputs), addSpecialTokens: b.add_special_tokens !== false, model: b.model }) };
      },
    },
    {
      doc: { method: 'post', path: '/search', operationId: 'search', tag: 'crossgate', auth: true, request: REQUEST_SCHEMAS.search, response: 'search', errors: INFER_ERRORS, timingHeaders: true,
        summary: 'Retrieve from the served collection, rerank, and apply the relevance gate',
        description: 'Returns the engine\'s GateDecision (the library\'s field names). 422 validation when no collection is served.' },
      needsReady: true, admits: true,
      async handler({ ctx, body, signal, route }) {
        const b = validateBody<SearchBody>(body, REQUEST_SCHEMAS.search);
        const r = await runSearch(ctx, { route, query: b.query, topK: b.top_k, threshold: b.threshold, truncate: b.truncate, signal });
        return { json: r.decision, timings: r.timings, tokens: r.tokens };
      },
    },
    {
      doc: { method: 'get', path: '/health', operationId: 'health', tag: 'operations', auth: false, response: 'health', errors: [],
        summary: 'Liveness: 200 while the process runs (no auth)' },
      needsReady: false, admits: false,
      handler: ({ ctx }) => ({ json: { status: 'ok', phase: ctx.phase } }),
    },
    {
      doc: { method: 'get', path: '/ready', operationId: 'ready', tag: 'operations', auth: true, response: 'ready', errors: ['not_ready', 'draining'],
        summary: 'Readiness: 200 once models are loaded and warmed; 503 before that and while draining' },
      needsReady: true, admits: false,
      handler: () => ({ json: { status: 'ready' } }),
    },
    {
      doc: { method: 'get', path: '/info', operationId: 'info', tag: 'operations', auth: true, response: 'info', errors: [],
        summary: 'Models, execution providers, and every limit with its value' },
      needsReady: false, admits: false,
      handler: ({ deps }) => ({ json: deps.info() }),
    },
    {
      doc: { method: 'get', path: '/metrics', operationId: 'metrics', tag: 'operations', auth: true, response: 'metrics', contentType: PROMETHEUS_CONTENT_TYPE, errors: [],
        summary: 'Prometheus metrics' },
      needsReady: false, admits: false,
      handler: ({ ctx }) => ({ text: ctx.metrics.registry.render(), contentType: PROMETHEUS_CONTENT_TYPE }),
    },
    {
      doc: { method: 'get', path: '/openapi.json', operationId: 'openapi', tag: 'operations', auth: true, response: 'openapi', errors: [],
        summary: 'This document' },
      needsReady: false, admits: false,
      handler: ({ deps, ctx }) => ({ json: buildOpenApi(routes().map((r) => r.doc), ctx.config, deps.version) }),
    },
  ];
}

function timingHeaders(totalMs: number, out: HandlerOutput): Record<string, string> {
  const h: Record<string, string> = { 'x-compute-time': String(Math.round(totalMs)) };
  if (out.timings) {
    h['x-tokenization-time'] = String(Math.round(out.timings.tokenizationMs));
    h['x-queue-time'] = String(Math.round(out.timings.queueMs));
    h['x-inference-time'] = String(Math.round(out.timings.inferenceMs));
  }
  if (out.tokens !== undefined) h['x-compute-tokens'] = String(out.tokens);
  return h;
}

async function serve(deps: HttpDeps, route: Route, reply: Reply, head: RequestHead, t0: number): Promise<void> {
  const { ctx } = deps;
  const path = route.doc.path;
  let status = 500;
  let release: (() => void) | null = null;
  // Aborted when the client goes away or a shutdown runs out of grace: the service drops pending rows.
  const ac = new AbortController();
  const onShutdown = (): void => ac.abort(deps.shutdownSignal.reason);
  reply.onAbort(() => ac.abort(new CallCancelledError('the client closed the connection')));
  if (deps.shutdownSignal.aborted) onShutdown();
  else deps.shutdownSignal.addEventListener('abort', onShutdown, { once: true });
  const work = (async () => {
    try {
      if (route.doc.auth) ctx.checkAuth(head.headers.authorization);
      if (route.needsReady) ctx.checkServing();
      if (route.admits) release = ctx.admit();
      let body: unknown;
      if (route.doc.method === 'post') {
        const r = await readBody(reply, head, ctx.config.maxPayloadBytes, { timeoutMs: ctx.config.requestTimeoutMs });
        if (!r.ok) {
          status = r.reason === 'aborted' ? STATUS_CLIENT_GONE : r.reason === 'timeout' ? ERROR_TYPES.timeout.status : ERROR_TYPES.payload_too_large.status;
          return;
        }
        body = parseJsonBody(r.body);
        if (route.countField) precheckCount(ctx, body, route.countField);
      }
      const out = await route.handler({ deps, ctx, head, body, signal: ac.signal, route: path });
      if (!reply.open) { status = STATUS_CLIENT_GONE; return; }
      status = out.status ?? 200;
      const headers = { ...timingHeaders(performance.now() - t0, out), ...out.headers };
      // While draining, every answer also closes its connection, so keep-alive clients stop reusing it.
      const closeAfter = ctx.phase === 'draining' || ctx.phase === 'closed';
      if (out.text !== undefined) reply.send(status, { 'content-type': out.contentType ?? 'text/plain; charset=utf-8', ...headers }, out.text, closeAfter);
      else reply.send(status, { 'content-type': 'application/json', ...headers }, JSON.stringify(out.json), closeAfter);
    } catch (e) {
      if (!reply.open || e instanceof CallCancelledError) { status = STATUS_CLIENT_GONE; return; }
      const err = toApiError(e, 'backend');
      status = err.status;
      if (status >= 500 && status !== 503 && status !== 504) deps.log(`crossgate: ${route.doc.method.toUpperCase()} ${path} -> ${status} ${err.type}: ${err.message}`);
      reply.sendError(err, {}, err.type === 'draining' || ctx.phase === 'draining' || ctx.phase === 'closed');
    } finally {
      if (release) (release as () => void)();
      deps.shutdownSignal.removeEventListener('abort', onShutdown);
      ctx.metrics.requests.inc({ route: path, status });
      ctx.metrics.requestSeconds.observe({ route: path }, (performance.now() - t0) / 1000);
    }
  })();
  await ctx.track(work);
}

/** Mounts every route, plus 405 for a known path with another method and 404 for the rest. */
export function registerHttp(app: TemplatedApp, deps: HttpDeps): void {
  const table = routes();
  const allowed = new Map<string, string[]>();
  for (const route of table) {
    const mount = route.doc.method === 'get' ? app.get.bind(app) : app.post.bind(app);
    mount(route.doc.path, (res, req) => {
      const reply = new Reply(res); // registers onAborted before anything async
      const head = readHead(req);   // req dies when this callback returns
      void serve(deps, route, reply, head, performance.now());
    });
    allowed.set(route.doc.path, [...(allowed.get(route.doc.path) ?? []), route.doc.method.toUpperCase()]);
  }
  app.any('/*', (res, req) => {
    const reply = new Reply(res);
    const head = readHead(req);
    const methods = allowed.get(head.url);
    let status: number;
    try {
      if (head.url !== '/health') deps.ctx.checkAuth(head.headers.authorization);
      if (methods) {
        throw new ApiError('method_not_allowed', `${head.method} ${head.url} is not supported; use ${methods.join(' or ')} (see GET /openapi.json)`);
      }
      throw new ApiError('not_found', `no route ${head.method} ${head.url}; the routes are listed at GET /openapi.json`);
    } catch (e) {
      const err = toApiError(e, 'internal');
      status = err.status;
      reply.sendError(err, methods && err.type === 'method_not_allowed' ? { allow: methods.join(', ') } : {});
    }
    deps.ctx.metrics.requests.inc({ route: 'other', status });
  });
}
