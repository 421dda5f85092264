// `crossgate models quantize`: int8 output that loads, is smaller, and scores within the tolerance it
// reports; per-channel; exporter variants (float_data, external data); refusals with reasons.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { decodeModel, encodeModel, onnx, tensorFloats } from '../src/models/onnx/graph.js';
import { quantizeOnnxFile } from '../src/models/onnx/quantize.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { agreementWorkload, measureAgreement, runModels } from '../src/cli/models.js';
import { pullModel } from '../src/models/hub/index.js';
import { FakeHub } from './90.hub.fake-hub.js';

let root: string;
let crossDir: string;
let biDir: string;

function fresh(src: string, name: string): string {
  const dir = join(root, name);
  cpSync(src, dir, { recursive: true });
  rmSync(join(dir, 'onnx', 'model_quantized.onnx'));
  return dir;
}

async function quantizeCli(args: string[]): Promise<{ out: string; maxDelta: number; top10: number }> {
  let out = '';
  await runModels(['quantize', ...args], { out: { write: (s: string) => (out += s) }, err: { write: () => true }, env: {} });
  const m = /max \|Δ(?:logit|cosine)\| (\d+\.\d+), .*top-10 agreement (\d+\.\d)%/.exec(out);
  assert.ok(m, out);
  return { out, maxDelta: Number(m[1]), top10: Number(m[2]) / 100 };
}

const PAIRS_Q = 'how do I reset my password';
const PAIRS_P = [
  'To reset your password, open the login page and click forgot password.',
  'Use a password manager and two-factor authentication.',
  'Ferrets are domesticated weasels that love to play.',
  'Simmer the sauce for ten minutes with garlic.',
  'Jupiter is the largest planet in the solar system.',
];

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'crossgate-quant-'));
  crossDir = await ensureGenerated('tiny-cross', { root: join(root, 'generated') });
  biDir = await ensureGenerated('tiny-bi', { root: join(root, 'generated') });
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('models quantize', () => {
  it('writes onnx/model_quantized.onnx that loads, is smaller, and scores within the reported tolerance', async () => {
    const dir = fresh(crossDir, 'cross');
    const r = await quantizeCli([dir]);
    const q = join(dir, 'onnx', 'model_quantized.onnx');
    assert.match(r.out, /per-tensor; 12 MatMul and 3 Gather weights/);
    assert.ok(statSync(q).size < 0.4 * statSync(join(dir, 'onnx', 'model.onnx')).size, 'int8 is well under half the fp32 size');
    assert.ok(r.top10 >= 0.8, r.out);
    // Re-scoring the same workload independently reproduces the report.
    const a = await measureAgreement(dir, dir, agreementWorkload());
    assert.ok(Math.abs(a.maxAbsDelta - r.maxDelta) <= 5e-5, `${a.maxAbsDelta} vs reported ${r.maxDelta}`);
    // Pairs outside the workload stay within the reported tolerance, and the ranking holds.
    const fp = await CrossEncoder.load(dir);
    const int8 = await CrossEncoder.load(dir, { quantized: true });
    try {
      assert.equal(int8.spec.onnxPath, q);
      const x = await fp.score(PAIRS_Q, PAIRS_P);
      const y = await int8.score(PAIRS_Q, PAIRS_P);
      const delta = Math.max(...Array.from(x.logits, (l, i) => Math.abs(l - y.logits[i])));
      assert.ok(delta <= r.maxDelta, `|Δlogit| ${delta} on new pairs exceeds the reported ${r.maxDelta}`);
      assert.ok(delta > 0, 'the int8 model really is a different model');
    } finally {
      await fp.close();
      await int8.close();
    }
  });

  it('--per-channel --out writes a standalone int8 directory from a hub-cache snapshot, without touching the blobs', async () => {
    const hub = await FakeHub.start();
    try {
      hub.addRepo('acme/tiny-bi', biDir);
      const cache = join(root, 'cache');
      const env = { HF_ENDPOINT: hub.hubUrl, HF_HUB_CACHE: cache, HOME: join(root, 'home') };
      const pulled = await pullModel('acme/tiny-bi', { env });
      const blob = readFileSync(join(pulled.dir, 'onnx', 'model.onnx'));
      const out = join(root, 'bi-int8');
      let text = '';
      await runModels(['quantize', 'acme/tiny-bi', '--per-channel', '--out', out], { out: { write: (s: string) => (text += s) }, err: { write: () => true }, env });
      assert.match(text, /per-channel/);
      assert.match(text, /max \|Δcosine\| \d\.\d{4}/);
      for (const f of ['config.json', 'tokenizer.json', 'modules.json', '1_Pooling/config.json', 'onnx/model_quantized.onnx']) {
        assert.ok(existsSync(join(out, f)), f);
        assert.equal(lstatSync(join(out, f)).isSymbolicLink(), false, `${f} is a real file, not a link into the cache`);
      }
      assert.equal(existsSync(join(out, 'onnx', 'model.onnx')), false, 'the fp32 file is not copied');
      assert.ok(readFileSync(join(pulled.dir, 'onnx', 'model.onnx')).equals(blob), 'the cached blob is untouched');
      // Per-channel: every MatMul weight has one scale per output column.
      const model = decodeModel(readFileSync(join(out, 'onnx', 'model_quantized.onnx')));
      const scales = (model.graph?.initializer ?? []).filter((t) => t.name?.endsWith('_scale') && (t.dims ?? []).length === 1);
      assert.equal(scales.length, 12);
    } finally {
      await hub.close();
    }
  });

  it('quantizes exporter variants (float_data, external data) to the same model, and refuses what it cannot do', async () => {
    const dir = fresh(crossDir, 'variants');
    const plain = join(root, 'plain_quantized.onnx');
    quantizeOnnxFile(join(dir, 'onnx', 'model.onnx'), plain);
    // Rewrite the export the way other exporters store weights: float_data, and big tensors in a side file.
    const model = decodeModel(readFileSync(join(dir, 'onnx', 'model.onnx')));
    const side: Buffer[] = [];
    let offset = 0;
    for (const [i, t] of (model.graph?.initializer ?? []).entries()) {
      if (t.dataType !== onnx.TensorProto.DataType.FLOAT) continue;
      const values = Float32Array.from(tensorFloats(t));
      if (i % 2 === 0) {
        delete t.rawData;
        t.floatData = Array.from(values);
      } else {
        const bytes = Buffer.from(values.buffer);
        side.push(bytes);
        delete t.rawData;
        t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
        t.externalData = [{ key: 'location', value: 'model.onnx_data' }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(bytes.length) }];
        offset += bytes.length;
      }
    }
    writeFileSync(join(dir, 'onnx', 'model.onnx'), encodeModel(model));
    writeFileSync(join(dir, 'onnx', 'model.onnx_data'), Buffer.concat(side));
    const res = quantizeOnnxFile(join(dir, 'onnx', 'model.onnx'), join(dir, 'onnx', 'model_quantized.onnx'));
    assert.ok(res.externalTensors > 10);
    const viaPlain = join(root, 'plain-dir');
    cpSync(crossDir, viaPlain, { recursive: true });
    cpSync(plain, join(viaPlain, 'onnx', 'model_quantized.onnx'));
    const a = await CrossEncoder.load(dir, { quantized: true });
    const b = await CrossEncoder.load(viaPlain, { quantized: true });
    try {
      assert.deepEqual(Array.from((await a.score(PAIRS_Q, PAIRS_P)).logits), Array.from((await b.score(PAIRS_Q, PAIRS_P)).logits));
    } finally {
      await a.close();
      await b.close();
    }
    assert.throws(() => quantizeOnnxFile(plain, join(root, 'twice.onnx')), /is already quantized .*quantize the fp32 model instead/);
    const old = decodeModel(readFileSync(join(crossDir, 'onnx', 'model.onnx')));
    old.opsetImport = [{ domain: '', version: 9 }];
    writeFileSync(join(root, 'opset9.onnx'), encodeModel(old));
    assert.throws(() => quantizeOnnxFile(join(root, 'opset9.onnx'), join(root, 'x.onnx')), /uses ai\.onnx opset 9; dynamic quantization needs opset 11/);
    rmSync(join(dir, 'onnx', 'model.onnx_data'));
    assert.throws(() => quantizeOnnxFile(join(dir, 'onnx', 'model.onnx'), join(root, 'y.onnx')), /keeps its data in model\.onnx_data, which is not next to the model/);
  });
});
