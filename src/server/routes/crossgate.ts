// crossgate's own routes: POST /search (retrieve from the served collection, rerank, gate).
import { runSearch } from '../calls/rerank.js';
import { SearchRequest } from '../schemas.js';
import { INFER_ERRORS, post, type Route } from './route.js';

export const CROSSGATE_ROUTES: Route[] = [
  post(SearchRequest, {
    path: '/search', operationId: 'search', tag: 'crossgate', auth: true, response: 'SearchResponse', errors: INFER_ERRORS, timingHeaders: true,
    summary: 'Retrieve from the served collection, rerank, and apply the relevance gate',
    description: 'Returns the engine\'s GateDecision (the library\'s field names). 422 validation when no collection is served.',
    needsReady: true, admits: true,
  }, async ({ ctx, body: b, signal, route }) => {
    const r = await runSearch(ctx, { route, query: b.query, topK: b.top_k, threshold: b.threshold, truncate: b.truncate, signal });
    return { json: r.decision, timings: r.timings, tokens: r.tokens };
  }),
];
