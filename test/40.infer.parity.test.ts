// Parity of CrossEncoder / BiEncoder with @huggingface/transformers 4.3.1 on the generated tiny models,
// and, for inputs longer than the max length, with HF `tokenizers` (Rust) ids run through ONNX Runtime
// directly: sentence-transformers semantics. (transformers.js 4.3.1 drops the final [SEP] when it
// truncates a pair, so it is not the reference for truncated inputs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { basename, dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Tokenizer as HfTokenizer } from 'tokenizers';
import { env, AutoTokenizer, AutoModelForSequenceClassification, AutoModel } from '@huggingface/transformers';
import { ensureGenerated } from '../models/generate.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { texts } from './40.infer.texts.js';


let crossDir = '';
let twoDir = '';
let biDir = '';
const engines: { close(): Promise<void> }[] = [];

before(async () => {
  crossDir = await ensureGenerated('tiny-cross');
  twoDir = await ensureGenerated('tiny-cross-2label');
  biDir = await ensureGenerated('tiny-bi');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = dirname(crossDir) + '/';
});
after(async () => {
  await Promise.all(engines.map((e) => e.close()));
});

async function loadCross(dir: string): Promise<CrossEncoder> {
  const c = await CrossEncoder.load(dir, { workers: 2, threads: 1 });
  engines.push(c);
  return c;
}

/** transformers.js logits rows for (query, passage) pairs, one padded batch. */
async function tjsLogits(dir: string, query: string, passages: string[]): Promise<number[][]> {
  const tok = await AutoTokenizer.from_pretrained(basename(dir));
  const model = await AutoModelForSequenceClassification.from_pretrained(basename(dir), { dtype: 'fp32' });
  try {
    const inputs = tok(new Array(passages.length).fill(query), { text_pair: passages, padding: true, truncation: true });
    const out = await model(inputs);
    return out.logits.tolist() as number[][];
  } finally {
    await model.dispose();
  }
}

function order(x: ArrayLike<number>): number[] {
  return Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[b] - x[a]);
}

test('tiny-cross (1 logit): logits match transformers.js within 1e-4 with an identical ranking', async () => {
  const ce = await loadCross(crossDir);
  const query = 'how do i reset my password';
  const passages = texts(11, 40, 2, 50);
  const ours = await ce.score(query, passages);
  assert.ok(ours.truncated.every((t) => t === 0), 'parity cases stay under the max length');
  const ref = (await tjsLogits(crossDir, query, passages)).map((r) => r[0]);
  const worst = Math.max(...ref.map((r, i) => Math.abs(r - ours.logits[i])));
  assert.ok(worst <= 1e-4, `max |Δlogit| ${worst}`);
  assert.deepEqual(order(ours.logits), order(ref));
});

test('tiny-cross-2label: probability = transformers.js softmax class 1, logit = l1 - l0', async () => {
  const ce = await loadCross(twoDir);
  const query = 'feeding a young kitten';
  const passages = texts(12, 25, 3, 45);
  const ours = await ce.score(query, passages);
  const ref = await tjsLogits(twoDir, query, passages);
  ref.forEach(([l0, l1], i) => {
    assert.ok(Math.abs(ours.logits[i] - (l1 - l0)) <= 1e-4, `passage ${i}: ${ours.logits[i]} vs ${l1 - l0}`);
    const p = Math.exp(l1) / (Math.exp(l0) + Math.exp(l1));
    assert.ok(Math.abs(ours.probabilities[i] - p) <= 1e-5, `passage ${i}: p ${ours.probabilities[i]} vs ${p}`);
  });
  assert.deepEqual(order(ours.logits), order(ref.map(([l0, l1]) => l1 - l0)));
});

/** Mean pooling over the attention mask + L2 normalisation of transformers.js last_hidden_state. */
async function tjsEmbeddings(dir: string, items: string[]): Promise<Float32Array[]> {
  const tok = await AutoTokenizer.from_pretrained(basename(dir));
  const model = await AutoModel.from_pretrained(basename(dir), { dtype: 'fp32' });
  try {
    const inputs = tok(items, { padding: true, truncation: true });
    const out = await model(inputs);
    const h = out.last_hidden_state;
    const [B, S, H] = h.dims as number[];
    const data = h.data as Float32Array;
    const mask = inputs.attention_mask.data as BigInt64Array;
    return Array.from({ length: B }, (_, b) => {
      const v = new Float64Array(H);
      let n = 0;
      for (let t = 0; t < S; t++) {
        if (mask[b * S + t] === 0n) continue;
        n++;
        for (let d = 0; d < H; d++) v[d] += data[(b * S + t) * H + d];
      }
      const norm = Math.hypot(...v.map((x) => x / n));
      return Float32Array.from(v, (x) => x / n / norm);
    });
  } finally {
    await model.dispose();
  }
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb);
}

test('tiny-bi: mean-pooled, normalized embeddings match transformers.js (cosine >= 0.9999)', async () => {
  const bi = await BiEncoder.load(biDir, { workers: 2, threads: 1 });
  engines.push(bi);
  assert.equal(bi.spec.pooling, 'mean');
  assert.equal(bi.spec.normalize, true);
  const items = texts(13, 30, 1, 40);
  const ours = await bi.embedDetailed(items);
  assert.ok(ours.truncated.every((t) => t === 0));
  const ref = await tjsEmbeddings(biDir, items);
  ours.vectors.forEach((v, i) => {
    assert.equal(v.length, bi.dim);
    const c = cosine(v, ref[i]);
    assert.ok(c >= 0.9999, `text ${i}: cosine ${c}`);
    assert.ok(Math.abs(Math.hypot(...v) - 1) <= 1e-5, 'unit length');
  });
});

/** Reference run: HF tokenizers (Rust) with longest-first truncation, ONNX Runtime on this thread. */
async function rustReference(dir: string, maxLength: number, a: string, b?: string): Promise<{ ids: number[]; out: Float32Array; dims: readonly number[] }> {
  const tok = HfTokenizer.fromFile(join(dir, 'tokenizer.json'));
  tok.setTruncation(maxLength, { strategy: 'LongestFirst' as never });
  const enc = b === undefined ? await tok.encode(a) : await tok.encode(a, b);
  const session = await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx'));
  try {
    const t = (x: number[]) => new ort.Tensor('int64', BigInt64Array.from(x, (v) => BigInt(v)), [1, x.length]);
    const feeds: Record<string, ort.Tensor> = { input_ids: t(enc.getIds()), attention_mask: t(enc.getAttentionMask()), token_type_ids: t(enc.getTypeIds()) };
    const out = await session.run(feeds);
    const first = out[session.outputNames[0]];
    return { ids: enc.getIds(), out: first.data as Float32Array, dims: first.dims };
  } finally {
    await session.release();
  }
}

test('truncated pairs and texts match HF tokenizers + ONNX Runtime (sentence-transformers semantics)', async () => {
  const ce = await loadCross(crossDir);
  const sep = 102;
  const long = texts(14, 4, 150, 220);
  const query = texts(15, 1, 70, 90)[0]; // long enough that longest-first cuts the query too
  const res = await ce.score(query, [...long, 'short passage']);
  assert.deepEqual([...res.truncated], [1, 1, 1, 1, 0]);
  for (let i = 0; i < long.length; i++) {
    const ref = await rustReference(crossDir, ce.spec.maxLength, query, long[i]);
    assert.equal(ref.ids.length, ce.spec.maxLength);
    assert.equal(ref.ids[ref.ids.length - 1], sep, 'the reference keeps the final [SEP]');
    assert.ok(Math.abs(res.logits[i] - ref.out[0]) <= 1e-4, `pair ${i}: ${res.logits[i]} vs ${ref.out[0]}`);
  }

  const bi = await BiEncoder.load(biDir, { workers: 1, threads: 1 });
  engines.push(bi);
  const longTexts = texts(16, 3, 90, 140);
  const emb = await bi.embedDetailed(longTexts);
  assert.deepEqual([...emb.truncated], [1, 1, 1]);
  for (let i = 0; i < longTexts.length; i++) {
    const ref = await rustReference(biDir, bi.spec.maxLength, longTexts[i]);
    const [, S, H] = ref.dims as number[];
    assert.equal(S, bi.spec.maxLength);
    const v = new Float32Array(H);
    for (let t = 0; t < S; t++) for (let d = 0; d < H; d++) v[d] += ref.out[t * H + d] / S;
    const c = cosine(emb.vectors[i], v);
    assert.ok(c >= 0.9999, `text ${i}: cosine ${c}`);
  }
});
