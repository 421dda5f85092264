// `crossgate calibrate` end to end with the tiny generated cross-encoder. Its random weights carry no
// relevance signal, so the labels are drawn here from a known sigmoid of the model's own logits: the
// command must recover that sigmoid, and once calibration.json is written the library, rerank, search and
// eval must use it (logit raw, probability calibrated, its threshold as the default, --threshold overriding).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { Rng } from '../models/random.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { DEFAULT_THRESHOLD, PrecisionPipeline, rerank } from '../src/pipeline/precision.js';
import type { Retriever } from '../src/pipeline/ports.js';
import { loadBeir } from '../src/eval/beir.js';
import { pairsFromBeir, readPairs } from '../src/eval/pairs.js';
import { texts } from './40.infer.texts.js';
import { crossgate, ok } from './60.cli.run.js';
import { defaultConfig } from '../src/server/limits.js';
import { startServer } from '../src/server/server.js';


const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const TRUE_A = 0.7;
const TRUE_B = -1.5;

describe('crossgate calibrate', () => {
  let root: string;
  let modelDir: string;
  let pairsPath: string;
  const query = 'how do I reset my password';
  const passages = texts(901, 6, 5, 20);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-calibrate-'));
    const generated = await ensureGenerated('tiny-cross', { root: join(root, 'models') });
    modelDir = join(root, 'model');
    await cp(generated, modelDir, { recursive: true });
    // 6,000 pairs over 30 queries, labelled from the model's raw logits through the true sigmoid.
    const ce = await CrossEncoder.load(modelDir, { calibration: false });
    const r = new Rng(5);
    const lines: string[] = [];
    try {
      for (const [qi, q] of texts(2, 30, 3, 8).entries()) {
        const ps = texts(100 + qi, 200, 5, 30);
        const s = await ce.score(q, ps);
        ps.forEach((p, i) => {
          lines.push(JSON.stringify({ query: q, passage: p, label: r.next() < sigmoid(TRUE_A * s.logits[i] + TRUE_B) ? 1 : 0 }));
        });
      }
    } finally {
      await ce.close();
    }
    pairsPath = join(root, 'pairs.jsonl');
    await writeFile(pairsPath, lines.join('\n') + '\n');
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('recovers the true a and b, writes calibration.json and the two SVG charts', async () => {
    const report = JSON.parse(ok(crossgate(['calibrate', '--cross-encoder', modelDir, '--pairs', pairsPath, '--target-precision', '0.8', '--json'])).stdout);
    assert.equal(report.method, 'platt');
    // 4,200 fitted pairs: standard errors about 0.03 (a) and 0.07 (b).
    assert.ok(Math.abs(report.a - TRUE_A) < 0.12, `a = ${report.a}`);
    assert.ok(Math.abs(report.b - TRUE_B) < 0.3, `b = ${report.b}`);
    assert.ok(report.metrics.after.ece < report.metrics.before.ece, 'ECE falls');
    assert.ok(report.metrics.after.log_loss < report.metrics.before.log_loss, 'log-loss falls');
    assert.ok(report.metrics.at_threshold.precision >= 0.8);
    assert.deepEqual(report.threshold_rule, { target_precision: 0.8 });
    assert.equal(report.data.pairs, 6000);
    assert.equal(report.data.held_out, 1800);
    assert.equal(report.random_weights, true);
    assert.equal(report.out, join(modelDir, 'calibration.json'));
    const file = JSON.parse(await readFile(report.out, 'utf8'));
    assert.equal(file.format, 'crossgate-calibration');
    assert.equal(file.a, report.a);
    assert.equal(file.threshold, report.threshold);
    assert.deepEqual(report.charts, [join(modelDir, 'calibration.reliability.svg'), join(modelDir, 'calibration.threshold.svg')]);
    for (const c of report.charts) {
      const svg = await readFile(c, 'utf8');
      assert.match(svg, /^<svg /);
    }
    assert.match(await readFile(report.charts[0], 'utf8'), /Reliability diagram/);
  });

  it('the library applies it at load: logit raw, probability = expit(a·logit + b), calibrated flagged, /info details exposed', async () => {
    const file = JSON.parse(await readFile(join(modelDir, 'calibration.json'), 'utf8'));
    const [cal, raw] = await Promise.all([CrossEncoder.load(modelDir), CrossEncoder.load(modelDir, { calibration: false })]);
    try {
      const a = await cal.score(query, passages);
      const b = await raw.score(query, passages);
      assert.deepEqual(a.logits, b.logits, 'logits stay raw');
      assert.equal(a.calibrated, true);
      assert.equal(b.calibrated, false);
      for (let i = 0; i < passages.length; i++) {
        assert.equal(a.probabilities[i], Math.fround(sigmoid(file.a * a.logits[i] + file.b)));
        assert.equal(b.probabilities[i], Math.fround(sigmoid(b.logits[i])));
      }
      const info = cal.calibration!.describe();
      assert.deepEqual({ ...info, path: undefined }, { method: 'platt', a: file.a, b: file.b, threshold: file.threshold, threshold_rule: { target_precision: 0.8 }, pairs: 6000, created_at: file.created_at, path: undefined });
      assert.equal(raw.calibration, null);
    } finally {
      await Promise.all([cal.close(), raw.close()]);
    }
  });

  it('the library gate defaults to its threshold: rerank() and PrecisionPipeline keep what passes it; a threshold passed still wins', async () => {
    const file = JSON.parse(await readFile(join(modelDir, 'calibration.json'), 'utf8'));
    assert.notEqual(file.threshold, DEFAULT_THRESHOLD, 'the fit chose a threshold of its own');
    const [cal, raw] = await Promise.all([CrossEncoder.load(modelDir), CrossEncoder.load(modelDir, { calibration: false })]);
    const fixed: Retriever = { name: 'fixed', modes: ['keyword'], retrieve: async () => passages.map((text, i) => ({ id: `p${i}`, text, score: 1 })) };
    try {
      const d = await rerank(cal, query, passages);
      assert.equal(d.threshold, file.threshold);
      assert.deepEqual(d.kept.map((k) => k.index), d.candidates.filter((c) => c.probability >= file.threshold).map((c) => c.index));
      assert.equal((await rerank(raw, query, passages)).threshold, DEFAULT_THRESHOLD, 'no calibration: the documented default');
      assert.equal((await rerank(cal, query, passages, { threshold: 0.9 })).threshold, 0.9);
      const pipeline = new PrecisionPipeline({ retriever: fixed, crossEncoder: cal, fallback: 'off' });
      assert.equal(pipeline.threshold, file.threshold);
      const s = await pipeline.search(query, { topK: passages.length });
      assert.equal(s.threshold, file.threshold);
      assert.deepEqual(s.kept.map((k) => k.id).sort(), s.candidates.filter((c) => c.probability >= file.threshold).map((c) => c.id).sort());
      assert.equal(new PrecisionPipeline({ retriever: fixed, crossEncoder: cal, threshold: 0.05 }).threshold, 0.05);
    } finally {
      await Promise.all([cal.close(), raw.close()]);
    }
  });

  it('serve uses it: /info reports method, a, b, threshold, data size and date; /rerank scores are calibrated', async () => {
    const file = JSON.parse(await readFile(join(modelDir, 'calibration.json'), 'utf8'));
    const server = await startServer({ ...defaultConfig(), port: 0, threads: 1, workers: 1 }, { rerankers: [{ name: 'cal', dir: modelDir }], embedders: [] }, { log: () => undefined });
    try {
      const info = await (await fetch(`${server.url}/info`)).json() as { models: { name: string; calibration: Record<string, unknown> | null }[] };
      const m = info.models.find((x) => x.name === 'cal')!;
      assert.deepEqual({ ...m.calibration, path: undefined }, {
        method: 'platt', a: file.a, b: file.b, threshold: file.threshold, threshold_rule: { target_precision: 0.8 }, pairs: 6000, created_at: file.created_at, path: undefined,
      });
      const body = (raw: boolean): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, texts: passages.slice(0, 8), raw_scores: raw }) });
      const byIndex = (r: { index: number; score: number }[]): number[] => [...r].sort((x, y) => x.index - y.index).map((x) => x.score);
      const logits = byIndex(await (await fetch(`${server.url}/rerank`, body(true))).json() as { index: number; score: number }[]);
      const probs = byIndex(await (await fetch(`${server.url}/rerank`, body(false))).json() as { index: number; score: number }[]);
      probs.forEach((p, i) => assert.ok(Math.abs(p - sigmoid(file.a * logits[i] + file.b)) < 1e-5, `text ${i}: ${p} vs expit(a·${logits[i]} + b)`));
    } finally {
      await server.shutdown('test done');
    }
  });

  it('rerank and search use it: calibrated: true, its threshold by default, --threshold overrides', async () => {
    const file = JSON.parse(await readFile(join(modelDir, 'calibration.json'), 'utf8'));
    const body = JSON.parse(ok(crossgate(['rerank', '--model', modelDir, '--query', query, '--json'], passages.join('\n'))).stdout);
    assert.equal(body.calibrated, true);
    assert.equal(body.threshold, file.threshold);
    for (const r of body.results) assert.equal(r.probability, Math.fround(sigmoid(file.a * r.logit + file.b)));
    assert.deepEqual(body.kept, body.results.filter((r: { probability: number }) => r.probability >= file.threshold).map((r: { index: number }) => r.index));
    const overridden = JSON.parse(ok(crossgate(['rerank', '--model', modelDir, '--query', query, '--threshold', '0', '--json'], passages.join('\n'))).stdout);
    assert.equal(overridden.threshold, 0);
    assert.equal(overridden.kept.length, passages.length);

    const biDir = await ensureGenerated('tiny-bi', { root: join(root, 'models') });
    const index = join(root, 'index');
    ok(crossgate(['index', 'build', '--bi-encoder', biDir, '--out', index], passages.map((t, i) => JSON.stringify({ id: `p${i}`, text: t })).join('\n')));
    const d = JSON.parse(ok(crossgate(['search', '--index', index, '--query', query, '--cross-encoder', modelDir, '--json'])).stdout);
    assert.equal(d.calibrated, true);
    assert.equal(d.threshold, file.threshold);
    for (const c of d.candidates) assert.equal(c.probability, Math.fround(sigmoid(file.a * c.logit + file.b)));
    const d2 = JSON.parse(ok(crossgate(['search', '--index', index, '--query', query, '--cross-encoder', modelDir, '--threshold', '0.5', '--json'])).stdout);
    assert.equal(d2.threshold, 0.5);
    // An ambiguous band replaces the threshold: with a calibrated model it is taken as given (it used to fail
    // as "threshold and ambiguous were both given", the calibrated threshold having been passed as a flag).
    const d3 = JSON.parse(ok(crossgate(['search', '--index', index, '--query', query, '--cross-encoder', modelDir, '--ambiguous', '0.1,0.5', '--json'])).stdout);
    assert.equal(d3.threshold, 0.1);

    // eval: the gate sweep's default is the calibrated threshold, and the report says the rerank is calibrated.
    const beir = join(root, 'beir-small');
    await mkdir(join(beir, 'qrels'), { recursive: true });
    await writeFile(join(beir, 'corpus.jsonl'), passages.map((t, i) => JSON.stringify({ _id: `p${i}`, text: t })).join('\n'));
    await writeFile(join(beir, 'queries.jsonl'), JSON.stringify({ _id: 'q', text: query }) + '\n');
    await writeFile(join(beir, 'qrels', 'test.tsv'), 'query-id\tcorpus-id\tscore\nq\tp0\t1\n');
    const e = JSON.parse(ok(crossgate(['eval', '--beir', beir, '--bi-encoder', biDir, '--cross-encoder', modelDir, '--rerank-top', '6', '--json'])).stdout);
    assert.equal(e.rerank.calibrated, true);
    assert.equal(e.gate.default_threshold, file.threshold);
    assert.ok(e.gate.thresholds.some((r: { threshold: number }) => r.threshold === file.threshold), 'the calibrated threshold is one of the rows');
    const table = ok(crossgate(['eval', '--beir', beir, '--bi-encoder', biDir, '--cross-encoder', modelDir, '--rerank-top', '6'])).stdout;
    assert.match(table, new RegExp(`\\n\\s+${Number(file.threshold.toFixed(4))}\\s.*<- calibrated default\\n`));
  });

  it('temperature and isotonic; --out writes elsewhere and leaves the model dir alone', async () => {
    const out = join(root, 'elsewhere', 'cal.json');
    await mkdir(join(root, 'elsewhere'));
    const t = JSON.parse(ok(crossgate(['calibrate', '--cross-encoder', modelDir, '--pairs', pairsPath, '--method', 'temperature', '--out', out, '--no-charts', '--json'])).stdout);
    assert.equal(t.method, 'temperature');
    assert.equal(t.b, 0);
    assert.ok(t.a > 0);
    assert.deepEqual(t.charts, []);
    assert.deepEqual(t.threshold_rule, { best_f1: true });
    assert.equal(JSON.parse(await readFile(out, 'utf8')).method, 'temperature');
    assert.equal(JSON.parse(await readFile(join(modelDir, 'calibration.json'), 'utf8')).method, 'platt', 'model dir untouched');
    const iso = JSON.parse(ok(crossgate(['calibrate', '--cross-encoder', modelDir, '--pairs', pairsPath, '--method', 'isotonic', '--out', join(root, 'iso.json'), '--json'])).stdout);
    assert.equal(iso.method, 'isotonic');
    assert.equal(iso.a, null);
    assert.ok(iso.isotonic_points > 2);
    assert.ok(existsSync(join(root, 'iso.reliability.svg')));
    const ce = await CrossEncoder.load(modelDir, { calibration: join(root, 'iso.json') });
    try {
      assert.equal(ce.calibration!.method, 'isotonic');
      const s = await ce.score(query, passages);
      for (const p of s.probabilities) assert.ok(p >= 0 && p <= 1);
    } finally {
      await ce.close();
    }
  });

  it('bad input: pairs file lines, flags, too few pairs for isotonic, a damaged calibration.json', async () => {
    const bad = join(root, 'bad.jsonl');
    await writeFile(bad, '{"query":"q","passage":"p","label":1}\n{"query":"q","passage":"p","label":"yes"}\n');
    const r = crossgate(['calibrate', '--cross-encoder', modelDir, '--pairs', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.jsonl:2: "label" is "yes"; expected 1 \(relevant\) or 0 \(not relevant\)/);
    await assert.rejects(readPairs(join(root, 'none.jsonl')), /--pairs .*none\.jsonl does not exist/);
    const both = crossgate(['calibrate', '--cross-encoder', modelDir]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /pass exactly one of --pairs FILE and --beir DIR/);
    const method = crossgate(['calibrate', '--cross-encoder', modelDir, '--pairs', pairsPath, '--method', 'beta']);
    assert.equal(method.code, 2);
    assert.match(method.stderr, /--method is "beta"; expected temperature, platt, isotonic/);
    const small = join(root, 'small.jsonl');
    await writeFile(small, (await readFile(pairsPath, 'utf8')).split('\n').slice(0, 900).join('\n') + '\n');
    const iso = crossgate(['calibrate', '--cross-encoder', modelDir, '--pairs', small, '--method', 'isotonic', '--out', join(root, 'x.json')]);
    assert.equal(iso.code, 1);
    assert.match(iso.stderr, /isotonic calibration needs at least 1,000 labelled pairs in its fit split; got 630 of 900/);

    const damaged = join(root, 'damaged');
    await cp(modelDir, damaged, { recursive: true });
    const file = JSON.parse(await readFile(join(damaged, 'calibration.json'), 'utf8'));
    await writeFile(join(damaged, 'calibration.json'), JSON.stringify({ ...file, a: -2 }));
    await assert.rejects(CrossEncoder.load(damaged), /calibration\.json: "a" is -2; expected a positive number .*re-run `crossgate calibrate`/);
    const cli = crossgate(['rerank', '--model', damaged, '--query', 'q'], 'a passage\n');
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /"a" is -2/);
  });

  it('pairs from a BEIR collection: judged documents labelled by grade, plus seeded unjudged negatives', async () => {
    const dir = join(root, 'beir');
    await mkdir(join(dir, 'qrels'), { recursive: true });
    await writeFile(join(dir, 'corpus.jsonl'), Array.from({ length: 40 }, (_, i) => JSON.stringify({ _id: `d${i}`, title: i === 0 ? 'Title' : '', text: `text ${i}` })).join('\n'));
    await writeFile(join(dir, 'queries.jsonl'), '{"_id":"q1","text":"first"}\n{"_id":"q2","text":"second"}\n');
    await writeFile(join(dir, 'qrels', 'test.tsv'), 'query-id\tcorpus-id\tscore\nq1\td0\t2\nq1\td1\t0\nq1\td2\t1\nq2\td3\t1\nq2\tgone\t1\n');
    const beir = await loadBeir(dir);
    const pairs = pairsFromBeir(beir, { negativesPerQuery: 5, seed: 3 });
    assert.deepEqual(pairs.slice(0, 3), [
      { query: 'first', passage: 'Title text 0', label: 1 },
      { query: 'first', passage: 'text 1', label: 0 },
      { query: 'first', passage: 'text 2', label: 1 },
    ]);
    assert.equal(pairs.filter((p) => p.query === 'first').length, 3 + 5);
    assert.equal(pairs.filter((p) => p.query === 'second').length, 1 + 5, 'a judged document missing from the corpus is skipped');
    const negatives = pairs.slice(3, 8).map((p) => p.passage);
    assert.ok(negatives.every((p) => !['Title text 0', 'text 1', 'text 2'].includes(p)), 'negatives are unjudged for their query');
    assert.equal(new Set(negatives).size, 5);
    assert.deepEqual(pairsFromBeir(beir, { negativesPerQuery: 5, seed: 3 }), pairs, 'seeded');
    assert.equal(pairsFromBeir(beir, { relevantGrade: 2, negativesPerQuery: 0 }).filter((p) => p.label === 1).length, 1, '--relevant-grade 2 keeps only the grade-2 document');
  });
});
