// TEI /predict and /similarity as engine calls: pairs scored by the cross-encoder (grouped by their first
// text, so each group is one batched rerank), and sentence similarity as the cosine of two embeddings.
import { cosine } from '../../index/vector-math.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { checkDocumentCount } from '../validate.js';
import { runEmbed } from './embed.js';
import { runRerank } from './rerank.js';
import type { RequestTimings } from './common.js';

export interface PairScore { logit: number; probability: number }

export interface PredictResult { scores: PairScore[]; model: string; numLabels: number; tokens: number; timings: RequestTimings }

/**
 * Scores each [text, text_pair]; a single text is refused (the cross-encoders score pairs). The pairs that
 * share a first text run as one rerank call; the results come back in input order.
 */
export async function runPredict(ctx: ServerContext, call: {
  route: string; model?: string | null; pairs: string[][]; truncate?: boolean | null;
  truncationDirection?: 'left' | 'right'; signal?: AbortSignal;
}): Promise<PredictResult> {
  const served = ctx.reranker(call.model);
  checkDocumentCount(ctx.config, 'inputs', call.pairs.length);
  const groups = new Map<string, number[]>();
  call.pairs.forEach((p, i) => {
    if (p.length !== 2) {
      throw new ApiError('validation',
        `inputs${call.pairs.length > 1 ? `[${i}]` : ''} is a single text; crossgate's cross-encoders score pairs: send [query, text] (or a batch [[query, text], ...])`,
        { field: 'inputs' });
    }
    groups.set(p[0], [...(groups.get(p[0]) ?? []), i]);
  });
  const scores = new Array<PairScore>(call.pairs.length);
  let tokens = 0;
  const timings: RequestTimings = { tokenizationMs: 0, queueMs: 0, inferenceMs: 0 };
  await Promise.all([...groups].map(async ([query, idx]) => {
    const r = await runRerank(ctx, {
      route: call.route, model: served.name, query, documents: idx.map((i) => call.pairs[i][1]), documentsField: 'inputs',
      truncate: call.truncate, truncationDirection: call.truncationDirection, signal: call.signal,
    });
    for (const c of r.decision.candidates) scores[idx[c.index]] = { logit: c.logit, probability: c.probability };
    tokens += r.tokens;
    timings.tokenizationMs = Math.max(timings.tokenizationMs, r.timings.tokenizationMs);
    timings.queueMs = Math.max(timings.queueMs, r.timings.queueMs);
    timings.inferenceMs = Math.max(timings.inferenceMs, r.timings.inferenceMs);
  }));
  return { scores, model: served.name, numLabels: served.encoder.numLabels, tokens, timings };
}

export interface SimilarityResult { similarities: number[]; model: string; tokens: number; timings: RequestTimings }

/** Cosine similarity of `source` to each sentence (TEI /similarity), one embedding call for all. */
export async function runSimilarity(ctx: ServerContext, call: {
  route: string; model?: string | null; source: string; sentences: string[]; truncate?: boolean | null;
  truncationDirection?: 'left' | 'right'; signal?: AbortSignal;
}): Promise<SimilarityResult> {
  checkDocumentCount(ctx.config, 'inputs.sentences', call.sentences.length + 1);
  const r = await runEmbed(ctx, {
    route: call.route, model: call.model, inputs: [call.source, ...call.sentences], inputsField: 'inputs.sentences',
    truncate: call.truncate, truncationDirection: call.truncationDirection, signal: call.signal,
  });
  const [src, ...rest] = r.vectors;
  return { similarities: rest.map((v) => cosine(src, v)), model: r.model, tokens: r.tokens, timings: r.timings };
}
