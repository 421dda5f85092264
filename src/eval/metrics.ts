// Retrieval metrics exactly as trec_eval (usnistgov/trec_eval 9.x) computes them from a qrels file and a
// run file: nDCG@10 (ndcg_cut_10), MRR@10 (recip_rank over the top 10), Recall@100 (recall_100),
// MAP@100 (map_cut_100) and P@10 (P_10), per query and as the mean over the evaluated queries.

/** Judgements: query id -> document id -> relevance grade (an integer; negative = in the pool but unjudged). */
export type Qrels = Map<string, Map<string, number>>;

/** One retrieved document of a run, with the score a run file carries. */
export interface ScoredDoc {
  docId: string;
  score: number;
}

/** A run: query id -> retrieved documents (any order; they are ranked as trec_eval ranks them). */
export type Run = Map<string, ScoredDoc[]>;

export const METRIC_NAMES = ['nDCG@10', 'MRR@10', 'Recall@100', 'MAP@100', 'P@10'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
export type Metrics = Record<MetricName, number>;

/** The trec_eval measure each metric is, for readers who check the numbers with it. */
export const TREC_EVAL_NAMES: Record<MetricName, string> = {
  'nDCG@10': 'ndcg_cut_10',
  'MRR@10': 'recip_rank (top 10 only)',
  'Recall@100': 'recall_100',
  'MAP@100': 'map_cut_100',
  'P@10': 'P_10',
};

/**
 * trec_eval's relevance_level default: a document is relevant for the binary metrics (MRR, recall, MAP,
 * P) when its grade is at least 1. nDCG uses the grade itself as the gain.
 */
export const RELEVANCE_LEVEL = 1;

/**
 * Code point order, which is the byte order of UTF-8 and so what trec_eval's strcmp gives. JS `<` on
 * strings compares UTF-16 units, which differs for characters above U+FFFF against U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/**
 * trec_eval's ranking of a run's documents (form_res_rels.c, comp_sim_docno): by score, highest first;
 * equal scores by document id, *descending*. The rank column of a run file is ignored, as trec_eval
 * ignores it, so a run written by another tool is evaluated on the same order trec_eval would use.
 */
export function trecOrder(a: ScoredDoc, b: ScoredDoc): number {
  if (a.score > b.score) return -1;
  if (a.score < b.score) return 1;
  return compareCodePoints(b.docId, a.docId);
}

export function rankLikeTrecEval(docs: readonly ScoredDoc[]): ScoredDoc[] {
  return [...docs].sort(trecOrder);
}

/** Relevant (grade >= RELEVANCE_LEVEL) documents of one query's judgements. */
export function countRelevant(judged: ReadonlyMap<string, number>): number {
  let n = 0;
  for (const g of judged.values()) if (g >= RELEVANCE_LEVEL) n++;
  return n;
}

const NDCG_CUT = 10;
const MRR_CUT = 10;
const RECALL_CUT = 100;
const MAP_CUT = 100;
const P_CUT = 10;

/**
 * The five metrics for one query. `docs` may be in any order; duplicates are an error (trec_eval refuses
 * them too). A query with no relevant judged document has no defined recall or MAP: callers exclude it.
 */
export function evaluateQuery(judged: ReadonlyMap<string, number>, docs: readonly ScoredDoc[]): Metrics {
  const ranked = rankLikeTrecEval(docs);
  const seen = new Set<string>();
  for (const d of ranked) {
    if (seen.has(d.docId)) throw new Error(`document "${d.docId}" is retrieved twice for one query; a run lists each document at most once per query`);
    seen.add(d.docId);
  }
  // Unjudged documents (absent, or a negative grade) have no gain and are not relevant.
  const grade = (i: number): number => Math.max(0, judged.get(ranked[i].docId) ?? 0);
  const numRel = countRelevant(judged);

  let dcg = 0;
  for (let i = 0; i < Math.min(NDCG_CUT, ranked.length); i++) {
    const g = grade(i);
    if (g > 0) dcg += g / Math.log2(i + 2);
  }
  // The ideal ranking puts every judged document, retrieved or not, in grade order (highest first).
  const gains = [...judged.values()].filter((g) => g > 0).sort((x, y) => y - x);
  let idcg = 0;
  for (let i = 0; i < Math.min(NDCG_CUT, gains.length); i++) idcg += gains[i] / Math.log2(i + 2);

  let rr = 0;
  for (let i = 0; i < Math.min(MRR_CUT, ranked.length); i++) {
    if (grade(i) >= RELEVANCE_LEVEL) {
      rr = 1 / (i + 1);
      break;
    }
  }

  let relSeen = 0;
  let apSum = 0;
  let relAtP = 0;
  let relAtRecall = 0;
  for (let i = 0; i < Math.min(Math.max(MAP_CUT, RECALL_CUT, P_CUT), ranked.length); i++) {
    if (grade(i) < RELEVANCE_LEVEL) continue;
    relSeen++;
    if (i < MAP_CUT) apSum += relSeen / (i + 1);
    if (i < P_CUT) relAtP++;
    if (i < RECALL_CUT) relAtRecall++;
  }

  return {
    'nDCG@10': idcg > 0 ? dcg / idcg : 0,
    'MRR@10': rr,
    'Recall@100': numRel > 0 ? relAtRecall / numRel : 0,
    'MAP@100': numRel > 0 ? apSum / numRel : 0,
    'P@10': relAtP / P_CUT,
  };
}

export interface RunEvaluation {
  /** Metrics of every evaluated query, in qrels order. */
  perQuery: Map<string, Metrics>;
  /** Mean over the evaluated queries (all zeros when none). */
  mean: Metrics;
  /** Queries evaluated: those with at least one relevant judged document. */
  evaluated: number;
  /** Queries in the qrels with no relevant judged document: excluded from every mean. */
  excluded: string[];
  /** Evaluated queries the run has no documents for: they count with every metric 0 (trec_eval -c). */
  emptyInRun: string[];
}

export function zeroMetrics(): Metrics {
  return { 'nDCG@10': 0, 'MRR@10': 0, 'Recall@100': 0, 'MAP@100': 0, 'P@10': 0 };
}

/**
 * Evaluates a run against qrels. Differences from plain trec_eval, both deliberate and reported:
 * queries without a relevant judgement are left out of the means (trec_eval would average them in as 0),
 * and a judged query missing from the run counts as 0 (trec_eval does that only with -c).
 */
export function evaluateRun(qrels: Qrels, run: Run): RunEvaluation {
  const perQuery = new Map<string, Metrics>();
  const excluded: string[] = [];
  const emptyInRun: string[] = [];
  const sum = zeroMetrics();
  for (const [qid, judged] of qrels) {
    if (countRelevant(judged) === 0) {
      excluded.push(qid);
      continue;
    }
    const docs = run.get(qid) ?? [];
    if (docs.length === 0) emptyInRun.push(qid);
    let m: Metrics;
    try {
      m = evaluateQuery(judged, docs);
    } catch (e) {
      throw new Error(`query "${qid}": ${(e as Error).message}`);
    }
    perQuery.set(qid, m);
    for (const k of METRIC_NAMES) sum[k] += m[k];
  }
  const mean = zeroMetrics();
  if (perQuery.size > 0) for (const k of METRIC_NAMES) mean[k] = sum[k] / perQuery.size;
  return { perQuery, mean, evaluated: perQuery.size, excluded, emptyInRun };
}
