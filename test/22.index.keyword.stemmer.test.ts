// The native Porter stemmer, word for word against an independent implementation from npm (`stemmer`,
// wooorm's port of Porter's reference, with the same "bli" and "logi" departures Lucene keeps) over the
// 274,137 words of the `word-list` package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import wordListPath from 'word-list';
import { stemmer } from 'stemmer';
import { KeywordIndex } from '../src/index/index.js';

test('the analyzer stems every word of word-list exactly as the npm stemmer does', () => {
  const words = readFileSync(wordListPath, 'utf8').split('\n').filter((w) => w.length > 0);
  assert.ok(words.length > 270000, `word-list holds ${words.length} words`);
  // Only the stem step changes a lowercase a-z word once stop words and the possessive filter are off.
  const index = new KeywordIndex({ stopWords: 'none', possessive: false });
  const ours = index.analyze(words.join('\n'));
  assert.equal(ours.length, words.length, 'one term per word');
  const differences: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const theirs = stemmer(words[i]);
    if (ours[i] !== theirs) differences.push(`${words[i]}: native ${ours[i]}, npm ${theirs}`);
  }
  assert.deepEqual(differences.slice(0, 20), [], `${differences.length} of ${words.length} words differ`);
});

test('words with letters beyond a-z stem as in Lucene and the npm stemmer (UTF-16 units, not bytes)', () => {
  // Each non-ASCII letter is one consonant: a byte-wise stemmer saw "double consonants" inside a letter
  // and cut it in half (subc\uD000ed), stemmed two-letter words (és) and missed cvc endings (hoğe).
  const words = ['subc\uD000ed', 'és', 'hoğe', 'a𝔸𝔸ing', 'naïveness', 'cafés', 'résumés', 'façades', 'öffnung', 'señorita', 'ñandúes', 'übermäßig', 'crème', 'jalapeños', 'coördinated'];
  const index = new KeywordIndex({ stopWords: 'none', possessive: false, foldAccents: false });
  const ours = index.analyze(words.join('\n'));
  assert.deepEqual(ours, words.map((w) => stemmer(w)));
});
