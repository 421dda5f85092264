// Graceful shutdown in-process, in the order the issue fixes: stop accepting, /ready 503 (draining) on
// connections still open, in-flight requests finish, WebSockets close with 1001, encoders closed. And when
// shutdown_grace_ms runs out, the stragglers are cancelled with 503 draining instead of holding the exit.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { KeepAlive } from './82.server.keep-alive.js';
import { ensureGenerated } from '../models/generate.js';
import { defaultConfig, type ServerConfig } from '../src/server/limits.js';
import { startServer, type RunningServer } from '../src/server/server.js';
import { untilMetric } from './71.server-foundations.metric-wait.js';

const QUERY = 'how do I reset my password';
const many = (n: number, tag: string): string[] => Array.from({ length: n }, (_, i) => `passage ${tag} number ${i} about passwords and accounts and more words`);

function config(over: Partial<ServerConfig> = {}): ServerConfig {
  return { ...defaultConfig(), port: 0, threads: 1, ...over };
}


function rerank(url: string, query: string, texts: string[]): Promise<{ status: number; body: any; at: number }> {
  return fetch(`${url}/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, texts }) })
    .then(async (r) => ({ status: r.status, body: await r.json(), at: performance.now() }));
}


describe('graceful shutdown', () => {
  let dir: string;
  before(async () => { dir = await ensureGenerated('tiny-cross'); });

  it('stop accepting, /ready 503, in-flight requests finish, WebSockets close 1001, encoders closed', async () => {
    const server = await startServer(config({ shutdownGraceMs: 10_000 }), { rerankers: [{ name: 'a', dir }], embedders: [] }, { log: () => undefined });
    const port = server.port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    const wsClosed = new Promise<{ code: number; at: number }>((r) => ws.once('close', (code) => r({ code, at: performance.now() })));
    const keep = await KeepAlive.open(port);
    assert.equal((await keep.get('/ready')).status, 200);

    const texts = many(1000, 'drain');
    const inflight = Array.from({ length: 4 }, (_, i) => rerank(server.url, `${QUERY} ${i}`, texts));
    await untilMetric(server.ctx.metrics.inflight, () => server.ctx.metrics.inflight.get() === 4);
    const wsOpenWhenFirstDone = inflight[0].then(() => ws.readyState === WebSocket.OPEN);

    const t0 = performance.now();
    const done = server.shutdown('test');
    assert.equal(server.ctx.phase, 'draining');
    const ready = await keep.get('/ready');
    assert.equal(ready.status, 503);
    assert.deepEqual(Object.keys(JSON.parse(ready.body)), ['error', 'error_type']);
    assert.equal(JSON.parse(ready.body).error_type, 'draining');
    assert.equal(ready.headers.connection, 'close', 'keep-alive clients are told to go');
    await assert.rejects(new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(undefined); });
      s.once('error', reject);
    }), /ECONNREFUSED/, 'the listen socket is closed: new connections are refused');

    const results = await Promise.all(inflight);
    for (const r of results) {
      assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 200));
      assert.equal(r.body.length, texts.length);
    }
    assert.equal(await wsOpenWhenFirstDone, true, 'WebSockets stay open while in-flight requests finish');
    const closed = await wsClosed;
    assert.equal(closed.code, 1001);
    await done;
    assert.equal(server.ctx.phase, 'closed');
    assert.ok(performance.now() - t0 < 10_000);
    await assert.rejects(server.ctx.reranker('a').encoder.score(QUERY, ['x']), /closed/);
    keep.close();
    assert.equal(await server.shutdown(), undefined, 'idempotent');
  });

  it('when shutdown_grace_ms runs out, the requests still running are cancelled with 503 draining', async () => {
    const server = await startServer(config({ shutdownGraceMs: 30 }), { rerankers: [{ name: 'a', dir }], embedders: [] }, { log: () => undefined });
    const texts = many(1000, 'late');
    const inflight = Array.from({ length: 6 }, (_, i) => rerank(server.url, `${QUERY} ${i}`, texts));
    await untilMetric(server.ctx.metrics.inflight, () => server.ctx.metrics.inflight.get() === 6);
    const t0 = performance.now();
    await server.shutdown('test');
    const took = performance.now() - t0;
    const results = await Promise.all(inflight);
    const cut = results.filter((r) => r.status === 503);
    assert.ok(cut.length >= 1, `some requests were still running after 30 ms: ${results.map((r) => r.status).join(',')}`);
    for (const r of cut) {
      assert.equal(r.body.error_type, 'draining');
      assert.match(r.body.error, /shutdown_grace_ms \(30 ms\) ran out/);
    }
    for (const r of results) assert.ok(r.status === 200 || r.status === 503);
    assert.ok(took < 3000, `shutdown took ${Math.round(took)} ms`);
  });
});

