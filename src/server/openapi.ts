// The OpenAPI 3.1 document served at GET /openapi.json: built from the route table (routes/), the request
// and response declarations (schemas.ts, the same objects the validators are compiled from) and the error enum.
import type { TSchema } from '@sinclair/typebox';
import { ERROR_TYPES, ERROR_TYPE_NAMES, type ErrorType } from './errors.js';
import { limitsInfo, type ServerConfig } from './limits.js';
import { FAMILY_ERROR_SCHEMAS, familyStatus } from './routes/family.js';
import type { RouteDoc } from './routes/route.js';
import { errorSchema, RESPONSES } from './schemas.js';

const int = { type: 'integer' } as const;

const TIMING_HEADERS: Record<string, { description: string; schema: typeof int }> = {
  'x-compute-time': { description: 'Milliseconds from request received to response (TEI).', schema: int },
  'x-tokenization-time': { description: 'Milliseconds tokenizing.', schema: int },
  'x-queue-time': { description: 'Milliseconds waiting for a batch.', schema: int },
  'x-inference-time': { description: 'Milliseconds from the first batch run to the last one.', schema: int },
  'x-compute-tokens': { description: 'Real (unpadded) tokens run.', schema: int },
};

function errorResponses(doc: RouteDoc): Record<string, unknown> {
  const types = new Set<ErrorType>(doc.errors);
  if (doc.auth) types.add('unauthorized');
  types.add('internal');
  const family = doc.family ?? 'tei';
  const byStatus = new Map<number, string[]>();
  const add = (status: number, line: string): void => { byStatus.set(status, [...(byStatus.get(status) ?? []), line]); };
  let retry = new Set<number>();
  for (const t of ERROR_TYPE_NAMES) {
    if (!types.has(t)) continue;
    const s = familyStatus(family, t);
    add(s, `${t}: ${ERROR_TYPES[t].meaning}`);
    if ('retryAfterS' in ERROR_TYPES[t]) retry = retry.add(s);
    if (t === 'validation' && family !== 'tei') add(familyStatus(family, t, true), 'model_not_found: no served model has that name');
  }
  const schema = family === 'tei' ? 'Error' : FAMILY_ERROR_SCHEMAS[family].name;
  const out: Record<string, unknown> = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: list.join('; '),
      ...(retry.has(status) ? { headers: { 'retry-after': { description: 'Seconds to wait before retrying.', schema: int } } } : {}),
      content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
    };
  }
  return out;
}

/** The document, with the limits the running server enforces written into the description. */
export function buildOpenApi(routes: readonly RouteDoc[], config: ServerConfig, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const op: Record<string, unknown> = {
      operationId: r.operationId,
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: [r.tag],
      security: r.auth ? [{ bearer: [] }] : [],
    };
    if (r.request) op.requestBody = { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${requestName(r.request)}` } } } };
    const contentType = r.contentType ?? 'application/json';
    op.responses = {
      '200': {
        description: 'OK',
        ...(r.timingHeaders ? { headers: TIMING_HEADERS } : {}),
        content: { [contentType]: { schema: { $ref: `#/components/schemas/${r.response}` } } },
      },
      ...errorResponses(r),
    };
    (paths[r.path] ??= {})[r.method] = op;
  }
  const limits = limitsInfo(config);
  const schemas: Record<string, unknown> = { Error: errorSchema(ERROR_TYPE_NAMES) };
  for (const f of Object.values(FAMILY_ERROR_SCHEMAS)) schemas[f.name] = component(f.schema);
  for (const r of routes) if (r.request) schemas[requestName(r.request)] = component(r.request);
  for (const [name, s] of Object.entries(RESPONSES)) schemas[name] = component(s);
  return {
    openapi: '3.1.0',
    info: {
      title: 'crossgate',
      version,
      description: 'Reranking server: TEI-, Cohere/Jina- and OpenAI-compatible HTTP routes, plus a streaming WebSocket protocol on /ws (not described here). ' +
        `Limits in force: ${Object.entries(limits).filter(([k]) => k.startsWith('max_') || k === 'request_timeout_ms' || k === 'auto_truncate').map(([k, v]) => `${k}=${String(v.value)}`).join(', ')}.`,
    },
    paths,
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Only when the server runs with an api_key; /health never needs it.' } },
    },
  };
}

/** A request declaration's component name (its $id in schemas.ts). */
function requestName(s: TSchema): string {
  if (typeof s.$id !== 'string') throw new Error('a route request declaration needs an $id (its OpenAPI component name)');
  return s.$id;
}

/** A declaration as plain JSON Schema: TypeBox's symbol keys dropped, $id left to the component's name. */
function component(s: TSchema): unknown {
  const { $id: _id, ...rest } = JSON.parse(JSON.stringify(s)) as Record<string, unknown>;
  return rest;
}
