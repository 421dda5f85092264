// A time-bounded fuzz run of the flatbuffers request decoder (src/wire/codec.ts decodeBinary), the JS
// counterpart of native/tests/fuzz_*.cpp: `node dist/test/fuzz.wire-decoder.js [seconds]` (default 60).
// Inputs: the frames in native/tests/corpus/wire/ (written there on first run from every message type),
// mutated (byte sets, bit flips, interesting u32 at 4-byte boundaries, truncations, splices) plus random
// frames with a valid identifier. Anything but a WireError or a message that re-encodes to itself, or a
// frame slower than 250 ms (the least of 3 tries, so a loaded machine does not count), is a failure: the frame is saved as native/tests/corpus/wire/crash-<hash>.bin
// (a regression input from then on) and the run exits 1. The quick version runs in `npm test`
// (test/70.wire.fuzz.test.ts).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { decodeBinary, encodeBinary, FILE_IDENTIFIER, WireError, type WireMessage } from '../src/wire/codec.js';
import { Rng } from '../models/random.js';

const CORPUS = fileURLToPath(new URL('../../native/tests/corpus/wire/', import.meta.url));
const MAX_BYTES = 64 * 1024;
const SLOW_MS = 250;
const f = Math.fround;
const SEEDS: WireMessage[] = [
  { type: 'rerank', id: 'r1', query: 'what is a cross-encoder?', passages: ['alpha', 'beta gamma', '', 'δέλτα'], threshold: 0.5, top_n: 2, truncate: true },
  { type: 'search', id: 's1', query: 'reranking', top_k: 100, threshold: 0.25, top_n: 5, truncate: false },
  { type: 'cancel', id: 'r1' },
  { type: 'accepted', id: 'r1' },
  { type: 'candidates', id: 's1', hits: [{ index: 0, doc_id: 'doc-42', retrieval_score: f(0.8), text: 'doc' }] },
  { type: 'partial', id: 'r1', results: [{ index: 2, logit: f(3.25), probability: f(0.96) }] },
  { type: 'final', id: 'r1', results: [{ index: 2, logit: f(3.25), probability: f(0.96) }], kept: [2], outcome: 'answer', threshold: 0.5 },
  { type: 'error', id: 'r1', error: 'boom', error_type: 'backend' },
];
const INTERESTING = [0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff];

function corpus(): Uint8Array[] {
  if (!existsSync(CORPUS)) mkdirSync(CORPUS, { recursive: true });
  if (readdirSync(CORPUS).length === 0) SEEDS.forEach((m) => writeFileSync(join(CORPUS, `seed-${m.type}.bin`), encodeBinary(m)));
  return readdirSync(CORPUS).sort().map((n) => new Uint8Array(readFileSync(join(CORPUS, n))));
}

/** Milliseconds one decode of `frame` takes, the least of `tries` (a loaded machine or a GC pause can stall any one try). */
function decodeMs(frame: Uint8Array, tries: number): number {
  let best = Infinity;
  for (let i = 0; i < tries; i++) {
    const t0 = performance.now();
    try { decodeBinary(frame, { maxBytes: MAX_BYTES }); } catch { /* timed only */ }
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** Why `frame` is a bug, or null when the decoder behaved. */
function check(frame: Uint8Array): string | null {
  const t0 = performance.now();
  let msg: WireMessage | undefined;
  try {
    msg = decodeBinary(frame, { maxBytes: MAX_BYTES });
  } catch (e) {
    if (!(e instanceof WireError)) return `threw ${String(e)}`;
    if (e.message.length === 0 || e.message.length > 1000) return `an error message of ${e.message.length} chars`;
  }
  if (performance.now() - t0 > SLOW_MS) {
    const ms = decodeMs(frame, 3);
    if (ms > SLOW_MS) return `took ${ms.toFixed(0)} ms (the least of 3 tries)`;
  }
  if (msg) {
    try {
      if (!isDeepStrictEqual(decodeBinary(encodeBinary(msg)), msg)) return 'decoded to a message that does not survive a re-encode';
    } catch (e) {
      return `decoded to a message that cannot be re-encoded: ${String(e)}`;
    }
  }
  return null;
}

function mutate(r: Rng, src: Uint8Array, seeds: Uint8Array[]): Uint8Array {
  let b = src.slice();
  const edits = 1 + Math.floor(r.next() * 6);
  for (let e = 0; e < edits; e++) {
    const pos = Math.floor(r.next() * b.length);
    const op = r.next();
    if (op < 0.3) b[pos] = Math.floor(r.next() * 256);
    else if (op < 0.5) b[pos] ^= 1 << Math.floor(r.next() * 8);
    else if (op < 0.75 && pos + 4 <= b.length) new DataView(b.buffer).setUint32(pos & ~3, INTERESTING[Math.floor(r.next() * INTERESTING.length)] >>> 0, true);
    else if (op < 0.85) b = b.subarray(0, pos).slice();
    else {
      const other = seeds[Math.floor(r.next() * seeds.length)];
      const out = new Uint8Array(pos + Math.max(0, other.length - pos));
      out.set(b.subarray(0, pos));
      out.set(other.subarray(Math.min(pos, other.length)), pos);
      b = out;
    }
  }
  return b;
}

function randomFrame(r: Rng): Uint8Array {
  const n = Math.floor(r.next() * 300);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r.next() * 256);
  if (n >= 8) {
    for (let i = 0; i < 4; i++) b[4 + i] = FILE_IDENTIFIER.charCodeAt(i);
    new DataView(b.buffer).setUint32(0, 8 + 4 * Math.floor(r.next() * ((n - 8) / 4)), true);
  }
  return b;
}

function main(): void {
  const seconds = Number(process.argv[2] ?? 60);
  const seed = Number(process.env.CROSSGATE_FUZZ_SEED ?? 1);
  const seeds = corpus();
  for (const [i, s] of seeds.entries()) {
    const bug = check(s);
    if (bug) { console.error(`corpus input #${i}: ${bug}`); process.exit(1); }
  }
  const r = new Rng(seed);
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  let n = 0;
  while (performance.now() - start < seconds * 1000) {
    for (let k = 0; k < 256; k++, n++) {
      const frame = r.next() < 0.85 ? mutate(r, seeds[Math.floor(r.next() * seeds.length)], seeds) : randomFrame(r);
      const bug = check(frame);
      if (bug) {
        const name = `crash-${createHash('sha1').update(frame).digest('hex').slice(0, 16)}.bin`;
        writeFileSync(join(CORPUS, name), frame);
        console.error(`fuzz wire: input #${n} ${bug}; saved as native/tests/corpus/wire/${name}`);
        process.exit(1);
      }
    }
  }
  const cpu = process.cpuUsage(cpu0);
  console.log(`fuzz wire: ${seeds.length} corpus frames + ${n} generated in ${((performance.now() - start) / 1000).toFixed(0)} s ` +
    `(${((cpu.user + cpu.system) / 60e6).toFixed(2)} CPU-minutes, seed ${seed}), no failure`);
}

main();
