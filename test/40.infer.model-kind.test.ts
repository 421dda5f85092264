// Loading a model directory as the wrong kind (a bi-encoder into CrossEncoder and the reverse) fails at
// load with a message naming the class to use, not at the first score; assumeKind overrides detection
// for misdescribed exports; an output whose width contradicts config.json is refused at load too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { ModelKindError, loadModelDir, readOnnxOutputs } from '../src/models/model-dir.js';

const scratch = mkdtempSync(join(tmpdir(), 'crossgate-model-kind-'));
let crossDir = '';
let twoLabelDir = '';
let biDir = '';

before(async () => {
  crossDir = await ensureGenerated('tiny-cross');
  twoLabelDir = await ensureGenerated('tiny-cross-2label');
  biDir = await ensureGenerated('tiny-bi');
});
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of `dir` whose config.json is edited by `edit`, minus the files in `drop`. */
function variant(name: string, dir: string, edit: (config: Record<string, unknown>) => void, drop: string[] = []): string {
  const out = join(scratch, name);
  cpSync(dir, out, { recursive: true });
  const path = join(out, 'config.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(config);
  writeFileSync(path, JSON.stringify(config));
  for (const f of drop) rmSync(join(out, f), { recursive: true, force: true });
  return out;
}

test('the ONNX outputs are read from the file header without loading the weights', () => {
  assert.deepEqual(readOnnxOutputs(join(biDir, 'onnx', 'model.onnx')), [{ name: 'last_hidden_state', dims: ['batch_size', 'sequence_length', 32] }]);
  assert.deepEqual(readOnnxOutputs(join(twoLabelDir, 'onnx', 'model_quantized.onnx')), [{ name: 'logits', dims: ['batch_size', 2] }]);
  assert.deepEqual(loadModelDir(crossDir).outputs, [{ name: 'logits', dims: ['batch_size', 1] }]);
  const junk = join(scratch, 'junk.onnx');
  writeFileSync(junk, Buffer.from([0x08, 0x07, 0x3a, 0xff, 0xff, 0xff, 0x7f, 1, 2]));
  assert.deepEqual(readOnnxOutputs(junk), [], 'a truncated file gives no outputs instead of throwing');
});

test('a bi-encoder directory loaded as a cross-encoder is refused at load, naming BiEncoder and the flags', async () => {
  await assert.rejects(CrossEncoder.load(biDir, { workers: 1, threads: 1 }), (e: Error) => {
    assert.ok(e instanceof ModelKindError, `${e.name}: ${e.message}`);
    assert.equal(e.detected, 'bi-encoder');
    assert.ok(e.message.startsWith(`${biDir} is a bi-encoder (sentence-transformers layout, output last_hidden_state`), e.message);
    assert.match(e.message, /load it with BiEncoder \/ pass it as --embedder \/ --bi-encoder/);
    assert.match(e.message, /assumeKind: true/);
    return true;
  });
});

test('a cross-encoder directory loaded as a bi-encoder is refused at load, naming CrossEncoder and the flags', async () => {
  for (const dir of [crossDir, twoLabelDir]) {
    await assert.rejects(BiEncoder.load(dir, { workers: 1, threads: 1 }), (e: Error) => {
      assert.ok(e instanceof ModelKindError, `${e.name}: ${e.message}`);
      assert.equal(e.detected, 'cross-encoder');
      assert.match(e.message, /is a cross-encoder \(config\.json architectures BertForSequenceClassification, output logits \[batch_size, [12]\]\)/);
      assert.match(e.message, /load it with CrossEncoder \/ pass it as --reranker \/ --model \/ --cross-encoder/);
      return true;
    });
  }
});

test('a directory that does not say its kind is judged by its ONNX output', async () => {
  // No architectures, no sentence-transformers files: only last_hidden_state says what this is.
  const bare = variant('bare-bi', biDir, (c) => { delete c.architectures; }, ['modules.json', 'sentence_bert_config.json', '1_Pooling']);
  assert.throws(() => loadModelDir(bare), /cannot tell whether this is a cross-encoder or a bi-encoder/);
  await assert.rejects(CrossEncoder.load(bare, { workers: 1, threads: 1 }), (e: Error) =>
    e instanceof ModelKindError && e.message.startsWith(`${bare} is a bi-encoder (output last_hidden_state [batch_size, sequence_length, 32])`) && /load it with BiEncoder/.test(e.message));
  // assumeKind cannot make a hidden-state output score pairs: the output check still refuses.
  await assert.rejects(CrossEncoder.load(bare, { workers: 1, threads: 1, assumeKind: true }), ModelKindError);
  const be = await BiEncoder.load(bare, { workers: 1, threads: 1 });
  try {
    const [v] = await be.embed(['a kitten sleeps']);
    assert.equal(v.length, 32);
  } finally {
    await be.close();
  }
});

test('assumeKind loads a misdescribed export as the class asks, and it scores', async () => {
  // A cross-encoder export whose config.json claims the base model (as some hand-made exports do).
  const odd = variant('misdescribed-cross', crossDir, (c) => { c.architectures = ['BertModel']; });
  await assert.rejects(CrossEncoder.load(odd, { workers: 1, threads: 1 }), (e: Error) => e instanceof ModelKindError && /config\.json architectures BertModel/.test(e.message));
  const ce = await CrossEncoder.load(odd, { workers: 1, threads: 1, assumeKind: true });
  try {
    const res = await ce.score('what do cats eat', ['cats eat fish', 'the stock market fell']);
    assert.equal(res.probabilities.length, 2);
    assert.ok(res.probabilities.every((p) => p > 0 && p < 1));
  } finally {
    await ce.close();
  }
  await assert.rejects(CrossEncoder.load(crossDir, { assumeKind: 'yes' as unknown as boolean }), (e: Error) => e instanceof TypeError && /'assumeKind' is invalid/.test(e.message));
});

test('a logits width that contradicts config num_labels is refused at load, not at the first score', async () => {
  const wrong = variant('labels-mismatch', crossDir, (c) => { c.num_labels = 2; c.id2label = { 0: 'no', 1: 'yes' }; c.label2id = { no: 0, yes: 1 }; });
  await assert.rejects(CrossEncoder.load(wrong, { workers: 1, threads: 1 }), (e: Error) =>
    /onnx\/model\.onnx output logits \[batch_size, 1\] has 1 labels but config\.json declares 2; fix num_labels \/ id2label in config\.json/.test(e.message));
});
