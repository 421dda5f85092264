// CrossEncoder on the generated tiny models: logits/probabilities against ONNX Runtime run directly on
// reference ids (HF `tokenizers`), 2-label softmax, truncation flags, input errors, NaN weights,
// batch-composition independence, quantized ranking, event-loop liveness and clean exit after close().
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { Tokenizer as HfTokenizer } from 'tokenizers';
import { ensureGenerated } from '../models/generate.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { InferenceBackendError, InferenceClosedError } from '../src/infer/errors.js';
import { texts } from './40.infer.texts.js';


/** Raw logits rows from ONNX Runtime on this thread, one pair at a time (no padding), ids from HF tokenizers. */
async function referenceLogits(dir: string, query: string, passages: string[], maxLength: number, file = 'model.onnx'): Promise<number[][]> {
  const tok = HfTokenizer.fromFile(join(dir, 'tokenizer.json'));
  tok.setTruncation(maxLength, { strategy: 'LongestFirst' as never });
  const session = await ort.InferenceSession.create(join(dir, 'onnx', file));
  try {
    const rows: number[][] = [];
    for (const p of passages) {
      const enc = await tok.encode(query, p);
      const ids = enc.getIds();
      const t = (a: number[]) => new ort.Tensor('int64', BigInt64Array.from(a, (v) => BigInt(v)), [1, a.length]);
      const feeds: Record<string, ort.Tensor> = { input_ids: t(ids), attention_mask: t(enc.getAttentionMask()), token_type_ids: t(enc.getTypeIds()) };
      for (const k of Object.keys(feeds)) if (!session.inputNames.includes(k)) delete feeds[k];
      const out = await session.run(feeds);
      rows.push([...(out.logits.data as Float32Array)]);
    }
    return rows;
  } finally {
    await session.release();
  }
}

const expit = (x: number): number => 1 / (1 + Math.exp(-x));
const scratch = mkdtempSync(join(tmpdir(), 'crossgate-infer-cross-'));
let crossDir = '';
let twoLabelDir = '';
let ce: CrossEncoder;

before(async () => {
  crossDir = await ensureGenerated('tiny-cross');
  twoLabelDir = await ensureGenerated('tiny-cross-2label');
  ce = await CrossEncoder.load(crossDir, { workers: 2, threads: 1 });
});
after(async () => {
  await ce?.close();
  rmSync(scratch, { recursive: true, force: true });
});

test('1-logit model: logits equal ONNX Runtime on reference ids, probability = expit(logit), truncation flagged', async () => {
  const query = texts(1, 1, 4, 8)[0];
  const passages = [...texts(2, 30, 3, 60), ...texts(3, 3, 150, 200)]; // the last three exceed the max length
  const res = await ce.score(query, passages);
  const ref = await referenceLogits(crossDir, query, passages, ce.spec.maxLength);
  assert.equal(res.logits.length, passages.length);
  passages.forEach((_, i) => {
    assert.ok(Math.abs(res.logits[i] - ref[i][0]) <= 1e-4, `passage ${i}: ${res.logits[i]} vs reference ${ref[i][0]}`);
    assert.ok(Math.abs(res.probabilities[i] - expit(ref[i][0])) <= 1e-6);
  });
  assert.deepEqual([...res.truncated], passages.map((_, i) => (i >= 30 ? 1 : 0)));
  assert.ok(res.stats.batches >= 2, 'two workers get at least two batches');
  assert.ok(res.stats.paddedTokens >= res.stats.realTokens && res.stats.realTokens > 0);
});

test('2-label model: probability is softmax class 1 and logit is l1 - l0 (expit(logit) == probability)', async () => {
  const two = await CrossEncoder.load(twoLabelDir, { workers: 1, threads: 1 });
  try {
    assert.equal(two.spec.numLabels, 2);
    const query = 'how do i reset a forgotten password';
    const passages = texts(4, 12, 5, 40);
    const res = await two.score(query, passages);
    const ref = await referenceLogits(twoLabelDir, query, passages, two.spec.maxLength);
    passages.forEach((_, i) => {
      const [l0, l1] = ref[i];
      const soft = Math.exp(l1) / (Math.exp(l0) + Math.exp(l1));
      assert.ok(Math.abs(res.probabilities[i] - soft) <= 1e-6, `passage ${i}: p ${res.probabilities[i]} vs softmax ${soft}`);
      assert.ok(Math.abs(res.logits[i] - (l1 - l0)) <= 1e-4);
      assert.ok(Math.abs(expit(res.logits[i]) - res.probabilities[i]) <= 1e-6);
    });
  } finally {
    await two.close();
  }
});

test('an empty passage list returns empty arrays; bad inputs fail with errors naming the input', async () => {
  const empty = await ce.score('anything', []);
  assert.equal(empty.logits.length, 0);
  assert.equal(empty.probabilities.length, 0);
  assert.equal(empty.truncated.length, 0);
  assert.deepEqual(empty.stats, { batches: 0, realTokens: 0, paddedTokens: 0 });

  await assert.rejects(ce.score('', ['a passage']), (e: Error) => e instanceof RangeError && /query is empty/.test(e.message));
  await assert.rejects(ce.score('   ', ['a passage']), /query is empty/);
  await assert.rejects(ce.score(42 as unknown as string, ['a passage']), (e: Error) => e instanceof TypeError && /query is number/.test(e.message));
  await assert.rejects(ce.score('q', ['ok', 'fine', 7 as unknown as string]), (e: Error) => e instanceof TypeError && /passages\[2\] is number/.test(e.message));
  await assert.rejects(ce.score('q', ['ok', null as unknown as string]), /passages\[1\] is null/);
  await assert.rejects(ce.score('q', 'not an array' as unknown as string[]), /passages must be an array/);
  await assert.rejects(ce.score('q', ['ok'], { maxLength: ce.spec.maxLength + 1 }), (e: Error) => e instanceof RangeError && e.message.includes(String(ce.spec.maxLength)));
  await assert.rejects(CrossEncoder.load(crossDir, { workers: 0 }), (e: Error) => e instanceof RangeError && /'workers' is invalid: 0/.test(e.message));
  await assert.rejects(CrossEncoder.load(crossDir, { threads: 1.5 }), /'threads' is invalid/);
  await assert.rejects(CrossEncoder.load(crossDir, { executionProvider: 'tpu' as 'cpu' }), /'executionProvider' is invalid/);
});

test('a passage scores the same alone and inside a big mixed batch', async () => {
  const query = 'dog training and obedience';
  const passages = [...texts(5, 150, 1, 120), 'a loyal dog fetches the ball', ...texts(6, 50, 20, 80)];
  const probe = 150;
  const small = await CrossEncoder.load(crossDir, { workers: 2, threads: 1, maxBatchTokens: 1024, maxBatchRows: 7 });
  try {
    const big = await small.score(query, passages);
    assert.ok(big.stats.batches >= 10, `${big.stats.batches} batches`);
    const alone = await small.score(query, [passages[probe]]);
    assert.ok(Math.abs(alone.logits[0] - big.logits[probe]) <= 1e-5, `${alone.logits[0]} alone vs ${big.logits[probe]} in batch`);
    // And every passage matches its score from the default-limits engine (different batch cuts).
    const other = await ce.score(query, passages);
    for (let i = 0; i < passages.length; i++) assert.ok(Math.abs(other.logits[i] - big.logits[i]) <= 1e-5, `passage ${i}`);
  } finally {
    await small.close();
  }
});

test('the quantized variant runs and ranks close to fp32', async () => {
  const q8 = await CrossEncoder.load(crossDir, { quantized: true, workers: 1, threads: 1 });
  try {
    assert.match(q8.spec.onnxPath, /quantized/);
    const query = 'password reset email';
    const passages = texts(7, 60, 5, 50);
    const [a, b] = [await ce.score(query, passages), await q8.score(query, passages)];
    const rank = (x: Float32Array): number[] => { const r = new Array<number>(x.length); [...x.keys()].sort((i, j) => x[j] - x[i]).forEach((idx, pos) => { r[idx] = pos; }); return r; };
    const ra = rank(a.logits);
    const rb = rank(b.logits);
    const n = passages.length;
    const spearman = 1 - (6 * ra.reduce((s, r, i) => s + (r - rb[i]) ** 2, 0)) / (n * (n * n - 1));
    const maxDiff = Math.max(...a.logits.map((v, i) => Math.abs(v - b.logits[i])));
    assert.ok(spearman >= 0.95, `Spearman rank correlation fp32 vs int8 is ${spearman.toFixed(3)}`);
    assert.ok(maxDiff > 0, 'the quantized model is a different model');
    const top10 = (r: number[]) => new Set(r.map((pos, i) => [pos, i]).filter(([pos]) => pos < 10).map(([, i]) => i));
    const overlap = [...top10(ra)].filter((i) => top10(rb).has(i)).length;
    assert.ok(overlap >= 7, `top-10 overlap ${overlap}/10`);
  } finally {
    await q8.close();
  }
});

test('NaN in the model output is a clear backend error, not a crash', async () => {
  const dir = join(scratch, 'nan-cross');
  cpSync(crossDir, dir, { recursive: true });
  const onnx = onnxProto.onnx;
  const path = join(dir, 'onnx', 'model.onnx');
  const model = onnx.ModelProto.decode(readFileSync(path));
  const bias = model.graph!.initializer!.find((t) => t.name === 'classifier.bias');
  assert.ok(bias, 'the generated model has a classifier.bias initializer');
  bias.rawData = new Uint8Array(Float32Array.from([NaN]).buffer);
  bias.floatData = [];
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  const broken = await CrossEncoder.load(dir, { workers: 1, threads: 1 });
  try {
    await assert.rejects(broken.score('q', ['a passage', 'another']), (e: Error) => e instanceof InferenceBackendError && /NaN/.test(e.message));
  } finally {
    await broken.close();
  }
});

test('the event loop keeps turning while a large score() is pending', async () => {
  // One 2000-row batch: a single long run() that would freeze this thread if it ran here.
  const one = await CrossEncoder.load(crossDir, { workers: 1, threads: 1, maxBatchTokens: 1 << 22, maxBatchRows: 4096 });
  try {
    const passages = new Array<string>(2000).fill(texts(8, 1, 60, 60)[0]);
    const stamps: number[] = [];
    const timer = setInterval(() => { stamps.push(performance.now()); }, 1);
    const t0 = performance.now();
    const res = await one.score('what do cats eat', passages);
    const ms = performance.now() - t0;
    clearInterval(timer);
    assert.equal(res.logits.length, passages.length);
    assert.equal(res.stats.batches, 1);
    let maxGap = 0;
    for (let i = 1; i < stamps.length; i++) maxGap = Math.max(maxGap, stamps[i] - stamps[i - 1]);
    assert.ok(stamps.length >= 20, `${stamps.length} ticks during a ${ms.toFixed(0)} ms call`);
    assert.ok(maxGap < ms / 2, `the timer stalled for ${maxGap.toFixed(0)} ms of a ${ms.toFixed(0)} ms call`);
  } finally {
    await one.close();
  }
});

test('score() after close() rejects; the process exits by itself after close()', async () => {
  const c = await CrossEncoder.load(crossDir, { workers: 2, threads: 1 });
  await c.score('q', ['p']);
  await c.close();
  await c.close();
  await assert.rejects(c.score('q', ['p']), InferenceClosedError);

  const moduleUrl = new URL('../src/infer/cross-encoder.js', import.meta.url).href;
  const script = `
    import { CrossEncoder } from ${JSON.stringify(moduleUrl)};
    const ce = await CrossEncoder.load(${JSON.stringify(crossDir)}, { workers: 2, threads: 1 });
    const r = await ce.score('dogs', ['a dog barks', 'the cat purrs']);
    await ce.close();
    console.log('scored', r.logits.length);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.signal, null, `child was killed (hung after close?): ${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /scored 2/);
});

test('warmUp() runs full-length rows filling every worker\'s batch budget, so memory reaches its plateau before traffic', async () => {
  // 4 rows of maxLength per batch budget, 2 workers: at least 8 rows at maxLength must run, in at least two
  // full-length batches (the scheduler gives each worker its share of the pending rows).
  const c = await CrossEncoder.load(crossDir, { workers: 2, threads: 1, maxBatchTokens: 4 * ce.maxLength });
  try {
    const batches: { rows: number; padded: number }[] = [];
    c.queue.onBatch = (b) => { batches.push({ rows: b.rows, padded: b.paddedTokens }); };
    await c.warmUp();
    const fullRows = batches.filter((b) => b.padded === b.rows * c.maxLength).reduce((n, b) => n + b.rows, 0);
    assert.ok(fullRows >= 8, `rows run at maxLength ${c.maxLength}: ${fullRows} in ${JSON.stringify(batches)}`);
    assert.ok(batches.filter((b) => b.padded === b.rows * c.maxLength).length >= 2, `full-length batches: ${JSON.stringify(batches)}`);
  } finally {
    await c.close();
  }
});
