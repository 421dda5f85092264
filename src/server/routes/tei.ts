// The TEI (text-embeddings-inference) family: POST /rerank, /embed, /predict, /similarity, /tokenize and
// POST / (TEI routes / by model kind; crossgate serves several models, so / goes by the body: {query, texts}
// = rerank as for TEI's reranker models, {inputs: {source_sentence, sentences}} = similarity, texts = embed
// when a bi-encoder is served, pairs = predict), in TEI's shapes.
import type { TruncationSide } from '../../tokenize/tokenizer.js';
import type { RerankResult } from '../calls/rerank.js';
import { runEmbed } from '../calls/embed.js';
import { runRerank } from '../calls/rerank.js';
import { runPredict, runSimilarity, type PredictResult } from '../calls/predict.js';
import { runTokenize } from '../calls/tokenize.js';
import type { ServerContext } from '../context.js';
import {
  TeiEmbedRequest, TeiPredictRequest, TeiRerankRequest, TeiRootRequest, TeiSimilarityRequest, TokenizeRequest,
  type TeiEmbedBody, type TeiPredictBody, type TeiPrediction, type TeiRerankBody, type TeiRerankReply, type TeiSimilarityBody,
} from '../schemas.js';
import { INFER_ERRORS, post, type HandlerInput, type HandlerOutput, type Route } from './route.js';

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

/** TEI's labels per pair, highest score first: LABEL_0 for one logit; LABEL_1 (relevant) and LABEL_0 for two. */
function predictions(r: PredictResult, i: number, raw: boolean): TeiPrediction[] {
  const s = r.scores[i];
  if (raw) return [{ score: s.logit, label: r.numLabels === 2 ? 'LABEL_1' : 'LABEL_0' }];
  if (r.numLabels !== 2) return [{ score: s.probability, label: 'LABEL_0' }];
  const rows = [{ score: s.probability, label: 'LABEL_1' }, { score: 1 - s.probability, label: 'LABEL_0' }];
  return rows.sort((a, b) => b.score - a.score);
}

/** TEI's PredictInput: a string or [text] or [text, pair] is one input; an array of arrays is a batch. */
function predictInputs(inputs: TeiPredictBody['inputs']): { pairs: string[][]; single: boolean } {
  if (typeof inputs === 'string') return { pairs: [[inputs]], single: true };
  if (inputs.every((x) => typeof x === 'string')) return { pairs: [inputs as string[]], single: true };
  return { pairs: inputs as string[][], single: false };
}

async function rerankHandler({ ctx, body: b, signal, route }: HandlerInput<TeiRerankBody>): Promise<HandlerOutput> {
  const r = await runRerank(ctx, {
    route, model: b.model, query: b.query, documents: b.texts, documentsField: 'texts',
    truncate: b.truncate, truncationDirection: truncationSide(b.truncation_direction), signal,
  });
  return { json: teiRerankReply(b, r), timings: r.timings, tokens: r.tokens };
}

async function embedHandler({ ctx, body: b, signal, route }: HandlerInput<TeiEmbedBody>): Promise<HandlerOutput> {
  const r = await runEmbed(ctx, {
    route, model: b.model, inputs: asList(b.inputs), inputsField: 'inputs', truncate: b.truncate,
    truncationDirection: truncationSide(b.truncation_direction), normalize: b.normalize, signal,
  });
  return { json: r.vectors.map((v) => Array.from(v)), timings: r.timings, tokens: r.tokens };
}

async function predictHandler({ ctx, body: b, signal, route }: HandlerInput<TeiPredictBody>): Promise<HandlerOutput> {
  const { pairs, single } = predictInputs(b.inputs);
  const r = await runPredict(ctx, { route, model: b.model, pairs, truncate: b.truncate, truncationDirection: truncationSide(b.truncation_direction), signal });
  const raw = b.raw_scores === true;
  const json = single ? predictions(r, 0, raw) : pairs.map((_, i) => predictions(r, i, raw));
  return { json, timings: r.timings, tokens: r.tokens };
}

async function similarityHandler({ ctx, body: b, signal, route }: HandlerInput<TeiSimilarityBody>): Promise<HandlerOutput> {
  const p = b.parameters ?? {};
  const r = await runSimilarity(ctx, {
    route, model: b.model, source: b.inputs.source_sentence, sentences: b.inputs.sentences,
    truncate: p.truncate, truncationDirection: truncationSide(p.truncation_direction), signal,
  });
  return { json: r.similarities, timings: r.timings, tokens: r.tokens };
}

/** Which TEI route a POST / body is for (see the header comment). */
export function rootRoute(ctx: Pick<ServerContext, 'embedders'>, b: Record<string, unknown>): 'rerank' | 'similarity' | 'embed' | 'predict' {
  if ('query' in b && 'texts' in b) return 'rerank';
  const inputs = b.inputs;
  if (inputs !== null && typeof inputs === 'object' && !Array.isArray(inputs)) return 'similarity';
  const texts = typeof inputs === 'string' || (Array.isArray(inputs) && inputs.every((x) => typeof x === 'string'));
  return texts && ctx.embedders.size > 0 ? 'embed' : 'predict';
}

const ROOT_DOC = 'TEI routes POST / by the model it serves. crossgate serves several, so the body decides: {query, texts} is /rerank, ' +
  '{inputs: {source_sentence, sentences}} is /similarity, {inputs: text or texts} is /embed when a bi-encoder is served, pairs are /predict. ' +
  'The answer is that route\'s.';

export const TEI_ROUTES: Route[] = [
  post(TeiRerankRequest, {
    path: '/rerank', operationId: 'rerank', tag: 'TEI', auth: true, response: 'TeiRerankResponse', errors: INFER_ERRORS, timingHeaders: true,
    summary: 'Rerank texts against a query (TEI-compatible)', description: 'Scores every (query, text) pair with a cross-encoder; sorted by score, highest first.',
    needsReady: true, admits: true, countField: 'texts',
  }, rerankHandler),
  post(TeiEmbedRequest, {
    path: '/embed', operationId: 'embed', tag: 'TEI', auth: true, response: 'TeiEmbedResponse', errors: INFER_ERRORS, timingHeaders: true,
    summary: 'Embed texts with the bi-encoder (TEI-compatible)',
    needsReady: true, admits: true, countField: 'inputs',
  }, embedHandler),
  post(TeiPredictRequest, {
    path: '/predict', operationId: 'predict', tag: 'TEI', auth: true, response: 'TeiPredictResponse', errors: INFER_ERRORS, timingHeaders: true,
    summary: 'Score pairs with the cross-encoder (TEI sequence classification)',
    description: 'One pair [query, text] answers a label list; a batch [[query, text], ...] answers one list per pair. Scores are probabilities (raw_scores: logits).',
    needsReady: true, admits: true,
  }, predictHandler),
  post(TeiSimilarityRequest, {
    path: '/similarity', operationId: 'similarity', tag: 'TEI', auth: true, response: 'TeiSimilarityResponse', errors: INFER_ERRORS, timingHeaders: true,
    summary: 'Sentence similarity with the bi-encoder (TEI-compatible)', description: 'Cosine similarity of source_sentence to each sentence.',
    needsReady: true, admits: true,
  }, similarityHandler),
  post(TeiRootRequest, {
    path: '/', operationId: 'root', tag: 'TEI', auth: true, response: 'TeiRootResponse', errors: INFER_ERRORS, timingHeaders: true,
    summary: 'TEI\'s default route (rerank, similarity, embed or predict, by the body)', description: ROOT_DOC,
    needsReady: true, admits: true,
  }, (x) => {
    switch (rootRoute(x.ctx, x.body as Record<string, unknown>)) {
      case 'rerank': return rerankHandler(x as HandlerInput<TeiRerankBody>);
      case 'similarity': return similarityHandler(x as HandlerInput<TeiSimilarityBody>);
      case 'embed': return embedHandler(x as HandlerInput<TeiEmbedBody>);
      default: return predictHandler(x as HandlerInput<TeiPredictBody>);
    }
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
