// WorkerPool + worker.ts on small hand-built ONNX graphs whose outputs are known in closed form:
// feeding only declared inputs, pooling in the worker, NaN handling, event-loop liveness, clean exit.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import onnxProto from 'onnx-proto';
import { WorkerPool, type RunInput } from '../src/infer/pool.js';
import { InferenceBackendError, InferenceClosedError } from '../src/infer/errors.js';
import type { WorkerInit } from '../src/infer/protocol.js';

const onnx = onnxProto.onnx;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const dir = mkdtempSync(join(tmpdir(), 'crossgate-infer-pool-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Node = { op: string; in: string[]; out: string; attrs?: Record<string, number | number[]> };

function writeModel(name: string, inputs: string[], output: { name: string; dims: (number | string)[] }, nodes: Node[], inits: { name: string; dims: number[]; data: Float32Array | BigInt64Array }[]): string {
  const vi = (n: string, elem: number, dims: (number | string)[]) => ({
    name: n,
    type: { tensorType: { elemType: elem, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });
  const graph = {
    name,
    input: inputs.map((n) => vi(n, INT64, ['batch', 'seq'])),
    output: [vi(output.name, FLOAT, output.dims)],
    initializer: inits.map((t) => ({ name: t.name, dims: t.dims, dataType: t.data instanceof Float32Array ? FLOAT : INT64, rawData: new Uint8Array(t.data.buffer) })),
    node: nodes.map((n) => ({
      opType: n.op, input: n.in, output: [n.out],
      attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => (Array.isArray(v)
        ? { name: k, type: onnx.AttributeProto.AttributeType.INTS, ints: v }
        : { name: k, type: onnx.AttributeProto.AttributeType.INT, i: v })),
    })),
  };
  const model = { irVersion: 8, opsetImport: [{ domain: '', version: 13 }], producerName: 'crossgate-test', graph };
  const path = join(dir, `${name}.onnx`);
  writeFileSync(path, onnx.ModelProto.encode(onnx.ModelProto.fromObject(model)).finish());
  return path;
}

const axis1 = { name: 'axis1', dims: [1], data: BigInt64Array.from([1n]) };
/** logits[b] = sum_t ids*mask + 1000 * sum_t types*mask; declares all three BERT inputs. */
const sumModel3 = writeModel('sum3', ['input_ids', 'attention_mask', 'token_type_ids'], { name: 'logits', dims: ['batch', 1] }, [
  { op: 'Cast', in: ['input_ids'], out: 'idsf', attrs: { to: FLOAT } },
  { op: 'Cast', in: ['attention_mask'], out: 'maskf', attrs: { to: FLOAT } },
  { op: 'Cast', in: ['token_type_ids'], out: 'typef', attrs: { to: FLOAT } },
  { op: 'Mul', in: ['typef', 'k1000'], out: 'type1000' },
  { op: 'Add', in: ['idsf', 'type1000'], out: 'tok' },
  { op: 'Mul', in: ['tok', 'maskf'], out: 'masked' },
  { op: 'ReduceSum', in: ['masked', 'axis1'], out: 'logits', attrs: { keepdims: 1 } },
], [axis1, { name: 'k1000', dims: [], data: Float32Array.from([1000]) }]);
/** The same sum without token_type_ids: an export that lacks it must still run. */
const sumModel2 = writeModel('sum2', ['input_ids', 'attention_mask'], { name: 'logits', dims: ['batch', 1] }, [
  { op: 'Cast', in: ['input_ids'], out: 'idsf', attrs: { to: FLOAT } },
  { op: 'Cast', in: ['attention_mask'], out: 'maskf', attrs: { to: FLOAT } },
  { op: 'Mul', in: ['idsf', 'maskf'], out: 'masked' },
  { op: 'ReduceSum', in: ['masked', 'axis1'], out: 'logits', attrs: { keepdims: 1 } },
], [axis1]);
/** sqrt(-(sum ids) - 1): NaN for every row. */
const nanModel = writeModel('nan', ['input_ids', 'attention_mask'], { name: 'logits', dims: ['batch', 1] }, [
  { op: 'Cast', in: ['input_ids'], out: 'idsf', attrs: { to: FLOAT } },
  { op: 'ReduceSum', in: ['idsf', 'axis1'], out: 's', attrs: { keepdims: 1 } },
  { op: 'Add', in: ['s', 'one'], out: 's1' },
  { op: 'Neg', in: ['s1'], out: 'n' },
  { op: 'Sqrt', in: ['n'], out: 'logits' },
], [axis1, { name: 'one', dims: [], data: Float32Array.from([1]) }]);
/** last_hidden_state[b, t, :] = id * w with w = [1, -2, 3, 0.5]: pooled results are easy to predict. */
const W = Float32Array.from([1, -2, 3, 0.5]);
const hiddenModel = writeModel('hidden', ['input_ids', 'attention_mask', 'token_type_ids'], { name: 'last_hidden_state', dims: ['batch', 'seq', 4] }, [
  { op: 'Cast', in: ['input_ids'], out: 'idsf', attrs: { to: FLOAT } },
  { op: 'Unsqueeze', in: ['idsf', 'axis2'], out: 'col' },
  { op: 'MatMul', in: ['col', 'w'], out: 'last_hidden_state' },
], [{ name: 'axis2', dims: [1], data: BigInt64Array.from([2n]) }, { name: 'w', dims: [1, 4], data: W }]);
/** A chain of 256x256 MatMuls: slow enough per token to make a long run. */
function heavyModel(): string {
  const H = 256;
  const layers = 12;
  const nodes: Node[] = [
    { op: 'Cast', in: ['input_ids'], out: 'f', attrs: { to: FLOAT } },
    { op: 'Unsqueeze', in: ['f', 'axis2'], out: 'u' },
    { op: 'MatMul', in: ['u', 'w0'], out: 'h0' },
  ];
  const inits: { name: string; dims: number[]; data: Float32Array | BigInt64Array }[] = [
    { name: 'axis2', dims: [1], data: BigInt64Array.from([2n]) },
    { name: 'w0', dims: [1, H], data: Float32Array.from({ length: H }, (_, i) => Math.sin(i) * 0.01) },
  ];
  for (let l = 1; l <= layers; l++) {
    inits.push({ name: `w${l}`, dims: [H, H], data: Float32Array.from({ length: H * H }, (_, i) => Math.cos(i * l) / H) });
    nodes.push({ op: 'MatMul', in: [`h${l - 1}`, `w${l}`], out: `h${l}` });
  }
  // logits [batch, 1]: mean over hidden, then over positions.
  nodes.push({ op: 'ReduceMean', in: [`h${layers}`], out: 'pooled', attrs: { axes: [2], keepdims: 0 } });
  nodes.push({ op: 'ReduceMean', in: ['pooled'], out: 'logits', attrs: { axes: [1], keepdims: 1 } });
  return writeModel('heavy', ['input_ids', 'attention_mask'], { name: 'logits', dims: ['batch', 1] }, nodes, inits);
}

function init(modelPath: string, task: WorkerInit['task'] = { kind: 'logits', numLabels: 1 }): WorkerInit {
  return { modelPath, intraOpNumThreads: 1, interOpNumThreads: 1, executionProvider: 'cpu', cudaFallbackToCpu: false, task };
}

/** A right-padded batch from rows of ids (types: 1 on the second half of each row). */
function batch(rows: number[][], seqLen = Math.max(...rows.map((r) => r.length))): RunInput {
  const B = rows.length;
  const inputIds = new BigInt64Array(B * seqLen);
  const attentionMask = new BigInt64Array(B * seqLen);
  const tokenTypeIds = new BigInt64Array(B * seqLen);
  rows.forEach((r, b) => r.forEach((id, t) => {
    inputIds[b * seqLen + t] = BigInt(id);
    attentionMask[b * seqLen + t] = 1n;
    tokenTypeIds[b * seqLen + t] = t >= r.length / 2 ? 1n : 0n;
  }));
  // Padding ids are non-zero on purpose: they must not leak into masked sums.
  for (let i = 0; i < inputIds.length; i++) if (attentionMask[i] === 0n) inputIds[i] = 77n;
  return { batchSize: B, seqLen, inputIds, attentionMask, tokenTypeIds };
}

function expectedSum(r: number[], withTypes: boolean): number {
  return r.reduce((a, id, t) => a + id + (withTypes && t >= r.length / 2 ? 1000 : 0), 0);
}

test('runs batches on several workers and returns each batch its own rows; input buffers are transferred', async () => {
  const pool = await WorkerPool.create(init(sumModel3), 2);
  try {
    assert.equal(pool.size, 2);
    assert.deepEqual(pool.info.inputNames, ['input_ids', 'attention_mask', 'token_type_ids']);
    const rowsets = Array.from({ length: 12 }, (_, k) => Array.from({ length: 1 + (k % 4) }, (_, r) => Array.from({ length: 2 + ((r * 7 + k) % 9) }, (_, t) => 3 + t + r + k)));
    const inputs = rowsets.map((rows) => batch(rows));
    const outs = await Promise.all(inputs.map((b) => pool.run(b)));
    for (const inp of inputs) assert.equal(inp.inputIds.byteLength, 0, 'the ids buffer moved to the worker (no copy)');
    outs.forEach((o, k) => {
      assert.equal(o.cols, 1);
      assert.deepEqual([...o.data], rowsets[k].map((r) => expectedSum(r, true)));
    });
  } finally {
    await pool.close();
  }
});

test('feeds only the inputs the model declares (export without token_type_ids)', async () => {
  const pool = await WorkerPool.create(init(sumModel2), 1);
  try {
    assert.deepEqual(pool.info.inputNames, ['input_ids', 'attention_mask']);
    const rows = [[5, 6, 7], [9]];
    const out = await pool.run(batch(rows));
    assert.deepEqual([...out.data], rows.map((r) => expectedSum(r, false)));
  } finally {
    await pool.close();
  }
});

test('pools last_hidden_state in the worker: mean over the mask, cls, max, with and without L2 normalisation', async () => {
  const rows = [[2, 4, 9], [5], [1, 1, 1, 1, 30]];
  for (const pooling of ['mean', 'cls', 'max'] as const) {
    for (const normalize of [false, true]) {
      const pool = await WorkerPool.create(init(hiddenModel, { kind: 'embed', pooling, normalize }), 1);
      try {
        const out = await pool.run(batch(rows, 8));
        assert.equal(out.cols, 4);
        rows.forEach((r, b) => {
          const ids = r;
          const pick = pooling === 'cls' ? ids[0] : pooling === 'mean' ? ids.reduce((a, x) => a + x, 0) / ids.length : NaN;
          const v = pooling === 'max'
            ? [...W].map((w) => Math.max(...ids.map((id) => id * w)))
            : [...W].map((w) => pick * w);
          const norm = Math.hypot(...v);
          const want = normalize ? v.map((x) => x / norm) : v;
          const got = [...out.data.subarray(b * 4, b * 4 + 4)];
          got.forEach((g, d) => assert.ok(Math.abs(g - want[d]) <= 1e-5 * Math.max(1, Math.abs(want[d])), `${pooling}/${normalize} row ${b} dim ${d}: ${g} vs ${want[d]}`));
        });
      } finally {
        await pool.close();
      }
    }
  }
});

test('NaN in the model output is a clear backend error, and the pool keeps working', async () => {
  const pool = await WorkerPool.create(init(nanModel), 1);
  try {
    await assert.rejects(pool.run(batch([[3, 4]])), (e: Error) => e instanceof InferenceBackendError && /NaN/.test(e.message) && e.message.includes('nan.onnx'));
    await assert.rejects(pool.run(batch([[3, 4]])), InferenceBackendError);
  } finally {
    await pool.close();
  }
});

test('a missing model file and an unloadable CUDA provider fail with errors that say what to do', async () => {
  await assert.rejects(WorkerPool.create(init(join(dir, 'absent.onnx')), 2), (e: Error) => e instanceof InferenceBackendError && e.message.includes('absent.onnx'));
  await assert.rejects(
    WorkerPool.create({ ...init(sumModel2), executionProvider: 'cuda' }, 1),
    (e: Error) => /'cuda' could not be loaded/.test(e.message) && /ONNXRUNTIME_NODE_INSTALL=cuda12/.test(e.message) && /executionProvider: 'cpu'/.test(e.message),
  );
  const fallback = await WorkerPool.create({ ...init(sumModel2), executionProvider: 'cuda', cudaFallbackToCpu: true }, 1);
  try {
    assert.deepEqual(fallback.info.executionProviders, ['cpu']);
    assert.ok(fallback.info.fallbackReason && fallback.info.fallbackReason.length > 0);
    assert.deepEqual([...(await fallback.run(batch([[1, 2]]))).data], [3]);
  } finally {
    await fallback.close();
  }
});

test('workers can be closed and created again, many times, in one process', async () => {
  for (let round = 0; round < 4; round++) {
    const pool = await WorkerPool.create(init(sumModel2), 2);
    const out = await Promise.all([pool.run(batch([[round, 1]])), pool.run(batch([[round, 2]]))]);
    assert.deepEqual(out.map((o) => o.data[0]), [round + 1, round + 2]);
    await pool.close();
    await pool.close(); // idempotent
    await assert.rejects(pool.run(batch([[1]])), InferenceClosedError);
  }
});

test('the caller\'s event loop keeps turning while a long run is pending', async () => {
  const pool = await WorkerPool.create(init(heavyModel()), 1);
  try {
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 2);
    const rows = Array.from({ length: 64 }, (_, b) => Array.from({ length: 256 }, (_, t) => 1 + ((b + t) % 50)));
    const t0 = performance.now();
    await pool.run(batch(rows));
    const ms = performance.now() - t0;
    clearInterval(timer);
    // With run() on this thread there would be 0 ticks until it returned.
    assert.ok(ms > 50, `the run took only ${ms.toFixed(0)} ms; make the batch bigger for this test to mean something`);
    assert.ok(ticks >= 10, `only ${ticks} interval ticks during a ${ms.toFixed(0)} ms run`);
  } finally {
    await pool.close();
  }
});

const poolUrl = new URL('../src/infer/pool.js', import.meta.url).href;
function runChild(script: string, flags: string[] = []): { status: number | null; signal: string | null; out: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}`, ms: Date.now() - t0 };
}

test('close() with a run in flight: the run finishes, queued batches are rejected, and the process exits cleanly', () => {
  const script = `
    import { WorkerPool } from ${JSON.stringify(poolUrl)};
    const init = ${JSON.stringify(init(''))};
    init.modelPath = ${JSON.stringify(join(dir, 'heavy.onnx'))};
    const pool = await WorkerPool.create(init, 1);
    const mk = () => { const n = 32 * 256; return { batchSize: 32, seqLen: 256, inputIds: new BigInt64Array(n).fill(5n), attentionMask: new BigInt64Array(n).fill(1n), tokenTypeIds: new BigInt64Array(n) }; };
    const a = mk(), b = mk();
    const first = pool.run(a).then((o) => 'ok:' + o.data.length, (e) => 'err:' + e.name);
    const second = pool.run(b).then((o) => 'ok', (e) => 'err:' + e.name);
    // run() hands a batch to a free worker at once, transferring its buffers: the first is in flight, the second queued.
    const state = (x) => x.inputIds.length === 0 ? 'sent' : 'queued';
    const states = state(a) + ' ' + state(b);
    await pool.close();
    console.log(states, await first, await second);
  `;
  const r = runChild(script);
  assert.equal(r.signal, null, r.out);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /sent queued ok:32 err:InferenceClosedError/);
});

test('a process that never calls close() still exits once its work is done', () => {
  const script = `
    import { WorkerPool } from ${JSON.stringify(poolUrl)};
    const init = ${JSON.stringify(init(sumModel2))};
    const pool = await WorkerPool.create(init, 2);
    const ids = BigInt64Array.from([4n, 5n]);
    const o = await pool.run({ batchSize: 1, seqLen: 2, inputIds: ids, attentionMask: BigInt64Array.from([1n, 1n]), tokenTypeIds: new BigInt64Array(2) });
    console.log('sum', o.data[0]);
  `;
  const r = runChild(script);
  assert.equal(r.signal, null, `killed after ${r.ms} ms (hung?): ${r.out}`);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /sum 9/);
});


test('a process started with V8 or per-process node flags (--max-old-space-size, --expose-gc, --title) still runs models', () => {
  // Node refuses such flags in a worker's execArgv; they were inherited, and every load failed.
  const script = `
    import { WorkerPool } from ${JSON.stringify(poolUrl)};
    const init = ${JSON.stringify(init(sumModel2))};
    const pool = await WorkerPool.create(init, 2);
    const o = await pool.run({ batchSize: 1, seqLen: 2, inputIds: BigInt64Array.from([4n, 5n]), attentionMask: BigInt64Array.from([1n, 1n]), tokenTypeIds: new BigInt64Array(2) });
    await pool.close();
    console.log('sum', o.data[0], typeof globalThis.gc);
  `;
  const r = runChild(script, ['--max-old-space-size=512', '--expose-gc', '--title=crossgate-test', '--enable-source-maps']);
  assert.equal(r.signal, null, r.out);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /sum 9 function/, 'the pool ran, and the main thread kept --expose-gc');
});
