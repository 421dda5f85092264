// Non-finite model outputs: +Inf, -Inf and NaN logits (and hidden states) are a backend error raised in the
// worker, so the library, the CLI and the server all see the same InferenceBackendError instead of
// `logit: Infinity, probability: 1`.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { ensureGenerated } from '../models/generate.js';
import { WorkerPool, type RunInput } from '../src/infer/pool.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { InferenceBackendError } from '../src/infer/errors.js';
import type { WorkerInit } from '../src/infer/protocol.js';

const onnx = onnxProto.onnx;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const dir = mkdtempSync(join(tmpdir(), 'crossgate-non-finite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * logits[b] = op(sum_t ids[b, t] * 0): Reciprocal(0) = +Inf, Log(0) = -Inf, and for the hidden-state
 * model every position is ids * (1/0), so pooling would average infinities.
 */
function writeModel(name: string, op: 'Reciprocal' | 'Log', output: 'logits' | 'last_hidden_state'): string {
  const vi = (n: string, elem: number, dims: (number | string)[]) => ({
    name: n,
    type: { tensorType: { elemType: elem, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });
  const nodes = output === 'logits'
    ? [
      { opType: 'Cast', input: ['input_ids'], output: ['f'], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }] },
      { opType: 'Mul', input: ['f', 'zero'], output: ['z'] },
      { opType: 'ReduceSum', input: ['z', 'axis1'], output: ['s'], attribute: [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
      { opType: op, input: ['s'], output: ['logits'] },
    ]
    : [
      { opType: 'Cast', input: ['input_ids'], output: ['f'], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }] },
      { opType: 'Mul', input: ['f', 'zero'], output: ['z'] },
      { opType: op, input: ['z'], output: ['inf'] },
      { opType: 'Unsqueeze', input: ['inf', 'axis2'], output: ['col'] },
      { opType: 'MatMul', input: ['col', 'w'], output: ['last_hidden_state'] },
    ];
  const graph = {
    name,
    input: ['input_ids', 'attention_mask'].map((n) => vi(n, INT64, ['batch', 'seq'])),
    output: [vi(output, FLOAT, output === 'logits' ? ['batch', 1] : ['batch', 'seq', 2])],
    initializer: [
      { name: 'zero', dims: [], dataType: FLOAT, rawData: new Uint8Array(Float32Array.from([0]).buffer) },
      { name: 'axis1', dims: [1], dataType: INT64, rawData: new Uint8Array(BigInt64Array.from([1n]).buffer) },
      { name: 'axis2', dims: [1], dataType: INT64, rawData: new Uint8Array(BigInt64Array.from([2n]).buffer) },
      { name: 'w', dims: [1, 2], dataType: FLOAT, rawData: new Uint8Array(Float32Array.from([1, 2]).buffer) },
    ],
    node: nodes,
  };
  const model = { irVersion: 8, opsetImport: [{ domain: '', version: 13 }], producerName: 'crossgate-test', graph };
  const path = join(dir, `${name}.onnx`);
  writeFileSync(path, onnx.ModelProto.encode(onnx.ModelProto.fromObject(model)).finish());
  return path;
}

function init(modelPath: string, task: WorkerInit['task'] = { kind: 'logits', numLabels: 1 }): WorkerInit {
  return { modelPath, intraOpNumThreads: 1, interOpNumThreads: 1, executionProvider: 'cpu', cudaFallbackToCpu: false, task };
}

function batch(rows: number[][]): RunInput {
  const seqLen = Math.max(...rows.map((r) => r.length));
  const n = rows.length * seqLen;
  const inputIds = new BigInt64Array(n);
  const attentionMask = new BigInt64Array(n);
  rows.forEach((r, b) => r.forEach((id, t) => { inputIds[b * seqLen + t] = BigInt(id); attentionMask[b * seqLen + t] = 1n; }));
  return { batchSize: rows.length, seqLen, inputIds, attentionMask, tokenTypeIds: new BigInt64Array(n) };
}

for (const [label, op, pattern] of [['+Inf', 'Reciprocal', /\+Infinity/], ['-Inf', 'Log', /-Infinity/]] as const) {
  test(`${label} logits from the worker are a backend error naming the value, the row and the model`, async () => {
    const path = writeModel(`logits-${op}`, op, 'logits');
    const pool = await WorkerPool.create(init(path), 1);
    try {
      await assert.rejects(pool.run(batch([[3, 4], [5]])), (e: Error) =>
        e instanceof InferenceBackendError && pattern.test(e.message) && /batch row 0/.test(e.message) && e.message.includes(`logits-${op}.onnx`));
      // The worker survives and answers the next call the same way.
      await assert.rejects(pool.run(batch([[1]])), InferenceBackendError);
    } finally {
      await pool.close();
    }
  });
}

test('an infinite hidden state is a backend error before pooling turns it into NaN or a fake unit vector', async () => {
  const path = writeModel('hidden-inf', 'Reciprocal', 'last_hidden_state');
  const pool = await WorkerPool.create(init(path, { kind: 'embed', pooling: 'mean', normalize: true }), 1);
  try {
    await assert.rejects(pool.run(batch([[3, 4]])), (e: Error) => e instanceof InferenceBackendError && /Infinity/.test(e.message) && /last_hidden_state/.test(e.message));
  } finally {
    await pool.close();
  }
});

let crossDir = '';
before(async () => {
  crossDir = await ensureGenerated('tiny-cross');
});

test('CrossEncoder.score() rejects a model whose classifier bias is +Infinity instead of answering probability 1', async () => {
  const broken = join(dir, 'inf-cross');
  cpSync(crossDir, broken, { recursive: true });
  const path = join(broken, 'onnx', 'model.onnx');
  const model = onnx.ModelProto.decode(readFileSync(path));
  const bias = model.graph!.initializer!.find((t) => t.name === 'classifier.bias');
  assert.ok(bias, 'the generated model has a classifier.bias initializer');
  bias.rawData = new Uint8Array(Float32Array.from([Infinity]).buffer);
  bias.floatData = [];
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  const enc = await CrossEncoder.load(broken, { workers: 1, threads: 1 });
  try {
    await assert.rejects(enc.score('q', ['a passage', 'another']), (e: Error) => e instanceof InferenceBackendError && /Infinity/.test(e.message));
  } finally {
    await enc.close();
  }
});
