// A model directory whose ONNX graph was written by another tool must load and score like ours. Here the
// other tool is onnxruntime's own graph optimizer: it rewrites the exporter-style BERT graph into fused
// com.microsoft contrib ops (BiasGelu, FusedMatMul, FusedGemm), renames nodes and reorders them, as
// `optimum-cli export onnx --optimize` and ORT's transformers optimizer do to the models they ship.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';

let root: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'crossgate-foreign-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** Copies a generated dir and replaces its onnx/model.onnx by ORT's optimized rewrite of it. */
async function optimizedCopy(preset: 'tiny-cross' | 'tiny-bi'): Promise<{ original: string; foreign: string }> {
  const original = await ensureGenerated(preset, { root: join(root, 'generated') });
  const foreign = join(root, `${preset}-ort-optimized`);
  cpSync(original, foreign, { recursive: true });
  const out = join(foreign, 'onnx', 'model.onnx');
  rmSync(out);
  rmSync(join(foreign, 'onnx', 'model_quantized.onnx'));
  const session = await ort.InferenceSession.create(join(original, 'onnx', 'model.onnx'), {
    graphOptimizationLevel: 'extended', // 'all' adds hardware-specific layouts that must not be shipped
    optimizedModelFilePath: out,
  });
  await session.release();
  assert.ok(existsSync(out) && statSync(out).size > 0, 'ORT wrote the optimized model');
  // The rewrite really is a different graph: the exporter's Erf-GELU is gone, contrib ops stand in for it.
  const ops = new Set(onnxProto.onnx.ModelProto.decode(readFileSync(out)).graph!.node!.map((n) => n.opType));
  assert.ok(ops.has('BiasGelu') && !ops.has('Erf'), `optimized ops: ${[...ops].join(', ')}`);
  return { original, foreign };
}

const PASSAGES = [
  "Click on 'Forgot Password' on the login screen",
  'Use a strong password with numbers and symbols',
  'The least weasel is the smallest carnivorous mammal',
  '',
  'a '.repeat(300), // truncated at the model's max length
];

test('a cross-encoder whose graph ORT optimized loads and scores like the exporter-style original', async () => {
  const { original, foreign } = await optimizedCopy('tiny-cross');
  const a = await CrossEncoder.load(original);
  const b = await CrossEncoder.load(foreign);
  try {
    const q = 'How to reset password';
    const sa = await a.score(q, PASSAGES);
    const sb = await b.score(q, PASSAGES);
    for (let i = 0; i < PASSAGES.length; i++) {
      assert.ok(Math.abs(sa.logits[i] - sb.logits[i]) <= 1e-4, `passage ${i}: ${sa.logits[i]} vs ${sb.logits[i]}`);
    }
    assert.deepEqual(Array.from(sb.truncated), Array.from(sa.truncated));
    const rank = (l: Float32Array): number[] => Array.from(l.keys()).sort((x, y) => l[y] - l[x]);
    assert.deepEqual(rank(sb.logits), rank(sa.logits));
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('a bi-encoder whose graph ORT optimized embeds like the original (cosine >= 0.9999)', async () => {
  const { original, foreign } = await optimizedCopy('tiny-bi');
  const a = await BiEncoder.load(original);
  const b = await BiEncoder.load(foreign);
  try {
    const ea = await a.embed(PASSAGES);
    const eb = await b.embed(PASSAGES);
    for (let i = 0; i < PASSAGES.length; i++) {
      let dot = 0;
      for (let k = 0; k < ea[i].length; k++) dot += ea[i][k] * eb[i][k];
      assert.ok(dot >= 0.9999, `text ${i}: cosine ${dot}`); // both are L2-normalised
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
