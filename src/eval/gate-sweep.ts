// What the gate would have done on an evaluation set, threshold by threshold: how many queries it answers,
// how often the passages it keeps include a relevant one, and how many answerable queries it answers.
import { RELEVANCE_LEVEL, type Qrels } from './metrics.js';

/** One query as the gate sees it: the pipeline's top-k candidates with their cross-encoder probabilities. */
export interface GateQuery {
  qid: string;
  candidates: { docId: string; probability: number }[];
}

export interface GateRow {
  threshold: number;
  /** Queries with at least one candidate at or above the threshold (the gate answers them). */
  answered: number;
  answeredFraction: number;
  /** Answered queries whose kept passages include a relevant one, over the answered queries (null when none is answered). */
  precision: number | null;
  /** Answerable queries (a relevant passage among the candidates) that the gate answers with a relevant kept passage. */
  recall: number | null;
}

export interface GateSweep {
  /** Queries swept: the evaluated ones (with a relevant judgement). */
  queries: number;
  /** Of those, the ones whose candidates hold a relevant passage: the most the gate could answer well. */
  answerable: number;
  rows: GateRow[];
}

/** Thresholds swept by default: the probability scale in tenths, its ends, and the pipeline's default 0.2. */
export const DEFAULT_SWEEP = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];

export function gateSweep(queries: readonly GateQuery[], qrels: Qrels, thresholds: readonly number[] = DEFAULT_SWEEP): GateSweep {
  const sorted = [...new Set(thresholds)].sort((a, b) => a - b);
  const relevant = (qid: string, docId: string): boolean => (qrels.get(qid)?.get(docId) ?? 0) >= RELEVANCE_LEVEL;
  const answerable = queries.filter((q) => q.candidates.some((c) => relevant(q.qid, c.docId))).length;
  const rows = sorted.map((t) => {
    let answered = 0;
    let correct = 0;
    for (const q of queries) {
      const kept = q.candidates.filter((c) => c.probability >= t);
      if (kept.length === 0) continue;
      answered++;
      if (kept.some((c) => relevant(q.qid, c.docId))) correct++;
    }
    return {
      threshold: t,
      answered,
      answeredFraction: queries.length > 0 ? answered / queries.length : 0,
      precision: answered > 0 ? correct / answered : null,
      recall: answerable > 0 ? correct / answerable : null,
    };
  });
  return { queries: queries.length, answerable, rows };
}
