// The OpenAPI 3.1 document served at GET /openapi.json: built from the route table (http.ts), the request
// schemas the handlers validate with (service.ts), the response schemas below, and the error enum.
import { ERROR_TYPES, ERROR_TYPE_NAMES, type ErrorType } from './errors.js';
import { limitsInfo, type ServerConfig } from './limits.js';
import type { JsonSchema } from './service.js';

/** What the document needs to know about one route. */
export interface RouteDoc {
  method: 'get' | 'post';
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth: boolean;
  request?: JsonSchema;
  /** Key of RESPONSE_SCHEMAS; the 200 body. */
  response: keyof typeof RESPONSE_SCHEMAS;
  /** Content type of the 200 body (default application/json). */
  contentType?: string;
  /** Error types this route can answer with, besides 401 (auth routes) and 500 internal. */
  errors: ErrorType[];
  /** True when the 200 response carries the x-*-time headers. */
  timingHeaders?: boolean;
  /** Other statuses it answers with on success (503 for /ready when not ready is an error, not listed here). */
}

const num: JsonSchema = { type: 'number' };
const int: JsonSchema = { type: 'integer' };
const str: JsonSchema = { type: 'string' };
const bool: JsonSchema = { type: 'boolean' };
function obj(properties: Record<string, JsonSchema>, required = Object.keys(properties), extra = false): JsonSchema {
  return { type: 'object', properties, required, additionalProperties: extra };
}

const CANDIDATE = obj({
  index: { type: 'integer', description: 'Retrieval rank (search) or input position (rerank).' },
  id: { type: 'string', description: 'Document id in the collection.' },
  text: str,
  metadata: { type: 'object', additionalProperties: true },
  retrievalScore: { type: ['number', 'null'], description: 'Cosine similarity from the bi-encoder.' },
  logit: num,
  probability: num,
  truncated: bool,
  kept: bool,
}, ['index', 'text', 'retrievalScore', 'logit', 'probability', 'truncated', 'kept']);

const LIMIT_VIEW = obj({
  value: {}, default: {}, unit: str, flag: str, env: str, reason: str,
});

/** Every 200 body, strict (additionalProperties: false) so the OpenAPI test catches undocumented keys. */
export const RESPONSE_SCHEMAS = {
  teiRerank: {
    type: 'array', description: 'Sorted by score, highest first.',
    items: obj({ index: int, text: str, score: { type: 'number', description: 'Probability, or the logit with raw_scores.' } }, ['index', 'score']),
  },
  cohereRerank: obj({
    id: { type: 'string', description: 'A UUID for this response.' },
    results: {
      type: 'array', description: 'Sorted by relevance_score, highest first; top_n long when top_n is given.',
      items: obj({ index: int, relevance_score: { type: 'number', description: 'Probability in [0, 1].' }, document: obj({ text: str }) }, ['index', 'relevance_score']),
    },
    meta: obj({
      api_version: obj({ version: str }),
      billed_units: obj({ search_units: { type: 'integer', description: 'ceil(documents / 100), as Cohere counts.' } }),
      tokens: obj({ input_tokens: int, output_tokens: int }),
    }),
    model: { type: 'string', description: 'The served cross-encoder that ranked (Jina shape).' },
    usage: obj({ total_tokens: int }),
  }),
  teiEmbed: { type: 'array', items: { type: 'array', items: num }, description: 'One vector per input, in input order.' },
  openaiEmbeddings: obj({
    object: { enum: ['list'] },
    data: { type: 'array', items: obj({ object: { enum: ['embedding'] }, index: int, embedding: { oneOf: [{ type: 'array', items: num }, { type: 'string', description: 'base64 of little-endian float32' }] } }) },
    model: str,
    usage: obj({ prompt_tokens: int, total_tokens: int }),
  }),
  tokenize: {
    type: 'array', description: 'One token list per input (TEI shape). start/stop are UTF-8 byte offsets into the input; null for special and unknown tokens.',
    items: { type: 'array', items: obj({ id: int, text: str, special: bool, start: { type: ['integer', 'null'] }, stop: { type: ['integer', 'null'] } }) },
  },
  search: obj({
    query: str,
    threshold: num,
    outcome: { enum: ['answer', 'no_relevant'] },
    kept: { type: 'array', items: CANDIDATE, description: 'Passed the threshold, by probability.' },
    dropped: { type: 'array', items: CANDIDATE, description: 'Below the threshold, by probability.' },
    candidates: { type: 'array', items: CANDIDATE, description: 'Every candidate in retrieval order.' },
    prompt: { type: ['string', 'null'], description: 'Grounded prompt from the kept passages; null when nothing passed.' },
    message: { type: ['string', 'null'] },
    timings: obj({ retrieveMs: num, rerankMs: num }),
  }),
  health: obj({ status: { enum: ['ok'] }, phase: { enum: ['loading', 'warming', 'ready', 'draining', 'closed'] } }),
  ready: obj({ status: { enum: ['ready'] } }),
  info: obj({
    name: str,
    version: str,
    phase: str,
    models: {
      type: 'array',
      items: obj({
        name: str, kind: { enum: ['cross-encoder', 'bi-encoder'] }, dir: str, max_length: int,
        num_labels: int, activation: str, dim: int, pooling: str, normalize: bool,
        execution_providers: { type: 'array', items: str },
      }, ['name', 'kind', 'dir', 'max_length', 'execution_providers']),
    },
    execution_providers: { type: 'array', items: str },
    collection: { oneOf: [{ type: 'null' }, obj({ documents: int, dim: int, embedder: str })] },
    limits: { type: 'object', additionalProperties: LIMIT_VIEW, description: 'Every config field with its value (limitsInfo).' },
    server: str,
  }),
  metrics: { type: 'string', description: 'Prometheus text format 0.0.4.' },
  openapi: { type: 'object', additionalProperties: true },
} satisfies Record<string, JsonSchema>;

export const ERROR_SCHEMA: JsonSchema = obj({
  error: { type: 'string', description: 'What went wrong, the limit, and the fix.' },
  error_type: { enum: ERROR_TYPE_NAMES },
});

const TIMING_HEADERS: Record<string, { description: string; schema: JsonSchema }> = {
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
  const byStatus = new Map<number, ErrorType[]>();
  for (const t of ERROR_TYPE_NAMES) {
    if (!types.has(t)) continue;
    const s = ERROR_TYPES[t].status;
    byStatus.set(s, [...(byStatus.get(s) ?? []), t]);
  }
  const out: Record<string, unknown> = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    const retry = list.some((t) => 'retryAfterS' in ERROR_TYPES[t]);
    out[String(status)] = {
      description: list.map((t) => `${t}: ${ERROR_TYPES[t].meaning}`).join('; '),
      ...(retry ? { headers: { 'retry-after': { description: 'Seconds to wait before retrying.', schema: int } } } : {}),
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
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
    if (r.request) op.requestBody = { required: true, content: { 'application/json': { schema: r.request } } };
    const contentType = r.contentType ?? 'application/json';
    op.responses = {
      '200': {
        description: 'OK',
        ...(r.timingHeaders ? { headers: TIMING_HEADERS } : {}),
        content: { [contentType]: { schema: { $ref: `#/components/schemas/${responseName(r.response)}` } } },
      },
      ...errorResponses(r),
    };
    (paths[r.path] ??= {})[r.method] = op;
  }
  const limits = limitsInfo(config);
  const schemas: Record<string, JsonSchema> = { Error: ERROR_SCHEMA };
  for (const [k, s] of Object.entries(RESPONSE_SCHEMAS)) schemas[responseName(k as keyof typeof RESPONSE_SCHEMAS)] = s;
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

export function responseName(k: keyof typeof RESPONSE_SCHEMAS): string {
  return `${k[0].toUpperCase()}${k.slice(1)}Response`;
}
