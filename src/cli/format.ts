// Human-readable rendering of retrieval hits and GateDecisions, shared by `demo` and `search`.
import type { GateCandidate, GateDecision } from '../pipeline/precision.js';
import type { RetrievedDocument } from '../pipeline/collection.js';
import { preview } from './io.js';

export const f4 = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : String(x));

const SCORE_NAME = { dense: 'cosine', keyword: 'bm25  ', hybrid: 'rrf   ' } as const;

function label(c: GateCandidate): string {
  return c.id !== undefined ? c.id : `#${c.index}`;
}

/** "collection:dense (0/5 kept, best 0.1234) -> collection:keyword unavailable (...)". */
export function formatPath(d: GateDecision): string {
  return d.path
    .map((s) => {
      const name = `${s.retriever}:${s.mode}`;
      if (s.status !== 'ran') return `${name} ${s.status} (${s.note ?? ''})`;
      return `${name} (${s.kept}/${s.scored} kept, best ${s.bestProbability === null ? 'none' : f4(s.bestProbability)})`;
    })
    .join(' -> ');
}

export function formatHits(hits: readonly RetrievedDocument[]): string[] {
  return hits.map((h, i) => `  ${String(i + 1).padStart(2)}. cosine ${f4(h.score)}  ${h.id.padEnd(10)} ${preview(h.text, 70)}`);
}

/** The reranked list, the dropped list, the outcome and the prompt (or the no-relevant message). */
export function formatDecision(d: GateDecision, opts: { showRetrieval?: boolean } = {}): string[] {
  const lines: string[] = [];
  if (opts.showRetrieval !== false && d.candidates.some((c) => c.retrievalScore !== null)) {
    lines.push(`Retrieved ${d.candidates.length} candidate${d.candidates.length === 1 ? '' : 's'}:`);
    for (const c of d.candidates) {
      lines.push(`  ${String(c.index + 1).padStart(2)}. ${SCORE_NAME[c.mode ?? 'dense']} ${f4(c.retrievalScore ?? NaN)}  ${label(c).padEnd(10)} ${preview(c.text, 66)}`);
    }
  }
  lines.push(`Reranked (cross-encoder, threshold ${d.threshold}):`);
  const ranked = [...d.kept, ...d.dropped];
  ranked.forEach((c, i) => {
    const flags = [c.kept ? 'KEPT' : 'dropped', c.truncated ? 'truncated' : ''].filter(Boolean).join(', ');
    const via = c.mode !== null ? ` via ${c.mode}` : '';
    lines.push(`  ${String(i + 1).padStart(2)}. prob ${f4(c.probability)}  logit ${f4(c.logit).padStart(8)}  ${label(c).padEnd(10)} [${flags}${via}] ${preview(c.text, 56)}`);
  });
  if (d.dropped.length > 0) {
    lines.push(`Dropped below ${d.threshold}: ${d.dropped.map((c) => `${label(c)} (${f4(c.probability)})`).join(', ')}`);
  } else {
    lines.push(`Dropped below ${d.threshold}: none`);
  }
  if (d.path.length > 0) lines.push(`Path: ${formatPath(d)}`);
  lines.push(`Outcome: ${d.outcome}${d.outcome !== 'no_relevant' ? ` (${d.kept.length} passage${d.kept.length === 1 ? '' : 's'} kept)` : ''}${d.augment ? ' [augment the collection]' : ''}`);
  if (d.reason) lines.push(`Augment: ${d.reason.summary}`);
  if (d.outcome === 'ambiguous' && d.message) lines.push(`Uncertain: ${d.message}`);
  if (d.prompt !== null) {
    lines.push('Prompt for the LLM:');
    for (const l of d.prompt.split('\n')) lines.push(`  | ${l}`);
  } else {
    lines.push(`No relevant passage: ${d.message ?? ''}`);
  }
  lines.push(`Timings: retrieve ${d.timings.retrieveMs.toFixed(1)} ms, rerank ${d.timings.rerankMs.toFixed(1)} ms, total ${d.timings.totalMs.toFixed(1)} ms`);
  if (d.gap) lines.push(d.gap.recorded ? `Gap log: recorded (${d.gap.kind}) in ${d.gap.path}` : d.gap.error ? `Gap log: NOT recorded: ${d.gap.error}` : 'Gap log: answers not tallied');
  return lines;
}

/** "1 document", "2 documents" (pass the plural for irregular words). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** Bytes in the unit people read: "512 B", "3.4 KB", "87.1 MB", "1.20 GB" (powers of 1000, as disks and hubs count). */
export function humanBytes(n: number): string {
  if (!Number.isFinite(n) || n < 1000) return `${Math.round(n)} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) { v /= 1000; u++; }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

/** Seconds as "0.4 s", "12 s", "3 min 05 s"; "?" while unknown. */
export function humanSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - m * 60)).padStart(2, '0')} s`;
}
