// The Cohere / Jina family: POST /v2/rerank and /v1/rerank (Cohere v2 / v1, Jina's /v1/rerank is the same
// shape), /v1/embed and /v2/embed, in Cohere's shapes, defaults and meta; errors as Cohere's {id, message}.
import { randomUUID } from 'node:crypto';
import { runEmbed } from '../calls/embed.js';
import { runRerank } from '../calls/rerank.js';
import { ApiError } from '../errors.js';
import {
  CohereEmbedV1Request, CohereEmbedV2Request, CohereRerankRequest,
  type CohereEmbeddingsByType, type CohereRerankBody, type CohereRerankReply, type EmbeddingType,
} from '../schemas.js';
import { INFER_ERRORS, post, type HandlerInput, type HandlerOutput, type Route } from './route.js';

/**
 * A document's ranked text: a string as is; an object by rank_fields (default ["text"]), each field as
 * "key: value" on its own line (Cohere v1's YAML-like rendering), or its `text` alone when that is the
 * only field ranked on.
 */
export function documentText(d: string | Record<string, unknown>, i: number, rankFields: string[] | undefined): string {
  if (typeof d === 'string') return d;
  const fields = rankFields ?? ['text'];
  const missing = fields.filter((k) => d[k] === undefined || d[k] === null);
  if (missing.length === fields.length) {
    throw new ApiError('validation', rankFields === undefined
      ? `/documents/${i}/text is required: an object document is ranked on its "text" field; add one, or pass rank_fields naming the fields to rank on`
      : `/documents/${i} has none of the rank_fields ${JSON.stringify(fields)}; give it one of them, or change rank_fields`,
    { field: `/documents/${i}` });
  }
  const value = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
  if (rankFields === undefined) return value(d.text);
  return fields.filter((k) => !missing.includes(k)).map((k) => `${k}: ${value(d[k])}`).join('\n');
}

function cohereRerank(apiVersion: '1' | '2') {
  return async ({ ctx, body: b, signal, route }: HandlerInput<CohereRerankBody>): Promise<HandlerOutput> => {
    const documents = b.documents.map((d, i) => documentText(d as string | Record<string, unknown>, i, b.rank_fields));
    const r = await runRerank(ctx, {
      route, model: b.model, query: b.query, documents, documentsField: 'documents',
      maxTokensPerDoc: b.max_tokens_per_doc, signal,
    });
    // kept and dropped are each sorted by probability and split at the threshold: together, sorted.
    let ranked = [...r.decision.kept, ...r.decision.dropped];
    if (b.top_n !== undefined) ranked = ranked.slice(0, b.top_n);
    const asSent = (i: number): Record<string, unknown> => {
      const d = b.documents[i];
      return typeof d === 'string' ? { text: d } : d;
    };
    const json: CohereRerankReply = {
      id: randomUUID(),
      results: ranked.map((c) => (b.return_documents === true
        ? { index: c.index, relevance_score: c.probability, document: asSent(c.index) }
        : { index: c.index, relevance_score: c.probability })),
      meta: {
        api_version: { version: apiVersion },
        billed_units: { search_units: Math.max(1, Math.ceil(documents.length / 100)) },
        tokens: { input_tokens: r.tokens, output_tokens: 0 },
      },
      model: r.model,
      usage: { total_tokens: r.tokens },
    };
    return { json, timings: r.timings, tokens: r.tokens };
  };
}

/** Cohere's truncate as the engine's: NONE refuses, START cuts the start, END (default) the end. */
function truncateOf(t: 'NONE' | 'START' | 'END' | undefined): { truncate: boolean; truncationDirection: 'left' | 'right' } {
  if (t === 'NONE') return { truncate: false, truncationDirection: 'right' };
  return { truncate: true, truncationDirection: t === 'START' ? 'left' : 'right' };
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** Sign bits packed 8 per byte, most significant first (ubinary); binary is the same bytes as int8 (byte - 128). */
function packBits(v: Float32Array, signed: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < v.length; i += 8) {
    let byte = 0;
    for (let j = 0; j < 8; j++) byte = (byte << 1) | (v[i + j] > 0 ? 1 : 0);
    out.push(signed ? byte - 128 : byte);
  }
  return out;
}

/** One vector in each asked-for type (vectors are unit-length, so every component is in [-1, 1]). */
export function embeddingsByType(vectors: Float32Array[], types: readonly EmbeddingType[], dim: number, model: string): CohereEmbeddingsByType {
  if ((types.includes('binary') || types.includes('ubinary')) && dim % 8 !== 0) {
    throw new ApiError('validation', `embedding_types binary/ubinary pack 8 dimensions per byte, but model "${model}" makes ${dim}-dimensional vectors; ask for float, int8, uint8 or base64`, { field: '/embedding_types' });
  }
  const out: CohereEmbeddingsByType = {};
  for (const t of new Set(types)) {
    switch (t) {
      case 'float': out.float = vectors.map((v) => Array.from(v)); break;
      case 'int8': out.int8 = vectors.map((v) => Array.from(v, (x) => clamp(Math.round(x * 127), -128, 127))); break;
      case 'uint8': out.uint8 = vectors.map((v) => Array.from(v, (x) => clamp(Math.round((x + 1) * 127.5), 0, 255))); break;
      case 'binary': out.binary = vectors.map((v) => packBits(v, true)); break;
      case 'ubinary': out.ubinary = vectors.map((v) => packBits(v, false)); break;
      case 'base64': out.base64 = vectors.map((v) => Buffer.from(new Float32Array(v).buffer).toString('base64')); break;
      default: { const never: never = t; throw new Error(`unknown embedding type ${String(never)}`); }
    }
  }
  return out;
}

interface EmbedCall { texts: string[]; model?: string | null; embedding_types?: EmbeddingType[]; truncate?: 'NONE' | 'START' | 'END'; output_dimension?: number }

async function cohereEmbed(apiVersion: '1' | '2', { ctx, body: b, signal, route }: HandlerInput<EmbedCall>): Promise<HandlerOutput> {
  const served = ctx.embedder(b.model);
  if (b.output_dimension !== undefined && b.output_dimension !== served.encoder.dim) {
    throw new ApiError('validation', `output_dimension is ${b.output_dimension} but model "${served.name}" makes ${served.encoder.dim}-dimensional vectors; leave output_dimension out or pass ${served.encoder.dim}`, { field: '/output_dimension' });
  }
  const r = await runEmbed(ctx, { route, model: served.name, inputs: b.texts, inputsField: 'texts', ...truncateOf(b.truncate), signal });
  const meta = { api_version: { version: apiVersion }, billed_units: { input_tokens: r.tokens } };
  const id = randomUUID();
  const json = apiVersion === '1' && b.embedding_types === undefined
    ? { id, response_type: 'embeddings_floats', embeddings: r.vectors.map((v) => Array.from(v)), texts: b.texts, meta }
    : { id, response_type: 'embeddings_by_type', embeddings: embeddingsByType(r.vectors, b.embedding_types ?? ['float'], r.dim, r.model), texts: b.texts, meta };
  return { json, timings: r.timings, tokens: r.tokens };
}

const SHARED = {
  tag: 'Cohere/Jina', auth: true, errors: INFER_ERRORS, timingHeaders: true, needsReady: true, admits: true, family: 'cohere',
} as const;

export const COHERE_ROUTES: Route[] = [
  post(CohereRerankRequest, {
    ...SHARED, path: '/v2/rerank', operationId: 'rerankCohere', response: 'CohereRerankResponse', errors: [...SHARED.errors], countField: 'documents',
    summary: 'Rerank documents (Cohere v2-compatible)', description: 'return_documents defaults to false, as in Cohere; meta.api_version.version is "2".',
  }, cohereRerank('2')),
  post(CohereRerankRequest, {
    ...SHARED, path: '/v1/rerank', operationId: 'rerankJina', response: 'CohereRerankResponse', errors: [...SHARED.errors], countField: 'documents',
    summary: 'Rerank documents (Cohere v1 / Jina-compatible)',
    description: 'The /v2/rerank shape with meta.api_version.version "1"; return_documents defaults to false, as Cohere documents v1 (Jina clients pass it explicitly). rank_fields ranks object documents.',
  }, cohereRerank('1')),
  post(CohereEmbedV1Request, {
    ...SHARED, path: '/v1/embed', operationId: 'embedCohereV1', response: 'CohereEmbedV1Response', errors: [...SHARED.errors], countField: 'texts',
    summary: 'Embed texts (Cohere v1-compatible)',
    description: 'Without embedding_types: response_type embeddings_floats and a list of vectors; with it: embeddings_by_type.',
  }, (x) => cohereEmbed('1', x as HandlerInput<EmbedCall>)),
  post(CohereEmbedV2Request, {
    ...SHARED, path: '/v2/embed', operationId: 'embedCohereV2', response: 'CohereEmbedV2Response', errors: [...SHARED.errors], countField: 'texts',
    summary: 'Embed texts (Cohere v2-compatible)', description: 'embeddings by type; embedding_types defaults to ["float"].',
  }, (x) => cohereEmbed('2', x as HandlerInput<EmbedCall>)),
];
