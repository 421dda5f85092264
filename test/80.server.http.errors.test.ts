// Every error class of the HTTP API over real sockets, each with its status, {error, error_type} body and
// headers: 400, 401, 404/405, 413 (payload, documents), 422 (fields, too long), 429 (overloaded, queue full,
// with every accepted request completing), 500 (backend, server still up), 503 (not ready), 504 (timeout,
// queued rows dropped) and a client that disconnects mid-request.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { ensureGenerated } from '../models/generate.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { ERROR_TYPES } from '../src/server/errors.js';
import { defaultConfig, type ServerConfig } from '../src/server/limits.js';
import { familyStatus, type ErrorFamily } from '../src/server/routes/family.js';
import { startServer, type ModelRef, type RunningServer } from '../src/server/server.js';
import { nextBatch, untilIdle } from './40.infer.idle.js';
import { untilMetric } from './71.server-foundations.metric-wait.js';

const QUERY = 'how do I reset my password';
const PASSAGES = ["Click on 'Forgot Password' on the login screen", 'Use a strong password', 'Bananas ripen faster in a paper bag'];
const LONG = 'the quick brown fox jumps over the lazy dog and keeps running far away '.repeat(20);
const many = (n: number, tag = ''): string[] => Array.from({ length: n }, (_, i) => `passage ${tag} number ${i} about passwords and accounts`);

function config(over: Partial<ServerConfig> = {}): ServerConfig {
  return { ...defaultConfig(), port: 0, threads: 1, ...over };
}

interface Res { status: number; headers: Headers; json: any; path: string }
async function call(url: string, init: RequestInit = {}): Promise<Res> {
  const r = await fetch(url, init);
  const text = await r.text();
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: r.status, headers: r.headers, json, path: new URL(url).pathname };
}

/** The API family a route answers errors in (routes/family.ts). */
function familyOf(path: string): ErrorFamily {
  if (path === '/v1/embeddings') return 'openai';
  if (/^\/v[12]\/(rerank|embed)$/.test(path)) return 'cohere';
  return 'tei';
}
function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Res> {
  return call(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** The body is exactly {error, error_type}, and the status is the one the enum maps the type to. */
function isError(r: Res, type: keyof typeof ERROR_TYPES, pattern?: RegExp): void {
  const family = familyOf(r.path);
  assert.equal(r.headers.get('content-type'), 'application/json');
  if (family === 'openai') {
    assert.deepEqual(Object.keys(r.json), ['error']);
    assert.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message', 'param', 'type']);
    const model = r.json.error.code === 'model_not_found';
    assert.equal(r.status, familyStatus(family, type, model), `status for ${type}: ${JSON.stringify(r.json)}`);
    if (!model) assert.equal(r.json.error.code, type === 'unauthorized' ? 'invalid_api_key' : type);
    if (pattern) assert.match(r.json.error.message, pattern);
    return;
  }
  if (family === 'cohere') {
    assert.deepEqual(Object.keys(r.json).sort(), ['id', 'message']);
    if (r.status !== 404) assert.equal(r.status, familyStatus(family, type), `status for ${type}: ${JSON.stringify(r.json)}`);
    if (pattern) assert.match(r.json.message, pattern);
    return;
  }
  assert.equal(r.status, ERROR_TYPES[type].status, `status for ${type}: ${JSON.stringify(r.json)}`);
  assert.deepEqual(Object.keys(r.json).sort(), ['error', 'error_type']);
  assert.equal(r.json.error_type, type);
  if (pattern) assert.match(r.json.error, pattern);
}

async function metric(base: string, series: string, headers: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${base}/metrics`, { headers })).text();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}


describe('HTTP errors', () => {
  const servers: RunningServer[] = [];
  let dirs: { a: string; b: string; bi: string };
  let cross: CrossEncoder;
  let a: ModelRef;
  const start = async (over: Partial<ServerConfig>, models?: Parameters<typeof startServer>[1], opts?: Parameters<typeof startServer>[2]) => {
    const s = await startServer(config(over), models ?? { rerankers: [a], embedders: [] }, { log: () => undefined, ...opts });
    servers.push(s);
    return s;
  };

  before(async () => {
    dirs = { a: await ensureGenerated('tiny-cross'), b: await ensureGenerated('tiny-cross-2label'), bi: await ensureGenerated('tiny-bi') };
    a = { name: 'a', dir: dirs.a };
    cross = await CrossEncoder.load(dirs.a, { threads: 1 });
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.shutdown('test done')));
    await cross?.close();
  });

  describe('request errors (400, 404, 405, 413, 422, 500)', () => {
    let s: RunningServer;
    let base: string;
    before(async () => {
      s = await start({ maxPayloadBytes: 64 * 1024, maxDocumentsPerRequest: 100, maxInputTokens: 64 },
        { rerankers: [a, { name: 'b', dir: dirs.b }], embedders: [{ name: 'bi', dir: dirs.bi }] });
      base = s.url;
    });

    it('400 invalid_input: malformed JSON and an empty body', async () => {
      isError(await post(`${base}/rerank`, '{"query": "x", "texts": ['), 'invalid_input', /not valid JSON/);
      isError(await post(`${base}/v2/rerank`, ''), 'invalid_input', /body is empty/);
      isError(await post(`${base}/embed`, '\u0000garbage'), 'invalid_input');
    });

    it('404 not_found and 405 method_not_allowed (with Allow)', async () => {
      isError(await call(`${base}/nope`), 'not_found', /GET \/nope/);
      isError(await call(`${base}/v3/rerank`, { method: 'POST', body: '{}' }), 'not_found');
      const r = await call(`${base}/rerank`);
      isError(r, 'method_not_allowed', /GET \/rerank.*use POST/);
      assert.equal(r.headers.get('allow'), 'POST');
      const h = await call(`${base}/health`, { method: 'DELETE' });
      isError(h, 'method_not_allowed');
      assert.equal(h.headers.get('allow'), 'GET');
    });

    it('413 payload_too_large: a body over max_payload_bytes, named with the limit and the fix', async () => {
      const r = await post(`${base}/rerank`, { query: QUERY, texts: [LONG.repeat(60)] });
      isError(r, 'payload_too_large', /max_payload_bytes is 65,536 bytes.*--max-payload-bytes/);
    });

    it('413 batch_too_large: more items than max_documents_per_request, on every list-taking route', async () => {
      isError(await post(`${base}/rerank`, { query: QUERY, texts: many(101) }), 'batch_too_large', /^texts is 101 items; max_documents_per_request is 100; split/);
      isError(await post(`${base}/v2/rerank`, { query: QUERY, documents: many(150) }), 'batch_too_large', /^documents is 150 items/);
      isError(await post(`${base}/embed`, { inputs: many(101) }), 'batch_too_large', /^inputs is 101 items/);
      isError(await post(`${base}/v1/embeddings`, { input: many(101) }), 'batch_too_large', /^input is 101 items/);
      // Exactly at the limit is fine.
      assert.equal((await post(`${base}/rerank`, { query: QUERY, texts: many(100) })).status, 200);
    });

    it('422 validation: each field named, with what it must be', async () => {
      const cases: [string, unknown, RegExp][] = [
        ['/rerank', { texts: PASSAGES }, /^\/query is required/],
        ['/rerank', { query: QUERY, texts: 'one' }, /^\/texts must be an array of strings; got string/],
        ['/rerank', { query: QUERY, texts: ['a', 'b', 3] }, /^\/texts\/2 must be a string; got number 3/],
        ['/rerank', { query: QUERY, texts: [] }, /^\/texts has 0 items; it needs at least 1/],
        ['/rerank', { query: '   ', texts: PASSAGES }, /^query is empty/],
        ['/rerank', { query: QUERY, texts: PASSAGES, truncation_direction: 'up' }, /^\/truncation_direction must be one of "left", "right"/],
        ['/rerank', { query: QUERY, texts: PASSAGES, raw_scores: 'yes' }, /^\/raw_scores must be true or false/],
        ['/rerank', { query: QUERY, texts: PASSAGES, model: 'nope' }, /model "nope" is not a served cross-encoder; served: "a", "b"/],
        ['/rerank', [QUERY], /^body must be an object; got an array/],
        ['/v2/rerank', { query: QUERY, documents: [{ txt: 'x' }] }, /^\/documents\/0\/text is required/],
        ['/v2/rerank', { query: QUERY, documents: [42] }, /^\/documents\/0 must be a string or an object \(structured document\); got number 42/],
        ['/v2/rerank', { query: QUERY, documents: PASSAGES, top_n: 0 }, /^\/top_n must be an integer >= 1; got 0/],
        ['/v2/rerank', { query: QUERY, documents: PASSAGES, max_tokens_per_doc: 1.5 }, /^\/max_tokens_per_doc must be an integer >= 1/],
        ['/embed', { inputs: [] }, /^\/inputs has 0 items; it needs at least 1/],
        ['/embed', { inputs: 'x', prompt_name: 'query' }, /^\/prompt_name must be null/],
        ['/v1/embeddings', { input: 'x', encoding_format: 'int8' }, /^\/encoding_format must be one of "float", "base64"/],
        ['/v1/embeddings', { input: 'x', model: 'a' }, /model "a" is not a served bi-encoder; served: "bi"/],
        ['/tokenize', { inputs: 7 }, /^\/inputs must be a string or a non-empty array of strings; got number 7/],
        ['/search', { query: QUERY }, /no collection is served.*--collection PATH/],
        ['/search', { query: QUERY, threshold: 2 }, /^\/threshold must be a number from 0 to 1; got 2/],
      ];
      for (const [path, body, pattern] of cases) isError(await post(`${base}${path}`, body), 'validation', pattern);
    });

    it('422 input_too_long with truncate=false names the text, its length, the limit and the fix; truncate=true cuts', async () => {
      const texts = ['short one', LONG];
      const full = cross.tokenizer.encode(QUERY, LONG, { maxLength: Infinity }).ids.length;
      const r = await post(`${base}/rerank`, { query: QUERY, texts, truncate: false });
      isError(r, 'input_too_long', new RegExp(`^texts\\[1\\] is ${full.toLocaleString('en-US')} tokens with the query; max_input_tokens is 64; pass truncate=true`));
      const c = await post(`${base}/v2/rerank`, { query: QUERY, documents: texts, model: 'b' });
      assert.equal(c.status, 200, 'auto_truncate (default true) applies when truncate is absent');
      const cut = await post(`${base}/rerank`, { query: QUERY, texts, truncate: true });
      assert.equal(cut.status, 200);
      const expected = await cross.score(QUERY, texts, { maxLength: 64 });
      for (const row of cut.json) assert.ok(Math.abs(row.score - expected.probabilities[row.index]) < 1e-5, 'cut to max_input_tokens');
      const e = await post(`${base}/embed`, { inputs: ['ok', LONG], truncate: false });
      isError(e, 'input_too_long', /^inputs\[1\] is [\d,]+ tokens; .* is 64; pass truncate=true/);
    });

    it('500 backend: a failing model answers 500 and the server keeps serving the others', async () => {
      await s.ctx.reranker('b').encoder.close();
      const r = await post(`${base}/rerank`, { query: QUERY, texts: PASSAGES, model: 'b' });
      isError(r, 'backend', /inference failed: .*the server is still running/);
      assert.equal((await post(`${base}/rerank`, { query: QUERY, texts: PASSAGES, model: 'a' })).status, 200);
      assert.equal((await call(`${base}/health`)).status, 200);
    });
  });

  it('with auto_truncate off, max_tokens_per_doc is a cut the client asked for: only a pair still over the limit after it is 422', async () => {
    const s = await start({ autoTruncate: false, maxInputTokens: 64 });
    const tok = cross.tokenizer;
    const q = tok.encode(QUERY, null, { maxLength: Infinity }).ids.length - tok.specialTokenCount(false);
    isError(await post(`${s.url}/v2/rerank`, { query: QUERY, documents: ['short one', LONG] }), 'input_too_long', /^documents\[1\] is [\d,]+ tokens with the query; max_input_tokens is 64/);
    const ok = await post(`${s.url}/v2/rerank`, { query: QUERY, documents: ['short one', LONG], max_tokens_per_doc: 20 });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    const expected = await cross.score(QUERY, ['short one', LONG], { maxLength: q + 20 + 3, truncation: 'only_second' });
    for (const row of ok.json.results) assert.ok(Math.abs(row.relevance_score - expected.probabilities[row.index]) < 1e-5);
    // Cut to 80 tokens the pair is still over 64: refused, with the length after the cut.
    isError(await post(`${s.url}/v2/rerank`, { query: QUERY, documents: [LONG], max_tokens_per_doc: 80 }), 'input_too_long',
      new RegExp(`^documents\\[0\\] is ${q + 80 + 3} tokens with the query; max_input_tokens is 64`));
  });

  it('401 unauthorized without or with a wrong key, on every route but /health', async () => {
    const s = await start({ apiKey: 'test-key-123' });
    const ok = { authorization: 'Bearer test-key-123' };
    const no = await post(`${s.url}/rerank`, { query: QUERY, texts: PASSAGES });
    isError(no, 'unauthorized', /needs an API key; send Authorization: Bearer/);
    assert.equal(no.headers.get('www-authenticate'), 'Bearer');
    isError(await post(`${s.url}/rerank`, { query: QUERY, texts: PASSAGES }, { authorization: 'Bearer wrong' }), 'unauthorized', /not valid/);
    isError(await post(`${s.url}/rerank`, { query: QUERY, texts: PASSAGES }, { authorization: 'test-key-123' }), 'unauthorized', /not "Bearer <key>"/);
    for (const path of ['/ready', '/info', '/metrics', '/openapi.json', '/nope']) isError(await call(`${s.url}${path}`), 'unauthorized');
    assert.equal((await call(`${s.url}/health`)).status, 200);
    assert.equal((await post(`${s.url}/rerank`, { query: QUERY, texts: PASSAGES }, ok)).status, 200);
    assert.equal((await post(`${s.url}/rerank`, { query: QUERY, texts: PASSAGES }, { authorization: 'bearer   test-key-123 ' })).status, 200);
    assert.equal((await call(`${s.url}/ready`, { headers: ok })).status, 200);
    isError(await call(`${s.url}/nope`, { headers: ok }), 'not_found');
    const info = await call(`${s.url}/info`, { headers: ok });
    assert.equal(info.json.limits.api_key.value, '(set)', '/info never shows the key');
    assert.ok(!JSON.stringify(info.json).includes('test-key-123'));
  });

  it('503 not_ready with Retry-After until the models are loaded and warmed; /health answers throughout', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => { open = r; });
    let url!: string;
    let started!: Promise<unknown>;
    const listening = new Promise<void>((r) => {
      started = start({}, undefined, { readyGate: gate, onListening: (w) => { url = w.url; r(); } });
    });
    await listening;
    // Loading and warming: whatever the phase is right now, it is not ready.
    const ready = await call(`${url}/ready`);
    isError(ready, 'not_ready', /loading|warming/);
    assert.equal(ready.headers.get('retry-after'), '2');
    isError(await post(`${url}/rerank`, { query: QUERY, texts: PASSAGES }), 'not_ready');
    const h = await call(`${url}/health`);
    assert.equal(h.status, 200);
    assert.notEqual(h.json.phase, 'ready');
    open();
    await started; // startServer resolves once the server is ready
    assert.equal((await call(`${url}/ready`)).status, 200);
    assert.equal((await post(`${url}/rerank`, { query: QUERY, texts: PASSAGES })).status, 200);
  });

  it('429 overloaded with Retry-After past max_concurrent_requests; every accepted request completes correctly', async () => {
    const s = await start({ maxConcurrentRequests: 2 });
    const queries = Array.from({ length: 12 }, (_, i) => `${QUERY} variant ${i}`);
    const texts = many(300, 'load');
    const results = await Promise.all(queries.map((q) => post(`${s.url}/rerank`, { query: q, texts })));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    assert.equal(ok.length + refused.length, queries.length, `only 200 or 429: ${results.map((r) => r.status).join(',')}`);
    assert.ok(refused.length >= 1, 'some requests were over the limit');
    assert.ok(ok.length >= 2, 'the admitted ones ran');
    for (const r of refused) {
      isError(r, 'overloaded', /max_concurrent_requests is 2; retry after the Retry-After delay, or raise --max-concurrent-requests/);
      assert.equal(r.headers.get('retry-after'), '1');
    }
    for (let i = 0; i < results.length; i++) {
      if (results[i].status !== 200) continue;
      const expected = await cross.score(queries[i], texts);
      assert.equal(results[i].json.length, texts.length);
      for (const row of results[i].json) assert.ok(Math.abs(row.score - expected.probabilities[row.index]) < 1e-5, `request ${i} texts[${row.index}]`);
    }
    assert.equal(await metric(s.url, 'crossgate_requests_in_flight'), 0);
    assert.equal((await post(`${s.url}/rerank`, { query: QUERY, texts: PASSAGES })).status, 200, 'slots come back');

    // A client that disconnects mid-request: its pending rows are dropped, nothing is written to it, the server goes on.
    const before = await metric(s.url, 'crossgate_batch_size_sum{model="a"}');
    const ac = new AbortController();
    const sched = s.ctx.reranker('a').encoder.queue;
    // The client goes once its request's first batch has run: mid-request, whatever the machine's speed.
    void nextBatch(sched).then(() => ac.abort());
    const gone = fetch(`${s.url}/rerank`, { method: 'POST', body: JSON.stringify({ query: QUERY, texts: many(1000, 'gone') }), signal: ac.signal });
    await assert.rejects(gone);
    const m = s.ctx.metrics;
    await untilMetric(m.requests, () => m.requests.get({ route: '/rerank', status: '499' }) === 1);
    await untilMetric(m.inflight, () => m.inflight.get() === 0);
    assert.equal(await metric(s.url, 'crossgate_requests_total{route="/rerank",status="499"}'), 1);
    assert.equal(await metric(s.url, 'crossgate_requests_in_flight'), 0);
    await untilIdle(sched); // every batch that held its rows has been delivered; the rest would still be queued
    const ran = (await metric(s.url, 'crossgate_batch_size_sum{model="a"}')) - before;
    assert.ok(ran < 1000, `only rows already running finished (${ran} of 1000)`);
    assert.equal(await metric(s.url, 'crossgate_queue_size{model="a"}'), 0);
    assert.equal((await post(`${s.url}/rerank`, { query: QUERY, texts: PASSAGES })).status, 200);
  });

  it('413 batch_too_large (no Retry-After) for a request bigger than the whole queue, even with the queue empty', async () => {
    const s = await start({ maxQueueTokens: 1024 });
    for (let attempt = 0; attempt < 2; attempt++) {
      const big = await post(`${s.url}/rerank`, { query: QUERY, texts: many(200, 'big') });
      isError(big, 'batch_too_large',
        /^the 200 texts of this request are [\d,]+ tokens for model "a"; max_queue_tokens is 1,024, so the request can never be queued; send at most about \d+ texts per request or raise --max-queue-tokens$/);
      assert.equal(big.headers.get('retry-after'), null, 'waiting cannot help, so no Retry-After');
      const tokens = Number(/are ([\d,]+) tokens/.exec(big.json.error)![1].replace(/,/g, ''));
      assert.ok(tokens > 1024, `${tokens} tokens`);
      // The suggested count does fit.
      const fit = Number(/at most about (\d+) texts/.exec(big.json.error)![1]);
      assert.equal((await post(`${s.url}/rerank`, { query: QUERY, texts: many(fit, 'big') })).status, 200);
    }
    // The same over Cohere's route, naming its list.
    isError(await post(`${s.url}/v2/rerank`, { query: QUERY, documents: many(200, 'big') }), 'batch_too_large', /the 200 documents of this request/);
    assert.equal(await metric(s.url, 'crossgate_queue_tokens{model="a"}'), 0);
  });

  it('429 queue_full with Retry-After only for a request that would fit an emptier queue; accepted requests still complete', async () => {
    // One worker running 64-token batches drains a request of ~800 pairs slowly, so a second one sent
    // alongside finds the first still queued: it fits max_queue_tokens alone, but not on top of the other.
    const s = await start({ maxQueueTokens: 20_000, maxBatchTokens: 64, maxInputTokens: 64, workers: 1 });
    const texts = many(800, 'mid');
    const results = await Promise.all([0, 1].map((i) => post(`${s.url}/rerank`, { query: `${QUERY} ${i}`, texts })));
    const refused = results.filter((r) => r.status !== 200);
    assert.equal(refused.length, 1, results.map((r) => `${r.status} ${JSON.stringify(r.json).slice(0, 200)}`).join('\n'));
    isError(refused[0], 'queue_full', /^model "a" has [\d,]+ tokens queued and this request adds [\d,]+; max_queue_tokens is 20,000; retry after the Retry-After delay, or raise --max-queue-tokens$/);
    assert.equal(refused[0].headers.get('retry-after'), '1');
    const ok = results.findIndex((r) => r.status === 200);
    const expected = await cross.score(`${QUERY} ${ok}`, texts, { maxLength: 64 });
    for (const row of results[ok].json) assert.ok(Math.abs(row.score - expected.probabilities[row.index]) < 1e-5);
    // Once the queue has drained, the refused request goes through as it is.
    const again = await post(`${s.url}/rerank`, { query: `${QUERY} ${1 - ok}`, texts });
    assert.equal(again.status, 200, JSON.stringify(again.json).slice(0, 200));
    assert.equal(await metric(s.url, 'crossgate_queue_tokens{model="a"}'), 0);
  });

  it('504 timeout for a body that does not arrive within request_timeout_ms; its admission slot is released', async () => {
    const s = await start({ requestTimeoutMs: 400, maxConcurrentRequests: 1 });
    const t0 = performance.now();
    // Headers announcing 4 MB, a few bytes, then a trickle: it holds the only slot until the deadline.
    const stalled = new Promise<string>((resolve, reject) => {
      let got = '';
      let timer: NodeJS.Timeout | undefined;
      const sock = connect(s.port, '127.0.0.1', () => {
        sock.write('POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000000\r\n\r\n{"query":"');
        timer = setInterval(() => { if (!sock.destroyed) sock.write('a'); }, 50);
      });
      sock.on('data', (d) => { got += d.toString(); });
      sock.on('close', () => { clearInterval(timer); resolve(got); });
      sock.on('error', (e) => { clearInterval(timer); if (got) resolve(got); else reject(e); });
    });
    await untilMetric(s.ctx.metrics.inflight, () => s.ctx.metrics.inflight.get() === 1);
    assert.equal(await metric(s.url, 'crossgate_requests_in_flight'), 1);
    isError(await post(`${s.url}/rerank`, { query: QUERY, texts: PASSAGES }), 'overloaded');
    const raw = await stalled;
    const ms = performance.now() - t0;
    assert.match(raw, /^HTTP\/1\.1 504 /);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
    assert.deepEqual(body.error_type, 'timeout');
    assert.match(body.error, /^request body did not arrive within request_timeout_ms \(400 ms\): [\d,]+ bytes of the 4,000,000 declared came; .*raise --request-timeout-ms$/);
    assert.ok(ms < 3000, `answered after ${ms.toFixed(0)} ms`);
    // The slot is free again: the next request is served.
    assert.equal((await post(`${s.url}/rerank`, { query: QUERY, texts: PASSAGES })).status, 200);
    assert.equal(await metric(s.url, 'crossgate_requests_total{route="/rerank",status="504"}'), 1);
    assert.equal(await metric(s.url, 'crossgate_requests_in_flight'), 0);
  });

  it('504 timeout after request_timeout_ms; the request\'s queued rows are dropped before inference', async () => {
    const s = await start({ requestTimeoutMs: 1 });
    const r = await post(`${s.url}/rerank`, { query: QUERY, texts: many(1000, 'slow') });
    isError(r, 'timeout', /did not finish within request_timeout_ms \(1 ms\); its queued work was dropped/);
    assert.equal(r.headers.get('retry-after'), null);
    await untilIdle(s.ctx.reranker('a').encoder.queue); // rows already running are delivered; dropped ones never run
    assert.ok((await metric(s.url, 'crossgate_batch_size_sum{model="a"}')) < 1000, 'the 1000 rows did not all run');
    assert.equal(await metric(s.url, 'crossgate_queue_size{model="a"}'), 0);
    assert.equal(await metric(s.url, 'crossgate_requests_total{route="/rerank",status="504"}'), 1);
  });
});
