// The model generator: HF layout, determinism, idempotence, tokenizer.json, and the ONNX graphs
// (checked against the JS reference forward pass, padding invariance, fp32 vs int8).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, mkdirSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { ensureGenerated, PRESETS } from '../models/generate.js';
import { BertReference } from '../models/onnx/bert-reference.js';
import { decodeModel, encodeModel } from '../src/models/onnx/graph.js';
import { quantizeDynamic } from '../src/models/onnx/quantize.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Tokenizer: HfTokenizer } = require('tokenizers') as typeof import('tokenizers');

let root: string;
const dirs: Record<string, string> = {};

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'crossgate-models-'));
  for (const p of ['tiny-cross', 'tiny-bi', 'tiny-cross-2label'] as const) dirs[p] = await ensureGenerated(p, { root });
});
after(() => rmSync(root, { recursive: true, force: true }));

const QUERY = 'how do I reset my password';
const PASSAGES = [
  'To reset your password, open the login page and click forgot password.',
  'Use a password manager and two-factor authentication.',
  'Ferrets are domesticated weasels that love to play.',
  'Dogs are loyal canine companions.',
  'Cats purr when they are content.',
  'The telescope revealed a distant galaxy.',
  'Stocks and bonds carry different risks.',
  'Simmer the sauce for ten minutes with garlic.',
  'Neural networks learn embeddings for natural language processing.',
  'Jupiter is the largest planet in the solar system.',
  'Inflation erodes the value of savings over many years.',
  'A kitten sleeps most of the day.',
  'Wolverines are the largest land mustelids.',
  'Bake the bread in a hot oven until golden.',
  'Index funds spread your investment across the market.',
  'Phishing emails try to steal your login credentials.',
];

interface Enc { ids: number[]; typeIds: number[] }

async function encodePairs(dir: string, pairs: [string, string | null][]): Promise<Enc[]> {
  const tok = HfTokenizer.fromFile(join(dir, 'tokenizer.json'));
  const out: Enc[] = [];
  for (const [a, b] of pairs) {
    const e = await tok.encode(a, b);
    out.push({ ids: e.getIds(), typeIds: e.getTypeIds() });
  }
  return out;
}

function feeds(encs: Enc[]): Record<string, Tensor> {
  const seq = Math.max(...encs.map((e) => e.ids.length));
  const ids = new BigInt64Array(encs.length * seq);
  const mask = new BigInt64Array(encs.length * seq);
  const types = new BigInt64Array(encs.length * seq);
  encs.forEach((e, r) => e.ids.forEach((id, j) => {
    ids[r * seq + j] = BigInt(id);
    mask[r * seq + j] = 1n;
    types[r * seq + j] = BigInt(e.typeIds[j]);
  }));
  const dims = [encs.length, seq];
  return { input_ids: new Tensor('int64', ids, dims), attention_mask: new Tensor('int64', mask, dims), token_type_ids: new Tensor('int64', types, dims) };
}

async function run(path: string, encs: Enc[]): Promise<Tensor> {
  const session = await InferenceSession.create(path);
  try {
    const out = await session.run(feeds(encs));
    return out[session.outputNames[0]];
  } finally {
    await session.release();
  }
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

function digest(dir: string): Record<string, string> {
  return Object.fromEntries(listFiles(dir).map((f) => [f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')]));
}

const readJson = (p: string): any => JSON.parse(readFileSync(p, 'utf8')); // eslint-disable-line @typescript-eslint/no-explicit-any

test('tiny presets are written in the Hugging Face layout with matching configs', () => {
  const cross = readJson(join(dirs['tiny-cross'], 'config.json'));
  assert.deepEqual(cross.architectures, ['BertForSequenceClassification']);
  assert.deepEqual(cross.id2label, { 0: 'LABEL_0' });
  assert.equal(cross.model_type, 'bert');
  assert.equal(cross.max_position_embeddings, 128);
  assert.equal(readJson(join(dirs['tiny-cross-2label'], 'config.json')).num_labels, 2);

  const bi = dirs['tiny-bi'];
  assert.deepEqual(readJson(join(bi, 'config.json')).architectures, ['BertModel']);
  assert.deepEqual(readJson(join(bi, 'modules.json')).map((m: { type: string }) => m.type), [
    'sentence_transformers.models.Transformer', 'sentence_transformers.models.Pooling', 'sentence_transformers.models.Normalize',
  ]);
  assert.equal(readJson(join(bi, '1_Pooling', 'config.json')).word_embedding_dimension, 32);
  assert.equal(readJson(join(bi, '1_Pooling', 'config.json')).pooling_mode_mean_tokens, true);
  assert.equal(readJson(join(bi, 'sentence_bert_config.json')).max_seq_length, 64);
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt', 'onnx/model.onnx', 'onnx/model_quantized.onnx']) {
    assert.ok(existsSync(join(bi, f)), `tiny-bi lacks ${f}`);
  }
  assert.equal(readJson(join(bi, 'tokenizer_config.json')).tokenizer_class, 'BertTokenizer');
  // vocab.txt, tokenizer.json and config.json agree on the vocabulary.
  const vocab = readFileSync(join(bi, 'vocab.txt'), 'utf8').trimEnd().split('\n');
  assert.equal(vocab.length, 4096);
  assert.deepEqual([vocab[0], vocab[100], vocab[101], vocab[102], vocab[103]], ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  const tj = readJson(join(bi, 'tokenizer.json'));
  assert.equal(Object.keys(tj.model.vocab).length, 4096);
  assert.equal(tj.model.vocab['ferrets'], vocab.indexOf('ferrets'));
});

test('generation is deterministic: two roots hold byte-identical files', async () => {
  const other = mkdtempSync(join(tmpdir(), 'crossgate-models-again-'));
  try {
    for (const p of ['tiny-cross', 'tiny-bi'] as const) {
      const again = await ensureGenerated(p, { root: other });
      assert.deepEqual(digest(again), digest(dirs[p]));
    }
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('ensureGenerated skips a complete dir, repairs an incomplete one and sweeps abandoned temp dirs', async () => {
  const dir = dirs['tiny-cross'];
  const before = statSync(join(dir, 'onnx', 'model.onnx')).mtimeMs;
  let progressCalls = 0;
  assert.equal(await ensureGenerated('tiny-cross', { root, onProgress: () => progressCalls++ }), dir);
  assert.equal(progressCalls, 0, 'a complete dir must not be regenerated');
  assert.equal(statSync(join(dir, 'onnx', 'model.onnx')).mtimeMs, before);

  const expected = digest(dir);
  unlinkSync(join(dir, 'onnx', 'model_quantized.onnx'));
  // A temp dir from a generation whose process died (pid 2^22+1 is above Linux's pid_max default).
  const stale = join(root, '.tiny-cross.tmp-4194305-dead');
  mkdirSync(stale);
  writeFileSync(join(stale, 'config.json'), '{');
  let last = [0, 0];
  assert.equal(await ensureGenerated('tiny-cross', { root, onProgress: (d, t) => (last = [d, t]) }), dir);
  assert.ok(last[1] > 0 && last[0] === last[1], `progress should end at total, got ${last}`);
  assert.deepEqual(digest(dir), expected);
  assert.deepEqual(readdirSync(root).filter((n) => n.startsWith('.')), [], 'no temp dirs may be left behind');
});

test('unknown presets are refused with the list of known ones', async () => {
  await assert.rejects(ensureGenerated('tiny-crosss' as 'tiny-cross', { root }), /unknown model preset 'tiny-crosss'; choose one of tiny-cross, .*minilm-l6-bi/);
});

test('HF tokenizers loads the generated tokenizer.json and encodes demo text without [UNK]', async () => {
  const tok = HfTokenizer.fromFile(join(dirs['tiny-cross'], 'tokenizer.json'));
  assert.equal(tok.getVocabSize(), 4096);
  const pair = await tok.encode('Are FERRETS weasels?', 'Ferrets are domesticated weasels.');
  assert.deepEqual(pair.getTokens(), ['[CLS]', 'are', 'ferrets', 'weasels', '?', '[SEP]', 'ferrets', 'are', 'domesticated', 'weasels', '.', '[SEP]']);
  assert.deepEqual(pair.getTypeIds(), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
  // Words outside the list split into pieces rather than [UNK]; CJK characters stand alone.
  const odd = await tok.encode('Xylophonic quibbleworts 你好', null);
  assert.ok(!odd.getTokens().includes('[UNK]'), odd.getTokens().join(' '));
  assert.ok(odd.getTokens().some((t) => t.startsWith('##')));
  assert.deepEqual(odd.getTokens().slice(-3), ['你', '好', '[SEP]']);
  for (const w of ['password', 'canine', 'kitten', 'stoat', 'embeddings', 'simmer', 'telescope', 'dividend']) {
    const e = await tok.encode(w, null);
    assert.deepEqual(e.getTokens(), ['[CLS]', w, '[SEP]'], `'${w}' should be one token`);
  }
});

test('the ONNX graphs compute what the JS reference BERT computes', async () => {
  for (const p of ['tiny-cross', 'tiny-cross-2label', 'tiny-bi'] as const) {
    const dir = dirs[p];
    const spec = PRESETS[p];
    const ref = new BertReference(decodeModel(readFileSync(join(dir, 'onnx', 'model.onnx'))), spec.bert);
    const encs = await encodePairs(dir, spec.kind === 'cross-encoder' ? PASSAGES.slice(0, 4).map((x) => [QUERY, x]) : PASSAGES.slice(0, 4).map((x) => [x, null]));
    for (const e of encs) {
      const out = await run(join(dir, 'onnx', 'model.onnx'), [e]);
      const want = ref.forward(e.ids, e.typeIds, spec.numLabels);
      const expected = spec.kind === 'cross-encoder' ? want.logits! : want.lastHiddenState;
      assert.equal(out.data.length, expected.length);
      let maxDiff = 0;
      for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs((out.data as Float32Array)[i] - expected[i]));
      assert.ok(maxDiff < 1e-3, `${p}: ONNX vs reference differ by ${maxDiff}`);
    }
  }
});

test('padding a sequence inside a batch does not change its outputs (attention mask is applied)', async () => {
  const dir = dirs['tiny-cross'];
  const encs = await encodePairs(dir, PASSAGES.map((x) => [QUERY, x]));
  const batch = (await run(join(dir, 'onnx', 'model.onnx'), encs)).data as Float32Array;
  const shortest = encs.reduce((a, e, i) => (e.ids.length < encs[a].ids.length ? i : a), 0);
  assert.ok(encs[shortest].ids.length < Math.max(...encs.map((e) => e.ids.length)));
  const alone = (await run(join(dir, 'onnx', 'model.onnx'), [encs[shortest]])).data as Float32Array;
  assert.ok(Math.abs(alone[0] - batch[shortest]) < 1e-4, `alone ${alone[0]} vs padded ${batch[shortest]}`);
});

test('fp32 and int8 models load in onnxruntime with exporter names and shapes', async () => {
  const cross = await encodePairs(dirs['tiny-cross'], PASSAGES.slice(0, 3).map((x) => [QUERY, x]));
  const seq = Math.max(...cross.map((e) => e.ids.length));
  for (const file of ['model.onnx', 'model_quantized.onnx']) {
    const s = await InferenceSession.create(join(dirs['tiny-cross'], 'onnx', file));
    assert.deepEqual(s.inputNames, ['input_ids', 'attention_mask', 'token_type_ids']);
    assert.deepEqual(s.outputNames, ['logits']);
    await s.release();
    assert.deepEqual((await run(join(dirs['tiny-cross'], 'onnx', file), cross)).dims, [3, 1]);
    assert.deepEqual((await run(join(dirs['tiny-cross-2label'], 'onnx', file), cross)).dims, [3, 2]);
    const bi = await run(join(dirs['tiny-bi'], 'onnx', file), cross);
    assert.deepEqual(bi.dims, [3, seq, 32]);
  }
});

test('cross-encoder logits spread over a few units and int8 stays close to fp32', async () => {
  const dir = dirs['tiny-cross'];
  const encs = await encodePairs(dir, PASSAGES.map((x) => [QUERY, x]));
  const fp32 = (await run(join(dir, 'onnx', 'model.onnx'), encs)).data as Float32Array;
  const int8 = (await run(join(dir, 'onnx', 'model_quantized.onnx'), encs)).data as Float32Array;
  const mean = fp32.reduce((a, b) => a + b, 0) / fp32.length;
  const std = Math.sqrt(fp32.reduce((a, b) => a + (b - mean) ** 2, 0) / fp32.length);
  assert.ok(std > 0.5 && std < 6, `logit std over passages is ${std}; the classifier calibration should give ~2`);
  assert.ok(Math.abs(mean) < 3, `logit mean ${mean} should sit near 0 so sigmoid does not saturate`);
  let maxDiff = 0;
  for (let i = 0; i < fp32.length; i++) maxDiff = Math.max(maxDiff, Math.abs(fp32[i] - int8[i]));
  assert.ok(maxDiff < 0.25 * std + 0.05, `int8 logits differ from fp32 by up to ${maxDiff} (fp32 std ${std})`);
  const top = (x: Float32Array): number[] => Array.from(x, (v, i) => [v, i]).sort((a, b) => b[0] - a[0]).slice(0, 5).map((p) => p[1]);
  const overlap = top(fp32).filter((i) => top(int8).includes(i)).length;
  assert.ok(overlap >= 4, `int8 top-5 shares only ${overlap} passages with fp32`);
});

test('the quantizer rewrites weight MatMuls and Gathers the way quantize_dynamic does', () => {
  const dir = dirs['tiny-bi'];
  const fp32 = decodeModel(readFileSync(join(dir, 'onnx', 'model.onnx')));
  const int8 = decodeModel(readFileSync(join(dir, 'onnx', 'model_quantized.onnx')));
  const ops = (m: typeof fp32): Record<string, number> => {
    const c: Record<string, number> = {};
    for (const n of m.graph!.node!) c[n.opType!] = (c[n.opType!] ?? 0) + 1;
    return c;
  };
  const before = ops(fp32);
  const afterOps = ops(int8);
  // 6 weight MatMuls per layer become MatMulInteger; the two attention MatMuls (QK^T, PV) stay float.
  assert.equal(afterOps.MatMulInteger, 6 * 2);
  assert.equal(afterOps.MatMul, before.MatMul - 12);
  // Q, K and V share one DynamicQuantizeLinear: 4 distinct activations per layer.
  assert.equal(afterOps.DynamicQuantizeLinear, 4 * 2);
  assert.equal(afterOps.DequantizeLinear, 3);
  const size = (f: string): number => statSync(join(dir, 'onnx', f)).size;
  assert.ok(size('model_quantized.onnx') < size('model.onnx') / 3, `int8 file ${size('model_quantized.onnx')} B vs fp32 ${size('model.onnx')} B`);
});

test('per-channel quantization of a decoded model runs and stays close', async () => {
  const dir = dirs['tiny-cross'];
  const { model, report } = quantizeDynamic(decodeModel(readFileSync(join(dir, 'onnx', 'model.onnx'))), { perChannel: true });
  assert.equal(report.matmuls, 12);
  const path = join(root, 'per-channel.onnx');
  writeFileSync(path, encodeModel(model));
  const encs = await encodePairs(dir, PASSAGES.map((x) => [QUERY, x]));
  const fp32 = (await run(join(dir, 'onnx', 'model.onnx'), encs)).data as Float32Array;
  const pc = (await run(path, encs)).data as Float32Array;
  let maxDiff = 0;
  for (let i = 0; i < fp32.length; i++) maxDiff = Math.max(maxDiff, Math.abs(fp32[i] - pc[i]));
  assert.ok(maxDiff < 0.6, `per-channel int8 differs from fp32 by ${maxDiff}`);
});

// Generation speed is not asserted here: timings belong in benchmarks/, not in the test suite.
test('a full-size clone (minilm-l6-bi) generates and runs with MiniLM shapes', async () => {
  const other = mkdtempSync(join(tmpdir(), 'crossgate-models-full-'));
  try {
    const dir = await ensureGenerated('minilm-l6-bi', { root: other });
    const config = readJson(join(dir, 'config.json'));
    assert.deepEqual([config.vocab_size, config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.intermediate_size, config.max_position_embeddings],
      [30522, 384, 6, 12, 1536, 512]);
    assert.equal(readJson(join(dir, 'sentence_bert_config.json')).max_seq_length, 256);
    const encs = await encodePairs(dir, [['Dogs are loyal canine companions.', null], ['A kitten sleeps.', null]]);
    const out = await run(join(dir, 'onnx', 'model_quantized.onnx'), encs);
    assert.deepEqual(out.dims, [2, encs[0].ids.length, 384]);
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('transformers.js loads the generated dirs (fp32 and q8) and agrees with onnxruntime', async () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const tjs: any = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.localModelPath = join(dirs['tiny-cross'], '..') + '/';
  const tok = await tjs.AutoTokenizer.from_pretrained('tiny-cross');
  const inputs = tok([QUERY, QUERY], { text_pair: [PASSAGES[0], PASSAGES[3]], padding: true });
  const ours = await encodePairs(dirs['tiny-cross'], [[QUERY, PASSAGES[0]], [QUERY, PASSAGES[3]]]);
  assert.deepEqual(Array.from(inputs.input_ids.data.slice(0, ours[0].ids.length), Number), ours[0].ids);
  for (const [dtype, file] of [['fp32', 'model.onnx'], ['q8', 'model_quantized.onnx']]) {
    const model = await tjs.AutoModelForSequenceClassification.from_pretrained('tiny-cross', { dtype });
    const theirs = Array.from((await model(inputs)).logits.data as Float32Array);
    const mine = Array.from((await run(join(dirs['tiny-cross'], 'onnx', file), ours)).data as Float32Array);
    theirs.forEach((v, i) => assert.ok(Math.abs(v - mine[i]) < 1e-4, `${dtype}: transformers.js ${v} vs ours ${mine[i]}`));
    await model.dispose();
  }
  const fe = await tjs.pipeline('feature-extraction', 'tiny-bi', { dtype: 'fp32' });
  const emb = await fe(['Dogs are loyal canine companions.'], { pooling: 'mean', normalize: true });
  assert.deepEqual(emb.dims, [1, 32]);
  await fe.dispose();
});
