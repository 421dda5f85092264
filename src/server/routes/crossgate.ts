// crossgate's own routes: POST /search (retrieve from the served collection, rerank, gate, fall back),
// POST /ask (the same decision, then the answer streamed from the LLM as Server-Sent Events), GET /gaps.
import { answerEvents, type AskEvent, type FinalEvent } from '../../llm/answer.js';
import { readGapLog } from '../../pipeline/gaps.js';
import { buildGapReport, parseDuration } from '../../pipeline/gaps-report.js';
import { runSearch } from '../calls/rerank.js';
import { ApiError } from '../errors.js';
import { AskRequest, SearchRequest } from '../schemas.js';
import { get, INFER_ERRORS, post, type Route } from './route.js';

/** One Server-Sent Event: the event name is the ask event's type, the data its JSON. */
export function sseEvent(ev: AskEvent): string {
  const data = ev.type === 'decision' ? ev.decision : ev.type === 'delta' ? { text: ev.text } : ev.type === 'final' ? ev : errorData(ev);
  return `event: ${ev.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

function errorData(ev: Extract<AskEvent, { type: 'error' }>): { error: string; error_type: string; status: number | null; partialText: string } {
  return { error: ev.error.message, error_type: ev.error.error_type, status: ev.error.status, partialText: ev.partialText };
}

export const CROSSGATE_ROUTES: Route[] = [
  post(SearchRequest, {
    path: '/search', operationId: 'search', tag: 'crossgate', auth: true, response: 'SearchResponse', errors: INFER_ERRORS, timingHeaders: true,
    summary: 'Retrieve from the served collection, rerank, apply the relevance gate, and fall back to keyword search',
    description: 'Returns the engine\'s GateDecision (the library\'s field names): outcome answer, answer_from_fallback, ambiguous or no_relevant, augment, path. 422 validation when no collection is served.',
    needsReady: true, admits: true,
  }, async ({ ctx, body: b, signal, route }) => {
    const r = await runSearch(ctx, { route, query: b.query, topK: b.top_k, threshold: b.threshold, truncate: b.truncate, signal, ...(b.fallback ? { fallback: b.fallback } : {}), ...(b.mode ? { mode: b.mode } : {}) });
    return { json: r.decision, timings: r.timings, tokens: r.tokens };
  }),
  post(AskRequest, {
    path: '/ask', operationId: 'ask', tag: 'crossgate', auth: true, response: 'AskResponse', errors: INFER_ERRORS, timingHeaders: true,
    summary: 'Search, then answer with the LLM from the kept passages (Server-Sent Events with Accept: text/event-stream)',
    description: 'With Accept: text/event-stream: events decision, delta (answer text as it is generated), then final (full text, citations mapped to document ids) or error (after whatever was streamed); JSON data. Otherwise one JSON object {decision, final, error}. Nothing is generated for no_relevant; without an LLM (serve --llm-base-url/--llm-model) final carries the prompt.',
    needsReady: true, admits: true,
  }, async ({ ctx, body: b, signal, route, head }) => {
    const r = await runSearch(ctx, { route, query: b.query, topK: b.top_k, threshold: b.threshold, truncate: b.truncate, signal, ...(b.fallback ? { fallback: b.fallback } : {}), ...(b.mode ? { mode: b.mode } : {}) });
    const events = answerEvents(r.decision, ctx.llm, { signal });
    if (!(head.headers.accept ?? '').includes('text/event-stream')) {
      let final: FinalEvent | null = null;
      let error: ReturnType<typeof errorData> | null = null;
      for await (const ev of events) {
        if (ev.type === 'final') final = ev;
        else if (ev.type === 'error') error = errorData(ev);
      }
      return { json: { decision: r.decision, final, error }, timings: r.timings, tokens: r.tokens };
    }
    return {
      timings: r.timings, tokens: r.tokens,
      stream: {
        headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
        async run(write) {
          for await (const ev of events) {
            // The client is gone: returning ends the generator, which aborts the LLM request.
            if (!(await write(sseEvent(ev)))) return;
          }
        },
      },
    };
  }),
  get({
    path: '/gaps', operationId: 'gaps', tag: 'crossgate', auth: true, response: 'GapsResponse', errors: ['validation'],
    summary: 'The queries the served collection could not answer, grouped and counted, with the no-result rate (?since=7d)',
    needsReady: false, admits: false,
  }, async ({ ctx, head }) => {
    if (!ctx.gapLog) {
      throw new ApiError('validation', 'no gap log: the server serves no collection, or runs with --no-gap-log; start it with --collection PATH (and without --no-gap-log)', { field: 'gap_log' });
    }
    const sinceArg = new URLSearchParams(head.query).get('since');
    let since: Date | null = null;
    if (sinceArg !== null) {
      try {
        since = new Date(Date.now() - parseDuration(sinceArg, 'since'));
      } catch (e) {
        throw new ApiError('validation', (e as Error).message, { field: 'since' });
      }
    }
    const log = await readGapLog(ctx.gapLog.path, since ? { since } : {});
    return { json: { ...buildGapReport(log, { since }), exists: log.exists } };
  }),
];
