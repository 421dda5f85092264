// /ws limits on a real server: auth on the upgrade, max_concurrent_requests per request, search without a
// collection, a client that never reads (bounded per-socket memory, closed with 1008, its work dropped),
// and shutdown closing sockets with 1001.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { ensureGenerated } from '../models/generate.js';
import { defaultConfig, type ServerConfig } from '../src/server/limits.js';
import { startServer, type RunningServer } from '../src/server/server.js';
import { encodeJson, type FinalMessage, type ServerMessage } from '../src/wire/codec.js';
import { untilAfterBatch, untilIdle } from './40.infer.idle.js';
import { TestClient } from './81.server.ws.client.js';

const KEY = 'sekret-key';
const AUTH = { authorization: `Bearer ${KEY}` };
const SOFT = 16 * 1024;
const HARD = 256 * 1024;
let crossDir: string;
let server: RunningServer;
let url: string;
let rowsRun = 0;

function passages(n: number, tag: string): string[] {
  return Array.from({ length: n }, (_, i) => `${tag} passage ${i} about the river bank and the interest rate of loans in spring`);
}

before(async () => {
  crossDir = await ensureGenerated('tiny-cross');
  const config: ServerConfig = {
    ...defaultConfig(), host: '127.0.0.1', port: 0, workers: 1, threads: 1, apiKey: KEY,
    wsBackpressureSoftBytes: SOFT, wsBackpressureHardBytes: HARD, maxQueueTokens: 20_000_000,
  };
  server = await startServer(config, { rerankers: [{ name: 'tiny', dir: crossDir }], embedders: [] });
  url = `ws://127.0.0.1:${server.port}/ws`;
  const sched = server.ctx.reranker(null).encoder.queue;
  const prev = sched.onBatch;
  sched.onBatch = (b) => { prev?.(b); rowsRun += b.rows; };
});

after(async () => {
  await server?.shutdown('test over');
});

test('the upgrade needs Authorization: Bearer when an API key is set (401 {error, error_type} otherwise)', async () => {
  for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: KEY }] as Record<string, string>[]) {
    const err = await TestClient.open(url, headers).then(() => null, (e: { status: number; body: string; headers: Record<string, string> }) => e);
    assert.ok(err, `refused with ${JSON.stringify(headers)}`);
    assert.equal(err.status, 401);
    assert.equal(err.headers['www-authenticate'], 'Bearer');
    const body = JSON.parse(err.body) as { error: string; error_type: string };
    assert.deepEqual(Object.keys(body), ['error', 'error_type']);
    assert.equal(body.error_type, 'unauthorized');
  }
  const c = await TestClient.open(url, AUTH);
  c.send({ type: 'rerank', id: 'a', query: 'q', passages: ['x', 'y'] });
  assert.equal((await c.settled('a')).at(-1)!.msg.type, 'final');
  await c.close();
});

test('search with no collection served is an error for that request; the socket stays open', async () => {
  const c = await TestClient.open(url, AUTH);
  c.send({ type: 'search', id: 's', query: 'anything' }, 'binary');
  const rs = await c.settled('s');
  const err = rs.at(-1)!.msg as Extract<ServerMessage, { type: 'error' }>;
  assert.equal(err.type, 'error');
  assert.equal(err.error_type, 'validation');
  assert.match(err.error, /no collection is served/);
  assert.equal(rs.at(-1)!.binary, true);
  assert.equal(c.closed, null);
  await c.close();
});

// ---- a raw client that upgrades, sends, and never reads ----

function maskedFrame(payload: Buffer, opcode: number): Buffer {
  const mask = randomBytes(4);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n])
    : n < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 0xff])
      : (() => { const h = Buffer.alloc(10); h[0] = 0x80 | opcode; h[1] = 0x80 | 127; h.writeBigUInt64BE(BigInt(n), 2); return h; })();
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

function rawUpgrade(port: number): Promise<{ sock: Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => {
      sock.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${KEY}\r\n\r\n`);
    });
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onData);
      sock.pause(); // from here on this client reads nothing
      const head = buf.subarray(0, end).toString();
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(`upgrade failed: ${head}`));
      else resolve({ sock, rest: buf.subarray(end + 4) });
    };
    sock.on('data', onData);
    sock.on('error', reject);
  });
}

/** Server frames (unmasked) in `buf`: opcode, payload and, for a close frame, its code. */
function parseFrames(buf: Buffer): { opcode: number; payload: Buffer; code?: number }[] {
  const out: { opcode: number; payload: Buffer; code?: number }[] = [];
  let o = 0;
  while (o + 2 <= buf.length) {
    const opcode = buf[o] & 0x0f;
    let n = buf[o + 1] & 0x7f;
    let p = o + 2;
    if (n === 126) { if (p + 2 > buf.length) break; n = buf.readUInt16BE(p); p += 2; } else if (n === 127) { if (p + 8 > buf.length) break; n = Number(buf.readBigUInt64BE(p)); p += 8; }
    if (p + n > buf.length) break;
    const payload = buf.subarray(p, p + n);
    out.push(opcode === 8 && n >= 2 ? { opcode, payload, code: payload.readUInt16BE(0) } : { opcode, payload });
    o = p + n;
  }
  return out;
}

test('a client that never reads: the socket queue stays under ws_backpressure_hard_bytes, the socket is closed (1008) and its work dropped', async () => {
  const requests = 150;
  const perRequest = 1000;
  const ps = passages(perRequest, 'slow');
  const before = server.ws.stats();
  const rowsBefore = rowsRun;
  const rss0 = process.memoryUsage().rss;
  let rssPeak = rss0;
  const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, process.memoryUsage().rss); }, 25);

  const { sock } = await rawUpgrade(server.port);
  let sentBytes = 0;
  for (let i = 0; i < requests; i++) {
    const frame = maskedFrame(Buffer.from(encodeJson({ type: 'rerank', id: `s${i}`, query: 'slow reader', passages: ps })), 1);
    sentBytes += frame.length;
    sock.write(frame);
  }
  const sched = server.ctx.reranker(null).encoder.queue;
  await untilAfterBatch(sched, () => server.ws.stats().slowReadersClosed > before.slowReadersClosed);
  const st = server.ws.stats();
  clearInterval(sampler);
  assert.equal(st.slowReadersClosed, before.slowReadersClosed + 1, 'the slow socket was closed');
  assert.equal(st.connections, 0);
  assert.equal(st.queuedBytes, 0, 'its queue was released');
  // One frame may land on top of the queue before the check closes the socket: a final of 1000 scores is < 100 KB.
  assert.ok(st.peakSocketBytes <= HARD + 100 * 1024, `peak buffered+queued ${st.peakSocketBytes} bytes; hard limit ${HARD}`);

  // Its remaining requests were aborted: their pending rows never reached inference.
  await untilIdle(sched);
  const ran = rowsRun - rowsBefore;
  const total = requests * perRequest;
  console.log(`slow reader: sent ${(sentBytes / 1e6).toFixed(1)} MB of requests; ${ran} of ${total} rows ran; ` +
    `peak socket bytes ${st.peakSocketBytes} (hard ${HARD}); rss ${(rss0 / 2 ** 20).toFixed(0)} -> peak ${(rssPeak / 2 ** 20).toFixed(0)} MiB`);
  assert.ok(ran < total / 2, `${ran} of ${total} rows ran after the socket closed`);
  assert.ok(rssPeak - rss0 < 512 * 2 ** 20, 'server memory stayed bounded');

  // What reached the client ends with a close frame 1008, or the connection is simply gone.
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => {
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('close', () => resolve());
    sock.on('error', () => resolve());
    sock.resume();
  });
  const frames = parseFrames(Buffer.concat(chunks));
  const close = frames.find((f) => f.opcode === 8);
  console.log(`slow reader got ${frames.length} frames after resuming; close frame: ${close ? close.code : 'none (dropped with the buffer)'}`);
  if (close) assert.equal(close.code, 1008);

  // The server serves the next client as usual.
  const c = await TestClient.open(url, AUTH);
  c.send({ type: 'rerank', id: 'next', query: 'q', passages: ['a', 'b'] });
  assert.equal((await c.settled('next')).at(-1)!.msg.type, 'final');
  await c.close();
});

test('a reader that pauses past the soft limit gets every message, in order, once it reads again (queue + drain)', async () => {
  const srv = await startServer({ ...defaultConfig(), host: '127.0.0.1', port: 0, workers: 1, threads: 1, apiKey: KEY,
    wsBackpressureSoftBytes: SOFT, wsBackpressureHardBytes: 64 * 2 ** 20, maxQueueTokens: 20_000_000 },
  { rerankers: [{ name: 'tiny', dir: crossDir }], embedders: [] });
  try {
    const { sock, rest } = await rawUpgrade(srv.port);
    const n = 50, per = 1000;
    for (let i = 0; i < n; i++) {
      sock.write(maskedFrame(Buffer.from(encodeJson({ type: 'rerank', id: `d${i}`, query: 'drain', passages: passages(per, `d${i}`) })), 1));
    }
    // Wait until the server had to queue (the kernel buffers are full), then read everything.
    await untilAfterBatch(srv.ctx.reranker(null).encoder.queue, () => srv.ws.stats().peakSocketBytes > SOFT * 4);
    assert.ok(srv.ws.stats().peakSocketBytes > SOFT * 4, 'the server queued for this reader');
    const chunks: Buffer[] = [rest];
    let finals = 0;
    const FINAL = '"type":"final"';
    let tail = '';
    await new Promise<void>((resolve, reject) => {
      // The socket closing first is the failure event (no deadline: every final is on its way once queued).
      const early = () => reject(new Error(`only ${finals} finals arrived before the socket closed`));
      sock.on('close', early);
      sock.on('error', early);
      sock.on('data', (d: Buffer) => {
        chunks.push(d);
        // Carry a tail shorter than the pattern so a match split across chunks counts once.
        const text = tail + d.toString('latin1');
        finals += text.split(FINAL).length - 1;
        tail = text.slice(-(FINAL.length - 1));
        // The last final may still be arriving: done once n complete final frames parse.
        if (finals >= n && parseFrames(Buffer.concat(chunks)).filter((f) => f.opcode === 1 && f.payload.includes(FINAL)).length >= n) {
          sock.off('close', early);
          sock.off('error', early);
          resolve();
        }
      });
      sock.resume();
    });
    const frames = parseFrames(Buffer.concat(chunks)).filter((f) => f.opcode === 1).map((f) => JSON.parse(f.payload.toString('utf8')) as ServerMessage);
    for (let i = 0; i < n; i++) {
      const mine = frames.filter((m) => 'id' in m && m.id === `d${i}`);
      const t = mine.map((m) => m.type).filter((x, k, a) => k === 0 || x !== a[k - 1]);
      assert.deepEqual(t, ['accepted', 'partial', 'final'], `d${i}`);
      const covered = mine.filter((m) => m.type === 'partial').reduce((a, m) => a + (m as { results: unknown[] }).results.length, 0);
      assert.equal(covered, per);
      assert.equal((mine.at(-1) as FinalMessage).results.length, per);
    }
    const st = srv.ws.stats();
    console.log(`drain: peak socket bytes ${st.peakSocketBytes} (soft ${SOFT}); ${frames.length} frames all delivered`);
    assert.equal(st.slowReadersClosed, 0);
    sock.destroy();
  } finally {
    await srv.shutdown('test over');
  }
});

test('over max_concurrent_requests a request gets an overloaded error for its id; every accepted one completes', async () => {
  const small = await startServer({ ...defaultConfig(), host: '127.0.0.1', port: 0, workers: 1, threads: 1, maxConcurrentRequests: 2 },
    { rerankers: [{ name: 'tiny', dir: crossDir }], embedders: [] });
  try {
    const c = await TestClient.open(`ws://127.0.0.1:${small.port}/ws`);
    const ids = Array.from({ length: 8 }, (_, i) => `o${i}`);
    for (const id of ids) c.send({ type: 'rerank', id, query: 'load', passages: passages(500, id) });
    const ends = await Promise.all(ids.map(async (id) => (await c.settled(id)).at(-1)!.msg));
    const overloaded = ends.filter((m) => m.type === 'error');
    const finals = ends.filter((m) => m.type === 'final');
    assert.ok(overloaded.length >= 1, 'some requests were refused');
    assert.ok(finals.length >= 2);
    for (const m of overloaded) assert.equal((m as { error_type: string }).error_type, 'overloaded');
    // A refused request never got `accepted`; an accepted one always got its final.
    for (const id of ids) {
      const t = c.of(id).map((r) => r.msg.type);
      assert.ok(t[0] === 'error' ? t.length === 1 : t[0] === 'accepted' && t.at(-1) === 'final', `${id}: ${t.join(',')}`);
    }
    await c.close();
  } finally {
    await small.shutdown('test over');
  }
});

test('a request bigger than max_queue_tokens gets batch_too_large for its id (it could never be queued); one that only needs an emptier queue gets queue_full', async () => {
  const srv = await startServer({ ...defaultConfig(), host: '127.0.0.1', port: 0, workers: 1, threads: 1, maxQueueTokens: 20_000, maxBatchTokens: 64, maxInputTokens: 64 },
    { rerankers: [{ name: 'tiny', dir: crossDir }], embedders: [] });
  try {
    const c = await TestClient.open(`ws://127.0.0.1:${srv.port}/ws`);
    // ~20 tokens per pair: 1,000 passages are about 20,000+ tokens, more than the whole queue.
    for (const encoding of ['json', 'binary'] as const) {
      const id = `huge-${encoding}`;
      c.send({ type: 'rerank', id, query: 'load', passages: passages(1000, 'huge') }, encoding);
      const rs = await c.settled(id);
      assert.deepEqual(rs.map((r) => r.msg.type), ['accepted', 'error'], `${id}: no partial, then the error`);
      assert.equal(rs[1].binary, encoding === 'binary');
      const err = rs[1].msg as Extract<ServerMessage, { type: 'error' }>;
      assert.equal(err.error_type, 'batch_too_large');
      assert.match(err.error, /^the 1,000 passages of this request are [\d,]+ tokens for model "tiny"; max_queue_tokens is 20,000, so the request can never be queued; send at most about \d+ passages per request or raise --max-queue-tokens$/);
    }
    // Two requests that each fit the queue alone: the second is sent once the first's rows are queued (its
    // first batch has run), so it finds them still there. Synchronised on that event, not on reply order.
    const queue = srv.ctx.reranker(null).encoder.queue;
    const prev = queue.onBatch;
    const firstQueued = new Promise<void>((resolve) => { queue.onBatch = (b) => { prev?.(b); resolve(); }; });
    c.send({ type: 'rerank', id: 'first', query: 'load', passages: passages(700, 'first') });
    await firstQueued;
    queue.onBatch = prev;
    c.send({ type: 'rerank', id: 'second', query: 'load', passages: passages(700, 'second') });
    const ends = await Promise.all(['first', 'second'].map(async (id) => (await c.settled(id)).at(-1)!.msg));
    assert.deepEqual(ends.map((m) => m.type), ['final', 'error']);
    assert.equal((ends[1] as { error_type: string }).error_type, 'queue_full');
    assert.match((ends[1] as { error: string }).error, /tokens queued and this request adds [\d,]+; max_queue_tokens is 20,000; retry/);
    assert.equal(c.closed, null, 'neither error closes the socket');
    c.send({ type: 'rerank', id: 'later', query: 'load', passages: passages(700, 'later') });
    assert.equal((await c.settled('later')).at(-1)!.msg.type, 'final');
    await c.close();
  } finally {
    await srv.shutdown('test over');
  }
});

test('a backend failure on WS is an error for that id, logged once like an HTTP 5xx; client errors and overload are not logged', async () => {
  const log: string[] = [];
  const srv = await startServer({ ...defaultConfig(), host: '127.0.0.1', port: 0, workers: 1, threads: 1, maxConcurrentRequests: 1 },
    { rerankers: [{ name: 'tiny', dir: crossDir }], embedders: [] }, { log: (line) => log.push(line) });
  try {
    const c = await TestClient.open(`ws://127.0.0.1:${srv.port}/ws`);
    // Client faults (422, 404) and overload (429) answer the client but are not the operator's business.
    c.send({ type: 'search', id: 'no-coll', query: 'q' });
    c.send({ type: 'cancel', id: 'never-sent' });
    for (const id of ['no-coll', 'never-sent']) assert.equal((await c.settled(id)).at(-1)!.msg.type, 'error');
    // One slot (max_concurrent_requests 1): the second request arrives while the first holds it.
    c.send({ type: 'rerank', id: 'busy', query: 'load', passages: passages(1000, 'busy') });
    c.send({ type: 'rerank', id: 'over', query: 'load', passages: ['x'] });
    assert.equal(((await c.settled('over')).at(-1)!.msg as { error_type?: string }).error_type, 'overloaded');
    assert.equal((await c.settled('busy')).at(-1)!.msg.type, 'final');
    assert.equal(log.length, 0, `no log line for 4xx / 429: ${log.join('; ')}`);

    // The model's workers are gone: inference fails, the request gets a backend error, the process lives on.
    await srv.ctx.reranker(null).encoder.close();
    c.send({ type: 'rerank', id: 'broken', query: 'q', passages: ['a', 'b'] });
    const end = (await c.settled('broken')).at(-1)!.msg as { type: string; error_type: string; error: string };
    assert.equal(end.type, 'error');
    assert.equal(end.error_type, 'backend');
    assert.equal(log.length, 1, log.join('\n'));
    assert.match(log[0], /^crossgate: WS ws:rerank id "broken" -> 500 backend: /);
    assert.ok(log[0].endsWith(end.error), 'the log line carries the message the client got');
    assert.equal(c.closed, null, 'a backend error keeps the socket open');
    await c.close();
  } finally {
    await srv.shutdown('test over');
  }
});

test('shutdown closes open sockets with 1001', async () => {
  const c = await TestClient.open(url, AUTH);
  c.send({ type: 'rerank', id: 'last', query: 'q', passages: passages(50, 'last') });
  await c.settled('last');
  const s = server;
  server = undefined as unknown as RunningServer;
  await s.shutdown('test shutdown');
  await c.until(() => c.closed !== null, 'close on shutdown');
  assert.equal(c.closed!.code, 1001);
});
