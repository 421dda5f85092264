// An independent implementation of the five metrics, written straight from trec_eval's definitions for the
// tests (ASCII ids only). It shares no code with src/eval, so the two can check each other.

export interface ReferenceMetrics {
  'nDCG@10': number;
  'MRR@10': number;
  'Recall@100': number;
  'MAP@100': number;
  'P@10': number;
}

/** Qrels and a run parsed from their files the plain way: BEIR TSV (header skipped) and six-column run lines. */
export function parseQrelsTsv(text: string): Map<string, Map<string, number>> {
  const q = new Map<string, Map<string, number>>();
  text.split('\n').slice(1).filter((l) => l.trim() !== '').forEach((l) => {
    const [qid, doc, grade] = l.split('\t');
    if (!q.has(qid)) q.set(qid, new Map());
    q.get(qid)!.set(doc, parseInt(grade, 10));
  });
  return q;
}

export function parseRunFile(text: string): Map<string, { docId: string; score: number }[]> {
  const r = new Map<string, { docId: string; score: number }[]>();
  text.split('\n').filter((l) => l.trim() !== '').forEach((l) => {
    const [qid, , docId, , score] = l.trim().split(/\s+/);
    if (!r.has(qid)) r.set(qid, []);
    r.get(qid)!.push({ docId, score: parseFloat(score) });
  });
  return r;
}

/** The mean of each metric over the queries with a relevant judgement (a query absent from the run scores 0). */
export function referenceMeans(qrels: Map<string, Map<string, number>>, run: Map<string, { docId: string; score: number }[]>): ReferenceMetrics & { queries: number } {
  const sum: ReferenceMetrics = { 'nDCG@10': 0, 'MRR@10': 0, 'Recall@100': 0, 'MAP@100': 0, 'P@10': 0 };
  let n = 0;
  for (const [qid, grades] of qrels) {
    if (![...grades.values()].some((g) => g >= 1)) continue;
    n++;
    const m = referenceMetrics(grades, run.get(qid) ?? []);
    for (const k of Object.keys(sum) as (keyof ReferenceMetrics)[]) sum[k] += m[k];
  }
  for (const k of Object.keys(sum) as (keyof ReferenceMetrics)[]) sum[k] = n > 0 ? sum[k] / n : 0;
  return { ...sum, queries: n };
}

export function referenceRank(list: { docId: string; score: number }[]): string[] {
  const copy = list.map((d) => ({ ...d }));
  copy.sort((x, y) => (x.score !== y.score ? y.score - x.score : x.docId < y.docId ? 1 : x.docId > y.docId ? -1 : 0));
  return copy.map((d) => d.docId);
}

export function referenceMetrics(grades: Map<string, number>, list: { docId: string; score: number }[]): ReferenceMetrics {
  const ranking = referenceRank(list);
  const gain = (id: string): number => Math.max(0, grades.get(id) ?? 0);
  const isRel = (id: string): boolean => (grades.get(id) ?? 0) >= 1;
  const R = [...grades.values()].filter((g) => g >= 1).length;
  let dcg = 0;
  ranking.slice(0, 10).forEach((id, i) => {
    dcg += gain(id) / Math.log2(i + 2);
  });
  let idcg = 0;
  [...grades.values()].filter((g) => g > 0).sort((a, b) => b - a).slice(0, 10).forEach((g, i) => {
    idcg += g / Math.log2(i + 2);
  });
  const firstRel = ranking.slice(0, 10).findIndex(isRel);
  const top100 = ranking.slice(0, 100);
  let ap = 0;
  for (let k = 1; k <= top100.length; k++) {
    if (!isRel(top100[k - 1])) continue;
    ap += top100.slice(0, k).filter(isRel).length / k;
  }
  return {
    'nDCG@10': idcg === 0 ? 0 : dcg / idcg,
    'MRR@10': firstRel < 0 ? 0 : 1 / (firstRel + 1),
    'Recall@100': R === 0 ? 0 : top100.filter(isRel).length / R,
    'MAP@100': R === 0 ? 0 : ap / R,
    'P@10': ranking.slice(0, 10).filter(isRel).length / 10,
  };
}
