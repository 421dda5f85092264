// HTTP on uWS: mounts the route table (routes/), reads and validates each body once against its route's
// declaration, runs the handler, and answers 404/405 for everything else. Auth, readiness, admission,
// metrics and the {error, error_type} body are handled here for every route alike.
import { ApiError, CallCancelledError, ERROR_TYPES, toApiError } from './errors.js';
import { sendFamilyError } from './routes/family.js';
import { routes, type HandlerOutput, type HttpDeps, type Route, type RouteDoc } from './routes/index.js';
import { checkJsonDepth, publicError } from './guards.js';
import { parseJsonBody, precheckCount, validateBody } from './validate.js';
import { readBody, readHead, Reply, type RequestHead, type TemplatedApp } from './uws.js';

export type { HttpDeps } from './routes/index.js';
export { routes } from './routes/index.js';

/** Status recorded for a request whose client went away before the answer (nginx's 499). */
export const STATUS_CLIENT_GONE = 499;

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

async function serve(deps: HttpDeps, route: Route, docs: readonly RouteDoc[], reply: Reply, head: RequestHead, t0: number): Promise<void> {
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
        checkJsonDepth(r.body, ctx.config.maxJsonDepth, 'the request body');
        body = parseJsonBody(r.body);
        if (route.countField) precheckCount(ctx.config, body, route.countField);
        if (route.doc.request) body = validateBody(route.doc.request, body);
      }
      const out = await route.handler({ deps, ctx, head, body, signal: ac.signal, route: path, routes: docs });
      if (!reply.open) { status = STATUS_CLIENT_GONE; return; }
      status = out.status ?? 200;
      const headers = { ...timingHeaders(performance.now() - t0, out), ...out.headers };
      // While draining, every answer also closes its connection, so keep-alive clients stop reusing it.
      const closeAfter = ctx.phase === 'draining' || ctx.phase === 'closed';
      if (out.stream) {
        reply.startStream(status, { ...out.stream.headers, ...headers });
        await out.stream.run((chunk) => reply.write(chunk));
        if (!reply.open) status = STATUS_CLIENT_GONE;
        reply.end(closeAfter);
      } else if (out.text !== undefined) reply.send(status, { 'content-type': out.contentType ?? 'text/plain; charset=utf-8', ...headers }, out.text, closeAfter);
      else reply.send(status, { 'content-type': 'application/json', ...headers }, JSON.stringify(out.json), closeAfter);
    } catch (e) {
      if (!reply.open || e instanceof CallCancelledError) { status = STATUS_CLIENT_GONE; return; }
      if (reply.streaming) {
        // The status line is out: a failure mid-stream can only end the stream (the route writes its own error event first).
        deps.log(`crossgate: ${route.doc.method.toUpperCase()} ${path} failed mid-stream: ${(e as Error).message}`);
        reply.end(true);
        return;
      }
      const err = toApiError(e, 'backend');
      status = err.status;
      if (status >= 500 && status !== 503 && status !== 504) deps.log(`crossgate: ${route.doc.method.toUpperCase()} ${path} -> ${status} ${err.type}: ${err.message}`);
      // File paths (model directories) stay in the log line above; the client gets them as <path>.
      status = sendFamilyError(reply, route.doc.family, publicError(err, routePaths(docs)), err.type === 'draining' || ctx.phase === 'draining' || ctx.phase === 'closed');
    } finally {
      if (release) (release as () => void)();
      deps.shutdownSignal.removeEventListener('abort', onShutdown);
      ctx.metrics.requests.inc({ route: path, status });
      ctx.metrics.requestSeconds.observe({ route: path }, (performance.now() - t0) / 1000);
    }
  })();
  await ctx.track(work);
}

const routePathSets = new WeakMap<readonly RouteDoc[], ReadonlySet<string>>();
/** The route paths ("/v1/rerank"), which error messages may name and the path scrub must keep. */
export function routePaths(docs: readonly RouteDoc[]): ReadonlySet<string> {
  let set = routePathSets.get(docs);
  if (!set) {
    set = new Set([...docs.map((d) => d.path), '/ws']);
    routePathSets.set(docs, set);
  }
  return set;
}

/** Mounts every route, plus 405 for a known path with another method and 404 for the rest. */
export function registerHttp(app: TemplatedApp, deps: HttpDeps): void {
  const table = routes();
  const docs = table.map((r) => r.doc);
  const allowed = new Map<string, string[]>();
  for (const route of table) {
    const mount = route.doc.method === 'get' ? app.get.bind(app) : app.post.bind(app);
    mount(route.doc.path, (res, req) => {
      const reply = new Reply(res); // registers onAborted before anything async
      const head = readHead(req);   // req dies when this callback returns
      void serve(deps, route, docs, reply, head, performance.now());
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
