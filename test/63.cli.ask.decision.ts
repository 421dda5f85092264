// What must agree when the same input reaches the library, the CLI (and the server): the decision without
// its timings, probabilities rounded to 1e-5 (separate processes may sum in another order).
import type { GateDecision } from '../src/pipeline/precision.js';

/** The parts of a decision that must agree on every surface (timings differ run to run). */
export function decisionCore(d: GateDecision): unknown {
  const cand = (c: GateDecision['candidates'][number]): unknown => [c.index, c.id, c.retriever, c.mode, c.kept, Math.round(c.probability * 1e5) / 1e5];
  return {
    query: d.query, threshold: d.threshold, outcome: d.outcome, augment: d.augment, fallback: d.fallback, ambiguous: d.ambiguous,
    reason: d.reason && { retrievers: d.reason.retrievers, candidates: d.reason.candidates },
    path: d.path.map((s) => [s.retriever, s.mode, s.role, s.status, s.note, s.retrieved, s.scored, s.kept]),
    kept: d.kept.map(cand), dropped: d.dropped.map(cand), candidates: d.candidates.map(cand), prompt: d.prompt, message: d.message,
  };
}

