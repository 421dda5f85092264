import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeBinary, decodeJson, encodeBinary, encodeJson, FILE_IDENTIFIER, WireError, type WireMessage,
} from '../src/wire/codec.js';
import { Rng } from '../models/random.js';

/** mulberry32: a seeded generator, so any failure replays exactly. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

const f = Math.fround;
const SEEDS: WireMessage[] = [
  { type: 'rerank', id: 'r1', query: 'what is a cross-encoder?', passages: ['alpha', 'beta gamma', '', 'δέλτα'], threshold: 0.5, top_n: 2, truncate: true },
  { type: 'search', id: 's1', query: 'reranking', top_k: 100, threshold: 0.25, top_n: 5, truncate: false },
  { type: 'cancel', id: 'r1' },
  { type: 'accepted', id: 'r1' },
  { type: 'candidates', id: 's1', hits: [{ index: 0, doc_id: 'doc-42', retrieval_score: f(0.8), text: 'doc' }, { index: 1, doc_id: '7', retrieval_score: f(0.1) }] },
  { type: 'partial', id: 'r1', results: [{ index: 2, logit: f(3.25), probability: f(0.96) }, { index: 0, logit: f(-1.5), probability: f(0.18) }] },
  { type: 'final', id: 'r1', results: [{ index: 2, logit: f(3.25), probability: f(0.96) }], kept: [2], outcome: 'answer', threshold: 0.5 },
  { type: 'error', id: 'r1', error: 'boom', error_type: 'backend' },
];
const VALID = SEEDS.map((m) => encodeBinary(m));
const INTERESTING_U32 = [0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff];

const MAX_BYTES = 64 * 1024;
/** A hang guard, far above the ~0.05 ms a frame takes, so a loaded CI machine does not flake. */
const PER_FRAME_MS = 250;

function mutate(r: () => number, src: Uint8Array): Uint8Array {
  const b = src.slice();
  const dv = new DataView(b.buffer);
  const edits = 1 + Math.floor(r() * 6);
  for (let e = 0; e < edits; e++) {
    const pos = Math.floor(r() * b.length);
    const op = r();
    if (op < 0.4) b[pos] = Math.floor(r() * 256);
    else if (op < 0.6) b[pos] ^= 1 << Math.floor(r() * 8);
    else if (pos + 4 <= b.length) {
      const v = op < 0.85 ? INTERESTING_U32[Math.floor(r() * INTERESTING_U32.length)] : Math.floor(r() * b.length * 2);
      // Offsets, lengths and vtable entries live on 4/2-byte boundaries: hit those more often.
      dv.setUint32(pos & ~3, v >>> 0, true);
    }
  }
  return b;
}

function randomFrame(r: () => number): Uint8Array {
  const n = Math.floor(r() * 300);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  if (n >= 8 && r() < 0.7) {
    // Get past the identifier and root checks so the table walk itself is exercised.
    for (let i = 0; i < 4; i++) b[4 + i] = FILE_IDENTIFIER.charCodeAt(i);
    new DataView(b.buffer).setUint32(0, 8 + 4 * Math.floor(r() * ((n - 8) / 4)), true);
  }
  return b;
}

test('5,000 seeded random, mutated and truncated binary frames each give a clean error or a valid message', () => {
  const r = rng(0xc0ffee);
  const counts = { random: 0, mutated: 0, truncated: 0, spliced: 0 };
  const outcome = { ok: 0, invalid_input: 0, validation: 0, payload_too_large: 0 };
  let slowest = 0;
  for (let i = 0; i < 5000; i++) {
    const pick = r();
    const src = VALID[Math.floor(r() * VALID.length)];
    let frame: Uint8Array;
    let kind: keyof typeof counts;
    if (pick < 0.2) { kind = 'random'; frame = randomFrame(r); }
    else if (pick < 0.7) { kind = 'mutated'; frame = mutate(r, src); }
    else if (pick < 0.9) { kind = 'truncated'; frame = src.subarray(0, Math.floor(r() * src.length)); }
    else {
      kind = 'spliced';
      const other = VALID[Math.floor(r() * VALID.length)];
      const cut = Math.floor(r() * src.length);
      frame = new Uint8Array(cut + other.length - Math.min(cut, other.length));
      frame.set(src.subarray(0, cut));
      frame.set(other.subarray(Math.min(cut, other.length)), cut);
    }
    counts[kind]++;
    const t0 = performance.now();
    let msg: WireMessage | undefined;
    try {
      msg = decodeBinary(frame, { maxBytes: MAX_BYTES });
    } catch (e) {
      if (!(e instanceof WireError)) {
        assert.fail(`frame #${i} (${kind}, ${frame.length} bytes, ${Buffer.from(frame).toString('hex')}) threw ${String(e)}`);
      }
      outcome[e.kind]++;
      assert.ok(e.message.length > 0 && e.message.length < 1000, `frame #${i}: message of ${e.message.length} chars`);
    }
    const ms = performance.now() - t0;
    slowest = Math.max(slowest, ms);
    assert.ok(ms < PER_FRAME_MS, `frame #${i} (${kind}) took ${ms.toFixed(1)} ms`);
    if (msg) {
      outcome.ok++;
      // Whatever decodes is a real message: bounded in size and stable through a re-encode.
      assert.ok(encodeJson(msg).length <= 2 * MAX_BYTES, `frame #${i} decoded to an oversized message`);
      assert.deepEqual(decodeBinary(encodeBinary(msg)), msg, `frame #${i} is not stable through re-encoding`);
    }
  }
  // The corpus must reach both sides: mutations inside string bytes and scores still decode.
  assert.ok(outcome.ok >= 100, `only ${outcome.ok} frames decoded: ${JSON.stringify(outcome)}`);
  assert.ok(outcome.invalid_input >= 2000, `only ${outcome.invalid_input} refused: ${JSON.stringify(outcome)}`);
  assert.ok(Object.values(counts).every((c) => c > 100), JSON.stringify(counts));
  assert.ok(slowest < PER_FRAME_MS);
});

test('2,000 seeded mutated JSON frames each give a clean error or a valid message', () => {
  const r = rng(42);
  const texts = SEEDS.map((m) => encodeJson(m));
  const alphabet = '{}[]",:0123456789.-eE truefalsnul\\"ü\u0000';
  let ok = 0;
  for (let i = 0; i < 2000; i++) {
    const chars = [...texts[Math.floor(r() * texts.length)]];
    const edits = 1 + Math.floor(r() * 4);
    for (let e = 0; e < edits; e++) {
      const pos = Math.floor(r() * chars.length);
      const op = r();
      if (op < 0.4) chars[pos] = alphabet[Math.floor(r() * alphabet.length)];
      else if (op < 0.7) chars.splice(pos, 1);
      else chars.splice(pos, 0, alphabet[Math.floor(r() * alphabet.length)]);
    }
    const text = chars.join('');
    try {
      const m = decodeJson(text, { maxBytes: MAX_BYTES });
      ok++;
      assert.deepEqual(decodeJson(encodeJson(m)), m);
    } catch (e) {
      if (!(e instanceof WireError)) assert.fail(`json #${i} ${JSON.stringify(text)} threw ${String(e)}`);
    }
  }
  assert.ok(ok > 20 && ok < 1900, `${ok} of 2000 decoded`);
});
