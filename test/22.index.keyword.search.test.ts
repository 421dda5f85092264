// KeywordIndex: BM25 ranking a user can check by hand, the analyzer's steps, add/remove/persist, and bad input
// (empty text, a 10 MB document, NUL bytes, lone surrogates, a 1,000-term query) that errs clearly or works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeywordIndex, MAX_QUERY_TERMS } from '../src/index/index.js';

const dir = mkdtempSync(join(tmpdir(), 'cg-kw-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('BM25 scores are Lucene\'s for a hand-computed case', async () => {
  const index = new KeywordIndex({ language: 'none', stopWords: 'none' });
  await index.add([
    { id: 10, text: 'apple banana apple' },
    { id: 20, text: 'banana cherry' },
    { id: 30, text: 'cherry' },
  ]);
  // idf(apple) = ln(1 + 2.5/1.5); doc 10: tf 2, dl 3, avgdl 2 -> 0.98082925 * 2 / (2 + 1.2 * 1.375)
  const [hit] = await index.search('apple', 5);
  assert.equal(hit.id, 10);
  assert.ok(Math.abs(hit.score - 0.53744069) < 1e-6, `score ${hit.score}`);
  assert.deepEqual((await index.search('banana cherry', 5)).map((h) => h.id), [20, 30, 10]);
});

test('the English analyzer: possessive, lowercase, accents, stop words, Porter', () => {
  const index = new KeywordIndex();
  assert.deepEqual(index.analyze("The Computer's memories are RUNNING at Cafés"), ['comput', 'memori', 'run', 'cafe']);
  assert.deepEqual(new KeywordIndex({ stem: false }).analyze('Running dogs'), ['running', 'dogs']);
  assert.deepEqual(new KeywordIndex({ stopWords: ['dogs'] }).analyze('the dogs'), ['the']);
  assert.deepEqual(new KeywordIndex({ foldAccents: false, language: 'none' }).analyze('Café'), ['café']);
  assert.throws(() => new KeywordIndex({ language: 'klingon' as 'none' }), /options.language is 'klingon'; use 'english' or 'none'/);
  assert.throws(() => new KeywordIndex({ b: 2 }), /options.b is 2; expected a number from 0 to 1/);
  assert.throws(() => new KeywordIndex({ k1: -1 }), /options.k1 is -1/);
  assert.throws(() => new KeywordIndex({ stopWords: [''] }), /options.stopWords\[0\]/);
  assert.throws(() => new KeywordIndex({ bogus: 1 } as never), /options.bogus is not a keyword index option/);
});

test('a title match counts like a text match by default, and more with titleWeight', async () => {
  const plain = new KeywordIndex();
  await plain.add([{ id: 1, title: 'Rockets', text: 'launch vehicles' }, { id: 2, text: 'rockets launch vehicles' }]);
  const [a, b] = await plain.search('rocket', 2);
  assert.equal(a.score, b.score);
  const weighted = new KeywordIndex({ titleWeight: 3 });
  await weighted.add([{ id: 1, title: 'Rockets', text: 'launch' }, { id: 2, title: 'Launch', text: 'rockets' }]);
  assert.equal((await weighted.search('rocket', 2))[0].id, 1);
});

test('remove keeps statistics exact, and save/load round-trips settings and scores', async () => {
  const index = new KeywordIndex({ k1: 0.9, b: 0.4, stopWords: ['of'] });
  await index.add([
    { id: 1, title: 'Theory of computation', text: 'Turing machines and automata' },
    { id: 2, text: 'Compilers translate programs' },
    { id: 3, text: 'Automata theory for compilers' },
  ]);
  assert.equal(index.remove([3, 99]), 1);
  const fresh = new KeywordIndex({ k1: 0.9, b: 0.4, stopWords: ['of'] });
  await fresh.add([{ id: 1, title: 'Theory of computation', text: 'Turing machines and automata' }, { id: 2, text: 'Compilers translate programs' }]);
  assert.deepEqual(await index.search('automata compilers', 5), await fresh.search('automata compilers', 5));
  const path = join(dir, 'kw.cgki');
  await index.save(path);
  const back = await KeywordIndex.load(path);
  assert.equal(back.count, 2);
  assert.deepEqual(back.options.stopWords, ['of']);
  assert.equal(back.options.k1, 0.9);
  assert.deepEqual(await back.search('automata compilers', 5), await index.search('automata compilers', 5));
  const bytes = readFileSync(path);
  writeFileSync(join(dir, 'short.cgki'), bytes.subarray(0, bytes.length - 9));
  await assert.rejects(KeywordIndex.load(join(dir, 'short.cgki')), (e: NodeJS.ErrnoException) => e.code === 'ERR_CROSSGATE_INDEX_CORRUPT' && /short.cgki.*truncated/.test(e.message));
  const flipped = Buffer.from(bytes);
  flipped[70] ^= 1;
  writeFileSync(join(dir, 'flip.cgki'), flipped);
  await assert.rejects(KeywordIndex.load(join(dir, 'flip.cgki')), /checksum mismatch/);
  await assert.rejects(KeywordIndex.load(join(dir, 'missing.cgki')), (e: NodeJS.ErrnoException) => e.code === 'ERR_CROSSGATE_INDEX_IO');
});

test('bad input gets a clear error or a correct result', async () => {
  const index = new KeywordIndex();
  await index.add([
    { id: 1, text: '' },
    { id: 2, text: 'nul\u0000separated\u0000words' },
    { id: 3, text: 'lone \ud800surrogate\udfff here' },
    { id: 4, text: 'lorem ipsum '.repeat(900_000) }, // ~10.8 MB
  ]);
  assert.equal(index.count, 4);
  assert.deepEqual((await index.search('separated', 5)).map((h) => h.id), [2]);
  assert.deepEqual((await index.search('surrogate', 5)).map((h) => h.id), [3]);
  assert.deepEqual((await index.search('\ud800', 5)), []);
  assert.deepEqual(await index.search('', 5), []);
  const longQuery = Array.from({ length: 1000 }, (_, i) => `term${i}`).join(' ') + ' lorem';
  assert.deepEqual((await index.search(longQuery, 5)).map((h) => h.id), [4]);
  await assert.rejects(index.search('w '.repeat(MAX_QUERY_TERMS + 1), 5), /query has 10001 terms after analysis; the limit is 10000; shorten the query/);
  await assert.rejects(index.add([{ id: 1, text: 'again' }]), /documents\[0\].id = 1 is already in the index/);
  await assert.rejects(index.add([{ id: 5, text: 'a' }, { id: 5, text: 'b' }]), /documents\[1\].id = 5 repeats documents\[0\].id/);
  await assert.rejects(index.add([{ id: -1, text: 'x' }]), /documents\[0\].id is -1; ids must be integers/);
  await assert.rejects(index.add([{ id: 6, text: 7 as unknown as string }]), /documents\[0\].text is 7; expected a string/);
  await assert.rejects(index.search('x', 0), /k is 0; k must be a positive integer/);
  await assert.rejects(index.search(5 as unknown as string, 1), /query must be a string; got 5/);
  assert.equal(index.count, 4);
});
