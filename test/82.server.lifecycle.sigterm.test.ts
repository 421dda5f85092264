// `crossgate serve` as a child process under load, then SIGTERM: /ready turns 503 on a connection that
// was already open, new connections are refused, every in-flight request completes with 200, the
// WebSocket closes with 1001, and the process exits 0 (never while ONNX Runtime still runs).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { KeepAlive } from './82.server.keep-alive.js';
import { ensureGenerated } from '../models/generate.js';
import { spawnServe } from './60.cli.run.js';

const QUERY = 'how do I reset my password';


describe('crossgate serve: SIGTERM under load', () => {
  it('drains in order and exits 0', async () => {
    const dir = await ensureGenerated('tiny-cross');
    const serve = spawnServe(['--reranker', `a=${dir}`, '--port', '0', '--threads', '1', '--shutdown-grace-ms', '20s'], { ...process.env, CROSSGATE_API_KEY: '' });
    const { child, exited } = serve;
    try {
      await serve.ready;
      const stdout = serve.stdout;
      const stderr = serve.stderr;
      assert.match(stdout, /listening on http:\/\/127\.0\.0\.1:\d+/);
      assert.match(stdout, /reranker "a": .*tiny-cross on cpu/);
      // The default limits are consistent (one maximal request fits the queue): no start-up warning.
      // (The generated test model's one-line random-weights notice is expected; no other warning.)
      assert.doesNotMatch(stderr.split('\n').filter((l) => !/generated model with random weights/.test(l)).join('\n'), /warning/);
      assert.match(stderr, /tiny-cross is a generated model with random weights/);
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1];
      const port = Number(url.split(':')[2]);

      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
      const wsClosed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
      const keep = await KeepAlive.open(port);
      assert.equal((await keep.get('/ready')).status, 200);

      const texts = Array.from({ length: 1000 }, (_, i) => `passage number ${i} about accounts, passwords and the login screen`);
      const inflight = Array.from({ length: 6 }, (_, i) =>
        fetch(`${url}/rerank`, { method: 'POST', body: JSON.stringify({ query: `${QUERY} ${i}`, texts }) }).then(async (r) => ({ status: r.status, body: await r.json() as any })));
      // Under load: once one answer is back, the rest are queued or running in the server.
      await Promise.race(inflight);
      assert.ok(child.kill('SIGTERM'));

      // /ready on the connection opened before the signal: 503 draining once the handler has run (it sets
      // the phase, then logs the line this waits for).
      await serve.stderrLine(/received SIGTERM; draining/);
      const ready = await keep.get('/ready');
      assert.equal(ready.status, 503);
      assert.equal(JSON.parse(ready.body).error_type, 'draining');
      await assert.rejects(new Promise((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(undefined); });
        s.once('error', reject);
      }), /ECONNREFUSED/, 'new connections are refused while draining');

      const results = await Promise.all(inflight);
      results.forEach((r, i) => {
        assert.equal(r.status, 200, `request ${i}: ${JSON.stringify(r.body).slice(0, 200)}`);
        assert.equal(r.body.length, texts.length);
      });
      assert.equal(await wsClosed, 1001);
      const { code, signal } = await exited;
      assert.equal(signal, null, serve.stderr);
      assert.equal(code, 0, serve.stderr);
      assert.match(serve.stdout, /stopped/);
      assert.match(serve.stderr, /received SIGTERM; draining/);
      keep.close();
    } finally {
      serve.kill();
    }
  });
});
