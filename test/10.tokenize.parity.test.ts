// Parity: ids and type ids equal the reference `tokenizers` package for every corpus item, single and pair,
// with and without truncation, across normalizer settings, processors and added-token options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer } from '../src/tokenize/index.js';
import { buildTokenizerJson, CONFIGS, CORPUS, hf, rng } from './fixtures/tokenize/corpus.js';

type HfTokenizer = InstanceType<Hf['Tokenizer']>;
type Hf = typeof hf;


function pairsOf(n: number, seed: number): [number, number][] {
  const r = rng(seed);
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) out.push([i % CORPUS.length, Math.floor(r() * CORPUS.length)]);
  return out;
}

async function ref(t: HfTokenizer, a: string, b?: string): Promise<{ ids: number[]; typeIds: number[] } | Error> {
  try {
    const e = await t.encode(a, b ?? null);
    return { ids: e.getIds(), typeIds: e.getTypeIds() };
  } catch (err) {
    return err as Error;
  }
}

function rows(enc: { ids: Int32Array; typeIds: Uint8Array; offsets: Int32Array }, i: number) {
  const s = enc.offsets[i], e = enc.offsets[i + 1];
  return { ids: Array.from(enc.ids.subarray(s, e)), typeIds: Array.from(enc.typeIds.subarray(s, e)) };
}

for (const [name, cfg] of CONFIGS) {
  test(`parity with tokenizers: ${name}`, async () => {
    const json = buildTokenizerJson(cfg);
    const ours = Tokenizer.fromJSON(json, name);
    const theirs = hf.Tokenizer.fromString(json);
    let checked = 0;

    // Single texts, no truncation.
    const single = ours.encodeRaggedSync(CORPUS, null, { maxLength: Infinity });
    for (let i = 0; i < CORPUS.length; i++) {
      const want = await ref(theirs, CORPUS[i]);
      assert.ok(!(want instanceof Error), String(want));
      assert.deepEqual(rows(single, i), want, `single #${i} ${JSON.stringify(CORPUS[i])}`);
      checked++;
    }

    // Pairs, no truncation, through the async path too.
    const pairs = pairsOf(CORPUS.length, 99);
    const a = pairs.map(([x]) => CORPUS[x]), b = pairs.map(([, y]) => CORPUS[y]);
    const pairEnc = await ours.encodeRagged(a, b, { maxLength: Infinity });
    for (let i = 0; i < pairs.length; i++) {
      const want = await ref(theirs, a[i], b[i]);
      assert.ok(!(want instanceof Error), String(want));
      assert.deepEqual(rows(pairEnc, i), want, `pair #${i} ${JSON.stringify([a[i], b[i]])}`);
      checked++;
    }

    // Truncation: small max lengths, both strategies, both sides.
    const sub = pairs.slice(0, 160);
    const sa = sub.map(([x]) => CORPUS[x]), sb = sub.map(([, y]) => CORPUS[y]);
    for (const maxLength of [8, 16, 32]) {
      for (const [strategy, hfStrategy] of [['longest_first', 'LongestFirst'], ['only_second', 'OnlySecond']] as const) {
        for (const [side, hfSide] of [['right', 'right'], ['left', 'left']] as const) {
          theirs.setTruncation(maxLength, { strategy: hfStrategy as never, direction: hfSide });
          const opts = { maxLength, truncation: strategy, side } as const;
          for (let i = 0; i < sub.length; i++) {
            const want = await ref(theirs, sa[i], sb[i]);
            if (want instanceof Error) {
              // The reference refuses (only_second cannot shorten enough): so do we, naming the item.
              assert.throws(() => ours.encodeRaggedSync([sa[i]], [sb[i]], opts), /texts\[0\] \+ pairs\[0\]: only_second/);
              continue;
            }
            const got = ours.encode(sa[i], sb[i], opts);
            assert.deepEqual({ ids: got.ids, typeIds: got.typeIds }, want,
              `pair #${i} max ${maxLength} ${strategy} ${side}: ${JSON.stringify([sa[i], sb[i]])}`);
            const full = await ours.encodeRagged([sa[i]], [sb[i]], { maxLength: Infinity });
            assert.equal(got.truncated, full.ids.length > maxLength, 'truncated flag');
            checked++;
          }
          // Singles under the same limit (longest_first only: the reference refuses only_second without a pair).
          if (strategy === 'longest_first') {
            const enc = ours.encodeRaggedSync(sa, null, opts);
            for (let i = 0; i < sa.length; i++) {
              const want = await ref(theirs, sa[i]);
              assert.ok(!(want instanceof Error), String(want));
              assert.deepEqual(rows(enc, i), want, `single #${i} max ${maxLength} ${side}`);
              checked++;
            }
          }
        }
      }
    }
    theirs.disableTruncation();
    assert.ok(checked > 3000, `checked ${checked} cases`);
  });
}

test('parity: tokenizer.json truncation.max_length is the default limit', async () => {
  const json = buildTokenizerJson({ lowercase: true, stripAccents: null, truncationMaxLength: 24 });
  const ours = Tokenizer.fromJSON(json);
  const theirs = hf.Tokenizer.fromString(json);
  assert.equal(ours.maxLength, 24);
  const long = CORPUS.filter((t) => t.length > 40).slice(0, 30);
  for (let i = 0; i + 1 < long.length; i++) {
    const want = await ref(theirs, long[i], long[i + 1]);
    const got = ours.encode(long[i], long[i + 1]);
    assert.deepEqual({ ids: got.ids, typeIds: got.typeIds }, want);
    assert.ok(got.ids.length <= 24);
  }
});

test('parity: invalid UTF-8 in a Buffer reads like Buffer#toString (U+FFFD per bad subsequence)', async () => {
  const json = buildTokenizerJson({ lowercase: false, stripAccents: false, cleanText: false });
  const ours = Tokenizer.fromJSON(json);
  const theirs = hf.Tokenizer.fromString(json);
  const bufs = [
    Buffer.from([0x61, 0xff, 0x62]), Buffer.from([0xe2, 0x82]), Buffer.from([0xf0, 0x9f, 0x98, 0x61, 0x80, 0x80]),
    Buffer.from([0xed, 0xa0, 0x80, 0x20, 0xc0, 0xaf]), Buffer.from([0xf4, 0x90, 0x80, 0x80, 0x5b, 0x53, 0x45, 0x50, 0x5d]),
    Buffer.concat([Buffer.from('café '), Buffer.from([0xc3]), Buffer.from(' 東京')]),
  ];
  const r = rng(5);
  for (let k = 0; k < 200; k++) {
    const n = Math.floor(r() * 24);
    const b = Buffer.alloc(n);
    for (let j = 0; j < n; j++) b[j] = r() < 0.5 ? 0x61 + Math.floor(r() * 26) : Math.floor(r() * 256);
    bufs.push(b);
  }
  const enc = ours.encodeRaggedSync(bufs, bufs.slice().reverse(), { maxLength: Infinity });
  for (let i = 0; i < bufs.length; i++) {
    const want = await ref(theirs, bufs[i].toString('utf8'), bufs[bufs.length - 1 - i].toString('utf8'));
    assert.deepEqual(rows(enc, i), want, `buffer #${i} ${bufs[i].toString('hex')}`);
  }
  // Under clean_text the replacement characters are dropped, as the reference drops U+FFFD.
  const cleaned = Tokenizer.fromJSON(buildTokenizerJson({ lowercase: true, stripAccents: null }));
  const a = cleaned.encode(Buffer.from([0x61, 0xff, 0x62])), c = cleaned.encode('ab');
  assert.deepEqual(a.ids, c.ids);
});
