// Retrieval metrics as trec_eval defines them: hand-computed cases (graded gains, ties broken by docno
// descending, unjudged and negative grades, cutoffs, excluded queries) and a seeded comparison against a
// second implementation written here, straight from the definitions, sharing no code with src/eval.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../models/random.js';
import { evaluateQuery, evaluateRun, METRIC_NAMES, type Qrels, type Run } from '../src/eval/metrics.js';
import { formatRun, readRun, writeRun } from '../src/eval/trec-run.js';
import { referenceMetrics } from './56.eval.reference.js';

function close(actual: number, expected: number, what: string, tol = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected}`);
}

function judged(entries: Record<string, number>): Map<string, number> {
  return new Map(Object.entries(entries));
}

function docs(...pairs: [string, number][]): { docId: string; score: number }[] {
  return pairs.map(([docId, score]) => ({ docId, score }));
}

describe('metrics, hand-computed', () => {
  it('graded gains, an unjudged document and a judged relevant document never retrieved', () => {
    // Ranked by score: d3 (grade 0), d1 (2), d5 (unjudged), d2 (1); d4 (1) is judged but not retrieved.
    const m = evaluateQuery(judged({ d1: 2, d2: 1, d3: 0, d4: 1 }), docs(['d2', 0.6], ['d3', 0.9], ['d5', 0.7], ['d1', 0.8]));
    // DCG = 2/log2(3) + 1/log2(5); the ideal puts every judged grade in order 2, 1, 1: 2/1 + 1/log2(3) + 1/log2(4).
    close(m['nDCG@10'], (2 / Math.log2(3) + 1 / Math.log2(5)) / (2 + 1 / Math.log2(3) + 1 / 2), 'nDCG@10');
    close(m['nDCG@10'], 0.5405857679, 'nDCG@10 as a decimal', 1e-10);
    close(m['MRR@10'], 1 / 2, 'MRR@10: first relevant at rank 2');
    close(m['Recall@100'], 2 / 3, 'Recall@100: 2 of the 3 relevant');
    close(m['MAP@100'], (1 / 2 + 2 / 4) / 3, 'MAP@100: precision at ranks 2 and 4, over all 3 relevant');
    close(m['P@10'], 2 / 10, 'P@10 divides by 10 even when fewer are retrieved');
  });

  it('ties are broken as trec_eval breaks them: equal scores by document id, descending, as strings', () => {
    // All three score 1.0: trec_eval ranks c, b, a, so the relevant "a" is third.
    const m = evaluateQuery(judged({ a: 1 }), docs(['a', 1], ['b', 1], ['c', 1]));
    close(m['MRR@10'], 1 / 3, 'MRR@10');
    close(m['nDCG@10'], 1 / Math.log2(4), 'nDCG@10');
    close(m['MAP@100'], 1 / 3, 'MAP@100');
    // Ids that look like numbers still compare as text: "9" > "10", so "9" ranks first and "10" second.
    close(evaluateQuery(judged({ 10: 1 }), docs(['10', 0.5], ['9', 0.5]))['MRR@10'], 1 / 2, 'string order of "9" and "10"');
    // A score difference beats any id order.
    close(evaluateQuery(judged({ a: 1 }), docs(['a', 0.5000001], ['z', 0.5]))['MRR@10'], 1, 'higher score first');
  });

  it('cutoffs: rank 11 counts for Recall@100 and MAP@100 only; rank 101 for nothing', () => {
    const list: [string, number][] = [];
    for (let r = 1; r <= 120; r++) list.push([`x${String(r).padStart(3, '0')}`, 1000 - r]);
    // Relevant at ranks 1, 11 and 101, plus one judged relevant document that is not retrieved.
    const m = evaluateQuery(judged({ x001: 1, x011: 1, x101: 1, missing: 1 }), docs(...list));
    close(m['nDCG@10'], 1 / (1 + 1 / Math.log2(3) + 1 / Math.log2(4) + 1 / Math.log2(5)), 'nDCG@10: one hit at rank 1 over an ideal of four');
    close(m['MRR@10'], 1, 'MRR@10');
    close(m['P@10'], 0.1, 'P@10');
    close(m['Recall@100'], 2 / 4, 'Recall@100');
    close(m['MAP@100'], (1 / 1 + 2 / 11) / 4, 'MAP@100');
    // A first relevant document below rank 10 gives MRR@10 = 0.
    close(evaluateQuery(judged({ x011: 1 }), docs(...list))['MRR@10'], 0, 'MRR@10 beyond the cut');
  });

  it('the ideal DCG stops at 10 and ranks grades highest first; a perfect ranking scores 1', () => {
    const grades: Record<string, number> = {};
    for (let i = 0; i < 14; i++) grades[`g${i}`] = i < 3 ? 3 : i < 8 ? 2 : 1;
    const perfect = Object.keys(grades).map((id, i) => [id, 100 - i] as [string, number]);
    close(evaluateQuery(judged(grades), docs(...perfect))['nDCG@10'], 1, 'perfect ranking');
    // Reverse it: the 1s come first. DCG over the top 10 of the reversed list, ideal over the top 10 grades.
    const reversed = perfect.map(([id], i) => [id, i] as [string, number]);
    const got = [1, 1, 1, 1, 1, 1, 2, 2, 2, 2];
    const ideal = [3, 3, 3, 2, 2, 2, 2, 2, 1, 1];
    const dcg = (g: number[]): number => g.reduce((s, x, i) => s + x / Math.log2(i + 2), 0);
    close(evaluateQuery(judged(grades), docs(...reversed))['nDCG@10'], dcg(got) / dcg(ideal), 'reversed ranking');
  });

  it('negative grades are in the pool but unjudged: no gain, not relevant, not in the ideal', () => {
    const m = evaluateQuery(judged({ a: -1, b: 1 }), docs(['a', 2], ['b', 1]));
    close(m['nDCG@10'], 1 / Math.log2(3), 'nDCG@10');
    close(m['MRR@10'], 1 / 2, 'MRR@10');
    close(m['Recall@100'], 1, 'Recall@100');
  });

  it('a query without relevant judgements is excluded and counted; a judged query the run lacks scores 0', () => {
    const qrels: Qrels = new Map([
      ['q1', judged({ d1: 2, d2: 1, d3: 0, d4: 1 })],
      ['q2', judged({ d1: 0, d2: -1 })],
      ['q3', judged({ d9: 1 })],
    ]);
    const run: Run = new Map([
      ['q1', docs(['d2', 0.6], ['d3', 0.9], ['d5', 0.7], ['d1', 0.8])],
      ['q2', docs(['d1', 1])],
      ['q9', docs(['d1', 1])], // not judged at all: ignored, as trec_eval ignores it
    ]);
    const e = evaluateRun(qrels, run);
    assert.equal(e.evaluated, 2);
    assert.deepEqual(e.excluded, ['q2']);
    assert.deepEqual(e.emptyInRun, ['q3']);
    assert.deepEqual([...e.perQuery.keys()], ['q1', 'q3']);
    for (const k of METRIC_NAMES) assert.equal(e.perQuery.get('q3')![k], 0, k);
    close(e.mean['nDCG@10'], 0.5405857679450102 / 2, 'mean nDCG@10 over q1 and q3');
    close(e.mean['MAP@100'], 1 / 3 / 2, 'mean MAP@100');
  });

  it('a document retrieved twice for one query is refused, naming it', () => {
    assert.throws(() => evaluateRun(new Map([['q1', judged({ a: 1 })]]), new Map([['q1', docs(['a', 1], ['a', 0.5])]])), /query "q1": document "a" is retrieved twice/);
  });
});

function randomCase(seed: number): { qrels: Qrels; run: Run } {
  const r = new Rng(seed);
  const qrels: Qrels = new Map();
  const run: Run = new Map();
  for (let q = 0; q < 200; q++) {
    const qid = `q${q}`;
    const g = new Map<string, number>();
    const nJudged = r.int(40);
    for (let j = 0; j < nJudged; j++) g.set(`d${r.int(150)}`, r.int(5) - 1); // grades -1..3
    qrels.set(qid, g);
    if (r.next() < 0.05) continue; // some judged queries have no run
    const list: { docId: string; score: number }[] = [];
    const used = new Set<string>();
    const n = r.int(160);
    for (let k = 0; k < n; k++) {
      const id = `d${r.int(150)}`;
      if (used.has(id)) continue;
      used.add(id);
      list.push({ docId: id, score: Math.round(r.next() * 20) / 10 }); // coarse scores: many ties
    }
    run.set(qid, list);
  }
  return { qrels, run };
}

describe('metrics against an independent implementation', () => {
  for (const seed of [1, 2, 3]) {
    it(`agrees per query and on the means (seed ${seed}, 200 queries with ties, grades -1..3, missing runs)`, () => {
      const { qrels, run } = randomCase(seed);
      const e = evaluateRun(qrels, run);
      let evaluated = 0;
      const sums: Record<string, number> = {};
      for (const [qid, g] of qrels) {
        if (![...g.values()].some((x) => x >= 1)) {
          assert.ok(e.excluded.includes(qid), `${qid} has no relevant judgement and must be excluded`);
          continue;
        }
        evaluated++;
        const want = referenceMetrics(g, run.get(qid) ?? []);
        const got = e.perQuery.get(qid)!;
        for (const k of METRIC_NAMES) {
          close(got[k], want[k], `${qid} ${k}`, 1e-12);
          sums[k] = (sums[k] ?? 0) + want[k];
        }
      }
      assert.equal(e.evaluated, evaluated);
      assert.ok(e.excluded.length > 0 && e.emptyInRun.length > 0, 'the case covers excluded and missing queries');
      for (const k of METRIC_NAMES) close(e.mean[k], sums[k] / evaluated, `mean ${k}`, 1e-12);
    });
  }
});

describe('TREC run files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crossgate-run-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes six columns ranked as trec_eval ranks, and reads back the same evaluation', async () => {
    const { qrels, run } = randomCase(7);
    // float32 scores, as the models produce them: the text must carry every bit.
    for (const list of run.values()) for (const d of list) d.score = Math.fround(d.score * 0.37 + 1e-7);
    const path = join(dir, 'run.txt');
    await writeRun(path, run, 'crossgate-test');
    const back = await readRun(path);
    assert.deepEqual(evaluateRun(qrels, back), evaluateRun(qrels, run));
    const lines = formatRun(new Map([['q1', docs(['a', 1], ['b', 1], ['c', 2.5e-8])]]), 'tag');
    assert.deepEqual(lines, ['q1 Q0 b 1 1 tag', 'q1 Q0 a 2 1 tag', 'q1 Q0 c 3 2.5e-8 tag']);
  });

  it('ignores the rank column (as trec_eval does): order comes from the scores', async () => {
    const path = join(dir, 'ranks.txt');
    await writeFile(path, 'q1 Q0 a 1 0.1 t\nq1 Q0 b 2 0.9 t\n');
    const e = evaluateRun(new Map([['q1', judged({ b: 1 })]]), await readRun(path));
    close(e.mean['MRR@10'], 1, 'b has the higher score');
  });

  it('names the file and line of a bad run line', async () => {
    const bad = join(dir, 'bad.txt');
    await writeFile(bad, 'q1 Q0 a 1 0.1 t\nq1 Q0 b 2 high t\n');
    await assert.rejects(readRun(bad), new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2: score "high" is not a finite number`));
    await writeFile(bad, 'q1 Q0 a 1 0.1\n');
    await assert.rejects(readRun(bad), /:1: expected 6 columns \(qid Q0 docid rank score tag\); got 5/);
    await writeFile(bad, 'q1 Q0 a 1 0.1 t\nq1 Q0 a 2 0.05 t\n');
    await assert.rejects(readRun(bad), /:2: query "q1" lists document "a" again \(first on line 1\)/);
    assert.throws(() => formatRun(new Map([['q1', docs(['has space', 1])]]), 't'), /document id "has space" \(query "q1"\) is empty or holds whitespace/);
    assert.throws(() => formatRun(new Map([['q1', docs(['a', 1])]]), 'two words'), /run tag "two words" must be one word/);
  });
});
