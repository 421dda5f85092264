// The Cohere / Jina family: POST /v2/rerank (Cohere v2) and /v1/rerank (Jina, Cohere v1), one shape.
import { randomUUID } from 'node:crypto';
import { runRerank } from '../calls/rerank.js';
import { CohereRerankRequest, type CohereRerankBody, type CohereRerankReply } from '../schemas.js';
import { INFER_ERRORS, post, type HandlerInput, type HandlerOutput, type Route } from './route.js';

function cohereRerank(defaultReturnDocuments: boolean) {
  return async ({ ctx, body: b, signal, route }: HandlerInput<CohereRerankBody>): Promise<HandlerOutput> => {
    const documents = b.documents.map((d) => (typeof d === 'string' ? d : d.text));
    const r = await runRerank(ctx, {
      route, model: b.model, query: b.query, documents, documentsField: 'documents',
      maxTokensPerDoc: b.max_tokens_per_doc, signal,
    });
    // kept and dropped are each sorted by probability and split at the threshold: together, sorted.
    let ranked = [...r.decision.kept, ...r.decision.dropped];
    if (b.top_n !== undefined) ranked = ranked.slice(0, b.top_n);
    const withDocs = b.return_documents ?? defaultReturnDocuments;
    const json: CohereRerankReply = {
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
    };
    return { json, timings: r.timings, tokens: r.tokens };
  };
}

const SHARED = {
  tag: 'Cohere/Jina', auth: true, response: 'CohereRerankResponse', errors: INFER_ERRORS, timingHeaders: true,
  needsReady: true, admits: true, countField: 'documents',
} as const;

export const COHERE_ROUTES: Route[] = [
  post(CohereRerankRequest, {
    ...SHARED, path: '/v2/rerank', operationId: 'rerankCohere', errors: [...SHARED.errors],
    summary: 'Rerank documents (Cohere v2-compatible)', description: 'return_documents defaults to false, as in Cohere.',
  }, cohereRerank(false)),
  post(CohereRerankRequest, {
    ...SHARED, path: '/v1/rerank', operationId: 'rerankJina', errors: [...SHARED.errors],
    summary: 'Rerank documents (Jina/Cohere v1-compatible)', description: 'The /v2/rerank shape; return_documents defaults to true, as in Jina.',
  }, cohereRerank(true)),
];
