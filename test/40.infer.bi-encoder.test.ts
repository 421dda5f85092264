// BiEncoder on the generated tiny-bi model: shape, normalisation, order and batch independence,
// max_seq_length truncation, quantized variant, input errors and close().
import { cosine } from '../src/index/vector-math.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { InferenceClosedError } from '../src/infer/errors.js';
import { texts } from './40.infer.texts.js';


let dir = '';
let bi: BiEncoder;
before(async () => {
  dir = await ensureGenerated('tiny-bi');
  bi = await BiEncoder.load(dir, { workers: 2, threads: 1, maxBatchTokens: 512 });
});
after(async () => { await bi?.close(); });

test('embeds each text to a unit vector of the model dimension, in input order, independent of the batch', async () => {
  assert.equal(bi.dim, bi.spec.hiddenSize);
  const items = texts(21, 120, 1, 50);
  const res = await bi.embedDetailed(items);
  assert.equal(res.vectors.length, items.length);
  assert.equal(res.dim, bi.dim);
  assert.ok(res.stats.batches > 2, `${res.stats.batches} batches`);
  for (const v of res.vectors) {
    assert.equal(v.length, bi.dim);
    assert.ok(Math.abs(Math.hypot(...v) - 1) <= 1e-5);
  }
  for (const i of [0, 37, 119]) {
    const [alone] = await bi.embed([items[i]]);
    for (let d = 0; d < bi.dim; d++) assert.ok(Math.abs(alone[d] - res.vectors[i][d]) <= 1e-5, `text ${i} dim ${d}`);
  }
  assert.ok(cosine(res.vectors[0], res.vectors[1]) < 0.99999, 'different texts, different vectors');
  // Every vector owns its buffer.
  assert.notEqual(res.vectors[0].buffer, res.vectors[1].buffer);
});

test('texts longer than max_seq_length are truncated to it and flagged', async () => {
  const long = texts(22, 1, 200, 200)[0];
  const res = await bi.embedDetailed([long, 'short']);
  assert.deepEqual([...res.truncated], [1, 0]);
  // Whatever follows the cut does not change the vector.
  const [sameHead] = await bi.embed([`${long} ${texts(23, 1, 50, 50)[0]}`]);
  assert.ok(cosine(sameHead, res.vectors[0]) >= 0.999999);
  await assert.rejects(bi.embed(['x'], { maxLength: bi.spec.maxLength + 1 }), RangeError);
});

test('the quantized variant runs and stays close to fp32', async () => {
  const q8 = await BiEncoder.load(dir, { quantized: true, workers: 1, threads: 1 });
  try {
    const items = texts(24, 20, 3, 40);
    const [a, b] = [await bi.embed(items), await q8.embed(items)];
    const cos = a.map((v, i) => cosine(v, b[i]));
    assert.ok(Math.min(...cos) >= 0.99, `min cosine fp32 vs int8 ${Math.min(...cos)}`);
    assert.ok(Math.min(...cos) < 1, 'a different model');
  } finally {
    await q8.close();
  }
});

test('empty input, bad inputs, and use after close()', async () => {
  assert.deepEqual(await bi.embed([]), []);
  await assert.rejects(bi.embed(['ok', 3 as unknown as string]), (e: Error) => e instanceof TypeError && /texts\[1\] is number/.test(e.message));
  await assert.rejects(bi.embed('text' as unknown as string[]), /texts must be an array/);
  const b2 = await BiEncoder.load(dir, { workers: 1, threads: 1 });
  await b2.embed(['hello']);
  await b2.close();
  await assert.rejects(b2.embed(['hello']), InferenceClosedError);
});
