import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { ApiError } from '../src/server/errors.js';
import { App, BODY_INITIAL_BYTES, BodyBuffer, closeAll, listen, readBody, readHead, Reply, UWS_PACKAGE, type Listening } from '../src/server/uws.js';

const LIMIT = 256 * 1024;
const seen = { aborted: 0, tooLarge: 0, timedOut: 0, lateSends: [] as boolean[] };
const DEADLINE_MS = 300;
const waiters: (() => void)[] = [];
const changed = () => { for (const w of waiters.splice(0)) w(); };
function until(cond: () => boolean, ms = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timed out waiting for the server')), ms);
    const check = () => { if (cond()) { clearTimeout(t); resolve(); } else waiters.push(check); };
    check();
  });
}

const app = App();
app.post('/echo', (res, req) => {
  const reply = new Reply(res);      // onAborted first, before anything async
  const head = readHead(req);        // req is dead after this handler returns
  void readBody(reply, head, LIMIT).then((r) => {
    if (!r.ok) {
      if (r.reason === 'aborted') seen.aborted++; else seen.tooLarge++;
      changed();
      return;
    }
    reply.sendJson(200, { bytes: r.body.length, sha256: createHash('sha256').update(r.body).digest('hex'), type: head.headers['content-type'] ?? null });
  });
});
// A route with a body deadline and a large limit, as the server's routes read bodies.
app.post('/deadline', (res, req) => {
  const reply = new Reply(res);
  const head = readHead(req);
  void readBody(reply, head, 64 * 1024 * 1024, { timeoutMs: DEADLINE_MS }).then((r) => {
    if (!r.ok) {
      if (r.reason === 'timeout') seen.timedOut++;
      changed();
      return;
    }
    reply.sendJson(200, { bytes: r.body.length });
  });
});
// A handler that answers when the test says so (at once when no test is waiting): the request's arrival, the
// server noticing the client gone and the late answer are events, not timings.
interface SlowHandle { send: () => void; aborted: Promise<void> }
const slowWaiting: ((h: SlowHandle) => void)[] = [];
app.get('/slow', (res) => {
  const reply = new Reply(res);
  const send = () => { seen.lateSends.push(reply.sendJson(200, { late: true })); changed(); };
  const waiting = slowWaiting.shift();
  if (waiting) waiting({ send, aborted: new Promise<void>((r) => reply.onAbort(r)) });
  else send();
});
app.get('/health', (res) => { new Reply(res).sendJson(200, { status: 'ok' }); });
app.any('/*', (res, req) => {
  const head = readHead(req);
  new Reply(res).sendError(new ApiError('not_found', `no route ${head.method} ${head.url}; see GET /openapi.json for the routes`));
});

let server: Listening;
let base: string;
after(() => closeAll(app));

test('listens on 127.0.0.1 port 0 and reports the bound port', async () => {
  server = await listen(app, '127.0.0.1', 0);
  assert.ok(server.port > 0 && server.port < 65536);
  base = `http://127.0.0.1:${server.port}`;
  const r = await fetch(`${base}/health`);
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { status: 'ok' });
});

test('the port is exclusive: a second uWS server in another process cannot share it', () => {
  const child = spawnSync(process.execPath, ['-e', `
    const u = require(${JSON.stringify(UWS_PACKAGE)});
    u.App().listen('127.0.0.1', ${server.port}, (ls) => { console.log(ls ? 'listening' : 'refused'); if (ls) u.us_listen_socket_close(ls); });
  `], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(child.stdout.trim(), 'refused', child.stderr);
});

test('bodies up to the limit arrive whole and byte-exact, across many chunks', async () => {
  for (const size of [0, 1, 1000, 200_000, LIMIT]) {
    const body = randomBytes(size);
    const r = await fetch(`${base}/echo`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(r.status, 200, `size ${size}`);
    assert.deepEqual(await r.json(), { bytes: size, sha256: createHash('sha256').update(body).digest('hex'), type: 'application/octet-stream' });
  }
});

test('a declared body over the limit gets 413 {error, error_type} naming the limit and the fix', async () => {
  for (const size of [LIMIT + 1, 8 * 1024 * 1024]) {
    const before = seen.tooLarge;
    const r = await fetch(`${base}/echo`, { method: 'POST', body: Buffer.alloc(size, 1) });
    assert.equal(r.status, 413);
    assert.equal(r.headers.get('content-type'), 'application/json');
    const body = await r.json() as Record<string, string>;
    assert.deepEqual(Object.keys(body), ['error', 'error_type']);
    assert.equal(body.error_type, 'payload_too_large');
    assert.equal(body.error, `request body is ${size.toLocaleString('en-US')} bytes; max_payload_bytes is 262,144 bytes; send fewer or shorter documents per request, or raise --max-payload-bytes`);
    await until(() => seen.tooLarge === before + 1);
  }
});

test('a chunked body that grows past the limit is cut off with 413 without reading the rest', async () => {
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      // An endless upload: only the server stopping it ends this test.
      pulled += 16384;
      c.enqueue(new Uint8Array(16384));
      if (pulled > 64 * 1024 * 1024) c.close();
    },
  });
  const r = await fetch(`${base}/echo`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
  assert.equal(r.status, 413);
  assert.match(((await r.json()) as { error: string }).error, /^request body is more than 262,144 bytes; max_payload_bytes/);
  assert.ok(pulled < 32 * 1024 * 1024, `client pushed ${pulled} bytes before the server answered`);
});

test('a client that disconnects mid-body is noticed and the server keeps serving', async () => {
  const before = seen.aborted;
  await new Promise<void>((resolve, reject) => {
    const s = connect(server.port, '127.0.0.1', () => {
      s.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n');
      // Gone once the partial body is handed to the kernel (it is sent before the FIN).
      s.write(Buffer.alloc(100), () => { s.destroy(); resolve(); });
    });
    s.on('error', reject);
  });
  await until(() => seen.aborted === before + 1);
  const r = await fetch(`${base}/echo`, { method: 'POST', body: 'still here' });
  assert.equal(r.status, 200);
  assert.equal(((await r.json()) as { bytes: number }).bytes, 10);
});

test('a response written after the client left is skipped, not a crash; one written in time arrives', async () => {
  const ac = new AbortController();
  const arrived = new Promise<SlowHandle>((r) => slowWaiting.push(r));
  const gone = fetch(`${base}/slow`, { signal: ac.signal }).catch((e: Error) => e.name);
  const handle = await arrived;
  ac.abort();
  assert.equal(await gone, 'AbortError');
  await handle.aborted;
  handle.send();
  await until(() => seen.lateSends.length === 1);
  assert.deepEqual(seen.lateSends, [false]);
  const r = await fetch(`${base}/slow`);
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { late: true });
  assert.deepEqual(seen.lateSends, [false, true]);
});

test('error responses carry the status line, JSON body and stay on a live server', async () => {
  const r = await fetch(`${base}/nope?x=1`, { method: 'DELETE' });
  assert.equal(r.status, 404);
  assert.equal(r.statusText, 'Not Found');
  assert.deepEqual(await r.json(), { error: 'no route DELETE /nope; see GET /openapi.json for the routes', error_type: 'not_found' });
  assert.equal((await fetch(`${base}/health`)).status, 200);
});

test('BodyBuffer grows with the bytes that arrived, not the Content-Length declared: 10 bytes of a declared 8 MiB hold 16 KiB', () => {
  const declared = 8 * 1024 * 1024;
  const b = new BodyBuffer(declared);
  assert.equal(b.capacity, 0, 'nothing allocated before the first byte');
  assert.ok(b.push(new Uint8Array(10).fill(7)));
  assert.equal(b.length, 10);
  assert.equal(b.capacity, BODY_INITIAL_BYTES);
  assert.equal(BODY_INITIAL_BYTES, 16 * 1024);
  // Chunks of every size up to the limit: capacity stays within 2x what arrived (or the first 16 KiB),
  // never passes the limit, and the bytes come out in order.
  const all = randomBytes(declared);
  let at = 10;
  all.set(new Uint8Array(10).fill(7), 0);
  let step = 1;
  while (at < declared) {
    const n = Math.min(step, declared - at);
    assert.ok(b.push(all.subarray(at, at + n).buffer.slice(all.byteOffset + at, all.byteOffset + at + n)), `push at ${at}`);
    at += n;
    assert.equal(b.length, at);
    assert.ok(b.capacity >= b.length && b.capacity <= Math.max(BODY_INITIAL_BYTES, 2 * b.length) && b.capacity <= declared, `capacity ${b.capacity} for ${b.length} bytes`);
    step = step * 3 + 1;
  }
  assert.equal(b.capacity, declared);
  assert.ok(b.bytes().equals(all));
  // One byte more than the limit is refused and changes nothing.
  assert.equal(b.push(new Uint8Array(1)), false);
  assert.equal(b.length, declared);
  // A small limit caps even the first allocation.
  const small = new BodyBuffer(100);
  assert.ok(small.push(new Uint8Array(3)));
  assert.equal(small.capacity, 100);
  assert.equal(small.push(new Uint8Array(98)), false);
  assert.ok(small.push(new Uint8Array(97)));
  assert.equal(small.bytes().length, 100);
});

/** Sends `head` (+ `first` body bytes), then `trickle` bytes every 50 ms; resolves with what the server wrote and when it closed. */
function stalledUpload(head: string, first: Buffer, trickle: boolean): Promise<{ response: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let response = '';
    let timer: NodeJS.Timeout | undefined;
    const s = connect(server.port, '127.0.0.1', () => {
      s.write(head);
      s.write(first);
      if (trickle) timer = setInterval(() => { if (!s.destroyed) s.write('x'); }, 50);
    });
    s.on('data', (d) => { response += d.toString('latin1'); });
    s.on('close', () => { clearInterval(timer); resolve({ response, ms: performance.now() - t0 }); });
    s.on('error', (e) => { clearInterval(timer); if (response) resolve({ response, ms: performance.now() - t0 }); else reject(e); });
    setTimeout(() => { s.destroy(); }, 10_000);
  });
}

test('a body that stops or trickles after its headers gets 504 timeout within the deadline and is closed; the server keeps serving', async () => {
  for (const trickle of [false, true]) {
    const before = seen.timedOut;
    const pending = stalledUpload('POST /deadline HTTP/1.1\r\nHost: x\r\nContent-Length: 8388608\r\n\r\n', Buffer.from('{"query":'), trickle);
    // While it stalls, other requests are answered.
    assert.equal((await fetch(`${base}/health`)).status, 200);
    const { response, ms } = await pending;
    assert.match(response, /^HTTP\/1\.1 504 Gateway Timeout\r\n/, response.slice(0, 200));
    const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { error: string; error_type: string };
    assert.equal(body.error_type, 'timeout');
    assert.match(body.error, /^request body did not arrive within request_timeout_ms \(300 ms\): [\d,]+ bytes of the 8,388,608 declared came; send the whole body without pausing, or raise --request-timeout-ms$/);
    if (!trickle) assert.match(body.error, /: 9 bytes of/);
    assert.ok(ms >= DEADLINE_MS - 20 && ms < DEADLINE_MS + 2000, `answered after ${ms.toFixed(0)} ms`);
    await until(() => seen.timedOut === before + 1);
  }
  const r = await fetch(`${base}/deadline`, { method: 'POST', body: 'a whole body, in time' });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { bytes: 21 });
});
