// The TEI (text-embeddings-inference) family: POST /rerank, /embed, /tokenize, in TEI's shapes.
import type { TruncationSide } from '../../tokenize/tokenizer.js';
import type { RerankResult } from '../calls/rerank.js';
import { runEmbed } from '../calls/embed.js';
import { runRerank } from '../calls/rerank.js';
import { runTokenize } from '../calls/tokenize.js';
import { TeiEmbedRequest, TeiRerankRequest, TokenizeRequest, type TeiRerankBody, type TeiRerankReply } from '../schemas.js';
import { INFER_ERRORS, post, type Route } from './route.js';

/** TEI accepts Left/Right too. */
export function truncationSide(v: string | undefined | null): TruncationSide | undefined {
  return v === undefined || v === null ? undefined : (v.toLowerCase() as TruncationSide);
}

export function asList(v: string | string[]): string[] {
  return typeof v === 'string' ? [v] : v;
}

/** TEI's /rerank body: every text by score, highest first (the logit with raw_scores). */
export function teiRerankReply(body: Pick<TeiRerankBody, 'raw_scores' | 'return_text'>, r: RerankResult): TeiRerankReply {
  const raw = body.raw_scores === true;
  const rows = r.decision.candidates.map((c) => {
    const row: TeiRerankReply[number] = { index: c.index, score: raw ? c.logit : c.probability };
    if (body.return_text === true) row.text = c.text;
    return row;
  });
  rows.sort((a, b) => b.score - a.score || a.index - b.index);
  return rows;
}

export const TEI_ROUTES: Route[] = [
  post(TeiRerankRequest, {
    path: '/rerank', operationId: 'rerank', tag: 'TEI', auth: true, response: 'TeiRerankResponse', errors: INFER_ERRORS, timingHeaders: true,
    summary: 'Rerank texts against a query (TEI-compatible)', description: 'Scores every (query, text) pair with a cross-encoder; sorted by score, highest first.',
    needsReady: true, admits: true, countField: 'texts',
  }, async ({ ctx, body: b, signal, route }) => {
    const r = await runRerank(ctx, {
      route, model: b.model, query: b.query, documents: b.texts, documentsField: 'texts',
      truncate: b.truncate, truncationDirection: truncationSide(b.truncation_direction), signal,
    });
    return { json: teiRerankReply(b, r), timings: r.timings, tokens: r.tokens };
  }),
  post(TeiEmbedRequest, {
    path: '/embed', operationId: 'embed', tag: 'TEI', auth: true, response: 'TeiEmbedResponse', errors: INFER_ERRORS, timingHeaders: true,
    summary: 'Embed texts with the bi-encoder (TEI-compatible)',
    needsReady: true, admits: true, countField: 'inputs',
  }, async ({ ctx, body: b, signal, route }) => {
    const r = await runEmbed(ctx, {
      route, model: b.model, inputs: asList(b.inputs), inputsField: 'inputs', truncate: b.truncate,
      truncationDirection: truncationSide(b.truncation_direction), normalize: b.normalize, signal,
    });
    return { json: r.vectors.map((v) => Array.from(v)), timings: r.timings, tokens: r.tokens };
  }),
  post(TokenizeRequest, {
    path: '/tokenize', operationId: 'tokenize', tag: 'TEI', auth: true, response: 'TokenizeResponse',
    errors: ['invalid_input', 'payload_too_large', 'batch_too_large', 'validation', 'overloaded', 'not_ready', 'draining'],
    summary: 'Tokenize texts (TEI-compatible)', description: 'No truncation. Rerankers are listed first; `model` picks any served model.',
    needsReady: true, admits: true, countField: 'inputs',
  }, async ({ ctx, body: b }) => ({
    json: await runTokenize(ctx, { inputs: asList(b.inputs), addSpecialTokens: b.add_special_tokens !== false, model: b.model }),
  })),
];
