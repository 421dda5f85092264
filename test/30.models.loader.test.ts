// loadModelDir: kind detection, pooling, maxLength, activation, both ONNX layouts, and errors that
// name the file and the fix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { loadModelDir } from '../src/models/model-dir.js';

let root: string;
let work: string;
const dirs: Record<string, string> = {};
let copies = 0;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'crossgate-loader-'));
  work = join(root, 'work');
  mkdirSync(work);
  for (const p of ['tiny-cross', 'tiny-bi', 'tiny-cross-2label'] as const) dirs[p] = await ensureGenerated(p, { root: join(root, 'models') });
});
after(() => rmSync(root, { recursive: true, force: true }));

/** A private copy of a generated dir to break in one test. */
function copyOf(preset: string): string {
  const dir = join(work, `${preset}-${copies++}`);
  cpSync(dirs[preset], dir, { recursive: true });
  return dir;
}

const editJson = (path: string, fn: (v: any) => void): void => { // eslint-disable-line @typescript-eslint/no-explicit-any
  const v = JSON.parse(readFileSync(path, 'utf8'));
  fn(v);
  writeFileSync(path, JSON.stringify(v));
};

test('a cross-encoder dir: kind, sigmoid, files, and maxLength capped by the position table', () => {
  const spec = loadModelDir(dirs['tiny-cross']);
  assert.equal(spec.kind, 'cross-encoder');
  assert.equal(spec.name, 'tiny-cross');
  assert.equal(spec.numLabels, 1);
  assert.equal(spec.activation, 'sigmoid');
  assert.equal(spec.hiddenSize, 32);
  // tokenizer_config says 512, but the model only has 128 positions.
  assert.equal(spec.maxLength, 128);
  assert.equal(spec.onnxPath, join(dirs['tiny-cross'], 'onnx', 'model.onnx'));
  assert.deepEqual(spec.onnxFiles, { fp32: join(dirs['tiny-cross'], 'onnx', 'model.onnx'), quantized: [join(dirs['tiny-cross'], 'onnx', 'model_quantized.onnx')] });
  assert.equal(spec.tokenizerPath, join(dirs['tiny-cross'], 'tokenizer.json'));
  assert.equal(spec.config.model_type, 'bert');
  assert.equal(loadModelDir(dirs['tiny-cross'], { quantized: true }).onnxPath, join(dirs['tiny-cross'], 'onnx', 'model_quantized.onnx'));
});

test('a 2-logit cross-encoder scores with softmax', () => {
  const spec = loadModelDir(dirs['tiny-cross-2label']);
  assert.equal(spec.numLabels, 2);
  assert.equal(spec.activation, 'softmax');
});

test('a bi-encoder dir: mean pooling, Normalize, and max_seq_length from sentence_bert_config.json', () => {
  const spec = loadModelDir(dirs['tiny-bi']);
  assert.equal(spec.kind, 'bi-encoder');
  assert.equal(spec.pooling, 'mean');
  assert.equal(spec.normalize, true);
  assert.equal(spec.maxLength, 64);
  assert.equal(spec.numLabels, 0);
});

test('pooling and Normalize follow modules.json and 1_Pooling/config.json', () => {
  const dir = copyOf('tiny-bi');
  editJson(join(dir, '1_Pooling', 'config.json'), (c) => { c.pooling_mode_mean_tokens = false; c.pooling_mode_cls_token = true; });
  editJson(join(dir, 'modules.json'), (m) => m.splice(2, 1));
  let spec = loadModelDir(dir);
  assert.equal(spec.pooling, 'cls');
  assert.equal(spec.normalize, false);
  editJson(join(dir, '1_Pooling', 'config.json'), (c) => { c.pooling_mode_cls_token = false; c.pooling_mode_max_tokens = true; });
  assert.equal(loadModelDir(dir).pooling, 'max');
  editJson(join(dir, '1_Pooling', 'config.json'), (c) => { c.pooling_mode_max_tokens = false; c.pooling_mode_mean_sqrt_len_tokens = true; });
  assert.throws(() => loadModelDir(dir), /1_Pooling\/config.json uses pooling_mode_mean_sqrt_len_tokens, which crossgate does not implement; supported: mean, cls, max/);
  editJson(join(dir, '1_Pooling', 'config.json'), (c) => { c.pooling_mode_mean_sqrt_len_tokens = false; c.pooling_mode_mean_tokens = true; c.pooling_mode_max_tokens = true; });
  assert.throws(() => loadModelDir(dir), /turns on pooling_mode_mean_tokens and pooling_mode_max_tokens/);
  // Without sentence_bert_config.json the tokenizer/position limits apply.
  editJson(join(dir, '1_Pooling', 'config.json'), (c) => { c.pooling_mode_max_tokens = false; });
  unlinkSync(join(dir, 'sentence_bert_config.json'));
  spec = loadModelDir(dir);
  assert.equal(spec.maxLength, 128);
  assert.equal(spec.kind, 'bi-encoder', 'modules.json alone marks a bi-encoder');
});

test('maxLength: the smallest of model_max_length (when sane), positions and tokenizer.json truncation', () => {
  const dir = copyOf('tiny-cross');
  editJson(join(dir, 'tokenizer_config.json'), (c) => { c.model_max_length = 100; });
  assert.equal(loadModelDir(dir).maxLength, 100);
  // transformers writes 1e30 for "no limit"; it must not win or be ignored as a number.
  editJson(join(dir, 'tokenizer_config.json'), (c) => { c.model_max_length = 1e30; });
  assert.equal(loadModelDir(dir).maxLength, 128);
  editJson(join(dir, 'tokenizer.json'), (t) => { t.truncation = { max_length: 96, strategy: 'LongestFirst', stride: 0, direction: 'Right' }; });
  assert.equal(loadModelDir(dir).maxLength, 96);
  editJson(join(dir, 'config.json'), (c) => { delete c.max_position_embeddings; });
  editJson(join(dir, 'tokenizer.json'), (t) => { t.truncation = null; });
  unlinkSync(join(dir, 'tokenizer_config.json'));
  assert.equal(loadModelDir(dir).maxLength, 512, 'nothing stated: BERT default');
  // RoBERTa-family position tables reserve pad_token_id + 1 slots.
  editJson(join(dir, 'config.json'), (c) => { c.model_type = 'xlm-roberta'; c.max_position_embeddings = 514; c.pad_token_id = 1; });
  assert.equal(loadModelDir(dir).maxLength, 512);
});

test('the other layout (model.onnx at the top level, no onnx/ folder) loads too', () => {
  const dir = copyOf('tiny-bi');
  renameSync(join(dir, 'onnx', 'model.onnx'), join(dir, 'model.onnx'));
  renameSync(join(dir, 'onnx', 'model_quantized.onnx'), join(dir, 'model_quantized.onnx'));
  rmSync(join(dir, 'onnx'), { recursive: true });
  const spec = loadModelDir(dir);
  assert.equal(spec.onnxPath, join(dir, 'model.onnx'));
  assert.equal(loadModelDir(dir, { quantized: true }).onnxPath, join(dir, 'model_quantized.onnx'));
  // sentence-transformers' own quantized names count as quantized too.
  renameSync(join(dir, 'model_quantized.onnx'), join(dir, 'model_qint8_avx512_vnni.onnx'));
  assert.equal(loadModelDir(dir, { quantized: true }).onnxPath, join(dir, 'model_qint8_avx512_vnni.onnx'));
});

test('kind: forced kind wins over config.json but not over the ONNX outputs; ambiguous configs ask for it', () => {
  // A feature-extraction export whose config.json claims a classification head.
  const misdescribed = copyOf('tiny-bi');
  editJson(join(misdescribed, 'config.json'), (c) => { c.architectures = ['BertForSequenceClassification']; });
  for (const f of ['modules.json', 'sentence_bert_config.json']) rmSync(join(misdescribed, f));
  assert.equal(loadModelDir(misdescribed).kind, 'cross-encoder');
  const forced = loadModelDir(misdescribed, { kind: 'bi-encoder' });
  assert.equal(forced.kind, 'bi-encoder');
  assert.equal(forced.pooling, 'mean', 'no modules.json: sentence-transformers defaults to mean pooling');
  assert.equal(forced.normalize, false);
  // Forcing cannot make a logits output embed: refused at load, naming the class that can run it.
  assert.throws(() => loadModelDir(dirs['tiny-cross'], { kind: 'bi-encoder' }),
    /tiny-cross is a cross-encoder \(config\.json architectures BertForSequenceClassification, output logits \[batch_size, 1\]\); load it with CrossEncoder/);
  assert.throws(() => loadModelDir(dirs['tiny-cross'], { kind: 'reranker' as 'bi-encoder' }), /'kind' is invalid: "reranker"; expected 'cross-encoder' or 'bi-encoder'/);

  const dir = copyOf('tiny-cross');
  editJson(join(dir, 'config.json'), (c) => { c.architectures = ['BertForMaskedLM']; });
  assert.throws(() => loadModelDir(dir), /cannot tell whether this is a cross-encoder or a bi-encoder: config.json architectures is \["BertForMaskedLM"\].*pass kind/);
  assert.equal(loadModelDir(dir, { kind: 'cross-encoder' }).kind, 'cross-encoder');
});

test('label counts: id2label without num_labels works, 3 labels are refused, disagreement is named', () => {
  const dir = copyOf('tiny-cross-2label');
  editJson(join(dir, 'config.json'), (c) => { delete c.num_labels; });
  assert.equal(loadModelDir(dir).numLabels, 2);
  editJson(join(dir, 'config.json'), (c) => { c.num_labels = 3; });
  assert.throws(() => loadModelDir(dir), /num_labels is 3 but id2label has 2 entries/);
  editJson(join(dir, 'config.json'), (c) => { c.id2label = { 0: 'a', 1: 'b', 2: 'c' }; });
  assert.throws(() => loadModelDir(dir), /config.json declares 3 labels; crossgate scores relevance from 1 logit \(sigmoid\) or 2 \(softmax, positive class 1\)/);
});

test('missing and corrupt files are named with what was expected', () => {
  const missing = join(work, 'nope');
  assert.throws(() => loadModelDir(missing), new RegExp(`model dir ${missing}: does not exist`));
  assert.throws(() => loadModelDir(join(dirs['tiny-cross'], 'config.json')), /is a file, not a directory/);

  let dir = copyOf('tiny-cross');
  unlinkSync(join(dir, 'config.json'));
  assert.throws(() => loadModelDir(dir), new RegExp(`model dir ${dir}: config.json is missing; expected a Hugging Face config.json`));
  writeFileSync(join(dir, 'config.json'), '{"architectures": [');
  assert.throws(() => loadModelDir(dir), /config.json is not valid JSON \(.+\); expected a Hugging Face config.json/);
  writeFileSync(join(dir, 'config.json'), 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n');
  assert.throws(() => loadModelDir(dir), /config.json is a Git LFS pointer, not the file; run `git lfs pull`/);

  dir = copyOf('tiny-cross');
  unlinkSync(join(dir, 'tokenizer.json'));
  assert.throws(() => loadModelDir(dir), /tokenizer.json is missing; expected a Hugging Face fast-tokenizer file/);

  dir = copyOf('tiny-bi');
  writeFileSync(join(dir, '1_Pooling', 'config.json'), 'not json');
  assert.throws(() => loadModelDir(dir), /1_Pooling\/config.json is not valid JSON/);
});

test('ONNX files: none, only quantized, quantized requested but absent, empty or not a model', () => {
  let dir = copyOf('tiny-cross');
  rmSync(join(dir, 'onnx'), { recursive: true });
  assert.throws(() => loadModelDir(dir), /no ONNX file: looked for onnx\/model.onnx, model.onnx; export one with `optimum-cli export onnx/);

  dir = copyOf('tiny-cross');
  unlinkSync(join(dir, 'onnx', 'model.onnx'));
  assert.throws(() => loadModelDir(dir), /no fp32 ONNX file \(looked for onnx\/model.onnx, model.onnx\), but found onnx\/model_quantized.onnx; pass quantized: true/);
  assert.equal(loadModelDir(dir, { quantized: true }).onnxPath, join(dir, 'onnx', 'model_quantized.onnx'));

  dir = copyOf('tiny-cross');
  unlinkSync(join(dir, 'onnx', 'model_quantized.onnx'));
  assert.throws(() => loadModelDir(dir, { quantized: true }), /quantized: true but there is no quantized ONNX file .*found only onnx\/model.onnx/);

  writeFileSync(join(dir, 'onnx', 'model.onnx'), '');
  assert.throws(() => loadModelDir(dir), /onnx\/model.onnx is empty; expected an ONNX model/);
  writeFileSync(join(dir, 'onnx', 'model.onnx'), 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 90000000\n');
  assert.throws(() => loadModelDir(dir), /onnx\/model.onnx is a Git LFS pointer \(\d+ bytes\), not the model/);
  writeFileSync(join(dir, 'onnx', 'model.onnx'), '<html>404</html>');
  assert.throws(() => loadModelDir(dir), /onnx\/model.onnx does not start like an ONNX protobuf \(first byte 0x3c\)/);
});
