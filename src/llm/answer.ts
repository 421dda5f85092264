// From a GateDecision to an answer: the decision first, then the LLM's text deltas, then a final event that
// maps the [n] citations back to the kept passages' ids. Nothing is generated for no_relevant, and an LLM
// failure becomes an error event after whatever was already streamed.
import type { GateDecision, GateOutcome } from '../pipeline/precision.js';
import { SYSTEM_MESSAGE } from '../pipeline/prompt.js';
import { LlmError, type ChatMessage, type LlmClient, type LlmErrorKind } from './client.js';

/** What the asker is told when nothing passed the gate: no answer is generated, the gap is on record. */
export const NO_ANSWER_REPLY =
  'The collection holds no passage relevant to this question, so no answer was generated. The question was recorded as a gap for the collection\'s owners.';
/** The reason given in `final` when ask runs without an LLM. */
export const NO_LLM_REASON = 'no LLM configured (pass --llm-base-url and --llm-model); the prompt is returned for you to send';

/** One [n] the answer cited, mapped back to the passage it names. */
export interface Citation {
  /** The number as written in the answer: passage n of the prompt. */
  n: number;
  /** The document id of kept[n - 1] (null for caller passages without ids). */
  id: string | null;
  /** Its index in the decision's candidates. */
  index: number;
  probability: number;
  retriever: string | null;
}

export interface FinalEvent {
  type: 'final';
  outcome: GateOutcome;
  /** True when an LLM wrote `text`. */
  generated: boolean;
  /** The full answer; the refusal for no_relevant; empty when no LLM is configured. */
  text: string;
  /** Every distinct passage cited, in order of first citation. */
  citations: Citation[];
  /** Numbers cited that match no kept passage (the model made them up). */
  unknownCitations: number[];
  /** The prompt sent (or, without an LLM, to send); null for no_relevant. */
  prompt: string | null;
  model: string | null;
  finishReason: string | null;
  /** Why nothing was generated; null when something was. */
  reason: string | null;
  timings: { firstTokenMs: number | null; generateMs: number };
}

export interface ErrorEvent {
  type: 'error';
  error: { error_type: LlmErrorKind; message: string; status: number | null };
  /** What had been streamed before the failure. */
  partialText: string;
}

export type AskEvent = { type: 'decision'; decision: GateDecision } | { type: 'delta'; text: string } | FinalEvent | ErrorEvent;

/** The messages sent for a decision: the system rule and the grounded prompt. */
export function messagesFor(decision: GateDecision): ChatMessage[] {
  if (decision.prompt === null) throw new RangeError(`decision outcome is ${decision.outcome}; there is no prompt to send`);
  return [
    { role: 'system', content: SYSTEM_MESSAGE },
    { role: 'user', content: decision.prompt },
  ];
}

/** Finds [1], [2, 3], [1-3] and [1][2] in `text` and maps each number to the kept passage of that rank. */
export function citationsOf(text: string, decision: GateDecision): { citations: Citation[]; unknown: number[] } {
  const seen = new Set<number>();
  const order: number[] = [];
  for (const m of text.matchAll(/\[(\d{1,3}(?:\s*(?:,|;|-|–)\s*\d{1,3})*)\]/g)) {
    for (const part of m[1].split(/\s*[,;]\s*/)) {
      const range = /^(\d+)\s*[-–]\s*(\d+)$/.exec(part);
      const nums = range ? Array.from({ length: Math.max(0, Math.min(50, Number(range[2]) - Number(range[1]) + 1)) }, (_, i) => Number(range[1]) + i) : [Number(part)];
      for (const n of nums) {
        if (Number.isInteger(n) && !seen.has(n)) {
          seen.add(n);
          order.push(n);
        }
      }
    }
  }
  const citations: Citation[] = [];
  const unknown: number[] = [];
  for (const n of order) {
    const c = decision.kept[n - 1];
    if (n < 1 || !c) {
      unknown.push(n);
      continue;
    }
    citations.push({ n, id: c.id ?? null, index: c.index, probability: c.probability, retriever: c.retriever });
  }
  return { citations, unknown };
}

function finalOf(decision: GateDecision, fields: Partial<FinalEvent>): FinalEvent {
  return {
    type: 'final', outcome: decision.outcome, generated: false, text: '', citations: [], unknownCitations: [], prompt: decision.prompt,
    model: null, finishReason: null, reason: null, timings: { firstTokenMs: null, generateMs: 0 }, ...fields,
  };
}

/**
 * The ask stream for one decision: `decision`, then (when there is a prompt and an LLM) `delta`s, then
 * `final`; or `error` after the deltas when the LLM fails. An abort through `signal` ends the iteration
 * by throwing its reason.
 */
export async function* answerEvents(decision: GateDecision, llm: LlmClient | null, opts: { signal?: AbortSignal } = {}): AsyncGenerator<AskEvent> {
  yield { type: 'decision', decision };
  if (decision.outcome === 'no_relevant' || decision.prompt === null) {
    yield finalOf(decision, { text: NO_ANSWER_REPLY, reason: decision.message ?? 'no passage passed the gate' });
    return;
  }
  if (!llm) {
    yield finalOf(decision, { reason: NO_LLM_REASON });
    return;
  }
  const t0 = performance.now();
  let firstTokenMs: number | null = null;
  let text = '';
  let finishReason: string | null = null;
  try {
    const streamOpts = opts.signal ? { signal: opts.signal } : {};
    for await (const chunk of llm.stream(messagesFor(decision), streamOpts)) {
      if (chunk.delta.length > 0) {
        firstTokenMs ??= performance.now() - t0;
        text += chunk.delta;
        yield { type: 'delta', text: chunk.delta };
      }
      if (chunk.finishReason !== null) finishReason = chunk.finishReason;
    }
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    const err = e instanceof LlmError ? e : new LlmError('llm_error', `the LLM failed: ${(e as Error).message}`);
    yield { type: 'error', error: { error_type: err.kind, message: err.message, status: err.status }, partialText: text };
    return;
  }
  const { citations, unknown } = citationsOf(text, decision);
  yield finalOf(decision, {
    generated: true, text, citations, unknownCitations: unknown, model: llm.model, finishReason,
    timings: { firstTokenMs, generateMs: performance.now() - t0 },
  });
}
