import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as flatbuffers from 'flatbuffers';
import {
  decodeBinary, decodeClientFrame, decodeJson, decodeServerFrame, encodeBinary, encodeFrame, encodeJson,
  FILE_IDENTIFIER, MAX_ID_BYTES, WireError, type WireMessage,
} from '../src/wire/codec.js';
import { Candidates, Envelope, ErrorReply, Hit, Message, RerankRequest } from '../src/wire/generated/crossgate_generated.js';

const f = Math.fround;

/** One of each message kind, with optional fields both set and unset; scores are float32 values. */
const SAMPLES: WireMessage[] = [
  { type: 'rerank', id: 'r1', query: 'what is a cross-encoder?', passages: ['A model that reads both texts.', '', 'ünïcødé 🚀 text'], threshold: 0.5, top_n: 2, truncate: true },
  { type: 'rerank', id: 'r2', query: 'q', passages: [] },
  { type: 'rerank', id: 'zeros', query: 'q', passages: ['p'], threshold: 0, top_n: 1, truncate: false },
  { type: 'search', id: 's1', query: 'reranking', top_k: 100, threshold: 0.25, top_n: 5, truncate: false },
  { type: 'search', id: 's2', query: '' },
  { type: 'cancel', id: 'r1' },
  { type: 'accepted', id: 'r1' },
  { type: 'candidates', id: 's1', hits: [
    { index: 0, doc_id: 'faq/reset-password#2', retrieval_score: f(0.83), text: 'doc forty-two' },
    { index: 1, doc_id: '18446744073709551616', retrieval_score: f(-0.25) },
    { index: 2, doc_id: 'ünïcødé-🚀', retrieval_score: f(0) },
  ] },
  { type: 'candidates', id: 's2', hits: [] },
  { type: 'partial', id: 'r1', results: [{ index: 2, logit: f(3.25), probability: f(0.9627) }, { index: 0, logit: f(-1.5), probability: f(0.1824) }] },
  { type: 'final', id: 'r1', results: [{ index: 2, logit: f(3.25), probability: f(0.9627) }, { index: 0, logit: f(-1.5), probability: f(0.1824) }], kept: [2], outcome: 'answer', threshold: 0.5, augment: false },
  { type: 'final', id: 'r2', results: [], kept: [], outcome: 'no_relevant', augment: true },
  // The whole decision flow's outcomes travel in both encodings (augment: the binary Final derives it from the outcome).
  { type: 'final', id: 'r3', results: [{ index: 4, logit: f(1.5), probability: f(0.8176) }], kept: [4], outcome: 'answer_from_fallback', threshold: 0.5, augment: false },
  { type: 'final', id: 'r4', results: [{ index: 0, logit: f(0), probability: f(0.5) }], kept: [0], outcome: 'ambiguous', threshold: 0.3, augment: true },
  { type: 'error', id: 'r1', error: 'passages[3] is 9,812 tokens; max_input_tokens is 512; pass truncate=true', error_type: 'input_too_long' },
  { type: 'error', error: 'text frame is not valid JSON', error_type: 'invalid_input' },
];

test('every message kind survives JSON and binary round trips unchanged', () => {
  for (const m of SAMPLES) {
    assert.deepEqual(decodeJson(encodeJson(m)), m, `json ${m.type} ${'id' in m ? m.id : ''}`);
    const bin = encodeBinary(m);
    assert.deepEqual(decodeBinary(bin), m, `binary ${m.type}`);
    // JSON -> model -> binary -> model: both encodings carry the same message.
    assert.deepEqual(decodeBinary(encodeBinary(decodeJson(encodeJson(m)))), m);
    // The frame helpers pick the encoding from the frame kind (text = JSON, binary = flatbuffers).
    const decode = ['rerank', 'search', 'cancel'].includes(m.type) ? decodeClientFrame : decodeServerFrame;
    assert.deepEqual(decode(encodeFrame(m, 'binary'), true), m);
    assert.deepEqual(decode(Buffer.from(encodeFrame(m, 'json')), false), m);
  }
});

test('binary frames carry the file identifier and decode from an ArrayBuffer slice at any offset', () => {
  const bin = encodeBinary(SAMPLES[0]);
  assert.equal(Buffer.from(bin.subarray(4, 8)).toString('latin1'), FILE_IDENTIFIER);
  const padded = new Uint8Array(bin.length + 3);
  padded.set(bin, 3);
  assert.deepEqual(decodeBinary(padded.subarray(3)), SAMPLES[0]);
  const ab = new ArrayBuffer(bin.byteLength);
  new Uint8Array(ab).set(bin);
  assert.deepEqual(decodeBinary(ab), SAMPLES[0]);
});

test('optional scalars set to 0 / false are not lost in binary frames (flatc 2.0.8 default-value pitfall)', () => {
  const m = decodeBinary(encodeBinary({ type: 'rerank', id: 'z', query: 'q', passages: [], threshold: 0, top_n: 1, truncate: false }));
  assert.equal((m as { threshold?: number }).threshold, 0);
  assert.equal((m as { truncate?: boolean }).truncate, false);
  const unset = decodeBinary(encodeBinary({ type: 'search', id: 'z', query: 'q' }));
  assert.deepEqual(unset, { type: 'search', id: 'z', query: 'q' });
});

function wireError(fn: () => unknown): WireError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof WireError, `expected WireError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a WireError');
}

test('JSON decode names the field, the expectation and what it got', () => {
  const cases: [string, string, string, RegExp][] = [
    ['{"type":"rerank","id":"a","query":"q","passages":"x"}', 'validation', 'passages', /passages must be an array; got string/],
    ['{"type":"rerank","id":"a","query":"q","passages":["x",7]}', 'validation', 'passages[1]', /passages\[1\] must be a string; got number 7/],
    ['{"type":"rerank","id":"a","query":"q","passages":[],"top_n":0}', 'validation', 'top_n', /top_n must be an integer in 1\.\.4294967295; got number 0/],
    ['{"type":"rerank","id":"a","query":"q","passages":[],"top_n":2.5}', 'validation', 'top_n', /top_n/],
    ['{"type":"rerank","id":"a","query":"q","passages":[],"truncate":"yes"}', 'validation', 'truncate', /truncate must be true or false; got string/],
    ['{"type":"rerank","id":"a","query":"q","passages":[],"threshold":"0.5"}', 'validation', 'threshold', /threshold must be a finite number/],
    ['{"type":"rerank","id":"a","passages":[]}', 'validation', 'query', /rerank is missing required field 'query'/],
    ['{"type":"rerank","id":"a","query":"q","passages":[],"topn":3}', 'validation', 'rerank.topn', /unknown field 'topn'; allowed fields: type, id, query, passages, threshold, top_n, truncate/],
    ['{"type":"search","id":5,"query":"q"}', 'validation', 'id', /id must be a non-empty string/],
    ['{"type":"embed","id":"a"}', 'validation', 'type', /type must be one of rerank, search, ask, cancel, accepted/],
    ['{"type":"rerank",', 'invalid_input', '', /not valid JSON/],
    ['[1,2]', 'invalid_input', '', /must hold a JSON object with a "type" field; got array/],
  ];
  for (const [text, kind, field, re] of cases) {
    const e = wireError(() => decodeJson(text));
    assert.equal(e.kind, kind, text);
    if (field) assert.equal(e.field, field, text);
    assert.match(e.message, re, text);
  }
  // Errors after the id was read carry it, so the server can answer that request.
  assert.equal(wireError(() => decodeJson('{"type":"rerank","id":"abc","query":"q","passages":[1]}')).id, 'abc');
  // null means "not set" for optional fields.
  assert.deepEqual(decodeJson('{"type":"search","id":"a","query":"q","top_k":null}'), { type: 'search', id: 'a', query: 'q' });
  const longId = 'x'.repeat(MAX_ID_BYTES + 1);
  assert.match(wireError(() => decodeJson(JSON.stringify({ type: 'cancel', id: longId }))).message, /id is 257 bytes; ids are at most 256 bytes/);
});

test('frames over the size limit are refused as payload_too_large before parsing', () => {
  const m: WireMessage = { type: 'rerank', id: 'big', query: 'q', passages: ['x'.repeat(5000)] };
  const j = wireError(() => decodeJson(encodeJson(m), { maxBytes: 4096 }));
  assert.equal(j.kind, 'payload_too_large');
  assert.match(j.message, /text frame is 5,0\d\d bytes; the limit is 4,096 bytes \(ws_max_message_bytes\)/);
  assert.equal(wireError(() => decodeBinary(encodeBinary(m), { maxBytes: 4096 })).kind, 'payload_too_large');
});

test('clients cannot send server messages and vice versa', () => {
  const e = wireError(() => decodeClientFrame(encodeJson({ type: 'final', id: 'x', results: [], kept: [], outcome: 'answer' }), false));
  assert.match(e.message, /type 'final' is sent by the server; clients send rerank, search, ask, cancel/);
  assert.equal(e.id, 'x');
  assert.match(wireError(() => decodeServerFrame(encodeBinary({ type: 'cancel', id: 'x' }), true)).message, /sent by clients/);
});

test('candidate doc_ids are the collection\'s string ids in both encodings; anything else is refused by name', () => {
  // Ids that a numeric wire type would have lost: not numbers, or past 2^64.
  const m: WireMessage = { type: 'candidates', id: 's', hits: [
    { index: 0, doc_id: 'kb:article/7?v=2', retrieval_score: f(0.5) },
    { index: 1, doc_id: '99999999999999999999999', retrieval_score: f(0.25), text: 't' },
  ] };
  for (const enc of ['json', 'binary'] as const) {
    const back = decodeServerFrame(encodeFrame(m, enc), enc === 'binary');
    assert.deepEqual(back, m, enc);
    assert.deepEqual((back as { hits: { doc_id: unknown }[] }).hits.map((h) => h.doc_id), ['kb:article/7?v=2', '99999999999999999999999']);
  }
  const numeric = wireError(() => decodeJson('{"type":"candidates","id":"s","hits":[{"index":0,"doc_id":42,"retrieval_score":0.5}]}'));
  assert.equal(numeric.field, 'hits[0].doc_id');
  assert.match(numeric.message, /hits\[0\]\.doc_id must be a non-empty string .*; got number 42/);
  assert.match(wireError(() => decodeJson('{"type":"candidates","id":"s","hits":[{"index":0,"doc_id":"","retrieval_score":0.5}]}')).message, /doc_id must be a non-empty string/);
  assert.throws(() => encodeBinary({ type: 'candidates', id: 's', hits: [{ index: 0, doc_id: '', retrieval_score: 0 }] }), /hits\[0\]\.doc_id "": not a non-empty string/);

  // A binary Hit without doc_id (built by hand, skipping the generated required-field check).
  const b = new flatbuffers.Builder(64);
  const id = b.createString('s');
  Hit.startHit(b);
  Hit.addIndex(b, 0);
  Hit.addRetrievalScore(b, 0.5);
  const hit = b.endObject();
  const cands = Candidates.createCandidates(b, id, Candidates.createHitsVector(b, [hit]));
  Envelope.finishEnvelopeBuffer(b, Envelope.createEnvelope(b, Message.Candidates, cands));
  const missing = wireError(() => decodeBinary(b.asUint8Array()));
  assert.equal(missing.kind, 'invalid_input');
  assert.match(missing.message, /required field Hit\.doc_id is missing/);
});

test('encoders refuse NaN scores instead of sending null or garbage', () => {
  const bad: WireMessage = { type: 'partial', id: 'r', results: [{ index: 0, logit: Number.NaN, probability: 0.5 }] };
  assert.throws(() => encodeJson(bad), /results\[0\]\.logit = NaN: not a finite number/);
  assert.throws(() => encodeBinary(bad), /must be finite/);
});

test('a binary frame whose text is not UTF-8 is refused by the verifier', () => {
  // Build a rerank whose passage is a raw invalid byte sequence (createString accepts bytes).
  const b = new flatbuffers.Builder(64);
  const id = b.createString('r'), q = b.createString('q');
  const ps = RerankRequest.createPassagesVector(b, [b.createString(new Uint8Array([0x61, 0xff, 0xfe]))]);
  RerankRequest.startRerankRequest(b);
  RerankRequest.addId(b, id); RerankRequest.addQuery(b, q); RerankRequest.addPassages(b, ps);
  const r = RerankRequest.endRerankRequest(b);
  Envelope.finishEnvelopeBuffer(b, Envelope.createEnvelope(b, Message.RerankRequest, r));
  const e = wireError(() => decodeBinary(b.asUint8Array()));
  assert.equal(e.kind, 'invalid_input');
  assert.match(e.message, /RerankRequest\.passages\[0\] is not valid UTF-8/);
});

test('missing required fields and unknown union types are refused by name', () => {
  // ErrorReply without error_type: built by hand, skipping the generated required-field check.
  const b = new flatbuffers.Builder(64);
  const msg = b.createString('boom');
  ErrorReply.startErrorReply(b);
  ErrorReply.addError(b, msg);
  const off = b.endObject();
  Envelope.finishEnvelopeBuffer(b, Envelope.createEnvelope(b, Message.ErrorReply, off));
  assert.match(wireError(() => decodeBinary(b.asUint8Array())).message, /required field ErrorReply\.error_type is missing/);

  const good = encodeBinary({ type: 'cancel', id: 'abc' });
  // Find the union type byte (value 3 = CancelRequest) through the generated reader and overwrite it.
  const bb = new flatbuffers.ByteBuffer(good);
  const env = Envelope.getRootAsEnvelope(bb);
  const vt = env.bb_pos - bb.readInt32(env.bb_pos);
  const typePos = env.bb_pos + bb.readInt16(vt + 4);
  assert.equal(good[typePos], Message.CancelRequest);
  for (const t of [0, 9, 200]) {
    const copy = good.slice();
    copy[typePos] = t;
    assert.match(wireError(() => decodeBinary(copy)).message, new RegExp(`Envelope\\.message_type ${t} is not a known message type`));
  }
  // A union type that names a different table than the one stored: decodes as that type or fails cleanly.
  const copy = good.slice();
  copy[typePos] = Message.RerankRequest;
  const e = wireError(() => decodeBinary(copy));
  assert.equal(e.kind, 'invalid_input');
});

test('offsets past the end, wrong identifiers and truncation are clean invalid_input errors', () => {
  const good = encodeBinary(SAMPLES[0]);
  let refused = 0;
  for (let n = 0; n < good.length; n++) {
    try {
      // Cutting only trailing alignment padding leaves a complete frame: it must decode to the original.
      assert.deepEqual(decodeBinary(good.subarray(0, n)), SAMPLES[0], `truncated to ${n} decoded to something else`);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.ok(e instanceof WireError && e.kind === 'invalid_input', `truncated to ${n}: ${String(e)}`);
      refused++;
    }
  }
  assert.ok(refused >= good.length - 3, `${refused} of ${good.length} truncations refused`);
  const wrongId = good.slice();
  wrongId[4] = 'X'.charCodeAt(0);
  assert.match(wireError(() => decodeBinary(wrongId)).message, /file identifier is not "CGW1"/);
  const farRoot = good.slice();
  new DataView(farRoot.buffer).setUint32(0, 0x7ffffff0, true);
  assert.match(wireError(() => decodeBinary(farRoot)).message, /root table offset target at byte \d+ \(\+1\) runs past the end/);
});

test('a small frame whose strings are all one shared string cannot expand past the limit', () => {
  // 20,000 passage offsets all pointing at one 4 KiB string: ~84 KB on the wire, ~80 MB once decoded.
  const b = new flatbuffers.Builder(1024);
  const big = b.createString('y'.repeat(4096));
  const id = b.createString('amp'), q = b.createString('q');
  RerankRequest.startPassagesVector(b, 20_000);
  for (let i = 0; i < 20_000; i++) b.addOffset(big);
  const ps = b.endVector();
  RerankRequest.startRerankRequest(b);
  RerankRequest.addId(b, id); RerankRequest.addQuery(b, q); RerankRequest.addPassages(b, ps);
  Envelope.finishEnvelopeBuffer(b, Envelope.createEnvelope(b, Message.RerankRequest, RerankRequest.endRerankRequest(b)));
  const frame = b.asUint8Array();
  assert.ok(frame.length < 100_000);
  const t0 = performance.now();
  const e = wireError(() => decodeBinary(frame, { maxBytes: 1024 * 1024 }));
  assert.equal(e.kind, 'payload_too_large');
  assert.match(e.message, /expands past 1,048,576 bytes/);
  assert.ok(performance.now() - t0 < 1000);
  // The same sharing within the limit is legal and decodes.
  const ok = decodeBinary(frame, { maxBytes: 100 * 1024 * 1024 }) as { passages: string[] };
  assert.equal(ok.passages.length, 20_000);
  assert.equal(ok.passages[19_999].length, 4096);
});

const here = dirname(fileURLToPath(import.meta.url));
const repo = [resolve(here, '..'), resolve(here, '../..'), process.cwd()].find((d) => {
  try { readFileSync(join(d, 'src/wire/crossgate.fbs')); return true; } catch { return false; }
})!;

test('committed generated code matches the schema (only where flatc 2.0.8 is installed)', (t) => {
  const v = spawnSync('flatc', ['--version'], { encoding: 'utf8' });
  if (v.status !== 0 || !/2\.0\.8/.test(v.stdout)) {
    t.skip('flatc 2.0.8 not installed; the committed src/wire/generated/ is used as-is');
    return;
  }
  const out = mkdtempSync(join(tmpdir(), 'crossgate-fbs-'));
  try {
    execFileSync('bash', [join(repo, 'src/wire/gen.sh'), out]);
    const fresh = readFileSync(join(out, 'crossgate_generated.ts'), 'utf8');
    const committed = readFileSync(join(repo, 'src/wire/generated/crossgate_generated.ts'), 'utf8');
    assert.equal(fresh, committed, 'src/wire/generated/ is stale: run src/wire/gen.sh and commit the result');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the package entry exports the codec (same functions) and startServer, without loading uWS until a server starts', async (t) => {
  const entry = await import('../src/crossgate.js');
  assert.equal(entry.encodeFrame, encodeFrame);
  assert.equal(entry.decodeServerFrame, decodeServerFrame);
  assert.equal(entry.decodeClientFrame, decodeClientFrame);
  assert.equal(entry.WireError, WireError);
  assert.equal(typeof entry.startServer, 'function');
  const m = SAMPLES.find((s) => s.type === 'candidates')!;
  assert.deepEqual(entry.decodeServerFrame(new Uint8Array(entry.encodeFrame(m, 'binary')), true), m);
  if (!existsSync('/proc/self/maps')) {
    t.skip('no /proc/self/maps to check which native modules are loaded');
    return;
  }
  // A fresh process: importing the library does not map uWS's binary; importing the server module does
  // (which shows the check can see it).
  const url = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
  const script = `import { readFileSync } from 'node:fs'; const uws = () => /uws_/i.test(readFileSync('/proc/self/maps', 'utf8'));
    await import(${url('../src/crossgate.js')}); const entry = uws();
    await import(${url('../src/server/server.js')}); console.log(JSON.stringify({ entry, server: uws() }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), { entry: false, server: true });
});
