// The gap report: what the collection could not answer, grouped so that one missing document shows up as
// one line. Queries are normalised (case, accents, punctuation, stop words, word order), then groups whose
// word sets overlap almost entirely or whose text differs by a typo or two are merged.
import { distance } from 'fastest-levenshtein';
import type { GateOutcome } from './precision.js';
import { GATE_OUTCOMES } from './precision.js';
import type { GapEntry, GapLogContents } from './gaps.js';

/** Word sets at least this similar (Jaccard) are one group: "reset my password" ~ "password reset". */
export const NEAR_DUPLICATE_JACCARD = 0.75;
/** Keys within this share of their length in edit distance are one group (typos: "pasword"). */
export const NEAR_DUPLICATE_EDIT_SHARE = 0.2;
/** Pairwise near-duplicate merging is quadratic; above this many distinct keys only exact keys group. */
export const MAX_FUZZY_GROUPS = 3000;

const STOP_WORDS = new Set(
  ('a an and are as at be but by can could do does did for from how i if in is it its me my of on or our please ' +
    'should so that the their them there these this to was we were what when where which who why will with would you your').split(' '),
);

/** Lowercase, accents folded, punctuation to spaces, whitespace collapsed. */
export function normaliseQuery(q: string): string {
  return q
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** The grouping key: the normalised words minus stop words, deduplicated and sorted (word order does not matter). */
export function groupKey(q: string): { key: string; words: Set<string> } {
  const norm = normaliseQuery(q);
  const all = norm.length > 0 ? norm.split(' ') : [];
  const content = all.filter((w) => !STOP_WORDS.has(w));
  const words = new Set(content.length > 0 ? content : all);
  return { key: [...words].sort().join(' '), words };
}

function jaccard(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let inter = 0;
  for (const w of a) if (b.has(w)) inter++;
  return inter / (a.size + b.size - inter);
}

export function nearDuplicates(a: { key: string; words: Set<string> }, b: { key: string; words: Set<string> }): boolean {
  if (jaccard(a.words, b.words) >= NEAR_DUPLICATE_JACCARD) return true;
  const longest = Math.max(a.key.length, b.key.length);
  return longest > 0 && distance(a.key, b.key) <= Math.max(1, Math.floor(NEAR_DUPLICATE_EDIT_SHARE * longest));
}

/** One thing the collection is missing: a query and its near-duplicates. */
export interface GapGroup {
  /** The most frequent wording in the group. */
  query: string;
  /** Every distinct wording, most frequent first. */
  variants: string[];
  count: number;
  outcomes: Partial<Record<GateOutcome, number>>;
  /** The best probability any candidate reached for any query of the group; null when nothing was retrieved. */
  bestProbability: number | null;
  /** The candidate ids seen most often at the top, most frequent first (what the collection offered instead). */
  topCandidates: string[];
  collections: string[];
  firstSeen: string;
  lastSeen: string;
}

export interface GapReport {
  log: string;
  since: string | null;
  /** Every decision in the window: gaps plus the tallied answers. */
  decisions: Record<GateOutcome, number> & { total: number };
  /** no_relevant / every decision (Algolia's "no results rate"); null when there were none. */
  noResultRate: number | null;
  /** (no_relevant + ambiguous) / every decision: how often the collection had no confident answer. */
  noAnswerRate: number | null;
  /** answer_from_fallback / every decision: how often the first retrieval missed what the fallback found. */
  fallbackRate: number | null;
  groups: GapGroup[];
  skippedLines: number;
  firstSkippedLine: number | null;
  fuzzyGrouping: boolean;
}

interface Acc {
  key: string;
  words: Set<string>;
  entries: GapEntry[];
}

function find(parent: number[], i: number): number {
  while (parent[i] !== i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

function topByCount(counts: Map<string, number>, n: number): string[] {
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n).map(([k]) => k);
}

/** Builds the report from a read log. Groups are ordered by how often the collection failed them. */
export function buildGapReport(log: GapLogContents, opts: { since?: Date | null } = {}): GapReport {
  const decisions = { total: 0, answer: 0, answer_from_fallback: 0, ambiguous: 0, no_relevant: 0 } as Record<GateOutcome, number> & { total: number };
  const byKey = new Map<string, Acc>();
  for (const e of log.entries) {
    if ((GATE_OUTCOMES as readonly string[]).includes(e.outcome)) {
      const n = typeof e.count === 'number' && Number.isInteger(e.count) && e.count > 0 ? e.count : 1;
      decisions[e.outcome] += n;
      decisions.total += n;
    }
    if (e.outcome === 'answer' || typeof e.query !== 'string') continue;
    const { key, words } = groupKey(e.query);
    let acc = byKey.get(key);
    if (!acc) byKey.set(key, (acc = { key, words, entries: [] }));
    acc.entries.push(e);
  }
  const accs = [...byKey.values()];
  const parent = accs.map((_, i) => i);
  const fuzzy = accs.length <= MAX_FUZZY_GROUPS;
  if (fuzzy) {
    for (let i = 0; i < accs.length; i++) {
      for (let j = i + 1; j < accs.length; j++) {
        if (find(parent, i) !== find(parent, j) && nearDuplicates(accs[i], accs[j])) parent[find(parent, j)] = find(parent, i);
      }
    }
  }
  const merged = new Map<number, GapEntry[]>();
  accs.forEach((a, i) => {
    const root = find(parent, i);
    const list = merged.get(root) ?? [];
    list.push(...a.entries);
    merged.set(root, list);
  });
  const groups: GapGroup[] = [];
  for (const entries of merged.values()) {
    const wording = new Map<string, number>();
    const tops = new Map<string, number>();
    const outcomes: Partial<Record<GateOutcome, number>> = {};
    const collections = new Set<string>();
    let bestProbability: number | null = null;
    let first = entries[0].t;
    let last = entries[0].t;
    for (const e of entries) {
      const q = (e.query ?? '').trim();
      wording.set(q, (wording.get(q) ?? 0) + 1);
      outcomes[e.outcome] = (outcomes[e.outcome] ?? 0) + 1;
      collections.add(e.collection);
      if (typeof e.best === 'number' && (bestProbability === null || e.best > bestProbability)) bestProbability = e.best;
      if (e.top?.[0] !== undefined) tops.set(e.top[0], (tops.get(e.top[0]) ?? 0) + 1);
      if (e.t < first) first = e.t;
      if (e.t > last) last = e.t;
    }
    const variants = topByCount(wording, Infinity);
    groups.push({ query: variants[0], variants, count: entries.length, outcomes, bestProbability, topCandidates: topByCount(tops, 3), collections: [...collections].sort(), firstSeen: first, lastSeen: last });
  }
  const unanswered = (g: GapGroup): number => (g.outcomes.no_relevant ?? 0) + (g.outcomes.ambiguous ?? 0);
  groups.sort((a, b) => unanswered(b) - unanswered(a) || b.count - a.count || (a.lastSeen < b.lastSeen ? 1 : a.lastSeen > b.lastSeen ? -1 : 0));
  const rate = (n: number): number | null => (decisions.total > 0 ? n / decisions.total : null);
  return {
    log: log.path,
    since: opts.since ? opts.since.toISOString() : null,
    decisions,
    noResultRate: rate(decisions.no_relevant),
    noAnswerRate: rate(decisions.no_relevant + decisions.ambiguous),
    fallbackRate: rate(decisions.answer_from_fallback),
    groups,
    skippedLines: log.skipped,
    firstSkippedLine: log.firstSkippedLine,
    fuzzyGrouping: fuzzy,
  };
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "7d", "24h", "30m", "2w", "90s" -> milliseconds; throws naming the flag and the accepted forms. */
export function parseDuration(text: string, name = '--since'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$/i.exec(text);
  if (!m || Number(m[1]) <= 0) throw new RangeError(`${name} is "${text}"; expected a positive duration like 90s, 30m, 24h, 7d or 2w`);
  return Number(m[1]) * UNITS[m[2].toLowerCase()];
}

const pct = (r: number | null): string => (r === null ? 'n/a' : `${(r * 100).toFixed(1)}%`);

/** The report as lines for a terminal. */
export function formatGapReport(r: GapReport): string[] {
  const lines: string[] = [];
  lines.push(`gap log: ${r.log}${r.since ? ` (since ${r.since})` : ''}`);
  const d = r.decisions;
  lines.push(`decisions: ${d.total} (answer ${d.answer}, answer_from_fallback ${d.answer_from_fallback}, ambiguous ${d.ambiguous}, no_relevant ${d.no_relevant})`);
  lines.push(`no-result rate: ${pct(r.noResultRate)}   no-answer rate (no_relevant + ambiguous): ${pct(r.noAnswerRate)}   fallback rate: ${pct(r.fallbackRate)}`);
  if (r.skippedLines > 0) lines.push(`warning: skipped ${r.skippedLines} unreadable line${r.skippedLines === 1 ? '' : 's'} (first: line ${r.firstSkippedLine})`);
  if (r.groups.length === 0) {
    lines.push('no gaps recorded: every query in the window was answered');
    return lines;
  }
  lines.push('', 'What to write or ingest next (grouped queries, most often unanswered first):');
  r.groups.forEach((g, i) => {
    const outcomes = Object.entries(g.outcomes).map(([o, n]) => `${o} ${n}`).join(', ');
    const bestText = g.bestProbability === null ? 'none retrieved' : g.bestProbability.toFixed(4);
    lines.push(`${String(i + 1).padStart(3)}. ${JSON.stringify(g.query)}  x${g.count}  best ${bestText}  (${outcomes})`);
    if (g.variants.length > 1) lines.push(`     also asked as: ${g.variants.slice(1, 4).map((v) => JSON.stringify(v)).join(', ')}${g.variants.length > 4 ? `, +${g.variants.length - 4} more` : ''}`);
    if (g.topCandidates.length > 0) lines.push(`     closest documents: ${g.topCandidates.join(', ')}`);
  });
  if (!r.fuzzyGrouping) lines.push(`(more than ${MAX_FUZZY_GROUPS} distinct queries: grouped by normalised text only, near-duplicates not merged)`);
  return lines;
}
