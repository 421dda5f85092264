// /ws end to end on a real server (127.0.0.1, port 0) with the tiny generated models: streaming order
// for rerank and search in JSON and flatbuffers, scores equal to CrossEncoder.score, multiplexing, cancel,
// a client that vanishes mid-request, malformed frames, the frame size limit, and streaming across batches (partials before the final).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { Collection } from '../src/pipeline/collection.js';
import { defaultConfig, type ServerConfig } from '../src/server/limits.js';
import type { RunningServer } from '../src/server/server.js';
import { encodeBinary, type FinalMessage, type PartialMessage, type ServerMessage } from '../src/wire/codec.js';
// The server and the client codec come from the package entry, as an application would import them.
import * as crossgate from '../src/crossgate.js';
import { startServer } from '../src/crossgate.js';
import WebSocket from 'ws';
import { untilIdle } from './40.infer.idle.js';
import { TestClient, type Received } from './81.server.ws.client.js';

const WORDS = ('the a fox river bank loan interest rate model score rank passage query vector index batch token ' +
  'worker thread queue stream socket frame partial final cancel gate answer relevant search retrieve dense cross ' +
  'encoder tiny server client memory buffer drain limit close open json binary schema').split(' ');

/** Deterministic passages of 3..(3+spread) words. */
function passages(n: number, seed: number, spread = 40): string[] {
  let s = seed >>> 0;
  const rnd = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  return Array.from({ length: n }, (_, i) => {
    const len = 3 + Math.floor(rnd() * spread);
    const w: string[] = [`p${i}`];
    for (let k = 0; k < len; k++) w.push(WORDS[Math.floor(rnd() * WORDS.length)]);
    return w.join(' ');
  });
}

const MAX_MESSAGE = 256 * 1024;

function docId(i: number): string {
  return [`kb/article-${i}`, `faq:${i}#answer`, `dokumänt-${i}`, `${18446744073709551616n + BigInt(i)}`][i % 4];
}
const DOC_COUNT = 40;
let server: RunningServer;
let url: string;
let root: string;
const consoleErrors: string[] = [];
/** The server's operator log (5xx and shutdown lines). */
const serverLog: string[] = [];
const uncaught: unknown[] = [];
const origError = console.error;
const onUncaught = (e: unknown) => { uncaught.push(e); };

/** Rows the default reranker has run through inference so far (chained onto the server's onBatch hook). */
let rowsRun = 0;

before(async () => {
  const crossDir = await ensureGenerated('tiny-cross');
  const biDir = await ensureGenerated('tiny-bi');
  root = mkdtempSync(join(tmpdir(), 'crossgate-ws-'));
  // A collection whose ids are strings of every shape: words, paths, non-ASCII, and digits past 2^64.
  const bi = await BiEncoder.load(biDir, { workers: 1, threads: 1 });
  const coll = Collection.create(bi);
  await coll.add(passages(DOC_COUNT, 7).map((text, i) => ({ id: docId(i), text })));
  await coll.save(join(root, 'coll'));
  await bi.close();

  const config: ServerConfig = {
    ...defaultConfig(), host: '127.0.0.1', port: 0, workers: 1, threads: 1,
    wsMaxMessageBytes: MAX_MESSAGE, maxQueueTokens: 2_000_000,
  };
  server = await startServer(config, {
    rerankers: [{ name: 'tiny', dir: crossDir }], embedders: [{ name: 'tiny-bi', dir: biDir }], collection: join(root, 'coll'),
  }, { log: (line) => serverLog.push(line) });
  url = `ws://127.0.0.1:${server.port}/ws`;
  const sched = server.ctx.reranker(null).encoder.queue;
  const prev = sched.onBatch;
  sched.onBatch = (b) => { prev?.(b); rowsRun += b.rows; };
  console.error = (...args: unknown[]) => { consoleErrors.push(args.map(String).join(' ')); origError(...args); };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
});

after(async () => {
  console.error = origError;
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
  await server?.shutdown('test over');
  if (root) rmSync(root, { recursive: true, force: true });
});

function types(rs: Received[]): string[] {
  return rs.map((r) => r.msg.type);
}

/** accepted, [candidates], partial+, final: each kind in that order, partials at least once. */
function assertOrder(rs: Received[], withCandidates: boolean, what: string): void {
  const t = types(rs);
  const squeezed = t.filter((x, i) => i === 0 || x !== t[i - 1]);
  assert.deepEqual(squeezed, withCandidates ? ['accepted', 'candidates', 'partial', 'final'] : ['accepted', 'partial', 'final'], `${what}: ${t.join(',')}`);
}

/** Checks the partials cover 0..n-1 exactly once and the final equals the reference scores. */
function assertScores(rs: Received[], ref: { logits: Float32Array; probabilities: Float32Array }, threshold: number, what: string): FinalMessage {
  const n = ref.probabilities.length;
  const seen = new Uint8Array(n);
  const partialScore = new Map<number, number>();
  for (const r of rs) {
    if (r.msg.type !== 'partial') continue;
    for (const s of (r.msg as PartialMessage).results) {
      assert.ok(s.index < n, `${what}: partial index ${s.index} out of range`);
      assert.equal(seen[s.index], 0, `${what}: index ${s.index} in two partials`);
      seen[s.index] = 1;
      partialScore.set(s.index, s.probability);
    }
  }
  assert.equal(seen.reduce((a, b) => a + b, 0), n, `${what}: partials must cover every passage`);
  const final = rs[rs.length - 1].msg as FinalMessage;
  assert.equal(final.type, 'final');
  assert.equal(final.results.length, n);
  assert.deepEqual([...final.results.map((r) => r.index)].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
  for (let i = 0; i < n; i++) {
    const r = final.results[i];
    if (i > 0) assert.ok(final.results[i - 1].probability >= r.probability, `${what}: final not sorted at ${i}`);
    assert.ok(Math.abs(r.probability - ref.probabilities[r.index]) <= 1e-5, `${what}: probability of ${r.index}: ${r.probability} vs ${ref.probabilities[r.index]}`);
    assert.ok(Math.abs(r.logit - ref.logits[r.index]) <= 1e-4, `${what}: logit of ${r.index}`);
    // The streamed partial score is the same number the final carries.
    assert.equal(partialScore.get(r.index), r.probability);
  }
  assert.equal(final.threshold, threshold);
  assert.deepEqual(final.kept, final.results.filter((r) => r.probability >= threshold).map((r) => r.index));
  assert.equal(final.outcome, final.kept.length > 0 ? 'answer' : 'no_relevant');
  return final;
}

function reference(query: string, ps: string[]) {
  return server.ctx.reranker(null).encoder.score(query, ps);
}

for (const encoding of ['json', 'binary'] as const) {
  test(`rerank over ${encoding}: accepted, partial+, final; partials cover every passage once; final equals CrossEncoder.score`, async () => {
    const c = await TestClient.open(url);
    const ps = passages(300, 11);
    const query = 'fox river bank interest';
    const threshold = 0.5;
    c.send({ type: 'rerank', id: `r-${encoding}`, query, passages: ps, threshold }, encoding);
    const rs = await c.settled(`r-${encoding}`);
    assert.ok(rs.every((r) => r.binary === (encoding === 'binary')), 'replies come in the encoding of the request');
    assertOrder(rs, false, encoding);
    assertScores(rs, await reference(query, ps), threshold, encoding);
    assert.deepEqual(c.undecodable, []);
    await c.close();
  });

  test(`search over ${encoding}: accepted, candidates (the collection's string ids, texts, retrieval scores), partial+, final over the candidates`, async () => {
    const c = await TestClient.open(url);
    const query = 'dense retrieve cross encoder';
    c.send({ type: 'search', id: 's1', query, top_k: 12, threshold: 0.3 }, encoding);
    const rs = await c.settled('s1');
    assertOrder(rs, true, `search ${encoding}`);
    const cand = rs.find((r) => r.msg.type === 'candidates')!.msg as Extract<ServerMessage, { type: 'candidates' }>;
    assert.equal(cand.hits.length, 12);
    assert.deepEqual(cand.hits.map((h) => h.index), Array.from({ length: 12 }, (_, i) => i));
    const docs = server.ctx.collection!;
    // doc_id is the id the collection stores, as is, in retrieval order.
    assert.deepEqual(cand.hits.map((h) => h.doc_id), (await docs.search(query, 12)).map((h) => h.id));
    assert.ok(cand.hits.some((h) => !/^\d+$/.test(h.doc_id)), 'non-numeric ids travel too');
    for (const h of cand.hits) {
      assert.equal(typeof h.doc_id, 'string');
      assert.equal(docs.get(h.doc_id)?.text, h.text, `hit ${h.index} carries its document`);
      if (h.index > 0) assert.ok(cand.hits[h.index - 1].retrieval_score >= h.retrieval_score, 'candidates in retrieval order');
    }
    const final = assertScores(rs, await reference(query, cand.hits.map((h) => h.text!)), 0.3, `search ${encoding}`);
    assert.equal(final.results.length, 12);
    await c.close();
  });
}

test('top_n cuts the final to the best n; kept stays the thresholded subset of those', async () => {
  const c = await TestClient.open(url);
  const ps = passages(50, 5);
  c.send({ type: 'rerank', id: 'top', query: 'queue batch token', passages: ps, threshold: 0, top_n: 7 });
  const rs = await c.settled('top');
  const final = rs[rs.length - 1].msg as FinalMessage;
  const ref = await reference('queue batch token', ps);
  const best = Array.from(ref.probabilities.keys()).sort((a, b) => ref.probabilities[b] - ref.probabilities[a] || a - b).slice(0, 7);
  assert.deepEqual(final.results.map((r) => r.index), best);
  assert.deepEqual(final.kept, best);
  await c.close();
});

test('several requests multiplexed on one socket (both encodings) stream concurrently and each final is right', async () => {
  const c = await TestClient.open(url);
  const reqs = Array.from({ length: 6 }, (_, k) => ({ id: `m${k}`, query: `${WORDS[k * 3]} ${WORDS[k * 5 + 1]}`, ps: passages(120 + 40 * k, 100 + k), enc: k % 2 ? 'binary' as const : 'json' as const }));
  for (const r of reqs) c.send({ type: 'rerank', id: r.id, query: r.query, passages: r.ps, threshold: 0.5 }, r.enc);
  for (const r of reqs) {
    const rs = await c.settled(r.id);
    assertOrder(rs, false, r.id);
    assert.ok(rs.every((x) => x.binary === (r.enc === 'binary')));
    assertScores(rs, await reference(r.query, r.ps), 0.5, r.id);
  }
  // Every request was accepted before the first one finished: the socket does not serialise requests.
  const firstFinal = c.received.findIndex((x) => x.msg.type === 'final');
  assert.equal(c.received.slice(0, firstFinal).filter((x) => x.msg.type === 'accepted').length, reqs.length);
  const order = c.received.filter((x) => x.msg.type === 'partial' || x.msg.type === 'final').map((x) => (x.msg as { id: string }).id);
  const switches = order.filter((id, i) => i > 0 && id !== order[i - 1]).length;
  console.log(`multiplexing: ${order.length} partial/final frames, the request id changed ${switches} times`);
  // Partials of different requests interleave: some request streams while another is between its first partial and its final.
  const span = (id: string) => [order.indexOf(id), order.lastIndexOf(id)];
  assert.ok(reqs.some((a) => reqs.some((b) => a !== b && span(b.id)[0] > span(a.id)[0] && span(b.id)[0] < span(a.id)[1])), 'partials interleave');
  await c.close();
});

test('a duplicate in-flight id gets an error for that id and the first request still completes', async () => {
  const c = await TestClient.open(url);
  const ps = passages(400, 3);
  c.send({ type: 'rerank', id: 'dup', query: 'rank rank', passages: ps });
  c.send({ type: 'rerank', id: 'dup', query: 'another', passages: ['x'] });
  await c.until(() => c.of('dup').some((r) => r.msg.type === 'error'), 'duplicate error');
  const err = c.of('dup').find((r) => r.msg.type === 'error')!.msg as Extract<ServerMessage, { type: 'error' }>;
  assert.equal(err.error_type, 'validation');
  assert.match(err.error, /^id 'dup' is already in flight on this connection; use an id that is unique/);
  await c.until(() => c.of('dup').some((r) => r.msg.type === 'final'), 'final of the first dup');
  const final = c.of('dup').find((r) => r.msg.type === 'final')!.msg as FinalMessage;
  assert.equal(final.results.length, 400);
  await c.close();
});

test('cancel drops the pending rows: no final for it, the id is free again, the other requests go on', async () => {
  const c = await TestClient.open(url);
  const ps = passages(1000, 21);
  const rowsBefore = rowsRun;
  c.send({ type: 'rerank', id: 'big', query: 'cancel me', passages: ps });
  await c.until(() => c.of('big').some((r) => r.msg.type === 'accepted'), 'accepted');
  c.send({ type: 'cancel', id: 'big' });
  // A request sent after the cancel finishes; by then the cancelled one would have been scheduled first.
  const after = passages(20, 22);
  c.send({ type: 'rerank', id: 'after', query: 'still served', passages: after });
  const rs = await c.settled('after');
  assertScores(rs, await reference('still served', after), 0.2, 'after');
  // Every batch that held cancelled rows has been delivered; then a reply on this socket (frames keep their
  // order) shows that anything the server sent for 'big' before it has arrived too.
  await untilIdle(server.ctx.reranker(null).encoder.queue);
  c.send({ type: 'cancel', id: 'probe' });
  await c.settled('probe');
  assert.deepEqual(types(c.of('big')).filter((t) => t === 'final' || t === 'error'), [], 'nothing ends a cancelled request');
  const ran = rowsRun - rowsBefore - after.length;
  assert.ok(ran < ps.length, `the scheduler ran ${ran} of ${ps.length} cancelled rows`);
  console.log(`cancel: ${ran} of ${ps.length} rows of the cancelled request reached inference`);
  assert.ok(server.ws.stats().requestsAbandoned >= 1);
  // The id can be reused at once.
  c.send({ type: 'rerank', id: 'big', query: 'again', passages: ['one', 'two'] });
  const again = await c.settled('big');
  assert.equal((again[again.length - 1].msg as FinalMessage).results.length, 2);
  // Cancelling what is not in flight is an error tied to that id.
  c.send({ type: 'cancel', id: 'nope' });
  await c.settled('nope');
  assert.equal((c.of('nope')[0].msg as { error_type: string }).error_type, 'not_found');
  await c.close();
});

test('a client that disconnects mid-request: its work is dropped, nothing is sent to it, others are served', async () => {
  const errorsBefore = consoleErrors.length;
  const logBefore = serverLog.length;
  const other = await TestClient.open(url);
  const gone = await TestClient.open(url);
  const rowsBefore = rowsRun;
  const ps = passages(1000, 31);
  gone.send({ type: 'rerank', id: 'g', query: 'vanishing client', passages: ps });
  await gone.until(() => gone.received.some((r) => r.msg.type === 'partial'), 'first partial');
  gone.ws.terminate(); // no close frame: the TCP connection just goes
  const small = passages(30, 32);
  other.send({ type: 'rerank', id: 'o', query: 'still here', passages: small });
  assertScores(await other.settled('o'), await reference('still here', small), 0.2, 'other client');
  await other.until(() => server.ws.connections === 1, 'server saw the disconnect');
  // Every batch that held the vanished client's rows has been delivered (and its sends refused) by now.
  await untilIdle(server.ctx.reranker(null).encoder.queue);
  const ran = rowsRun - rowsBefore - small.length;
  console.log(`disconnect: ${ran} of ${ps.length} rows of the vanished client's request reached inference`);
  assert.ok(ran < ps.length);
  assert.deepEqual(consoleErrors.slice(errorsBefore), []);
  assert.deepEqual(serverLog.slice(logBefore), []);
  assert.deepEqual(uncaught, []);
  await other.close();
});

test('a JS client using only the package entry speaks flatbuffers: encodeFrame(msg, \'binary\') out, decodeServerFrame(bytes, true) in', async () => {
  const { encodeFrame, decodeServerFrame } = crossgate;
  const ws = new WebSocket(url);
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  const got: crossgate.ServerMessage[] = [];
  const done = new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      assert.equal(isBinary, true, 'binary request, binary replies');
      const msg = decodeServerFrame(new Uint8Array(data), true);
      got.push(msg);
      if (msg.type === 'final' || msg.type === 'error') resolve();
    });
  });
  const query = 'fox river';
  const msg: crossgate.RerankMessage = { type: 'rerank', id: 'entry', query, passages: passages(20, 3), threshold: 0.5 };
  ws.send(encodeFrame(msg, 'binary'), { binary: true });
  await done;
  ws.close();
  const rs = got.map((m) => ({ msg: m, binary: true, at: 0 }));
  assertOrder(rs, false, 'package-entry client');
  assertScores(rs, await reference(query, msg.passages), 0.5, 'package-entry client');
});

test('malformed JSON, bad fields and malformed/truncated flatbuffers get errors; the socket keeps serving', async () => {
  const c = await TestClient.open(url);
  const good = encodeBinary({ type: 'rerank', id: 'fb', query: 'q', passages: ['a', 'b', 'c'] });
  const bad: [string | Uint8Array, boolean, string][] = [
    ['{"type":"rerank","id":', false, 'invalid_input'],
    ['[1,2]', false, 'invalid_input'],
    ['{"type":"rerank","id":"v1","query":"q","passages":"not a list"}', false, 'validation'],
    ['{"type":"rerank","id":"v2","query":"q","passages":["a"],"threshold":7}', false, 'validation'],
    ['{"type":"partial","id":"v3","results":[]}', false, 'validation'],
    ['{"type":"search","id":"v4","query":"q","top_k":0}', false, 'validation'],
    [good.subarray(0, good.length - 9), true, 'invalid_input'],
    [good.subarray(0, 11), true, 'invalid_input'],
    [new Uint8Array(64).fill(0xab), true, 'invalid_input'],
    [new Uint8Array(0), true, 'invalid_input'],
  ];
  for (const [frame, binary] of bad) c.sendRaw(frame, binary);
  await c.until(() => c.received.filter((r) => r.msg.type === 'error').length >= bad.length, 'one error per bad frame');
  const errs = c.received.filter((r) => r.msg.type === 'error').map((r) => r.msg as Extract<ServerMessage, { type: 'error' }>);
  assert.equal(errs.length, bad.length);
  for (let i = 0; i < bad.length; i++) {
    assert.equal(errs[i].error_type, bad[i][2], `frame ${i}: ${errs[i].error}`);
    assert.equal(c.received.filter((r) => r.msg.type === 'error')[i].binary, bad[i][1], 'error in the frame encoding');
  }
  assert.equal(errs[3].id, 'v2');
  assert.match(errs[3].error, /threshold/);
  assert.equal(c.closed, null);
  c.sendRaw(good, true);
  const rs = await c.settled('fb');
  assertOrder(rs, false, 'after bad frames');
  await c.close();
});

test('a frame over ws_max_message_bytes closes the socket with 1009 naming the limit; new sockets are served', async () => {
  const c = await TestClient.open(url);
  c.send({ type: 'rerank', id: 'huge', query: 'q', passages: ['x'.repeat(MAX_MESSAGE)] });
  await c.until(() => c.closed !== null, 'close');
  assert.equal(c.closed!.code, 1009);
  assert.match(c.closed!.reason, /ws_max_message_bytes is 262,144/);
  // Past twice the limit uWS cuts the connection while reading (no close frame: 1006); the server lives on.
  const e = await TestClient.open(url);
  e.sendRaw('x'.repeat(2 * MAX_MESSAGE + 1), false);
  await e.until(() => e.closed !== null, 'close');
  assert.equal(e.closed!.code, 1006);
  const d = await TestClient.open(url);
  d.send({ type: 'rerank', id: 'ok', query: 'q', passages: ['fine'] });
  assert.equal((await d.settled('ok')).at(-1)!.msg.type, 'final');
  await d.close();
});

test('a request that spans several batches streams: its first partial comes before the final and carries only part of the passages', async () => {
  // Timing ratios (first partial / final) are measured in benchmarks/load-test.ts, not asserted here.
  const c = await TestClient.open(url);
  const encoder = server.ctx.reranker(null).encoder;
  const query = 'stream partial final';
  const ps = passages(1000, 500, 60);
  const tokens = encoder.countTokensSync(new Array<string>(ps.length).fill(query), ps, { maxLength: server.ctx.config.maxInputTokens }).reduce((a, b) => a + b, 0);
  assert.ok(tokens > 3 * server.ctx.config.maxBatchTokens, `${tokens} tokens must need several ${server.ctx.config.maxBatchTokens}-token batches`);
  for (const encoding of ['json', 'binary'] as const) {
    const id = `spread-${encoding}`;
    c.send({ type: 'rerank', id, query, passages: ps }, encoding);
    const rs = await c.settled(id);
    assertOrder(rs, false, id);
    assertScores(rs, await reference(query, ps), 0.2, id);
    const partials = rs.filter((r) => r.msg.type === 'partial');
    const first = partials[0].msg as PartialMessage;
    assert.ok(partials.length >= 2, `${id}: ${partials.length} partial(s) for ${tokens} tokens`);
    assert.ok(first.results.length > 0 && first.results.length < ps.length,
      `${id}: the first partial carries ${first.results.length} of ${ps.length} passages (results before the whole request is scored)`);
    assert.ok(rs.indexOf(partials[0]) < rs.length - 1 && rs.at(-1)!.msg.type === 'final');
  }
  await c.close();
});

test('metrics: WS requests counted by route (ws:rerank, ws:search) and status; the connections gauge follows the sockets', async () => {
  const m = server.ctx.metrics;
  const ok = m.requests.get({ route: 'ws:rerank', status: 200 });
  const searches = m.requests.get({ route: 'ws:search', status: 200 });
  const cancelled = m.requests.get({ route: 'ws:rerank', status: 499 });
  assert.ok(ok >= 10, `ws:rerank 200 = ${ok}`);
  assert.ok(searches >= 2, `ws:search 200 = ${searches}`);
  assert.ok(cancelled >= 2, `cancelled or abandoned = ${cancelled}`);
  const c = await TestClient.open(url);
  assert.equal(m.wsConnections.get(), server.ws.connections);
  c.send({ type: 'rerank', id: 'm', query: 'q', passages: ['a'], threshold: 2 });
  await c.settled('m');
  assert.equal(m.requests.get({ route: 'ws:rerank', status: 422 }) >= 1, true);
  await c.close();
  await c.until(() => server.ws.connections === 0, 'server saw the close');
  assert.equal(m.wsConnections.get(), 0);
  assert.match(m.registry.render(), /crossgate_requests_total\{route="ws:rerank",status="200"\} \d+/);
});
