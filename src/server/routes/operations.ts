// Operations: GET /health, /ready, /info, /metrics, /openapi.json.
import { PROMETHEUS_CONTENT_TYPE } from '../metrics.js';
import { buildOpenApi } from '../openapi.js';
import { get, type Route } from './route.js';

export const OPERATIONS_ROUTES: Route[] = [
  get({
    path: '/health', operationId: 'health', tag: 'operations', auth: false, response: 'HealthResponse', errors: [],
    summary: 'Liveness: 200 while the process runs (no auth)', needsReady: false, admits: false,
  }, ({ ctx }) => ({ json: { status: 'ok', phase: ctx.phase } })),
  get({
    path: '/ready', operationId: 'ready', tag: 'operations', auth: true, response: 'ReadyResponse', errors: ['not_ready', 'draining'],
    summary: 'Readiness: 200 once models are loaded and warmed; 503 before that and while draining', needsReady: true, admits: false,
  }, async ({ ctx }) => {
    if (!ctx.retriever) return { json: { status: 'ready' } };
    const h = await ctx.retriever.check();
    return { json: { status: 'ready', retriever: { engine: h.engine, url: h.url, ok: h.ok, error: h.error, checked_at: h.checkedAt === null ? null : new Date(h.checkedAt).toISOString() } } };
  }),
  get({
    path: '/info', operationId: 'info', tag: 'operations', auth: true, response: 'InfoResponse', errors: [],
    summary: 'Models, execution providers, and every limit with its value', needsReady: false, admits: false,
  }, ({ deps }) => ({ json: deps.info() })),
  get({
    path: '/metrics', operationId: 'metrics', tag: 'operations', auth: true, response: 'MetricsResponse', contentType: PROMETHEUS_CONTENT_TYPE, errors: [],
    summary: 'Prometheus metrics', needsReady: false, admits: false,
  }, ({ ctx }) => ({ text: ctx.metrics.registry.render(), contentType: PROMETHEUS_CONTENT_TYPE })),
  get({
    path: '/openapi.json', operationId: 'openapi', tag: 'operations', auth: true, response: 'OpenApiResponse', errors: [],
    summary: 'This document', needsReady: false, admits: false,
  }, ({ deps, ctx, routes }) => ({ json: buildOpenApi(routes, ctx.config, deps.version) })),
];
