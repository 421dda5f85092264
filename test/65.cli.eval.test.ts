// `crossgate eval` as a user runs it, on a small BEIR fixture with the tiny generated models: the report's
// metrics must equal what an independent implementation computes from the run file it wrote, the gate
// sweep must follow from the rerank and retrieval runs, and every bad input gets a clear error.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { packageRoot } from '../src/native.js';
import { Rng } from '../models/random.js';
import { texts } from './40.infer.texts.js';
import { crossgate, ok } from './60.cli.run.js';
import { parseQrelsTsv, parseRunFile, referenceMeans, referenceRank, type ReferenceMetrics } from './56.eval.reference.js';


const METRICS = ['nDCG@10', 'MRR@10', 'Recall@100', 'MAP@100', 'P@10'] as const;

/** The shared CACM collection (BEIR layout), where the benchmarks find it too; null when this machine has none. */
function cacmDir(): string | null {
  const roots = [process.env.CROSSGATE_EVAL_DIR, join(packageRoot(), '..', 'shared', 'eval'), '/work/shared/eval'].filter((p): p is string => !!p);
  const root = roots.find((p) => existsSync(join(p, 'cacm', 'corpus.jsonl')));
  return root ? join(root, 'cacm') : null;
}

/** Runs eval with --run-out and checks every reported mean against the independent implementation on that file. */
async function checkAgainstRunFile(args: string[], runPath: string, qrelsPath: string): Promise<{ report: Record<string, any>; ref: ReferenceMetrics & { queries: number } }> {
  const report = JSON.parse(ok(crossgate([...args, '--run-out', runPath, '--json'])).stdout);
  const ref = referenceMeans(parseQrelsTsv(await readFile(qrelsPath, 'utf8')), parseRunFile(await readFile(runPath, 'utf8')));
  for (const m of METRICS) assert.equal(report.metrics[m].toFixed(4), ref[m].toFixed(4), `${m}: reported ${report.metrics[m]}, independent ${ref[m]}`);
  return { report, ref };
}
/** The engine's probability: expit of the float32 logit, stored as float32. */
const expit = (x: number): number => Math.fround(x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** A BEIR directory: 150 word-salad documents, 12 queries built from words of some of them, graded qrels. */
async function writeFixture(dir: string): Promise<void> {
  await mkdir(join(dir, 'qrels'), { recursive: true });
  const bodies = texts(5601, 150, 8, 40);
  const corpus = bodies.map((text, i) => JSON.stringify({ _id: `doc${i}`, title: i % 3 === 0 ? `title ${i}` : '', text }));
  await writeFile(join(dir, 'corpus.jsonl'), corpus.join('\n') + '\n');
  const r = new Rng(77);
  const queries: string[] = [];
  const qrels: string[] = ['query-id\tcorpus-id\tscore'];
  for (let q = 0; q < 12; q++) {
    const target = r.int(150);
    queries.push(JSON.stringify({ _id: `q${q}`, text: bodies[target].split(' ').slice(0, 6).join(' ') }));
    if (q === 11) {
      qrels.push(`q${q}\tdoc${target}\t0`); // judged, nothing relevant: excluded and counted
      continue;
    }
    qrels.push(`q${q}\tdoc${target}\t2`);
    for (let j = 0; j < 4; j++) qrels.push(`q${q}\tdoc${(target + 1 + j * 7) % 150}\t${r.int(3)}`);
  }
  await writeFile(join(dir, 'queries.jsonl'), queries.join('\n') + '\n');
  await writeFile(join(dir, 'qrels', 'test.tsv'), qrels.join('\n') + '\n');
}

describe('crossgate eval', () => {
  let root: string;
  let beir: string;
  let crossDir: string;
  let biDir: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-eval-'));
    crossDir = await ensureGenerated('tiny-cross', { root: join(root, 'models') });
    biDir = await ensureGenerated('tiny-bi', { root: join(root, 'models') });
    beir = join(root, 'beir');
    await writeFixture(beir);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('dense: the reported metrics equal an independent computation from the run file it wrote, to 4 decimals', async () => {
    const runPath = join(root, 'dense.run');
    const report = JSON.parse(ok(crossgate(['eval', '--beir', beir, '--bi-encoder', biDir, '--run-out', runPath, '--json'])).stdout);
    const runText = await readFile(runPath, 'utf8');
    const lines = runText.trimEnd().split('\n');
    for (const l of lines) assert.match(l, /^q\d+ Q0 doc\d+ \d+ \S+ crossgate-dense$/, 'six columns');
    const ref = referenceMeans(parseQrelsTsv(await readFile(join(beir, 'qrels', 'test.tsv'), 'utf8')), parseRunFile(runText));
    assert.equal(ref.queries, 11);
    for (const m of METRICS) {
      assert.equal(report.metrics[m].toFixed(4), ref[m].toFixed(4), m);
      assert.ok(Math.abs(report.metrics[m] - ref[m]) < 1e-12, `${m}: ${report.metrics[m]} vs ${ref[m]}`);
    }
    assert.ok(ref['Recall@100'] > 0, 'the fixture is not degenerate: something relevant is retrieved');
    assert.equal(report.collection.evaluated, 11);
    assert.deepEqual(report.collection.excluded, ['q11']);
    assert.equal(report.retrieval.mode, 'dense');
    assert.equal(report.retrieval.depth, 100);
    assert.equal(lines.filter((l) => l.startsWith('q0 ')).length, 100, '100 documents per query');
    assert.equal(report.random_weights, true);
    assert.match(report.warning, /every number in this report is meaningless/);
    assert.equal(report.gate, null);
  });

  it('rerank: the run holds the top N by logit and the gate sweep follows from the retrieval order and the probabilities', async () => {
    const denseRun = join(root, 'dense10.run');
    const rerankRun = join(root, 'rerank.run');
    ok(crossgate(['eval', '--beir', beir, '--bi-encoder', biDir, '--run-out', denseRun, '--json']));
    const report = JSON.parse(ok(crossgate(['eval', '--beir', beir, '--bi-encoder', biDir, '--cross-encoder', crossDir, '--rerank-top', '10', '--top-k', '3', '--run-out', rerankRun, '--json'])).stdout);
    const qrels = parseQrelsTsv(await readFile(join(beir, 'qrels', 'test.tsv'), 'utf8'));
    const dense = parseRunFile(await readFile(denseRun, 'utf8'));
    const reranked = parseRunFile(await readFile(rerankRun, 'utf8'));
    const ref = referenceMeans(qrels, reranked);
    for (const m of METRICS) assert.equal(report.metrics[m].toFixed(4), ref[m].toFixed(4), m);
    const firstStage = referenceMeans(qrels, new Map([...dense].map(([q, docs]) => [q, docs.slice(0, 10)])));
    for (const m of METRICS) assert.equal(report.first_stage[m].toFixed(4), firstStage[m].toFixed(4), `first stage ${m}`);
    assert.equal(report.rerank.top, 10);
    assert.equal(report.rerank.pairs, 11 * 10);
    // The gate sees the first 3 retrieved (dense order), each with expit(its logit in the rerank run).
    const relevant = (q: string, d: string): boolean => (qrels.get(q)?.get(d) ?? 0) >= 1;
    const gateQueries = [...qrels.keys()].filter((q) => [...qrels.get(q)!.values()].some((g) => g >= 1)).map((q) => {
      const top3 = referenceRank(dense.get(q)!).slice(0, 3);
      const logit = new Map(reranked.get(q)!.map((d) => [d.docId, d.score]));
      return { q, cands: top3.map((d) => ({ d, p: expit(logit.get(d)!) })) };
    });
    const answerable = gateQueries.filter((g) => g.cands.some((c) => relevant(g.q, c.d))).length;
    assert.equal(report.gate.answerable, answerable);
    assert.equal(report.gate.top_k, 3);
    assert.equal(report.gate.default_threshold, 0.2);
    assert.ok(report.gate.thresholds.length >= 10);
    for (const row of report.gate.thresholds) {
      const kept = gateQueries.map((g) => g.cands.filter((c) => c.p >= row.threshold));
      const answered = kept.filter((k) => k.length > 0).length;
      const correct = kept.filter((k, i) => k.some((c) => relevant(gateQueries[i].q, c.d))).length;
      assert.equal(row.answered, answered, `answered at ${row.threshold}`);
      assert.equal(row.answered_fraction, answered / 11);
      assert.equal(row.precision, answered > 0 ? correct / answered : null, `precision at ${row.threshold}`);
      assert.equal(row.recall, answerable > 0 ? correct / answerable : null, `recall at ${row.threshold}`);
    }
  });

  it('a saved collection (--index) gives the same numbers as the temporary one', async () => {
    const out = join(root, 'index');
    const corpus = (await readFile(join(beir, 'corpus.jsonl'), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l));
    const docs = corpus.map((d) => JSON.stringify({ id: d._id, text: d.title ? `${d.title} ${d.text}` : d.text })).join('\n');
    ok(crossgate(['index', 'build', '--bi-encoder', biDir, '--out', out], docs));
    const a = JSON.parse(ok(crossgate(['eval', '--beir', beir, '--bi-encoder', biDir, '--json'])).stdout);
    const b = JSON.parse(ok(crossgate(['eval', '--beir', beir, '--index', out, '--json'])).stdout);
    assert.deepEqual(b.metrics, a.metrics);
    assert.match(b.retrieval.source, /^collection /);
    assert.equal(b.collection.corpus_documents_not_in_index, 0);
    // A collection built from part of the corpus: the report says how much of it can never be retrieved.
    const partial = join(root, 'partial');
    ok(crossgate(['index', 'build', '--bi-encoder', biDir, '--out', partial], docs.split('\n').slice(0, 100).join('\n')));
    const c = ok(crossgate(['eval', '--beir', beir, '--index', partial]));
    assert.match(c.stdout, /warning: 50 of the corpus's 150 documents are not in the collection, so they can never be retrieved/);
  });

  it('the terminal report opens with the random-weights warning and shows the table and the gate', () => {
    const r = ok(crossgate(['eval', '--beir', beir, '--bi-encoder', biDir, '--cross-encoder', crossDir, '--rerank-top', '5']));
    const lines = r.stdout.split('\n');
    assert.match(lines[0], /^!!! RANDOM-WEIGHT MODELS: every number in this report is meaningless/);
    assert.ok(lines.some((l) => /nDCG@10\s+MRR@10\s+Recall@100\s+MAP@100\s+P@10/.test(l)), 'metrics header');
    assert.ok(lines.some((l) => /^retrieval\s+\d\.\d{4}/.test(l)) && lines.some((l) => /^reranked\s+\d\.\d{4}/.test(l)));
    assert.ok(lines.some((l) => /1 excluded \(no relevant judgement\)/.test(l)));
    assert.ok(lines.some((l) => /^\s+0\.2\s+.*<- default$/.test(l)), 'the default threshold is marked');
    assert.match(r.stderr, /evaluating: 100% \(11\/11 queries[,)]/, 'progress on stderr');
  });

  it('keyword and hybrid: metrics equal the independent computation; a keyword collection from index build --keyword gives the same numbers', async () => {
    const qrels = join(beir, 'qrels', 'test.tsv');
    const kw = await checkAgainstRunFile(['eval', '--beir', beir, '--mode', 'keyword'], join(root, 'kw.run'), qrels);
    assert.equal(kw.report.retrieval.mode, 'keyword');
    assert.equal(kw.report.retrieval.bi_encoder, null, 'keyword mode loads no model');
    assert.equal(kw.report.random_weights, false, 'no model, nothing random');
    assert.equal(kw.report.warning, null);
    // Queries are the first words of a target document: BM25 finds them.
    assert.ok(kw.ref['MRR@10'] > 0.5, `keyword MRR@10 ${kw.ref['MRR@10']}`);
    const out = join(root, 'kw-index');
    ok(crossgate(['index', 'build', '--keyword', '--out', out], await readFile(join(beir, 'corpus.jsonl'), 'utf8')));
    const saved = JSON.parse(ok(crossgate(['eval', '--beir', beir, '--mode', 'keyword', '--index', out, '--json'])).stdout);
    assert.deepEqual(saved.metrics, kw.report.metrics);
    const hy = await checkAgainstRunFile(['eval', '--beir', beir, '--mode', 'hybrid', '--bi-encoder', biDir], join(root, 'hy.run'), qrels);
    assert.equal(hy.report.retrieval.mode, 'hybrid');
    assert.equal(hy.report.random_weights, true);
    const dense = crossgate(['eval', '--beir', beir, '--mode', 'dense', '--index', out]);
    assert.equal(dense.code, 2);
    assert.match(dense.stderr, /--mode dense needs vectors, but .* is a keyword-only collection; use --mode keyword/);
  });

  it('acceptance: --mode keyword on the CACM collection reproduces the independent nDCG@10 from its run file to 4 decimals', async (t) => {
    const cacm = cacmDir();
    if (!cacm) {
      t.skip('CACM not found: set CROSSGATE_EVAL_DIR to a folder holding cacm/ (BEIR layout), or place it at ../shared/eval');
      return;
    }
    const { report, ref } = await checkAgainstRunFile(['eval', '--beir', cacm, '--mode', 'keyword'], join(root, 'cacm.run'), join(cacm, 'qrels', 'test.tsv'));
    assert.equal(report.collection.evaluated, 52);
    assert.equal(ref.queries, 52);
    assert.ok(ref['nDCG@10'] > 0.3, `BM25 on CACM: nDCG@10 ${ref['nDCG@10']} (Lucene's is 0.43)`);
  });

  it('bad input: a clear error naming the file and line, the flag, or the fix', async () => {
    const missingSplit = crossgate(['eval', '--beir', beir, '--split', 'dev', '--bi-encoder', biDir]);
    assert.equal(missingSplit.code, 1);
    assert.match(missingSplit.stderr, /qrels\/dev\.tsv does not exist; this collection has split test: pass --split test/);

    const broken = join(root, 'broken');
    await mkdir(join(broken, 'qrels'), { recursive: true });
    await writeFile(join(broken, 'corpus.jsonl'), '{"_id":"a","text":"x"}\n{"_id":"b","text":7}\n');
    await writeFile(join(broken, 'queries.jsonl'), '{"_id":"q","text":"x"}\n');
    await writeFile(join(broken, 'qrels', 'test.tsv'), 'query-id\tcorpus-id\tscore\nq\ta\t1\n');
    const badCorpus = crossgate(['eval', '--beir', broken, '--bi-encoder', biDir]);
    assert.equal(badCorpus.code, 1);
    assert.match(badCorpus.stderr, /corpus\.jsonl:2: "text" of "b" is number; expected a string/);

    await writeFile(join(broken, 'corpus.jsonl'), '{"_id":"a","text":"x"}\n');
    await writeFile(join(broken, 'qrels', 'test.tsv'), 'query-id\tcorpus-id\tscore\nq\ta\tvery\n');
    assert.match(crossgate(['eval', '--beir', broken, '--bi-encoder', biDir]).stderr, /test\.tsv:2: score "very" is not an integer/);
    await writeFile(join(broken, 'qrels', 'test.tsv'), 'query-id\tcorpus-id\tscore\nq9\ta\t1\n');
    assert.match(crossgate(['eval', '--beir', broken, '--bi-encoder', biDir]).stderr, /judges query "q9", which .*queries\.jsonl does not hold/);

    const noBi = crossgate(['eval', '--beir', beir]);
    assert.equal(noBi.code, 2);
    assert.match(noBi.stderr, /--mode dense builds a collection from the corpus and needs --bi-encoder DIR/);
    const topN = crossgate(['eval', '--beir', beir, '--bi-encoder', biDir, '--rerank-top', '5']);
    assert.equal(topN.code, 2);
    assert.match(topN.stderr, /--rerank-top needs --cross-encoder/);
    const topK = crossgate(['eval', '--beir', beir, '--bi-encoder', biDir, '--cross-encoder', crossDir, '--rerank-top', '5', '--top-k', '6']);
    assert.equal(topK.code, 2);
    assert.match(topK.stderr, /--top-k 6 is larger than --rerank-top 5/);
    const mode = crossgate(['eval', '--beir', beir, '--mode', 'fuzzy', '--bi-encoder', biDir]);
    assert.equal(mode.code, 2);
    assert.match(mode.stderr, /--mode is "fuzzy"; expected dense, keyword, hybrid/);
  });
});
