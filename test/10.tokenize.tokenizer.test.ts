// Tokenizer API behaviour: loading errors that name the component, option checks, async/sync agreement,
// padding into int64 tensors, and per-item errors that name the item.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer, padBatch, SYNC_ENCODE_MAX_CHARS } from '../src/tokenize/index.js';
import { buildTokenizerJson, CORPUS, hf } from './fixtures/tokenize/corpus.js';

const JSON_UNCASED = buildTokenizerJson({ lowercase: true, stripAccents: null });

function withComponent(path: string[], value: unknown): string {
  const obj = JSON.parse(JSON_UNCASED);
  let o = obj;
  for (const k of path.slice(0, -1)) o = o[k];
  o[path[path.length - 1]] = value;
  return JSON.stringify(obj);
}

test('fromFile loads a tokenizer.json and reports its limits', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cg-tok-'));
  const path = join(dir, 'tokenizer.json');
  writeFileSync(path, buildTokenizerJson({ lowercase: true, stripAccents: null, truncationMaxLength: 128 }));
  const t = Tokenizer.fromFile(path);
  assert.equal(t.maxLength, 128);
  assert.equal(t.padId, 0);
  assert.equal(t.specialTokenCount(false), 2);
  assert.equal(t.specialTokenCount(true), 3);
  assert.equal(Tokenizer.fromJSON(JSON_UNCASED).maxLength, 512);
  assert.throws(() => Tokenizer.fromFile(join(dir, 'missing.json')), /cannot read tokenizer.json at .*missing.json/);
});

test('unsupported or broken tokenizer.json files fail with the component and its path', () => {
  const bpe = withComponent(['model'], { type: 'BPE', vocab: { a: 0 }, merges: [] });
  assert.throws(() => Tokenizer.fromJSON(bpe, 'bpe.json'), /^Error: bpe.json: model.type 'BPE' is not supported/);
  assert.throws(() => Tokenizer.fromJSON(withComponent(['model', 'vocab'], undefined)), /model.vocab is missing/);
  assert.throws(() => Tokenizer.fromJSON('{"model": ', 'cut.json'), /cut.json: not a tokenizer.json: invalid JSON at byte/);
  assert.throws(() => Tokenizer.fromJSON(withComponent(['pre_tokenizer'], { type: 'ByteLevel', add_prefix_space: false })),
    /pre_tokenizer.type 'ByteLevel' is not supported/);
  assert.throws(() => Tokenizer.fromJSON(withComponent(['pre_tokenizer'], { type: 'Metaspace', replacement: '▁' })),
    /pre_tokenizer.type 'Metaspace' is not supported/);
  assert.throws(() => Tokenizer.fromJSON(withComponent(['normalizer'], { type: 'Sequence', normalizers: [] })),
    /normalizer.type 'Sequence' is not supported/);
  assert.throws(() => Tokenizer.fromJSON(withComponent(['post_processor'], { type: 'ByteLevel' })),
    /post_processor.type 'ByteLevel' is not supported/);
  assert.throws(() => Tokenizer.fromJSON(withComponent(['model', 'unk_token'], '<unk>')), /model.unk_token '<unk>' is not in model.vocab/);
  // The reference refuses the same files (so rejecting them is not a parity gap).
  assert.throws(() => hf.Tokenizer.fromString('{"model": '));
});

test('options are checked and name the option', () => {
  const t = Tokenizer.fromJSON(JSON_UNCASED);
  assert.throws(() => t.encode('a', 'b', { maxLength: 0 }), /'maxLength' must be a positive integer/);
  assert.throws(() => t.encode('a', 'b', { maxLength: 2 }), /'maxLength' is 2 but every pair gets 3 special tokens/);
  assert.throws(() => t.encode('a', null, { truncation: 'only_first' as never }), /'truncation' must be/);
  assert.throws(() => t.encode('a', null, { side: 'middle' as never }), /'side' must be 'right' or 'left'/);
  assert.throws(() => t.encodeRaggedSync(['a', 'b'], ['c']), /'pairs' has 1 items but 'texts' has 2/);
  assert.throws(() => t.encodeRaggedSync([1 as never]), /texts\[0\] must be a string or a Buffer/);
});

test('only_second that cannot fit names the item, like the reference refuses it', async () => {
  const t = Tokenizer.fromJSON(JSON_UNCASED);
  const long = 'the quick brown fox jumps over the lazy dog '.repeat(4);
  assert.throws(() => t.encodeRaggedSync(['a', long], ['b', 'c'], { maxLength: 16, truncation: 'only_second' }),
    /^Error: texts\[1\] \+ pairs\[1\]: only_second truncation cannot fit it/);
  await assert.rejects(t.encodeRagged(['a', long], ['b', 'c'], { maxLength: 16, truncation: 'only_second' }), /texts\[1\] \+ pairs\[1\]/);
  // Single texts under only_second only fail when they must be cut (the reference needs a pair then).
  assert.deepEqual(t.encode('a', null, { truncation: 'only_second' }).ids.length, 3);
  assert.throws(() => t.encode(long, null, { maxLength: 8, truncation: 'only_second' }), /texts\[0\]: only_second truncation needs a second text/);
});

test('encodeRagged off the JS thread equals the sync path on a large batch', async () => {
  const t = Tokenizer.fromJSON(JSON_UNCASED);
  const texts: string[] = [], pairs: string[] = [];
  for (let i = 0; i < 600; i++) { texts.push(CORPUS[i % 40]); pairs.push(CORPUS[(i * 7) % CORPUS.length]); }
  assert.ok(texts.join('').length + pairs.join('').length > SYNC_ENCODE_MAX_CHARS, 'batch is large enough to go async');
  const pending = t.encodeRagged(texts, pairs, { maxLength: 48 });
  const sync = t.encodeRaggedSync(texts, pairs, { maxLength: 48 });
  const async = await pending;
  assert.equal(async.count, 600);
  assert.deepEqual(async.ids, sync.ids);
  assert.deepEqual(async.typeIds, sync.typeIds);
  assert.deepEqual(async.offsets, sync.offsets);
  assert.deepEqual(async.truncated, sync.truncated);
  for (let i = 0; i < 600; i++) assert.ok(async.offsets[i + 1] - async.offsets[i] <= 48);
  assert.ok(async.truncated.some((x) => x === 1) && async.truncated.some((x) => x === 0));
});

test('encodeBatch pads every row to the longest with [PAD], mask 0 and type 0', async () => {
  const t = Tokenizer.fromJSON(JSON_UNCASED);
  const b = await t.encodeBatch(['hello world', '', 'naïve café résumé Ångström Über'], ['x', 'y', 'z']);
  assert.equal(b.batchSize, 3);
  const lens = [0, 1, 2].map((i) => t.encode(['hello world', '', 'naïve café résumé Ångström Über'][i], ['x', 'y', 'z'][i]));
  assert.equal(b.seqLen, Math.max(...lens.map((l) => l.ids.length)));
  for (let r = 0; r < 3; r++) {
    assert.equal(b.lengths[r], lens[r].ids.length);
    for (let j = 0; j < b.seqLen; j++) {
      const o = r * b.seqLen + j;
      if (j < b.lengths[r]) {
        assert.equal(b.inputIds[o], BigInt(lens[r].ids[j]));
        assert.equal(b.tokenTypeIds[o], BigInt(lens[r].typeIds[j]));
        assert.equal(b.attentionMask[o], 1n);
      } else {
        assert.equal(b.inputIds[o], BigInt(t.padId));
        assert.equal(b.attentionMask[o], 0n);
        assert.equal(b.tokenTypeIds[o], 0n);
      }
    }
  }
});

test('padBatch picks rows in any order, pads with a non-zero pad id, and rejects bad rows', () => {
  const t = Tokenizer.fromJSON(JSON_UNCASED);
  const enc = t.encodeRaggedSync(['a', 'hello world again', 'b c']);
  const p = padBatch(enc, [2, 0], 7);
  assert.equal(p.batchSize, 2);
  assert.equal(p.seqLen, enc.offsets[3] - enc.offsets[2]);
  assert.deepEqual(Array.from(p.lengths), [enc.offsets[3] - enc.offsets[2], enc.offsets[1] - enc.offsets[0]]);
  const row1 = Array.from(p.inputIds.subarray(p.seqLen, 2 * p.seqLen), Number);
  assert.deepEqual(row1.slice(0, p.lengths[1]), Array.from(enc.ids.subarray(0, enc.offsets[1])));
  assert.ok(row1.slice(p.lengths[1]).every((x) => x === 7));
  assert.throws(() => padBatch(enc, [3], 0), /rows\[0\] is 3; the encoding holds 3 items/);
  const empty = padBatch(enc, [], 0);
  assert.equal(empty.seqLen, 0);
});

test('Buffers, NUL, empty and whitespace-only inputs encode like their string forms', () => {
  const t = Tokenizer.fromJSON(JSON_UNCASED);
  for (const s of ['', '   ', '\r\n\t', 'nul\u0000inside', 'café 東京']) {
    assert.deepEqual(t.encode(Buffer.from(s, 'utf8')), t.encode(s));
  }
  assert.deepEqual(t.encode('').ids, [2, 3]);
  assert.deepEqual(t.encode(' \u0000 ').ids, [2, 3]);
});
